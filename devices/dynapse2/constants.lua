-- devices/dynapse2/constants.lua -- the DynapSim model's constants
-- (reference/dynapse2.md §2.2, §2.3): layout defaults, default high-level
-- values, the default currents derived from them (as Rockpool's
-- DynapSimCore computes them, same float64 operations), the simulator
-- current -> device bias table with transistor type and scale factor
-- (§2.2, §3.2), and the conversions of §2.3 on plain numbers.
-- Not here: tensors and modules (dynapsim.lua), the DAC (biasgen.lua).
local C = {}

--- Layout (capacitors F, currents A, slopes, volts).
C.layout = {
  C_ahp = 40e-12, C_ampa = 24.5e-12, C_gaba = 25e-12, C_nmda = 25e-12, C_shunt = 24.5e-12,
  C_syn = 25e-12, C_pulse_ahp = 0.5e-12, C_pulse = 0.5e-12, C_ref = 1.5e-12, C_mem = 3e-12,
  Io = 5e-13, kappa_n = 0.75, kappa_p = 0.66, Ut = 25e-3, Vth = 7e-1,
}

--- Default high-level values (s, ratios).
C.high_level = {
  t_pulse_ahp = 1e-6, t_pulse = 10e-6, t_ref = 1e-3,
  tau_ahp = 50e-3, tau_ampa = 10e-3, tau_gaba = 10e-3, tau_nmda = 10e-3, tau_shunt = 10e-3, tau_mem = 20e-3,
  r_gain_ahp = 1, r_gain_ampa = 100, r_gain_gaba = 100, r_gain_nmda = 100, r_gain_shunt = 100, r_gain_mem = 4,
}

--- Weight base currents (A).
C.weights = { Iw_0 = 1e-9, Iw_1 = 2e-9, Iw_2 = 4e-9, Iw_3 = 8e-9 }

-- argument checks of the conversions: a positive finite number; a layout table
local function pos(fname, k, v, what)
  if type(v) ~= "number" or not (v > 0) or v == math.huge then
    error(("bad argument #%d to '%s' (%s must be a positive finite number, got %s)")
      :format(k, fname, what, type(v) == "number" and tostring(v) or type(v)), 3)
  end
end
local function layout(fname, k, L)
  if L == nil then return C.layout end
  if type(L) ~= "table" then
    error(("bad argument #%d to '%s' (layout table expected, got %s)"):format(k, fname, type(L)), 3)
  end
  for _, key in ipairs { "Ut", "kappa_n", "kappa_p", "Vth" } do
    local v = L[key]
    if type(v) ~= "number" or not (v > 0) or v == math.huge then
      error(("bad argument #%d to '%s' (field '%s' must be a positive finite number)"):format(k, fname, key), 3)
    end
  end
  return L
end

--- kappa = (kappa_n + kappa_p) / 2
function C.kappa(kn, kp)
  pos("kappa", 1, kn, "kappa_n")
  pos("kappa", 2, kp, "kappa_p")
  return (kn + kp) / 2
end

--- I_tau from tau: (Ut/kappa)·C/tau;  tau from I_tau: (Ut/kappa)·C/I
function C.tau_current(tau, Cap, L)
  pos("tau_current", 1, tau, "tau")
  pos("tau_current", 2, Cap, "the capacitance")
  L = layout("tau_current", 3, L)
  return (L.Ut / C.kappa(L.kappa_n, L.kappa_p)) * Cap / tau
end
function C.current_tau(I, Cap, L)
  pos("current_tau", 1, I, "the current")
  pos("current_tau", 2, Cap, "the capacitance")
  L = layout("current_tau", 3, L)
  return (L.Ut / C.kappa(L.kappa_n, L.kappa_p)) * Cap / I
end
--- pulse current from a width: Vth·C/t (and back: Vth·C/I)
function C.pulse_current(t, Cap, L)
  pos("pulse_current", 1, t, "the pulse width")
  pos("pulse_current", 2, Cap, "the capacitance")
  L = layout("pulse_current", 3, L)
  return L.Vth * Cap / t
end
function C.current_pulse(I, Cap, L)
  pos("current_pulse", 1, I, "the current")
  pos("current_pulse", 2, Cap, "the capacitance")
  L = layout("current_pulse", 3, L)
  return L.Vth * Cap / I
end

-- The default currents of DynapSim (§2.2).
do
  local L, H = C.layout, C.high_level
  local itau_ahp = C.tau_current(H.tau_ahp, L.C_ahp)
  local itau_ampa = C.tau_current(H.tau_ampa, L.C_ampa)
  local itau_mem = C.tau_current(H.tau_mem, L.C_mem)
  C.currents = {
    Idc = L.Io, If_nmda = L.Io,
    Igain_ahp = H.r_gain_ahp * itau_ahp,
    Igain_mem = H.r_gain_mem * itau_mem,
    Igain_syn = H.r_gain_ampa * itau_ampa,
    Ipulse_ahp = C.pulse_current(H.t_pulse_ahp, L.C_pulse_ahp),
    Ipulse = C.pulse_current(H.t_pulse, L.C_pulse),
    Iref = C.pulse_current(H.t_ref, L.C_ref),
    Ispkthr = 1e-7,
    Itau_ahp = itau_ahp, Itau_mem = itau_mem, Itau_syn = itau_ampa,
    Iw_ahp = L.Io,
  }
