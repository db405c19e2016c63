-- spec/nn/timed_spec.lua -- mod:timed{}: the high-level API on time series
-- (Rockpool's TimedModuleWrapper): rasterising input from the global time,
-- output and records as series, the clock, resets, errors.
local lp = require "limpet"
local nn = lp.nn

local I3 = lp.tensor({ { 1, 0, 0 }, { 0, 1, 0 }, { 0, 0, 1 } }, "float32")

local function events()
  return lp.TSEvent({ 0.0005, 0.0012, 0.0017, 0.0051, 0.0093 }, { 1, 2, 2, 3, 1 },
    { t_start = 0, t_stop = 0.01, num_channels = 3 })
end

describe("mod:timed", function()
  it("wraps a module: defaults, the clock at 0, the tree and parameters delegated", function()
    local lif = nn.LIF(3, { dt = 2e-3 })
    local tm = lif:timed()
    assert.equals("TimedModuleWrapper", tm.class_name)
    assert.is_true(require("limpet.class").is_a(tm, nn.TimedModule))
    assert.equals(2e-3, tm.dt)                  -- the module's dt
    assert.equals(1, tm.output_num)
    assert.is_false(tm.add_events)
    assert.is_true(tm.spiking_output)
    assert.equals(0, tm.t)
    assert.same({ 3 }, tm.shape)
    assert.equals(lif, tm.module)
    assert.equals(lif.threshold, tm:parameters().threshold)     -- transparent: the module's own
    assert.matches("TimedModuleWrapper with shape %(3,%)", tostring(tm))
    assert.equals(1e-3, nn.Linear({ 2, 2 }):timed().dt)             -- no dt anywhere: 1e-3
    assert.equals(5e-4, nn.Sequential { nn.Linear({ 2, 2 }), nn.LIF(2, { dt = 5e-4 }) }:timed().dt)
    assert.is_true(nn.Sequential { nn.Linear({ 2, 2 }), nn.LIF(2) }:timed().spiking_output)
    assert.is_false(nn.Sequential { nn.LIF(2), nn.Linear({ 2, 2 }) }:timed().spiking_output)
    assert.equals(0.25, nn.Linear({ 2, 2 }):timed { dt = 0.25 }.dt)  -- a module without dt
    assert.equals(1e-3, nn.LIF(2):timed { dt = 1e-3 }.dt)
  end)

  it("rasterises events on dt from t, bool or (add_events) counts, and returns a clocked series", function()
    local lin = nn.Linear({ 3, 3 }, { weight = I3 })
    local tm = lin:timed { dt = 1e-3 }
    local out = tm(events())
    assert.equals("TSContinuous", getmetatable(out).__name)
    assert.equals(0, out.t_start)
    assert.near(0.01, out.t_stop, 1e-12)
    assert.near(0.01, tm.t, 1e-12)
    local want = events():raster(1e-3):astype("float32")
    assert.tensor_near(want, out.samples)
    assert.equals(1, out.samples[2][2])            -- two events in bin 2, bool raster: 1
    local tc = lin:timed { dt = 1e-3, add_events = true }
    local counts = tc(events())
    assert.equals(2, counts.samples[2][2])
    assert.tensor_near(events():raster(1e-3, { add_events = true }):astype("float32"), counts.samples)
  end)

  it("gives the same spikes as evolving the module on the raster, as a TSEvent", function()
    lp.seed(3)
    local lif = nn.LIF(3, { tau_mem = 10e-3, tau_syn = 5e-3 })
    local doubled = events():merge(events())
    local raster = doubled:raster(1e-3, { add_events = true }):astype("float32"):reshape(1, 10, 3)
    local want = lif(raster)
    lif:reset_state()
    local tm = lif:timed { add_events = true }
    local out = tm(doubled)
    assert.equals("TSEvent", getmetatable(out).__name)
    assert.equals(3, out.num_channels)
    assert.tensor_near(want[1], out:raster(1e-3, { add_events = true }):astype("float32"))
    assert.is_true(#out > 0)
  end)

  it("samples a TSContinuous on the grid from t", function()
    local lin = nn.Linear({ 2, 2 }, { weight = lp.tensor({ { 1, 0 }, { 0, 1 } }, "float32") })
    local tm = lin:timed { dt = 0.1 }
    local ts = lp.TSContinuous({ 0, 0.25, 0.5 }, lp.tensor { { 1, 10 }, { 2, 20 }, { 3, 30 } }, { t_stop = 0.6 })
    local out = tm(ts)
    assert.near(0.6, tm.t, 1e-12)
    assert.same({ 6, 2 }, out.samples.shape)
    assert.tensor_near(lp.tensor { { 1, 10 }, { 1, 10 }, { 1, 10 }, { 2, 20 }, { 2, 20 }, { 3, 30 } }, out.samples, 1e-6)
    assert.near(0.1, out.times[2], 1e-12)
  end)

  it("keeps a global time: consecutive calls continue state and clock", function()
    lp.seed(4)
    local lif = nn.LIF(3, { tau_mem = 20e-3, tau_syn = 5e-3 })
    local input = lp.TSContinuous.from_clocked(lp.rand(20, 3) * 0.3, { dt = 1e-3 })
    local whole = lif:timed()(input)
    lif:reset_state()
    local tm = lif:timed()
    local a = tm(input:clip(0, 0.01))
    assert.near(0.01, tm.t, 1e-12)
    local b = tm(input)                         -- from t = 0.01 to the input's end
    assert.near(0.02, tm.t, 1e-12)
    assert.near(0.01, b.t_start, 1e-12)
    assert.near(0.02, b.t_stop, 1e-12)
    local joined = a:append_t(b, { offset = 0 })
    assert.tensor_near(whole:raster(1e-3, { add_events = true }),
      joined:raster(1e-3, { t_start = 0, t_stop = 0.02, add_events = true }))
  end)

  it("runs for duration or num_timesteps, with zeros when there is no input", function()
    local lin = nn.Linear({ 3, 2 }, { has_bias = true, bias = lp.tensor({ 0.5, -1 }, "float32") })
    local tm = lin:timed { dt = 1e-3 }
    local out = tm(nil, { duration = 0.005 })
    assert.same({ 5, 2 }, out.samples.shape)
    assert.tensor_near(lp.tensor { 0.5, -1 }:reshape(1, 2):expand(5, 2), out.samples, 1e-6)
    assert.near(0.005, tm.t, 1e-12)
    out = tm(events(), { num_timesteps = 3 })     -- events rasterised from t = 0.005
    assert.same({ 3, 2 }, out.samples.shape)
    assert.near(0.005, out.t_start, 1e-12)
    assert.near(0.008, tm.t, 1e-12)
    out = tm(nil, { duration = 0.003 })           -- 0.003 / 1e-3 in floats is still 3 steps
    assert.same({ 3, 2 }, out.samples.shape)
  end)

  it("reset_time puts the clock back; reset_all also resets the state", function()
    local lif = nn.LIF(3)
    local tm = lif:timed()
    tm(events())
    assert.is_true(lif.vmem:abs():sum():item() > 0)
    assert.equals(tm, tm:reset_time())
    assert.equals(0, tm.t)
    assert.is_true(lif.vmem:abs():sum():item() > 0)
    tm(events())
    assert.equals(tm, tm:reset_all())
    assert.equals(0, tm.t)
    assert.equals(0, lif.vmem:abs():sum():item())
  end)

  it("returns the record as time series (spikes as events), nested like the module's", function()
    local lif = nn.LIF(3)
    local out, state, rec = lif:timed()(events(), true)
    assert.equals("TSContinuous", getmetatable(rec.vmem).__name)
    assert.equals("TSEvent", getmetatable(rec.spikes).__name)
    assert.same({ 10, 3 }, rec.vmem.samples.shape)
    assert.equals(#out, #rec.spikes)
    assert.is_truthy(state.vmem)
    local seq = nn.Sequential { nn.Linear({ 3, 2 }), nn.LIF(2) }
    local tm = seq:timed()
    local _, _, r = tm(events(), { record = true })
    assert.equals("TSContinuous", getmetatable(r["1_Linear_output"]).__name)
    assert.equals("TSEvent", getmetatable(r["2_LIF_output"]).__name)
    assert.equals("TSContinuous", getmetatable(r["2_LIF"].vmem).__name)
    local _, _, none = tm:reset_time()(events())
    assert.same({}, none)
  end)

  it("rejects bad options and inputs by name", function()
    local lif = nn.LIF(3)
    assert.has_error(function() lif:timed { dtt = 1 } end, nil)
    local ok, msg = pcall(lif.timed, lif, { dtt = 1 })
    assert.is_false(ok)
    assert.matches("bad argument #1 to 'timed' %(unknown field 'dtt'%)", msg)
    local function err(f, ...) local ok2, m = pcall(f, ...); assert.is_false(ok2); return m end
    assert.matches("bad argument #1 to 'timed' %(field 'dt' must be a positive number%)", err(lif.timed, lif, { dt = 0 }))
    assert.matches("bad argument #1 to 'timed' %(field 'output_num' must be an integer >= 1%)",
      err(lif.timed, lif, { output_num = 0 }))
    assert.matches("bad argument #1 to 'timed' %(field 'add_events' must be a boolean%)",
      err(lif.timed, lif, { add_events = 1 }))
    assert.matches("bad argument #1 to 'timed' %(module expected, got number%)", err(nn.Module.timed, 3))
    local tm = lif:timed()
    assert.matches("bad argument #1 to 'evolve' %(expected a TSEvent or TSContinuous, got tensor%)",
      err(tm.evolve, tm, lp.zeros(10, 3)))
    assert.matches("bad argument #2 to 'evolve' %(unknown field 'recrod'%)", err(tm.evolve, tm, events(), { recrod = true }))
    assert.matches("bad argument #2 to 'evolve' %(field 'record' must be a boolean%)",
      err(tm.evolve, tm, events(), { record = 1 }))
    assert.matches("bad argument #2 to 'evolve' %(without an input series, 'duration' or 'num_timesteps' is required%)",
      err(tm.evolve, tm))
    assert.matches("bad argument #2 to 'evolve' %(field 'num_timesteps' must be an integer >= 0%)",
      err(tm.evolve, tm, nil, { num_timesteps = 1.5 }))
    assert.matches("bad argument #2 to 'evolve' %(field 'duration' must be a number >= 0%)",
      err(tm.evolve, tm, nil, { duration = -1 }))
    assert.matches("bad argument #1 to 'evolve' %(LIF expects 3 input channels, got a TSEvent with 4%)",
      err(tm.evolve, tm, lp.TSEvent({ 0.001 }, { 4 }, { t_stop = 0.002 })))
    assert.matches("bad argument #1 to 'evolve' %(LIF expects 3 input channels, got a TSContinuous with 2%)",
      err(tm.evolve, tm, lp.TSContinuous.from_clocked(lp.zeros(4, 2))))
    tm(events())
    assert.matches("bad argument #1 to 'evolve' %(the input ends at t = 0.01, not after the module's time t = 0.01",
      err(tm.evolve, tm, events()))
    assert.matches("LIF returns one output; output_num = 2",
      err(lif:timed { output_num = 2 }.evolve, lif:timed { output_num = 2 }, events()))
    local free = nn.Instant("tanh")
    assert.matches("without an input series, Instant needs a shape to make zeros",
      err(free:timed().evolve, free:timed(), nil, { duration = 0.01 }))
  end)

  it("pads a TSEvent with fewer channels than the module takes", function()
    local lin = nn.Linear({ 3, 3 }, { weight = I3 })
    local out = lin:timed()(lp.TSEvent({ 0.0005 }, { 1 }, { t_stop = 0.002 }))
    assert.tensor_near(lp.tensor { { 1, 0, 0 }, { 0, 0, 0 } }, out.samples)
  end)
end)
