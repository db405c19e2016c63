-- examples/tutorials/05_timed_module.lua -- The high-level TimedModule API
-- Modules work on clocked tensors `(B, T, N)`. Rockpool's high-level API
-- wraps a module so that it takes and returns time series instead, keeping
-- its own clock. In limpet that is `mod:timed{dt}` (or
-- `nn.TimedModule(mod, {...})`), with the same behaviour.
local lp = require "limpet"
local nn = lp.nn
local tut = require "limpet.tutorial"
local opt = tut.options(arg)
lp.seed(5)

-- ## Wrapping a network
--
-- A two-layer spiking network, wrapped to take time series. `dt` comes from
-- the module (1 ms here) unless given.
local net = nn.Sequential {
  nn.Linear({ 2, 6 }, { weight = lp.rand(2, 6) * 0.06 }),
  nn.LIF(6, { tau_mem = 20e-3, tau_syn = 10e-3 }),
}
local tnet = net:timed { dt = 1e-3 }
print(tnet)
print("clock starts at t =", tnet.t)

-- ## Continuous input in, events out
--
-- A `TSContinuous` input is sampled on the module's clock; a spiking
-- module's output comes back as a `TSEvent` starting at the module's time.
local dur = opt.quick and 0.2 or 1.0
local tl, xl = {}, {}
for k = 0, 20 do
  local t = k * dur / 20
  tl[#tl + 1] = t
  xl[#xl + 1] = { 0.1 + 0.1 * math.sin(2 * math.pi * t / dur), 0.1 * k / 20 }
end
local input = lp.TSContinuous(lp.tensor(tl, "float64"), lp.tensor(xl), { t_stop = dur, interp_kind = "linear" })
local out, state, rec = tnet(input, true)
print("output:", out)
print("clock now at t =", tnet.t)

-- With `record = true` the record comes back as time series too, nested
-- by module name like the clocked record:
print("record of 2_LIF vmem:", rec["2_LIF"].vmem)
local fig = lp.plot.figure { rows = 2, cols = 1 }
fig:traces(1, input, { title = "input (TSContinuous)", xlabel = "time (s)" })
fig:raster(2, out, { title = "output (TSEvent)", xlabel = "time (s)", ylabel = "neuron" })
assert(fig:save(tut.figure("timed")))

-- ## The clock advances
--
-- A second call continues in time: its input must end after the module's
-- current time. `duration` (or `num_timesteps`) runs without input;
-- `reset_time()` and `reset_all()` rewind the clock (and the state).
local quiet = tnet:evolve(nil, { duration = 0.05 })
print("silent continuation:", quiet, "t =", tnet.t)
print(pcall(tnet.evolve, tnet, input))
tnet:reset_all()
print("after reset_all, t =", tnet.t)

-- ## Events in
--
-- A `TSEvent` input is rasterised on the clock (counts of events per step
-- with `add_events = true`, else at most one per step).
local ev = lp.TSEvent(lp.tensor({ 0.010, 0.011, 0.012, 0.030, 0.031, 0.050 }, "float64"), lp.tensor({ 1, 1, 1, 2, 2, 1 }),
  { t_start = 0, t_stop = 0.1, num_channels = 2 })
local out2 = tnet(ev)
print("input events:", ev, " output:", out2)
