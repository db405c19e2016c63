-- stdlib/limpet/nn/init.lua -- lp.nn: the module system (Rockpool's API).
-- Owns: the exported names and the registry of built-in classes for
-- nn.load. Each module lives in its own file next to this one.
local Module = require "limpet.nn.module"
local P = require "limpet.nn.parameters"
local S = require "limpet.nn.serialize"
local lif = require "limpet.nn.lif"
local dropout = require "limpet.nn.dropout"
local V = require "limpet.nn.validate"
local U = require "limpet.nn.util"
local lp = require "limpet"
local networks = require "limpet.nn.networks"

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
  LowPass = networks.LowPass,
  HopDelay = networks.HopDelay,
  SynNet = networks.SynNet,
  WaveSenseBlock = networks.WaveSenseBlock,
  WaveSenseNet = networks.WaveSenseNet,
  register = S.register,
  -- the valid ranges of parameters: nn.check(mod) raises naming the module
  -- and attribute out of range; nn.first_violation(mod) -> path, module,
  -- attribute, problem (or nil)
  check = function(mod)
    if type(mod) ~= "table" or rawget(mod, "_attrs") == nil then
      U.argerror("check", 1, "an nn module expected, got " .. (lp.is_tensor(mod) and "tensor" or type(mod)), 2)
    end
    V.check(mod, true, 2) return mod
  end,
  first_violation = function(mod, recurse)
    if type(mod) ~= "table" or rawget(mod, "_attrs") == nil then
      U.argerror("first_violation", 1, "an nn module expected, got " .. (lp.is_tensor(mod) and "tensor" or type(mod)), 2)
    end
    if recurse ~= nil and type(recurse) ~= "boolean" then
      U.argerror("first_violation", 2, "recurse must be nil or a boolean, got " .. type(recurse), 2)
    end
    return V.first_violation(mod, recurse)
  end,
  load = S.load,
  save = S.save,
}

for _, name in ipairs { "Linear", "LIF", "LIFBitshift", "LIFNeuron", "aLIF", "ExpSyn", "Rate",
                        "Instant", "Sequential", "Residual", "FFwdStack", "UnitDropout",
                        "TimeStepDropout" } do
  S.register(nn[name])
end

for _, name in ipairs { "LowPass", "SynNet", "WaveSenseBlock", "WaveSenseNet" } do S.register(nn[name]) end
for _, f in ipairs { "conv", "nir_neurons", "scale_threshold", "batchnorm", "delay" } do local m = require("limpet.nn." .. f); for k, C in pairs(rawget(m, "__name") and { [m.__name] = m } or m) do if k ~= "KINDS" then nn[k] = C; S.register(C) end end end

--- net:save(path) -> true | nil, msg  (see serialize.lua)
function Module:save(path) return S.save(self, path) end

-- Chip neuron models live with their chip and load on first use
-- (nn.DynapSim is lp.dynapse2.DynapSim); nn.load finds them the same way.
local chip_classes = { DynapSim = "limpet.dynapse2" }
S.lazy = function(name)
  local m = chip_classes[name]
  if not m then return nil end
  local C = require(m)[name]
  if C and not S.registered(name) then S.register(C) end
  return C
end

-- Loaded on first use: the timed API (nn/timed.lua needs lp.nn's Module) and
-- the chip neuron models.
return setmetatable(nn, {
  __index = function(t, k)
    if k == "TimedModule" or k == "TimedModuleWrapper" then
      local T = require "limpet.nn.timed"
      rawset(t, "TimedModule", T.TimedModule)
      rawset(t, "TimedModuleWrapper", T.TimedModuleWrapper)
      return T[k]
    end
    if not chip_classes[k] then return nil end
    local C = S.lazy(k)
    rawset(t, k, C)
    return C
  end,
})
