-- devices/dynapse2/translate.lua -- parameter translation of one Dynap-SE2 core
-- (reference/dynapse2.md §3.1): high-level values (time constants, pulse
-- widths, gain ratios) <-> currents <-> bias-generator codes, Rockpool's
-- DynapSimCore, DynapSimTime and DynapSimGain.
-- Owns: the core object (every current and layout constant as a field), the
-- conversions of §2.3 (same float64 operations as Rockpool, so currents
-- match its to the last digits), the export of every current to its device
-- bias (constants.sim2device) through biasgen.lua, and the import of codes.
-- Not here: the DAC (biasgen.lua), a neuron population (dynapsim.lua).
--
-- Decision (§3.1): Rockpool stores None as a current when a time constant
-- or pulse width is <= 0 (its converter returns None); here that is an
-- error naming the field, since such a core cannot be simulated or exported.
--
--   local T = lp.dynapse2
--   local core = T.DynapSimCore.from_specification{tau_mem = 30e-3, r_gain_mem = 2}
--   core.Itau_mem, core.Igain_mem                        -- A
--   local time = T.DynapSimTime.from_DynapSimCore(core)  -- time.tau_mem
--   local gain = T.DynapSimGain.from_DynapSimCore(core)  -- gain.r_gain_mem
--   local codes = core:export_Dynapse2Parameters()       -- {SOIF_LEAK_N = {coarse, fine}, ...}
--   local core2 = T.DynapSimCore.from_Dynapse2Parameters(codes)
local K = require "limpet.dynapse2.constants"
local bg = require "limpet.dynapse2.biasgen"

local M = {}

local function kappa(c) return (c.kappa_n + c.kappa_p) / 2 end

-- Itau from tau, as Rockpool: ((Ut / kappa) * C) / tau
local function tau_to_current(c, tau, Cap) return ((c.Ut / kappa(c)) * Cap) / tau end
local function current_to_tau(c, I, Cap) return ((c.Ut / kappa(c)) * Cap) / I end
local function width_to_current(c, t, Cap) return (c.Vth * Cap) / t end
local function current_to_width(c, I, Cap) return (c.Vth * Cap) / I end

-- field tables ------------------------------------------------------------------

M.layout_fields = { "C_ahp", "C_ampa", "C_gaba", "C_nmda", "C_pulse_ahp", "C_pulse", "C_ref", "C_shunt", "C_mem",
                    "Io", "kappa_n", "kappa_p", "Ut", "Vth" }
M.current_fields = { "Idc", "If_nmda", "Igain_ahp", "Igain_ampa", "Igain_gaba", "Igain_nmda", "Igain_shunt",
                     "Igain_mem", "Ipulse_ahp", "Ipulse", "Iref", "Ispkthr", "Itau_ahp", "Itau_ampa", "Itau_gaba",
                     "Itau_nmda", "Itau_shunt", "Itau_mem", "Iw_ahp" }
M.weight_fields = { "Iw_0", "Iw_1", "Iw_2", "Iw_3" }
-- time constants: name -> {current, capacitor}
M.taus = {
  tau_ahp = { "Itau_ahp", "C_ahp" }, tau_ampa = { "Itau_ampa", "C_ampa" }, tau_gaba = { "Itau_gaba", "C_gaba" },
  tau_nmda = { "Itau_nmda", "C_nmda" }, tau_shunt = { "Itau_shunt", "C_shunt" }, tau_mem = { "Itau_mem", "C_mem" },
}
M.tau_order = { "tau_ahp", "tau_ampa", "tau_gaba", "tau_nmda", "tau_shunt", "tau_mem" }
-- pulse widths: name -> {current, capacitor}
M.widths = { t_pulse_ahp = { "Ipulse_ahp", "C_pulse_ahp" }, t_pulse = { "Ipulse", "C_pulse" },
             t_ref = { "Iref", "C_ref" } }
