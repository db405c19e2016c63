-- stdlib/limpet/plot/init.lua -- lp.plot: the figures researchers put in
-- papers, drawn by PLplot's cairo devices (core/src/figure.c): PNG, SVG or PDF
-- by the path's extension, antialiased, with real fonts.
-- Owns: the plot kinds (spike rasters, traces with thresholds, histograms,
-- training curves on two y axes, weight matrices with a colour bar,
-- confusion matrices with counts), multi-panel figures and the house style:
-- white page, black axes with outward ticks, the Okabe-Ito colour-blind-safe
-- palette, a diverging blue-white-red map for signed values and a sequential
-- map for counts.
-- Every plot function takes (data, path[, opts]) and returns true, info
-- (info.plot_area = {x0, y0, x1, y1}: the data area in pixels, top-left
-- origin; info.width, info.height; kind-specific fields such as
-- info.counts) or nil, msg when the file cannot be written. The same kinds
-- are methods of a figure: lp.plot.figure{rows =, cols =, width =, height =}
-- then fig:raster(k, data[, opts]) ... fig:save(path) (panel k row-major).
-- Files are written atomically. Options a plot does not know are errors.
local core = require "limpet.core"

local P = {}

-- Okabe & Ito (2008): distinguishable with every common colour-vision deficiency.
local PALETTE = { { 0, 114, 178 }, { 213, 94, 0 }, { 0, 158, 115 }, { 230, 159, 0 },
                  { 204, 121, 167 }, { 86, 180, 233 }, { 240, 228, 66 }, { 0, 0, 0 } }
P.palette = PALETTE
local INK = { 30, 30, 30 }

local function argerror(fname, k, msg) error(("bad argument #%d to '%s' (%s)"):format(k, fname, msg), 4) end

local function check_opts(o, allowed, fname, k)
  if o == nil then return {} end
  if type(o) ~= "table" then argerror(fname, k, "expected an options table, got " .. type(o)) end
  for key in pairs(o) do
    if not allowed[key] then argerror(fname, k, ("unknown field '%s'"):format(tostring(key))) end
  end
  return o
end

local function check_path(path, fname, k)
  if type(path) ~= "string" then argerror(fname, k, "expected a path, got " .. type(path)) end
  local ext = path:match "%.([%w]+)$"
  ext = ext and ext:lower()
  if ext ~= "png" and ext ~= "svg" and ext ~= "pdf" then
    argerror(fname, k, ("expected a path ending in .png, .svg or .pdf, got '%s'"):format(path))
  end
end

local function is_ts(v, name)
  local mt = type(v) == "table" and getmetatable(v)
  return mt and mt.__name == name
end

local function check_color(c, fname, k)
  if c == nil then return nil end
  if type(c) ~= "table" or #c ~= 3 then argerror(fname, k, "field 'color' must be {r, g, b} with values 0..255") end
  for i = 1, 3 do
    if math.type(c[i]) ~= "integer" or c[i] < 0 or c[i] > 255 then
      argerror(fname, k, "field 'color' must be {r, g, b} with values 0..255")
    end
  end
  return c
end

-- An axis range from the finite extremes lo, hi (lo = math.huge when there are
-- none): kept within ±1e300 so that padding and PLplot's arithmetic stay finite.
local BIG = 1e300
local function finite_range(lo, hi)
  if lo == math.huge then return 0, 1 end
  lo, hi = math.max(-BIG, math.min(BIG, lo)), math.max(-BIG, math.min(BIG, hi))
  if hi <= lo then
    local pad = math.max(math.abs(hi) * 0.05, 0.5)
    return lo - pad, hi + pad
  end
  return lo, hi
end

-- lo, hi widened by frac of their span on each side, without overflow.
local function pad_range(lo, hi, frac)
  local p = hi * frac - lo * frac
  return lo - p, hi + p
end

-- A value clamped into a band around the window (PLplot clips what lies
-- outside; the band keeps coordinates finite and small enough to convert).
local function into(v, lo, hi)
  local span = hi * 0.5 - lo * 0.5
  return math.max(lo - span, math.min(hi + span, v))
