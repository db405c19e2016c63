-- devices/xylo/qat.lua -- `lp.xylo.qat`: quantisation-aware training for
-- Xylo, and weight-shift selection.
-- Owns: XyloQAT, a trainable module on a mapped specification whose forward
-- pass is Xylo's integer step (reference/xylo.md §3.5) in float64 tensor
-- ops: int8 weights with the quantiser's own scale (global or per hidden /
-- output neuron), weight bit shifts, bit-shift decays with xylosim's
-- minimum decrement, int16 saturation, integer thresholds, subtractive
-- multi-spike reset (31 hidden / 1 output), and the one-step hop delay of
-- every hidden->hidden and hidden->output connection. Gradients pass
-- straight through the roundings (d round(x·k) / dx = k, d leak = the float
-- decay) and through a piecewise-linear spike surrogate (d n / d V = 1/θ for
-- V in [θ/2, (max + 1/2)·θ]). select_weight_shifts and the one-call recipe
-- qat(net, opts).
-- Not here: the mapper, the post-training quantisers (quantize.lua), the
-- simulator (xylosim.c), which the exactness spec compares against.
--
-- Exactness: for a network without aliases whose synaptic deliveries do not
-- saturate part-way (xylosim adds events one by one, saturating each time;
-- here one sum is clamped once), the forward pass equals XyloSim's output
-- and records bit for bit, every step (spec/xylo/qat_spec.lua). Thresholds
-- are kept >= 1 (xylosim's loop for thresholds <= 0 is not emulated).
-- Sparsity: the entries of weights_rec that are zero in the specification
-- stay zero (a fixed mask, multiplied in before quantising): connections the
-- float network did not have (a feed-forward chain's hidden blocks, targets
-- beyond a recurrent layer's rec_fanout) are not grown by QAT, so the
-- trained network keeps the chip's fan-out limit.
-- Scales are recomputed from the current float weights on every call (as
-- global_quantize / channel_quantize would), detached.
--
-- Weight shifts: for the hidden scale k, Xylo's effective weight is
-- w_int·2^shift, w_int = round(W·k / 2^shift) in -128..127. A larger k
-- resolves thresholds and membrane states more finely (the decays' floor
-- and minimum decrement matter less) at the same relative weight error, so
-- select_weight_shifts takes the largest k with max(θ)·k·headroom <= 32767,
-- biases in range, no hidden neuron's input delivery able to saturate
-- (Σ_i |W_in[i, j]|·k·15 <= 32767: 15 events on every channel, the chip's
-- most), nor its recurrent or readout delivery (31 spikes from every hidden
-- neuron, the chip's most), never below the scale of shift 0, and shifts
-- <= 7, then for each
-- of in/rec/out the
-- smallest shift that keeps w_int within 127. It reports the relative RMS
-- quantisation error of each weight block and of the thresholds, for the
-- chosen shifts and for shift 0 (what global_quantize gives).
local lp = require "limpet"
local Module = require "limpet.nn.module"
local U = require "limpet.nn.util"
local limits = require "limpet.xylo.limits"

local M = {}
local SMIN, SMAX = -32768, 32767

local function argerror(fname, n, msg, level)
  error(("bad argument #%d to '%s' (%s)"):format(n, fname, msg), (level or 1) + 1)
end

local function f64(v)
  if lp.is_tensor(v) then return v:detach():astype("float64") end
  return lp.tensor(v, "float64")
end

local function absmax(t)
  if t == nil or t:numel() == 0 then return 0 end
  return t:detach():abs():max():item()
end

-- straight-through: value of `v`, gradient of `g`
local function ste(g, v) return g + (v - g):detach() end

-- xylosim's leak (§3.1): floor(v / 2^d), at least 1 for v > 0; v - leak.
-- p = 2^-d (tensor broadcastable to v). Gradient: the float decay v·(1 - p).
local function decay(v, p)
  local vd = v:detach()
  local q = lp.floor(vd * p)
  q = q + q:eq(0):logical_and(vd:gt(0)):astype("float64")
  return ste(v * (1 - p), vd - q), q
end

-- spikes and reset (§3.3): n = min(floor(V/θ), max) for V >= θ (θ >= 1);
-- V -= n·θ. Surrogate: clamp(V/θ - 1/2, 0, max).
local function fire(v, th, max)
  local vd, td = v:detach(), th:detach()
  local n = lp.floor(vd / td):clamp(0, max)
  local g = (v / th - 0.5):clamp(0, max)
  local ns = ste(g, n)
  return ns, v - ns * th
end

local function sat(x) return x:clamp(SMIN, SMAX) end

-- select_weight_shifts ----------------------------------------------------------

local function rel_rms(w, k, s)
  if w == nil or w:numel() == 0 then return 0 end
  local x = w * k
  local q = lp.round(x / 2 ^ s):clamp(-128, 127) * 2 ^ s
  local num = ((q - x) ^ 2):sum():item()
  local den = (x ^ 2):sum():item()
  return den > 0 and math.sqrt(num / den) or 0
end

local function thr_rms(th, k)
  if th == nil or th:numel() == 0 then return 0 end
  local x = th * k
  local num = ((lp.round(x) - x) ^ 2):sum():item()
  local den = (x ^ 2):sum():item()
  return den > 0 and math.sqrt(num / den) or 0
end

local function shift_for(m, k)
  if m <= 0 then return 0 end
  local s = math.ceil(math.log(m * k / 127, 2) - 1e-12)
  if s < 0 then s = 0 end
  return s
end

--- xylo.select_weight_shifts(spec[, {headroom = 4}]) -> shifts
-- {weight_shift_in, weight_shift_rec, weight_shift_out, scale, scale_out,
--  error = {in, rec, out, threshold, threshold_out}, error_shift0 = {...}}
-- spec: a float specification from the mapper (see the header).
function M.select_weight_shifts(spec, opts)
  local F = "select_weight_shifts"
  if type(spec) ~= "table" or spec.weights_in == nil then argerror(F, 1, "a mapped specification expected", 2) end
  opts = U.options(F, 2, opts, { headroom = 4 }, 2)
  if type(opts.headroom) ~= "number" or not (opts.headroom >= 1) then
    argerror(F, 2, "field 'headroom' must be a number >= 1", 2)
  end
  local win, wrec, wout = f64(spec.weights_in), spec.weights_rec and f64(spec.weights_rec), f64(spec.weights_out)
  local th, tho = f64(spec.threshold), f64(spec.threshold_out)
  local mi, mr, mo = absmax(win), absmax(wrec), absmax(wout)
  local function pick(ms, thmax, bmax)
    local k = math.huge
    for _, m in ipairs(ms) do if m > 0 then k = math.min(k, 127 * 2 ^ 7 / m) end end
    if thmax > 0 then k = math.min(k, SMAX / (thmax * opts.headroom)) end
    if bmax > 0 then k = math.min(k, SMAX / bmax) end
    if k == math.huge then k = 1 end
    return k
  end
  local bmax = spec.bias and absmax(f64(spec.bias)) or 0
  local bomax = spec.bias_out and absmax(f64(spec.bias_out)) or 0
  local thmax = math.max(0, th:numel() > 0 and th:max():item() or 0)
  local thomax = math.max(0, tho:numel() > 0 and tho:max():item() or 0)
  local k = pick({ mi, mr }, thmax, bmax)
  local ko = pick({ mo }, thomax, bomax)
  local colsum = win:abs():sum(1):max():item()             -- the largest input column sum
  if colsum > 0 then k = math.min(k, SMAX / (15 * colsum)) end
  if wrec then                                             -- 31 spikes from every hidden neuron
    local rs = wrec:abs():sum(1):max():item()
    if rs > 0 then k = math.min(k, SMAX / (31 * rs)) end
  end
  local os_ = wout:abs():sum(1):max():item()
  if os_ > 0 then ko = math.min(ko, SMAX / (31 * os_)) end
  local kofloor = mo > 0 and 127 / mo or math.huge
  if kofloor < math.huge and ko < kofloor then ko = kofloor end
  local kfloor = math.min(mi > 0 and 127 / mi or math.huge, mr > 0 and 127 / mr or math.huge)
  if kfloor < math.huge and k < kfloor then k = kfloor end  -- never coarser than shift 0
  local si, sr, so = shift_for(mi, k), shift_for(mr, k), shift_for(mo, ko)
  local k0 = 127 / math.max(mi, mr, bmax, 1e-300)
  local ko0 = 127 / math.max(mo, bomax, 1e-300)
  return {
    weight_shift_in = si, weight_shift_rec = sr, weight_shift_out = so, scale = k, scale_out = ko,
    error = { ["in"] = rel_rms(win, k, si), rec = rel_rms(wrec, k, sr), out = rel_rms(wout, ko, so),
              threshold = thr_rms(th, k), threshold_out = thr_rms(tho, ko) },
    error_shift0 = { ["in"] = rel_rms(win, k0, 0), rec = rel_rms(wrec, k0, 0), out = rel_rms(wout, ko0, 0),
                     threshold = thr_rms(th, k0), threshold_out = thr_rms(tho, ko0) },
  }
end

-- XyloQAT -----------------------------------------------------------------------

local XyloQAT = Module:extend("XyloQAT")
M.XyloQAT = XyloQAT

--- xylo.XyloQAT(spec, {variant = "audio2", quantize = "global" | "channel",
--   weight_shift_in / _rec / _out = "auto" | 0..7, headroom = 4, output_mode = "Vmem" | "Spike"})
-- spec: a float specification from variant.mapper (no aliases). Trainable:
-- weights_in, weights_rec, weights_out, threshold, threshold_out, bias,
-- bias_out (float, the mapper's units). evolve(counts (B, T, Nin)) ->
-- output (B, T, Nout): output Vmem (integers) or spikes; record: Vmem,
-- Isyn, Isyn2, Spikes, Vmem_out, Isyn_out, spikes_out.
function XyloQAT:init(spec, opts)
  local F = "XyloQAT"
  if type(spec) ~= "table" or spec.weights_in == nil or spec.weights_out == nil then
    argerror(F, 1, "a mapped specification expected (variant.mapper(net:as_graph()))", 4)
  end
  local o = U.options(F, 2, opts, { variant = "audio2", quantize = "global", weight_shift_in = "auto",
    weight_shift_rec = "auto", weight_shift_out = "auto", headroom = 4, output_mode = "Vmem" }, 4)
  if not limits.is_variant(o.variant) then
    argerror(F, 2, ("field 'variant' must be one of audio2, audio3, imu, got '%s'"):format(tostring(o.variant)), 4)
  end
  if o.quantize ~= "global" and o.quantize ~= "channel" then
    argerror(F, 2, ("field 'quantize' must be 'global' or 'channel', got '%s'"):format(tostring(o.quantize)), 4)
  end
  if o.output_mode ~= "Vmem" and o.output_mode ~= "Spike" then
    argerror(F, 2, ("field 'output_mode' must be 'Vmem' or 'Spike', got '%s'"):format(tostring(o.output_mode)), 4)
  end
  if spec.aliases then
    for i, a in ipairs(spec.aliases) do
      if #a > 0 then argerror(F, 1, ("hidden neuron %d has an alias; XyloQAT does not emulate aliases"):format(i), 4) end
    end
  end
  local sh = M.select_weight_shifts(spec, { headroom = o.headroom })
  for _, k in ipairs { "weight_shift_in", "weight_shift_rec", "weight_shift_out" } do
    local v = o[k]
    if v == "auto" then v = sh[k]
    elseif math.type(v) ~= "integer" or v < 0 or v > 7 then
      argerror(F, 2, ("field '%s' must be 'auto' or an integer in 0..7"):format(k), 4)
    end
    rawset(self, k, v)
  end
  rawset(self, "shift_report", sh)
  local win = f64(spec.weights_in)
  if win:dim() == 2 then win = win:unsqueeze(3) end
  local Ni, Nien, S = win.shape[1], win.shape[2], win.shape[3]
  local th = f64(spec.threshold)
  local Nh = th:numel()
  local wrec = spec.weights_rec and f64(spec.weights_rec) or lp.zeros({ Nh, Nh, S }, "float64")
  if wrec:dim() == 2 then wrec = wrec:unsqueeze(3) end
  if wrec.shape[3] < S then wrec = lp.cat({ wrec, lp.zeros({ Nh, Nh, S - wrec.shape[3] }, "float64") }, 3) end
  if win.shape[3] < wrec.shape[3] then
    win = lp.cat({ win, lp.zeros({ Ni, Nien, wrec.shape[3] - win.shape[3] }, "float64") }, 3)
    S = wrec.shape[3]
  end
  local wout = f64(spec.weights_out)
  local No = wout.shape[2]
  Module.init(self, { Ni, No })
  rawset(self, "n_hidden", Nh)
  rawset(self, "n_syn", S)
  rawset(self, "n_ien", Nien)
  rawset(self, "n_oen", wout.shape[1])
  rawset(self, "variant", o.variant)
  rawset(self, "quantize", o.quantize)
  rawset(self, "output_mode", o.output_mode)
  self:parameter("weights_in", win, { family = "weights" })
  self:parameter("weights_rec", wrec, { family = "weights" })
  rawset(self, "_rec_mask", wrec:ne(0):astype("float64"))
  self:parameter("weights_out", wout, { family = "weights" })
  self:parameter("threshold", th:clamp(1e-12, nil), { family = "thresholds" })
  self:parameter("threshold_out", f64(spec.threshold_out):clamp(1e-12, nil), { family = "thresholds" })
  self:parameter("bias", spec.bias and f64(spec.bias) or lp.zeros({ Nh }, "float64"), { family = "biases" })
  self:parameter("bias_out", spec.bias_out and f64(spec.bias_out) or lp.zeros({ No }, "float64"), { family = "biases" })
  local function dash(v, n)
    return v and lp.round(f64(v)):clamp(0, 15) or lp.zeros({ n }, "float64")
  end
  self:simulation_parameter("dash_mem", dash(spec.dash_mem, Nh))
  self:simulation_parameter("dash_syn", dash(spec.dash_syn, Nh))
  self:simulation_parameter("dash_syn_2", dash(spec.dash_syn_2, Nh))
  self:simulation_parameter("dash_mem_out", dash(spec.dash_mem_out, No))
  self:simulation_parameter("dash_syn_out", dash(spec.dash_syn_out, No))
  self:simulation_parameter("dt", spec.dt or 1e-3)
  self:state("Isyn", 0, { shape = { Nh, S } })
  self:state("Vmem", 0, { shape = { Nh } })
  self:state("Isyn_out", 0, { shape = { No } })
  self:state("Vmem_out", 0, { shape = { No } })
  self:state("Spikes", 0, { shape = { Nh } })
end

-- weights_rec with the specification's zero entries kept zero (header)
function XyloQAT:_wrec() return self.weights_rec * self._rec_mask end

-- The hidden and output scales (detached numbers or (N) tensors).
function XyloQAT:_scales()
  local si, sr, so = self.weight_shift_in, self.weight_shift_rec, self.weight_shift_out
  local win, wrec, wout = self.weights_in:detach(), self:_wrec():detach(), self.weights_out:detach()
  local big = 1e300
  if self.quantize == "global" then
    local mi, mr, mo = absmax(win), absmax(wrec), absmax(wout)
    local k = math.min(mi > 0 and 127 * 2 ^ si / mi or big, mr > 0 and 127 * 2 ^ sr / mr or big)
    if k == big then k = 1 end
    local ko = mo > 0 and 127 * 2 ^ so / mo or 1
    return lp.tensor(k, "float64"), lp.tensor(ko, "float64")
  end
  -- per hidden neuron j (its incoming input and recurrent weights), per output k
  local Nh = self.n_hidden
  local mi = win:abs():max(3):max(1)                       -- (N_IEN)
  if self.n_ien < Nh then mi = lp.cat({ mi, lp.zeros({ Nh - self.n_ien }, "float64") }, 1) end
  local mr = wrec:abs():max(3):max(1)                      -- (Nh)
  local function inv(m, s)
    return lp.where(m:gt(0), lp.tensor(127 * 2 ^ s, "float64") / lp.where(m:gt(0), m, lp.ones_like(m)),
      lp.full(m.shape, big, "float64"))
  end
  local k = lp.minimum(inv(mi, si), inv(mr, sr))
  k = lp.where(k:ge(big), lp.ones_like(k), k)
  local mo = wout:abs():max(1)                             -- (No)
  local ko = inv(mo, so)
  ko = lp.where(ko:ge(big), lp.ones_like(ko), ko)
  return k, ko
end

-- effective integer weights w_int·2^s (STE), w_int = round(W·k/2^s) in -128..127
local function qweight(w, k, s)
  local x = w * k
  local q = lp.round(x:detach() / 2 ^ s):clamp(-128, 127) * 2 ^ s
  return ste(x, q)
end
local function qint16(x)
  return ste(x, lp.round(x:detach()):clamp(SMIN, SMAX))
end

--- qat:quantized() -> the integer values the forward pass uses, under the
-- names of a specification: weights_in (Nin, N_IEN, S), weights_rec,
-- weights_out, threshold, threshold_out, bias, bias_out (int w_int, not
-- shifted), the dashes and shifts.
function XyloQAT:quantized()
  return lp.no_grad(function()
    local k, ko = self:_scales()
    local kr = self.quantize == "channel" and k:reshape({ 1, self.n_hidden, 1 }) or k
    local kin = self.quantize == "channel" and k:slice(1, 1, self.n_ien):reshape({ 1, self.n_ien, 1 }) or k
    local function wint(w, kk, s) return lp.round(w * kk / 2 ^ s):clamp(-128, 127) end
    local th = lp.round(self.threshold * k):clamp(1, SMAX)
    local tho = lp.round(self.threshold_out * ko):clamp(1, SMAX)
    local spec = {
      weights_in = wint(self.weights_in, kin, self.weight_shift_in),
      weights_rec = wint(self:_wrec(), kr, self.weight_shift_rec),
      weights_out = wint(self.weights_out, ko, self.weight_shift_out),
      threshold = th, threshold_out = tho,
      bias = lp.round(self.bias * k):clamp(SMIN, SMAX), bias_out = lp.round(self.bias_out * ko):clamp(SMIN, SMAX),
      dash_mem = self.dash_mem:clone(), dash_syn = self.dash_syn:clone(), dash_mem_out = self.dash_mem_out:clone(),
      dash_syn_out = self.dash_syn_out:clone(),
      weight_shift_in = self.weight_shift_in, weight_shift_rec = self.weight_shift_rec,
      weight_shift_out = self.weight_shift_out, dt = self.dt,
    }
    if self.n_syn == 2 then spec.dash_syn_2 = self.dash_syn_2:clone() end
    for _, key in ipairs { "weights_in", "weights_rec", "weights_out", "threshold", "threshold_out", "bias",
                           "bias_out", "dash_mem", "dash_syn", "dash_syn_2", "dash_mem_out", "dash_syn_out" } do
      if spec[key] then spec[key] = spec[key]:astype("int64") end
    end
    local aliases = {}
    for i = 1, self.n_hidden do aliases[i] = {} end
    spec.aliases = aliases
    return spec
  end)
end

function XyloQAT:evolve(x, record)
  local B, T
  x, B, T = self:_auto_batch(x)
  local Nh, S, No, Nien = self.n_hidden, self.n_syn, self.size_out, self.n_ien
  x = x:astype("float64"):clamp(0, 15)
  local k, ko = self:_scales()
  -- effective integer parameters, straight-through
  local kin, krec, kh = k, k, k
  if self.quantize == "channel" then
    kin = k:slice(1, 1, Nien):reshape({ 1, Nien, 1 })
    krec = k:reshape({ 1, Nh, 1 })
  end
  local Win = qweight(self.weights_in, kin, self.weight_shift_in)         -- (Ni, Nien, S)
  local Wrec = qweight(self:_wrec(), krec, self.weight_shift_rec)       -- (Nh, Nh, S)
  local Wout = qweight(self.weights_out, ko, self.weight_shift_out)       -- (Noen, No)
  if Nien < Nh then
    Win = lp.cat({ Win, lp.zeros({ Win.shape[1], Nh - Nien, S }, "float64") }, 2)
  end
  if self.n_oen < Nh then
    Wout = lp.cat({ lp.zeros({ Nh - self.n_oen, No }, "float64"), Wout }, 1)
  end
  local th = ste(self.threshold * kh, lp.round((self.threshold * kh):detach()):clamp(1, SMAX))
  local tho = ste(self.threshold_out * ko, lp.round((self.threshold_out * ko):detach()):clamp(1, SMAX))
  local bias = qint16(self.bias * kh)
  local bias_out = qint16(self.bias_out * ko)
  local Win_s, Wrec_s = {}, {}
  for s = 1, S do
    Win_s[s] = Win:slice(3, s, s):reshape({ Win.shape[1], Nh })
    Wrec_s[s] = Wrec:slice(3, s, s):reshape({ Nh, Nh })
  end
  local p_syn = { lp.tensor(2, "float64") ^ (-self.dash_syn) }
  if S == 2 then p_syn[2] = lp.tensor(2, "float64") ^ (-self.dash_syn_2) end
  local p_mem = lp.tensor(2, "float64") ^ (-self.dash_mem)
  local p_syn_o = lp.tensor(2, "float64") ^ (-self.dash_syn_out)
  local p_mem_o = lp.tensor(2, "float64") ^ (-self.dash_mem_out)
  -- state, broadcast over the batch
  local I = {}
  for s = 1, S do I[s] = self.Isyn:slice(2, s, s):reshape({ 1, Nh }):expand({ B, Nh }) end
  local V = self.Vmem:reshape({ 1, Nh }):expand({ B, Nh })
  local Io = self.Isyn_out:reshape({ 1, No }):expand({ B, No })
  local Vo = self.Vmem_out:reshape({ 1, No }):expand({ B, No })
  local Sp = self.Spikes:reshape({ 1, Nh }):expand({ B, Nh })
  local outs, rec = {}, { Vmem = {}, Isyn = {}, Isyn2 = {}, Spikes = {}, Vmem_out = {}, Isyn_out = {}, spikes_out = {} }
  for t = 1, T do
    local xt = x:slice(2, t, t):reshape({ B, x.shape[3] })
    local Sprev = Sp:clamp(0, 31)
    -- deliveries (§3.2): input of t, hidden spikes of t - 1, then decay
    local tot
    for s = 1, S do
      I[s] = sat(I[s] + lp.matmul(xt, Win_s[s]) + lp.matmul(Sprev, Wrec_s[s]))
      I[s] = decay(I[s], p_syn[s])
      tot = tot and tot + I[s] or I[s]
    end
    Io = sat(Io + lp.matmul(Sprev, Wout))
    Io = decay(Io, p_syn_o)
    -- hidden neurons (§3.3)
    local lv = V - decay(V, p_mem)                       -- the leak, with its gradient
    local dv = sat(sat(tot - lv) + bias)
    V = sat(V + dv)
    local n
    n, V = fire(V, th, 31)
    Sp = n
    -- output neurons
    local lvo = Vo - decay(Vo, p_mem_o)
    Vo = sat(Vo + sat(sat(Io - lvo) + bias_out))
    local no
    no, Vo = fire(Vo, tho, 1)
    outs[t] = self.output_mode == "Vmem" and Vo or no
    if record then
      rec.Vmem[t], rec.Isyn[t], rec.Spikes[t] = V, I[1], n
      if S == 2 then rec.Isyn2[t] = I[2] end
      rec.Vmem_out[t], rec.Isyn_out[t], rec.spikes_out[t] = Vo, Io, no
    end
  end
  -- keep row 1's final state
  lp.no_grad(function()
    local function row(t) return t:detach():slice(1, 1, 1):reshape({ t.shape[2] }):clone() end
    local parts = {}
    for s = 1, S do parts[s] = row(I[s]):reshape({ Nh, 1 }) end
    self._values.Isyn = lp.cat(parts, 2)
    self._values.Vmem, self._values.Spikes = row(V), row(Sp)
    self._values.Isyn_out, self._values.Vmem_out = row(Io), row(Vo)
  end)
  local out = lp.stack(outs, 2)
  local r = {}
  if record then
    for key, list in pairs(rec) do if #list > 0 then r[key] = lp.stack(list, 2) end end
  end
  return out, self:state(), r
end

--- xylo.qat(net, {data =, epochs = 1, variant = "audio2", quantize = "global",
--   lr = 1e-3, loss =, val_data =, weight_shift_in / _rec / _out = "auto",
--   headroom = 4, progress = true, on_epoch =, schedule =, clip_grad_norm =})
--   -> qat_net, spec, report
-- Maps net (variant.mapper), builds XyloQAT from the float specification,
-- trains it with lp.train.fit (Adam; loss(output, labels, qat_net), default
-- the cross-entropy of the output Vmem summed over time, divided by the mean
-- output threshold; schedule: function(optimizer) -> an lp.optim.schedule
-- stepped per epoch, or nil (a per_step schedule made there steps itself);
-- clip_grad_norm: fit's) and returns the trained module, its quantised
-- specification (ready for config_from_specification) and a report
-- {shifts = select_weight_shifts' report, history = fit's history}.
function M.qat(net, opts)
  local F = "qat"
  if type(net) ~= "table" or type(net.as_graph) ~= "function" then
    argerror(F, 1, "a module with as_graph expected", 2)
  end
  local o = U.options(F, 2, opts, { data = U.NONE, epochs = 1, variant = "audio2", quantize = "global",
    lr = 1e-3, loss = U.NONE, val_data = U.NONE, weight_shift_in = "auto", weight_shift_rec = "auto",
    weight_shift_out = "auto", headroom = 4, progress = true, on_epoch = U.NONE, schedule = U.NONE,
    clip_grad_norm = U.NONE }, 2)
  if o.schedule ~= nil and type(o.schedule) ~= "function" then
    argerror(F, 2, "field 'schedule' must be a function(optimizer) -> schedule", 2)
  end
  if o.loss ~= nil and type(o.loss) ~= "function" then argerror(F, 2, "field 'loss' must be a function", 2) end
  if o.data == nil then argerror(F, 2, "field 'data' is required", 2) end
  if math.type(o.epochs) ~= "integer" or o.epochs < 0 then argerror(F, 2, "field 'epochs' must be an integer >= 0", 2) end
  if not limits.is_variant(o.variant) then
    argerror(F, 2, ("field 'variant' must be one of audio2, audio3, imu, got '%s'"):format(tostring(o.variant)), 2)
  end
  local xylo = require "limpet.xylo"
  local fspec = xylo[o.variant].mapper(net:as_graph())
  local q = XyloQAT(fspec, { variant = o.variant, quantize = o.quantize, weight_shift_in = o.weight_shift_in,
    weight_shift_rec = o.weight_shift_rec, weight_shift_out = o.weight_shift_out, headroom = o.headroom })
  local user_loss = o.loss
  local loss = user_loss and function(out, y) return user_loss(out, y, q) end or function(out, y)
    local scale = 1 / math.max(1, lp.no_grad(function() return q:quantized().threshold_out:astype("float64"):mean():item() end))
    return lp.loss.cross_entropy(out:sum(2) * (scale / out.shape[2]), y)
  end
  local optimizer = lp.optim.Adam(q:parameters(), { lr = o.lr })
  local hist = lp.train.fit { net = q, loss = loss, data = o.data, val_data = o.val_data, epochs = o.epochs,
    optimizer = optimizer, metrics = { "accuracy" }, schedule = o.schedule and o.schedule(optimizer) or nil,
    clip_grad_norm = o.clip_grad_norm, progress = o.progress, on_epoch = o.on_epoch }
  return q, q:quantized(), { shifts = q.shift_report, history = hist }
end

return M