M.width_order = { "t_pulse_ahp", "t_pulse", "t_ref" }
-- gain ratios: name -> {gain current, tau current}
M.gains = {
  r_gain_ahp = { "Igain_ahp", "Itau_ahp" }, r_gain_ampa = { "Igain_ampa", "Itau_ampa" },
  r_gain_gaba = { "Igain_gaba", "Itau_gaba" }, r_gain_nmda = { "Igain_nmda", "Itau_nmda" },
  r_gain_shunt = { "Igain_shunt", "Itau_shunt" }, r_gain_mem = { "Igain_mem", "Itau_mem" },
}
M.gain_order = { "r_gain_ahp", "r_gain_ampa", "r_gain_gaba", "r_gain_nmda", "r_gain_shunt", "r_gain_mem" }

local function argerror(fname, n, msg, level)
  error(("bad argument #%d to '%s' (%s)"):format(n, fname, msg), (level or 1) + 1)
end

local function positive(fname, name, v, level)
  if type(v) ~= "number" or v ~= v then argerror(fname, 1, ("field '%s': a number expected, got %s"):format(name, type(v)), level + 1) end
  if not (v > 0) then argerror(fname, 1, ("field '%s' must be positive, got %g"):format(name, v), level + 1) end
  return v
end

-- DynapSimCore --------------------------------------------------------------------

local Core = {}
Core.__index = Core
Core.__name = "DynapSimCore"
M.DynapSimCore = Core

local function new_core(fields)
  return setmetatable(fields, Core)
end

