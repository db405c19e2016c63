-- spec/audio_spec.lua -- lp.audio.load / lp.audio.save over libsndfile:
-- round trips, shapes, encodings, atomic writes, missing and corrupt files.
local lp = require "limpet"

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p " .. dir))

local function tone(n, f, fs, a)
  local t = {}
  for i = 1, n do t[i] = a * math.sin(2 * math.pi * f * (i - 1) / fs) end
  return lp.tensor(t, "float64")
end

describe("lp.audio", function()
  teardown(function() os.execute("rm -rf " .. dir) end)

  it("round-trips mono audio through 16-bit WAV within a quantisation step", function()
    local x = tone(1000, 440, 16000, 0.5)
    local path = dir .. "/a.wav"
    assert.is_true(lp.audio.save(path, x, 16000))
    local y, rate = lp.audio.load(path)
    assert.are.equal(16000, rate)
    assert.are.same({ 1000 }, y.shape)
    assert.are.equal("float64", y.dtype)
    assert.is_true((y - x):abs():max():item() <= 1 / 32768)
  end)

  it("keeps channels, and float and FLAC encodings", function()
    local x = lp.stack({ tone(300, 100, 8000, 0.25), tone(300, 200, 8000, -0.75) }, 2)
    local p1 = dir .. "/b.wav"
    assert.is_true(lp.audio.save(p1, x, 8000, { encoding = "DOUBLE" }))
    local y, rate = lp.audio.load(p1)
    assert.are.equal(8000, rate)
    assert.are.same({ 300, 2 }, y.shape)
    assert.are.equal(0, (y - x):abs():max():item())
    local p2 = dir .. "/c.flac"
    assert.is_true(lp.audio.save(p2, x, 8000))
    local z = lp.audio.load(p2)
    assert.is_true((z - x):abs():max():item() <= 1 / 32768)
  end)

  it("clips samples beyond [-1, 1] in integer encodings, not in float ones", function()
    local path = dir .. "/clip.wav"
    lp.audio.save(path, lp.tensor({ 0.0, 2.0, -3.0 }, "float64"), 1000)
    local y = lp.audio.load(path)
    assert.is_true(y[2] > 0.999 and y[3] < -0.999)
    -- the float encodings keep them
    for _, enc in ipairs { "FLOAT", "DOUBLE" } do
      assert.is_true(lp.audio.save(path, lp.tensor({ 0.0, 2.0, -3.0 }, "float64"), 1000, { encoding = enc }))
      assert.are.same({ 0, 2, -3 }, lp.audio.load(path):totable())
    end
  end)

  it("returns nil and a message for a missing file or an unwritable place", function()
    local s, msg = lp.audio.load(dir .. "/nothere.wav")
    assert.is_nil(s)
    assert.matches("cannot open '.*nothere.wav'", msg)
    local ok, m2 = lp.audio.save(dir .. "/no/such/dir/x.wav", lp.zeros({ 4 }, "float64"), 8000)
    assert.is_nil(ok)
    assert.matches("x.wav", m2)
  end)

  it("raises naming the file for content that is not sound", function()
    local path = dir .. "/bad.wav"
    local f = assert(io.open(path, "wb"))
    f:write("RIFF\0\0\0\0WAVEjunkjunkjunk this is not a sound file")
    f:close()
    assert.has_error(function() lp.audio.load(path) end)
    local ok, err = pcall(lp.audio.load, path)
    assert.is_false(ok)
    assert.matches("bad.wav", err)
  end)

  it("reports a header announcing more frames than the file holds as truncated, before reserving them", function()
    local path = dir .. "/long.flac"
    assert.is_true(lp.audio.save(path, tone(300, 100, 8000, 0.5), 8000))
    local f = assert(io.open(path, "rb"))
    local bytes = f:read("a")
    f:close()
    assert.are.equal("fLaC", bytes:sub(1, 4))
    -- STREAMINFO's 36-bit total sample count: low nibble of byte 22 and bytes 23..26 (1-based)
    local b22 = bytes:byte(22) | 0x0F
    f = assert(io.open(path, "wb"))
    f:write(bytes:sub(1, 21), string.char(b22), "\255\255\255\255", bytes:sub(27))
    f:close()
    local ok, err = pcall(lp.audio.load, path)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("'" .. path .. "': truncated after 300 of 68719476735 frames", 1, true), err)
  end)

  it("refuses a float file holding NaN or an infinity, naming frame and channel", function()
    for _, v in ipairs { 0 / 0, 1 / 0 } do
      local path = dir .. "/nonfinite.wav"
      assert.is_true(lp.audio.save(path, lp.tensor({ { 0.1, 0.2 }, { 0.3, v } }, "float64"), 8000,
        { encoding = "FLOAT" }))
      local ok, err = pcall(lp.audio.load, path)
      assert.is_false(ok)
      assert.truthy(tostring(err):find("'" .. path .. "': frame 2, channel 2 holds a non-finite sample", 1, true), err)
    end
  end)

  it("replaces a file atomically and leaves no temporary behind", function()
    local path = dir .. "/atomic.wav"
    lp.audio.save(path, tone(100, 50, 8000, 0.1), 8000)
    lp.audio.save(path, tone(200, 50, 8000, 0.1), 8000)
    assert.are.same({ 200 }, lp.audio.load(path).shape)
    local p = io.popen("ls " .. dir)
    local listing = p:read("a")
    p:close()
    assert.is_nil(listing:find("tmp", 1, true))
  end)

  it("checks its arguments by name", function()
    assert.has_error(function() lp.audio.save(dir .. "/x.mp3", lp.zeros({ 4 }), 8000) end,
      "bad argument #1 to 'save' (unknown sound file extension in '" .. dir .. "/x.mp3' (use .wav, .flac, .aiff or .ogg))")
    assert.has_error(function() lp.audio.save(dir .. "/x.wav", lp.zeros({ 4 }), 8000.5) end,
      "bad argument #3 to 'save' (sample rate must be a positive integer (Hz), got 8000.5)")
    assert.has_error(function() lp.audio.save(dir .. "/x.wav", lp.zeros({ 4 }), 8000, { encoding = "MP3" }) end,
      "bad argument #4 to 'save' (field 'encoding' must be PCM_16, PCM_24, PCM_32, FLOAT, DOUBLE or VORBIS, got 'MP3')")
    assert.has_error(function() lp.audio.load(3) end, "bad argument #1 to 'load' (expected a file path, got number)")
  end)
end)
