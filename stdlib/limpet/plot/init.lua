-- stdlib/limpet/plot/init.lua -- lp.plot: spike rasters, staggered traces,
-- histograms and training curves as PNG (our encoder over zlib, a 5×7
-- bitmap font of our own) or SVG (text), chosen by the path's extension.
-- Owns: the canvas (pixels or SVG elements), axes with ticks and labels,
-- and the four plots. Files are written atomically (PNG by core.png_write,
-- SVG through a temporary file and rename). Each plot returns true, info
-- (info.plot_area = {x0, y0, x1, y1}: the data area in pixels, 0-based,
-- x1/y1 exclusive) or nil, msg when the file cannot be written.
local core = require "limpet.core"
local font = require "limpet.plot.font"

local P = {}

local function argerror(fname, k, msg) error(("bad argument #%d to '%s' (%s)"):format(k, fname, msg), 3) end

local function check_opts(o, allowed, fname, k)
  if o == nil then return {} end
  if type(o) ~= "table" then argerror(fname, k, "expected an options table, got " .. type(o)) end
  for key in pairs(o) do
    if not allowed[key] then error(("bad argument #%d to '%s' (unknown field '%s')"):format(k, fname, tostring(key)), 3) end
  end
  return o
end

local function format_of(path, fname)
  if type(path) ~= "string" then argerror(fname, 2, "expected a path, got " .. type(path)) end
  local ext = path:match "%.([%w]+)$"
  ext = ext and ext:lower()
  if ext ~= "png" and ext ~= "svg" then
    argerror(fname, 2, ("expected a path ending in .png or .svg, got '%s'"):format(path))
  end
  return ext
end

local PALETTE = { { 31, 119, 180 }, { 214, 39, 40 }, { 44, 160, 44 }, { 255, 127, 14 }, { 148, 103, 189 },
                  { 140, 86, 75 }, { 227, 119, 194 }, { 127, 127, 127 }, { 188, 189, 34 }, { 23, 190, 207 } }
local BLACK, WHITE, GREY = { 0, 0, 0 }, { 255, 255, 255 }, { 200, 200, 200 }

-- ---- canvases ----------------------------------------------------------------

-- PNG: an RGB pixel array in a Lua table, written through core.png_write.
local Png = {}
Png.__index = Png
local function png_canvas(w, h)
  local px = {}
  for i = 1, w * h * 3 do px[i] = 255 end
  return setmetatable({ w = w, h = h, px = px }, Png)
end
function Png:rect(x, y, w, h, c)        -- pixel rectangle [x, x+w) × [y, y+h), clipped
  local x0, y0 = math.max(0, math.floor(x)), math.max(0, math.floor(y))
  local x1, y1 = math.min(self.w, math.floor(x + w)), math.min(self.h, math.floor(y + h))
  if x1 <= x0 then x1 = x0 + 1 end
  if y1 <= y0 then y1 = y0 + 1 end
  x1, y1 = math.min(x1, self.w), math.min(y1, self.h)
  local px, W, r, g, b = self.px, self.w, c[1], c[2], c[3]
  for yy = y0, y1 - 1 do
    local base = yy * W * 3
    for xx = x0, x1 - 1 do
      local k = base + xx * 3 + 1
      px[k], px[k + 1], px[k + 2] = r, g, b
    end
  end
end
-- The part of segment a-b inside [lo_x, hi_x] x [lo_y, hi_y] (Liang-Barsky),
-- or nil: Bresenham then walks only pixels near the canvas, however far off
-- it the ends are.
local function clip_segment(xa, ya, xb, yb, lox, loy, hix, hiy)
  local t0, t1, dx, dy = 0, 1, xb - xa, yb - ya
  for _, pq in ipairs { { -dx, xa - lox }, { dx, hix - xa }, { -dy, ya - loy }, { dy, hiy - ya } } do
    local p, q = pq[1], pq[2]
    if p == 0 then
      if q < 0 then return nil end
    else
      local r = q / p
      if p < 0 then if r > t1 then return nil elseif r > t0 then t0 = r end
      else if r < t0 then return nil elseif r < t1 then t1 = r end end
    end
  end
  return xa + t0 * dx, ya + t0 * dy, xa + t1 * dx, ya + t1 * dy
end

