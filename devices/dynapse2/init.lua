-- devices/dynapse2/init.lua -- `require "limpet.dynapse2"` (= lp.dynapse2): the Dynap-SE2
-- workflow (reference/dynapse2.md §11):
--
--   local d2 = lp.dynapse2
--   local spec = d2.mapper(net:as_graph(), opts)                 -- limpet.dynapse2.mapper
--   local qspec, report = d2.autoencoder_quantization(spec, opts) -- limpet.dynapse2.quantize
--   local config = d2.config_from_specification(qspec)           -- limpet.dynapse2.config
--   d2.save_config(config, path) ; config = d2.load_config(path)
--   local events = d2.events.encode_input(raster, config.input_channel_map)  -- limpet.dynapse2.events
--
-- Owns: the table of public names, each loaded from its submodule on first use, so that
-- this file loads even while a submodule is missing (using it then raises an error naming
-- it). Not here: any workflow code.
local d2 = {}

-- require "limpet.dynapse2.<name>", with a clear error when the file is not there.
local function module(name)
  local full = "limpet.dynapse2." .. name
  local loaded = package.loaded[full]
  if loaded then return loaded end
  local ok, m = pcall(require, full)
  if ok then return m end
  if tostring(m):find("module '" .. full .. "' not found", 1, true) then
    error(("limpet.dynapse2: module '%s' (devices/dynapse2/%s.lua) is not available"):format(full, name), 3)
  end
  error(m, 0)
end
d2._module = module

-- public name -> { submodule, field } (field nil: the submodule itself); one entry per line
local lazy = {
  limits = { "limits" },
  mapper = { "mapper", "mapper" },
  DynapseNeurons = { "mapper", "DynapseNeurons" },
  autoencoder_quantization = { "quantize", "autoencoder_quantization" },
  quantize = { "quantize", "autoencoder_quantization" },
  reconstruct_weights = { "quantize", "reconstruct_weights" },
  config_from_specification = { "config", "from_specification" },
  validate_config = { "config", "validate" },
  save_config = { "config", "save" },
  load_config = { "config", "load" },
  Config = { "config", "Config" },
  events = { "events" },
  DynapseSamna = { "events", "DynapseSamna" },
}

return setmetatable(d2, {
  __name = "limpet.dynapse2",
  __index = function(t, k)
    local e = lazy[k]
    if not e then return nil end
    local m = module(e[1])
    local v = m
    if e[2] then v = m[e[2]] end
    rawset(t, k, v)
    return v
  end,
})
