-- spec/data/spoken_digits_spec.lua -- lp.data.SpokenDigits: the speaker
-- split, synthesis into the cache with espeak-ng and flite, samples and
-- labels, seeded augmentation, reading WAV files back (round trip and corrupt
-- files), DataLoader, and what happens without the synthesisers.
local lp = require "limpet"
local SD = require "limpet.data.spoken_digits"

local build = os.getenv("LIMPET_BUILD") or "build/release"
local root = os.getenv("PWD") or "."
local exe = build:sub(1, 1) == "/" and build .. "/limpet" or root .. "/" .. build .. "/limpet"
local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
local function have(cmd) return os.execute("command -v " .. cmd .. " >/dev/null 2>&1") == true end
local synth_it = (have("espeak-ng") and have("flite")) and it or pending

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir -p " .. q(d)))
  return d
end

-- a 16-bit PCM WAV file as bytes (samples: list of integers)
local function wav_bytes(samples, rate, channels)
  channels = channels or 1
  local data = {}
  for i, v in ipairs(samples) do data[i] = string.pack("<i2", v) end
  local body = table.concat(data)
  local fmt = string.pack("<I2I2I4I4I2I2", 1, channels, rate, rate * 2 * channels, 2 * channels, 16)
  return "RIFF" .. string.pack("<I4", 4 + 8 + #fmt + 8 + #body) .. "WAVE" .. "fmt " .. string.pack("<I4", #fmt) .. fmt
    .. "data" .. string.pack("<I4", #body) .. body
end
local function write(path, s) local f = assert(io.open(path, "wb")); f:write(s); f:close() end

describe("lp.data.SpokenDigits", function()
  it("splits by speaker: disjoint, every flite voice in test, at least 20 % of the voices in test", function()
    local train, test = SD.speakers("train", { "en", "de" }), SD.speakers("test", { "en", "de" })
    local seen = {}
    for _, s in ipairs(train) do seen[s.id] = true end
    for _, s in ipairs(test) do assert.is_nil(seen[s.id], s.id) end
    local flite = 0
    for _, s in ipairs(test) do if s.engine == "flite" then flite = flite + 1 end end
    for _, s in ipairs(train) do assert.equals("espeak-ng", s.engine) end
    assert.equals(#SD.FLITE_VOICES, flite)
    assert.equals(102, #SD.VARIANTS)
    assert.is_true(#test / (#train + #test) >= 0.2)
    assert.equals(9 * 102 + 6, #train + #test)
    for _, s in ipairs(test) do if s.language == "de" then assert.equals("espeak-ng", s.engine) end end
    assert.equals(20, #SD.classes)
    assert.equals("en:zero", SD.classes[1])
    assert.equals("de:neun", SD.classes[20])
  end)

  synth_it("synthesises once into the cache and reads samples back, English and German", function()
    local dir = tmpdir()
    local ds = assert(lp.data.SpokenDigits { split = "train", root = dir, languages = { "de" }, limit = 1, renditions = 1 })
    assert.equals(10, #ds)
    local x, y, meta = ds:get(6)
    assert.equals("float32", x.dtype)
    assert.equals(2, x:dim())
    assert.equals(1, x.shape[2])
    assert.is_true(x.shape[1] > 4000)                   -- a quarter of a second at least
    assert.is_true(x:abs():max():item() <= 1)
    assert.equals(16, y)                                  -- "fünf": German classes are 11..20
    assert.equals("fünf", meta.word)
    assert.equals("espeak-ng/de/none", meta.speaker)
    assert.equals(16000, meta.sample_rate)
    -- the same sample twice (seeded augmentation), and differently seeded data sets differ
    local x2 = ds:get(6)
    assert.equals(0, (x - x2):abs():max():item())
    local other = assert(lp.data.SpokenDigits { split = "train", root = dir, languages = { "de" }, limit = 1,
                                                renditions = 1, seed = 5, synthesize = false })
    assert.is_true((other:get(6) - x):abs():max():item() > 0)
    local raw = assert(lp.data.SpokenDigits { split = "train", root = dir, languages = { "de" }, limit = 1,
                                              renditions = 1, augment = false })
    local r, _, rm = raw:get(6)
    assert.equals(1, rm.gain)
    assert.is_nil(rm.snr_db)
    assert.equals(x.shape[1], r.shape[1])
    -- the flite voices are in the test split
    local te = assert(lp.data.SpokenDigits { split = "test", root = dir, languages = { "en" }, renditions = 1 ,
                                             limit = 1 })
    local t, label, tm = te:get(8)
    assert.equals(8, label)
    assert.equals("seven", tm.word)
    assert.is_true(t.shape[1] > 4000)
    os.execute("rm -rf " .. q(dir))
  end)

  synth_it("batches through DataLoader, padded at the end in time", function()
    local dir = tmpdir()
    local ds = assert(lp.data.SpokenDigits { root = dir, languages = { "en" }, limit = 1, renditions = 1 })
    local loader = lp.data.DataLoader { dataset = ds, batch_size = 4 }
    local x, y = loader:iter()()
    assert.equals(3, x:dim())
    assert.equals(4, x.shape[1])
    assert.equals(1, x.shape[3])
    assert.same({ 1, 2, 3, 4 }, y:totable())
    os.execute("rm -rf " .. q(dir))
  end)

  synth_it("gives every rendition its own speed and pitch, and reports a synthesis that wrote nothing", function()
    local dir = tmpdir()
    local ds = assert(lp.data.SpokenDigits { root = dir, languages = { "en" }, limit = 1, renditions = 9 })
    assert.equals(90, #ds)
    local paths, grid = {}, {}
    for i = 1, #ds do
      local it = ds.items[i]
      assert.is_nil(paths[it.path], it.path)
      paths[it.path] = true
      if it.word == "seven" then grid[it.speed .. "/" .. it.pitch] = true end
    end
    local cells = 0
    for _ in pairs(grid) do cells = cells + 1 end
    assert.equals(9, cells)                                  -- all of SPEEDS x PITCHES
    os.execute("rm -rf " .. q(dir))
    local none, msg = lp.data.SpokenDigits { root = "/proc/no/such/folder", limit = 1 }
    assert.is_nil(none)
    assert.matches("^SpokenDigits: synthesis failed for /proc/no/such/folder/espeak%-ng/en/none/en%-zero%-", msg)
  end)

  it("reports a cache without the files when it may not synthesise", function()
    local dir = tmpdir()
    local ds, msg = lp.data.SpokenDigits { root = dir, limit = 1, synthesize = false }
    assert.is_nil(ds)
    assert.matches("^SpokenDigits: 20 of 20 files are not in the cache '" .. dir:gsub("%p", "%%%0") .. "'", msg)
    os.execute("rm -rf " .. q(dir))
  end)

  it("says what is missing when espeak-ng is not installed", function()
    local dir = tmpdir()
    local code = ("local ds, msg = require('limpet').data.SpokenDigits{root = %q, limit = 1}; print(ds, msg)"):format(dir)
    local p = io.popen(("PATH=/nonexistent %s -e %s 2>&1"):format(q(exe), q(code)))
    local out = p:read "a"
    p:close()
    assert.matches("^nil\tSpokenDigits: 'espeak%-ng' is not installed; it synthesises the train set's espeak%-ng speakers", out)
    os.execute("rm -rf " .. q(dir))
  end)

  it("refuses unknown and bad options by name", function()
    assert.has_error(function() lp.data.SpokenDigits { langauges = { "en" } } end,
      "bad argument #1 to 'SpokenDigits' (unknown field 'langauges')")
    assert.has_error(function() lp.data.SpokenDigits { languages = { "fr" } } end,
      "bad argument #1 to 'SpokenDigits' (field 'languages' must list \"en\" and/or \"de\", got 'fr')")
    assert.has_error(function() lp.data.SpokenDigits { renditions = 0 } end,
      "bad argument #1 to 'SpokenDigits' (field 'renditions' must be an integer in 1..9, got 0)")
    assert.has_error(function() lp.data.SpokenDigits { split = "valid" } end,
      "bad argument #1 to 'SpokenDigits' (field 'split' must be one of \"train\", \"test\", got 'valid')")
  end)
end)

describe("SpokenDigits' WAV reading (lp.audio over libsndfile)", function()
  it("reads 16-bit PCM back exactly (mono and the first of two channels)", function()
    local dir = tmpdir()
    write(dir .. "/a.wav", wav_bytes({ 0, 16384, -32768, 32767, -1 }, 22050))
    local x, rate = SD._read_wav(dir .. "/a.wav")
    assert.equals(22050, rate)
    assert.same({ 0, 0.5, -1, 32767 / 32768, -1 / 32768 }, x)
    write(dir .. "/b.wav", wav_bytes({ 1, 2, 3, 4 }, 8000, 2))
    x = SD._read_wav(dir .. "/b.wav")
    assert.same({ 1 / 32768, 3 / 32768 }, x)
    os.execute("rm -rf " .. q(dir))
  end)

  it("raises on corrupt and truncated files, naming the file; nil for a missing one", function()
    local dir = tmpdir()
    local p = dir .. "/c.wav"
    local good = wav_bytes({ 1, 2, 3, 4 }, 16000)
    write(p, good:sub(1, #good - 3))
    assert.has_error(function() SD._read_wav(p) end,
      ("load: '%s': truncated: its data chunk announces 8 bytes, 5 are present"):format(p))
    write(p, "RIFX" .. good:sub(5))
    assert.has_error(function() SD._read_wav(p) end)
    write(p, good:sub(1, 36))
    assert.has_error(function() SD._read_wav(p) end,
      ("load: '%s' is not a sound file libsndfile can read (Error in WAV file. No 'data' chunk marker.)"):format(p))
    local x, msg = SD._read_wav(dir .. "/none.wav")
    assert.is_nil(x)
    assert.matches("No such file or directory", msg)
    os.execute("rm -rf " .. q(dir))
  end)
end)

