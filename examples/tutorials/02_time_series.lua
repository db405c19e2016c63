-- examples/tutorials/02_time_series.lua -- Working with time series
-- Rockpool describes signals in continuous time with two classes, and
-- limpet has both under the same names: `lp.TSContinuous` (a sampled,
-- multi-channel signal) and `lp.TSEvent` (discrete events on numbered
-- channels). Time is in seconds; channels are numbered from 1.
local lp = require "limpet"
local tut = require "limpet.tutorial"
local opt = tut.options(arg)
lp.seed(2)
math.randomseed(2)

-- ## Continuous signals
--
-- A `TSContinuous` holds sample times and a `(T, C)` table of samples.
-- Here two channels, a sine and a cosine, sampled every 10 ms for one
-- second:
local t_list, x_list = {}, {}
for k = 0, 100 do
  local t = k * 0.01
  t_list[#t_list + 1] = t
  x_list[#x_list + 1] = { math.sin(2 * math.pi * t), math.cos(2 * math.pi * t) }
end
local times, samples = lp.tensor(t_list, "float64"), lp.tensor(x_list, "float32")
local ts = lp.TSContinuous(times, samples, { name = "sine and cosine" })
print(ts)
print("duration", ts.duration, "channels", ts.num_channels, "samples", ts.num_samples)

-- Calling a series samples it at any times inside its range. The default
-- interpolation holds the previous sample (`interp_kind = "previous"`);
-- `"linear"` interpolates between samples:
local lin = lp.TSContinuous(times, samples, { interp_kind = "linear" })
print("previous at t = 0.125:")
ts(lp.tensor({ 0.125 }, "float64")):show()
print("linear at t = 0.125:")
lin(lp.tensor({ 0.125 }, "float64")):show()

-- Sampling outside `[t_start, t_stop]` is an error, as in Rockpool:
print(pcall(ts, lp.tensor({ 2.0 }, "float64")))

-- ## Arithmetic, clipping and resampling
--
-- Series combine with numbers and with each other; `clip` cuts a time
-- window (and optionally chooses channels), `resample` samples at new
-- times and `to_clocked` turns a series into a `(T, C)` tensor on a
-- regular clock — the form modules take as input.
local scaled = ts * 2 + 1
local part = ts:clip(0.25, 0.5)
print("clipped:", part)
local clocked = ts:to_clocked(1e-3)
print("clocked on a 1 ms grid:", clocked)
assert(ts:plot(tut.figure("continuous"), { title = "TSContinuous: two channels", xlabel = "time (s)" }))

-- ## Events
--
-- A `TSEvent` holds event times and a channel id per event. `raster(dt)`
-- bins the events on a clock (a boolean `(T, C)` raster, or counts with
-- `add_events = true`); `TSEvent.from_raster` goes back from a raster to
-- events.
local m = opt.quick and 60 or 300
local tl, cl = {}, {}
for k = 1, m do tl[k], cl[k] = math.random() * 0.5, math.random(1, 5) end
table.sort(tl)
local ev_times, ev_channels = lp.tensor(tl, "float64"), lp.tensor(cl, "int64")
local ev = lp.TSEvent(ev_times, ev_channels, { t_start = 0, t_stop = 0.5, num_channels = 5 })
print(ev)
local raster = ev:raster(10e-3, { add_events = true })
print("raster", raster, "holds", raster:sum():item(), "events")
local back = lp.TSEvent.from_raster(raster, 10e-3)
print("from_raster gives", #back, "events again")

-- Event series merge, shift in time and clip like continuous ones:
local later = ev:delay(0.5)
local both = ev:append_t(later)
print("appended in time:", both)
assert(both:plot(tut.figure("events"), { title = "TSEvent: two halves appended in time", xlabel = "time (s)",
  ylabel = "channel" }))

-- ## Where Rockpool differs
--
-- Rockpool's `TSContinuous.plot()` draws with matplotlib into the current
-- axes; limpet's `ts:plot(path)` writes a file through PLplot instead.
-- Rockpool's channel ids count from 0; limpet's count from 1.
