-- spec/data/transforms_spec.lua -- Tonic's event transforms on small
-- hand-made event sets: exact expectations, seeded reproducibility, option
-- errors (stdlib/limpet/data/transforms.lua, core/src/events.c).
local lp = require "limpet"
local tf = require "limpet.data.transforms"

local function T(v, dt) return lp.tensor(v, dt) end
local function list(t) return t:totable() end

-- 5 events on a 3 x 2 sensor with 2 polarities; t in seconds
local function sample()
  return {
    t = T({ 0.0, 0.001, 0.002, 0.0035, 0.005 }, "float64"),
    x = T({ 1, 2, 3, 2, 1 }, "int16"),
    y = T({ 1, 1, 2, 2, 1 }, "int16"),
    p = T({ 1, 2, 1, 2, 1 }, "int8"),
  }
end
local SZ = { 3, 2, 2 }

describe("limpet.data.transforms.ToFrame", function()
  it("bins by time window into (T, P, H, W) float32 counts", function()
    local f = tf.ToFrame { sensor_size = SZ, time_window = 0.002 }(sample())
    assert.same({ 2, 2, 2, 3 }, f.shape)
    assert.equal("float32", f.dtype)
    -- window 1: t = 0, 0.001 -> (x1 y1 p1), (x2 y1 p2); window 2: t = 0.002, 0.0035
    assert.same({ { { { 1, 0, 0 }, { 0, 0, 0 } }, { { 0, 1, 0 }, { 0, 0, 0 } } },
                  { { { 0, 0, 0 }, { 0, 0, 1 } }, { { 0, 0, 0 }, { 0, 1, 0 } } } }, list(f))
  end)

  it("includes the incomplete last window on request, and overlaps windows", function()
    local f = tf.ToFrame { sensor_size = SZ, time_window = 0.002, include_incomplete = true }(sample())
    assert.equal(3, f.shape[1])
    assert.equal(1, f[3]:sum():item())                         -- t = 0.005 alone
    local g = tf.ToFrame { sensor_size = SZ, time_window = 0.002, overlap = 0.001 }(sample())
    -- stride 1 ms: floor((5 - 2) / 1) + 1 = 4 windows of [k, k + 2) ms
    assert.equal(4, g.shape[1])
    assert.same({ 2, 2, 2, 1 }, list(g:reshape(4, -1):sum(2)))   -- t = 5 ms falls past [3, 5)
  end)

  it("bins by event count and by number of bins", function()
    local f = tf.ToFrame { sensor_size = SZ, event_count = 2 }(sample())
    assert.equal(2, f.shape[1])                                  -- floor((5 - 2) / 2) + 1
    assert.same({ 2, 2 }, list(f:reshape(2, -1):sum(2)))
    local g = tf.ToFrame { sensor_size = SZ, event_count = 2, include_incomplete = true }(sample())
    assert.same({ 2, 2, 1 }, list(g:reshape(3, -1):sum(2)))
    local h = tf.ToFrame { sensor_size = SZ, n_time_bins = 2 }(sample())
    -- Tonic's bins of 5000 // 2 = 2500 us: [0, 2.5) ms holds 3 events, [2.5, 5) ms one,
    -- t_last = 5 ms lies in no bin
    assert.same({ 3, 1 }, list(h:reshape(2, -1):sum(2)))
    assert.same({ { 1, 0, 0 }, { 0, 0, 1 } }, list(h[1][1]))
    -- bins = "even": the last bin closes at t_last
    local v = tf.ToFrame { sensor_size = SZ, n_time_bins = 2, bins = "even" }(sample())
    assert.same({ 3, 2 }, list(v:reshape(2, -1):sum(2)))
    local e = tf.ToFrame { sensor_size = SZ, n_event_bins = 2 }(sample())
    assert.same({ 2, 2 }, list(e:reshape(2, -1):sum(2)))          -- 5 // 2 = 2 events per bin
  end)

  it("gives (T, W) for a 1-d sensor and (T, P, W) for a sample without y", function()
    local s = { t = T({ 0.0, 0.0005, 0.0012 }, "float64"), x = T({ 700, 1, 700 }, "int64") }
    local f = tf.ToFrame { sensor_size = { 700 }, time_window = 0.001, include_incomplete = true }(s)
    assert.same({ 2, 700 }, f.shape)
    assert.equal(1, f[1][700]); assert.equal(1, f[1][1]); assert.equal(1, f[2][700])
    local g = tf.ToFrame { sensor_size = { 700, 1, 1 }, n_time_bins = 1, bins = "even" }(s)
    assert.same({ 1, 1, 700 }, g.shape)
    assert.equal(2, g[1][1][700])
  end)

  it("forces one polarity on a single-polarity sensor; empty input gives zero frames", function()
    local f = tf.ToFrame { sensor_size = { 3, 2, 1 }, n_event_bins = 1 }(sample())
    assert.same({ 1, 1, 2, 3 }, f.shape)
    assert.equal(5, f:sum():item())
    local empty = { t = T({}, "float64"), x = T({}, "int16"), y = T({}, "int16"), p = T({}, "int8") }
    assert.same({ 3, 2, 2, 3 }, tf.ToFrame { sensor_size = SZ, n_time_bins = 3 }(empty).shape)
    assert.same({ 1, 2, 2, 3 }, tf.ToFrame { sensor_size = SZ, time_window = 1 }(empty).shape)
  end)

  it("rejects bad options and events outside the sensor", function()
    assert.has_error(function() tf.ToFrame { sensor_size = SZ, time_windw = 1 } end,
      "bad argument #1 to 'ToFrame' (unknown field 'time_windw')")
    assert.has_error(function() tf.ToFrame { sensor_size = SZ } end,
      "bad argument #1 to 'ToFrame' (exactly one of time_window, event_count, n_time_bins, n_event_bins is required)")
    assert.has_error(function() tf.ToFrame { sensor_size = SZ, time_window = 1, event_count = 2 } end,
      "bad argument #1 to 'ToFrame' (exactly one of time_window, event_count, n_time_bins, n_event_bins is required)")
    assert.has_error(function() tf.ToFrame { time_window = 1 } end,
      "bad argument #1 to 'ToFrame' (field 'sensor_size' is required)")
    assert.has_error(function() tf.ToFrame { sensor_size = { 3, 2 }, time_window = 1 } end,
      "bad argument #1 to 'ToFrame' (field 'sensor_size' must be {W, H, P} or {W})")
    assert.has_error(function() tf.ToFrame { sensor_size = SZ, time_window = -1 } end,
      "bad argument #1 to 'ToFrame' (field 'time_window' must be positive, got -1)")
    assert.has_error(function() tf.ToFrame { sensor_size = SZ, event_count = 1.5 } end,
      "bad argument #1 to 'ToFrame' (field 'event_count' must be an integer, got 1.5)")
    assert.has_error(function() tf.ToFrame { sensor_size = SZ, time_window = 1, overlap = 1 } end,
      "bad argument #1 to 'ToFrame' (field 'overlap' must be smaller than time_window)")
    assert.has_error(function() tf.ToFrame { sensor_size = SZ, n_time_bins = 2, overlap = 1 } end,
      "bad argument #1 to 'ToFrame' (field 'overlap' must be smaller than 1 with n_time_bins or n_event_bins)")
    assert.has_error(function() tf.ToFrame { sensor_size = { 2, 2, 2 }, time_window = 1 }(sample()) end,
      "bad argument #1 to 'ToFrame' (x must lie in 1..2 for sensor {2,2,2}, got 1..3)")
    assert.has_error(function() tf.ToFrame { sensor_size = SZ, time_window = 1 }(lp.zeros(3)) end,
      "bad argument #1 to 'ToFrame' (expected an event sample {t = , x = , ...}, got a tensor)")
    local s = sample(); s.p = nil
    assert.has_error(function() tf.ToFrame { sensor_size = SZ, time_window = 1 }(s) end,
      "bad argument #1 to 'ToFrame' (sample has no field 'p' but sensor {3,2,2} has 2 polarities)")
  end)
end)

