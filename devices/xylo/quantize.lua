-- devices/xylo/quantize.lua -- `limpet.xylo.quantize`: float Xylo
-- specifications (what the mapper returns) -> integer ones (Rockpool's
-- `global_quantize` and `channel_quantize`, xylo.md §7).
-- Owns: the scale factors, rounding (half to even, as numpy), clipping to
-- the representable ranges, and the report. Not here: mapping, config.
--
-- Both functions take a spec (fields as tensors or nested Lua tables) and
-- return `new_spec, report`: a new table with `weights_in`, `weights_rec`
-- (3-D, trailing synapse axis), `weights_out`, `threshold`,
-- `threshold_out`, `bias`, `bias_out` and every `dash_*` replaced by int32
-- tensors, every other field carried over as it is; and a report
--   { scale = k (global: number; channel: (Nhid) tensor), scale_out = ...,
--     clipped = number of weights clipped, clipped_thresholds,
--     clipped_biases, clipped_dashes, threshold_rescaled = bool (global) },
-- a table named "limpet.xylo.QuantizeReport" (so that
-- config_from_specification(xylo.channel_quantize(spec)) knows the second
-- value is not its options).
-- Ranges: weights -(2^(b-1))..2^(b-1)-1 (b = bits_per_weight, default 8),
-- thresholds and biases -(2^(t-1))..2^(t-1)-1 (t = bits_per_threshold,
-- default 16), dashes 0..15.
--
-- Where we differ from Rockpool on purpose (its quirks, §7):
-- * Everything is clipped to its range after rounding (Rockpool does not
--   clip; with fuzzy scaling its int8 cast then wraps, 200 -> -56).
-- * Threshold overflow rescales from the float values (no double rounding),
--   is judged on |threshold| (Rockpool: the signed maximum), and an output
--   overflow rescales the output weights only (Rockpool also rescales
--   weights_rec).
-- * bias_out is scaled with the output scale (Rockpool: the hidden one).
-- * channel_quantize scales each hidden bias with its neuron's scale
--   (Rockpool: only when there are two synapses), and tests `j <= N_IEN`
--   correctly (Rockpool's off-by-one can index past weights_in).
local lp = require "limpet"

local REPORT = { __name = "limpet.xylo.QuantizeReport" }

local M = {}

local DASHES = { "dash_mem", "dash_mem_out", "dash_syn", "dash_syn_2", "dash_syn_out" }

-- level: 4 from a function the entry point calls directly, 5 one deeper
local function argerror(fname, n, msg, level)
  error(("bad argument #%d to '%s' (%s)"):format(n, fname, msg), level or 4)
end

--- M.round_half_even(x) -> x rounded to the nearest integer, ties to even (numpy's round).
local function rne(x)
  local f = math.floor(x)
  local d = x - f
  if d > 0.5 then return f + 1 end
  if d < 0.5 then return f end
  if f % 2 == 0 then return f end
  return f + 1
end
M.round_half_even = rne

local function shape_str(s) return "(" .. table.concat(s, ", ") .. (#s == 1 and ",)" or ")") end

-- a field as {v = flat float values, shape = {...}}; nil when absent
local function field(fname, spec, key, required)
  local v = spec[key]
  if v == nil then
    if required then argerror(fname, 1, ("field '%s' is required"):format(key), 5) end
    return nil
  end
  local t
  if lp.is_tensor(v) then t = v
  elseif type(v) == "number" then t = lp.tensor({ v }, "float64")
  elseif type(v) == "table" then
    local ok, r = pcall(lp.tensor, v, "float64")
    if not ok then argerror(fname, 1, ("field '%s': expected numbers"):format(key), 5) end
    t = r
  else
    argerror(fname, 1, ("field '%s': tensor or table expected, got %s"):format(key, type(v)), 5)
  end
  t = t:detach():astype("float64")
  local vals = t:reshape(-1):totable()
  for i = 1, #vals do
    local x = vals[i]
    if x ~= x or x == math.huge or x == -math.huge then
      argerror(fname, 1, ("field '%s': element %d is not finite"):format(key, i), 5)
    end
  end
  local s = {}
  for i, n in ipairs(t.shape) do s[i] = n end
  return { v = vals, shape = s, given = shape_str(s) }
end

local function check_opts(fname, opts, global)
  local o = { bits_per_weight = 8, bits_per_threshold = 16, fuzzy_scaling = false }
  if opts == nil then return o end
  if type(opts) ~= "table" or lp.is_tensor(opts) then argerror(fname, 2, "table expected, got " .. type(opts)) end
  for k, v in pairs(opts) do
    if o[k] == nil or (k == "fuzzy_scaling" and not global) then
      argerror(fname, 2, ("unknown field '%s'"):format(tostring(k)))
    end
    o[k] = v
  end
  for _, k in ipairs { "bits_per_weight", "bits_per_threshold" } do
    if math.type(o[k]) ~= "integer" or o[k] < 2 or o[k] > 32 then
      argerror(fname, 2, ("field '%s' must be an integer in 2..32, got %s"):format(k, tostring(o[k])))
    end
  end
  if type(o.fuzzy_scaling) ~= "boolean" then argerror(fname, 2, "field 'fuzzy_scaling' must be a boolean") end
  return o
end

-- read and check the spec: weights as 3-D (Nsrc, Ntgt, S)
local function read(fname, spec)
  if type(spec) ~= "table" or lp.is_tensor(spec) then
    argerror(fname, 1, "specification table expected, got " .. (lp.is_tensor(spec) and "tensor" or type(spec)))
  end
  local f = {}
  f.w_in = field(fname, spec, "weights_in", true)
  f.w_rec = field(fname, spec, "weights_rec", false)
  f.w_out = field(fname, spec, "weights_out", true)
  f.thr = field(fname, spec, "threshold", true)
  f.thr_out = field(fname, spec, "threshold_out", true)
  f.bias = field(fname, spec, "bias", false)
  f.bias_out = field(fname, spec, "bias_out", false)
  local function three(key, w)
    if not w then return end
    local d = #w.shape
    if d == 2 then w.shape[3] = 1
    elseif d ~= 3 then
      argerror(fname, 1, ("field '%s': expected 2 or 3 dimensions, got shape %s"):format(key, shape_str(w.shape)), 5)
    end
  end
  three("weights_in", f.w_in)
  three("weights_rec", f.w_rec)
  if #f.w_out.shape ~= 2 then
    argerror(fname, 1, ("field 'weights_out': expected 2 dimensions, got shape %s"):format(shape_str(f.w_out.shape)))
  end
  local Nh = #f.thr.v
  local S = f.w_in.shape[3]
  if f.w_rec then
    local s = f.w_rec.shape
    if s[1] ~= Nh or s[2] ~= Nh then
      argerror(fname, 1, ("field 'weights_rec': expected shape (%d, %d[, S]) for %d hidden neurons, got %s")
        :format(Nh, Nh, Nh, f.w_rec.given))
    end
    if s[3] ~= S then
      argerror(fname, 1, ("field 'weights_rec': %d synapses but weights_in has %d"):format(s[3], S))
    end
  end
  if f.w_in.shape[2] > Nh then
    argerror(fname, 1, ("field 'weights_in': %d target neurons but there are %d hidden neurons")
      :format(f.w_in.shape[2], Nh))
  end
  local No = #f.thr_out.v
  if f.w_out.shape[1] > Nh or f.w_out.shape[2] ~= No then
    argerror(fname, 1, ("field 'weights_out': expected shape (<= %d, %d), got %s"):format(Nh, No, shape_str(f.w_out.shape)))
  end
  if f.bias and #f.bias.v ~= Nh then
    argerror(fname, 1, ("field 'bias': expected %d values, got %d"):format(Nh, #f.bias.v))
  end
  if f.bias_out and #f.bias_out.v ~= No then
    argerror(fname, 1, ("field 'bias_out': expected %d values, got %d"):format(No, #f.bias_out.v))
  end
  f.dash = {}
  for _, k in ipairs(DASHES) do f.dash[k] = field(fname, spec, k, false) end
  f.Nh, f.No, f.S, f.n_ien = Nh, No, S, f.w_in.shape[2]
  return f
end

-- integer output arrays with clipping counts
local function quantiser(o)
  local wmax = (1 << (o.bits_per_weight - 1)) - 1
  local tmax = (1 << (o.bits_per_threshold - 1)) - 1
  local q = { wmax = wmax, tmax = tmax, clipped = 0, clipped_thresholds = 0, clipped_biases = 0, clipped_dashes = 0 }
  local function clip(x, lo, hi, counter)
    if x > hi then q[counter] = q[counter] + 1; return hi end
    if x < lo then q[counter] = q[counter] + 1; return lo end
    return x
  end
  function q.weight(x) return clip(rne(x), -wmax - 1, wmax, "clipped") end
  function q.threshold(x) return clip(rne(x), -tmax - 1, tmax, "clipped_thresholds") end
  function q.bias(x) return clip(rne(x), -tmax - 1, tmax, "clipped_biases") end
  function q.dash(x) return clip(rne(x), 0, 15, "clipped_dashes") end
  return q
end

local function tensor(vals, shape)
  if #vals == 0 then return lp.zeros(shape, "int32") end
  return lp.tensor(vals, "float64"):reshape(shape):astype("int32")
end

-- the new spec: quantised fields from `out` (flat values), the rest carried over
local function assemble(spec, f, out, q)
  local new = {}
  for k, v in pairs(spec) do new[k] = v end
  new.weights_in = tensor(out.w_in, f.w_in.shape)
  if f.w_rec then new.weights_rec = tensor(out.w_rec, f.w_rec.shape) end
  new.weights_out = tensor(out.w_out, f.w_out.shape)
  new.threshold = tensor(out.thr, { f.Nh })
  new.threshold_out = tensor(out.thr_out, { f.No })
  if f.bias then new.bias = tensor(out.bias, { f.Nh }) end
  if f.bias_out then new.bias_out = tensor(out.bias_out, { f.No }) end
  for _, k in ipairs(DASHES) do
    local d = f.dash[k]
    if d then
      local v = {}
      for i, x in ipairs(d.v) do v[i] = q.dash(x) end
      new[k] = tensor(v, d.shape)
    end
  end
  return new
end

local function absmax(list, into)
  local m = into or 0
  for _, v in ipairs(list) do
    local a = math.abs(v)
    if a > m then m = a end
  end
  return m
end

-- |mean| + 2·std (population) of the nonzero entries of the lists
local function fuzzy(lists)
  local n, s = 0, 0.0
  for _, l in ipairs(lists) do for _, v in ipairs(l) do if v ~= 0 then n = n + 1; s = s + v end end end
  if n == 0 then return 0 end
  local mean = s / n
  local ss = 0.0
  for _, l in ipairs(lists) do for _, v in ipairs(l) do if v ~= 0 then ss = ss + (v - mean) ^ 2 end end end
  return math.abs(mean) + 2 * math.sqrt(ss / n)
end

--- M.global_quantize(spec[, {bits_per_weight = 8, bits_per_threshold = 16,
-- fuzzy_scaling = false}]) -> new_spec, report. One scale for the input and
-- recurrent weights, thresholds and biases (127 / max|W_in, W_rec, bias|),
-- one for the readout (127 / max|W_out, bias_out|); fuzzy_scaling uses
-- |mean| + 2·std of the nonzero weights instead of the maximum (weights
-- beyond it are clipped). If a scaled threshold would overflow, that scale
-- shrinks until the largest |threshold| is the threshold maximum.
function M.global_quantize(spec, opts)
  local fname = "global_quantize"
  local o = check_opts(fname, opts, true)
  local f = read(fname, spec)
  local q = quantiser(o)
  local rec = f.w_rec and f.w_rec.v or {}
  local m, m_out
  if o.fuzzy_scaling then
    m = fuzzy { f.w_in.v, rec }
    m_out = fuzzy { f.w_out.v }
  else
    m = absmax(rec, absmax(f.w_in.v, f.bias and absmax(f.bias.v) or 0))
    m_out = absmax(f.w_out.v, f.bias_out and absmax(f.bias_out.v) or 0)
  end
  local k = m ~= 0 and q.wmax / m or 1
  local k_out = m_out ~= 0 and q.wmax / m_out or 1
  local rescaled = false
  local function fit(thr, scale)
    local t = absmax(thr) * scale
    if rne(t) > q.tmax then rescaled = true; return q.tmax / absmax(thr) end
    return scale
  end
  k = fit(f.thr.v, k)
  k_out = fit(f.thr_out.v, k_out)
  local out = { w_in = {}, w_rec = {}, w_out = {}, thr = {}, thr_out = {}, bias = {}, bias_out = {} }
  for i, v in ipairs(f.w_in.v) do out.w_in[i] = q.weight(v * k) end
  for i, v in ipairs(rec) do out.w_rec[i] = q.weight(v * k) end
  for i, v in ipairs(f.w_out.v) do out.w_out[i] = q.weight(v * k_out) end
  for i, v in ipairs(f.thr.v) do out.thr[i] = q.threshold(v * k) end
  for i, v in ipairs(f.thr_out.v) do out.thr_out[i] = q.threshold(v * k_out) end
  if f.bias then for i, v in ipairs(f.bias.v) do out.bias[i] = q.bias(v * k) end end
  if f.bias_out then for i, v in ipairs(f.bias_out.v) do out.bias_out[i] = q.bias(v * k_out) end end
  local new = assemble(spec, f, out, q)
  return new, setmetatable({ scale = k, scale_out = k_out, threshold_rescaled = rescaled, clipped = q.clipped,
                clipped_thresholds = q.clipped_thresholds, clipped_biases = q.clipped_biases,
                clipped_dashes = q.clipped_dashes }, REPORT)
end

--- M.channel_quantize(spec[, {bits_per_weight = 8, bits_per_threshold = 16}])
-- -> new_spec, report. One scale per target neuron: hidden neuron j uses
-- 127 / max|W_in[:, j, :], W_rec[:, j, :]| for its incoming weights,
-- threshold and bias; output neuron k uses 127 / max|W_out[:, k]|. A
-- neuron with no incoming weight keeps scale 1. Threshold overflow shrinks
-- that neuron's scale as in global_quantize.
function M.channel_quantize(spec, opts)
  local fname = "channel_quantize"
  local o = check_opts(fname, opts, false)
  local f = read(fname, spec)
  local q = quantiser(o)
  local Nh, No, S, Ni_cols = f.Nh, f.No, f.S, f.n_ien
  local Nin = f.w_in.shape[1]
  local win, wrec, wout = f.w_in.v, f.w_rec and f.w_rec.v, f.w_out.v
  local out = { w_in = {}, w_rec = {}, w_out = {}, thr = {}, thr_out = {}, bias = {}, bias_out = {} }
  local scale, scale_out = {}, {}
  local function fit(thr, s)
    if rne(math.abs(thr) * s) > q.tmax then return q.tmax / math.abs(thr) end
    return s
  end
  for j = 1, Nh do
    local m = 0
    if j <= Ni_cols then
      for i = 1, Nin do for s = 1, S do
        local a = math.abs(win[((i - 1) * Ni_cols + (j - 1)) * S + s])
        if a > m then m = a end
      end end
    end
    if wrec then
      for i = 1, Nh do for s = 1, S do
        local a = math.abs(wrec[((i - 1) * Nh + (j - 1)) * S + s])
        if a > m then m = a end
      end end
    end
    local k = 1
    if m ~= 0 then k = fit(f.thr.v[j], q.wmax / m) end
    scale[j] = k
    if j <= Ni_cols then
      for i = 1, Nin do for s = 1, S do
        local idx = ((i - 1) * Ni_cols + (j - 1)) * S + s
        out.w_in[idx] = q.weight(win[idx] * k)
      end end
    end
    if wrec then
      for i = 1, Nh do for s = 1, S do
        local idx = ((i - 1) * Nh + (j - 1)) * S + s
        out.w_rec[idx] = q.weight(wrec[idx] * k)
      end end
    end
    out.thr[j] = q.threshold(f.thr.v[j] * k)
    if f.bias then out.bias[j] = q.bias(f.bias.v[j] * k) end
  end
  local R = f.w_out.shape[1]
  for c = 1, No do
    local m = 0
    for r = 1, R do
      local a = math.abs(wout[(r - 1) * No + c])
      if a > m then m = a end
    end
    local k = 1
    if m ~= 0 then k = fit(f.thr_out.v[c], q.wmax / m) end
    scale_out[c] = k
    for r = 1, R do
      local idx = (r - 1) * No + c
      out.w_out[idx] = q.weight(wout[idx] * k)
    end
    out.thr_out[c] = q.threshold(f.thr_out.v[c] * k)
    if f.bias_out then out.bias_out[c] = q.bias(f.bias_out.v[c] * k) end
  end
  local new = assemble(spec, f, out, q)
  local function T(v) return #v == 0 and lp.zeros({ 0 }, "float64") or lp.tensor(v, "float64") end
  return new, setmetatable({ scale = T(scale), scale_out = T(scale_out), clipped = q.clipped,
                clipped_thresholds = q.clipped_thresholds, clipped_biases = q.clipped_biases,
                clipped_dashes = q.clipped_dashes }, REPORT)
end

return M