end

--- The 13 currents of a DynapSim neuron (and of a DynapseNeurons graph), in Rockpool's order.
C.current_names = { "Idc", "If_nmda", "Igain_ahp", "Igain_mem", "Igain_syn", "Ipulse_ahp", "Ipulse", "Iref",
                    "Ispkthr", "Itau_ahp", "Itau_mem", "Itau_syn", "Iw_ahp" }
--- The layout constants of a DynapSim neuron.
C.layout_names = { "C_ahp", "C_syn", "C_pulse_ahp", "C_pulse", "C_ref", "C_mem", "Io", "kappa_n", "kappa_p",
                   "Ut", "Vth" }

--- Scale factor of every device bias (§3.2), multiplying the DAC's current.
C.scale = {
  LBWR_VB_P = 0.57, SOIF_GAIN_N = 1.05, SOIF_LEAK_N = 0.61, SOIF_REFR_N = 1.05, SOIF_DC_P = 0.38,
  SOIF_SPKTHR_P = 0.38, SOIF_CC_N = 0.66, SOAD_PWTAU_N = 0.92, SOAD_GAIN_P = 0.68, SOAD_TAU_P = 0.2,
  SOAD_W_N = 0.92, SOAD_CASC_P = 0.385, SOCA_W_N = 0.92, SOCA_GAIN_P = 0.68, SOCA_TAU_P = 0.2,
  SOHO_VB_P = 1.47, SOHO_VH_P = 1.47, SOHO_VREF_P = 0.68, SOHO_VREF_L_P = 1.47, SOHO_VREF_H_P = 1.47,
  SOHO_VREF_M_P = 1.47, DEAM_ETAU_P = 0.2, DEAM_EGAIN_P = 0.68, DEAM_ITAU_P = 0.2, DEAM_IGAIN_P = 0.68,
  DENM_ETAU_P = 0.2, DENM_EGAIN_P = 0.68, DENM_ITAU_P = 0.2, DENM_IGAIN_P = 0.68, DEGA_IGAIN_P = 0.68,
  DEGA_ITAU_P = 0.2, DESC_IGAIN_P = 0.68, DESC_ITAU_P = 0.2, DENM_NMREV_N = 1.05, DEAM_VRES_P = 0.385,
  DEAM_HRES_P = 0.385, DEAM_NRES_P = 0.385, SYSA_VRES_N = 1.9, SYSA_VB_P = 1.9, SYPD_EXT_N = 0.92,
  SYPD_DYL0_P = 0.22, SYPD_DYL1_P = 0.22, SYPD_DYL2_P = 1.6, SYAM_W0_P = 0.22, SYAM_W1_P = 0.22,
  SYAM_W2_P = 0.22, SYAM_W3_P = 0.22, SYAW_STDSTR_N = 0.2, SYAM_STDW_N = 0.67, NCCF_CAL_REFBIAS_V = 1.0,
  NCCF_PWLK_P = 0.89, NCCF_HYS_P = 1.47, NCCF_BIAS_P = 1.47, NCCF_CAL_OFFBIAS_P = 1.0, SYAM_STDWCCB = 1.7,
  R2R_BUFFER_CCB = 1.7,
}

--- Simulator current (DynapSimCore field) -> device bias, in the export order of §3.3.
C.sim2device = {
  { "Idc", "SOIF_DC_P" }, { "If_nmda", "DENM_NMREV_N" }, { "Igain_ahp", "SOAD_GAIN_P" },
  { "Igain_ampa", "DEAM_EGAIN_P" }, { "Igain_gaba", "DEGA_IGAIN_P" }, { "Igain_nmda", "DENM_EGAIN_P" },
  { "Igain_shunt", "DESC_IGAIN_P" }, { "Igain_mem", "SOIF_GAIN_N" }, { "Ipulse_ahp", "SOAD_PWTAU_N" },
  { "Ipulse", "SYPD_EXT_N" }, { "Iref", "SOIF_REFR_N" }, { "Ispkthr", "SOIF_SPKTHR_P" },
  { "Itau_ahp", "SOAD_TAU_P" }, { "Itau_ampa", "DEAM_ETAU_P" }, { "Itau_gaba", "DEGA_ITAU_P" },
  { "Itau_nmda", "DENM_ETAU_P" }, { "Itau_shunt", "DESC_ITAU_P" }, { "Itau_mem", "SOIF_LEAK_N" },
  { "Iw_0", "SYAM_W0_P" }, { "Iw_1", "SYAM_W1_P" }, { "Iw_2", "SYAM_W2_P" }, { "Iw_3", "SYAM_W3_P" },
  { "Iw_ahp", "SOAD_W_N" },
}

--- The transistor type of a device bias: its last character ("N" or "P"; "N" otherwise).
function C.bias_type(name)
  if type(name) ~= "string" then
    error(("bad argument #1 to 'bias_type' (a bias name expected, got %s)"):format(type(name)), 2)
  end
  local t = name:sub(-1)
  if t == "P" then return "P" end
  return "N"
end

return C
