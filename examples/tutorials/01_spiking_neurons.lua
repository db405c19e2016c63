-- examples/tutorials/01_spiking_neurons.lua -- A simple introduction to spiking neurons
-- This tutorial drives one layer of leaky integrate-and-fire (LIF) neurons
-- with currents and spikes and looks at what they do inside: synaptic
-- current, membrane potential and output spikes.
--
-- Run it with `limpet examples/tutorials/01_spiking_neurons.lua [--quick] [--out DIR]`.
local lp = require "limpet"
local nn = lp.nn
local tut = require "limpet.tutorial"
local opt = tut.options(arg)
lp.seed(1)

-- ## The LIF neuron
--
-- A LIF neuron keeps two numbers per time step: a synaptic current `isyn`
-- that decays with time constant `tau_syn`, and a membrane potential `vmem`
-- that integrates that current and leaks with `tau_mem`. When `vmem`
-- crosses `threshold` the neuron emits a spike and `vmem` is lowered by the
-- threshold. In discrete time with step `dt` (1 ms by default):
--
--     isyn <- isyn * exp(-dt / tau_syn) + input
--     vmem <- vmem * exp(-dt / tau_mem) + isyn (+ bias)
--     spike = vmem > threshold;  vmem <- vmem - threshold
--
-- (the exact update order is Rockpool's; `lp.nn.LIF` follows it.) A layer
-- of three such neurons:
local dt = 1e-3
local lif = nn.LIF(3, { tau_mem = 20e-3, tau_syn = 10e-3, threshold = 1, dt = dt })
print(lif)
print(lp.format(lif:parameters()))

-- ## Driving the neurons with input spikes
--
-- Inputs are batch-major `(B, T, N)`: batch, time steps, channels. A `(T, N)`
-- input gets a batch axis of one. Here each of the three neurons receives
-- Poisson spikes at a different rate; each input spike adds a small step
-- of 0.1 to the synaptic current. Calling a module returns its output, its new
-- state and (when asked with `true`) a record of its internal variables.
local T = opt.quick and 200 or 1000
local rates = lp.tensor({ 20, 60, 120 })                 -- Hz
local p = (rates * dt):reshape(1, 1, 3):expand(1, T, 3)
local input = lp.bernoulli(p) * 0.1
local out, state, rec = lif(input, true)
print("recorded:", rec.vmem, rec.isyn, rec.spikes)
print(("output spikes per neuron over %d ms:"):format(T))
out:sum(2):show()

-- The membrane traces, each neuron offset upwards, with the threshold
-- drawn dashed, and the output spikes as a raster:
local fig = lp.plot.figure { rows = 2, cols = 1 }
fig:traces(1, rec.vmem[1], { threshold = 1, dt = dt, title = "membrane potential vmem", xlabel = "time (s)" })
fig:raster(2, out[1], { dt = dt, title = "output spikes", xlabel = "time (s)", ylabel = "neuron" })
assert(fig:save(tut.figure("lif_spikes")))

-- ## State is kept between calls
--
-- Modules are stateful, as in Rockpool: a second call continues from where
-- the first one stopped. `reset_state()` returns to rest.
print("vmem after the run:")
lif:state().vmem:show()
lif:reset_state()
print("after reset_state():")
lif:state().vmem:show()

-- ## The firing-rate curve
--
-- A constant bias current makes a LIF neuron fire regularly once the bias
-- is large enough to lift `vmem` over threshold. We give 40 neurons biases
-- from 0 to 0.2 per step and count their spikes: below a critical bias
-- nothing happens, above it the rate grows with the bias.
local N = 40
local biases = lp.linspace(0, 0.2, N)
local fi = nn.LIF(N, { tau_mem = 20e-3, tau_syn = 10e-3, bias = biases, dt = dt })
local steps = opt.quick and 500 or 2000
local spikes = fi(lp.zeros(steps, N))
local rate = spikes:sum(2):reshape(N) / (steps * dt)
print(("bias 0.00 -> %.0f Hz, bias %.2f -> %.0f Hz, bias 0.20 -> %.0f Hz"):format(
  rate[1], biases[N // 2], rate[N // 2], rate[N]))
assert(lp.plot.curve({ ["rate (Hz)"] = rate }, tut.figure("rate_curve"),
  { xlabel = "neuron (bias rises from 0 to 0.2 from left to right)", ylabel = "firing rate (Hz)" }))
