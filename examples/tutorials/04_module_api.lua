-- examples/tutorials/04_module_api.lua -- The low-level module API
-- Every limpet module follows Rockpool's module API: it declares its
-- parameters, states and simulation parameters, and implements `evolve`.
-- This tutorial writes a module of its own and looks at what the API gives
-- it for free.
local lp = require "limpet"
local nn = lp.nn
local tut = require "limpet.tutorial"
local opt = tut.options(arg)
lp.seed(4)

-- ## Writing a module
--
-- A module class comes from `nn.Module:extend(name)`. Its `init` calls the
-- base constructor with the module's shape, then declares attributes:
--
-- - `self:parameter(name, value, {family, init, shape})`: trainable tensors;
-- - `self:state(name, value, {shape})`: dynamical state, reset by `reset_state`;
-- - `self:simulation_parameter(name, value)`: solver settings, never trained.
--
-- `evolve(input, record)` runs the module over a `(B, T, N)` input and
-- returns output, new state and a record table. Here: a leaky integrator
-- with a trainable time constant and bias, written in plain tensor
-- operations (so autodiff works through it without any backward code).
local Leaky = nn.Module:extend("Leaky")

function Leaky:init(n, opts)
  opts = opts or {}
  nn.Module.init(self, n)
  self:parameter("tau", nil, { shape = n, family = "taus",
                               init = function(s) return lp.full(s, opts.tau or 20e-3) end })
  self:parameter("bias", nil, { shape = n, family = "biases", init = function(s) return lp.zeros(s) end })
  self:state("v", 0, { shape = n })
  self:simulation_parameter("dt", opts.dt or 1e-3)
end

function Leaky:evolve(x, record)
  x = self:_auto_batch(x)                        -- (T, N) becomes (1, T, N)
  local decay = lp.exp(-self.dt / self.tau)
  local v, trace = self.v, {}
  for t = 1, x.shape[2] do
    v = v * decay + x:slice(2, t, t):reshape(x.shape[1], -1) + self.bias
    trace[t] = v
  end
  local out = lp.stack(trace, 2)                 -- (B, T, N)
  self.v = v:slice(1, 1, 1):reshape(-1):detach() -- row 1's final state is kept, as in Rockpool
  local rec = {}
  if record then rec.v = out end
  return out, self:state(), rec
end

local m = Leaky(3, { tau = 10e-3 })
print(m)

-- ## What the base class provides
--
-- `parameters()`, `state()` and `simulation_parameters()` return tables
-- whose leaves are the very tensors the module computes with;
-- `parameters(family)` selects one family; `attribute_names()` and
-- `attribute_kind(name)` say what is what.
print(lp.format(m:parameters()))
print("taus only:", lp.format(m:parameters("taus")))
print("state:", lp.format(m:state()))
print("simulation parameters:", lp.format(m:simulation_parameters()))
for _, name in ipairs(m:attribute_names()) do
  print(("attribute %-5s %-10s family %s"):format(name, m:attribute_kind(name), tostring(m:attribute_family(name))))
end

-- Running the module and inspecting its record; the state carries over:
local T = opt.quick and 50 or 200
local input = lp.zeros(1, T, 3)
input:slice(2, 5, 5):fill_(1)
local out, state, rec = m(input, true)
print("output", out, "final v", lp.format(state.v))
assert(lp.plot.traces(rec.v[1], tut.figure("leaky"), { dt = 1e-3, title = "Leaky: response to one input pulse",
  xlabel = "time (s)" }))

-- `set_attributes` writes values by the same nested names, `reset_state`
-- returns the state to its initial value:
m:set_attributes({ tau = lp.tensor({ 5e-3, 10e-3, 50e-3 }) })
m:reset_state()
print("tau now", lp.format(m.tau), "v", lp.format(m.v))

-- ## Gradients through a module
--
-- Because `evolve` used differentiable tensor operations, the loss's
-- gradient reaches `tau` and `bias`:
local o = m(input)
local loss = o:pow(2):mean()
loss:backward()
print("d loss / d tau =", lp.format(m.tau.grad))

-- ## Composing modules
--
-- Modules nest: a module that holds others as fields (or through
-- `self:submodule`) exposes their parameters under their names.
local Pair = nn.Module:extend("Pair")
function Pair:init(n)
  nn.Module.init(self, n)
  self:submodule("first", Leaky(n))
  self:submodule("second", Leaky(n, { tau = 50e-3 }))
end
function Pair:evolve(x, record)
  local y, s1, r1 = self.first(x, record)
  local z, s2, r2 = self.second(y, record)
  return z, { first = s1, second = s2 }, { first = r1, second = r2 }
end
local pair = Pair(2)
print(pair)
local names = {}
for k in pairs(pair:parameters()) do names[#names + 1] = k end
table.sort(names)
print("parameter groups:", table.concat(names, ", "), " total elements:", pair:count_parameters())

-- To let `nn.load` rebuild a saved network that uses such a class,
-- register it with `nn.register(Leaky)`.
