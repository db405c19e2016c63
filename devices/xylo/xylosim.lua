-- devices/xylo/xylosim.lua -- XyloSim: the bit-exact simulator of a Xylo SNN
-- core (Audio 2, Audio 3, IMU), Rockpool's `XyloSim` with limpet's conventions.
-- Owns: reading a specification (argument names of Rockpool's
-- `XyloSim.from_specification`, or a config built by limpet.xylo.config),
-- Rockpool's defaults (§9: missing dashes 0, thresholds 0, biases 0,
-- shifts 0, no recurrence, no aliases), checking every value against the
-- variant's limits (limpet.xylo.limits, §5) with errors naming the field, and
-- the simulator object (evolve / call, state, reset_state, set_state).
-- The arithmetic is C: devices/xylo/xylosim.c (through core._xylo).
--
-- API:
--   local XyloSim = require("limpet.xylo.xylosim").for_variant("audio2")
--   sim = XyloSim.from_specification(spec[, {dt = 1e-3, output_mode = "Spike"}])
--   sim = XyloSim.from_config(config[, opts])        -- config.variant must match
--   output, state, record = sim(input[, record])     -- = sim:evolve(input, record)
--   sim:state(), sim:set_state(state), sim:reset_state()
--   sim:set_attributes(state)  -- Rockpool's name: takes the state a call returns
--   tsim = sim:timed{add_events = true}                -- the time-series API (nn/timed.lua)
--   path, isa = sim:kernel_path(["auto" | "generic" | "reference"])
--     which C kernels evolve runs (set when named; every path gives the same
--     bits): "auto" (default) the fast algorithms with the best vector
--     kernels of this CPU (isa: "avx512", "avx2" or "generic", chosen at run
--     time), "generic" the same algorithms with portable kernels only,
--     "reference" the plain loop, every event one ordered saturating add.
--
-- Specification (values: nested tables or tensors of any dtype holding
-- integers; ids are 1-based in Lua):
--   weights_in   (Nin, N_IEN[, S])  columns are hidden neurons 1..N_IEN
--   weights_rec  (Nhid, Nhid[, S])  optional (no recurrence)
--   weights_out  (N_OEN, Nout)      rows are the LAST N_OEN hidden neurons
--   S = 1 or 2 synapses (trailing axis; 2-D weights feed synapse 1 only)
--   dash_mem, dash_syn, dash_syn_2 (Nhid), dash_mem_out, dash_syn_out (Nout): 0..15
--   threshold (Nhid), threshold_out (Nout): -32768..32767
--   bias (Nhid; also read as bias_hidden), bias_out (Nout): -32768..32767
--   weight_shift_in / _rec / _out: 0..7
--   aliases: Nhid lists, each empty or holding one target id 1..Nhid
--   Keys `mapped_graph`, `dt` and `variant` are ignored; other unknown keys
--   are errors. Rockpool's files and oracles count alias ids from 0: add 1.
--
-- Input: counts (T, Nin) or (B, T, Nin), non-negative integers; the chip
-- clips more than 15 events per channel and step. Output: (B, T, Nout)
-- int32 (B = 1 for 2-D input): output spikes ("Spike"), output Vmem
-- ("Vmem") or output Isyn ("Isyn"). Record (when asked): Vmem, Isyn, Isyn2
-- (2 synapses only), Spikes (hidden counts, own + aliased), Vmem_out,
-- Isyn_out, each (B, T, N) int32, after the step (Vmem after reset, Isyn
-- after decay). Every batch row starts from the simulator's state; row 1's
-- final state is kept (as lp.nn).
--
-- Timing: an input event reaches its hidden neurons in the same step; every
-- hidden->hidden and hidden->output connection adds one step (§3.5).
local lp = require "limpet"
local core = require "limpet.core"
local class = require "limpet.class"
local limits = require "limpet.xylo.limits"

local M = {}

local MODES = { Spike = 0, Vmem = 1, Isyn = 2 }

