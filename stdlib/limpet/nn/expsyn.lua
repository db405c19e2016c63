-- stdlib/limpet/nn/expsyn.lua -- nn.ExpSyn: exponential synapses
-- (Rockpool's ExpSynTorch): isyn += x (+ noise); isyn *= exp(-dt / tau);
-- output isyn. The decay is computed in float64 and rounded once.
-- Owns: options, tau as a trainable (N) parameter, noise in training mode
-- (added to the input before the decay, as Rockpool), the state rule (row
-- 1's final state kept). Dynamics: core.expsyn.
local core = require "limpet.core"
local Module = require "limpet.nn.module"
local U = require "limpet.nn.util"
local V = require "limpet.nn.validate"
local LIF = require("limpet.nn.lif").LIF

local ExpSyn = Module:extend("ExpSyn")
ExpSyn._checks_in_evolve = true
ExpSyn._spiking_input, ExpSyn._spiking_output = true, false   -- as ExpSynTorch
ExpSyn.defaults = { tau = 10e-3, dt = 1e-3, noise_std = 0 }

--- nn.ExpSyn(N, {tau = 10e-3, dt = 1e-3, noise_std = 0})
function ExpSyn:init(shape, opts)
  local split
  shape, opts, split = U.split_shape("ExpSyn", shape, opts, 3)
  if split then rawset(self, "_args", table.pack(shape, opts)) end
  opts = U.options("ExpSyn", 2, opts, ExpSyn.defaults, 3)
  if type(opts.dt) ~= "number" or not (opts.dt > 0) then
    U.argerror("ExpSyn", 2, "field 'dt' must be a positive number", 3)
  end
  Module.init(self, shape)
  local N = self.size_out
  if self.size_in ~= N then U.argerror("ExpSyn", 1, "shape must be N or {N, N}", 3) end
  self:parameter("tau", opts.tau, { shape = { N }, family = "taus" })
  self:simulation_parameter("dt", opts.dt)
  self:simulation_parameter("noise_std", opts.noise_std)
  self:state("isyn", 0, { shape = { N } })
end

function ExpSyn:evolve(x, record)
  if not core.expsyn then error("ExpSyn: the fused kernel core.expsyn is not built in", 2) end
  V.check_forward(self, 2)
  local B, T
  x, B, T = self:_auto_batch(x)
  local noise = self:_noise(B, T, self.size_out)
  if noise then x = x + noise end
  local out, final = core.expsyn(x, { beta = LIF.decay_of(self.dt, self.tau), isyn = self.isyn })
  self._values.isyn = final.isyn[1]:clone()
  return out, self:state(), {}
end

return ExpSyn
