-- spec/plot_spec.lua -- PNG files (core/src/png.c over libpng, via
-- lp.png_read/png_write) and lp.plot (stdlib/limpet/plot/ over PLplot,
-- core/src/figure.c): round trips, corrupt and missing files, and figures
-- decoded back to check their size and that marks land where the data say;
-- SVG and PDF output; multi-panel figures; non-finite data.
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

  it("names the file of corrupt content, in libpng's words", function()
    assert.is_true(lp.png_write(path("c.png"), lp.zeros({ 4, 4, 3 }, "uint8")))
    local s = slurp(path("c.png"))
    spit(path("t.png"), s:sub(1, 40))
    assert.are.equal("png_read: '" .. path("t.png") .. "' at offset 33: truncated chunk header", msg(function() lp.png_read(path("t.png")) end))
    local at = s:find("IDAT", 1, true) + 6                         -- a byte inside the image data
    spit(path("x.png"), s:sub(1, at - 1) .. "x" .. s:sub(at + 1))
    assert.matches("^png_read: '.-x%.png' at offset %d+: CRC mismatch in chunk 'IDAT'$", msg(function() lp.png_read(path("x.png")) end))
    spit(path("e.png"), s:sub(1, #s - 12))
    assert.matches("at offset %d+: missing IEND chunk$", msg(function() lp.png_read(path("e.png")) end))
    -- chunks intact, content wrong (bit depth 3 in IHDR, CRC recomputed): libpng's words
    local function crc32(str)
      local c = 0xffffffff
      for i = 1, #str do
        c = c ~ str:byte(i)
        for _ = 1, 8 do c = (c & 1 == 1) and (0xedb88320 ~ (c >> 1)) or (c >> 1) end
      end
      return c ~ 0xffffffff
    end
    local body = "IHDR" .. s:sub(17, 24) .. "\3" .. s:sub(26, 29)
    spit(path("d.png"), s:sub(1, 12) .. body .. string.pack(">I4", crc32(body)) .. s:sub(34))
    assert.matches("^png_read: '.-d%.png': corrupt PNG %(libpng: .+%)$", msg(function() lp.png_read(path("d.png")) end))
    spit(path("s.png"), "GIF89a......")
    assert.are.equal("png_read: '" .. path("s.png") .. "': not a PNG file (bad signature)",
      msg(function() lp.png_read(path("s.png")) end))
  end)

  it("rejects images that are not (H, W, C) uint8", function()
    assert.are.equal("bad argument #2 to 'png_write' (expected a uint8 image, got float32)",
      msg(function() lp.png_write(path("f.png"), lp.zeros { 2, 2, 3 }) end))
    assert.are.equal("bad argument #2 to 'png_write' (expected shape (H, W, C) with C in 1..4, got (2, 2, 5))",
      msg(function() lp.png_write(path("f.png"), lp.zeros({ 2, 2, 5 }, "uint8")) end))
  end)
end)

describe("plot", function()
  -- pixel (x, y) of a 0-based image as {r, g, b}
  local function px(img, x, y)
    return { img[y + 1][x + 1][1], img[y + 1][x + 1][2], img[y + 1][x + 1][3] }
  end
  -- rows y in [y0, y1) whose pixel in column x is dark, grouped into runs
  local function dark_runs(img, x, y0, y1, limit)
    local col = img:slice(2, x + 1, x + 1):astype("int64"):sum(3):reshape(-1)
    local runs, last = {}, nil
    for y = y0, y1 - 1 do
      if col[y + 1] < limit then
        if last and y == last + 1 then runs[#runs][2] = y else runs[#runs + 1] = { y, y } end
        last = y
      end
    end
    return runs
  end

  it("draws a raster mark exactly where the spike is, and nothing else", function()
    local s = lp.zeros({ 50, 8 })
    s[10][3] = 1
    local ok, info = lp.plot.raster(s, path("r.png"), { title = "one spike", width = 500, height = 300 })
    assert.is_true(ok)
    assert.are.equal(1, info.events)
    local img = lp.png_read(path("r.png"))
    assert.are.same({ 300, 500, 3 }, img.shape)
    local x0, y0, x1, y1 = table.unpack(info.plot_area)
    local cx = x0 + (10 - 0.5) / 50 * (x1 - x0)             -- step 10 centred, x from 0.5 to 50.5
    local cy = y1 - (3 - 0.5) / 8 * (y1 - y0)                -- neuron 3, 1 at the bottom
    assert.is_true(dark(img, math.floor(cx) - 1, math.floor(cy) - 1, math.floor(cx) + 2, math.floor(cy) + 2) >= 4)
    local total = dark(img, x0 + 3, y0 + 3, x1 - 3, y1 - 3)  -- inside the frame and its ticks
    local near = dark(img, math.floor(cx) - 8, math.floor(cy) - 20, math.floor(cx) + 9, math.floor(cy) + 21)
    assert.is_true(total > 0)
    assert.are.equal(total, near)
  end)

  it("plots a TSEvent as dots at its times, in PNG, SVG and PDF", function()
    local ev = lp.TSEvent({ 0.01, 0.02, 0.05 }, { 1, 3, 2 }, { t_start = 0, t_stop = 0.1 })
    local ok, info = ev:plot(path("e.png"))
    assert.is_true(ok)
    local img = lp.png_read(path("e.png"))
    assert.are.same({ 500, 800, 3 }, img.shape)
    local x0, y0, x1, y1 = table.unpack(info.plot_area)
    for _, e in ipairs { { 0.01, 1 }, { 0.02, 3 }, { 0.05, 2 } } do
      local x = math.floor(x0 + e[1] / 0.1 * (x1 - x0) + 0.5)
      local y = math.floor(y1 - (e[2] - 0.5) / 3 * (y1 - y0) + 0.5)
      assert.is_true(dark(img, x - 2, y - 2, x + 3, y + 3) >= 4, ("no dot at %g s, channel %d"):format(e[1], e[2]))
    end
    assert.is_true(ev:plot(path("e.svg")))
    local svg = slurp(path("e.svg"))
    assert.matches("^<%?xml", svg)
    assert.matches('<svg xmlns="http://www.w3.org/2000/svg"[^>]* width="800pt" height="500pt"', svg)
    assert.matches("</svg>%s*$", svg)
    assert.is_true(ev:plot(path("e.pdf")))
    assert.matches("^%%PDF%-", slurp(path("e.pdf")))
  end)

  it("draws staggered traces, one line per channel, and a dashed threshold", function()
    local t = lp.arange(0, 100, "float64") * 0.01
    local ts = lp.TSContinuous(t, lp.stack({ lp.zeros({ 100 }, "float64"), lp.ones({ 100 }, "float64") }, 2))
    local ok, info = ts:plot(path("tr.png"), { stagger = 2 })
    assert.is_true(ok)
    assert.are.equal(2, info.stagger)
    local img = lp.png_read(path("tr.png"))
    local x0, y0, x1, y1 = table.unpack(info.plot_area)
    -- channel 1 at y = 0, channel 2 at 1 + 2 = 3: range [0, 3] padded by 5 %
    local function Y(v) return y1 - (v + 0.15) / 3.3 * (y1 - y0) end
    local runs = dark_runs(img, math.floor((x0 + x1) / 2), y0 + 3, y1 - 3, 600)
    assert.are.equal(2, #runs)
    assert.is_true(math.abs((runs[1][1] + runs[1][2]) / 2 - Y(3)) <= 1.5)
    assert.is_true(math.abs((runs[2][1] + runs[2][2]) / 2 - Y(0)) <= 1.5)
    local ok2, info2 = lp.plot.traces(lp.zeros(20, 1), path("th.png"), { threshold = 1 })
    assert.is_true(ok2)
    local img2 = lp.png_read(path("th.png"))
    local a0, b0, a1, b1 = table.unpack(info2.plot_area)
    local yth = b1 - (1 + 0.05) / 1.1 * (b1 - b0)             -- range [0, 1] padded by 5 %
    local hits = 0
    for x = a0 + 5, a1 - 5 do
      local runs2 = dark_runs(img2, x, math.floor(yth) - 2, math.floor(yth) + 3, 700)
      if #runs2 > 0 then hits = hits + 1 end
    end
    assert.is_true(hits > (a1 - a0) * 0.3 and hits < (a1 - a0) * 0.9)   -- dashed: marks with gaps
  end)

  it("counts a histogram's bins and draws them", function()
    local ok, info = lp.plot.histogram({ 0, 0.1, 0.2, 0.9, 1, 0 / 0 }, path("h.png"), { bins = 2 })
    assert.is_true(ok)
    assert.are.same({ 3, 2 }, info.counts)
    local img = lp.png_read(path("h.png"))
    assert.are.same({ 500, 800, 3 }, img.shape)
    local x0, y0, x1, y1 = table.unpack(info.plot_area)
    local function Y(c) return y1 - c / 3.15 * (y1 - y0) end
    local runs = dark_runs(img, math.floor(x0 + (x1 - x0) * 0.25), y0 + 3, y1 - 1, 700)
    assert.is_true(#runs >= 1 and math.abs(runs[1][1] - Y(3)) <= 2)   -- the first bar reaches 3
  end)

  it("draws training curves from series or a history, loss left and accuracy right", function()
    local ok, info = lp.plot.curve({ loss = { 2, 1, 0.5 }, accuracy = lp.tensor { 0.1, 0.5, 0.9 } }, path("c.png"),
      { title = "training" })
    assert.is_true(ok)
    assert.are.equal(0, info.nonfinite)
    assert.is_true(lp.plot.curve({ { loss = 1, acc = 0.2 }, { loss = 0.5, acc = 0.4 } }, path("c.svg")))
    assert.matches("</svg>%s*$", slurp(path("c.svg")))
  end)

  it("returns from a diverged run's curve, leaving out and counting non-finite values", function()
    local ok, info = lp.plot.curve({ loss = { 1, math.huge, 0 / 0, 0.5, -math.huge } }, path("inf.png"))
    assert.is_true(ok)
    assert.are.equal(3, info.nonfinite)
    local ok2, info2 = lp.plot.traces(lp.tensor { 0, 1, math.huge, 2 }, path("inf2.png"))
    assert.is_true(ok2)
    assert.are.equal(1, info2.nonfinite)
    assert.is_true(lp.plot.curve({ loss = { 0 / 0 } }, path("nan.png")))
  end)

  it("shows a weight matrix with a diverging map centred on zero", function()
    local ok, info = lp.plot.matrix(lp.tensor { { 1, -1 }, { 0, 0.5 } }, path("m.png"))
    assert.is_true(ok)
    assert.are.same({ -1, 1 }, info.range)
    local img = lp.png_read(path("m.png"))
    local x0, y0, x1, y1 = table.unpack(info.plot_area)
    local function cell(r, c)
      return px(img, math.floor(x0 + (c - 0.5) / 2 * (x1 - x0)), math.floor(y0 + (r - 0.5) / 2 * (y1 - y0)))
    end
    local red, blue, white = cell(1, 1), cell(1, 2), cell(2, 1)    -- row 1 at the top
    assert.is_true(red[1] > 150 and red[3] < 80)
    assert.is_true(blue[3] > 150 and blue[1] < 80)
    assert.is_true(white[1] > 240 and white[2] > 240 and white[3] > 240)
  end)

  it("writes a confusion matrix with a dark diagonal", function()
    local ok, info = lp.plot.confusion(lp.tensor { { 9, 1 }, { 0, 10 } }, path("cm.png"), { labels = { "a", "b" } })
    assert.is_true(ok)
    assert.are.equal(20, info.total)
    local img = lp.png_read(path("cm.png"))
    local x0, y0, x1, y1 = table.unpack(info.plot_area)
    local function cell(r, c) -- a point off the cell's centre, beside the count's text
      return px(img, math.floor(x0 + (c - 0.85) / 2 * (x1 - x0)), math.floor(y0 + (r - 0.85) / 2 * (y1 - y0)))
    end
    local d, o = cell(2, 2), cell(2, 1)
    assert.is_true(d[1] + d[2] + d[3] < 200 and o[1] + o[2] + o[3] > 600)
  end)

  it("puts plots in the panels of a figure", function()
    local fig = lp.plot.figure { rows = 2, cols = 2, width = 1000, height = 800 }
    fig:raster(1, lp.ones(5, 3)):histogram(2, { 1, 2, 3 }):matrix(3, lp.eye(3)):curve(4, { loss = { 3, 2, 1 } })
    local ok, info = fig:save(path("f.png"))
    assert.is_true(ok)
    assert.are.same({ 800, 1000, 3 }, lp.png_read(path("f.png")).shape)
    local a = info.panels[1].plot_area
    local d = info.panels[4].plot_area
    assert.is_true(a[3] <= 500 and a[4] <= 400)                  -- panel 1: top left
    assert.is_true(d[1] >= 500 and d[2] >= 400)                  -- panel 4: bottom right
    assert.has_error(function() fig:raster(5, lp.ones(2, 2)) end, "bad argument #1 to 'raster' (panel must be an integer in 1..4)")
  end)

  it("rejects bad arguments with exact messages", function()
    assert.are.equal("bad argument #2 to 'raster' (expected a path ending in .png, .svg or .pdf, got 'x.jpg')",
      msg(lp.plot.raster, lp.zeros { 2, 2 }, "x.jpg"))
    assert.are.equal("bad argument #3 to 'traces' (unknown field 'stager')",
      msg(lp.plot.traces, lp.zeros { 2, 2 }, "x.png", { stager = 1 }))
    assert.are.equal("bad argument #1 to 'raster' (expected spikes (T, N), got 3 dims)",
      msg(lp.plot.raster, lp.zeros { 2, 2, 2 }, "x.png"))
    assert.are.equal("bad argument #3 to 'histogram' (field 'bins' must be a positive integer)",
      msg(lp.plot.histogram, { 1 }, "x.png", { bins = 0 }))
    assert.are.equal("bad argument #1 to 'confusion' (expected a square matrix, got (2, 3))",
      msg(lp.plot.confusion, lp.zeros(2, 3), "x.png"))
    assert.are.equal("bad argument #3 to 'curve' (field 'right' names 'acc', which is not a series)",
      msg(lp.plot.curve, { loss = { 1 } }, "x.png", { right = { "acc" } }))
    assert.are.equal("bad argument #1 to 'figure' (fields 'rows' and 'cols' must be integers in 1..16)",
      msg(lp.plot.figure, { rows = 0 }))
    local ok, m = lp.plot.curve({ loss = { 1 } }, dir .. "/no/such/c.svg")
    assert.is_nil(ok)
    assert.matches("^cannot open '.-/no/such/c%.svg' for writing: No such file or directory$", m)
    -- nothing is left behind by a failed or finished figure
    local left = io.popen("ls '" .. dir .. "' | grep -c tmp"):read("a")
    assert.are.equal("0", left:match("%d+"))
  end)
end)

describe("issue 16: ts:plot names plot", function()
  it("a bad path or option of TSEvent:plot / TSContinuous:plot is an error of 'plot'", function()
    local ev = lp.TSEvent({ 0.1, 0.2, 0.3 }, { 1, 2, 1 }, { t_stop = 1 })
    local tc = lp.TSContinuous({ 0, 0.1 }, lp.tensor { { 1 }, { 2 } })
    assert.are.equal("bad argument #1 to 'plot' (expected a path, got nil)", msg(ev.plot, ev))
    assert.are.equal("bad argument #1 to 'plot' (expected a path, got nil)", msg(tc.plot, tc))
    assert.are.equal("bad argument #2 to 'plot' (unknown field 'colour')",
      msg(tc.plot, tc, path("t.png"), { colour = 1 }))
  end)
end)