function Png:line(xa, ya, xb, yb, c)     -- Bresenham, 1 px
  for _, v in ipairs { xa, ya, xb, yb } do
    if v ~= v or v == math.huge or v == -math.huge then return end
  end
  xa, ya, xb, yb = clip_segment(xa, ya, xb, yb, -2, -2, self.w + 1, self.h + 1)
  if not xa then return end
  xa, ya, xb, yb = math.floor(xa + 0.5), math.floor(ya + 0.5), math.floor(xb + 0.5), math.floor(yb + 0.5)
  local dx, dy = math.abs(xb - xa), -math.abs(yb - ya)
  local sx, sy = xa < xb and 1 or -1, ya < yb and 1 or -1
  local err, px, W, H = dx + dy, self.px, self.w, self.h
  while true do
    if xa >= 0 and xa < W and ya >= 0 and ya < H then
      local k = (ya * W + xa) * 3 + 1
      px[k], px[k + 1], px[k + 2] = c[1], c[2], c[3]
    end
    if xa == xb and ya == yb then break end
    local e2 = 2 * err
    if e2 >= dy then err = err + dy; xa = xa + sx end
    if e2 <= dx then err = err + dx; ya = ya + sy end
  end
end
function Png:polyline(xs, ys, c)
  for i = 2, #xs do self:line(xs[i - 1], ys[i - 1], xs[i], ys[i], c) end
  if #xs == 1 then self:rect(xs[1], ys[1], 1, 1, c) end