local function argerror(fname, argno, msg, level)
  error(("bad argument #%d to '%s' (%s)"):format(argno, fname, msg), (level or 1) + 1)
end

local function shape_str(t)
  local s = {}
  for i = 1, t:dim() do s[i] = tostring(t.shape[i]) end
  return "(" .. table.concat(s, ", ") .. (#s == 1 and ",)" or ")")
end

-- A value as a tensor holding integers (any dtype accepted; floats must be
-- integral). Raises naming the field.
local function int_tensor(fname, argno, field, v)
  local t
  if lp.is_tensor(v) then
    t = v
  elseif type(v) == "number" then
    t = lp.tensor(v, "float64")
  elseif type(v) == "table" then
    local ok, r = pcall(lp.tensor, v, "float64")
    if not ok or not lp.is_tensor(r) then
      argerror(fname, argno, ("field '%s': expected a tensor or a nested table of integers"):format(field), 3)
    end
    t = r
  else
    argerror(fname, argno, ("field '%s': expected a tensor or a table of integers, got %s"):format(field, type(v)), 3)
  end
  local dt = t.dtype
  if dt == "bool" then
    argerror(fname, argno, ("field '%s': expected integer values, got a bool tensor"):format(field), 3)
  end
  if (dt == "float32" or dt == "float64") and t:numel() > 0 then
    local bad = t:floor():ne(t):sum():item()
    if bad > 0 then
      local flat = t:reshape(-1):totable()
      for i = 1, #flat do
        local x = flat[i]
        if x ~= x or x ~= math.floor(x) then
          argerror(fname, argno, ("field '%s': values must be integers, got %s"):format(field, tostring(x)), 3)
        end
      end
    end
  end
  return t
end

local function check_range(fname, argno, field, t, lo, hi)
  if t:numel() == 0 then return end
  local mn, mx = t:min():item(), t:max():item()
  if mn < lo then
    argerror(fname, argno, ("field '%s': values must be in %d..%d, got %d"):format(field, lo, hi, math.tointeger(mn) or mn), 3)
  end
  if mx > hi then
    argerror(fname, argno, ("field '%s': values must be in %d..%d, got %d"):format(field, lo, hi, math.tointeger(mx) or mx), 3)
  end
end

local KNOWN = {
  weights_in = true, weights_rec = true, weights_out = true, dash_mem = true, dash_syn = true,
  dash_syn_2 = true, dash_mem_out = true, dash_syn_out = true, threshold = true, threshold_out = true,
  bias = true, bias_hidden = true, bias_out = true, weight_shift_in = true, weight_shift_rec = true,
  weight_shift_out = true, aliases = true,
}
local IGNORED = { mapped_graph = true, dt = true, variant = true }

-- The first index (1-based, row-major over the leading dims) of a nonzero in t.
local function first_nonzero_row(t)
  local rows = t:ne(0)
  if t:dim() > 1 then rows = rows:reshape(t.shape[1], -1):sum(2) end
  local tt = rows:totable()
  for i = 1, #tt do if tt[i] ~= 0 and tt[i] ~= false then return i end end
end

-- Build the arguments of core._xylo.new from a specification; raises naming
-- fields. strict: unknown keys are errors (from_specification).
local function compile(L, fname, spec, strict)
  if type(spec) ~= "table" then
    argerror(fname, 1, ("expected a specification table, got %s"):format(type(spec)), 3)
  end
  if strict then
    for k in pairs(spec) do
      if not KNOWN[k] and not IGNORED[k] then
        argerror(fname, 1, ("unknown field '%s'"):format(tostring(k)), 3)
      end
    end
  end
  if spec.bias ~= nil and spec.bias_hidden ~= nil then
    argerror(fname, 1, "fields 'bias' and 'bias_hidden' are the same; give one", 3)
  end
  local function get(field, lo, hi)
    local v = spec[field]
    if v == nil then return nil end
    local t = int_tensor(fname, 1, field, v)
    check_range(fname, 1, field, t, lo, hi)
    return t
  end
  local W, D, TH = { L.weight_min, L.weight_max }, { L.dash_min, L.dash_max }, { L.threshold_min, L.threshold_max }
  local BI = { L.bias_min, L.bias_max }
  if spec.weights_in == nil then argerror(fname, 1, "field 'weights_in' is required", 3) end
  if spec.weights_out == nil then argerror(fname, 1, "field 'weights_out' is required", 3) end
  local w_in, w_rec, w_out = get("weights_in", W[1], W[2]), get("weights_rec", W[1], W[2]), get("weights_out", W[1], W[2])
  local vec = {
    dash_mem = get("dash_mem", D[1], D[2]), dash_syn = get("dash_syn", D[1], D[2]),
    dash_syn_2 = get("dash_syn_2", D[1], D[2]), threshold = get("threshold", TH[1], TH[2]),
    bias = spec.bias_hidden ~= nil and get("bias_hidden", BI[1], BI[2]) or get("bias", BI[1], BI[2]),
  }
  local vec_out = {
    dash_mem_out = get("dash_mem_out", D[1], D[2]), dash_syn_out = get("dash_syn_out", D[1], D[2]),
    threshold_out = get("threshold_out", TH[1], TH[2]), bias_out = get("bias_out", BI[1], BI[2]),
  }
  local bias_name = spec.bias_hidden ~= nil and "bias_hidden" or "bias"
  -- shapes
  local function wdims(field, t, want)
    local nd = t:dim()
    if want == 2 then
      if nd ~= 2 then argerror(fname, 1, ("field '%s': expected 2 dims, got shape %s"):format(field, shape_str(t)), 4) end
      return 1
    end
    if nd ~= 2 and nd ~= 3 then
      argerror(fname, 1, ("field '%s': expected 2 or 3 dims, got shape %s"):format(field, shape_str(t)), 4)
    end
    local s = nd == 3 and t.shape[3] or 1
    if s < 1 or s > 2 then
      argerror(fname, 1, ("field '%s': the synapse axis must have size 1 or 2, got shape %s"):format(field, shape_str(t)), 4)
    end
    return s
  end
  local s_in = wdims("weights_in", w_in, 3)
  local s_rec = w_rec and wdims("weights_rec", w_rec, 3) or 1
  wdims("weights_out", w_out, 2)
  local nsyn = math.max(s_in, s_rec)
  local nin, ncol = w_in.shape[1], w_in.shape[2]
  local nrow, nout = w_out.shape[1], w_out.shape[2]
  -- number of hidden neurons
  local nhid
  if w_rec then
    nhid = w_rec.shape[1]
    if w_rec.shape[2] ~= nhid then
      argerror(fname, 1, ("field 'weights_rec': expected shape (Nhid, Nhid[, S]), got %s"):format(shape_str(w_rec)), 3)
    end
  else
    for _, f in ipairs { "threshold", "dash_mem", "dash_syn", "bias" } do
      if vec[f] then nhid = vec[f]:numel(); break end
    end
    if not nhid and type(spec.aliases) == "table" then nhid = #spec.aliases end
    nhid = nhid or math.max(ncol, nrow)
  end
  if nin < 1 then argerror(fname, 1, "field 'weights_in': no input channels", 3) end
  if nhid < 1 then argerror(fname, 1, "no hidden neurons", 3) end
  if nout < 1 then argerror(fname, 1, "field 'weights_out': no output neurons", 3) end
  if ncol > nhid then
    argerror(fname, 1, ("field 'weights_in': %d columns for %d hidden neurons"):format(ncol, nhid), 3)
  end
  if nrow > nhid then
    argerror(fname, 1, ("field 'weights_out': %d rows for %d hidden neurons"):format(nrow, nhid), 3)
  end
  -- variant limits
  local title = L.title
  if nin > L.n_in then
    argerror(fname, 1, ("field 'weights_in': %d input channels, %s has at most %d"):format(nin, title, L.n_in), 3)
  end
  if nhid > L.n_hidden then
    argerror(fname, 1, ("%d hidden neurons, %s has at most %d"):format(nhid, title, L.n_hidden), 3)
  end
  if nout > L.n_out then
    argerror(fname, 1, ("field 'weights_out': %d output neurons, %s has at most %d"):format(nout, title, L.n_out), 3)
  end
  if nsyn > L.n_syn then
    argerror(fname, 1, ("field '%s': %d synapses per neuron, %s has %d"):format(
      s_in > L.n_syn and "weights_in" or "weights_rec", nsyn, title, L.n_syn), 3)
  end
  for f, t in pairs(vec) do
    if t and (t:dim() ~= 1 or t:numel() ~= nhid) then
      if not (f == "dash_syn_2" and nsyn == 1 and t:dim() == 1) then
        argerror(fname, 1, ("field '%s': expected %d values (one per hidden neuron), got shape %s"):format(
          f == "bias" and bias_name or f, nhid, shape_str(t)), 3)
      end
    end
  end
  for f, t in pairs(vec_out) do
    if t and (t:dim() ~= 1 or t:numel() ~= nout) then
      argerror(fname, 1, ("field '%s': expected %d values (one per output neuron), got shape %s"):format(
        f, nout, shape_str(t)), 3)
    end
  end
  local shifts = {}
  for _, f in ipairs { "weight_shift_in", "weight_shift_rec", "weight_shift_out" } do
    local t = get(f, L.shift_min, L.shift_max)
    if t and t:numel() ~= 1 then
      argerror(fname, 1, ("field '%s': expected one integer, got shape %s"):format(f, shape_str(t)), 3)
    end
    shifts[f] = t and math.tointeger(t:reshape(-1):get(1)) or 0
  end
  -- dense int32 arrays
  local win = lp.zeros({ nin, nhid, nsyn }, "int32")
  win:slice(2, 1, ncol):slice(3, 1, s_in):copy_(w_in:reshape(nin, ncol, s_in))
  local wout = lp.zeros({ nhid, nout }, "int32")
  wout:slice(1, nhid - nrow + 1, nhid):copy_(w_out)
  local wrec
  if w_rec then
    wrec = lp.zeros({ nhid, nhid, nsyn }, "int32")
    wrec:slice(3, 1, s_rec):copy_(w_rec:reshape(nhid, nhid, s_rec))
  end
  -- input expansion / output expansion neurons, fan-out and weight counts
  if nhid > L.n_ien then
    local i = first_nonzero_row(win:slice(2, L.n_ien + 1, nhid):transpose(1, 2))
    if i then
      argerror(fname, 1, ("field 'weights_in': hidden neuron %d receives input, %s allows input only to the first %d"):format(
        L.n_ien + i, title, L.n_ien), 3)
    end
  end
  if nhid > L.n_oen then
    local i = first_nonzero_row(wout:slice(1, 1, nhid - L.n_oen))
    if i then
      argerror(fname, 1, ("field 'weights_out': hidden neuron %d drives the readout, %s reads out only the last %d"):format(
        i, title, L.n_oen), 3)
    end
  end
  if wrec then
    local fan = wrec:reshape(nhid, nhid * nsyn):ne(0):sum(2)
    local mx = fan:max():item()
    if mx > L.max_fanout then
      local tt = fan:totable()
      for i = 1, nhid do
        if tt[i] == mx then
          argerror(fname, 1, ("field 'weights_rec': hidden neuron %d has %d recurrent weights, %s allows at most %d"):format(
            i, mx, title, L.max_fanout), 3)
        end
      end
    end
    local per = wrec:reshape(nhid * nhid, nsyn):ne(0):sum(1):totable()
    for s = 1, nsyn do
      if per[s] > L.max_rec_weights then
        argerror(fname, 1, ("field 'weights_rec': %d recurrent weights on synapse %d, %s allows at most %d"):format(
          per[s], s, title, L.max_rec_weights), 3)
      end
    end
  end
  -- aliases
  local alias_ptr, alias_idx
  if spec.aliases ~= nil then
    local a = spec.aliases
    if type(a) ~= "table" or lp.is_tensor(a) then
      argerror(fname, 1, ("field 'aliases': expected a list of %d lists, got %s"):format(nhid, type(a)), 3)
    end
    if #a ~= nhid then
      argerror(fname, 1, ("field 'aliases': expected %d lists (one per hidden neuron), got %d"):format(nhid, #a), 3)
    end
    local ptr, idx = { 0 }, {}
    for i = 1, nhid do
      local e = a[i]
      if type(e) ~= "table" then
        argerror(fname, 1, ("field 'aliases': entry %d must be a list, got %s"):format(i, type(e)), 3)
      end
      if #e > 1 then
        argerror(fname, 1, ("field 'aliases': neuron %d has %d targets, %s allows one"):format(i, #e, title), 3)
      end
      if #e == 1 then
        local tgt = e[1]
        if math.type(tgt) ~= "integer" and not (type(tgt) == "number" and tgt == math.floor(tgt)) then
          argerror(fname, 1, ("field 'aliases': neuron %d: target must be an integer, got %s"):format(i, tostring(tgt)), 3)
        end
        if tgt < 1 or tgt > nhid then
          argerror(fname, 1, ("field 'aliases': neuron %d: target %d is not a hidden neuron (1..%d)"):format(
            i, math.tointeger(tgt), nhid), 3)
        end
        idx[#idx + 1] = math.tointeger(tgt) - 1
      end
      ptr[i + 1] = #idx
    end
    if #idx > 0 then
      alias_ptr, alias_idx = lp.tensor(ptr, "int32"), lp.tensor(idx, "int32")
    end
  end
  local function vec_or(t, n)
    if t then return t:astype("int32") end
    return lp.zeros({ n }, "int32")
  end
  return {
    nin = nin, nhid = nhid, nout = nout, nsyn = nsyn,
    w_in = win, w_rec = wrec, w_out = wout,
    dash_mem = vec_or(vec.dash_mem, nhid), dash_syn = vec_or(vec.dash_syn, nhid),
    dash_syn2 = nsyn == 2 and vec_or(vec.dash_syn_2, nhid) or nil,
    threshold = vec_or(vec.threshold, nhid), bias = vec_or(vec.bias, nhid),
    dash_mem_out = vec_or(vec_out.dash_mem_out, nout), dash_syn_out = vec_or(vec_out.dash_syn_out, nout),
    threshold_out = vec_or(vec_out.threshold_out, nout), bias_out = vec_or(vec_out.bias_out, nout),
    shift_in = shifts.weight_shift_in, shift_rec = shifts.weight_shift_rec, shift_out = shifts.weight_shift_out,
    alias_ptr = alias_ptr, alias_idx = alias_idx,
  }
end

local OPTS = { dt = true, output_mode = true }

local function read_opts(fname, opts)
  -- XyloSim.from_specification(xylo.channel_quantize(spec)): the quantiser's
  -- report arrives second, in place of the options
  local mt = type(opts) == "table" and getmetatable(opts)
  if mt and mt.__name == "limpet.xylo.QuantizeReport" then opts = nil end
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then argerror(fname, 2, ("expected an options table, got %s"):format(type(opts)), 3) end
  for k in pairs(opts) do
    if not OPTS[k] then argerror(fname, 2, ("unknown field '%s'"):format(tostring(k)), 3) end
  end
  local dt = opts.dt == nil and 1e-3 or opts.dt
  if type(dt) ~= "number" or not (dt > 0) or dt == math.huge then
    argerror(fname, 2, ("field 'dt': expected a positive number, got %s"):format(tostring(dt)), 3)
  end
  local mode = opts.output_mode == nil and "Spike" or opts.output_mode
  if MODES[mode] == nil then
    argerror(fname, 2, ("field 'output_mode' must be one of Spike, Vmem, Isyn, got '%s'"):format(tostring(mode)), 3)
  end
  return dt, mode
end

-- ---- the simulator class --------------------------------------------------

local Base = class.Object:extend("XyloSim")

local function make(cls, fname, spec, opts, strict)
  local L = cls.limits
  local dt, mode = read_opts(fname, opts)
  local args = compile(L, fname, spec, strict)
  local c, msg = core._xylo.new(args)
  if not c then argerror(fname, 1, msg, 2) end
  local self = setmetatable({}, cls)
  self._core = c
  self.variant = cls.variant
  self.dt = dt
  self.output_mode = mode
  self.size_in, self.size, self.size_out, self.n_synapses = args.nin, args.nhid, args.nout, args.nsyn
  self.shape = { args.nin, args.nhid, args.nout }
  self.spiking_output = mode == "Spike"           -- Rockpool's module flags
  self.spiking_input = true
  self.weight_shift_in, self.weight_shift_rec, self.weight_shift_out = args.shift_in, args.shift_rec, args.shift_out
  return self
end

--- XyloSim.from_specification(spec[, {dt, output_mode}]) -> sim
function Base.from_specification(spec, opts)
  error("bad argument #1 to 'from_specification' (use require('limpet.xylo.xylosim').for_variant(name))", 2)
end

local FNAME_EVOLVE = "evolve"

-- Input as a tensor (B, T, Nin).
local function check_input(self, x)
  local t = x
  if not lp.is_tensor(t) then
    if type(t) ~= "table" then
      argerror(FNAME_EVOLVE, 1, ("expected input counts (T, %d) or (B, T, %d), got %s"):format(
        self.size_in, self.size_in, type(x)), 4)
    end
    local ok, r = pcall(lp.tensor, t)
    if not ok then argerror(FNAME_EVOLVE, 1, "input: expected a tensor or a nested table of counts", 4) end
    t = r
  end
  local nd = t:dim()
  if (nd ~= 2 and nd ~= 3) or t.shape[nd] ~= self.size_in then
    argerror(FNAME_EVOLVE, 1, ("expected input counts (T, %d) or (B, T, %d), got shape %s"):format(
      self.size_in, self.size_in, shape_str(t)), 4)
  end
  return t
end

--- sim:evolve(input[, record]) -> output (B, T, Nout), state, record
function Base:evolve(x, record)
  local t = check_input(self, x)
  local out, rec = self._core:evolve(t, MODES[self.output_mode], record and true or false)
  if not out then argerror(FNAME_EVOLVE, 1, rec, 2) end
  return out, self:state(), rec or {}
end

function Base.__call(self, x, record) return self:evolve(x, record) end

--- sim:state() -> {Vmem, Isyn, Isyn2 (2 synapses), Spikes, Vmem_out, Isyn_out}
-- (int32 tensors: (Nhid) or (Nout); Spikes = counts of the last step)
function Base:state()
  local s = self._core:state()
  local st = { Vmem = s.Vmem, Spikes = s.Spikes, Vmem_out = s.Vmem_out, Isyn_out = s.Isyn_out }
  st.Isyn = s.Isyn:slice(2, 1, 1):reshape(self.size):contiguous()
  if self.n_synapses == 2 then st.Isyn2 = s.Isyn:slice(2, 2, 2):reshape(self.size):contiguous() end
  return st
end

--- sim:set_state(state): a table as sim:state() returns (tensors or tables).
function Base:set_state(st)
  local fname = "set_state"
  if type(st) ~= "table" then argerror(fname, 1, ("expected a state table, got %s"):format(type(st)), 2) end
  local keys = { Vmem = true, Isyn = true, Isyn2 = true, Spikes = true, Vmem_out = true, Isyn_out = true }
  for k in pairs(st) do
    if not keys[k] then argerror(fname, 1, ("unknown field '%s'"):format(tostring(k)), 2) end
  end
  local function T(k, n)
    local v = st[k]
    if v == nil then argerror(fname, 1, ("field '%s' missing"):format(k), 3) end
    local t = int_tensor(fname, 1, k, v)
    if t:numel() ~= n then
      argerror(fname, 1, ("field '%s': expected %d values, got shape %s"):format(k, n, shape_str(t)), 3)
    end
    return t:reshape(n)
  end
  local nh, no = self.size, self.size_out
  local isyn = T("Isyn", nh):reshape(nh, 1)
  if self.n_synapses == 2 then
    isyn = lp.cat({ isyn, T("Isyn2", nh):reshape(nh, 1) }, 2)
  elseif st.Isyn2 ~= nil then
    argerror(fname, 1, "field 'Isyn2': this network has one synapse per neuron", 2)
  end
  local ok, msg = self._core:set_state {
    Isyn = isyn, Vmem = T("Vmem", nh), Spikes = T("Spikes", nh), Isyn_out = T("Isyn_out", no),
    Vmem_out = T("Vmem_out", no),
  }
  if not ok then argerror(fname, 1, msg, 2) end
end

--- sim:reset_state(): zero Isyn, Vmem and the spike buffers; returns sim.
function Base:reset_state() self._core:reset(); return self end

--- sim:set_attributes(state) -> sim: the state a call returns (Rockpool's
-- module API; the simulator has no other settable attributes).
function Base:set_attributes(st)
  self:set_state(st)
  return self
end

-- The rest of the module face Rockpool gives XyloSim: no trainable
-- parameters, no sub-modules, a name.
function Base:parameters() return {} end
function Base:modules() return {} end
Base.full_name = "XyloSim"
Base.class_name = "XyloSim"

--- sim:timed{add_events =, output_num =} -> the simulator on time series
-- (input TSEvent rasterised on sim.dt from the wrapper's clock).
function Base:timed(opts) return require("limpet.nn.timed").TimedModuleWrapper(self, opts) end

function Base:__tostring()
  return ("XyloSim(%s: %d in, %d hidden, %d out, %d synapse%s, dt %g, output_mode %s)"):format(
    self.variant, self.size_in, self.size, self.size_out, self.n_synapses, self.n_synapses == 1 and "" or "s",
    self.dt, self.output_mode)
end

-- XyloSim(...) is not a constructor: a simulator comes from a specification
-- or a configuration.
function Base.new()
  error("XyloSim: make a simulator with XyloSim.from_specification(spec) or XyloSim.from_config(config)", 3)
end

--- Stored synapse counts (nonzero weights): input, recurrent, readout.
function Base:synapse_counts() return self._core:counts() end

local PATHS = { auto = true, generic = true, reference = true }

--- sim:kernel_path([name]) -> path, isa (see the header)
function Base:kernel_path(name)
  if name ~= nil and not PATHS[name] then
    argerror("kernel_path", 1, ("expected 'auto', 'generic' or 'reference', got %s"):format(
      type(name) == "string" and ("'" .. name .. "'") or type(name)), 2)
  end
  return self._core:path(name)
end

local classes = {}

--- for_variant(name) -> the XyloSim class of "audio2", "audio3" or "imu".
function M.for_variant(name)
  if classes[name] then return classes[name] end
  if not limits.is_variant(name) then
    error(("bad argument #1 to 'for_variant' (unknown Xylo variant '%s'; expected audio2, audio3 or imu)")
      :format(tostring(name)), 2)
  end
  local C = Base:extend("XyloSim")
  C.variant = name
  C.limits = limits.for_variant(name)
  function C.from_specification(spec, opts) return make(C, "from_specification", spec, opts, true) end
  function C.from_config(config, opts)
    if type(config) ~= "table" then
      argerror("from_config", 1, ("expected a Xylo configuration, got %s"):format(type(config)), 2)
    end
    if config.variant ~= nil and config.variant ~= name then
      local other = limits.is_variant(config.variant) and limits.for_variant(config.variant).title or tostring(config.variant)
      argerror("from_config", 1, ("configuration for %s given to the %s simulator"):format(other, C.limits.title), 2)
    end
    return make(C, "from_config", config, opts, false)
  end
  classes[name] = C
  return C
end

M.output_modes = { "Spike", "Vmem", "Isyn" }

return M
