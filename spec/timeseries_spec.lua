-- spec/timeseries_spec.lua -- lp.TSContinuous (stdlib/limpet/timeseries/
-- continuous.lua over core/src/tseries.c): construction, interpolation
-- (previous, linear), out-of-range behaviour, periodic series, clocked
-- round trips, arithmetic, clip, resample, merge, append_c, append_t,
-- delay, start_at, and the errors a user can hit (exact messages).
local lp = require "limpet"

local function flat(t) return t:reshape(-1):totable() end
local function msg(f, ...) local ok, e = pcall(f, ...); assert.is_false(ok); return (e:gsub("^.-:%d+: ", "")) end

describe("TSContinuous", function()
  it("builds from tables or tensors with Rockpool's defaults", function()
    local ts = lp.TSContinuous({ 0, 1, 2 }, { { 1, 10 }, { 2, 20 }, { 3, 30 } }, { name = "x" })
    assert.are.equal(0, ts.t_start); assert.are.equal(2, ts.t_stop); assert.are.equal(2, ts.duration)
    assert.are.equal(2, ts.num_channels); assert.are.equal(2, ts.num_traces); assert.are.equal(3, #ts)
    assert.are.equal("TSContinuous 'x' from t=0 to 2: 3 samples, 2 channels", tostring(ts))
    local v = lp.TSContinuous(lp.tensor({ 0, 1 }, "float64"), lp.tensor({ 5, 6 }, "float64"))
    assert.are.same({ 2, 1 }, v.samples.shape)
    assert.are.equal("float64", v.samples.dtype)
    local e = lp.TSContinuous()
    assert.is_true(e:isempty())
  end)

  it("samples with 'previous' by default and 'linear' on request", function()
    local ts = lp.TSContinuous({ 0, 1, 2 }, { 1, 2, 3 })
    assert.are.same({ 1, 1 }, ts(0.5).shape)
    assert.are.same({ 1, 1, 2, 2, 3 }, flat(ts:sample { 0, 0.5, 1, 1.99, 2 }))
    local l = lp.TSContinuous({ 0, 1, 2 }, { 1, 2, 3 }, { interp_kind = "linear" })
    assert.tensor_near({ 1, 1.5, 2.25, 3 }, flat(l { 0, 0.5, 1.25, 2 }))
  end)

  it("raises outside its samples, or reads NaN outside [t_start, t_stop] (Rockpool 3)", function()
    local ts = lp.TSContinuous({ 0, 1 }, { 1, 2 }, { t_stop = 2 })
    assert.are.same({ 2 }, flat(ts(2)))                -- 'previous' holds up to t_stop
    assert.are.same({ 1 }, flat(ts(-1e-12)))           -- rounding at the limits is forgiven
    assert.are.equal("bad argument #1 to 'sample' (time 3 is outside the sampled range [0, 2] of the series (set beyond_range_exception = false for NaN there))",
      msg(ts.sample, ts, { 0, 3 }))
    assert.are.equal("bad argument #1 to 'TSContinuous' (time -1 is outside the sampled range [0, 2] of the series (set beyond_range_exception = false for NaN there))",
      msg(ts, -1))
    local U = require "limpet.timeseries.util"
    local warned = {}
    local saved = U.warn
    U.warn = function(m) warned[#warned + 1] = m end
    local f = lp.TSContinuous({ 0, 1 }, { 1, 2 }, { beyond_range_exception = false, fill_value = 0 })
    local r = flat(f { -1, 0.5, 3 })
    assert.is_true(r[1] ~= r[1]); assert.are.equal(1, r[2]); assert.is_true(r[3] ~= r[3])
    local lx = lp.TSContinuous({ 0, 1, 2 }, { 1, 2, 4 }, { beyond_range_exception = false, interp_kind = "linear", t_start = -1, t_stop = 3 })
    r = flat(lx { -2, -1, 2.5, 4 })                   -- extrapolated inside [t_start, t_stop], NaN beyond
    assert.is_true(r[1] ~= r[1]); assert.are.equal(0, r[2]); assert.are.equal(5, r[3]); assert.is_true(r[4] ~= r[4])
    U.warn = saved
    assert.are.equal(2, #warned)
  end)

  it("wraps time for periodic series", function()
    local p = lp.TSContinuous({ 0, 1 }, { 5, 7 }, { periodic = true, t_stop = 2 })
    assert.are.same({ 5, 7, 5, 7, 7 }, flat(p { 0.5, 1.5, 2.5, 3.5, -0.5 }))
  end)

  it("round-trips clocked data", function()
    local x = lp.arange(0, 20, "float32"):reshape(10, 2)
    local ts = lp.TSContinuous.from_clocked(x, { dt = 0.1, t_start = 1 })
    assert.are.equal(1, ts.t_start)
    assert.is_true(math.abs(ts.t_stop - 2) < 1e-12)
    assert.tensor_near(x, ts:to_clocked(0.1))
    assert.are.same({ 5, 2 }, ts:to_clocked(0.2).shape)
    assert.tensor_near({ 0, 1, 4, 5, 8, 9, 12, 13, 16, 17 }, flat(ts:to_clocked(0.2)))
    assert.are.same({ 10, 2 }, lp.TSContinuous.from_clocked(x):to_clocked(1e-3).shape)
  end)

  it("does arithmetic with numbers, tensors and series", function()
    local a = lp.TSContinuous.from_clocked(lp.tensor { 1, 2, 3 }:astype "float32", { dt = 1 })
    assert.are.same({ 2, 3, 4 }, flat((a + 1).samples))
    assert.are.same({ 1, 0, -1 }, flat((2 - a).samples))
    assert.are.same({ 2, 4, 6 }, flat((a * 2).samples))
    assert.are.same({ 0.5, 1, 1.5 }, flat((a / 2).samples))
    assert.are.same({ 1, 4, 9 }, flat((a ^ 2).samples))
    assert.are.same({ -1, -2, -3 }, flat((-a).samples))
    assert.are.same({ 11, 22, 33 }, flat((a + lp.tensor({ 10, 20, 30 }):reshape(3, 1)).samples))
    -- another series is resampled onto the first one's times
    local b = lp.TSContinuous({ 0, 1.5, 3 }, { 100, 200, 300 })
    local s = a + b
    assert.are.same({ 0, 1, 2 }, s.times:totable())
    assert.are.same({ 101, 102, 203 }, flat(s.samples))
    assert.are.equal("bad argument #2 to '__add' (expected a number, tensor or TSContinuous, got string)",
      msg(function() return a + "x" end))
  end)

  it("clips with samples added at the limits", function()
    local ts = lp.TSContinuous.from_clocked(lp.arange(0, 10, "float32"), { dt = 0.1 })
    local c = ts:clip(0.25, 0.55)
    assert.tensor_near({ 0.25, 0.3, 0.4, 0.5, 0.55 }, c.times, 1e-12)
    assert.tensor_near({ 2, 3, 4, 5, 5 }, flat(c.samples))
    assert.are.equal(0.25, c.t_start); assert.are.equal(0.55, c.t_stop)
    local k = ts:clip(0.25, 0.55, { sample_limits = false })
    assert.tensor_near({ 0.3, 0.4, 0.5 }, k.times, 1e-12)
    local two = lp.TSContinuous({ 0, 1 }, { { 1, 2 }, { 3, 4 } })
    assert.are.same({ 2, 4 }, flat(two:clip(0, 1, { channels = { 2 } }).samples))
  end)

  it("resamples, merges and appends", function()
    local ts = lp.TSContinuous({ 0, 1, 2 }, { 1, 2, 3 }, { interp_kind = "linear" })
    local r = ts:resample { 0.5, 1.5 }
    assert.are.same({ 0.5, 1.5 }, r.times:totable())
    assert.tensor_near({ 1.5, 2.5 }, flat(r.samples))
    assert.are.equal(0.5, r.t_start); assert.are.equal(1.5, r.t_stop)
    local o = lp.TSContinuous({ 0.5, 1, 3 }, { 10, 20, 30 })
    local m = ts:merge(o)
    assert.are.same({ 0, 0.5, 1, 2, 3 }, m.times:totable())
    assert.are.same({ 1, 10, 2, 3, 30 }, flat(m.samples))
    assert.are.equal(3, m.t_stop)
    local c = ts:append_c(lp.TSContinuous({ 0, 2 }, { 7, 8 }))
    assert.are.same({ 1, 7, 2, 7, 3, 8 }, flat(c.samples))
    local t = ts:append_t(lp.TSContinuous({ 0, 1 }, { 5, 6 }), { offset = 0 })
    assert.are.same({ 0, 1, 2, 2, 3 }, t.times:totable())
    assert.are.equal(3, t.t_stop)
    local t2 = ts:append_t(lp.TSContinuous({ 0, 1 }, { 5, 6 }))    -- Rockpool: the median step
    assert.are.same({ 0, 1, 2, 3, 4 }, t2.times:totable())
    assert.are.equal(4, t2.t_stop)
  end)

  it("delays and starts at a given time", function()
    local ts = lp.TSContinuous({ 1, 2 }, { 1, 2 })
    local d = ts:delay(0.5)
    assert.are.same({ 1.5, 2.5 }, d.times:totable())
    assert.are.equal(1.5, d.t_start); assert.are.equal(2.5, d.t_stop)
    assert.are.same({ 0, 1 }, ts:start_at(0).times:totable())
    assert.are.same({ 1 }, flat(d(2)))
  end)

  it("rejects bad arguments with exact messages", function()
    assert.are.equal("bad argument #3 to 'TSContinuous' (unknown field 'interp')",
      msg(lp.TSContinuous, { 0 }, { 1 }, { interp = "linear" }))
    assert.are.equal("bad argument #2 to 'TSContinuous' (expected 2 samples (one per time), got 3)",
      msg(lp.TSContinuous, { 0, 1 }, { 1, 2, 3 }))
    assert.are.equal("bad argument #1 to 'TSContinuous' (times must be sorted in ascending order)",
      msg(lp.TSContinuous, { 1, 0 }, { 1, 2 }))
    assert.are.equal("bad argument #3 to 'TSContinuous' (field 'interp_kind' must be one of 'previous', 'linear', 'next', 'nearest', got 'cubic')",
      msg(lp.TSContinuous, { 0 }, { 1 }, { interp_kind = "cubic" }))
    assert.are.equal("bad argument #3 to 'TSContinuous' (t_stop 0.5 is before the last sample time 1)",
      msg(lp.TSContinuous, { 0, 1 }, { 1, 2 }, { t_stop = 0.5 }))
    assert.are.equal("bad argument #2 to 'from_clocked' (field 'dt' must be positive)",
      msg(lp.TSContinuous.from_clocked, { 1, 2 }, { dt = 0 }))
    local a, b = lp.TSContinuous({ 0 }, { { 1, 2 } }), lp.TSContinuous({ 0 }, { { 1, 2, 3 } })
    assert.are.equal("bad argument #1 to 'merge' (series have 2 and 3 channels)", msg(a.merge, a, b))
    assert.are.equal("bad argument #1 to 'to_clocked' (dt must be a positive number)", msg(a.to_clocked, a, -1))
  end)
end)
