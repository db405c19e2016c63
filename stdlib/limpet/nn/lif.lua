-- stdlib/limpet/nn/lif.lua -- LIF layers (Rockpool's LIFTorch family):
-- nn.LIF, nn.LIFBitshift, nn.LIFNeuron, nn.aLIF.
-- Owns: options, parameter / state layout, the decays computed from the
-- parameters with differentiable tensor ops (leak modes taus, decays,
-- bitshifts, as Rockpool: each mode takes its own parameters, tau_mem /
-- tau_syn, alpha / beta or dash_mem / dash_syn, and the others are computed
-- views), noise, the records (vmem, isyn, irec always, spikes; aLIF adds
-- iahp and its current as the last synapse of isyn) and the state rule
-- (every batch row starts from the module state; row 1's final state is
-- kept). The dynamics over all T steps and their BPTT backward are one fused
-- C op, core.lif (lua/l_neuron.c).
-- Decays exp(-dt/tau) are computed in float64 and rounded once to the
-- parameter's dtype, so they are the correctly rounded float32 values
-- torch gets (a float32 exp of a float32 quotient is one ulp off).
-- Layout: shape N or {k·N, N}; input column j feeds neuron ceil(j/k),
-- synapse ((j-1) mod k)+1; tau_syn / beta / isyn are (N, k); w_rec (N, k·N).
-- Fan-out limit (rec_fanout = F, an option of LIF, LIFBitshift and aLIF;
-- limpet's own, for Xylo): each neuron drives at most F recurrent targets,
-- its F largest |w_rec| entries (a structured top-k over its row, ties to
-- the lower column), chosen afresh from the current weights on every
-- forward pass. The other entries count as zero: they get no gradient,
-- as_graph exports them as zeros, and core.lif steps through each neuron's
-- target list (rec_targets) rather than its whole row. So a recurrent layer
-- wider than Xylo Audio 2's 64 recurrent targets per neuron maps without
-- edits (rec_fanout = 64). rec_block = b (dividing rec_fanout and k·N):
-- the top-k keeps whole blocks of b adjacent columns (the rec_fanout / b
-- blocks with the largest sum of |w|); with b = 8 core.lif steps each block
-- as one vector (bench/rec_fanout.lua: the fastest form on CPUs).
-- Deliberately earlier than Rockpool: {Nin, N} with Nin not a multiple of N
-- is refused here, at construction (Rockpool fails later, in its mapper).
local lp = require "limpet"
local core = require "limpet.core"
local Module = require "limpet.nn.module"
local P = require "limpet.nn.parameters"
local U = require "limpet.nn.util"
local V = require "limpet.nn.validate"

local LN2 = math.log(2)
local SPIKE_FNS = { StepPWL = true, PeriodicExponential = true, FastSigmoid = true, ATan = true }
local LEAK_MODES = { taus = true, decays = true, bitshifts = true }

local LIF = Module:extend("LIF")
LIF._checks_in_evolve = true
LIF._spiking_input, LIF._spiking_output = true, true
-- The leak parameters have no default here: each leak mode takes its own
-- (taus: tau_mem, tau_syn = 20 ms; decays: alpha, beta = 0.5; bitshifts:
-- dash_mem, dash_syn = 1, Rockpool's defaults) and refuses the others.
LIF.defaults = {
  tau_mem = U.NONE, tau_syn = U.NONE, alpha = U.NONE, beta = U.NONE,
  dash_mem = U.NONE, dash_syn = U.NONE, bias = 0, threshold = 1,
  has_rec = false, w_rec = U.NONE, weight_init_func = U.NONE, dt = 1e-3, noise_std = 0,
  max_spikes_per_dt = 65536, spike_generation_fn = "StepPWL",
  surrogate_scale = U.NONE, learning_window = 0.5, leak_mode = "taus", rec_fanout = U.NONE,
  rec_block = U.NONE,
}
local LEAK_PARAMS = {
  taus = { "tau_mem", "tau_syn", 20e-3, "taus" },
  decays = { "alpha", "beta", 0.5, "decays" },
  bitshifts = { "dash_mem", "dash_syn", 1, "bitshifts" },
}

--- LIF.decay_of(dt, tau) -> exp(-dt / tau), computed in float64 and
-- rounded once to tau's dtype (differentiable).
local function decay_of(dt, tau)
  if type(dt) ~= "number" or not (dt > 0) or dt == math.huge then
    U.argerror("decay_of", 1, "dt must be a positive finite number, got " .. tostring(dt), 2)
  end
  if not lp.is_tensor(tau) then U.argerror("decay_of", 2, "a tensor of time constants expected, got " .. type(tau), 2) end
  local dtype = tau.dtype
  if dtype == "float64" then return lp.exp((-dt) / tau) end
  return lp.exp((-dt) / tau:astype("float64")):astype(dtype)
end
LIF.decay_of = decay_of

-- value (maybe nn.Constant) -> converted by f, still constant if it was
local function keep_const(v, f)
  local x, c = P.unconstant(v)
  x = f(x)
  if c then return P.Constant(x) end
  return x
end

-- tau_syn-like values: a number, (N), (N, k) or (k·N) -> (N, k)
local function per_synapse(fname, field, v, N, k)
  return keep_const(v, function(x)
    if lp.is_tensor(x) or type(x) == "table" then
      local t, msg = U.to_tensor(x)
      if not t then U.argerror(fname, 2, ("field '%s': %s"):format(field, msg), 6) end
      if t:dim() == 1 and t.shape[1] == N and k > 1 then
        return t:reshape({ N, 1 }):expand({ N, k }):contiguous():clone()
      end
      if t:dim() == 2 and t.shape[1] == 1 and t.shape[2] == k and N > 1 then   -- (1, k): Rockpool's shared taus
        return t:expand({ N, k }):contiguous():clone()
      end
      if t:numel() ~= 1 and t:numel() ~= N * k then
        U.argerror(fname, 2, ("field '%s': expected a number or shape (%d,) or (%d, %d), got %s")
          :format(field, N, N, k, U.fmt_shape(t.shape)), 6)
      end
      return t
    end
    return x
  end)
end

local function per_neuron(fname, field, v, N)
  return keep_const(v, function(x)
    if lp.is_tensor(x) or type(x) == "table" then
      local t, msg = U.to_tensor(x)
      if not t then U.argerror(fname, 2, ("field '%s': %s"):format(field, msg), 6) end
      if t:numel() ~= 1 and t:numel() ~= N then
        U.argerror(fname, 2, ("field '%s': expected a number or shape (%d,), got %s")
          :format(field, N, U.fmt_shape(t.shape)), 6)
      end
      return t
    end
    return x
  end)
end

-- LIF shape: N or {k·N, N}
local function lif_shape(fname, shape)
  local nin, n
  if math.type(shape) == "integer" and shape > 0 then nin, n = shape, shape
  elseif type(shape) == "table" and not lp.is_tensor(shape) and (#shape == 1 or #shape == 2)
    and math.type(shape[1]) == "integer" and math.type(shape[#shape]) == "integer"
    and shape[1] > 0 and shape[#shape] > 0 then
    nin, n = shape[1], shape[#shape]
  else
    U.argerror(fname, 1, "shape must be N or {k*N, N}", 4)
  end
  if nin % n ~= 0 then
    U.argerror(fname, 1, ("input size %d is not a multiple of the %d neurons"):format(nin, n), 4)
  end
  return nin, n, nin // n
end

-- The common constructor of LIF, LIFBitshift and aLIF.
function LIF:_setup(fname, shape, opts, defaults)
  local split
  shape, opts, split = U.split_shape(fname, shape, opts, 4)
  if split then rawset(self, "_args", table.pack(shape, opts)) end
  local nin, N, k = lif_shape(fname, shape)
  opts = U.options(fname, 2, opts, defaults, 4)
  opts.leak_mode = opts.leak_mode or "taus"
  if not SPIKE_FNS[opts.spike_generation_fn] then
    U.argerror(fname, 2, ("field 'spike_generation_fn' must be one of StepPWL, PeriodicExponential, FastSigmoid, ATan, got '%s'")
      :format(tostring(opts.spike_generation_fn)), 4)
  end
  if not LEAK_MODES[opts.leak_mode] then
    U.argerror(fname, 2, ("field 'leak_mode' must be one of taus, decays, bitshifts, got '%s'")
      :format(tostring(opts.leak_mode)), 4)
  end
  -- each leak mode takes its own parameters only (Rockpool raises too)
  local mine = LEAK_PARAMS[opts.leak_mode]
  for _, mode in ipairs { "taus", "decays", "bitshifts" } do
    if mode ~= opts.leak_mode then
      for i = 1, 2 do
        local f = LEAK_PARAMS[mode][i]
        if opts[f] ~= nil then
          U.argerror(fname, 2, ("field '%s' belongs to leak_mode '%s'; with leak_mode '%s' give %s and %s")
            :format(f, mode, opts.leak_mode, mine[1], mine[2]), 4)
        end
      end
    end
  end
  if type(opts.dt) ~= "number" or not (opts.dt > 0) then
    U.argerror(fname, 2, "field 'dt' must be a positive number", 4)
  end
  local ms = opts.max_spikes_per_dt
  if type(ms) ~= "number" or ms < 1 then
    U.argerror(fname, 2, "field 'max_spikes_per_dt' must be a positive number", 4)
  end
  if type(opts.noise_std) ~= "number" or opts.noise_std < 0 then
    U.argerror(fname, 2, "field 'noise_std' must be a non-negative number", 4)
  end
  Module.init(self, nin == N and N or { nin, N })
  rawset(self, "n_synapses", k)
  local dt = opts.dt
  local m1, m2, default, family = mine[1], mine[2], mine[3], mine[4]
  local v1 = opts[m1]; if v1 == nil then v1 = default end
  local v2 = opts[m2]; if v2 == nil then v2 = default end
  -- optimisers step time constants and thresholds in log space and decays
  -- in logit space (nn/parameters.lua), so training keeps them valid
  local space = ({ taus = { space = "log" }, decays = { space = "logit" } })[family]
  self:parameter(m1, per_neuron(fname, m1, v1, N), { shape = { N }, family = family, constraint = space })
  self:parameter(m2, per_synapse(fname, m2, v2, N, k), { shape = { N, k }, family = family, constraint = space })
  self:parameter("bias", per_neuron(fname, "bias", opts.bias, N), { shape = { N }, family = "bias" })
  self:parameter("threshold", per_neuron(fname, "threshold", opts.threshold, N),
    { shape = { N }, family = "thresholds", range = "positive", constraint = { space = "log" } })
  local has_rec = opts.has_rec or opts.w_rec ~= nil
  if opts.weight_init_func ~= nil and type(opts.weight_init_func) ~= "function" then
    U.argerror(fname, 2, "field 'weight_init_func' must be a function(shape) -> tensor", 4)
  end
  if has_rec then
    self:parameter("w_rec", opts.w_rec, { shape = { N, k * N }, family = "weights",
      init = opts.weight_init_func or function(s)
        local bound = math.sqrt(6 / (k * N))
        return lp.rand(s) * (2 * bound) - bound
      end })
  end
  rawset(self, "has_rec", has_rec and true or false)
  if opts.rec_fanout ~= nil then
    local F = opts.rec_fanout
    if math.type(F) ~= "integer" or F < 1 then
      U.argerror(fname, 2, ("field 'rec_fanout' must be a positive integer, got %s"):format(tostring(F)), 4)
    end
    if not has_rec then U.argerror(fname, 2, "field 'rec_fanout' needs has_rec = true (or w_rec)", 4) end
    rawset(self, "rec_fanout", F)
  end
  if opts.rec_block ~= nil then
    local b, F = opts.rec_block, opts.rec_fanout
    if math.type(b) ~= "integer" or b < 1 then
      U.argerror(fname, 2, ("field 'rec_block' must be a positive integer, got %s"):format(tostring(b)), 4)
    end
    if F == nil then U.argerror(fname, 2, "field 'rec_block' needs rec_fanout", 4) end
    if F % b ~= 0 or (k * N) % b ~= 0 then
      U.argerror(fname, 2, ("field 'rec_block' (%d) must divide rec_fanout (%d) and the %d recurrent columns")
        :format(b, F, k * N), 4)
    end
    rawset(self, "rec_block", b)
  end
  self:simulation_parameter("dt", dt)
  self:simulation_parameter("noise_std", opts.noise_std)
  self:simulation_parameter("max_spikes_per_dt", ms)
  self:simulation_parameter("spike_generation_fn", opts.spike_generation_fn)
  self:simulation_parameter("learning_window", opts.learning_window)
  if opts.surrogate_scale ~= nil then self:simulation_parameter("surrogate_scale", opts.surrogate_scale) end
  self:simulation_parameter("leak_mode", opts.leak_mode)
  self:state("vmem", 0, { shape = { N } })
  self:state("isyn", 0, { shape = { N, k } })
  self:state("spikes", 0, { shape = { N } })
  return opts, N, k
end

--- nn.LIF(shape, {tau_mem, tau_syn | alpha, beta | dash_mem, dash_syn,
--   bias, threshold, has_rec, w_rec, weight_init_func, dt, noise_std, max_spikes_per_dt,
--   spike_generation_fn, surrogate_scale, learning_window, leak_mode, rec_fanout, rec_block});
--   the options may also sit in the shape table: nn.LIF{8, tau_mem = 0.05}
function LIF:init(shape, opts) self:_setup("LIF", shape, opts, LIF.defaults) end

-- straight-through round: forward round(x), gradient 1
local function round_ste(x)
  return x + (lp.round(x) - x):detach()
end
LIF.round_ste = round_ste

local function bitshift_decay(dash)   -- 1 - 2^-dash, in float64, rounded once
  local d = 1 - lp.exp(dash:astype("float64") * (-LN2))
  if dash.dtype ~= "float64" then d = d:astype(dash.dtype) end
  return d
end

--- mod:decays() -> alpha (N), beta (N, k) as tensors carrying gradients.
function LIF:decays()
  local mode = self.leak_mode
  if mode == "decays" then return self.alpha, self.beta end
  if mode == "bitshifts" then
    return bitshift_decay(round_ste(self.dash_mem)), bitshift_decay(round_ste(self.dash_syn))
  end
  return decay_of(self.dt, self.tau_mem), decay_of(self.dt, self.tau_syn)
end

-- The leak parameters of the other modes, as views computed from this
-- mode's (Rockpool's conversions: alpha = exp(-dt/tau), dash = -log2(1 -
-- alpha)); assigning one sets this mode's parameter to match.
local function f64(t) return t:astype("float64") end
local function back(t, like) return like.dtype == "float64" and t or t:astype(like.dtype) end
local VIEWS = {}
function VIEWS.alpha(m) local a = m:decays(); return a end
function VIEWS.beta(m) local _, b = m:decays(); return b end
function VIEWS.tau_mem(m) local a = m:decays(); return back(lp.tensor(-m.dt, "float64") / lp.log(f64(a)), a) end
function VIEWS.tau_syn(m) local _, b = m:decays(); return back(lp.tensor(-m.dt, "float64") / lp.log(f64(b)), b) end
function VIEWS.dash_mem(m) local a = m:decays(); return back(-lp.log(1 - f64(a)) * (1 / LN2), a) end
function VIEWS.dash_syn(m) local _, b = m:decays(); return back(-lp.log(1 - f64(b)) * (1 / LN2), b) end
-- a value of view `name` -> the value of this mode's parameter
local function from_view(m, name, v)
  local t = lp.is_tensor(v) and v:detach():astype("float64") or lp.tensor(v, "float64")
  local decay
  if name == "alpha" or name == "beta" then decay = t
  elseif name == "tau_mem" or name == "tau_syn" then decay = lp.exp(lp.tensor(-m.dt, "float64") / t)
  else decay = 1 - lp.exp(t * (-LN2)) end
  local mode = m.leak_mode
  if mode == "decays" then return decay end
  if mode == "bitshifts" then return -lp.log(1 - decay) * (1 / LN2) end
  return lp.tensor(-m.dt, "float64") / lp.log(decay)
end
local VIEW_TARGET = { alpha = 1, tau_mem = 1, dash_mem = 1, beta = 2, tau_syn = 2, dash_syn = 2 }

LIF._leak_views = true
local function with_views(bi)
  return function(t, k)
    local v = bi(t, k)
    if v == nil and VIEWS[k] then
      local vals = rawget(t, "_values")
      if vals and vals.leak_mode and t._leak_views then return VIEWS[k](t) end
    end
    return v
  end
end
local base_newindex = Module.__newindex
local function lif_newindex(t, k, v)
  local vals = rawget(t, "_values")
  if vals and VIEW_TARGET[k] and not t._attrs[k] and vals.leak_mode and t._leak_views then
    local target = LEAK_PARAMS[vals.leak_mode][VIEW_TARGET[k]]
    return t:_assign(target, from_view(t, k, P.unconstant(v)), 2)
  end
  return base_newindex(t, k, v)
end
LIF.__index = with_views(LIF.__index)
LIF.__newindex = lif_newindex
-- subclasses get the same lookup
function LIF:extend(name)
  local C = Module.extend(self, name)
  C.__index = with_views(C.__index)
  C.__newindex = lif_newindex
  return C
end

--- lif:rec_targets() -> targets (N, F) int32 (0-based columns of w_rec,
-- each row ascending), mask (N, k·N) in w_rec's dtype; nil when there is no
-- fan-out limit (no rec_fanout, or rec_fanout >= k·N).
function LIF:rec_targets()
  local F, w = rawget(self, "rec_fanout"), self.has_rec and self.w_rec
  if not F or not w or F >= w.shape[2] then return nil end
  return core.lif_rec_topk(w:detach(), F, rawget(self, "rec_block") or 1)
end

--- lif:rec_weights() -> w_rec as the forward pass uses it (entries beyond
-- the fan-out limit zeroed; differentiable), or nil without w_rec.
function LIF:rec_weights()
  if not self.has_rec then return nil end
  local _, mask = self:rec_targets()
  if mask then return self.w_rec * mask end
  return self.w_rec
end

-- Extra fields for core.lif (aLIF adds its current).
function LIF:_extra(opts) return opts end

-- Keep row 1 of the final state.
function LIF:_keep(final)
  local vals = self._values
  for _, name in ipairs { "vmem", "isyn", "spikes", "iahp" } do
    local f = final[name]
    if f ~= nil and vals[name] ~= nil then vals[name] = f[1]:clone() end
  end
end

-- record: true (all records), or a list of names: the ones core.lif knows
-- (vmem, isyn, irec, iahp, spikes) are asked for, the rest left to others.
local LIF_RECORDS = { vmem = true, isyn = true, irec = true, iahp = true, spikes = true }
local function lif_record(record)
  if type(record) ~= "table" then return record and true or false end
  local out = {}
  for _, n in ipairs(record) do if LIF_RECORDS[n] then out[#out + 1] = n end end
  return out
end
local function wants(record, name)
  if type(record) ~= "table" then return record and true or false end
  for _, n in ipairs(record) do if n == name then return true end end
  return false
end

-- The record as Rockpool gives it: irec always (zeros without w_rec).
function LIF:_records(rec, record, B, T)
  if rec.irec == nil and wants(record, "irec") then
    rec.irec = lp.zeros({ B, T, self.size_out, self.n_synapses }, rec.spikes.dtype)
  end
  return rec
end

-- proj (from nn.Sequential): a Linear before this layer, fused into core.lif
-- (x is then the Linear's input; its output is never materialised).
function LIF:evolve(x, record, proj)
  if not core.lif then error("LIF: the fused kernel core.lif is not built in", 2) end
  V.check_forward(self, 2)
  if proj then V.check_forward(proj, 2) end
  local B, T
  x, B, T = Module._auto_batch(proj or self, x)
  local N = self.size_out
  local alpha, beta = self:decays()
  local opts = self:_extra {
    alpha = alpha, beta = beta, bias = self.bias, threshold = self.threshold,
    w_rec = self.w_rec, rec_targets = (self:rec_targets()), noise = self:_noise(B, T, N),
    vmem = self.vmem, isyn = self.isyn, spikes = self.spikes,
    max_spikes_per_dt = self.max_spikes_per_dt, spike_fn = self.spike_generation_fn,
    learning_window = self.learning_window, surrogate_scale = self.surrogate_scale,
    record = lif_record(record), w_in = proj and proj.weight, b_in = proj and proj.has_bias and proj.bias or nil,
  }
  local spikes, rec, final = core.lif(x, opts)
  self:_keep(final)
  return spikes, self:state(), record and self:_records(rec, record, B, T) or {}
end

-- graphs ----------------------------------------------------------------------

-- tau_mem (N) and tau_syn (N, k) as float64 tensors, whatever the leak mode:
-- decays alpha -> tau = -dt / ln(alpha); bitshifts dash -> tau = dt·2^dash.
function LIF:_graph_taus()
  local dt = self.dt
  local function f64(t) return t:detach():astype("float64") end
  local mode = self.leak_mode
  if mode == "decays" then
    return lp.tensor(-dt, "float64") / lp.log(f64(self.alpha)),
           lp.tensor(-dt, "float64") / lp.log(f64(self.beta))
  elseif mode == "bitshifts" then
    return lp.exp(f64(self.dash_mem) * LN2) * dt, lp.exp(f64(self.dash_syn) * LN2) * dt
  end
  return f64(self.tau_mem), f64(self.tau_syn)
end

-- The neurons (k synapses plus `extra` more per neuron) and, when there are
-- recurrent weights (N, (k + extra)·N), the LinearWeights closing the loop.
-- Returns the graph and the neurons.
function LIF:_lif_graph(tau_syn, w_rec)
  local G = require "limpet.graph"
  local name = self:_graph_name()
  local N = self.size_out
  local tau_mem = self:_graph_taus()
  local ks = tau_syn.shape[2]
  local neurons = G.LIFNeuronWithSynsRealValue:factory(ks * N, N, name, self, {
    tau_mem = tau_mem, tau_syn = tau_syn:reshape({ ks * N }),
    threshold = self.threshold, bias = self.bias, dt = self.dt })
  if not w_rec then return neurons, neurons end
  G.LinearWeights(neurons.output_nodes, neurons.input_nodes, name .. "_recurrent", self,
    { weights = w_rec })
  return G.GraphHolder(neurons.input_nodes, neurons.output_nodes, name, self), neurons
end

--- lif:as_graph() -> LIFNeuronWithSynsRealValue (tau_mem (N), tau_syn (k·N,
-- neuron-major), threshold, bias, dt); with w_rec a GraphHolder that adds
-- the recurrent LinearWeights from the output nodes to the input nodes.
-- LIFBitshift exports its trained taus: the mapper's dash = log2(tau / dt)
-- rounds to the decay LIFBitshift simulates.
function LIF:as_graph()
  local _, tau_syn = self:_graph_taus()
  return (self:_lif_graph(tau_syn, self.has_rec and self:rec_weights():detach() or nil))
end

-- LIFBitshift -----------------------------------------------------------------
-- Time constants are trained; the decays used are the nearest
-- Xylo-representable 1 - 2^-dash, dash = round(log2(tau / dt)), rounded
-- with a straight-through gradient.
local LIFBitshift = LIF:extend("LIFBitshift")
LIFBitshift.defaults = {}
for k, v in pairs(LIF.defaults) do LIFBitshift.defaults[k] = v end
for _, k in ipairs { "leak_mode", "alpha", "beta", "dash_mem", "dash_syn" } do LIFBitshift.defaults[k] = nil end
LIFBitshift.defaults.max_spikes_per_dt = 31

function LIFBitshift:init(shape, opts)
  self:_setup("LIFBitshift", shape, opts, LIFBitshift.defaults)
end

function LIFBitshift:decays()
  local scale = lp.tensor(1 / (self.dt * 1.0), "float64")
  local function d(tau)
    local dash = round_ste(lp.log(tau:astype("float64") * scale) * (1 / LN2))
    local a = 1 - lp.exp(dash * (-LN2))
    return tau.dtype == "float64" and a or a:astype(tau.dtype)
  end
  return d(self.tau_mem), d(self.tau_syn)
end

-- LIFNeuron -----------------------------------------------------------------
-- Membrane only: vmem *= alpha; vmem += input + bias (+ noise); spikes and
-- subtractive reset as LIF. The fused op's membrane_only mode feeds each
-- step's input straight to the membrane (beta = 1 and no synaptic memory).
local LIFNeuron = LIF:extend("LIFNeuron")
LIFNeuron._leak_views = false
LIFNeuron.defaults = {
  tau_mem = 20e-3, bias = 0, threshold = 1, dt = 1e-3, noise_std = 0,
  max_spikes_per_dt = 65536, spike_generation_fn = "StepPWL",
  surrogate_scale = U.NONE, learning_window = 0.5,
}

local function unregister(self, name)
  self._attrs[name] = nil
  self._values[name] = nil
  for i, n in ipairs(self._order) do if n == name then table.remove(self._order, i) break end end
end

--- nn.LIFNeuron(N, {tau_mem, bias, threshold, dt, noise_std, ...}): state
-- {vmem}, record {spikes, vmem} (Rockpool's LIFNeuronTorch).
function LIFNeuron:init(shape, opts)
  local split
  shape, opts, split = U.split_shape("LIFNeuron", shape, opts, 3)
  if split then rawset(self, "_args", table.pack(shape, opts)) end
  if type(shape) == "table" and #shape == 2 and shape[1] ~= shape[2] then
    U.argerror("LIFNeuron", 1, "shape must be N or {N, N}", 3)
  end
  opts = U.options("LIFNeuron", 2, opts, LIFNeuron.defaults, 3)
  local full = {}
  for k, v in pairs(opts) do full[k] = v end
  full.tau_syn = P.Constant(1.0)   -- unused: beta is one
  self:_setup("LIFNeuron", shape, full, LIF.defaults)
  -- neither the synaptic time constant nor the synaptic state and the
  -- spikes are LIFNeuron attributes (no synapses, no recurrence)
  for _, n in ipairs { "tau_syn", "isyn", "spikes" } do unregister(self, n) end
end

function LIFNeuron:_records(rec)
  return { spikes = rec.spikes, vmem = rec.vmem }
end

function LIFNeuron:as_graph()
  error(("%s has no synaptic state; as_graph is not supported"):format(self.full_name), 2)
end

function LIFNeuron:decays()
  return decay_of(self.dt, self.tau_mem), lp.ones({ self.size_out, 1 })
end

function LIFNeuron:_extra(opts)
  opts.membrane_only = true        -- core.lif: c_t = x_t, no synaptic memory
  return opts
end

-- aLIF ------------------------------------------------------------------------
-- LIF plus an after-hyperpolarisation current: iahp += w_ahp·s_prev;
-- iahp *= exp(-dt / tau_ahp); it joins the synaptic currents.
local aLIF = LIF:extend("aLIF")
aLIF.defaults = {}
for k, v in pairs(LIF.defaults) do aLIF.defaults[k] = v end
aLIF.defaults.tau_ahp = 20e-3
aLIF.defaults.w_ahp = -0.9

function aLIF:init(shape, opts)
  local o, N = self:_setup("aLIF", shape, opts, aLIF.defaults)
  self:parameter("tau_ahp", per_neuron("aLIF", "tau_ahp", o.tau_ahp, N), { shape = { N }, family = "taus",
    constraint = { space = "log" } })
  self:parameter("w_ahp", per_neuron("aLIF", "w_ahp", o.w_ahp, N), { shape = { N }, family = "weights" })
  self:state("iahp", 0, { shape = { N } })
end

--- alif:as_graph(): the after-hyperpolarisation current becomes one more
-- synapse per neuron (tau_ahp), fed by a recurrent self-weight w_ahp, as
-- Rockpool exports it: a 1-synapse aLIF maps to a 2-synapse Xylo Audio 2
-- neuron. Neuron n's inputs are k + 1 nodes (neuron-major); the holder's
-- input nodes are the k of each neuron that the layer's input feeds.
function aLIF:as_graph()
  local G = require "limpet.graph"
  local N, k = self.size_out, self.n_synapses
  local _, tau_syn = self:_graph_taus()
  local tau_ahp = self.tau_ahp:detach():astype("float64"):reshape({ N, 1 })
  local taus = lp.cat({ tau_syn, tau_ahp }, 2)
  local ks = k + 1
  local w = {}
  local w_rec = self.has_rec and self:rec_weights():detach():astype("float64"):reshape(-1):totable()
  local w_ahp = self.w_ahp:detach():astype("float64"):reshape(-1):totable()
  for i = 1, N do
    for n = 1, N do
      for s = 1, ks do
        local v = 0.0
        if s <= k then
          if w_rec then v = w_rec[(i - 1) * k * N + (n - 1) * k + s] end
        elseif i == n then
          v = w_ahp[i]
        end
        w[#w + 1] = v
      end
    end
  end
  local g, neurons = self:_lif_graph(taus, lp.tensor(w, "float64"):reshape({ N, ks * N }))
  local ins = {}
  for n = 1, N do
    for s = 1, k do ins[#ins + 1] = neurons.input_nodes[(n - 1) * ks + s] end
  end
  return G.GraphHolder(ins, neurons.output_nodes, g.name, self)
end

function aLIF:_extra(opts)
  opts.w_ahp = self.w_ahp
  opts.beta_ahp = decay_of(self.dt, self.tau_ahp)
  opts.iahp = self.iahp
  if type(opts.record) == "table" then           -- the isyn record ends with iahp
    for _, n in ipairs(opts.record) do
      if n == "isyn" then opts.record[#opts.record + 1] = "iahp" break end
    end
  end
  return opts
end

-- Rockpool's aLIF record: iahp (B, T, N), isyn (B, T, N, k + 1) with the
-- ahp current as the last synapse, irec (zeros without w_rec), and U.
function aLIF:_records(rec, record, B, T)
  rec = LIF._records(self, rec, record, B, T)
  if rec.isyn and rec.iahp then
    rec.isyn = lp.cat({ rec.isyn, rec.iahp:reshape({ B, T, self.size_out, 1 }) }, 4)
  end
  -- U: Rockpool's aLIF records the surrogate activity tanh(20 vmem + 1 - threshold)/2 + 1/2
  if rec.vmem and wants(record, "U") then
    rec.U = lp.tanh(rec.vmem:detach() * 20 + (1 - self.threshold:detach())) * 0.5 + 0.5
  end
  return rec
end

return { LIF = LIF, LIFBitshift = LIFBitshift, LIFNeuron = LIFNeuron, aLIF = aLIF }
