-- devices/dynapse2/init.lua -- `require "limpet.dynapse2"` (= lp.dynapse2): the
-- Dynap-SE2 workflow (reference/dynapse2.md).
-- Owns: the table of names, each loaded on first use from its file in
-- devices/dynapse2/: `lp.dynapse2.X` is field X of `limpet.dynapse2.<file>`,
-- or that module itself when it has no field X. A missing file raises an
-- error naming it when the name is used, so this file loads while one is
-- absent.
--
--   local d2 = lp.dynapse2
--   local spec = d2.mapper(net:as_graph(), opts)                     -- mapper.lua
--   local qspec, report = d2.autoencoder_quantization(spec, opts)    -- quantize.lua
--   local config = d2.config_from_specification(qspec)               -- config.lua
--   d2.save_config(config, path) ; config = d2.load_config(path)
--   local ev = d2.events.encode_input(raster, config.input_channel_map)  -- events.lua
--   local mod = d2.DynapSim(N, opts)                    -- dynapsim.lua (= lp.nn.DynapSim)
--   local core = d2.DynapSimCore.from_specification(spec)   -- translate.lua
--   local codes = core:export_Dynapse2Parameters()
--   local c, f = d2.biasgen.analog_to_digital(I, "SOIF_LEAK_N")   -- biasgen.lua (or: I, scale, "N")
--   local t = d2.mismatch_transform(net, {percent = 0.3, seed = 1})  -- mismatch.lua

-- name -> file (one entry per line)
local files = {
  DynapSim = "dynapsim",
  DynapseNeurons = "dynapsim",
  dynapsim = "dynapsim",
  DynapSimCore = "translate",
  DynapSimTime = "translate",
  DynapSimGain = "translate",
  translate = "translate",
  biasgen = "biasgen",
  mismatch = "mismatch",
  mismatch_generator = "mismatch",
  frozen_mismatch_prototype = "mismatch",
  dynamic_mismatch_prototype = "mismatch",
  mismatch_transform = "mismatch",
  constants = "constants",
  limits = "limits",
  mapper = "mapper",
  autoencoder_quantization = "quantize",
  reconstruct_weights = "quantize",
  config_from_specification = "config",
  validate_config = "config",
  save_config = "config",
  load_config = "config",
  Dynapse2Config = "config",
  events = "events",
  DynapseSamna = "events",
  find_boards = "events",
  from_config = "simulate",
  from_spec = "simulate",
}

local dynapse2 = { _files = files }

local function module(file)
  local full = "limpet.dynapse2." .. file
  local loaded = package.loaded[full]
  if loaded then return loaded end
  local ok, m = pcall(require, full)
  if ok then return m end
  if tostring(m):find("module '" .. full .. "' not found", 1, true) then
    error(("limpet.dynapse2: module '%s' (devices/dynapse2/%s.lua) is not available"):format(full, file), 3)
  end
  error(m, 0)
end
dynapse2._module = module

return setmetatable(dynapse2, {
  __index = function(t, k)
    local file = files[k]
    if not file then return nil end
    local m = module(file)
    local v = m
    if type(m) == "table" and m[k] ~= nil then v = m[k] end
    rawset(t, k, v)
    return v
  end,
})
