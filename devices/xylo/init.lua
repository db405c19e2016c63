-- devices/xylo/init.lua -- `require "limpet.xylo"` (= lp.xylo): the Xylo workflow.
-- Owns: assembling the per-variant tables (xylo.audio2, xylo.audio3, xylo.imu) from the
-- Xylo modules, loading those modules on first use so that this file loads even while one
-- of them is missing (using it then raises an error naming it).
--
--   local xylo = lp.xylo
--   local spec = xylo.audio2.mapper(net:as_graph(), opts)          -- limpet.xylo.mapper
--   spec = xylo.global_quantize(spec, opts)                         -- limpet.xylo.quantize
--   spec = xylo.channel_quantize(spec, opts)
--   local config, ok, msg = xylo.audio2.config_from_specification(spec)  -- limpet.xylo.config
--   local ok, msg = xylo.validate_config(config)
--   xylo.save_config(config, path) ; config = xylo.load_config(path)
--   local sim = xylo.audio2.XyloSim.from_config(config, {dt = 1e-3, output_mode = "Spike"})
--   local cycles = xylo.audio2.cycles_model(config, {input = , hidden = , output = })
--   local hz = xylo.audio2.est_clock_freq(config, dt)                 -- limpet.xylo.cycles
--   local report = xylo.compare(float_net, sim, input)                -- limpet.xylo.compare
--   xylo.audio2.limits                                                -- limpet.xylo.limits
--   xylo.imu.IMUIFSim{...}, xylo.imu.Quantizer{...}                   -- limpet.xylo.imuif
--   local image = xylo.imu.config_to_image(config)                    -- limpet.xylo.image
--   local hdk = xylo.imu.VirtualHDK(); hdk:write_image(image)         -- limpet.xylo.hdk
--   xylo.find_hdks(), xylo.open_hdk(dev)                              -- limpet.usb
--   xylo.audio3.AFESimExternal{...}, AFESimPDM{...} and their stages,
--   xylo.audio3.get_dn_rate_scale_bitshift(...) ...                    -- limpet.xylo.afe3
--   xylo.audio2.AFESim{...}                                           -- limpet.xylo.afe2
--   xylo.audio2.DivisiveNormalisation(n, opts), ...NoLFSR(n, opts)    -- limpet.xylo.dn
local limits = require "limpet.xylo.limits"
local config = require "limpet.xylo.config"

local xylo = {}

-- require "limpet.xylo.<name>", with a clear error when the file is not there.
local function module(name)
  local full = "limpet.xylo." .. name
  local loaded = package.loaded[full]
  if loaded then return loaded end
  local ok, m = pcall(require, full)
  if ok then return m end
  if tostring(m):find("module '" .. full .. "' not found", 1, true) then
    error(("limpet.xylo: module '%s' (devices/xylo/%s.lua) is not available"):format(full, name), 3)
  end
  error(m, 0)
end
xylo._module = module

xylo.limits = limits
xylo.variants = limits.variants

-- Variant-independent functions --------------------------------------------------------

--- xylo.global_quantize(spec, opts) -> spec, report
function xylo.global_quantize(spec, opts) return module("quantize").global_quantize(spec, opts) end
--- xylo.channel_quantize(spec, opts) -> spec, report
function xylo.channel_quantize(spec, opts) return module("quantize").channel_quantize(spec, opts) end

--- xylo.validate_config(config) -> ok, message (the §5 limits of config.variant)
function xylo.validate_config(c) return config.validate(c) end
--- xylo.save_config(config, path) -> true | nil, message (JSON, atomic)
function xylo.save_config(c, path) return config.save(c, path) end
--- xylo.load_config(path) -> config | nil, message; raises on corrupt or invalid content
function xylo.load_config(path) return config.load(path) end
--- xylo.to_specification(config) -> the spec fields of a config
xylo.to_specification = config.to_specification
xylo.Config = config.Config

--- xylo.compare(float_net, sim, input[, opts]) -> report (see compare.lua)
function xylo.compare(net, sim, input, opts) return module("compare").compare(net, sim, input, opts) end

--- xylo.qat(net, opts) -> trained XyloQAT, quantised spec, report (limpet.xylo.qat)
function xylo.qat(net, opts) return module("qat").qat(net, opts) end
--- xylo.XyloQAT(spec, opts): the trainable integer-exact Xylo forward pass
function xylo.XyloQAT(spec, opts) return module("qat").XyloQAT(spec, opts) end
--- xylo.select_weight_shifts(spec, opts) -> weight shifts and quantisation errors
function xylo.select_weight_shifts(spec, opts) return module("qat").select_weight_shifts(spec, opts) end

-- Per-variant tables ------------------------------------------------------------------

