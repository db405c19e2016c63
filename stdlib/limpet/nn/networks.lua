-- stdlib/limpet/nn/networks.lua -- the chip-oriented networks: nn.LowPass,
-- nn.SynNet (Bos & Muir 2022, 2024), nn.WaveSenseBlock and nn.WaveSenseNet
-- (Weidel et al. 2021), as Rockpool defines them.
-- Owns: their construction (layer sizes, per-synapse time constants, weight
-- scaling by dt / tau_syn), evolution and as_graph, so that the networks map
-- to Xylo Audio 2/3 with lp.xylo without edits.
-- Also nn.HopDelay, Xylo's one-step hop between hidden layers in float.
-- Not here: the layers themselves (linear.lua, lif.lua), the mapper.
--
-- Decisions:
-- * SynNet's quantize_time_constants rounds each tau to the bit-shift decay
--   Xylo will run: dash = round(log2(tau / dt)) (the Xylo mapper's rule) and
--   tau = -dt / ln(1 - 2^-dash), whose exp(-dt / tau) is that decay exactly
--   (lp.transform.t_decay); Rockpool converts with its own pair of helpers.
-- * SynNet's layers are named "1_linear", "1_neurons", ("1_dropout"),
--   "out_linear", "out_neurons" (Rockpool: 0-based "0_linear" ...).
-- * WaveSenseBlock's evolve returns one tensor, the residual output then the
--   skip output along the channel axis ((B, T, Nres + Nskip)), the order of
--   its graph's output nodes (Rockpool returns a pair). The residual sum
--   (block output + block input) and the sum of the skip outputs over
--   blocks are AliasConnections in the graph (Xylo neuron aliases), as in
--   Rockpool.
-- * WaveSenseNet's readout is a LIF layer with tau_mem = tau_syn = tau_lp
--   (Rockpool's current design: a low-pass that Xylo can run; read its vmem
--   for the smoothed output). smooth_output = true appends an nn.LowPass
--   for float training; such a net has no Xylo graph.
-- * hop_delay = true (WaveSenseBlock, WaveSenseNet, SynNet; nn.HopDelay) models Xylo's timing in
--   float: the chip delivers a hidden neuron's spikes of step t to other
--   hidden neurons and to the outputs at step t + 1 (input events arrive in
--   the same step), so every Linear that reads hidden spikes sees them one
--   step late, while an alias adds its counts within the step (the residual
--   and skip sums are not delayed). Without it a net of B blocks reaches its
--   readout 2B + 2 steps later on the chip than in training, which on short
--   sequences (28 steps) costs much of the accuracy. The delay lines are
--   states ("hop_*"): reset_state silences them; a call continues from the
--   last step of the previous call when the batch size is the same.
-- * nn.LowPass: vmem = vmem·exp(-dt/tau_mem) + x, output vmem (Rockpool's
--   LowPass); tau_mem is a fixed simulation parameter, as Rockpool's
--   buffer. It has no Xylo equivalent: as_graph raises.
local lp = require "limpet"
local core = require "limpet.core"
local Module = require "limpet.nn.module"
local Sequential = require "limpet.nn.sequential"
local Linear = require "limpet.nn.linear"
local lif = require "limpet.nn.lif"
local dropout = require "limpet.nn.dropout"
local P = require "limpet.nn.parameters"
local U = require "limpet.nn.util"

local LN2 = math.log(2)

-- LowPass -----------------------------------------------------------------------

local LowPass = Module:extend("LowPass")
LowPass.defaults = { tau_mem = 20e-3, dt = 1e-3 }

--- nn.LowPass(N, {tau_mem = 20e-3, dt = 1e-3})
function LowPass:init(shape, opts)
  opts = U.options("LowPass", 2, opts, LowPass.defaults, 3)
  if type(opts.dt) ~= "number" or not (opts.dt > 0) then
    U.argerror("LowPass", 2, "field 'dt' must be a positive number", 3)
  end
  Module.init(self, shape)
  local N = self.size_out
  if self.size_in ~= N then U.argerror("LowPass", 1, "shape must be N or {N, N}", 3) end
  local tau = P.unconstant(opts.tau_mem)
  local t, msg = U.to_tensor(tau, { N })
  if not t then U.argerror("LowPass", 2, "field 'tau_mem': " .. msg, 3) end
  if t:le(0):astype("int64"):sum():item() > 0 or t:isnan():astype("int64"):sum():item() > 0 then
    U.argerror("LowPass", 2, "field 'tau_mem' must be positive", 3)
  end
  self:simulation_parameter("tau_mem", t)
  self:simulation_parameter("dt", opts.dt)
  self:state("vmem", 0, { shape = { N } })
end

function LowPass:evolve(x, record)
  x = self:_auto_batch(x)
  -- core.expsyn computes z_t = b (z_{t-1} + x_t); vmem = z / b follows
  -- vmem_t = b vmem_{t-1} + x_t
  local b = lp.exp((-self.dt) / self.tau_mem)
  local out, final = core.expsyn(x, { beta = b, isyn = self.vmem * b })
  local y = out / b
  self._values.vmem = (final.isyn[1] / b):detach():clone()
  local rec = {}
  if record then rec.vmem = y end
  return y, self:state(), rec
end

function LowPass:as_graph()
  error(("%s has no Xylo equivalent (read the vmem of a LIF output layer instead)"):format(self.full_name), 2)
end

-- helpers -----------------------------------------------------------------------
-- x (B, T, N) seen one step late: the delay line's state `key` (N zeros
-- after reset_state, else the previous call's last step (B, N)) comes
-- first; the last step of x becomes the new state.
local function delayed(self, key, x)
  local B, T, N = x.shape[1], x.shape[2], x.shape[3]
  if T == 0 then return x end          -- no steps: nothing delayed, the state unchanged
  local prev = self._values[key]
  local first
  if prev:dim() == 1 then
    first = lp.zeros(B, 1, N) + prev:reshape(1, 1, N)
  elseif prev.shape[1] == B then
    first = prev:reshape(B, 1, N)
  else
    error(("%s: hop delay state '%s' holds a batch of %d, the input has %d (call reset_state first)")
      :format(self.full_name, key, prev.shape[1], B), 3)
  end
  self._values[key] = x:slice(2, T, T):reshape(B, N):detach():clone()
  if T == 1 then return first end
  return lp.cat({ first, x:slice(2, 1, T - 1) }, 2)
end

local function hop_option(F, v)
  if type(v) ~= "boolean" then U.argerror(F, 2, "field 'hop_delay' must be a boolean", 4) end
  return v
end


local NEURONS = { LIF = lif.LIF, LIFBitshift = lif.LIFBitshift }
local function neuron_class(fname, name)
  local C = NEURONS[name]
  if not C then
    U.argerror(fname, 2, ("field 'neuron_model' must be one of LIF, LIFBitshift, got '%s'"):format(tostring(name)), 4)
  end
  return C
end

local function posnum(fname, o, k)
  local v = P.unconstant(o[k])
  if type(v) ~= "number" or not (v > 0 and v < math.huge) then
    U.argerror(fname, 2, ("field '%s' must be a positive number"):format(k), 4)
  end
  return v
end

local function posint(fname, v, what)
  if math.type(v) ~= "integer" or v < 1 then
    U.argerror(fname, 2, ("field '%s' must be a positive integer"):format(what), 4)
  end
  return v
end

-- tau rounded to the bit-shift decay Xylo runs (see the header)
local function bitshift_tau(tau, dt)
  local dash = math.floor(math.log(tau / dt, 2) + 0.5)
  if dash < 1 then dash = 1 elseif dash > 15 then dash = 15 end
  return -dt / math.log(1 - 2 ^ -dash)
end

-- scale the columns of a Linear's weight (in place)
local function scale_columns(lin, s)
  lp.no_grad(function() lin.weight:copy_(lin.weight * s) end)
end


-- HopDelay ---------------------------------------------------------------------

local HopDelay = Module:extend("HopDelay")
HopDelay._graph_identity = true

--- nn.HopDelay(N): its input one step late (y[t] = x[t - 1], silent at the
-- first step after reset_state; a call continues from the previous call's
-- last step). Xylo's hop between hidden layers in float: put it in front of
-- a Linear that reads hidden spikes. Its graph is the identity (the chip
-- delays by itself), so a net with it maps like the net without it.
function HopDelay:init(N)
  if math.type(N) ~= "integer" or N < 1 then U.argerror("HopDelay", 1, "channels must be a positive integer", 3) end
  Module.init(self, N)
  self:state("hop", 0, { shape = { N } })
end

function HopDelay:evolve(x, record)
  x = self:_auto_batch(x)
  local y = delayed(self, "hop", x)
  return y, { hop = self._values.hop }, {}
end

function HopDelay:as_graph()
  local G = require "limpet.graph"
  local nodes = {}
  for i = 1, self.size_in do nodes[i] = G.GraphNode() end
  return G.GraphHolder(nodes, nodes, self:_graph_name(), self)
end

-- SynNet ------------------------------------------------------------------------

local SynNet = Sequential:extend("SynNet")
SynNet.rebuild = false               -- rebuilt by its constructor, not by append
SynNet.defaults = {
  size_hidden_layers = { 60 }, time_constants_per_layer = { 10 }, tau_syn_base = 2e-3,
  tau_mem = 2e-3, tau_syn_out = 2e-3, quantize_time_constants = true, train_time_constants = false,
  threshold = 1.0, threshold_out = U.NONE, train_threshold = false, neuron_model = "LIF",
  max_spikes_per_dt = 31, max_spikes_per_dt_out = 1, p_dropout = 0.0, dt = 1e-3, output = "spikes",
  spike_generation_fn = "PeriodicExponential", hop_delay = false,
}
local THRESHOLD_OUT = 2 ^ 15 - 1

--- nn.SynNet({n_channels, n_classes}, {size_hidden_layers = {60},
--   time_constants_per_layer = {10}, tau_syn_base = 2e-3, tau_mem = 2e-3,
--   tau_syn_out = 2e-3, quantize_time_constants = true,
--   train_time_constants = false, threshold = 1, threshold_out =,
--   train_threshold = false, neuron_model = "LIF" | "LIFBitshift",
--   max_spikes_per_dt = 31, max_spikes_per_dt_out = 1, p_dropout = 0,
--   dt = 1e-3, output = "spikes" | "vmem", spike_generation_fn = "PeriodicExponential",
--   hop_delay = false})
-- Layer i has size_hidden_layers[i] neurons whose synaptic time constants
-- cycle through (tau_syn_base / dt)^j · dt, j = 1..time_constants_per_layer[i].
-- hop_delay: an nn.HopDelay ("<i>_hop", "out_hop") in front of every Linear
-- but the first, as on Xylo (see the header).
function SynNet:init(shape, opts)
  local F = "SynNet"
  if type(shape) ~= "table" or lp.is_tensor(shape) or #shape ~= 2
     or math.type(shape[1]) ~= "integer" or math.type(shape[2]) ~= "integer" or shape[1] < 1 or shape[2] < 1 then
    U.argerror(F, 1, "shape must be {n_channels, n_classes}", 3)
  end
  local o = U.options(F, 2, opts, SynNet.defaults, 3)
  local dt = posnum(F, o, "dt")
  local base, tmem, tout = posnum(F, o, "tau_syn_base"), posnum(F, o, "tau_mem"), posnum(F, o, "tau_syn_out")
  if base <= dt then
    U.argerror(F, 2, "field 'tau_syn_base' must be larger than 'dt'", 3)
  end
  local sizes, ntaus = o.size_hidden_layers, o.time_constants_per_layer
  if type(sizes) ~= "table" or type(ntaus) ~= "table" or #sizes == 0 or #sizes ~= #ntaus then
    U.argerror(F, 2, "fields 'size_hidden_layers' and 'time_constants_per_layer' must be lists of the same length", 3)
  end
  for i = 1, #sizes do
    posint(F, sizes[i], ("size_hidden_layers[%d]"):format(i))
    posint(F, ntaus[i], ("time_constants_per_layer[%d]"):format(i))
  end
  if o.output ~= "spikes" and o.output ~= "vmem" then
    U.argerror(F, 2, ("field 'output' must be 'spikes' or 'vmem', got '%s'"):format(tostring(o.output)), 3)
  end
  if o.output == "vmem" and o.threshold_out ~= nil then
    U.argerror(F, 2, "field 'threshold_out' does not apply with output = 'vmem'", 3)
  end
  if type(o.p_dropout) ~= "number" or not (o.p_dropout >= 0 and o.p_dropout < 1) then
    U.argerror(F, 2, "field 'p_dropout' must be a number in [0, 1)", 3)
  end
  for _, k in ipairs { "quantize_time_constants", "train_time_constants", "train_threshold", "hop_delay" } do
    if type(o[k]) ~= "boolean" then U.argerror(F, 2, ("field '%s' must be a boolean"):format(k), 3) end
  end
  local Neuron = neuron_class(F, o.neuron_model)
  local thr_out = o.output == "vmem" and THRESHOLD_OUT or (o.threshold_out or o.threshold)
  if o.quantize_time_constants then
    tmem, tout = bitshift_tau(tmem, dt), bitshift_tau(tout, dt)
  end
  Sequential.init(self)
  rawset(self, "output", o.output)
  local nin = shape[1]
  for i = 1, #sizes do
    local n, nt = sizes[i], ntaus[i]
    local taus = {}
    for j = 1, n do
      local e = (j - 1) % nt + 1
      local t = (base / dt) ^ e * dt
      taus[j] = o.quantize_time_constants and bitshift_tau(t, dt) or t
    end
    local tsyn = lp.tensor(taus, "float32")
    if o.hop_delay and i > 1 then self:_append(HopDelay(nin), ("%d_hop"):format(i), 4) end
    local lin = Linear({ nin, n })
    scale_columns(lin, lp.tensor(dt, "float32") / tsyn)
    self:_append(lin, ("%d_linear"):format(i), 4)
    self:_append(Neuron(n, {
      tau_mem = o.train_time_constants and tmem or P.Constant(tmem),
      tau_syn = o.train_time_constants and tsyn or P.Constant(tsyn),
      bias = P.Constant(0.0),
      threshold = o.train_threshold and o.threshold or P.Constant(o.threshold),
      dt = dt, max_spikes_per_dt = o.max_spikes_per_dt, spike_generation_fn = o.spike_generation_fn,
    }), ("%d_neurons"):format(i), 4)
    if o.p_dropout > 0 then
      self:_append(dropout.TimeStepDropout(n, { p = o.p_dropout }), ("%d_dropout"):format(i), 4)
    end
    nin = n
  end
  if o.hop_delay then self:_append(HopDelay(nin), "out_hop", 4) end
  local lin = Linear({ nin, shape[2] })
  scale_columns(lin, dt / tout)
  self:_append(lin, "out_linear", 4)
  self:_append(Neuron(shape[2], {
    tau_mem = P.Constant(tmem), tau_syn = P.Constant(tout), bias = P.Constant(0.0),
    threshold = P.Constant(thr_out), dt = dt, max_spikes_per_dt = o.max_spikes_per_dt_out,
    spike_generation_fn = o.spike_generation_fn,
  }), "out_neurons", 4)
end

function SynNet:evolve(x, record)
  if self.output ~= "vmem" then return Sequential.evolve(self, x, record) end
  local want = record
  if type(record) == "table" then
    want = { "vmem" }
    for _, n in ipairs(record) do want[#want + 1] = n end
  elseif not record then
    want = { "vmem" }
  end
  local _, state, rec = Sequential.evolve(self, x, want)
  local out = rec.out_neurons.vmem
  return out, state, record and rec or {}
end

-- WaveSenseBlock ------------------------------------------------------------------

local WaveSenseBlock = Module:extend("WaveSenseBlock")
WaveSenseBlock.defaults = {
  dilation = 1, kernel_size = 2, tau_mem = 20e-3, base_tau_syn = 20e-3, threshold = 1.0,
  bias = 0.0, neuron_model = "LIF", dt = 1e-3, max_spikes_per_dt = 31,
  spike_generation_fn = "PeriodicExponential", hop_delay = false,
}

local function neuron_opts(o, tau_mem, tau_syn, threshold)
  return {
    tau_mem = tau_mem, tau_syn = tau_syn, threshold = threshold, bias = o.bias, dt = o.dt,
    max_spikes_per_dt = o.max_spikes_per_dt, spike_generation_fn = o.spike_generation_fn,
  }
end

--- nn.WaveSenseBlock({Nres, Nskip}, {dilation = 1, kernel_size = 2,
--   tau_mem = 20e-3, base_tau_syn = 20e-3, threshold = 1, bias = 0,
--   neuron_model = "LIF", dt = 1e-3, max_spikes_per_dt = 31, spike_generation_fn,
--   hop_delay = false})
-- Dilation layer: Linear(Nres -> k·Nres) into k-synapse neurons whose
-- synapse s has tau = max(1, (s - 1)·dilation)·base_tau_syn; then
-- residual Linear + neurons (output + input) and skip Linear + neurons.
-- Output (B, T, Nres + Nskip): residual outputs, then skip outputs.
-- hop_delay: lin1, lin2_res and lin2_skip read their inputs one step late
-- (Xylo's hidden-to-hidden timing; see the header).
function WaveSenseBlock:init(shape, opts)
  local F = "WaveSenseBlock"
  if type(shape) ~= "table" or lp.is_tensor(shape) or #shape ~= 2
     or math.type(shape[1]) ~= "integer" or math.type(shape[2]) ~= "integer" or shape[1] < 1 or shape[2] < 1 then
    U.argerror(F, 1, "shape must be {Nres, Nskip}", 3)
  end
  local o = U.options(F, 2, opts, WaveSenseBlock.defaults, 3)
  posint(F, o.dilation, "dilation")
  posint(F, o.kernel_size, "kernel_size")
  local dt, base = posnum(F, o, "dt"), posnum(F, o, "base_tau_syn")
  posnum(F, o, "tau_mem")
  local Neuron = neuron_class(F, o.neuron_model)
  local Nres, Nskip, k = shape[1], shape[2], o.kernel_size
  Module.init(self, { Nres, Nres + Nskip })
  rawset(self, "n_res", Nres)
  rawset(self, "n_skip", Nskip)
  local taus = {}
  for n = 1, Nres do
    for s = 1, k do taus[#taus + 1] = math.max(1, (s - 1) * o.dilation) * base end
  end
  local tsyn = lp.tensor(taus, "float32"):reshape({ Nres, k })
  local lin1 = Linear({ Nres, Nres * k })
  scale_columns(lin1, (lp.tensor(dt, "float32") / tsyn):reshape({ Nres * k }))
  self:submodule("lin1", lin1)
  self:submodule("spk1", Neuron({ Nres * k, Nres }, neuron_opts(o, P.Constant(o.tau_mem), P.Constant(tsyn), P.Constant(o.threshold))))
  local lres = Linear({ Nres, Nres })
  scale_columns(lres, dt / base)
  self:submodule("lin2_res", lres)
  self:submodule("spk2_res", Neuron(Nres, neuron_opts(o, P.Constant(o.tau_mem), P.Constant(base), P.Constant(o.threshold))))
  local lskip = Linear({ Nres, Nskip })
  scale_columns(lskip, dt / base)
  self:submodule("lin2_skip", lskip)
  self:submodule("spk2_skip", Neuron(Nskip, neuron_opts(o, P.Constant(o.tau_mem), P.Constant(base), P.Constant(o.threshold))))
  rawset(self, "hop_delay", hop_option(F, o.hop_delay))
  if o.hop_delay then
    self:state("hop_in", 0, { shape = { Nres } })
    self:state("hop_h", 0, { shape = { Nres } })
  end
end

-- Run sub-module `name` of self on x; records nest by name (with
-- "<name>_output", as Sequential), states too.
local function run(self, name, x, record, rec, st)
  local out, s, r = self[name]:evolve(x, record)
  st[name] = s or {}
  if record then rec[name] = r or {}; rec[name .. "_output"] = out end
  return out
end

function WaveSenseBlock:evolve(x, record)
  x = self:_auto_batch(x)
  local rec, st = {}, {}
  local hop = self.hop_delay
  local h = run(self, "spk1", run(self, "lin1", hop and delayed(self, "hop_in", x) or x, record, rec, st), record, rec, st)
  local hd = hop and delayed(self, "hop_h", h) or h
  local r = run(self, "spk2_res", run(self, "lin2_res", hd, record, rec, st), record, rec, st)
  local skip = run(self, "spk2_skip", run(self, "lin2_skip", hd, record, rec, st), record, rec, st)
  if hop then st.hop_in, st.hop_h = self._values.hop_in, self._values.hop_h end
  return lp.cat({ r + x, skip }, 3), st, record and rec or {}
end

-- The block's graph: lin1 -> spk1 -> (lin2_res -> spk2_res, lin2_skip ->
-- spk2_skip) and the residual alias from the block's input nodes to the
-- residual neurons' output nodes; output nodes: residual then skip.
function WaveSenseBlock:as_graph()
  local G = require "limpet.graph"
  local g = {}
  for _, n in ipairs { "lin1", "spk1", "lin2_res", "spk2_res", "lin2_skip", "spk2_skip" } do g[n] = self[n]:as_graph() end
  G.connect_modules(g.lin1, g.spk1)
  G.connect_modules(g.spk1, g.lin2_res)
  G.connect_modules(g.lin2_res, g.spk2_res)
  G.connect_modules(g.spk1, g.lin2_skip)
  G.connect_modules(g.lin2_skip, g.spk2_skip)
  local name = self:_graph_name()
  G.AliasConnection(g.lin1.input_nodes, g.spk2_res.output_nodes, name .. "_residual", self)
  local outs = {}
  for _, n in ipairs(g.spk2_res.output_nodes) do outs[#outs + 1] = n end
  for _, n in ipairs(g.spk2_skip.output_nodes) do outs[#outs + 1] = n end
  return G.GraphHolder(g.lin1.input_nodes, outs, name, self)
end

-- WaveSenseNet ---------------------------------------------------------------------

local WaveSenseNet = Module:extend("WaveSenseNet")
WaveSenseNet.defaults = {
  dilations = { 2, 4 }, n_channels_res = 16, n_channels_skip = 32, n_hidden = 32, kernel_size = 2,
  bias = 0.0, smooth_output = false, tau_mem = 20e-3, base_tau_syn = 20e-3, tau_lp = 20e-3,
  threshold = 1.0, neuron_model = "LIF", dt = 1e-3, max_spikes_per_dt = 31,
  spike_generation_fn = "PeriodicExponential", hop_delay = false,
}

--- nn.WaveSenseNet({n_channels_in, n_classes}, {dilations = {2, 4},
--   n_channels_res = 16, n_channels_skip = 32, n_hidden = 32, kernel_size = 2,
--   bias = 0, smooth_output = false, tau_mem = 20e-3, base_tau_syn = 20e-3,
--   tau_lp = 20e-3, threshold = 1, neuron_model = "LIF", dt = 1e-3,
--   max_spikes_per_dt = 31, spike_generation_fn, hop_delay = false})
-- lin1 -> spk1 -> wave1 .. waveN (residual chain; skip outputs summed) ->
-- hidden -> spk2 -> readout -> spk_out (LIF, tau_mem = tau_syn = tau_lp, at
-- most one spike per step) [-> lp (LowPass) with smooth_output].
-- hop_delay: every Linear but lin1 reads its input one step late, as on
-- Xylo (see the header); train with it for a net that is to be deployed.
function WaveSenseNet:init(shape, opts)
  local F = "WaveSenseNet"
  if type(shape) ~= "table" or lp.is_tensor(shape) or #shape ~= 2
     or math.type(shape[1]) ~= "integer" or math.type(shape[2]) ~= "integer" or shape[1] < 1 or shape[2] < 1 then
    U.argerror(F, 1, "shape must be {n_channels_in, n_classes}", 3)
  end
  local o = U.options(F, 2, opts, WaveSenseNet.defaults, 3)
  if type(o.dilations) ~= "table" or #o.dilations == 0 then
    U.argerror(F, 2, "field 'dilations' must be a non-empty list of positive integers", 3)
  end
  for i, d in ipairs(o.dilations) do posint(F, d, ("dilations[%d]"):format(i)) end
  for _, k in ipairs { "n_channels_res", "n_channels_skip", "n_hidden", "kernel_size" } do posint(F, o[k], k) end
  local dt, base, tlp = posnum(F, o, "dt"), posnum(F, o, "base_tau_syn"), posnum(F, o, "tau_lp")
  posnum(F, o, "tau_mem")
  if type(o.smooth_output) ~= "boolean" then U.argerror(F, 2, "field 'smooth_output' must be a boolean", 3) end
  local Neuron = neuron_class(F, o.neuron_model)
  Module.init(self, shape)
  local nin, ncls, nres, nskip, nhid = shape[1], shape[2], o.n_channels_res, o.n_channels_skip, o.n_hidden
  rawset(self, "n_blocks", #o.dilations)
  rawset(self, "n_channels_res", nres)
  rawset(self, "n_channels_skip", nskip)
  local C = P.Constant
  local lin1 = Linear({ nin, nres })
  scale_columns(lin1, dt / base)
  self:submodule("lin1", lin1)
  self:submodule("spk1", Neuron(nres, neuron_opts(o, C(o.tau_mem), C(base), C(o.threshold))))
  for i, d in ipairs(o.dilations) do
    self:submodule("wave" .. i, WaveSenseBlock({ nres, nskip }, {
      dilation = d, kernel_size = o.kernel_size, tau_mem = o.tau_mem, base_tau_syn = base,
      threshold = o.threshold, bias = o.bias, neuron_model = o.neuron_model, dt = dt,
      max_spikes_per_dt = o.max_spikes_per_dt, spike_generation_fn = o.spike_generation_fn,
      hop_delay = hop_option(F, o.hop_delay) }))
  end
  local hidden = Linear({ nskip, nhid })
  scale_columns(hidden, dt / base)
  self:submodule("hidden", hidden)
  self:submodule("spk2", Neuron(nhid, neuron_opts(o, C(o.tau_mem), C(base), C(o.threshold))))
  local readout = Linear({ nhid, ncls })
  scale_columns(readout, dt / tlp)
  self:submodule("readout", readout)
  local oo = neuron_opts(o, C(tlp), C(tlp), C(o.threshold))
  oo.max_spikes_per_dt = 1
  self:submodule("spk_out", Neuron(ncls, oo))
  rawset(self, "smooth_output", o.smooth_output)
  if o.smooth_output then self:submodule("lp", LowPass(ncls, { tau_mem = tlp, dt = dt })) end
  rawset(self, "hop_delay", hop_option(F, o.hop_delay))
  if o.hop_delay then
    self:state("hop_skip", 0, { shape = { nskip } })
    self:state("hop_hidden", 0, { shape = { nhid } })
  end
end

function WaveSenseNet:evolve(x, record)
  x = self:_auto_batch(x)
  local rec, st = {}, {}
  local out = run(self, "spk1", run(self, "lin1", x, record, rec, st), record, rec, st)
  local skip
  local nres = self.n_channels_res
  for i = 1, self.n_blocks do
    local y = run(self, "wave" .. i, out, record, rec, st)
    out = y:slice(3, 1, nres)
    local s = y:slice(3, nres + 1, nres + self.n_channels_skip)
    skip = skip and (skip + s) or s
  end
  local hop = self.hop_delay
  if hop then skip = delayed(self, "hop_skip", skip) end
  out = run(self, "spk2", run(self, "hidden", skip, record, rec, st), record, rec, st)
  if hop then out = delayed(self, "hop_hidden", out) end
  out = run(self, "spk_out", run(self, "readout", out, record, rec, st), record, rec, st)
  if hop then st.hop_skip, st.hop_hidden = self._values.hop_skip, self._values.hop_hidden end
  if self.smooth_output then out = run(self, "lp", out, record, rec, st) end
  return out, st, record and rec or {}
end

--- net:as_graph(): the blocks chained through their residual outputs, the
-- skip neurons of block i aliased to those of block i + 1 (the sum of the
-- skip paths), the readout from the last block's skip neurons.
function WaveSenseNet:as_graph()
  if self.smooth_output then
    error(("%s: smooth_output adds a LowPass, which has no Xylo equivalent"):format(self.full_name), 2)
  end
  local G = require "limpet.graph"
  local g = {}
  for _, n in ipairs(self._mod_order) do g[n] = self._mods[n]:as_graph() end
  local nres, nskip = self.n_channels_res, self.n_channels_skip
  local res, sk = {}, {}
  for i = 1, nres do res[i] = i end
  for i = 1, nskip do sk[i] = nres + i end
  G.connect_modules(g.lin1, g.spk1)
  G.connect_modules(g.spk1, g.wave1)
  for i = 1, self.n_blocks - 1 do
    local a, b = g["wave" .. i], g["wave" .. (i + 1)]
    G.connect_modules(a, b, res, nil)
    local from, to = {}, {}
    for j = 1, nskip do from[j] = a.output_nodes[nres + j]; to[j] = b.output_nodes[nres + j] end
    G.AliasConnection(from, to, ("wave%d_skip_add"):format(i), self)
  end
  G.connect_modules(g["wave" .. self.n_blocks], g.hidden, sk, nil)
  G.connect_modules(g.hidden, g.spk2)
  G.connect_modules(g.spk2, g.readout)
  G.connect_modules(g.readout, g.spk_out)
  return G.GraphHolder(g.lin1.input_nodes, g.spk_out.output_nodes, self:_graph_name(), self)
end

return { LowPass = LowPass, HopDelay = HopDelay, SynNet = SynNet, WaveSenseBlock = WaveSenseBlock, WaveSenseNet = WaveSenseNet }
