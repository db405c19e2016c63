-- devices/dynapse2/dynapsim.lua -- nn.DynapSim, the Dynap-SE2 neuron model
-- (reference/dynapse2.md §2; Rockpool's DynapSim), and its graph module
-- DynapseNeurons (§2.6).
-- Owns: options and defaults (Rockpool's names), the per-neuron parameter
-- layout, the conversion of currents to the coefficients of the fused C op
-- (§2.3, with differentiable tensor ops: a current made trainable gets its
-- gradient through them), the state rule (every batch row starts from the
-- module state; row 1's final state is kept), frozen mismatch at
-- construction (§10, mismatch.lua), as_graph / from_graph.
-- The time loop and its BPTT are core._dynapse2.dynapsim (dynapsim.c).
--
-- Decisions on the reference's quirks (§13), for the neuron model:
--  1. Inhibition clamp (Isyn_inf = max(gain·Iws, Io)): kept. It is the
--     model the chip's configuration is simulated with; a net negative drive
--     in a step has no effect (the `negative_weights` oracle case).
--  2. Leak subtracted twice in Imem_inf, feedback from the previous step's
--     vmem: kept, the reference's equations exactly (the oracles pin them).
--  3. Spike output is a count, ceil(ln(imem/Ispkthr)): kept (an integer
--     count per step, as recorded; more than 1 only far above threshold).
--  4. Surrogate: Rockpool's straight-through estimator, dn/dimem = 1 per
--     ampere wherever imem > Io, is the default (surrogate = "per_ampere"),
--     so Rockpool's training recipes (Adam, scale-invariant) behave the same;
--     surrogate = "per_threshold" scales it by 1/Ispkthr (dimensionless, the
--     better choice for SGD). The reset and the refractory gate pass no
--     gradient through their condition (as jnp.where does); no gradient
--     reaches Ispkthr or Iref.
--  5. If_nmda stored but unused; the four synapse types collapsed into one
--     DPI (one Itau_syn / Igain_syn / C_syn): kept, it is the model.
--  9. The synapse current is the state `isyn` (not `iampa`), in the state
--     and in the record.
local lp = require "limpet"
local core = require "limpet.core"
local Module = require "limpet.nn.module"
local P = require "limpet.nn.parameters"
local U = require "limpet.nn.util"
local K = require "limpet.dynapse2.constants"

local DynapSim = Module:extend("DynapSim")

local CURRENTS, LAYOUT = K.current_names, K.layout_names
local PER_NEURON = {}
for _, n in ipairs(CURRENTS) do PER_NEURON[#PER_NEURON + 1] = n end
for _, n in ipairs(LAYOUT) do PER_NEURON[#PER_NEURON + 1] = n end
DynapSim.current_names = CURRENTS
DynapSim.layout_names = LAYOUT
DynapSim.per_neuron_names = PER_NEURON

DynapSim.defaults = {
  Iscale = 1e-8, dt = 1e-3, has_rec = false, w_rec = U.NONE, percent_mismatch = U.NONE, seed = U.NONE,
  spiking_input = false, spiking_output = true, dtype = "float32", surrogate = "per_ampere",
  reference = false,
}
for _, n in ipairs(CURRENTS) do DynapSim.defaults[n] = K.currents[n] end
for _, n in ipairs(LAYOUT) do DynapSim.defaults[n] = K.layout[n] end
DynapSim.defaults.C_syn = K.layout.C_ampa   -- DynapSim's C_syn is C_ampa (24.5 pF)

local SURROGATES = { per_ampere = true, per_threshold = true }

-- shape: N or {N, N}; 0 neurons allowed (the mapper refuses them).
local function neurons(shape)
  local a, b
  if math.type(shape) == "integer" then a, b = shape, shape
  elseif type(shape) == "table" and not lp.is_tensor(shape) and (#shape == 1 or #shape == 2) then
    a, b = shape[1], shape[#shape]
    if #shape > 2 then a = nil end
  end
  if type(shape) == "table" and not lp.is_tensor(shape) and #shape > 2 then
    U.argerror("DynapSim", 1, "shape must be N or {N, N}: more than two dimensions", 4)
  end
  if math.type(a) ~= "integer" or math.type(b) ~= "integer" or a < 0 or b < 0 then
    U.argerror("DynapSim", 1, "shape must be N or {N, N}", 4)
  end
  if a ~= b then
    U.argerror("DynapSim", 1, ("Multapses are not currently supported in DynapSim pipeline! (input size %d, %d neurons)")
      :format(a, b), 4)
  end
  return b
end

-- A per-neuron value (number, table, (N) tensor, or nn.Parameter(...) of one)
-- -> kind, (N) tensor of dtype.
local function per_neuron(name, v, N, dtype)
  local kind = "simulation"
  if P.is_descriptor(v) then
    kind = v.kind == "parameter" and "parameter" or "simulation"
    v = v.value
  end
  v = P.unconstant(v)
  local t, msg
  if type(v) == "number" then
    t = lp.full({ N }, v + 0.0, dtype)
  else
    t, msg = U.to_tensor(v)
    if not t then U.argerror("DynapSim", 2, ("field '%s': %s"):format(name, msg), 5) end
    if t:numel() == 1 and N ~= 1 then
      t = lp.full({ N }, t:reshape(-1):get(1), dtype)
    elseif t:numel() ~= N then
      U.argerror("DynapSim", 2, ("field '%s': expected a number or shape (%d,), got %s")
        :format(name, N, U.fmt_shape(t.shape)), 5)
    else
      t = t:reshape({ N }):astype(dtype)
    end
  end
  return kind, t
end

--- nn.DynapSim(N, {Idc, If_nmda, Igain_ahp, Igain_mem, Igain_syn, Ipulse_ahp,
--   Ipulse, Iref, Ispkthr, Itau_ahp, Itau_mem, Itau_syn, Iw_ahp, C_ahp, C_syn,
--   C_pulse_ahp, C_pulse, C_ref, C_mem, Io, kappa_n, kappa_p, Ut, Vth (each a
--   number or (N) values; nn.Parameter(v) makes one trainable), Iscale = 1e-8,
--   dt = 1e-3, has_rec = false, w_rec (N, N), percent_mismatch, seed,
--   dtype = "float32", surrogate = "per_ampere" | "per_threshold",
--   spiking_input, spiking_output (Rockpool's flags, kept), reference = false
--   (true: the plain reference loops of dynapsim_kernels.h, dense w_rec:
--   slower, for checking the fast ones)})
function DynapSim:init(shape, opts)
  local N = neurons(shape)
  opts = U.options("DynapSim", 2, opts, DynapSim.defaults, 3)
  local dtype = opts.dtype
  if dtype ~= "float32" and dtype ~= "float64" then
    U.argerror("DynapSim", 2, ("field 'dtype' must be float32 or float64, got %s"):format(tostring(dtype)), 3)
  end
  if type(opts.dt) ~= "number" or not (opts.dt > 0) then
    U.argerror("DynapSim", 2, "field 'dt' must be a positive number", 3)
  end
  if type(opts.Iscale) ~= "number" or not (opts.Iscale > 0) then
    U.argerror("DynapSim", 2, "field 'Iscale' must be a positive number", 3)
  end
  if not SURROGATES[opts.surrogate] then
    U.argerror("DynapSim", 2, ("field 'surrogate' must be per_ampere or per_threshold, got %s")
      :format(tostring(opts.surrogate)), 3)
  end
  local pm = opts.percent_mismatch
  if pm ~= nil and (type(pm) ~= "number" or pm < 0) then
    U.argerror("DynapSim", 2, "field 'percent_mismatch' must be a non-negative number", 3)
  end
  if opts.seed ~= nil and math.type(opts.seed) ~= "integer" then
    U.argerror("DynapSim", 2, "field 'seed' must be an integer", 3)
  end
  if N > 0 then Module.init(self, { N, N })
  else rawset(self, "shape", { 0, 0 }); rawset(self, "size_in", 0); rawset(self, "size_out", 0) end
  rawset(self, "dtype", dtype)
  local values = {}
  for _, name in ipairs(PER_NEURON) do
    local kind, t = per_neuron(name, opts[name], N, dtype)
    values[name] = { kind, t }
  end
  -- frozen mismatch of the fabricated chip (§10): every current and layout constant
  if pm ~= nil and pm > 0 and N > 0 then
    local M = require "limpet.dynapse2.mismatch"
    local seed = opts.seed or M.draw_seed()
    for i, name in ipairs(M.frozen_names) do
      values[name][2] = M.perturb(values[name][2], pm, seed, i)
    end
    rawset(self, "mismatch_seed", seed)
  end
  for _, name in ipairs(PER_NEURON) do
    local kind, t = values[name][1], values[name][2]
    self:_register(kind, name, t, { shape = { N }, family = kind == "parameter" and "currents" or nil }, 2)
  end
  local has_rec = opts.has_rec or opts.w_rec ~= nil
  if has_rec then
    local w = opts.w_rec
    if w ~= nil then
      local t, msg = U.to_tensor(P.unconstant(w))
      if not t then U.argerror("DynapSim", 2, "field 'w_rec': " .. msg, 3) end
      if not U.same_shape(t.shape, { N, N }) then
        U.argerror("DynapSim", 2, ("field 'w_rec': expected shape (%d, %d), got %s"):format(N, N, U.fmt_shape(t.shape)), 3)
      end
      w = t:astype(dtype)
      if P.is_constant(opts.w_rec) then w = P.Constant(w) end
    end
    self:parameter("w_rec", w, { shape = { N, N }, family = "weights",
      init = function(s)
        local bound = math.sqrt(6 / math.max(N, 1))
        return (lp.rand(s) * (2 * bound) - bound):astype(dtype)
      end })
  end
  rawset(self, "has_rec", has_rec and true or false)
  self:simulation_parameter("Iscale", opts.Iscale)
  self:simulation_parameter("dt", opts.dt)
  self:simulation_parameter("surrogate", opts.surrogate)
  rawset(self, "_spiking_input", opts.spiking_input and true or false)     -- read as mod.spiking_input
  rawset(self, "_spiking_output", opts.spiking_output and true or false)
  rawset(self, "percent_mismatch", pm)
  rawset(self, "reference", opts.reference and true or false)
  local Io = self.Io
  self:state("iahp", Io:clone(), { shape = { N } })
  self:state("imem", Io:clone(), { shape = { N } })
  self:state("isyn", Io:clone(), { shape = { N } })
  self:state("spikes", lp.zeros({ N }, dtype), { shape = { N } })
  self:state("timer_ref", lp.zeros({ N }, dtype), { shape = { N } })
  self:state("vmem", lp.zeros({ N }, dtype), { shape = { N } })
end

--- mod:coefficients() -> the fused op's per-neuron coefficients (§2.3), as
-- tensors carrying gradients from any trainable current.
function DynapSim:coefficients()
  local Io = self.Io
  local dt = self.dt
  local function clamp(I) return lp.maximum(I, Io) end
  local kappa = (self.kappa_n + self.kappa_p) / 2
  local utk = self.Ut / kappa
  local itau_syn, igain_syn = clamp(self.Itau_syn), clamp(self.Igain_syn)
  local itau_ahp, igain_ahp = clamp(self.Itau_ahp), clamp(self.Igain_ahp)
  local itau_mem, igain_mem = clamp(self.Itau_mem), clamp(self.Igain_mem)
  local tau_syn = utk * self.C_syn / itau_syn
  local tau_ahp = utk * self.C_ahp / itau_ahp
  local t_pulse = self.Vth * self.C_pulse / self.Ipulse
  local t_pulse_ahp = self.Vth * self.C_pulse_ahp / self.Ipulse_ahp
  local c = {
    syn_a = lp.exp((-dt) / tau_syn),
    syn_q = 1 - lp.exp(-(t_pulse / tau_syn)),
    syn_g = igain_syn / itau_syn * self.Iscale,
    ahp_a = lp.exp((-dt) / tau_ahp),
    ahp_h = (1 - lp.exp(-(t_pulse_ahp / tau_ahp))) * (igain_ahp / itau_ahp * self.Iw_ahp),
    itau_mem = itau_mem, igain_mem = igain_mem, idc = self.Idc, io = Io,
    mem_c = utk * self.C_mem,
    fv = kappa * kappa / ((kappa + 1) * self.Ut),
    utk = utk,
    ispkthr = self.Ispkthr:detach(),
    t_ref = (self.Vth * self.C_ref / self.Iref):detach(),
  }
  if self.surrogate == "per_threshold" then c.sg = 1 / self.Ispkthr:detach() end
  return c
end

-- The high-level view of the current parameters (§2.3), float64 tensors.
function DynapSim:time_constants()
  local function f(t) return t:detach():astype("float64") end
  local kappa = (f(self.kappa_n) + f(self.kappa_p)) / 2
  local utk = f(self.Ut) / kappa
  local Io = f(self.Io)
  return {
    tau_syn = utk * f(self.C_syn) / lp.maximum(f(self.Itau_syn), Io),
    tau_ahp = utk * f(self.C_ahp) / lp.maximum(f(self.Itau_ahp), Io),
    tau_mem = utk * f(self.C_mem) / lp.maximum(f(self.Itau_mem), Io),
    t_ref = f(self.Vth) * f(self.C_ref) / f(self.Iref),
    t_pulse = f(self.Vth) * f(self.C_pulse) / f(self.Ipulse),
    t_pulse_ahp = f(self.Vth) * f(self.C_pulse_ahp) / f(self.Ipulse_ahp),
  }
end

local STATE = { "iahp", "imem", "isyn", "spikes", "timer_ref", "vmem" }

-- w_rec's non-zeros (CSR, by rows and by rows of the transpose) for the
-- fused op, kept from call to call while w_rec is the same tensor with the
-- same storage version (an optimiser step or any in-place write changes
-- it): the op then skips scanning the (N, N) matrix, which at batch 1 costs
-- as much as a tenth of a simulated second.
function DynapSim:_csr(opts)
  local w = opts.w_rec
  local c = rawget(self, "_csr_cache")
  local v = core._dynapse2.version(w)
  if not (c and c.w == w and c.version == v and c.dtype == w.dtype) then
    local p, i, val = core._dynapse2.csr(w:detach(), false)
    c = { w = w, version = v, dtype = w.dtype, sparse = p ~= nil }
    if p then
      c.ptr, c.idx, c.val = p, i, val
      c.tptr, c.tidx, c.tval = core._dynapse2.csr(w:detach(), true)
    end
    rawset(self, "_csr_cache", c)
  end
  if c.sparse then
    opts.w_ptr, opts.w_idx, opts.w_val = c.ptr, c.idx, c.val
    opts.wt_ptr, opts.wt_idx, opts.wt_val = c.tptr, c.tidx, c.tval
  end
end

--- mod(x[, record]) -> spikes (B, T, N), state, record {iahp, imem, isyn,
-- spikes, vmem} (each (B, T, N)). x: (T, N) or (B, T, N), the weighted
-- input in multiples of Iscale.
function DynapSim:evolve(x, record)
  local B, T
  x, B, T = self:_auto_batch(x)
  if x.dtype ~= self.dtype then x = x:astype(self.dtype) end
  local N = self.size_out
  local opts = self:coefficients()
  opts.w_rec = self.has_rec and self.w_rec or nil
  if opts.w_rec and not self.reference then self:_csr(opts) end
  for _, n in ipairs(STATE) do opts[n] = self[n] end
  opts.dt = self.dt
  opts.record = record and true or false
  opts.reference = self.reference or nil
  local spikes, rec, final = core._dynapse2.dynapsim(x, opts)
  local vals = self._values
  for _, n in ipairs(STATE) do vals[n] = final[n][1]:clone() end
  local out = {}
  if record then
    out = { iahp = rec.iahp, imem = rec.imem, isyn = rec.isyn, spikes = spikes, vmem = rec.vmem }
  end
  return spikes, self:state(), out
end

-- graphs ------------------------------------------------------------------------

local G = require "limpet.graph"
local DynapseNeurons = rawget(G, "DynapseNeurons")
if not DynapseNeurons then
  DynapseNeurons = G.GenericNeurons:extend("DynapseNeurons")
  local fields = { Iscale = {}, dt = {} }
  for _, n in ipairs(CURRENTS) do fields[n] = { size = "out" } end
  DynapseNeurons.fields = fields
  rawset(G, "DynapseNeurons", DynapseNeurons)
end

--- mod:as_graph() -> DynapseNeurons (the 13 currents per neuron, Iscale, dt);
-- with a non-zero w_rec, a GraphHolder that adds the recurrent LinearWeights
-- from the output nodes back to the input nodes.
function DynapSim:as_graph()
  local N = self.size_out
  local name = self:_graph_name()
  local fields = { Iscale = self.Iscale, dt = self.dt }
  for _, n in ipairs(CURRENTS) do fields[n] = self[n]:detach():astype("float64") end
  local neurons_g = DynapseNeurons:factory(N, N, name, self, fields)
  local w = self.has_rec and self.w_rec:detach() or nil
  if w == nil or N == 0 or lp.sum(lp.abs(w)):item() == 0 then return neurons_g end
  G.LinearWeights(neurons_g.output_nodes, neurons_g.input_nodes, name .. "_recurrent", self,
    { weights = w:astype("float64") })
  return G.GraphHolder(neurons_g.input_nodes, neurons_g.output_nodes, name, self)
end

--- DynapSim.from_graph(neurons[, weights[, opts]]) -> DynapSim: the currents,
-- Iscale and dt of a DynapseNeurons graph module, w_rec from a LinearWeights
-- (no biases). opts: more DynapSim options (dtype, percent_mismatch, ...).
function DynapSim.from_graph(neurons_g, weights, opts)
  if not (type(neurons_g) == "table" and neurons_g.Itau_mem ~= nil and neurons_g.output_nodes) then
    U.argerror("from_graph", 1, "a DynapseNeurons graph module expected", 2)
  end
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  for _, n in ipairs(CURRENTS) do o[n] = neurons_g[n] end
  o.Iscale = neurons_g.Iscale or o.Iscale
  o.dt = neurons_g.dt or o.dt
  if weights ~= nil then
    if weights.biases ~= nil then error("Recurrent weight layer biases cannot be defined!", 2) end
    o.w_rec = weights.weights
  end
  return DynapSim(#neurons_g.output_nodes, o)
end

do                                  -- nn.save / nn.load know the class
  local S = require "limpet.nn.serialize"
  if not S.registered("DynapSim") then S.register(DynapSim) end
end

return { DynapSim = DynapSim, DynapseNeurons = DynapseNeurons }
