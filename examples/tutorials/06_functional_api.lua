-- examples/tutorials/06_functional_api.lua -- The functional API
-- Rockpool's functional style treats a module as a pure function of its
-- parameters, state and input: `output, new_state, record = mod(input)`,
-- with the state handed back explicitly, and gradients taken with Jax's
-- `value_and_grad`. limpet's modules are stateful (as Rockpool's Torch
-- modules are), but every call still returns the new state, and
-- `lp.autograd.value_and_grad` gives Jax's functional gradients.
local lp = require "limpet"
local nn = lp.nn
local tut = require "limpet.tutorial"
local opt = tut.options(arg)
lp.seed(6)

-- ## State in, state out
--
-- `mod(input)` returns output, the new state and a record. To treat the
-- module as a pure function, save its state and put one back with
-- `set_attributes` before the next call: the two runs below start from the
-- same state and give the same output.
local lif = nn.LIF(4, { tau_mem = 20e-3, tau_syn = 10e-3 })
local x = lp.bernoulli(0.2, 1, 50, 4) * 0.5
local s0 = lif:state()
local saved = {}
for k, v in pairs(s0) do saved[k] = v:clone() end
local y1, s1 = lif(x)
print("state after the first run, vmem:", lp.format(s1.vmem))
lif:set_attributes(saved)                      -- back to the saved state
local y2 = lif(x)
print("same output from the same state:", (y1 - y2):abs():max():item() == 0)

-- ## Gradients of a function of the parameters
--
-- `lp.autograd.value_and_grad(f)` returns a function of a (nested) table of
-- parameters giving the value of `f` and its gradient with the same
-- structure — the caller's tensors and their `.grad` stay untouched. Here
-- a linear read-out of a fixed spiking layer is fitted to a target trace;
-- `loss(params)` is written as a function of the read-out weights alone.
local T = opt.quick and 100 or 300
local hidden = nn.Sequential {
  nn.Linear({ 4, 16 }, { weight = lp.rand(4, 16) * 0.3 }),
  nn.LIF(16, { tau_mem = 20e-3, tau_syn = 10e-3 }),
}
local syn = nn.ExpSyn(1, { tau = nn.Constant(20e-3) })
local input = lp.bernoulli(0.05, 1, T, 4)
local h = lp.no_grad(function() return hidden(input) end)   -- fixed: computed once
print("hidden spikes:", h:sum():item())
local tl = {}
for t = 1, T do tl[t] = { { 0.5 + 0.5 * math.sin(2 * math.pi * t / T) } } end
local target = lp.tensor(tl):reshape(1, T, 1)

local function readout(params)
  syn:reset_state()
  return syn(lp.matmul(h, params.weight))
end
local function loss(params) return (readout(params) - target):pow(2):mean() end
local vg = lp.autograd.value_and_grad(loss)

-- A hand-written gradient-descent loop over a plain parameter table:
local params = { weight = lp.zeros(16, 1) }
local losses = {}
local steps = opt.quick and 150 or 600
for i = 1, steps do
  local value, grads = vg(params)
  losses[i] = value:item()
  params.weight = params.weight - grads.weight * 2e-3
end
print(("loss: first %.4f, last %.4f after %d steps"):format(losses[1], losses[steps], steps))
assert(lp.plot.curve({ loss = losses }, tut.figure("loss"), { xlabel = "step", ylabel = "mean squared error" }))

-- The fitted read-out against the target (16 random, untrained spiking
-- neurons can only approximate it; training them too is the subject of
-- the training tutorials):
local out = lp.no_grad(function() return readout(params) end)
local both = lp.cat({ out[1], target[1] }, 2)
assert(lp.plot.traces(both, tut.figure("fit"), { dt = 1e-3, labels = { "output", "target" },
  xlabel = "time (s)" }))

-- ## What differs from Rockpool
--
-- Rockpool's Jax modules return a *new module* from `set_attributes` and
-- never change in place; limpet's `set_attributes` changes the module and
-- returns it; a parameter given to it is copied into the module's own
-- tensor, so a functional loss uses the parameter tensors directly, as
-- above. There is no `jax.jit`: limpet's neuron layers are already
-- one fused C operation over all time steps.
