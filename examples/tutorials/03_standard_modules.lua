-- examples/tutorials/03_standard_modules.lua -- Standard modules
-- The building blocks of `lp.nn`, with Rockpool's names and semantics:
-- weights (`Linear`), spiking neurons (`LIF`, `aLIF`, `LIFBitshift`),
-- synapses (`ExpSyn`), rate neurons (`Rate`), stateless functions
-- (`Instant`), and the combinators `Sequential` and `Residual`.
local lp = require "limpet"
local nn = lp.nn
local tut = require "limpet.tutorial"
local opt = tut.options(arg)
lp.seed(3)

-- ## Linear weights
--
-- `nn.Linear({Nin, Nout})` multiplies its input by a weight `(Nin, Nout)`:
-- `y = x W (+ b)`. Weights start from Kaiming-style random values unless
-- given; `has_bias = true` adds a trainable bias.
local lin = nn.Linear({ 4, 3 }, { has_bias = true })
print(lin)
local x = lp.randn(1, 10, 4)                 -- (B, T, Nin)
local y = lin(x)
print("Linear maps", x, "to", y)

-- ## Spiking neurons
--
-- `nn.LIF(N)` is a layer of leaky integrate-and-fire neurons.
-- `nn.LIF({k * N, N})` gives each neuron k synapses with their own time
-- constants (input column j feeds neuron ceil(j / k), synapse
-- ((j - 1) mod k) + 1). `has_rec = true` adds recurrent weights `w_rec`.
local lif = nn.LIF(5, { tau_mem = 20e-3, tau_syn = 5e-3 })
local lif2 = nn.LIF({ 10, 5 }, { tau_syn = lp.tensor({ { 2e-3, 20e-3 } }):expand(5, 2):contiguous() })
local rlif = nn.LIF(5, { has_rec = true })
print(lif, "|", lif2, "|", rlif)
print("w_rec of the recurrent layer:", rlif:parameters().w_rec)

-- `aLIF` adds an adaptation current; `LIFBitshift` uses Xylo's
-- power-of-two decays (`1 - 2^-dash`) and stays trainable:
print(nn.aLIF(5), "|", nn.LIFBitshift(5))

-- ## Synapses and rate neurons
--
-- `nn.ExpSyn(N, {tau})` low-pass filters its input with an exponential
-- kernel; `nn.Rate(N, {tau, activation})` is a non-spiking neuron whose
-- output is a rectified state. Both are handy read-outs.
local T = opt.quick and 100 or 400
local spikes = lp.bernoulli(0.05, 1, T, 3)
local syn = nn.ExpSyn(3, { tau = 20e-3 })
local filtered = syn(spikes)
local rate = nn.Rate(3, { tau = 20e-3 })
local r = rate(spikes)
print("ExpSyn peak", filtered:max():item(), " Rate peak", r:max():item())
local fig = lp.plot.figure { rows = 2, cols = 1 }
fig:raster(1, spikes[1], { dt = 1e-3, title = "input spikes", ylabel = "channel" })
fig:traces(2, filtered[1], { dt = 1e-3, title = "ExpSyn(3, {tau = 20 ms}) output", xlabel = "time (s)" })
assert(fig:save(tut.figure("expsyn")))

-- ## Functions as modules
--
-- `nn.Instant(fn)` applies a function at every time step (it has no state):
local relu = nn.Instant("relu")
print(relu)
print(lp.format((relu(lp.tensor({ { { -1.5, 2 } } })))))

-- ## Combinators
--
-- `nn.Sequential` chains modules; each gets a name from its position and
-- class (`1_Linear`, `2_LIF`, ...), and parameters, states and records nest
-- by those names. `nn.Residual` adds its input to the output of a chain.
local net = nn.Sequential {
  nn.Linear({ 3, 8 }),
  nn.LIF(8),
  nn.Residual(nn.Linear({ 8, 8 }), nn.LIF(8)),
  nn.Linear({ 8, 2 }),
  nn.ExpSyn(2),
}
print(net)
local out, state, rec = net(spikes, true)
local keys = {}
for k in pairs(rec) do keys[#keys + 1] = k end
table.sort(keys)
print("output", out, "records of", table.concat(keys, ", "))
print("trainable elements:", net:count_parameters())