describe("limpet.data.transforms event transforms", function()
  it("Downsample scales t and the 0-based coordinates, dropping nothing", function()
    local r = tf.Downsample { time_factor = 2, spatial_factor = 0.5 }(sample())
    assert.same({ 0, 0.002, 0.004, 0.007, 0.01 }, list(r.t))
    assert.same({ 1, 1, 2, 1, 1 }, list(r.x))                   -- x0 = 0,1,2,1,0 -> 0,0,1,0,0
    assert.same({ 1, 1, 1, 1, 1 }, list(r.y))
    assert.equal("int16", r.x.dtype)
    local g = tf.Downsample { sensor_size = { 4, 4, 2 }, target_size = { 2, 1 } }(
      { t = T({ 0 }, "float64"), x = T({ 4 }, "int16"), y = T({ 4 }, "int16") })
    assert.same({ 2 }, list(g.x)); assert.same({ 1 }, list(g.y))
    assert.has_error(function() tf.Downsample { target_size = { 2, 2 } } end,
      "bad argument #1 to 'Downsample' (field 'target_size' needs field 'sensor_size')")
  end)

  it("Denoise keeps events whose neighbours fired within filter_time (Tonic's rule)", function()
    -- stamps start at filter_time, so the first two events pass; the rest are isolated
    local r = tf.Denoise { filter_time = 0.0015 }(sample())
    assert.same({ 0, 0.001 }, list(r.t))
    assert.same({ 1, 2 }, list(r.x))
    local s = { t = T({ 0.01, 0.0105, 0.02, 0.0202 }, "float64"), x = T({ 5, 6, 1, 9 }, "int64"),
                y = T({ 5, 5, 1, 9 }, "int64") }
    assert.same({ 0.0105 }, list(tf.Denoise { filter_time = 0.001 }(s).t))
    assert.has_error(function() tf.Denoise {} end, "bad argument #1 to 'Denoise' (field 'filter_time' is required)")
  end)

  it("CropTime keeps min <= t <= max", function()
    assert.same({ 0.001, 0.002, 0.0035 }, list(tf.CropTime { min = 0.001, max = 0.0035 }(sample()).t))
    assert.same({ 0.002, 0.0035, 0.005 }, list(tf.CropTime { min = 0.002 }(sample()).t))
    assert.has_error(function() tf.CropTime { mn = 1 } end, "bad argument #1 to 'CropTime' (unknown field 'mn')")
  end)

  it("DropPixel removes listed pixels and hot pixels", function()
    local r = tf.DropPixel { coordinates = { { 1, 1 }, { 3, 2 } } }(sample())
    assert.same({ 2, 2 }, list(r.x)); assert.same({ 1, 2 }, list(r.y)); assert.same({ 2, 2 }, list(r.p))
    -- pixel (1, 1) fires twice in 5 ms: above 300 Hz x 5 ms = 1.5
    local h = tf.DropPixel { hot_pixel_frequency = 300 }(sample())
    assert.same({ 0.001, 0.002, 0.0035 }, list(h.t))
    local a = tf.DropPixel { coordinates = { 3 } }({ t = T({ 0, 1, 2 }, "float64"), x = T({ 3, 1, 3 }, "int32") })
    assert.same({ 1 }, list(a.x))
    assert.has_error(function() tf.DropPixel {} end,
      "bad argument #1 to 'DropPixel' (exactly one of coordinates, hot_pixel_frequency is required)")
  end)

  it("RandomTimeReversal reverses time, order and polarity", function()
    local r = tf.RandomTimeReversal { p = 1 }(sample())
    assert.tensor_near(T({ 0, 0.0015, 0.003, 0.004, 0.005 }, "float64"), r.t, 1e-12)
    assert.same({ 1, 2, 3, 2, 1 }, list(r.x))
    assert.same({ 1, 2, 2, 1, 1 }, list(r.y))
    assert.same({ 2, 1, 2, 1, 2 }, list(r.p))
    local k = tf.RandomTimeReversal { p = 1, flip_polarities = false }(sample())
    assert.same({ 1, 2, 1, 2, 1 }, list(k.p))
    assert.same({ 0, 0.001, 0.002, 0.0035, 0.005 }, list(tf.RandomTimeReversal { p = 0 }(sample()).t))
  end)

  it("RandomFlipPolarity swaps polarities 1 and 2", function()
    assert.same({ 2, 1, 2, 1, 2 }, list(tf.RandomFlipPolarity { p = 1 }(sample()).p))
    assert.same({ 1, 2, 1, 2, 1 }, list(tf.RandomFlipPolarity { p = 0 }(sample()).p))
    assert.has_error(function() tf.RandomFlipPolarity { p = 2 } end,
      "bad argument #1 to 'RandomFlipPolarity' (field 'p' must lie in [0, 1], got 2)")
  end)

  it("DropEvent deletes round(p N) events, keeping order", function()
    local s = { t = lp.arange(0, 10, 1, "float64"), x = lp.arange(1, 11) }
    local r = tf.DropEvent { p = 0.3, seed = 7 }(s)
    assert.equal(7, #r.t)
    local x = list(r.x)
    for i = 2, #x do assert.is_true(x[i] > x[i - 1]) end
    for i = 1, #x do assert.equal(x[i] - 1, r.t[i]) end         -- fields stay aligned
    assert.equal(0, #tf.DropEvent { p = 1 }(s).t)
    assert.equal(10, #tf.DropEvent { p = 0 }(s).t)
    assert.has_error(function() tf.DropEvent { p = { 0.5, 0.1 } } end,
      "bad argument #1 to 'DropEvent' (field 'p' must be a probability or a range {pmin, pmax} in [0, 1])")
  end)

  it("TimeJitter adds Gaussian noise, drops negative times and sorts on request", function()
    local s = { t = T({ 0.0, 0.5, 1.0, 1.5 }, "float64"), x = T({ 1, 2, 3, 4 }, "int64") }
    assert.same(list(s.t), list(tf.TimeJitter { std = 0 }(s).t))
    local r = tf.TimeJitter { std = 1, seed = 3, sort_timestamps = true }(s)
    local t = list(r.t)
    for i = 1, #t do assert.is_true(t[i] >= 0) end
    for i = 2, #t do assert.is_true(t[i] >= t[i - 1]) end
    local u = tf.TimeJitter { std = 10, clip_negative = false, seed = 3 }(s)
    assert.equal(4, #u.t)
    local n = 0
    for _, v in ipairs(list(u.t)) do if v < 0 then n = n + 1 end end
    local c = tf.TimeJitter { std = 10, seed = 3 }(s)
    assert.equal(4 - n, #c.t)
    assert.has_error(function() tf.TimeJitter { std = -1 } end,
      "bad argument #1 to 'TimeJitter' (field 'std' must lie in [0, inf], got -1)")
  end)

  it("SpatialJitter moves coordinates with the given covariance and clips outliers", function()
    local n = 20000
    local s = { t = lp.zeros(n, "float64"), x = lp.full({ n }, 50, "int64"):astype("float64"),
                y = lp.full({ n }, 50, "int64"):astype("float64") }
    local r = tf.SpatialJitter { sensor_size = { 100, 100, 2 }, var_x = 4, var_y = 1, sigma_xy = 1, seed = 1 }(s)
    local dx, dy = r.x - 50, r.y - 50
    assert.near(4, (dx * dx):mean():item(), 0.2)
    assert.near(1, (dy * dy):mean():item(), 0.05)
    assert.near(1, (dx * dy):mean():item(), 0.1)
    local small = tf.SpatialJitter { sensor_size = SZ, var_x = 100, var_y = 100, clip_outliers = true, seed = 2 }(sample())
    for _, v in ipairs(list(small.x)) do assert.is_true(v >= 1 and v <= 3) end
    for _, v in ipairs(list(small.y)) do assert.is_true(v >= 1 and v <= 2) end
    assert.equal("int16", small.x.dtype)
    assert.has_error(function() tf.SpatialJitter { var_x = 1 } end,
      "bad argument #1 to 'SpatialJitter' (field 'sensor_size' is required)")
    assert.has_error(function() tf.SpatialJitter { sensor_size = SZ, sigma_xy = 2 } end,
      "bad argument #1 to 'SpatialJitter' (covariance must be positive semi-definite (sigma_xy^2 <= var_x * var_y))")
  end)

  it("is reproducible: a seed repeats its sequence, lp.seed repeats the global stream", function()
    local big = { t = lp.arange(0, 100, 1, "float64"), x = lp.arange(1, 101) }
    local a, b = tf.DropEvent { p = 0.5, seed = 11 }, tf.DropEvent { p = 0.5, seed = 11 }
    local a1, a2 = list(a(big).x), list(a(big).x)
    assert.same(a1, list(b(big).x))
    assert.same(a2, list(b(big).x))
    assert.are_not.same(a1, a2)                               -- a new draw per call
    local g = tf.TimeJitter { std = 1 }
    lp.seed(5); local g1 = list(g(big).t)
    lp.seed(5); assert.same(g1, list(g(big).t))
  end)

  it("Compose applies in order and describes itself", function()
    local c = tf.Compose { tf.CropTime { min = 0.001 }, tf.ToFrame { sensor_size = SZ, n_time_bins = 1 } }
    assert.equal(3, c(sample()):sum():item())                 -- 4 events left, the last in no bin
    assert.equal("Compose{CropTime{min=0.001},ToFrame{n_time_bins=1,sensor_size={3,2,2}}}", tf.describe(c))
    assert.has_error(function() tf.Compose { 1 } end,
      "bad argument #1 to 'Compose' (element 1 must be a function, got number)")
  end)

  it("passes empty samples through every transform", function()
    local e = { t = T({}, "float64"), x = T({}, "int16"), y = T({}, "int16"), p = T({}, "int8") }
    for _, f in ipairs {
      tf.TimeJitter { std = 1, sort_timestamps = true }, tf.SpatialJitter { sensor_size = SZ, clip_outliers = true },
      tf.DropEvent { p = 0.5 }, tf.DropPixel { hot_pixel_frequency = 1 }, tf.DropPixel { coordinates = { { 1, 1 } } },
      tf.RandomFlipPolarity { p = 1 }, tf.RandomTimeReversal { p = 1 }, tf.CropTime {}, tf.Denoise { filter_time = 1 },
      tf.Downsample { spatial_factor = 0.5, time_factor = 2 },
    } do
      assert.equal(0, #f(e).t)
    end
  end)

  it("never modifies its input and carries extra per-event fields", function()
    local s = sample()
    s.w = T({ 10, 20, 30, 40, 50 }, "float32")
    local r = tf.CropTime { max = 0.002 }(s)
    assert.same({ 10, 20, 30 }, list(r.w))
    assert.equal(5, #s.t)
  end)

  it("transforms a million events quickly enough to run (C kernels)", function()
    local n = 1000000
    lp.seed(1)
    local t = lp.arange(0, n, 1, "float64") * 3e-7
    local s = { t = t, x = lp.randint(1, 35, n, "int16"), y = lp.randint(1, 35, n, "int16"),
                p = lp.randint(1, 3, n, "int8") }
    local pipeline = tf.Compose {
      tf.Denoise { filter_time = 1e-3 }, tf.TimeJitter { std = 1e-5, sort_timestamps = true },
      tf.DropPixel { hot_pixel_frequency = 1e5 }, tf.ToFrame { sensor_size = { 34, 34, 2 }, time_window = 1e-3 },
    }
    local f = pipeline(s)
    assert.equal(34, f.shape[4])
  end)
end)

describe("limpet.data.transforms: Tonic's integer-microsecond arithmetic", function()
  it("ToFrame puts an event lying exactly on a window start into that window", function()
    -- 9 * 0.001 = 0.0090000000000000011 > 0.009: float window bounds put the
    -- 9 ms event into frame 9; Tonic (whole microseconds) puts it into frame 10
    local s = { t = T({ 0, 0.009, 0.012 }, "float64"), x = T({ 1, 2, 3 }, "int32") }
    local f = tf.ToFrame { sensor_size = { 700 }, time_window = 0.001 }(s)
    assert.same({ 12, 700 }, f.shape)                  -- floor((12000 - 1000) / 1000) + 1
    assert.equal(1, f[1][1])
    assert.equal(0, f[9]:sum():item())
    assert.equal(1, f[10][2])
    assert.equal(2, f:sum():item())                    -- t = 12 ms lies past the last window
  end)

  it("Downsample applies the spatial factor in float64, as NumPy", function()
    -- 49 * (1/49) = 0.99999999999999989 in float64 (Tonic: 0), 1 in float32
    local s = { t = T({ 0, 0.001 }, "float64"), x = T({ 50, 99 }, "int16"), y = T({ 50, 1 }, "int16") }
    local r = tf.Downsample { spatial_factor = 1 / 49 }(s)
    assert.same({ 1, 2 }, list(r.x))                   -- 0-based 49 -> 0, 98 -> 1
    assert.same({ 1, 1 }, list(r.y))
    assert.equal("int16", r.x.dtype)
  end)

  it("Denoise drops an event whose neighbour fired exactly filter_time earlier", function()
    -- Tonic keeps an event when t_prev + filter_time > t: 10 ms + 3 ms is not > 13 ms
    -- (in float seconds 0.01 + 0.003 = 0.013000000000000001 > 0.013)
    local s = { t = T({ 0.01, 0.013, 0.0135 }, "float64"), x = T({ 1, 2, 1 }, "int16"), y = T({ 1, 1, 1 }, "int16") }
    local r = tf.Denoise { filter_time = 0.003 }(s)
    assert.same({ 0.0135 }, list(r.t))                 -- its neighbour fired 0.5 ms before
  end)
end)

describe("limpet.data.transforms: Tonic's choices by default, limpet's on request", function()
  it("ToFrame takes start_time and end_time with time_window", function()
    local s = { t = T({ 0.0005, 0.001, 0.0025, 0.0031 }, "float64"), x = T({ 1, 2, 3, 4 }, "int32") }
    -- windows [0, 1), [1, 2), [2, 3) ms: floor((3 - 0 - 1) / 1) + 1 = 3; t = 3.1 ms in none
    local f = tf.ToFrame { sensor_size = { 4 }, time_window = 0.001, start_time = 0, end_time = 0.003 }(s)
    assert.same({ { 1, 0, 0, 0 }, { 0, 1, 0, 0 }, { 0, 0, 1, 0 } }, list(f))
    -- from the first event (0.5 ms) by default: [0.5, 1.5), [1.5, 2.5)
    local g = tf.ToFrame { sensor_size = { 4 }, time_window = 0.001 }(s)
    assert.same({ { 1, 1, 0, 0 }, { 0, 0, 0, 0 } }, list(g))
    -- events before start_time lie in no window
    local h = tf.ToFrame { sensor_size = { 4 }, time_window = 0.001, start_time = 0.001, include_incomplete = true }(s)
    assert.same({ { 0, 1, 0, 0 }, { 0, 0, 1, 0 }, { 0, 0, 0, 1 } }, list(h))
    assert.has_error(function() tf.ToFrame { sensor_size = { 4 }, n_time_bins = 2, start_time = 0 } end,
      "bad argument #1 to 'ToFrame' (fields 'start_time' and 'end_time' need time_window)")
    assert.has_error(function() tf.ToFrame { sensor_size = { 4 }, time_window = 1, bins = "even" } end,
      "bad argument #1 to 'ToFrame' (field 'bins' needs n_time_bins)")
    assert.has_error(function() tf.ToFrame { sensor_size = { 4 }, n_time_bins = 2, bins = "exact" } end,
      "bad argument #1 to 'ToFrame' (field 'bins' must be 'tonic' or 'even', got exact)")
    assert.has_error(function() tf.ToFrame { sensor_size = { 4 }, time_window = 1e-12 } end,
      "bad argument #1 to 'ToFrame' (field 'time_window' must be at least 1e-9 (one nanosecond))")
    assert.has_error(function() tf.CropTime { max = math.huge } end,
      "bad argument #1 to 'CropTime' (field 'max' must lie in (-4.6e9, 4.6e9) seconds, got inf)")
  end)

  it("n_time_bins with overlap: Tonic's floored bins, or even bins covering every event", function()
    -- t_last - t_first = 1003 us; 2 bins: Tonic's window 501 * 1.5 = 751.5 us, stride 375.75 us
    local s = { t = T({ 0, 0.000375, 0.000376, 0.0007515, 0.001003 }, "float64"), x = T({ 1, 2, 3, 4, 5 }, "int32") }
    local f = tf.ToFrame { sensor_size = { 5 }, n_time_bins = 2, overlap = 0.5 }(s)
    -- [0, 751.5): 0, 375, 376; [375.75, 1127.25): 376, 751 (t = 751.5 us reads as 751), 1003
    assert.same({ { 1, 1, 1, 1, 0 }, { 0, 0, 1, 1, 1 } }, list(f))
    -- even: window 1003 / 2 * 1.5 = 752.25, stride 376.125; the last bin ends at t_last
    local g = tf.ToFrame { sensor_size = { 5 }, n_time_bins = 2, overlap = 0.5, bins = "even" }(s)
    assert.same({ { 1, 1, 1, 1, 0 }, { 0, 0, 0, 1, 1 } }, list(g))
  end)

  it("Downsample truncates t * time_factor to whole microseconds unless truncate = false", function()
    local s = { t = T({ 0.0015, 0.0031, 1.0 }, "float64"), x = T({ 1, 2, 3 }, "int16") }
    local r = tf.Downsample { time_factor = 0.001 }(s)             -- 1.5, 3.1, 1000 us
    assert.same({ 1e-6, 3e-6, 0.001 }, list(r.t))
    local e = tf.Downsample { time_factor = 0.001, truncate = false }(s)
    assert.tensor_near(T({ 1.5e-6, 3.1e-6, 0.001 }, "float64"), e.t, 1e-15)
    assert.same(list(s.t), list(tf.Downsample { spatial_factor = 0.5 }(s).t))   -- factor 1: t untouched
  end)

  it("Denoise and DropPixel take 1-d (audio) samples", function()
    -- (every channel counts as having fired at time 0, so the events start past filter_time)
    local s = { t = T({ 0.0051, 0.0055, 0.007, 0.0151, 0.0152 }, "float64"), x = T({ 10, 11, 700, 3, 5 }, "int32") }
    local d = tf.Denoise { filter_time = 0.001 }(s)
    assert.same({ 11 }, list(d.x))            -- x = 11 follows x = 10 by 0.4 ms; 3 and 5 are not neighbours
    local h = tf.DropPixel { hot_pixel_frequency = 100 }(
      { t = T({ 0, 0.001, 0.002, 0.01 }, "float64"), x = T({ 7, 7, 2, 7 }, "int32") })
    assert.same({ 2 }, list(h.x))              -- 3 events > 100 Hz x 10 ms = 1
  end)
end)
