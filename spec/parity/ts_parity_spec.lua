-- spec/parity/ts_parity_spec.lua -- issue 14, time-series side: Rockpool 3's
-- own tests of its time series (tests/tests_default/test_timeseries.py),
-- translated test by test, and the issue's items: 3 (NaN outside [t_start,
-- t_stop], with a warning), 4 (clip's remap_channels), 5 (a periodic
-- series' raster repeats), 7 (options: `inplace` works, unknown ones are
-- errors), 15 (an event after t_stop names t_stop), 19 (ts(t0, t1,
-- channels), ts[i], matmul, inplace variants, save / load_ts_from_file,
-- TSDictOnDisk, t_stop required after the last event).
-- Translation rules (the deliberate differences): channels are 1-based
-- (Rockpool's channel c is c + 1 here); a keyword argument k = v becomes an
-- options table { k = v }; Rockpool's slicing ts[2:5] becomes a list
-- ts[{3, 4, 5}]; float16 / uint16 (no such limpet dtypes) become float32 /
-- int16. Code: stdlib/limpet/timeseries/*.lua.
local lp = require "limpet"
local U = require "limpet.timeseries.util"

local function flat(t) return t:reshape(-1):totable() end
local function isnan(x) return x ~= x end
local function all_nan(t) return t:isnan():all():item() end
local function msg(f, ...)
  local ok, e = pcall(f, ...)
  assert.is_false(ok, "no error")
  return (tostring(e):gsub("^.-:%d+: ", ""))
end
local function F(v) return lp.tensor(v, "float64") end

-- deterministic "random" values in [0, 1)
local function rnd(n, seed)
  local v = {}
  for k = 1, n do
    local x = math.sin((k + seed * 31) * 12.9898) * 43758.5453
    v[k] = x - math.floor(x)
  end
  return v
end
local function randint(hi, rows, cols, seed)
  local v, r = {}, rnd(rows * cols, seed)
  for i = 1, rows do
    v[i] = {}
    for j = 1, cols do v[i][j] = math.floor(r[(i - 1) * cols + j] * hi) end
  end
  return lp.tensor(v, "float64")
end

-- Collect warnings instead of printing them.
local warnings
local saved_warn
local function quiet() warnings = {}; saved_warn = U.warn; U.warn = function(m) warnings[#warnings + 1] = m end end
local function loud() U.warn = saved_warn end

describe("Rockpool's test_timeseries.py, TSContinuous", function()
  before_each(quiet)
  after_each(loud)

  it("test_continuous_operators (item 19: matmul)", function()
    local ts = lp.TSContinuous({ 0 }, { 0 })
    ts = lp.TSContinuous({ 0, 1, 2, 3 }, { 1, 2, 3, 4 })
    local ts2 = lp.TSContinuous({ 1, 2, 3, 4 }, { 5, 6, 7, 8 })
    assert.has_error(function() lp.TSContinuous({ 0, 1, 2 }, { 0 }) end)
    ts = ts + 1
    ts = ts + 5
    ts2.beyond_range_exception = false
    ts = ts + ts2                       -- t = 0 lies before ts2: NaN, added as zero (Rockpool)
    assert.are.same({ 7, 13, 15, 17 }, flat(ts.samples))
    ts = ts + ts2
    ts = ts - 3; ts = ts - 2; ts = ts - ts2; ts = ts - ts2
    assert.are.same({ 2, 3, 4, 5 }, flat(ts.samples))
    ts = ts * 0.9; ts = ts * 0.2; ts = ts * ts2; ts = ts * ts2
    assert.is_true(isnan(flat(ts.samples)[1]))      -- multiplication keeps the NaN
    ts = ts / 2.0; ts = ts / 1.0; ts = ts / ts2; ts = ts / ts2
    ts = ts // 1.0; ts = ts // ts2
    -- matrix multiplication: ts @ w
    local inp = lp.tensor(rnd(300, 1), "float64"):reshape(100, 3)
    local w = lp.tensor(rnd(15, 2), "float64"):reshape(3, 5)
    local c = lp.TSContinuous.from_clocked(inp, 1)
    local m = c:matmul(w)
    assert.are.same({ 100, 5 }, m.samples.shape)
    assert.tensor_near(lp.matmul(inp, w), m.samples, 1e-12)
    assert.are.same(c.times:totable(), m.times:totable())
    assert.are.equal("bad argument #1 to 'matmul' (expected a matrix (3, K), got shape (2, 5))",
      msg(c.matmul, c, lp.zeros(2, 5)))
  end)

  it("test_continuous_methods (item 3: NaN beyond t_stop)", function()
    local ts1 = lp.TSContinuous({ 0, 1, 2 }, { 0, 1, 2 }, { t_stop = 2.1, interp_kind = "previous" })
    assert.are.equal(0, ts1(0):item()); assert.are.equal(2, ts1(2):item())
    assert.are.equal(1, ts1(1.5):item()); assert.are.equal(2, ts1(2.1):item())
    ts1.beyond_range_exception = false
    assert.is_true(isnan(ts1(2.5):item()))
    assert.are.equal(1, #warnings)
    ts1 = lp.TSContinuous({ 0, 1, 2 }, { 0, 1, 2 }, { interp_kind = "linear" })
    assert.are.equal(0, ts1(0):item()); assert.are.equal(2, ts1(2):item()); assert.are.equal(1.5, ts1(1.5):item())
    local ts2 = ts1:delay(1)
    assert.are.equal(0, ts1.t_start); assert.are.equal(1, ts2.t_start)
    assert.are.equal(0, ts1:start_at_zero().t_start)
    assert.are.equal(5, ts1:start_at(5).t_start)
    assert.is_true(ts1:contains(0)); assert.is_false(ts1:contains(-1))
    assert.is_true(ts1:contains { 0, 1, 2 }); assert.is_false(ts1:contains { 0, 1, 2, 3 })
    ts1:resample { 0.1, 1.1, 1.9 }
    assert.are.same({ 200, 1 }, ts1:to_clocked(10e-3).shape)
    assert.are.same({ 2000, 1 }, ts1:to_clocked(1e-3).shape)
    ts1 = lp.TSContinuous({ 0, 1, 2 }, { 0, 1, 2 })
    ts2 = lp.TSContinuous({ 0, 1, 2 }, { 1, 2, 3 })
    assert.are.equal(3, ts1:merge(ts2, { remove_duplicates = true }).samples:numel())
    assert.are.equal(3, ts1.samples:numel()); assert.are.equal(3, ts2.samples:numel())
    assert.are.equal(6, ts1:merge(ts2, { remove_duplicates = false }).samples:numel())
    assert.are.equal(6, ts1:append_t(ts2).times:numel())
    assert.are.equal(2, ts1:append_c(ts2).num_channels)
    assert.is_false(ts1:isempty()); assert.is_true(lp.TSContinuous():isempty())
    ts1:clip(0.5, 1.5)
    assert.are.equal(0, ts1:min()); assert.are.equal(2, ts1:max())
  end)

  it("test_continuous_indexing, the part Lua can write (ts[t], ts[{t...}] by time)", function()
    local times = lp.arange(0, 6, "float64") * 0.1
    local samples = lp.arange(0, 6):reshape(6, 1) + lp.arange(0, 4)
    local ts = lp.TSContinuous(times, samples)
    local T = times:totable()
    local t3 = ts[{ T[6], T[1], T[2] }]
    assert.are.same({ T[6], T[1], T[2] }, t3.times:totable())
    assert.tensor_near(lp.stack({ samples[6], samples[1], samples[2] }):astype "float32", t3.samples, 0)
    local t4 = ts[T[3]]
    assert.are.same({ T[3] }, t4.times:totable())
    assert.tensor_near(samples[3]:reshape(1, 4):astype "float32", t4.samples, 0)
    -- slices and channel indices: ts:clip and the channels option
    local c = ts:clip(T[3], T[5], { include_stop = false, sample_limits = false, channels = { 4, 2 } })
    assert.are.same({ T[3], T[4] }, c.times:totable())
    assert.are.same({ 5, 3, 6, 4 }, flat(c.samples))
    assert.are.same({ 3, 1, 4, 2 }, flat(ts:resample({ T[1], T[2] }, { channels = { 4, 2 } }).samples))
  end)

  it("test_continuous_call (item 3)", function()
    local times = lp.arange(1, 5, "float64") * 0.1
    local samples = lp.tensor { { 0, 2 }, { 1, 3 }, { 2, 4 }, { 3, 5 } }
    local ts = lp.TSContinuous(times, samples, { interp_kind = "linear" })
    local empty = lp.TSContinuous()
    local single = lp.TSContinuous(2, { 3, 2 })
    ts.beyond_range_exception = false
    single.beyond_range_exception = false
    assert.tensor_near(lp.tensor { { 0, 2 } }, ts(0.1), 1e-6)
    assert.tensor_near(lp.tensor { { 1.5, 3.5 } }, ts(0.25), 1e-6)
    assert.is_true(all_nan(ts(0))); assert.are.same({ 1, 2 }, ts(0).shape)
    local s = ts { 0, 0.1, 0.25 }
    assert.tensor_near(lp.tensor { { 0, 2 }, { 1.5, 3.5 } }, s:slice(1, 2, 3), 1e-6)
    assert.is_true(all_nan(s[1])); assert.are.same({ 3, 2 }, s.shape)
    assert.are.same({ 1, 0 }, empty(1).shape)
    assert.are.same({ 3, 0 }, empty { 0, 1, 4 }.shape)
    assert.are.same({ { 3, 2 } }, single(2):totable())
    assert.is_true(all_nan(single(0))); assert.are.same({ 1, 2 }, single(0).shape)
    local ss = single { 0, 2, 1, 3, 2, 4 }:isnan():totable()
    assert.are.same({ { true, true }, { false, false }, { true, true }, { true, true }, { false, false }, { true, true } }, ss)
    for _, clocked in ipairs { lp.TSContinuous.from_clocked({ 6 }, 10), lp.TSContinuous.from_clocked(6, { dt = 10 }) } do
      assert.are.equal(6, clocked(1):item()); assert.are.equal(6, clocked { 1 }:item()); assert.are.equal(6, clocked(10):item())
      clocked.beyond_range_exception = false
      assert.is_true(isnan(clocked(-1):item())); assert.is_true(isnan(clocked(11):item()))
    end
  end)

  it("test_continuous_clip", function()
    local times = lp.arange(1, 6, "float64") * 0.1
    local samples = lp.tensor { { 0, 2 }, { 1, 3 }, { 2, 4 }, { 3, 5 }, { 4, 6 } }
    local ts = lp.TSContinuous(times, samples, { interp_kind = "linear" })
    local empty = lp.TSContinuous()
    local T = times:totable()
    local c = ts:clip(0.2, 0.4, { include_stop = true })
    assert.are.same({ T[2], T[3], T[4] }, c.times:totable())
    assert.are.same({ 1, 3, 2, 4, 3, 5 }, flat(c.samples))
    c = ts:clip(0.2, 0.4, { include_stop = false })
    assert.are.same({ T[2], T[3] }, c.times:totable())
    local lim = ts:clip(0.2, 0.35, { include_stop = true, sample_limits = true })
    assert.tensor_near(F { 0.2, 0.3, 0.35 }, lim.times, 1e-12)
    assert.tensor_near(lp.tensor { { 1, 3 }, { 2, 4 }, { 2.5, 4.5 } }, lim.samples, 1e-6)
    local beyond = ts:clip(0.4, 0.6, { sample_limits = false })
    assert.are.same({ T[4], T[5] }, beyond.times:totable())
    assert.are.same({ 2, 3, 4, 5, 6 }, flat(ts:clip(nil, nil, { channels = 2 }).samples))
    assert.are.same(T, ts:clip(nil, nil, { channels = { 2, 1 } }).times:totable())
    assert.are.same({ 2, 0, 3, 1, 4, 2, 5, 3, 6, 4 }, flat(ts:clip(nil, nil, { channels = { 2, 1 } }).samples))
    local tc = ts:clip(0.2, 0.4, { channels = 2, include_stop = true })
    assert.are.same({ T[2], T[3], T[4] }, tc.times:totable())
    assert.are.same({ 3, 4, 5 }, flat(tc.samples))
    local et = empty:clip(0.2, 0.4, { sample_limits = false })
    assert.is_true(et:isempty())
    assert.are.equal(0.2, et.t_start); assert.are.equal(0.4, et.t_stop)
    assert.has_error(function() empty:clip(nil, nil, { channels = 1 }) end,
      "bad argument #3 to 'clip' (the series has no channels)")
  end)

  it("test_continuous_inplace_mutation (items 7 and 19)", function()
    local ts1 = lp.TSContinuous({ 0, 1, 2 }, { 0, 1, 2 })
    assert.are.equal(ts1, ts1:delay(1, { inplace = true }))
    assert.are.equal(1, ts1.t_start)
    ts1.beyond_range_exception = false
    ts1:resample({ 0.125, 1.1, 1.9 }, { inplace = true })
    assert.are.equal(0.125, ts1.t_start)
    ts1 = lp.TSContinuous({ 0, 1, 2 }, { 0, 1, 2 })
    local ts2 = lp.TSContinuous({ 0, 1, 2 }, { 1, 2, 3 })
    ts1:merge(ts2, { remove_duplicates = true, inplace = true })
    assert.are.equal(3, ts1.samples:numel())
    local ts3 = ts1:merge(ts2, { remove_duplicates = false, inplace = true })
    assert.are.equal(6, ts3.samples:numel())
    assert.are.equal(ts1, ts3)
    ts1 = lp.TSContinuous({ 0, 1, 2 }, { 0, 1, 2 })
    ts1:append_t(ts2, { inplace = true })
    assert.are.equal(6, ts1.times:numel())
    ts1 = lp.TSContinuous({ 0, 1, 2 }, { 0, 1, 2 })
    ts1:append_c(ts2, { inplace = true })
    assert.are.equal(2, ts1.num_channels)
    ts1:clip(0.5, 1.5, { inplace = true })
    assert.are.equal(0.5, ts1.t_start)
    ts1:start_at_zero { inplace = true }
    assert.are.equal(0, ts1.t_start)
    ts1:start_at(3, { inplace = true })
    assert.are.equal(3, ts1.t_start)
  end)

  it("test_continuous_append_c", function()
    local samples = randint(10, 2, 4, 3)
    local empty = lp.TSContinuous(nil, nil, { interp_kind = "linear" })
    local s0 = lp.TSContinuous({ 1, 2 }, samples:slice(2, 1, 2), { t_start = -1, t_stop = 2 })
    local s1 = lp.TSContinuous({ 1 }, samples[1]:slice(1, 3, 4), { t_start = 0, t_stop = 2 })
    s0.beyond_range_exception, s1.beyond_range_exception = false, false
    local two = s0:append_c(s1)
    assert.are.equal(-1, two.t_start); assert.are.equal(2, two.t_stop)
    assert.are.same({ 1, 2 }, two.times:totable())
    assert.tensor_near(samples:slice(2, 1, 2), two.samples:slice(2, 1, 2), 0)
    assert.tensor_near(samples[1]:slice(1, 3, 4), two.samples[1]:slice(1, 3, 4), 0)
    assert.tensor_near(samples[1]:slice(1, 3, 4), two.samples[2]:slice(1, 3, 4), 0)
    local ef = empty:append_c(s0)
    assert.are.equal(empty.t_start, ef.t_start); assert.are.equal(empty.t_stop, ef.t_stop)
    assert.are.equal(0, ef.samples:numel()); assert.are.equal(0, ef.times:numel())
    local el = s0:append_c(empty)
    assert.are.equal(s0.t_start, el.t_start); assert.are.equal(s0.t_stop, el.t_stop)
    assert.tensor_near(s0.samples, el.samples, 0)
    assert.are.same(s0.times:totable(), el.times:totable())
  end)

  it("test_continuous_append_t (item 19: concatenate_t)", function()
    local samples = randint(10, 2, 6, 4)
    local empty = lp.TSContinuous(nil, nil, { t_start = 1 })
    local list = {
      lp.TSContinuous({ 1, 2 }, samples:slice(2, 1, 2), { t_start = -1, t_stop = 3 }),
      lp.TSContinuous({ 1 }, samples[1]:slice(1, 3, 4), { t_start = 0, t_stop = 2 }),
      lp.TSContinuous({ 1, 3 }, samples:slice(2, 5, 6), { t_start = 0, t_stop = 3 }),
    }
    local two = list[1]:append_t(list[2])
    assert.are.equal(-1, two.t_start); assert.are.equal(6, two.t_stop)
    assert.are.same({ 1, 2, 5 }, two.times:totable())
    assert.tensor_near(samples:slice(2, 1, 2), two.samples:slice(1, 1, 2), 0)
    assert.tensor_near(samples[1]:slice(1, 3, 4), two.samples[3], 0)
    local ef = empty:append_t(list[1])
    assert.are.equal(empty.t_start, ef.t_start)
    assert.are.equal(list[1].duration + empty.t_start, ef.t_stop)
    assert.tensor_near(list[1].samples, ef.samples, 0)
    assert.are.same(flat(list[1].times + 2), ef.times:totable())
    local el = list[1]:append_t(empty)
    assert.are.equal(list[1].t_start, el.t_start)
    assert.are.equal(list[1].t_stop + empty.duration, el.t_stop)
    assert.tensor_near(list[1].samples, el.samples, 0)
    local three = list[1]:append_t({ list[2], list[3] })
    local d2 = 1 + list[1].t_stop - list[2].t_start          -- median step of list[1]: 1
    local d3 = d2 + list[2].t_stop - list[3].t_start         -- list[2] has one sample: no offset
    local want = {}
    for _, v in ipairs(list[1].times:totable()) do want[#want + 1] = v end
    for _, v in ipairs(list[2].times:totable()) do want[#want + 1] = v + d2 end
    for _, v in ipairs(list[3].times:totable()) do want[#want + 1] = v + d3 end
    assert.are.same(want, three.times:totable())
    assert.tensor_near(lp.cat({ list[1].samples, list[2].samples, list[3].samples }, 1), three.samples, 0)
    local fromlist = lp.TSContinuous.concatenate_t(list)
    assert.are.same(three.times:totable(), fromlist.times:totable())
    assert.tensor_near(three.samples, fromlist.samples, 0)
  end)

  it("test_continuous_merge", function()
    local samples = randint(10, 2, 6, 5)
    local empty = lp.TSContinuous(nil, nil, { t_start = 1 })
    local list = {
      lp.TSContinuous({ 1, 2 }, samples:slice(2, 1, 2), { t_start = -1, t_stop = 3 }),
      lp.TSContinuous({ 1.5 }, samples[1]:slice(1, 3, 4), { t_start = 0, t_stop = 4 }),
      lp.TSContinuous({ 2, 2.5 }, samples:slice(2, 5, 6), { t_start = -2, t_stop = 3 }),
    }
    local two = list[1]:merge(list[2])
    assert.are.equal(-1, two.t_start); assert.are.equal(4, two.t_stop)
    assert.are.same({ 1, 1.5, 2 }, two.times:totable())
    assert.tensor_near(lp.stack({ samples[1]:slice(1, 1, 2), samples[1]:slice(1, 3, 4), samples[2]:slice(1, 1, 2) }),
      two.samples, 0)
    for _, m in ipairs { empty:merge(list[1]), list[1]:merge(empty) } do
      assert.are.equal(list[1].t_start, m.t_start); assert.are.equal(list[1].t_stop, m.t_stop)
      assert.tensor_near(list[1].samples, m.samples, 0)
      assert.are.same(list[1].times:totable(), m.times:totable())
    end
    local all = empty:merge(list, { remove_duplicates = true })
    assert.are.equal(2, all.num_channels)
    assert.are.equal(-2, all.t_start); assert.are.equal(4, all.t_stop)
    assert.are.same({ 1, 1.5, 2, 2.5 }, all.times:totable())
    assert.tensor_near(lp.stack({ samples[1]:slice(1, 1, 2), samples[1]:slice(1, 3, 4), samples[2]:slice(1, 1, 2),
                                  samples[2]:slice(1, 5, 6) }), all.samples, 0)
  end)

  it("test_continuous_from_clocked", function()
    local T, dt = 100, 0.1
    local data = lp.tensor(rnd(T, 6), "float64"):reshape(T, 1)
    local ts = lp.TSContinuous.from_clocked(data, dt)
    assert.are.equal(0, ts.t_start); assert.are.equal(T * dt, ts.t_stop)
    assert.tensor_near(data, ts.samples, 0)
    assert.are.same(flat(lp.arange(0, T, "float64") * dt), ts.times:totable())
    ts = lp.TSContinuous.from_clocked(data, 0.1, { t_start = 1.0 })
    assert.are.equal(1, ts.t_start); assert.are.equal(11, ts.t_stop)
    assert.is_true(lp.TSContinuous.from_clocked(data, { dt = 0.1, periodic = true }).periodic)
    assert.are.equal("test", lp.TSContinuous.from_clocked(data, { dt = 0.1, name = "test" }).name)
  end)

  it("test_continuous_nan (item 3: raise, or warn and NaN; near-limit times)", function()
    local times = lp.arange(0, 10, "float64") * 0.1 + 0.5
    local ts = lp.TSContinuous(times, lp.tensor(rnd(30, 7)):reshape(10, 3))
    assert.has_error(function() ts(0) end)
    assert.has_error(function() ts { 0.1, 0.7, 1.9 } end)
    assert.has_error(function() ts(1.6) end)
    ts.beyond_range_exception = false
    for _, q in ipairs { 0, { 0.1, 0.7, 1.9 }, 1.6 } do
      local before = #warnings
      ts(q)
      assert.are.equal(before + 1, #warnings)
    end
    local first, last = times[1], times[10]
    local small, large = first - 8e-10, last + 8e-10
    ts.approx_limit_times = true
    assert.tensor_near(ts(first), ts(small), 0)
    assert.tensor_near(ts(last), ts(large), 0)
    local q = {}
    for i, v in ipairs(rnd(10, 8)) do q[i] = v * 0.9 + 0.5 end
    for _, i in ipairs { 3, 6, 9 } do q[i] = small end
    for _, i in ipairs { 2, 5, 10 } do q[i] = large end
    local s = ts(q)
    for _, i in ipairs { 3, 6, 9 } do assert.tensor_near(ts(first)[1], s[i], 0) end
    for _, i in ipairs { 2, 5, 10 } do assert.tensor_near(ts(last)[1], s[i], 0) end
  end)
end)

describe("Rockpool's test_timeseries.py, TSEvent", function()
  before_each(quiet)
  after_each(loud)
  local times, chans = { 1, 3, 4, 5, 7 }, { 1, 1, 2, 3, 2 }   -- Rockpool's channels {0, 0, 1, 2, 1}

  it("test_event_tstop (item 19: t_stop required, after the last event)", function()
    assert.are.equal("bad argument #3 to 'TSEvent' (field 't_stop' is required with events: a time after the last event, 7 (Rockpool 3))",
      msg(lp.TSEvent, times, chans))
    assert.are.equal("bad argument #3 to 'TSEvent' (t_stop 7 must be after the last event time 7)",
      msg(lp.TSEvent, times, chans, { t_stop = 7 }))
    assert.are.equal("bad argument #3 to 'TSEvent' (t_stop 6.99 must be after the last event time 7)",
      msg(lp.TSEvent, times, chans, { t_stop = 7 - 0.01 }))
    lp.TSEvent(times, chans, { t_stop = 8 })
  end)

  it("item 15: an event after t_stop names t_stop and the event, not t_start", function()
    assert.are.equal("bad argument #3 to 'TSEvent' (t_stop 0.2 must be after the last event time 0.5)",
      msg(lp.TSEvent, { 0.5 }, { 1 }, { t_stop = 0.2 }))
    assert.are.equal("bad argument #3 to 'TSEvent' (t_stop 0.2 must be after the last event time 0.5)",
      msg(lp.TSEvent, { 0.1, 0.5 }, { 1, 1 }, { t_start = 0, t_stop = 0.2 }))
  end)

  it("test_event_call (item 19: ts(t0, t1, channels))", function()
    local ts = lp.TSEvent(times, chans, { t_stop = 8 })
    local empty = lp.TSEvent()
    local t, c = ts()
    assert.are.same(times, t:totable()); assert.are.same(chans, c:totable())
    t, c = ts(5)
    assert.are.same({ 5, 7 }, t:totable()); assert.are.same({ 3, 2 }, c:totable())
    t, c = ts(nil, 5)
    assert.are.same({ 1, 3, 4 }, t:totable()); assert.are.same({ 1, 1, 2 }, c:totable())
    t, c = ts(2, 5)
    assert.are.same({ 3, 4 }, t:totable()); assert.are.same({ 1, 2 }, c:totable())
    t, c = ts(8, 9)
    assert.are.equal(0, t:numel()); assert.are.equal(0, c:numel())
    t, c = ts(nil, nil, { 1, 3 })
    assert.are.same({ 1, 3, 5 }, t:totable()); assert.are.same({ 1, 1, 3 }, c:totable())
    t, c = ts(nil, nil, 1)
    assert.are.same({ 1, 3 }, t:totable()); assert.are.same({ 1, 1 }, c:totable())
    assert.are.equal("bad argument #3 to 'TSEvent' (field 'channels': channel 5 is not in 1..3)",
      msg(ts, nil, nil, 5))
    t, c = ts(2, 6, { 1, 3 })
    assert.are.same({ 3, 5 }, t:totable()); assert.are.same({ 1, 3 }, c:totable())
    t, c = ts(5, 2)                                      -- bounds in either order
    assert.are.same({ 3, 4 }, t:totable())
    t, c = empty(2, 5)
    assert.are.equal(0, t:numel()); assert.are.equal(0, c:numel())
    assert.has_error(function() empty(2, 5, 5) end)
  end)

  it("test_event_indexing (item 19: ts[i])", function()
    local ts = lp.TSEvent(times, chans, { t_stop = 8 })
    local empty = lp.TSEvent()
    assert.are.same({ 4 }, ts[3].times:totable()); assert.are.same({ 2 }, ts[3].channels:totable())
    assert.are.same({ 4, 5, 7 }, ts[{ 3, 4, 5 }].times:totable())
    assert.are.same({ 2, 3, 2 }, ts[{ 3, 4, 5 }].channels:totable())
    assert.are.same({ 7, 1, 3 }, ts[{ 5, 1, 2 }].times:totable())
    assert.are.same({ 2, 1, 1 }, ts[{ 5, 1, 2 }].channels:totable())
    assert.are.same({ 7 }, ts[-1].times:totable())
    assert.are.same({ 3, 4 }, ts[ts.times:gt(2):logical_and(ts.times:lt(5))].times:totable())
    local s = ts[3]
    assert.are.equal(8, s.t_stop); assert.are.equal(3, s.num_channels)     -- other attributes kept
    assert.has_error(function() return empty[1] end, "bad argument #2 to 'index' (event 1 out of range 1..0)")
    assert.has_error(function() return empty[{ 1, 2 }] end)
    assert.has_error(function() return ts[6] end, "bad argument #2 to 'index' (event 6 out of range 1..5)")
  end)

  it("test_event_raster", function()
    local ts = lp.TSEvent({ 0, 30 }, 1, { num_channels = 4, t_stop = 31 })
    assert.are.same({ 31, 4 }, ts:raster(1).shape)
    assert.are.same({ 3, 1 }, lp.TSEvent({ 0, 1 }, 1, { t_stop = 2 }):raster(0.9).shape)
    assert.are.same({ 2, 1 }, lp.TSEvent({ 0, 1 }, 1, { t_stop = 2 }):raster(1.1).shape)
    assert.are.same({ 0, 0 }, lp.TSEvent():raster(0.1).shape)
    assert.are.equal("bad argument #2 to 'raster' (give field 't_stop' or field 'num_timesteps', not both)",
      msg(ts.raster, ts, 1, { t_stop = 3, num_timesteps = 3 }))
  end)

  it("test_event_from_raster", function()
    local bool = { false, false, true, false, true }
    local int = { 0, 0, 1, 1, 0, 0, 1 }
    local multi = { 0, 1, 2, 1, 0 }
    local d2 = { { 0, 1 }, { 0, 0 }, { 1, 0 }, { 1, 1 } }
    local t = lp.TSEvent.from_raster(bool, 1.0)
    assert.are.equal(2, t.channels:numel()); assert.are.equal(1, t.num_channels)
    assert.are.same(bool, flat(t:raster(1.0)))
    t = lp.TSEvent.from_raster(int, 1.0)
    assert.are.equal(3, t.channels:numel()); assert.are.equal(1, t.num_channels)
    assert.are.same(int, flat(t:raster(1.0):astype "int64"))
    t = lp.TSEvent.from_raster(multi, 1.0)
    assert.are.equal(4, t.channels:numel()); assert.are.equal(1, t.num_channels)
    assert.are.same(multi, flat(t:raster(1.0, { add_events = true }):astype "int64"))
    t = lp.TSEvent.from_raster(d2, 1.0)
    assert.are.equal(4, t.channels:numel()); assert.are.equal(2, t.num_channels)
    assert.are.same(d2, t:raster(1.0):astype("int64"):totable())
    t = lp.TSEvent.from_raster(bool, 1.0, { t_start = 2.0 })
    assert.are.equal(2.0 + 1.0 * #bool, t.t_stop)
    assert.are.same(bool, flat(t:raster(1.0)))
    t = lp.TSEvent.from_raster(bool, 1.0, { t_stop = 20.0, num_channels = 5 })
    assert.are.equal(20, t.t_stop); assert.are.equal(5, t.num_channels)
    assert.are.same({ 20, 5 }, t:raster(1.0).shape)
  end)

  it("test_event_raster_explicit_num_channels and test_event_empty", function()
    assert.are.same({ 31, 5 }, lp.TSEvent({ 0, 30 }, 1, { num_channels = 5, t_stop = 31 }):raster(1).shape)
    assert.are.equal(0, lp.TSEvent({}, {}).num_channels)
    assert.are.equal(0, lp.TSEvent(nil, nil).num_channels)
    assert.are.equal(0, lp.TSEvent().num_channels)
  end)

  it("test_event_clip (item 4: remap_channels)", function()
    local ts = lp.TSEvent(times, chans, { t_stop = 8 })
    local empty = lp.TSEvent(nil, nil, { num_channels = 2 })
    assert.are.same({ 3 }, ts:clip(2, 4).times:totable())
    assert.are.same({ 1 }, ts:clip(2, 4).channels:totable())
    assert.are.equal(3, ts:clip(2, 4).num_channels)
    local r = ts:clip(4, 6, { remap_channels = true })
    assert.are.same({ 4, 5 }, r.times:totable())
    assert.are.same({ 1, 2 }, r.channels:totable())              -- Rockpool: [0, 1]
    assert.are.equal(2, r.num_channels)
    assert.is_true(ts:clip(8, 9):isempty())
    assert.are.same({ 1, 3, 4, 7 }, ts:clip(nil, nil, { channels = { 1, 2 } }).times:totable())
    assert.are.same({ 1, 1, 2, 2 }, ts:clip(nil, nil, { channels = { 1, 2 } }).channels:totable())
    assert.are.same({ 3, 5 }, ts:clip(2, 6, { channels = { 1, 3 } }).times:totable())
    assert.are.same({ 1, 3 }, ts:clip(2, 6, { channels = { 1, 3 } }).channels:totable())
    local k = ts:clip(2, 6, { channels = { 1, 3 }, remap_channels = true })
    assert.are.same({ 1, 2 }, k.channels:totable()); assert.are.equal(2, k.num_channels)
    local e = empty:clip(2, 3)
    assert.is_true(e:isempty()); assert.are.equal(2, e.num_channels)
    assert.are.equal(2, e.t_start); assert.are.equal(3, e.t_stop)
    e = empty:clip(nil, nil, { channels = 1 })
    assert.is_true(e:isempty()); assert.are.equal(2, e.num_channels)
    assert.are.equal(0, e.t_start); assert.are.equal(0, e.t_stop)
    e = empty:clip(2, 3, { channels = 1 })
    assert.is_true(e:isempty()); assert.are.equal(2, e.num_channels)
    assert.are.equal(1, empty:clip(2, 3, { channels = 1, remap_channels = true }).num_channels)
    assert.are.equal(2, e.t_start); assert.are.equal(3, e.t_stop)
  end)

  local function series()
    return {
      lp.TSEvent({ 1, 2 }, { 3, 1 }, { t_start = -1, t_stop = 3 }),
      lp.TSEvent({ 0, 1, 4 }, { 2, 2, 1 }, { t_start = 0, t_stop = 6 }),
      lp.TSEvent({ 1 }, { 1 }, { t_start = 0, t_stop = 2, num_channels = 5 }),
    }
  end

  it("test_event_append_c", function()
    local empty, list = lp.TSEvent(), series()
    local two = list[1]:append_c(list[3])
    assert.are.equal(8, two.num_channels)
    assert.are.equal(-1, two.t_start); assert.are.equal(3, two.t_stop)
    assert.are.same({ 1, 1, 2 }, two.times:totable())
    assert.are.same({ 3, 4, 1 }, two.channels:totable())
    for _, a in ipairs { empty:append_c(list[1]), list[1]:append_c(empty) } do
      assert.are.equal(list[1].t_start, a.t_start); assert.are.equal(list[1].t_stop, a.t_stop)
      assert.are.equal(list[1].num_channels, a.num_channels)
      assert.are.same(list[1].channels:totable(), a.channels:totable())
      assert.are.same(list[1].times:totable(), a.times:totable())
    end
    local all = empty:append_c(list)
    assert.are.equal(10, all.num_channels)
    assert.are.equal(-1, all.t_start); assert.are.equal(6, all.t_stop)
    assert.are.same({ 0, 1, 1, 1, 2, 4 }, all.times:totable())
    local c = all.channels:totable()
    assert.are.same({ 5, 1, 4 }, { c[1], c[5], c[6] })
    table.sort(c, function(a, b) return a < b end)
    local mid = { all.channels:totable()[2], all.channels:totable()[3], all.channels:totable()[4] }
    table.sort(mid)
    assert.are.same({ 3, 5, 6 }, mid)
  end)

  it("test_event_append_t (item 19: offsets per series, concatenate_t)", function()
    local empty, list = lp.TSEvent(), series()
    local two = list[1]:append_t(list[3])
    assert.are.equal(5, two.num_channels)
    assert.are.equal(-1, two.t_start); assert.are.equal(5, two.t_stop)
    assert.are.same({ 1, 2, 4 }, two.times:totable())
    assert.are.same({ 3, 1, 1 }, two.channels:totable())
    local ef = empty:append_t(list[1])
    assert.are.equal(empty.t_start, ef.t_start)
    assert.are.equal(list[1].duration + empty.t_start, ef.t_stop)
    assert.are.equal(list[1].num_channels, ef.num_channels)
    assert.are.same(list[1].channels:totable(), ef.channels:totable())
    assert.are.same({ 2, 3 }, ef.times:totable())
    local el = list[1]:append_t(empty)
    assert.are.equal(list[1].t_start, el.t_start); assert.are.equal(list[1].t_stop, el.t_stop)
    assert.are.same(list[1].times:totable(), el.times:totable())
    local all = empty:append_t(list, { offset = { 3, 2, 1 } })
    assert.are.equal(5, all.num_channels)
    assert.are.equal(0, all.t_start); assert.are.equal(18, all.t_stop)
    assert.are.same({ 5, 6, 9, 10, 13, 17 }, all.times:totable())
    assert.are.same({ 3, 1, 2, 2, 1, 1 }, all.channels:totable())
    local fromlist = lp.TSEvent.concatenate_t(list, { offset = { 4, 2, 1 } })
    assert.are.same(all.times:totable(), fromlist.times:totable())
    assert.are.same(all.channels:totable(), fromlist.channels:totable())
  end)

  it("test_event_merge (item 19: delays per series)", function()
    local empty, list = lp.TSEvent(), series()
    local two = list[1]:merge(list[3])
    assert.are.equal(5, two.num_channels)
    assert.are.equal(-1, two.t_start); assert.are.equal(3, two.t_stop)
    assert.are.same({ 1, 1, 2 }, two.times:totable())
    assert.are.same({ 3, 1, 1 }, two.channels:totable())
    for _, m in ipairs { empty:merge(list[1]), list[1]:merge(empty) } do
      assert.are.equal(list[1].t_start, m.t_start); assert.are.equal(list[1].t_stop, m.t_stop)
      assert.are.equal(list[1].num_channels, m.num_channels)
      assert.are.same(list[1].channels:totable(), m.channels:totable())
      assert.are.same(list[1].times:totable(), m.times:totable())
    end
    local all = empty:merge(list, { delay = { 3, 2, 1 } })
    assert.are.equal(5, all.num_channels)
    assert.are.equal(0, all.t_start); assert.are.equal(8, all.t_stop)
    assert.are.same({ 2, 2, 3, 4, 5, 6 }, all.times:totable())
    assert.are.same({ 2, 1, 2, 3, 1, 1 }, all.channels:totable())
    local dup = list[1]:merge(list[1], { remove_duplicates = true })
    assert.are.same(list[1].times:totable(), dup.times:totable())
  end)

  it("test_event_raster_periodic_iss5 (item 5: a periodic raster repeats)", function()
    local ts = lp.TSEvent({ 0, 1, 2, 3, 4, 5, 6 }, { 1, 2, 1, 2, 1, 2, 1 }, { periodic = true, t_stop = 7 })
    local r = ts:raster(1, { t_start = 0, t_stop = 10 })
    local T, Fa = true, false
    assert.are.same({ { T, Fa }, { Fa, T }, { T, Fa }, { Fa, T }, { T, Fa }, { Fa, T }, { T, Fa },
                      { T, Fa }, { Fa, T }, { T, Fa } }, r:totable())
    -- and before t_start, and through num_timesteps
    assert.are.same({ { Fa, T }, { T, Fa }, { T, Fa } }, ts:raster(1, { t_start = -2, num_timesteps = 3 }):totable())
    local t = ts(6, 9)
    assert.are.same({ 6, 7, 8 }, t:totable())
    local non = lp.TSEvent({ 0, 1, 2, 3, 4, 5, 6 }, { 1, 2, 1, 2, 1, 2, 1 }, { periodic = false, t_stop = 7 })
    r = non:raster(1, { t_start = 0, t_stop = 10 })
    assert.are.same({ { T, Fa }, { Fa, T }, { T, Fa }, { Fa, T }, { T, Fa }, { Fa, T }, { T, Fa },
                      { Fa, Fa }, { Fa, Fa }, { Fa, Fa } }, r:totable())
  end)

  it("test_event_delay (item 7: inplace)", function()
    local ts = lp.TSEvent({ 2, 4, 6 }, { 1, 2, 1 }, { t_stop = 7 })
    assert.are.equal(2, ts.t_start)
    assert.are.equal(3, ts:delay(1).t_start)
    ts:delay(1, { inplace = true })
    assert.are.equal(3, ts.t_start)
    local z = ts:start_at_zero()
    assert.are.equal(3, ts.t_start); assert.are.equal(0, z.t_start)
    z = ts:start_at_zero { inplace = true }
    assert.are.equal(0, ts.t_start); assert.are.equal(0, z.t_start)
    local f = ts:start_at(5)
    assert.are.equal(5, f.t_start)
    f:start_at(4, { inplace = true })
    assert.are.equal(4, f.t_start)
  end)

  it("test_from_raster_1d", function()
    local r = {}
    for i, v in ipairs(rnd(10, 9)) do r[i] = { v > 0.3 } end
    local t = lp.TSEvent.from_raster(r, 0.001)
    assert.are.equal(1, t.num_channels)
    assert.are.equal(0.01, t.duration)
  end)
end)

describe("item 7: options tables", function()
  it("refuse unknown options and arguments where none are taken", function()
    local c = lp.TSContinuous({ 0, 1 }, { 1, 2 })
    local e = lp.TSEvent({ 0.1 }, { 1 }, { t_stop = 1 })
    for _, s in ipairs { c, e } do
      assert.are.equal("bad argument #2 to 'delay' (unknown field 'inplce')", msg(s.delay, s, 1, { inplce = true }))
      assert.are.equal("bad argument #2 to 'start_at' (unknown field 'foo')", msg(s.start_at, s, 1, { foo = 1 }))
      assert.are.equal("bad argument #1 to 'start_at_zero' (unknown field 'inplce')",
        msg(s.start_at_zero, s, { inplce = true }))
      assert.are.equal("bad argument #2 to 'delay' (field 'inplace' must be a boolean, got number)",
        msg(s.delay, s, 1, { inplace = 1 }))
      assert.are.equal("bad argument #1 to 'copy' (unexpected argument (table): copy takes no options)",
        msg(s.copy, s, { inplace = true }))
      assert.are.equal("bad argument #3 to 'clip' (unknown field 'inplce')", msg(s.clip, s, 0, 1, { inplce = true }))
      assert.are.equal("bad argument #2 to 'append_t' (unknown field 'offst')", msg(s.append_t, s, s, { offst = 1 }))
      assert.are.equal("bad argument #2 to 'merge' (unknown field 'inplce')", msg(s.merge, s, s, { inplce = true }))
    end
    assert.are.equal("bad argument #2 to 'resample' (unknown field 'channel')", msg(c.resample, c, { 0 }, { channel = 1 }))
    assert.are.equal("bad argument #2 to 'sample' (unexpected argument (table): sample takes no options)",
      msg(c.sample, c, 0, { inplace = true }))
    assert.are.equal("bad argument #2 to 'contains' (unexpected argument (number): contains takes no options)",
      msg(c.contains, c, 0, 1))
    assert.are.equal("bad argument #2 to 'remap_channels' (unknown field 'inplce')",
      msg(e.remap_channels, e, { 1 }, { inplce = true }))
  end)

  it("apply inplace to every method that has it", function()
    local e = lp.TSEvent({ 0.1, 0.3 }, { 1, 2 }, { t_stop = 1 })
    assert.are.equal(e, e:remap_channels({ 2, 1 }, { inplace = true }))
    assert.are.same({ 2, 1 }, e.channels:totable())
    e:clip(0.2, 1, { inplace = true })
    assert.are.same({ 0.3 }, e.times:totable()); assert.are.equal(0.2, e.t_start)
    e:append_c(lp.TSEvent({ 0.5 }, { 1 }, { t_stop = 1 }), { inplace = true })
    assert.are.equal(3, e.num_channels)
    e:append_t(lp.TSEvent({ 0.5 }, { 1 }, { t_start = 0, t_stop = 1 }), { inplace = true })
    assert.are.equal(2, e.t_stop)
    e:merge(lp.TSEvent({ 0.9 }, { 1 }, { t_stop = 1 }), { inplace = true })
    assert.are.equal(4, #e)
  end)
end)

describe("item 19: files and TSDictOnDisk (test_save_load, test_tsdictondisk)", function()
  local dir
  setup(function() dir = os.tmpname(); os.remove(dir); os.execute("mkdir -p " .. dir) end)
  teardown(function() os.execute("rm -rf '" .. dir .. "'") end)

  local function eq(a, b, close)
    assert.are.equal(getmetatable(a), getmetatable(b))
    if close then assert.tensor_near(a.times, b.times, 1e-5) else assert.are.same(a.times:totable(), b.times:totable()) end
    assert.are.equal(a.name, b.name); assert.are.equal(a.t_start, b.t_start); assert.are.equal(a.t_stop, b.t_stop)
    assert.are.equal(a.periodic, b.periodic)
    if a.samples then
      if close then assert.tensor_near(a.samples:astype "float64", b.samples:astype "float64", 1e-5)
      else assert.tensor_near(a.samples, b.samples, 0) end
    else
      assert.are.same(a.channels:totable(), b.channels:totable())
      assert.are.equal(a.num_channels, b.num_channels)
    end
  end

  it("save refuses an empty path or a folder (the sweep wrote '.npz' into the working directory)", function()
    local ts = lp.TSContinuous({ 0, 1 }, { 1, 2 })
    assert.has_error(function() ts:save("") end, "bad argument #1 to 'save' (expected a file name, got '')")
    assert.has_error(function() ts:save(dir .. "/") end, "bad argument #1 to 'save' (expected a file name, got '" .. dir .. "/')")
  end)

  it("test_save_load", function()
    local times, channels = { 1, 3, 6 }, { 1, 2, 2 }
    local samples = lp.tensor(rnd(3, 11), "float64")
    local tsc = lp.TSContinuous(times, samples, { t_start = -1, t_stop = 8, periodic = true, name = "continuous" })
    local tse = lp.TSEvent(times, channels, { num_channels = 3, t_start = -1, t_stop = 8, periodic = true, name = "events" })
    assert.is_true(tsc:save(dir .. "/test_tsc"))                  -- ".npz" appended, as numpy does
    assert.is_true(tse:save(dir .. "/test_tse.npz"))
    assert.is_true(tsc:save(dir .. "/test_tsc_lp", { dtype_times = "float32", dtype_samples = "float32" }))
    assert.is_true(tse:save(dir .. "/test_tse_lp", { dtype_times = "float32", dtype_channels = "int16" }))
    local big = lp.TSEvent(times, { 1, 7, 301 }, { t_start = -1, t_stop = 8 })
    assert.are.equal("bad argument #2 to 'save' (field 'dtype_channels': uint8 cannot hold the 301 channels of this series)",
      msg(big.save, big, dir .. "/big", { dtype_channels = "uint8" }))
    local tscl, tsel = lp.load_ts_from_file(dir .. "/test_tsc.npz"), lp.load_ts_from_file(dir .. "/test_tse.npz")
    eq(tsc, tscl); eq(tse, tsel)
    eq(tsc, lp.load_ts_from_file(dir .. "/test_tsc_lp.npz"), true)
    eq(tse, lp.load_ts_from_file(dir .. "/test_tse_lp.npz"), true)
    local size = function(p) local f = assert(io.open(p, "rb")); local n = f:seek("end"); f:close(); return n end
    assert.is_true(size(dir .. "/test_tsc_lp.npz") < size(dir .. "/test_tsc.npz"))
    assert.is_true(size(dir .. "/test_tse_lp.npz") < size(dir .. "/test_tse.npz"))
    eq(tsc, lp.TSContinuous.load(dir .. "/test_tsc.npz"))
    eq(tse, lp.TSEvent.load(dir .. "/test_tse.npz"))
    eq(tsc, lp.load_ts_from_file(dir .. "/test_tsc.npz", "TSContinuous"))
    eq(tse, lp.timeseries.TimeSeries.load(dir .. "/test_tse.npz"))
    eq(tse, lp.timeseries.TimeSeries.load(dir .. "/test_tse.npz", "TSEvent"))
    assert.has_error(function() lp.TSEvent.load(dir .. "/test_tsc.npz") end)
    assert.has_error(function() lp.TSContinuous.load(dir .. "/test_tse.npz") end)
    assert.has_error(function() lp.load_ts_from_file(dir .. "/test_tsc.npz", "TSEvent") end)
    -- Rockpool's layout: channels 0-based, strings in the names of empty arrays
    local raw = lp.load(dir .. "/test_tse.npz")
    assert.are.same({ 0, 1, 1 }, raw.channels:totable())
    assert.is_not_nil(raw.type_TSEvent); assert.is_not_nil(raw.name_events)
    assert.is_true(raw.periodic:item()); assert.are.equal(3, raw.num_channels:item())
    assert.is_not_nil(lp.load(dir .. "/test_tsc.npz").interp_kind_previous)
    local none, err = lp.load_ts_from_file(dir .. "/missing.npz")
    assert.is_nil(none); assert.matches("missing.npz", err, 1, true)
  end)

  it("reads Rockpool's older layout with string arrays (str_type, name, interp_kind)", function()
    local ts = lp.load_ts_from_file("spec/fixtures/npy/old_tsc.npz")
    assert.are.equal("TSContinuous", getmetatable(ts).__name)
    assert.are.equal("old", ts.name); assert.are.equal("linear", ts.interp_kind)
    assert.are.equal(1.5, ts.t_stop)
    assert.are.equal(3, ts(0.75):item())
    assert.has_error(function() lp.load_ts_from_file("spec/fixtures/npy/strings.npz") end,
      "load_ts_from_file: 'spec/fixtures/npy/strings.npz' has no 't_start'")
  end)

  it("refuses corrupt content naming the file: bad times, shapes and channels", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir))
    local function tampered(ts, field, value)
      local d = ts:to_dict()
      d[field] = value
      local p = dir .. "/bad_" .. field .. ".npz"
      assert(lp.save(p, d))
      local ok, err = pcall(lp.load_ts_from_file, p)
      assert.is_false(ok)
      return tostring(err):gsub("^[^\n]-:%d+: ", ""), p
    end
    local c = lp.TSContinuous(lp.tensor { 0, 1 }, lp.tensor { { 1 }, { 2 } }, { t_stop = 2 })
    local e = lp.TSEvent(lp.tensor { 0.1, 0.2 }, lp.tensor { 1, 2 }, { t_stop = 1 })
    local err, p = tampered(c, "times", lp.tensor({ 0, 0 / 0 }, "float64"))
    assert.are.equal(("load_ts_from_file: '%s': TSContinuous: times must be finite, got nan at position 2"):format(p), err)
    err, p = tampered(c, "samples", lp.tensor({ 1, 2, 3 }, "float32"))
    assert.are.equal(("load_ts_from_file: '%s': TSContinuous: expected 2 samples (one per time), got 3"):format(p), err)
    err, p = tampered(e, "channels", lp.tensor({ 0, -3 }, "int64"))
    assert.are.equal(("load_ts_from_file: '%s': channel -3 at position 2 is negative (channels are 0-based in the file)")
      :format(p), err)
    err, p = tampered(e, "channels", lp.tensor({ 0, 1.5 }, "float64"))
    assert.are.equal(("load_ts_from_file: '%s': channel 1.5 at position 2 is not a whole number"):format(p), err)
    err, p = tampered(e, "t_stop", lp.tensor(1 / 0))
    assert.truthy(err:find(("load_ts_from_file: '%s': TSEvent: "):format(p), 1, true), err)
    os.execute("rm -rf " .. dir)
  end)

  it("test_tsdictondisk", function()
    local d = {}
    for i = 0, 1 do d["tsc" .. i] = lp.TSContinuous(lp.arange(0, 3), lp.tensor(rnd(6, 20 + i)):reshape(3, 2)) end
    for i = 0, 2 do
      local t = rnd(4, 30 + i)
      table.sort(t)
      local ch = {}
      for j, v in ipairs(rnd(4, 40 + i)) do ch[j] = math.floor(v * 3) + 1 end
      d["tse" .. i] = lp.TSEvent(t, ch, { t_stop = 1 })
    end
    local dod = lp.TSDictOnDisk(d)
    for k, ts in pairs(d) do eq(ts, dod[k]) end
    local dod0 = lp.TSDictOnDisk()
    dod0.foo = 3
    assert.are.equal(3, dod0.foo)
    local foo = lp.TSEvent({ 1, 4 }, { 1, 2 }, { name = "foo", periodic = true, t_stop = 5 })
    dod0.ts_foo = foo
    eq(foo, dod0.ts_foo)
    local foo0 = lp.TSEvent({ 1, 3 }, { 2, 1 }, { name = "foo0", periodic = true, t_stop = 4 })
    dod0.ts_foo = foo0
    eq(foo0, dod0.ts_foo)
    dod0.foo = "bar"
    assert.are.equal("bar", dod0.foo)
    dod0.foo = foo
    eq(dod0.foo, foo)
    dod0.foo = 1
    assert.are.equal(1, dod0.foo)
    dod.x = 2
    dod0.foo = 5
    dod0.tse0 = foo0
    dod0:insert(dod)
    for k, v in pairs(dod) do
      if type(v) == "table" then eq(dod0[k], v) else assert.are.equal(v, dod0[k]) end
    end
    local t = { a = 1, b = 2, foo = 3, ts_foo = 4 }
    dod0:insert(t)
    for k, v in pairs(t) do assert.are.equal(v, dod0[k]) end
    assert.are.equal(10, #dod0)
    dod0:close(); dod:close()
  end)
end)

describe("issue 16: time-series helpers name themselves", function()
  it("matmul with a ragged table and load_ts_from_file with a bad name", function()
    local ts = lp.TSContinuous({ 0, 0.1 }, lp.tensor { { 1, 2 }, { 3, 4 } })
    assert.matches("^bad argument #1 to 'matmul' %(expected a matrix %(tensor or table%): ragged", msg(ts.matmul, ts, { 1, { 2 } }))
    assert.matches("^load_ts_from_file: expected a path ending in .npy or .npz", msg(lp.load_ts_from_file, "/tmp/x"))
  end)
end)