-- Names of a variant table that come from another Xylo module, loaded on first use.
local VARIANT_EXPORTS = {
  imu = {                                                           -- limpet.xylo.imuif
    IMUIFSim = "imuif", Quantizer = "imuif", SubSpace = "imuif", SampleAndHold = "imuif",
    JSVD = "imuif", RotationRemoval = "imuif", BandPassFilter = "imuif", FilterBank = "imuif",
    ScaleSpikeEncoder = "imuif", IAFSpikeEncoder = "imuif", DEFAULT_FILTER_BANDS = "imuif",
  },
}
-- front-end modules of each variant (their names resolve on first use)
local FRONTENDS = { audio2 = { "afe2", "dn" }, audio3 = { "afe3" } }

local function variant(name)
  local v = { name = name, limits = limits.for_variant(name) }

  --- v.mapper(graph, opts) -> spec
  function v.mapper(graph, opts) return module("mapper").mapper(graph, name, opts) end

  --- v.config_from_specification(spec[, {on_warning =, warnings_fatal =}]) -> config, ok, message
  -- (non-integer weights, thresholds and biases are rounded, with a warning)
  function v.config_from_specification(spec, opts)
    return config.from_specification(name, spec, "config_from_specification", opts)
  end

  --- v.validate_config(config) -> ok, message
  function v.validate_config(c)
    if type(c) == "table" and c.variant ~= name then
      return false, ("variant: configuration is for '%s', not '%s'"):format(tostring(c.variant), name)
    end
    return config.validate(c)
  end

  --- v.cycles_model(config, opts) -> cycles (and, on Audio 2, isyn2 operations)
  function v.cycles_model(c, opts) return module("cycles").cycles_model(c, name, opts) end

  --- v.est_clock_freq(config, dt[, margin]) -> Hz
  function v.est_clock_freq(c, dt, margin)
    return module("cycles").est_clock_freq(c, dt, name, margin)
  end

  --- v.config_to_image(config[, opts]) -> image; v.image_to_config(image) -> config
  --- (limpet.xylo.image: the register and RAM writes of §5.1's maps)
  function v.config_to_image(c, opts) return module("image").config_to_image(c, opts, name) end
  function v.image_to_config(img) return module("image").image_to_config(img, name) end
  --- v.VirtualHDK([opts]) -> a virtual board taking those writes (limpet.xylo.hdk)
  function v.VirtualHDK(opts) return module("hdk").VirtualHDK(name, opts) end

  -- v.XyloSim: the simulator class of the variant, loaded on first use; other
  -- per-variant names (the IMU interface) from VARIANT_EXPORTS; the mapper's
  -- graph classes under Rockpool's names of the variant (v.Xylo2Neurons,
  -- v.Xylo2HiddenNeurons, v.Xylo2OutputNeurons on Audio 2; XyloA3... on
  -- Audio 3, XyloIMU... on IMU) and v.DRCError / v.DRCWarning.
  local prefix = ({ audio2 = "Xylo2", audio3 = "XyloA3", imu = "XyloIMU" })[name]
  local graph_names = {
    [prefix .. "Neurons"] = "XyloNeurons", [prefix .. "HiddenNeurons"] = "XyloHiddenNeurons",
    [prefix .. "OutputNeurons"] = "XyloOutputNeurons", DRCError = "DRCError", DRCWarning = "DRCWarning",
  }
  return setmetatable(v, {
    __name = "limpet.xylo." .. name,
    __index = function(t, k)
      if k == "XyloSim" then
        local cls = module("xylosim").for_variant(name)
        rawset(t, k, cls)
        return cls
      end
      if graph_names[k] then
        local x = module("mapper")[graph_names[k]]
        rawset(t, k, x)
        return x
      end
      local from = VARIANT_EXPORTS[name] and VARIANT_EXPORTS[name][k]
      if from then
        local val = module(from)[k]
        rawset(t, k, val)
        return val
      end
      for _, m in ipairs(FRONTENDS[name] or {}) do
        local f = type(k) == "string" and module(m)[k]
        if f ~= nil and f ~= false then rawset(t, k, f); return f end
      end
      return nil
    end,
  })
end

for _, name in ipairs(limits.variants) do xylo[name] = variant(name) end

-- Hardware -------------------------------------------------------------------------------

--- xylo.find_hdks() -> list of attached Xylo kits (device tables of limpet.usb; empty when
--- none), note. Kits whose strings cannot be read (no permission) are listed too.
function xylo.find_hdks() return require("limpet.usb").find { family = "xylo" } end
--- xylo.open_hdk(device) -> nil, message: the kits' transport is not public (see limpet.usb).
function xylo.open_hdk(dev) return require("limpet.usb")._open_as("open_hdk", dev, "xylo") end
--- xylo.VirtualHDK(variant[, opts]) -> a virtual board (limpet.xylo.hdk)
function xylo.VirtualHDK(name, opts) return module("hdk").VirtualHDK(name, opts) end

-- xylo.DRCError / xylo.DRCWarning come from the mapper, on first use.
return setmetatable(xylo, {
  __index = function(t, k)
    if k == "DRCError" or k == "DRCWarning" then
      local v = module("mapper")[k]
      rawset(t, k, v)
      return v
    end
    return nil
  end,
})
