-- stdlib/limpet/nn/init.lua -- lp.nn: the module system (Rockpool's API).
-- Owns: the exported names and the registry of built-in classes for
-- nn.load. Each module lives in its own file next to this one.
local Module = require "limpet.nn.module"
local P = require "limpet.nn.parameters"
local S = require "limpet.nn.serialize"
local lif = require "limpet.nn.lif"
local dropout = require "limpet.nn.dropout"

local nn = {
  Module = Module,
  Parameter = P.Parameter,
  State = P.State,
  SimulationParameter = P.SimulationParameter,
  Constant = P.Constant,
  is_constant = P.is_constant,
  Linear = require "limpet.nn.linear",
  LIF = lif.LIF,
  LIFBitshift = lif.LIFBitshift,
  LIFNeuron = lif.LIFNeuron,
  aLIF = lif.aLIF,
  ExpSyn = require "limpet.nn.expsyn",
  Rate = require "limpet.nn.rate",
  Instant = require "limpet.nn.instant",
  Sequential = require "limpet.nn.sequential",
  Residual = require "limpet.nn.residual",
  FFwdStack = require "limpet.nn.ffwd_stack",
  UnitDropout = dropout.UnitDropout,
  TimeStepDropout = dropout.TimeStepDropout,
  register = S.register,
  load = S.load,
  save = S.save,
}

for _, name in ipairs { "Linear", "LIF", "LIFBitshift", "LIFNeuron", "aLIF", "ExpSyn", "Rate",
                        "Instant", "Sequential", "Residual", "FFwdStack", "UnitDropout",
                        "TimeStepDropout" } do
  S.register(nn[name])
end

for _, f in ipairs { "conv", "nir_neurons", "scale_threshold", "batchnorm", "delay" } do local m = require("limpet.nn." .. f); for k, C in pairs(rawget(m, "__name") and { [m.__name] = m } or m) do if k ~= "KINDS" then nn[k] = C; S.register(C) end end end

--- net:save(path) -> true | nil, msg  (see serialize.lua)
function Module:save(path) return S.save(self, path) end

return nn