end

-- min and max of the finite values of a float64 tensor (or nil, nil)
local function finite_minmax(t)
  local ok = t:eq(t)                           -- not NaN
  ok = ok:logical_and(t:abs():lt(math.huge))
  local v = t[ok]
  if v:numel() == 0 then return nil, nil, t:numel() end
  return v:min():item(), v:max():item(), t:numel() - v:numel()
end

local FIG = { width = true, height = true, title = true, xlabel = true, ylabel = true }
local function with(extra)
  local r = {}
  for k in pairs(FIG) do r[k] = true end
  for k in pairs(extra) do r[k] = true end
  return r
end

-- The data area of a panel, in panel-relative coordinates.
-- Margins in panel-relative units grow with the grid: labels keep their size
-- while panels shrink (o.__cols, o.__rows: set by Figure:save, 1 for one plot).
local function viewport(right_room, o)
  local cols, rows = o and o.__cols or 1, o and o.__rows or 1
  return { vx0 = 0.10 + 0.04 * cols, vx1 = right_room and 0.84 or 0.95, vy0 = 0.11 + 0.04 * rows + 0.04 * (cols - 1),
           vy1 = 0.9 }
end

local function axes(F, vp, win, o, xopt, yopt, xlabel, ylabel)
  return F:axes { vx0 = vp.vx0, vx1 = vp.vx1, vy0 = vp.vy0, vy1 = vp.vy1,
                  x0 = win[1], x1 = win[2], y0 = win[3], y1 = win[4],
                  xopt = xopt or "bcinst", yopt = yopt or "bcinstv",
                  xlabel = o.xlabel or xlabel, ylabel = o.ylabel or ylabel, title = o.title }
end

local function ink(F, c) c = c or INK; F:color(c[1], c[2], c[3]) end

-- ---- the kinds: each has check(data, opts) -> prepared, and draw(F, prepared) -> info

local K = {}

-- raster(spikes (T, N) tensor or TSEvent[, {dt, color, marker}]): a mark per event;
-- time on x (steps, or seconds for a TSEvent or with dt), neuron on y (1 at the
-- bottom). Tensor events are bars one step wide; TSEvent events dots at their times.
K.raster = {
  opts = with { dt = true, color = true },
  check = function(spikes, o, F)
    if o.dt ~= nil and (type(o.dt) ~= "number" or not (o.dt > 0) or o.dt == math.huge) then
      argerror(F, 3, "field 'dt' must be a positive number")
    end
    local d = { color = check_color(o.color, F, 3) or INK }
    if is_ts(spikes, "TSEvent") then
      d.times, d.chans = spikes.times:astype("float64"), spikes.channels:astype("float64")
      d.t0, d.t1, d.nch, d.dots = spikes.t_start, spikes.t_stop, math.max(spikes.num_channels, 1), true
      if d.t1 <= d.t0 then d.t1 = d.t0 + 1 end
      d.xlabel = "time (s)"
    elseif core.is_tensor(spikes) then
      if spikes:dim() ~= 2 then argerror(F, 1, ("expected spikes (T, N), got %d dims"):format(spikes:dim())) end
      local T, N = spikes.shape[1], spikes.shape[2]
      local dt = o.dt or 1
      local pos = core.arange(0, T * N, "float64")[spikes:reshape(-1):ne(0)]
      local row = (pos / N):floor()
      d.chans = pos - row * N + 1
      d.nch = math.max(N, 1)
      if o.dt then d.times, d.t0, d.t1, d.xlabel = row * dt, 0, math.max(T, 1) * dt, "time (s)"
      else d.times, d.t0, d.t1, d.xlabel = row + 0.5, 0.5, math.max(T, 1) + 0.5, "time step" end
      d.width = dt
    else
      argerror(F, 1, "expected a (T, N) tensor or a TSEvent, got " .. type(spikes))
    end
    return d
  end,
  draw = function(F, d, o)
    local area = axes(F, viewport(false, o), { d.t0, d.t1, 0.5, d.nch + 0.5 }, o, nil, nil, d.xlabel, "neuron")
    ink(F, d.color)
    if d.times:numel() > 0 then
      if d.dots then
        F:points(d.times, d.chans, d.nch > 50 and 1.0 or 2.0)
      else
        F:rects(d.times, d.times + d.width, d.chans - 0.4, d.chans + 0.4)
      end
    end
    return { plot_area = area, events = d.times:numel() }
  end,
}