--- DynapSimCore.defaults() -> the default core (§2.2: Rockpool's defaults)
function Core.defaults()
  return Core.from_specification({})
end

local SPEC_FIELDS = {}
for _, n in ipairs(M.layout_fields) do SPEC_FIELDS[n] = true end
for _, n in ipairs(M.tau_order) do SPEC_FIELDS[n] = true end
for _, n in ipairs(M.width_order) do SPEC_FIELDS[n] = true end
for _, n in ipairs(M.gain_order) do SPEC_FIELDS[n] = true end
for _, n in ipairs(M.weight_fields) do SPEC_FIELDS[n] = true end
for _, n in ipairs { "Idc", "If_nmda", "Ispkthr", "Iw_ahp" } do SPEC_FIELDS[n] = true end

--- DynapSimCore.from_specification(spec) -> core. spec: layout constants,
-- time constants tau_ahp/ampa/gaba/nmda/shunt/mem (s), pulse widths
-- t_pulse_ahp, t_pulse, t_ref (s), gain ratios r_gain_* and currents Idc,
-- If_nmda, Ispkthr, Iw_ahp, Iw_0..3 (A); anything absent takes its default.
-- Itau = (Ut/kappa)·C/tau, Igain = r·Itau, Ipulse = Vth·C/t (§2.3).
function Core.from_specification(spec)
  spec = spec or {}
  if type(spec) ~= "table" then argerror("from_specification", 1, "table expected, got " .. type(spec), 2) end
  for k in pairs(spec) do
    if not SPEC_FIELDS[k] then argerror("from_specification", 1, ("unknown field '%s'"):format(tostring(k)), 2) end
  end
  local c = {}
  for _, n in ipairs(M.layout_fields) do
    c[n] = spec[n] ~= nil and positive("from_specification", n, spec[n], 2) or K.layout[n]
  end
  for _, n in ipairs(M.tau_order) do
    local tau = spec[n] ~= nil and positive("from_specification", n, spec[n], 2) or K.high_level[n]
    local cur, cap = M.taus[n][1], M.taus[n][2]
    c[cur] = tau_to_current(c, tau, c[cap])
  end
  for _, n in ipairs(M.width_order) do
    local t = spec[n] ~= nil and positive("from_specification", n, spec[n], 2) or K.high_level[n]
    local cur, cap = M.widths[n][1], M.widths[n][2]
    c[cur] = width_to_current(c, t, c[cap])
  end
  for _, n in ipairs(M.gain_order) do
    local r = spec[n]
    if r ~= nil then
      if type(r) ~= "number" or not (r >= 0) then
        argerror("from_specification", 1, ("field '%s' must be a non-negative number"):format(n), 2)
      end
    else
      r = K.high_level[n]
    end
    c[M.gains[n][1]] = r * c[M.gains[n][2]]
  end
  for _, n in ipairs { "Idc", "If_nmda" } do c[n] = spec[n] ~= nil and spec[n] or c.Io end
  c.Ispkthr = spec.Ispkthr ~= nil and spec.Ispkthr or K.currents.Ispkthr
  c.Iw_ahp = spec.Iw_ahp ~= nil and spec.Iw_ahp or c.Io
  for _, n in ipairs(M.weight_fields) do c[n] = spec[n] ~= nil and spec[n] or K.weights[n] end
  for _, n in ipairs { "Idc", "If_nmda", "Ispkthr", "Iw_ahp", "Iw_0", "Iw_1", "Iw_2", "Iw_3" } do
    if type(c[n]) ~= "number" or not (c[n] >= 0) then
      argerror("from_specification", 1, ("field '%s' must be a non-negative current"):format(n), 2)
    end
  end
  return new_core(c)
end

--- core:copy() -> an independent copy
function Core:copy()
  local c = {}
  for k, v in pairs(self) do c[k] = v end
  return new_core(c)
end

--- core:update(name, value) -> a copy with one current or layout field set
function Core:update(name, value)
  if self[name] == nil then argerror("update", 1, ("no field '%s'"):format(tostring(name)), 2) end
  local c = self:copy()
  c[name] = value
  return c
end

--- core:update_time_constant(name, value) -> a copy with tau_* or t_* set (its current changed)
function Core:update_time_constant(name, value)
  local c = self:copy()
  positive("update_time_constant", name, value, 2)
  if M.taus[name] then c[M.taus[name][1]] = tau_to_current(c, value, c[M.taus[name][2]])
  elseif M.widths[name] then c[M.widths[name][1]] = width_to_current(c, value, c[M.widths[name][2]])
  else argerror("update_time_constant", 1, ("unknown time constant '%s'"):format(tostring(name)), 2) end
  return c
end

--- core:update_gain_ratio(name, value) -> a copy with Igain = value·Itau
function Core:update_gain_ratio(name, value)
  local g = M.gains[name]
  if not g then argerror("update_gain_ratio", 1, ("unknown gain ratio '%s'"):format(tostring(name)), 2) end
  local c = self:copy()
  c[g[1]] = value * c[g[2]]
  return c
end

--- core.time / core.gain: the high-level views (DynapSimTime, DynapSimGain)
function Core:time() return M.DynapSimTime.from_DynapSimCore(self) end
function Core:gain() return M.DynapSimGain.from_DynapSimCore(self) end

--- core:export_Dynapse2Parameters([tbl]) -> {bias_name = {coarse, fine}} for
-- every simulator current (constants.sim2device), through the bias
-- generator table in use (biasgen.use_table) or tbl.
function Core:export_Dynapse2Parameters(tbl)
  local out = {}
  for _, pair in ipairs(K.sim2device) do
    local cur, dev = pair[1], pair[2]
    local c, f = bg.analog_to_param(dev, self[cur], tbl)
    out[dev] = { c, f }
  end
  return out
end

--- DynapSimCore.from_Dynapse2Parameters(params[, opts]) -> core: the currents
-- a map {bias_name = {coarse, fine}} (or {coarse = , fine = }) sets, through
-- the bias generator; opts.layout: layout constants (default §2.2); opts.tbl.
-- Rockpool's from_Dynapse2Core on the parameter map of a core.
function Core.from_Dynapse2Parameters(params, opts)
  opts = opts or {}
  if type(params) ~= "table" then argerror("from_Dynapse2Parameters", 1, "table expected", 2) end
  local c = Core.defaults()
  for k, v in pairs(opts.layout or {}) do c[k] = v end
  for _, pair in ipairs(K.sim2device) do
    local cur, dev = pair[1], pair[2]
    local code = params[dev]
    if code == nil then
      argerror("from_Dynapse2Parameters", 1, ("no code for device bias '%s'"):format(dev), 2)
    end
    local coarse = code.coarse or code.coarse_value or code[1]
    local fine = code.fine or code.fine_value or code[2]
    c[cur] = bg.param_to_analog(dev, coarse, fine, opts.tbl)
  end
  return c
end

--- core:to_simulation() -> the 13 DynapSim currents of this core: the four
-- synapse types collapse to Igain_syn / Itau_syn = the AMPA values.
function Core:to_simulation()
  return {
    Idc = self.Idc, If_nmda = self.If_nmda, Igain_ahp = self.Igain_ahp, Igain_mem = self.Igain_mem,
    Igain_syn = self.Igain_ampa, Ipulse_ahp = self.Ipulse_ahp, Ipulse = self.Ipulse, Iref = self.Iref,
    Ispkthr = self.Ispkthr, Itau_ahp = self.Itau_ahp, Itau_mem = self.Itau_mem, Itau_syn = self.Itau_ampa,
    Iw_ahp = self.Iw_ahp,
  }
end

--- DynapSimCore.from_simulation(currents[, weights]) -> core: DynapSim's 13
-- currents (all four synapse types get Igain_syn / Itau_syn) and Iw_0..3.
function Core.from_simulation(cur, weights)
  local c = Core.defaults()
  for _, n in ipairs { "Idc", "If_nmda", "Igain_ahp", "Igain_mem", "Ipulse_ahp", "Ipulse", "Iref", "Ispkthr",
                       "Itau_ahp", "Itau_mem", "Iw_ahp" } do
    if cur[n] ~= nil then c[n] = cur[n] end
  end
  for _, syn in ipairs { "ampa", "gaba", "nmda", "shunt" } do
    if cur.Igain_syn ~= nil then c["Igain_" .. syn] = cur.Igain_syn end
    if cur.Itau_syn ~= nil then c["Itau_" .. syn] = cur.Itau_syn end
  end
  for _, n in ipairs(M.weight_fields) do
    if weights and weights[n] ~= nil then c[n] = weights[n] end
  end
  return c
end

function Core:__tostring()
  local parts = {}
  for _, n in ipairs(M.current_fields) do parts[#parts + 1] = ("%s=%.4g"):format(n, self[n]) end
  return "DynapSimCore(" .. table.concat(parts, ", ") .. ")"
end

-- DynapSimTime / DynapSimGain -----------------------------------------------------

local Time = { __name = "DynapSimTime" }
Time.__index = Time
M.DynapSimTime = Time

--- DynapSimTime.from_DynapSimCore(core) -> {t_pulse_ahp, t_pulse, t_ref, tau_ahp,
-- tau_ampa, tau_gaba, tau_nmda, tau_shunt, tau_mem} (s; nil where the current is not positive)
function Time.from_DynapSimCore(core)
  local t = {}
  for _, n in ipairs(M.width_order) do
    local I = core[M.widths[n][1]]
    t[n] = (I and I > 0) and current_to_width(core, I, core[M.widths[n][2]]) or nil
  end
  for _, n in ipairs(M.tau_order) do
    local I = core[M.taus[n][1]]
    t[n] = (I and I > 0) and current_to_tau(core, I, core[M.taus[n][2]]) or nil
  end
  return setmetatable(t, Time)
end

--- time:to_specification() -> the fields as a from_specification table
function Time:to_specification()
  local s = {}
  for k, v in pairs(self) do s[k] = v end
  return s
end

local Gain = { __name = "DynapSimGain" }
Gain.__index = Gain
M.DynapSimGain = Gain

--- DynapSimGain.from_DynapSimCore(core) -> {r_gain_ahp, r_gain_ampa, r_gain_gaba,
-- r_gain_nmda, r_gain_shunt, r_gain_mem}: Igain/Itau, nil unless both are positive
function Gain.from_DynapSimCore(core)
  local g = {}
  for _, n in ipairs(M.gain_order) do
    local gi, ti = core[M.gains[n][1]], core[M.gains[n][2]]
    g[n] = (gi and ti and gi > 0 and ti > 0) and gi / ti or nil
  end
  return setmetatable(g, Gain)
end

function Gain:to_specification()
  local s = {}
  for k, v in pairs(self) do s[k] = v end
  return s
end

return M
