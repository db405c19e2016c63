-- spec/plot_spec.lua -- PNG files (core/src/png.c via core.png_read/
-- png_write) and lp.plot (stdlib/limpet/plot/): round trips, corrupt and
-- missing files, and plots decoded back to check their size and that
-- marks land where the data say; SVG structure.
local lp = require "limpet"

local scratch = os.tmpname()
local dir = scratch .. ".d"
os.remove(scratch)
os.execute("mkdir -p '" .. dir .. "'")
local function path(name) return dir .. "/" .. name end
local function slurp(p) local f = assert(io.open(p, "rb")); local s = f:read("a"); f:close(); return s end
local function spit(p, s) local f = assert(io.open(p, "wb")); f:write(s); f:close() end
local function msg(f, ...) local ok, e = pcall(f, ...); assert.is_false(ok); return (e:gsub("^.-:%d+: ", "")) end

-- dark pixels (sum of RGB below 300) in [x0, x1) × [y0, y1)
local function dark(img, x0, y0, x1, y1)
  local g = img:astype("int64"):sum(3)
  local n = 0
  local region = g:slice(1, y0 + 1, y1):slice(2, x0 + 1, x1)
  n = region:lt(300):astype("int64"):sum():item()
  return n
end

describe("png", function()
  it("round-trips gray, gray+alpha, RGB and RGBA images", function()
    for c = 1, 4 do
      local img = (lp.rand({ 13, 17, c }) * 255):astype "uint8"
      assert.is_true(lp.png_write(path("a.png"), img))
      local back = lp.png_read(path("a.png"))
      assert.are.same({ 13, 17, c }, back.shape)
      assert.are.equal("uint8", back.dtype)
      assert.are.equal(0, back:astype("int64"):sub(img:astype("int64")):abs():sum():item())
    end
  end)

  it("returns nil, msg for missing files and unwritable paths", function()
    local t, m = lp.png_read(path("none.png"))
    assert.is_nil(t)
    assert.are.equal("cannot open '" .. path("none.png") .. "': No such file or directory", m)
    local ok, m2 = lp.png_write(dir .. "/no/such/x.png", lp.zeros({ 2, 2, 3 }, "uint8"))
    assert.is_nil(ok)
    assert.are.equal("cannot open '" .. dir .. "/no/such/x.png' for writing: No such file or directory", m2)
  end)

  it("names the file and offset of corrupt content", function()
    assert.is_true(lp.png_write(path("c.png"), lp.zeros({ 4, 4, 3 }, "uint8")))
    local s = slurp(path("c.png"))
    spit(path("t.png"), s:sub(1, 40))
    assert.are.equal("png_read: '" .. path("t.png") .. "' at offset 33: truncated chunk header", msg(function() lp.png_read(path("t.png")) end))
    spit(path("x.png"), s:sub(1, 45) .. "x" .. s:sub(47))
    assert.matches("^png_read: '.-x%.png' at offset %d+: CRC mismatch in chunk 'IDAT'$", msg(function() lp.png_read(path("x.png")) end))
    spit(path("s.png"), "GIF89a......")
    assert.are.equal("png_read: '" .. path("s.png") .. "' at offset 0: not a PNG file (bad signature)",
      msg(function() lp.png_read(path("s.png")) end))
    spit(path("e.png"), s:sub(1, #s - 12))
    assert.matches("at offset %d+: missing IEND chunk$", msg(function() lp.png_read(path("e.png")) end))
  end)

  it("rejects images that are not (H, W, C) uint8", function()
    assert.are.equal("bad argument #2 to 'png_write' (expected a uint8 image, got float32)",
      msg(function() lp.png_write(path("f.png"), lp.zeros { 2, 2, 3 }) end))
    assert.are.equal("bad argument #2 to 'png_write' (expected shape (H, W, C) with C in 1..4, got (2, 2, 5))",
      msg(function() lp.png_write(path("f.png"), lp.zeros({ 2, 2, 5 }, "uint8")) end))
  end)
end)

describe("plot", function()
  it("draws a raster mark exactly where the spike is", function()
    local s = lp.zeros({ 50, 8 })
    s[10][3] = 1
    local ok, info = lp.plot.raster(s, path("r.png"), { title = "one spike", width = 500, height = 300 })
    assert.is_true(ok)
    local img = lp.png_read(path("r.png"))
    assert.are.same({ 300, 500, 3 }, img.shape)
    local x0, y0, x1, y1 = table.unpack(info.plot_area)
    local px = x0 + (10 - 0.5) / 50 * (x1 - x0)             -- step 10 centred, x from 0.5 to 50.5
    local py = y1 - (3 - 0.5) / 8 * (y1 - y0)                -- neuron 3, 1 at the bottom
    assert.is_true(dark(img, math.floor(px) - 1, math.floor(py) - 1, math.floor(px) + 2, math.floor(py) + 2) >= 4)
    local total = dark(img, x0, y0, x1, y1)
    local near = dark(img, math.floor(px) - 8, math.floor(py) - 20, math.floor(px) + 9, math.floor(py) + 21)
    assert.is_true(total > 0)
    assert.are.equal(total, near)                            -- nothing else in the data area
  end)

  it("plots a TSEvent via ts:plot, PNG and SVG", function()
    local ev = lp.TSEvent({ 0.01, 0.02, 0.05 }, { 1, 3, 2 }, { t_start = 0, t_stop = 0.1 })
    assert.is_true(ev:plot(path("e.png")))
    assert.are.same({ 400, 640, 3 }, lp.png_read(path("e.png")).shape)
    assert.is_true(ev:plot(path("e.svg")))
    local svg = slurp(path("e.svg"))
    assert.matches("^<%?xml", svg)
    assert.matches('<svg xmlns="http://www.w3.org/2000/svg" width="640" height="400"', svg)
    assert.matches("</svg>\n$", svg)
    local marks = 0
    for _ in svg:gmatch('fill="rgb%(20,20,20%)"') do marks = marks + 1 end
    assert.are.equal(3, marks)
    assert.matches("<text[^>]*>time %(s%)</text>", svg)
  end)

  it("draws staggered traces, one line per channel", function()
    local t = lp.arange(0, 100, "float64") * 0.01
    local ts = lp.TSContinuous(t, lp.stack({ lp.zeros({ 100 }, "float64"), lp.ones({ 100 }, "float64") }, 2))
    local ok, info = ts:plot(path("tr.png"), { stagger = 2 })
    assert.is_true(ok)
    local img = lp.png_read(path("tr.png"))
    local x0, y0, x1, y1 = table.unpack(info.plot_area)
    -- channel 1 at y = 0, channel 2 at 1 + 2 = 3: range [0, 3] padded by 5 %
    local function Y(v) return y1 - (v + 0.15) / 3.3 * (y1 - y0) end
    local xm = math.floor((x0 + x1) / 2)
    local col = img:slice(2, xm + 1, xm + 1):astype("int64"):sum(3):reshape(-1)
    local marked = {}
    for y = y0, y1 - 1 do if col[y + 1] < 600 then marked[#marked + 1] = y end end
    assert.are.equal(2, #marked)
    assert.is_true(math.abs(marked[1] - Y(3)) <= 1)
    assert.is_true(math.abs(marked[2] - Y(0)) <= 1)
    assert.is_true(lp.plot.traces(lp.rand(20, 3), path("tr.svg")))
    local svg = slurp(path("tr.svg"))
    local lines = 0
    for _ in svg:gmatch("<polyline ") do lines = lines + 1 end
    assert.are.equal(3, lines)
  end)

  it("counts a histogram's bins and draws them", function()
    local ok, info = lp.plot.histogram({ 0, 0.1, 0.2, 0.9, 1 }, path("h.png"), { bins = 2 })
    assert.is_true(ok)
    assert.are.same({ 3, 2 }, info.counts)
    local img = lp.png_read(path("h.png"))
    assert.are.same({ 400, 640, 3 }, img.shape)
  end)

  it("draws training curves from series or a history", function()
    assert.is_true(lp.plot.curve({ loss = { 2, 1, 0.5 }, accuracy = lp.tensor { 0.1, 0.5, 0.9 } }, path("c.png"),
      { title = "training" }))
    assert.is_true(lp.plot.curve({ { loss = 1, acc = 0.2 }, { loss = 0.5, acc = 0.4 } }, path("c.svg")))
    local svg = slurp(path("c.svg"))
    assert.matches(">acc</text>", svg)
    assert.matches(">loss</text>", svg)
  end)

  it("rejects bad arguments with exact messages", function()
    assert.are.equal("bad argument #2 to 'raster' (expected a path ending in .png or .svg, got 'x.jpg')",
      msg(lp.plot.raster, lp.zeros { 2, 2 }, "x.jpg"))
    assert.are.equal("bad argument #3 to 'traces' (unknown field 'stager')",
      msg(lp.plot.traces, lp.zeros { 2, 2 }, "x.png", { stager = 1 }))
    assert.are.equal("bad argument #1 to 'raster' (expected spikes (T, N), got 3 dims)",
      msg(lp.plot.raster, lp.zeros { 2, 2, 2 }, "x.png"))
    assert.are.equal("bad argument #3 to 'histogram' (field 'bins' must be a positive integer)",
      msg(lp.plot.histogram, { 1 }, "x.png", { bins = 0 }))
    local ok, m = lp.plot.curve({ loss = { 1 } }, dir .. "/no/such/c.svg")
    assert.is_nil(ok)
    assert.matches("^cannot open '.-/no/such/c%.svg' for writing", m)
  end)
end)