-- traces(data (T, C) tensor or TSContinuous[, {stagger, dt, threshold, labels}]):
-- one line per channel, channel c shifted up by (c − 1)·stagger (default 1.1 ×
-- the largest channel range; 0 overlays them). threshold (a number or one per
-- channel) is drawn dashed at each channel's offset: membrane traces.
-- Non-finite samples break the line and are counted in info.nonfinite.
K.traces = {
  opts = with { stagger = true, dt = true, threshold = true, labels = true },
  check = function(data, o, F)
    local t, x
    if is_ts(data, "TSContinuous") then
      t, x = data.times:astype("float64"), data.samples:astype("float64")
      o.__xlabel = "time (s)"
    elseif core.is_tensor(data) then
      x = data
      if x:dim() == 1 then x = x:reshape(x.shape[1], 1) end
      if x:dim() ~= 2 then argerror(F, 1, ("expected data (T, C), got %d dims"):format(x:dim())) end
      x = x:astype("float64")
      if o.dt ~= nil then
        if type(o.dt) ~= "number" or not (o.dt > 0) then argerror(F, 3, "field 'dt' must be a positive number") end
        t = core.arange(0, x.shape[1], "float64") * o.dt
        o.__xlabel = "time (s)"
      else
        t = core.arange(1, x.shape[1] + 1, "float64")
        o.__xlabel = "time step"
      end
    else
      argerror(F, 1, "expected a (T, C) tensor or a TSContinuous, got " .. type(data))
    end
    if o.stagger ~= nil and (type(o.stagger) ~= "number" or o.stagger ~= o.stagger) then
      argerror(F, 3, "field 'stagger' must be a number")
    end
    local C = x.shape[2]
    local th = o.threshold
    if th ~= nil then
      if type(th) == "number" then local v = th; th = {} for c = 1, C do th[c] = v end
      elseif core.is_tensor(th) then th = th:reshape(-1):astype("float64"):totable()
      end
      if type(th) ~= "table" or #th ~= C then argerror(F, 3, ("field 'threshold' must be a number or %d numbers"):format(C)) end
    end
    return { t = t, x = x, th = th }
  end,
  draw = function(F, d, o)
    local t, x = d.t, d.x
    local T, C = x.shape[1], x.shape[2]
    local span = 0
    for c = 1, C do
      local lo, hi = finite_minmax(x:slice(2, c, c):reshape(-1))
      if lo and hi > lo then span = math.max(span, math.min(hi * 0.5 - lo * 0.5, BIG / 4) * 2) end
    end
    local stagger = o.stagger or (span > 0 and span * 1.1 or 1)
    local lo, hi, bad = finite_minmax(x + core.arange(0, C, "float64") * stagger)
    local ylo, yhi = math.huge, -math.huge
    if lo then ylo, yhi = lo, hi end
    if d.th then
      for c = 1, C do
        local v = d.th[c] + (c - 1) * stagger
        ylo, yhi = math.min(ylo, v), math.max(yhi, v)
      end
    end
    ylo, yhi = finite_range(ylo, yhi)
    ylo, yhi = pad_range(ylo, yhi, 0.05)
    local t0, t1 = finite_range(t:numel() > 0 and t[1] or 0, t:numel() > 0 and t[T] or 1)
    local area = axes(F, viewport(false, o), { t0, t1, ylo, yhi }, o, nil, nil, o.__xlabel, nil)
    F:width(1.5)
    for c = 1, C do
      ink(F, PALETTE[(c - 1) % #PALETTE + 1])
      local y = x:slice(2, c, c):reshape(-1) + (c - 1) * stagger
      local good = y:eq(y):logical_and(y:abs():lt(math.huge)):totable()
      local yt, tt = y:totable(), t:totable()
      local xs, ys = {}, {}
      local function flush() if #xs > 1 then F:line(xs, ys) elseif #xs == 1 then F:points(xs, ys, 0.5) end xs, ys = {}, {} end
      for i = 1, T do
        if good[i] then xs[#xs + 1] = tt[i]; ys[#ys + 1] = into(yt[i], ylo, yhi) else flush() end
      end
      flush()
      if d.th then
        F:dashed(true)
        local y = into(d.th[c] + (c - 1) * stagger, ylo, yhi)
        F:line({ t0, t1 }, { y, y })
        F:dashed(false)
      end
      if o.labels and o.labels[c] then
        if stagger == 0 then          -- overlaid: one legend row above the data area
          F:mtext("t", 0.6, (c - 0.5) / C, 0.5, "— " .. tostring(o.labels[c]))
        else
          F:text(t1, (c - 1) * stagger, tostring(o.labels[c]), 1.0)
        end
      end
    end
    F:width(1)
    return { plot_area = area, nonfinite = bad or 0, stagger = stagger }
  end,
}

-- histogram(values (tensor or list)[, {bins = 20, range = {lo, hi}, color}]):
-- counts in equal bins (the last bin closed); NaNs ignored. info.counts.
K.histogram = {
  opts = with { bins = true, range = true, color = true },
  check = function(values, o, F)
    local v
    if core.is_tensor(values) then v = values:reshape(-1):astype "float64"
    elseif type(values) == "table" then v = core.tensor(values, "float64"):reshape(-1)
    else argerror(F, 1, "expected a tensor or a list of numbers, got " .. type(values)) end
    local bins = o.bins or 20
    if math.type(bins) ~= "integer" or bins < 1 or bins > 100000 then argerror(F, 3, "field 'bins' must be a positive integer") end
    if o.range ~= nil then
      local r = o.range
      local function finite(v) return type(v) == "number" and v == v and math.abs(v) ~= math.huge end
      if type(r) ~= "table" or not finite(r[1]) or not finite(r[2]) then argerror(F, 3, "field 'range' must be two finite numbers") end
      if not (r[1] < r[2]) then argerror(F, 3, "field 'range' must have lo < hi") end
    end
    local lo, hi
    if o.range then lo, hi = o.range[1], o.range[2]
    else lo, hi = finite_minmax(v); lo, hi = finite_range(lo or math.huge, hi or -math.huge) end
    local w = (hi - lo) / bins
    local counts = {}
    for i = 1, bins do counts[i] = 0 end
    if v:numel() > 0 then
      local x = v[v:ge(lo):logical_and(v:le(hi))]
      if x:numel() > 0 then
        local pos = ((x - lo) / w):floor():clamp(0, bins - 1)
        counts = core._ts.raster(pos, core.zeros({ x:numel() }, "int64"), 0, 1, bins, 1, true):reshape(-1):totable()
      end
    end
    return { lo = lo, hi = hi, w = w, counts = counts, color = check_color(o.color, F, 3) or PALETTE[1] }
  end,
  draw = function(F, d, o)
    local cmax = 0
    for _, c in ipairs(d.counts) do cmax = math.max(cmax, c) end
    local area = axes(F, viewport(false, o), { d.lo, d.hi, 0, cmax > 0 and cmax * 1.05 or 1 }, o, nil, nil, "value", "count")
    local x0, x1, y0, y1 = {}, {}, {}, {}
    for i, c in ipairs(d.counts) do
      if c > 0 then
        x0[#x0 + 1] = d.lo + (i - 1) * d.w; x1[#x1 + 1] = d.lo + i * d.w
        y0[#y0 + 1] = 0; y1[#y1 + 1] = c
      end
    end
    ink(F, d.color)
    if #x0 > 0 then F:rects(x0, x1, y0, y1) end
    ink(F, { 255, 255, 255 })
    for i = 1, #x0 do F:line({ x0[i], x0[i] }, { 0, y1[i] }) end   -- white gaps between bars
    return { plot_area = area, counts = d.counts }
  end,
}

-- curve(series[, {right = {names}, xlabel, ylabel, ylabel_right}]): training curves,
-- one line per named series. series: {name = values (list or tensor), ...} or a
-- history {{loss = , accuracy = , ...}, ...} (one entry per epoch). Series named
-- in `right` (default: names containing "acc") use a second y axis on the right.
-- Non-finite values (a diverged run) are left out and counted in info.nonfinite.
K.curve = {
  opts = with { right = true, ylabel_right = true },
  check = function(series, o, F)
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
        elseif type(val) == "table" then
          for i, x in pairs(val) do
            if math.type(i) ~= "integer" or type(x) ~= "number" then
              argerror(F, 1, ("series '%s' must be a list or tensor of numbers"):format(tostring(k)))
            end
          end
          named[k] = val
        else argerror(F, 1, ("series '%s' must be a list or tensor of numbers"):format(tostring(k))) end
      end
    end
    local names = {}
    for k in pairs(named) do names[#names + 1] = tostring(k) end
    table.sort(names)
    if #names == 0 then argerror(F, 1, "no series to plot") end
    local right = {}
    if o.right ~= nil then
      if type(o.right) ~= "table" then argerror(F, 3, "field 'right' must be a list of series names") end
      for _, nm in ipairs(o.right) do
        if not named[nm] then argerror(F, 3, ("field 'right' names '%s', which is not a series"):format(tostring(nm))) end
        right[nm] = true
      end
    else
      for _, nm in ipairs(names) do if nm:lower():find("acc") then right[nm] = true end end
      local all = true
      for _, nm in ipairs(names) do all = all and right[nm] end
      if all then right = {} end                  -- only accuracies: one axis
    end
    return { named = named, names = names, right = right }
  end,
  draw = function(F, d, o)
    local n, bad = 1, 0
    local rng = { l = { math.huge, -math.huge }, r = { math.huge, -math.huge } }
    local has_right = next(d.right) ~= nil
    for _, k in ipairs(d.names) do
      local r = d.right[k] and rng.r or rng.l
      for i, v in pairs(d.named[k]) do
        n = math.max(n, i)
        if v == v and math.abs(v) ~= math.huge then r[1] = math.min(r[1], v); r[2] = math.max(r[2], v)
        else bad = bad + 1 end
      end
    end
    local function padded(r)
      local lo, hi = finite_range(r[1], r[2])
      return pad_range(lo, hi, 0.05)
    end
    local vp = viewport(has_right, o)
    vp.vy1 = 0.80                                   -- room for the legend row above
    local llo, lhi = padded(rng.l)
    local xw = { 1, math.max(n, 2) }
    local area = axes(F, vp, { xw[1], xw[2], llo, lhi }, { xlabel = o.xlabel, ylabel = o.ylabel }, "bcinst",
      has_right and "binstv" or "bcinstv", "epoch", has_right and (o.ylabel or "loss") or o.ylabel)
    -- legend layout: one row, or two when the labels would not fit in one
    -- (more than ~60 characters in all at the default character size)
    local labels, chars = {}, 0
    for j, k in ipairs(d.names) do
      labels[j] = "— " .. k .. (d.right[k] and " (right)" or "")
      chars = chars + utf8.len(labels[j]) + 2
    end
    local per_row = chars > 60 and #d.names > 1 and math.ceil(#d.names / 2) or #d.names
    local rows = math.ceil(#d.names / per_row)
    if o.title then ink(F); F:mtext("t", 3.4 + 1.3 * (rows - 1), 0.5, 0.5, o.title) end
    local rlo, rhi = padded(rng.r)
    local function draw_series(j, k, ylo_, yhi_)
      local xs, ys = {}, {}
      local function flush() if #xs > 1 then F:line(xs, ys) end if #xs >= 1 then F:points(xs, ys, 0.6) end xs, ys = {}, {} end
      for i = 1, n do
        local v = d.named[k][i]
        if v and v == v and math.abs(v) ~= math.huge then xs[#xs + 1] = i; ys[#ys + 1] = into(v, ylo_, yhi_) else flush() end
      end
      flush()
      -- legend: above the data area, an entry per series in its colour
      local row, col = (j - 1) // per_row, (j - 1) % per_row
      local in_row = math.min(per_row, #d.names - row * per_row)
      F:mtext("t", 1.6 + 1.3 * (rows - 1 - row), (col + 0.5) / in_row, 0.5, labels[j])
    end
    F:width(2)
    for j, k in ipairs(d.names) do
      if not d.right[k] then ink(F, PALETTE[(j - 1) % #PALETTE + 1]); draw_series(j, k, llo, lhi) end
    end
    if has_right then
      F:width(1)
      axes(F, vp, { xw[1], xw[2], rlo, rhi }, { }, "", "cimstv", nil, nil)
      F:mtext("r", 4.5, 0.5, 0.5, o.ylabel_right or "accuracy")
      F:width(2)
      for j, k in ipairs(d.names) do
        if d.right[k] then ink(F, PALETTE[(j - 1) % #PALETTE + 1]); draw_series(j, k, rlo, rhi) end
      end
    end
    F:width(1)
    return { plot_area = area, nonfinite = bad }
  end,
}

-- Colour bar: a narrow panel-relative strip right of vp, values lo..hi.
local function colorbar(F, vp, lo, hi, cmap, label)
  local strip = { vx0 = vp.vx1 + 0.03, vx1 = vp.vx1 + 0.06, vy0 = vp.vy0, vy1 = vp.vy1 }
  F:axes { vx0 = strip.vx0, vx1 = strip.vx1, vy0 = strip.vy0, vy1 = strip.vy1,
           x0 = 0, x1 = 1, y0 = lo, y1 = hi, xopt = "bc", yopt = "bcimstv" }
  local z = core.linspace(lo, hi, 256, "float64"):reshape(256, 1)
  F:image(z, 0, 1, lo, hi, lo, hi, cmap)
  F:axes { vx0 = strip.vx0, vx1 = strip.vx1, vy0 = strip.vy0, vy1 = strip.vy1,
           x0 = 0, x1 = 1, y0 = lo, y1 = hi, xopt = "bc", yopt = "bcimstv" }
  if label then F:mtext("r", 5, 0.5, 0.5, label) end
end

local function check_matrix(m, F)
  if not core.is_tensor(m) then argerror(F, 1, "expected a 2-D tensor, got " .. type(m)) end
  if m:dim() ~= 2 then argerror(F, 1, ("expected a 2-D tensor, got %d dims"):format(m:dim())) end
  if m:numel() == 0 then argerror(F, 1, "expected a non-empty matrix") end
  return m:astype("float64")
end

-- matrix(W (rows, cols)[, {cmap = "diverging" | "sequential", range = {lo, hi},
-- colorbar_label}]): a weight matrix as an image, row 1 at the top, column j at x = j;
-- diverging maps are centred on 0 (symmetric range) by default.
K.matrix = {
  opts = with { cmap = true, range = true, colorbar_label = true },
  check = function(m, o, F)
    local z = check_matrix(m, F)
    local cmap = o.cmap or "diverging"
    if cmap ~= "diverging" and cmap ~= "sequential" then argerror(F, 3, "field 'cmap' must be 'diverging' or 'sequential'") end
    local lo, hi
    if o.range ~= nil then
      if type(o.range) ~= "table" or type(o.range[1]) ~= "number" or type(o.range[2]) ~= "number" or not (o.range[1] < o.range[2]) then
        argerror(F, 3, "field 'range' must be {lo, hi} with lo < hi")
      end
      lo, hi = o.range[1], o.range[2]
    else
      lo, hi = finite_minmax(z)
      if not lo then lo, hi = -1, 1 end
      if cmap == "diverging" then local a = math.max(math.abs(lo), math.abs(hi), 1e-12); lo, hi = -a, a
      elseif hi <= lo then lo, hi = lo - 0.5, hi + 0.5 end
    end
    return { z = z, lo = lo, hi = hi, cmap = cmap }
  end,
  draw = function(F, d, o)
    local R, C = d.z.shape[1], d.z.shape[2]
    local vp = viewport(true, o)
    vp.vx1 = 0.80
    local area = axes(F, vp, { 0.5, C + 0.5, R + 0.5, 0.5 }, o, "bcinst", "bcinstv", "column (post)", "row (pre)")
    F:image(d.z, 0.5, C + 0.5, 0.5, R + 0.5, d.lo, d.hi, d.cmap)
    axes(F, vp, { 0.5, C + 0.5, R + 0.5, 0.5 }, { }, "bcinst", "bcinstv")
    colorbar(F, vp, d.lo, d.hi, d.cmap, o.colorbar_label)
    return { plot_area = area, range = { d.lo, d.hi } }
  end,
}

-- confusion(cm (C, C) counts, rows = true class, cols = predicted[, {labels, normalize}]):
-- an image with the count (or row fraction when normalize) written in each cell.
K.confusion = {
  opts = with { labels = true, normalize = true },
  check = function(m, o, F)
    local z = check_matrix(m, F)
    if z.shape[1] ~= z.shape[2] then argerror(F, 1, ("expected a square matrix, got (%d, %d)"):format(z.shape[1], z.shape[2])) end
    if o.labels ~= nil and (type(o.labels) ~= "table" or #o.labels ~= z.shape[1]) then
      argerror(F, 3, ("field 'labels' must list %d class names"):format(z.shape[1]))
    end
    local shown = z
    if o.normalize then
      shown = z / z:sum(2, true):clamp(1e-300, math.huge)
    end
    return { z = z, shown = shown }
  end,
  draw = function(F, d, o)
    local C = d.z.shape[1]
    local lo, hi = 0, math.max(d.shown:max():item(), 1e-12)
    local vp = viewport(true, o)
    vp.vx1 = 0.80
    local area = axes(F, vp, { 0.5, C + 0.5, C + 0.5, 0.5 }, o, "bcinst", "bcinstv", "predicted class", "true class")
    F:image(d.shown, 0.5, C + 0.5, 0.5, C + 0.5, lo, hi, "sequential")
    local counts, shown = d.z:totable(), d.shown:totable()
    F:text_size(C > 12 and 0.5 or C > 6 and 0.7 or 0.9)
    for i = 1, C do
      for j = 1, C do
        local v = shown[i][j]
        if v ~= 0 then
          if v > hi * 0.6 then ink(F, { 255, 255, 255 }) else ink(F) end
          local s = o.normalize and ("%.2f"):format(v) or ("%d"):format(math.floor(counts[i][j] + 0.5))
          F:text(j, i, s, 0.5)
        end
      end
    end
    F:text_size(1)
    ink(F)
    axes(F, vp, { 0.5, C + 0.5, C + 0.5, 0.5 }, { }, "bcinst", "bcinstv")
    colorbar(F, vp, lo, hi, "sequential", o.normalize and "fraction of row" or "count")
    return { plot_area = area, total = d.z:sum():item() }
  end,
}

local function size_of(o, fname, k)
  local W, H = o.width or 800, o.height or 500
  if math.type(W) ~= "integer" or math.type(H) ~= "integer" or W < 100 or H < 80 or W > 20000 or H > 20000 then
    argerror(fname, k, "fields 'width' and 'height' must be integers in 100..20000 and 80..20000")
  end
  return W, H
end

local function finish(F, info, W, H)
  local ok, msg = F:close()
  if not ok then return nil, msg end
  info.width, info.height = W, H
  return true, info
end

-- One plot of a kind, its errors in fname's name with path as argument
-- #(2 - shift) and opts #(3 - shift) (ts:plot(path, opts) is raster or
-- traces of self, shift 1).
local function draw_kind(kind, fname, shift, data, path, opts)
    check_path(path, fname, 2 - shift)
    local o = check_opts(opts, kind.opts, fname, 3 - shift)
    local W, H = size_of(o, fname, 3 - shift)
    local d = kind.check(data, o, fname)
    local F, msg = core._figure(path, W, H, 1, 1)
    if not F then return nil, msg end
    F:panel(1)
    local info = kind.draw(F, d, o)
    return finish(F, info, W, H)
end

--- P._plot_method(kind, fname, ts, path, opts): ts:plot's body (TSEvent: raster,
-- TSContinuous: traces), errors naming fname.
function P._plot_method(kind, fname, ts, path, opts) return draw_kind(K[kind], fname, 1, ts, path, opts) end

for name, kind in pairs(K) do
  P[name] = function(data, path, opts)
    check_path(path, name, 2)
    local o = check_opts(opts, kind.opts, name, 3)
    local W, H = size_of(o, name, 3)
    local d = kind.check(data, o, name)
    local F, msg = core._figure(path, W, H, 1, 1)
    if not F then return nil, msg end
    F:panel(1)
    local info = kind.draw(F, d, o)
    return finish(F, info, W, H)
  end
end

-- ---- multi-panel figures ------------------------------------------------------

local Figure = {}
Figure.__index = Figure
Figure.__name = "limpet.plot.Figure"

--- lp.plot.figure{rows = 1, cols = 1, width = 800·cols, height = 500·rows}: a grid of
--- panels; fig:<kind>(k, data[, opts]) puts a plot in panel k (row-major), checked at
--- once; fig:save(path) draws them all -> true, {panels = {info...}} | nil, msg.
function P.figure(opts)
  local o = check_opts(opts, { rows = true, cols = true, width = true, height = true }, "figure", 1)
  local rows, cols = o.rows or 1, o.cols or 1
  if math.type(rows) ~= "integer" or math.type(cols) ~= "integer" or rows < 1 or cols < 1 or rows > 16 or cols > 16 then
    argerror("figure", 1, "fields 'rows' and 'cols' must be integers in 1..16")
  end
  local W, H = size_of({ width = o.width or math.min(800 * cols, 20000), height = o.height or math.min(500 * rows, 20000) }, "figure", 1)
  return setmetatable({ rows = rows, cols = cols, width = W, height = H, panels = {} }, Figure)
end

for name, kind in pairs(K) do
  Figure[name] = function(self, k, data, opts)
    if getmetatable(self) ~= Figure then error(("bad argument #1 to '%s' (figure expected)"):format(name), 2) end
    if math.type(k) ~= "integer" or k < 1 or k > self.rows * self.cols then
      error(("bad argument #1 to '%s' (panel must be an integer in 1..%d)"):format(name, self.rows * self.cols), 2)
    end
    local o = check_opts(opts, kind.opts, name, 3)
    if o.width or o.height then error(("bad argument #3 to '%s' (a panel takes the figure's size: no 'width' or 'height')"):format(name), 2) end
    self.panels[k] = { kind = kind, d = kind.check(data, o, name), o = o }
    return self
  end
end

function Figure:save(path)
  check_path(path, "save", 1)
  local F, msg = core._figure(path, self.width, self.height, self.rows, self.cols)
  if not F then return nil, msg end
  local infos = {}
  for k = 1, self.rows * self.cols do
    F:panel(k)
    local p = self.panels[k]
    if p then
      p.o.__cols, p.o.__rows = self.cols, self.rows
      infos[k] = p.kind.draw(F, p.d, p.o)
    end
  end
  return finish(F, { panels = infos }, self.width, self.height)
end

return P