end
-- text at (x, y) = top-left (anchor "start"), centre ("middle") or right ("end").
function Png:text(x, y, s, c, anchor, scale)
  scale = scale or 1
  local w = (#s * font.width - 1) * scale
  if anchor == "middle" then x = x - w / 2 elseif anchor == "end" then x = x - w end
  x, y = math.floor(x), math.floor(y)
  for i = 1, #s do
    local rows = font.glyph(s:sub(i, i))
    for r = 1, 7 do
      local bits = rows[r]
      for col = 0, 4 do
        if bits & (1 << (4 - col)) ~= 0 then
          self:rect(x + ((i - 1) * font.width + col) * scale, y + (r - 1) * scale, scale, scale, c)
        end
      end
    end
  end
end
function Png:save(path)
  local img = core.tensor(self.px, "uint8"):reshape(self.h, self.w, 3)
  return core.png_write(path, img)
end

-- SVG: a list of elements.
local Svg = {}
Svg.__index = Svg
local function svg_canvas(w, h) return setmetatable({ w = w, h = h, parts = {} }, Svg) end
local function rgb(c) return ("rgb(%d,%d,%d)"):format(c[1], c[2], c[3]) end
local function esc(s) return (s:gsub("[&<>\"]", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;" })) end
local function n(v) return ("%.2f"):format(v):gsub("%.?0+$", "") end
function Svg:rect(x, y, w, h, c)
  self.parts[#self.parts + 1] = ('<rect x="%s" y="%s" width="%s" height="%s" fill="%s"/>')
    :format(n(x), n(y), n(math.max(w, 1)), n(math.max(h, 1)), rgb(c))
end
function Svg:line(xa, ya, xb, yb, c)
  self.parts[#self.parts + 1] = ('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>')
    :format(n(xa), n(ya), n(xb), n(yb), rgb(c))
end
function Svg:polyline(xs, ys, c)
  local pts = {}
  for i = 1, #xs do pts[i] = n(xs[i]) .. "," .. n(ys[i]) end
  self.parts[#self.parts + 1] = ('<polyline fill="none" stroke="%s" stroke-width="1" points="%s"/>')
    :format(rgb(c), table.concat(pts, " "))
end
function Svg:text(x, y, s, c, anchor, scale)
  local size = 10 * (scale or 1)
  self.parts[#self.parts + 1] = ('<text x="%s" y="%s" font-family="sans-serif" font-size="%d" fill="%s" text-anchor="%s">%s</text>')
    :format(n(x), n(y + size * 0.8), size, rgb(c), anchor or "start", esc(s))
end
function Svg:save(path)
  local body = ('<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">\n<rect x="0" y="0" width="%d" height="%d" fill="white"/>\n%s\n</svg>\n')
    :format(self.w, self.h, self.w, self.h, self.w, self.h, table.concat(self.parts, "\n"))
  local tmp = path .. ".tmp." .. tostring(os.time()) .. tostring(math.random(1, 1 << 30))
  local f, msg = io.open(tmp, "wb")
  if not f then return nil, ("cannot open '%s' for writing: %s"):format(path, (msg or ""):gsub("^.-: ", "")) end
  local ok, werr = f:write(body)
  local cok = f:close()
  if not ok or not cok then os.remove(tmp); return nil, ("cannot write '%s': %s"):format(path, tostring(werr)) end
  local rok, rerr = os.rename(tmp, path)
  if not rok then os.remove(tmp); return nil, ("cannot write '%s': %s"):format(path, tostring(rerr)) end
  return true
end

-- ---- axes --------------------------------------------------------------------

local function finite(v) return v == v and v ~= math.huge and v ~= -math.huge end

-- Round tick positions covering [lo, hi]; none for a range that is not
-- finite or too narrow to step through (never loops forever).
local function nice_ticks(lo, hi, target)
  if not (finite(lo) and finite(hi)) then return {} end
  if hi <= lo then hi = lo + 1 end
  local raw = (hi - lo) / (target or 5)
  local mag = 10 ^ math.floor(math.log(raw, 10))
  local step = mag
  for _, m in ipairs { 1, 2, 2.5, 5, 10 } do
    if m * mag >= raw then step = m * mag; break end
  end
  if not (finite(step) and step > 0) or lo + step == lo then return { lo, hi } end
  local ticks, v = {}, math.ceil(lo / step - 1e-9) * step
  while v <= hi + step * 1e-9 and #ticks < 100 do
    ticks[#ticks + 1] = math.abs(v) < step * 1e-9 and 0 or v
    v = v + step
  end
  return ticks
end

local function label(v)
  local s = ("%.4g"):format(v)
  return s
end

local FIG_OPTS = { width = true, height = true, title = true, xlabel = true, ylabel = true }

-- A figure: canvas plus the data-to-pixel mapping of its axes.
local function figure(fmt, o, xr, yr, fname)
  local W, H = o.width or 640, o.height or 400
  if math.type(W) ~= "integer" or math.type(H) ~= "integer" or W < 100 or H < 80 or W > 20000 or H > 20000 then
    argerror(fname, 3, "fields 'width' and 'height' must be integers in 100..20000 and 80..20000")
  end
  local cv = fmt == "png" and png_canvas(W, H) or svg_canvas(W, H)
  local L, R, T, B = 64, 16, o.title and 30 or 16, 44
  local fig = { cv = cv, x0 = L, y0 = T, x1 = W - R, y1 = H - B, xr = xr, yr = yr }
  if xr[2] <= xr[1] then xr[2] = xr[1] + 1 end
  if yr[2] <= yr[1] then yr[2] = yr[1] + 1 end
  function fig.X(x) return fig.x0 + (x - xr[1]) / (xr[2] - xr[1]) * (fig.x1 - fig.x0) end
  function fig.Y(y) return fig.y1 - (y - yr[1]) / (yr[2] - yr[1]) * (fig.y1 - fig.y0) end
  return fig
end

-- A value held inside the figure's y range (+-inf at the frame's edges).
local function clip_y(fig, v)
  if v > fig.yr[2] then return fig.yr[2] end
  if v < fig.yr[1] then return fig.yr[1] end
  return v
end

local function axes(fig, o, opts)
  local cv = fig.cv
  opts = opts or {}
  -- ticks and grid
  for _, t in ipairs(opts.xticks or nice_ticks(fig.xr[1], fig.xr[2], 6)) do
    local x = fig.X(t)
    if x >= fig.x0 - 0.5 and x <= fig.x1 + 0.5 then
      cv:rect(x, fig.y1, 1, 4, BLACK)
      cv:text(x, fig.y1 + 7, label(t), BLACK, "middle")
    end
  end
  for _, t in ipairs(opts.yticks or nice_ticks(fig.yr[1], fig.yr[2], 5)) do
    local y = fig.Y(t)
    if y >= fig.y0 - 0.5 and y <= fig.y1 + 0.5 then
      cv:rect(fig.x0 - 4, y, 4, 1, BLACK)
      cv:text(fig.x0 - 7, y - 3, label(t), BLACK, "end")
    end
  end
  -- frame: just outside the data area, so the area holds only data marks
  cv:rect(fig.x0 - 1, fig.y0 - 1, fig.x1 - fig.x0 + 2, 1, BLACK)
  cv:rect(fig.x0 - 1, fig.y1, fig.x1 - fig.x0 + 2, 1, BLACK)
  cv:rect(fig.x0 - 1, fig.y0 - 1, 1, fig.y1 - fig.y0 + 2, BLACK)
  cv:rect(fig.x1, fig.y0 - 1, 1, fig.y1 - fig.y0 + 2, BLACK)
  if o.xlabel then cv:text((fig.x0 + fig.x1) / 2, fig.y1 + 22, o.xlabel, BLACK, "middle") end
  if o.ylabel then cv:text(4, fig.y0 - 12 > 2 and fig.y0 - 12 or 2, o.ylabel, BLACK, "start") end
  if o.title then cv:text((fig.x0 + fig.x1) / 2, 6, o.title, BLACK, "middle", 2) end
end

local function finish(fig, path)
  local ok, msg = fig.cv:save(path)
  if not ok then return nil, msg end
  return true, { plot_area = { fig.x0, fig.y0, fig.x1, fig.y1 }, width = fig.cv.w, height = fig.cv.h }
end

local function merge(a, b) local r = {} for k, v in pairs(a) do r[k] = v end for k, v in pairs(b) do r[k] = v end return r end

-- ---- raster ------------------------------------------------------------------

-- plot.raster(spikes (T, N) tensor or TSEvent, path[, {dt, title, xlabel,
-- ylabel, width, height, color}]): a mark per event; time on x (steps, or
-- seconds for a TSEvent or with dt), neuron on y (1 at the bottom).
function P.raster(spikes, path, opts)
  local F = "raster"
  local fmt = format_of(path, F)
  local o = check_opts(opts, merge(FIG_OPTS, { dt = true, color = true }), F, 3)
  local times, chans, t0, t1, nch, width
  if type(spikes) == "table" and getmetatable(spikes) and getmetatable(spikes).__name == "TSEvent" then
    times, chans = spikes.times:totable(), spikes.channels:totable()
    t0, t1, nch = spikes.t_start, spikes.t_stop, math.max(spikes.num_channels, 1)
    width = 0
  elseif core.is_tensor(spikes) then
    if spikes:dim() ~= 2 then argerror(F, 1, ("expected spikes (T, N), got %d dims"):format(spikes:dim())) end
    local T, N = spikes.shape[1], spikes.shape[2]
    local dt = o.dt or 1
    local pos = core.arange(0, T * N, "float64")[spikes:reshape(-1):ne(0)]
    local row = (pos / N):floor()
    local ch = pos - row * N + 1
    chans = ch:totable()
    nch, width = math.max(N, 1), dt
    if o.dt then                      -- seconds: step t covers [(t-1)·dt, t·dt)
      times, t0, t1 = (row * dt):totable(), 0, T * dt
    else                              -- steps: step t covers [t - 0.5, t + 0.5)
      times, t0, t1 = (row + 0.5):totable(), 0.5, T + 0.5
    end
  else
    argerror(F, 1, "expected a (T, N) tensor or a TSEvent, got " .. type(spikes))
  end
  local fig = figure(fmt, o, { t0, t1 }, { 0.5, nch + 0.5 }, F)
  local col = o.color or { 20, 20, 20 }
  local cv = fig.cv
  local h = math.max(1, (fig.y1 - fig.y0) / nch * 0.8)
  for i = 1, #times do
    local xa = fig.X(times[i])
    local xb = width > 0 and fig.X(times[i] + width) or xa + 1
    local y = fig.Y(chans[i]) - h / 2
    cv:rect(xa, y, math.max(1, xb - xa), h, col)
  end
  local yt = nil
  if nch <= 10 then yt = {} for c = 1, nch do yt[c] = c end end
  axes(fig, { title = o.title, xlabel = o.xlabel or (core.is_tensor(spikes) and not o.dt and "time step" or "time (s)"),
              ylabel = o.ylabel or "neuron" }, { yticks = yt })
  return finish(fig, path)
end

-- ---- traces ------------------------------------------------------------------

local function series_of(data, fname)
  if type(data) == "table" and getmetatable(data) and getmetatable(data).__name == "TSContinuous" then
    return data.times:totable(), data.samples:astype("float64"):transpose(1, 2):contiguous():totable(), "time (s)"
  end
  if core.is_tensor(data) then
    local x = data
    if x:dim() == 1 then x = x:reshape(x.shape[1], 1) end
    if x:dim() ~= 2 then argerror(fname, 1, ("expected data (T, C), got %d dims"):format(x:dim())) end
    local t = {}
    for i = 1, x.shape[1] do t[i] = i end
    return t, x:astype("float64"):transpose(1, 2):contiguous():totable(), "time step"
  end
  argerror(fname, 1, "expected a (T, C) tensor or a TSContinuous, got " .. type(data))
end

-- plot.traces(data (T, C) tensor or TSContinuous, path[, {stagger, dt, title,
-- xlabel, ylabel, width, height}]): one line per channel, channel c shifted
-- up by (c − 1)·stagger (default: 1.1 × the largest channel range; 0 = overlaid).
function P.traces(data, path, opts)
  local F = "traces"
  local fmt = format_of(path, F)
  local o = check_opts(opts, merge(FIG_OPTS, { stagger = true, dt = true }), F, 3)
  local ts, chans, xl = series_of(data, F)
  if o.dt then for i = 1, #ts do ts[i] = (ts[i] - 1) * o.dt end; xl = "time (s)" end
  local span = 0
  for _, c in ipairs(chans) do
    local lo, hi = math.huge, -math.huge
    for _, v in ipairs(c) do if finite(v) then lo = math.min(lo, v); hi = math.max(hi, v) end end
    if hi > lo then span = math.max(span, hi - lo) end
  end
  local stagger = o.stagger or (span > 0 and span * 1.1 or 1)
  local ylo, yhi = math.huge, -math.huge
  for k, c in ipairs(chans) do
    for i, v in ipairs(c) do
      local y = v + (k - 1) * stagger
      c[i] = y
      if finite(y) then ylo = math.min(ylo, y); yhi = math.max(yhi, y) end
    end
  end
  if ylo == math.huge then ylo, yhi = 0, 1 end
  local pad = (yhi - ylo) * 0.05
  local fig = figure(fmt, o, { ts[1] or 0, ts[#ts] or 1 }, { ylo - pad, yhi + pad }, F)
  for k, c in ipairs(chans) do
    local xs, ys = {}, {}
    for i, v in ipairs(c) do        -- +-inf drawn at the frame's edge, NaN left out
      if v == v then xs[#xs + 1] = fig.X(ts[i]); ys[#ys + 1] = fig.Y(clip_y(fig, v)) end
    end
    fig.cv:polyline(xs, ys, PALETTE[(k - 1) % #PALETTE + 1])
  end
  axes(fig, { title = o.title, xlabel = o.xlabel or xl, ylabel = o.ylabel })
  return finish(fig, path)
end

-- ---- histogram ---------------------------------------------------------------

-- plot.histogram(values (tensor or list), path[, {bins = 20, range = {lo, hi},
-- title, xlabel, ylabel, width, height}]): counts of values in equal bins
-- (the last bin closed); NaNs and infinities ignored. info.counts holds
-- the bin counts.
function P.histogram(values, path, opts)
  local F = "histogram"
  local fmt = format_of(path, F)
  local o = check_opts(opts, merge(FIG_OPTS, { bins = true, range = true, color = true }), F, 3)
  local v
  if core.is_tensor(values) then v = values:reshape(-1):astype "float64"
  elseif type(values) == "table" then v = core.tensor(values, "float64"):reshape(-1)
  else argerror(F, 1, "expected a tensor or a list of numbers, got " .. type(values)) end
  local bins = o.bins or 20
  if math.type(bins) ~= "integer" or bins < 1 then argerror(F, 3, "field 'bins' must be a positive integer") end
  if v:numel() > 0 then v = v[v:isfinite()] end
  local lo, hi
  if o.range then
    lo, hi = o.range[1], o.range[2]
    if type(lo) ~= "number" or type(hi) ~= "number" or not (finite(lo) and finite(hi)) then
      argerror(F, 3, "field 'range' must be two finite numbers")
    end
  elseif v:numel() > 0 then lo, hi = v:min():item(), v:max():item()
  else lo, hi = 0, 1 end
  if hi <= lo then hi = lo + 1; lo = lo - 0 end
  local w = (hi - lo) / bins
  local counts = { }
  for i = 1, bins do counts[i] = 0 end
  if v:numel() > 0 then
    local inr = v:ge(lo):logical_and(v:le(hi))
    local x = v[inr]
    if x:numel() > 0 then
      local pos = ((x - lo) / w):floor():clamp(0, bins - 1)
      local c = core._ts.raster(pos, core.zeros({ x:numel() }, "int64"), 0, 1, bins, 1, true)
      counts = c:reshape(-1):totable()
    end
  end
  local cmax = 0
  for i = 1, bins do cmax = math.max(cmax, counts[i]) end
  local fig = figure(fmt, o, { lo, hi }, { 0, cmax > 0 and cmax * 1.05 or 1 }, F)
  local col = o.color or PALETTE[1]
  for i = 1, bins do
    if counts[i] > 0 then
      local xa, xb = fig.X(lo + (i - 1) * w), fig.X(lo + i * w)
      local yt = fig.Y(counts[i])
      fig.cv:rect(xa, yt, math.max(1, xb - xa - 1), fig.y1 - yt, col)
    end
  end
  axes(fig, { title = o.title, xlabel = o.xlabel or "value", ylabel = o.ylabel or "count" })
  local ok, info = finish(fig, path)
  if ok then info.counts = counts end
  return ok, info
end

-- ---- training curves ------------------------------------------------------------

-- plot.curve(series, path[, {title, xlabel, ylabel, width, height}]): one line
-- per named series. series: {name = values (list or tensor), ...} or a
-- history list {{loss = , accuracy = , ...}, ...} (one entry per epoch).
-- The y range covers the finite values; +-inf is drawn at the frame's top
-- or bottom edge (a diverged run), NaN is left out.
function P.curve(series, path, opts)
  local F = "curve"
  local fmt = format_of(path, F)
  local o = check_opts(opts, FIG_OPTS, F, 3)
  if type(series) ~= "table" then argerror(F, 1, "expected a table of series or a history list, got " .. type(series)) end
  local named = {}
  if #series > 0 and type(series[1]) == "table" and not core.is_tensor(series[1]) then
    for i, entry in ipairs(series) do
      for k, val in pairs(entry) do
        if type(val) == "number" then named[k] = named[k] or {}; named[k][i] = val end
      end
    end
  else
    for k, val in pairs(series) do
      if core.is_tensor(val) then named[k] = val:reshape(-1):astype("float64"):totable()
      elseif type(val) == "table" then named[k] = val
      else argerror(F, 1, ("series '%s' must be a list or tensor of numbers"):format(tostring(k))) end
    end
  end
  local names = {}
  for k in pairs(named) do names[#names + 1] = tostring(k) end
  table.sort(names)
  if #names == 0 then argerror(F, 1, "no series to plot") end
  local n, ylo, yhi = 1, math.huge, -math.huge
  for _, k in ipairs(names) do
    local s = named[k]
    for i, v in pairs(s) do
      n = math.max(n, i)
      if finite(v) then ylo = math.min(ylo, v); yhi = math.max(yhi, v) end
    end
  end
  if ylo == math.huge then ylo, yhi = 0, 1 end
  local pad = (yhi - ylo) * 0.05
  if pad == 0 then pad = math.max(math.abs(yhi) * 0.05, 0.5) end
  local fig = figure(fmt, o, { 1, math.max(n, 2) }, { ylo - pad, yhi + pad }, F)
  for j, k in ipairs(names) do
    local xs, ys = {}, {}
    for i = 1, n do
      local v = named[k][i]     -- +-inf (a diverged run) drawn at the frame's edge, NaN left out
      if v and v == v then xs[#xs + 1] = fig.X(i); ys[#ys + 1] = fig.Y(clip_y(fig, v)) end
    end
    local col = PALETTE[(j - 1) % #PALETTE + 1]
    fig.cv:polyline(xs, ys, col)
    -- legend entry, top right, inside the figure's right margin area
    local ly = fig.y0 + 4 + (j - 1) * 12
    fig.cv:rect(fig.x1 - 110, ly + 3, 12, 2, col)
    fig.cv:text(fig.x1 - 94, ly, k, col, "start")
  end
  axes(fig, { title = o.title, xlabel = o.xlabel or "epoch", ylabel = o.ylabel })
  return finish(fig, path)
end

return P
