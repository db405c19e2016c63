-- devices/dynapse2/quantize.lua -- `limpet.dynapse2.quantize`: float Dynap-SE2
-- specifications (what the mapper returns) -> 4-bit CAM weights and per-core base weight
-- currents (Rockpool's `autoencoder_quantization`, reference/dynapse2.md §5).
-- Owns: the digital autoencoder, its loss and its training (limpet's autodiff and
-- optimisers), the integer masks and signs, the base currents Iw_0..Iw_3, and the
-- reconstruction of the float weights a quantised spec stands for.
-- Not here: mapping (mapper.lua), allocation (config.lua).
--
--   local qspec, report = lp.dynapse2.autoencoder_quantization(spec[, opts])
--
-- A connection's hardware weight is sign · Σ_k b_k·Iw_k: four binary selectors b_k per
-- CAM entry and four base currents Iw_0..Iw_3 shared by the neurons of a core. For each
-- cluster c (core), the non-zero |weights| of the columns of c's neurons in
-- G = [weights_in; weights_rec] (row-major order) form a vector w of length M, scaled by
-- s = 1 / (max w - min w + 1). The autoencoder has an encoder E (M × n_bits) and a decoder
-- D (n_bits × M): code = (s·w)·E are the base currents (in units of Iscale/s), the mask is
-- H(σ(D)) (bit k of connection i is 1 iff σ(D[k, i]) >= 0.5), the reconstruction is
-- code·mask. Loss = MSE(reconstruction, s·w) + 1000·(Σ_k exp(-min(code_k, 0)) - n_bits).
-- H's gradient is the straight-through surrogate dH/dp = p (Rockpool's step_pwl_ae).
-- Training: the optimiser runs in blocks of num_epoch_checkpoint steps and stops once the
-- mean loss of a block has failed to improve on the best block mean by more than eps for
-- more than 5 blocks in a row, or after num_epoch steps (fixed_epoch: exactly num_epoch).
--
-- qspec: a copy of spec where
--   weights_in, weights_rec   int32 (Nin, N), (N, N): the integer mask Σ_k b_k·2^k (0..15)
--                             of each connection (nil where spec had nil)
--   sign_in, sign_rec         int32, the same shapes: -1, 0, 1 (the float weights' signs)
--   Iw_0 .. Iw_3              float64 (n_cluster): base weight currents per cluster, A
--   quantization_loss         float64 (n_cluster)
--   n_bits
-- every other field carried over. The matrices are merged over clusters (column j comes
-- from the cluster of neuron j), which is Rockpool's per-cluster list of matrices summed.
-- report: { loss = (n_cluster) float64, steps = {per cluster}, history = {per cluster: the
-- loss of every step} when record_loss }.
--
-- Options: n_bits (4; 1..4), init ("binary" | "kaiming"), seed (0; kaiming), optimizer
-- ("adam" | "adamw" | "sgd" | "momentum" | "nesterov" | "rmsprop" | "rmsprop_momentum"),
-- step_size (1e-4), opt_params (more options for the limpet optimiser, by limpet's names),
-- fixed_epoch (false), num_epoch (10^7), num_epoch_checkpoint (1000), eps (1e-6),
-- record_loss (false), keep_best (true).
--
-- Where we differ from Rockpool on purpose:
-- * init = "binary" (the default) starts from the plain 4-bit quantisation: codes
--   2^k·max(w)/15 and the bits of round(15·w/max(w)), which the training then refines;
--   Rockpool's random kaiming start (init = "kaiming", uniform in ±sqrt(6/fan_in),
--   seeded) tends to settle with four nearly equal base currents (5 levels instead of 16).
-- * keep_best: the parameters of the step with the lowest loss are returned (Rockpool
--   returns the last step's; its training can jump away from a good mask late).
-- * Rockpool's third loss term (MSE between the mask and the mask sent through
--   int -> bits) is identically zero with a zero gradient for a binary mask; it is left out.
-- * Base currents the training leaves below zero are returned as 0 A (a current cannot
--   be negative); the loss penalty makes this rare.
-- * A cluster without non-zero weights gets Iw = 0 and loss 0 (Rockpool fails on the empty
--   vector); so do the clusters of a spec without weights.
-- * adagrad, adamax and sm3 are not available (limpet has no such optimisers).
local lp = require "limpet"

local M = {}

local FNAME = "autoencoder_quantization"

local function argerror(n, msg, level)
  error(("bad argument #%d to '%s' (%s)"):format(n, FNAME, msg), level or 4)
end

local DEFAULTS = {
  n_bits = 4, init = "binary", seed = 0, optimizer = "adam", step_size = 1e-4, opt_params = {},
  fixed_epoch = false, num_epoch = 10000000, num_epoch_checkpoint = 1000, eps = 1e-6,
  record_loss = false, keep_best = true,
}

local OPTIMIZERS = {
  adam = function(p, lr, o) return lp.optim.Adam(p, o(lr, {})) end,
  adamw = function(p, lr, o) return lp.optim.AdamW(p, o(lr, {})) end,
  sgd = function(p, lr, o) return lp.optim.SGD(p, o(lr, {})) end,
  momentum = function(p, lr, o) return lp.optim.SGD(p, o(lr, { momentum = 0.9 })) end,
  nesterov = function(p, lr, o) return lp.optim.SGD(p, o(lr, { momentum = 0.9, nesterov = true })) end,
  rmsprop = function(p, lr, o) return lp.optim.RMSprop(p, o(lr, {})) end,
  rmsprop_momentum = function(p, lr, o) return lp.optim.RMSprop(p, o(lr, { momentum = 0.9 })) end,
}
local OPT_NAMES = "adam, adamw, sgd, momentum, nesterov, rmsprop, rmsprop_momentum"

local function check_opts(opts)
  local o = {}
  for k, v in pairs(DEFAULTS) do o[k] = v end
  if opts == nil then return o end
  if type(opts) ~= "table" or lp.is_tensor(opts) then argerror(2, "table expected, got " .. type(opts)) end
  for k, v in pairs(opts) do
    if DEFAULTS[k] == nil then argerror(2, ("unknown field '%s'"):format(tostring(k))) end
    o[k] = v
  end
  local function int(k, lo, hi)
    local v = o[k]
    if math.type(v) ~= "integer" or v < lo or (hi and v > hi) then
      argerror(2, ("field '%s' must be an integer in %d..%s, got %s"):format(k, lo, hi and tostring(hi) or "", tostring(v)))
    end
  end
  int("n_bits", 1, 4)
  int("num_epoch", 1)
  int("num_epoch_checkpoint", 1)
  if math.type(o.seed) ~= "integer" then argerror(2, "field 'seed' must be an integer, got " .. tostring(o.seed)) end
  if o.init ~= "binary" and o.init ~= "kaiming" then
    argerror(2, ("field 'init' must be 'binary' or 'kaiming', got %s"):format(tostring(o.init)))
  end
  if type(o.optimizer) ~= "string" then argerror(2, "field 'optimizer' must be a string") end
  if not OPTIMIZERS[o.optimizer] then
    argerror(2, ("The optimizer : %s is not available! Try one of %s"):format(o.optimizer, OPT_NAMES))
  end
  if type(o.step_size) ~= "number" or not (o.step_size > 0) then
    argerror(2, "field 'step_size' must be a positive number, got " .. tostring(o.step_size))
  end
  if type(o.eps) ~= "number" or not (o.eps >= 0) then
    argerror(2, "field 'eps' must be a non-negative number, got " .. tostring(o.eps))
  end
  if type(o.opt_params) ~= "table" then argerror(2, "field 'opt_params' must be a table") end
  for _, k in ipairs { "fixed_epoch", "record_loss", "keep_best" } do
    if type(o[k]) ~= "boolean" then argerror(2, ("field '%s' must be a boolean"):format(k)) end
  end
  return o
end

-- a spec matrix field -> float64 tensor (or nil), checked against shape {r, c}
local function matrix(spec, key, rows, cols)
  local v = spec[key]
  if v == nil then return nil end
  local t
  if lp.is_tensor(v) then t = v:detach():astype("float64")
  elseif type(v) == "table" then
    local ok, r = pcall(lp.tensor, v, "float64")
    if not ok then argerror(1, ("field '%s': expected a matrix of numbers"):format(key)) end
    t = r
  else
    argerror(1, ("field '%s': tensor expected, got %s"):format(key, type(v)))
  end
  if t:dim() ~= 2 or (rows and t.shape[1] ~= rows) or t.shape[2] ~= cols then
    argerror(1, ("field '%s': expected shape (%s, %d), got (%s)"):format(key, rows and tostring(rows) or "Nin", cols,
      table.concat(t.shape, ", ")))
  end
  return t
end

-- splitmix64 (the generator of limpet.train's loaders): a stream of floats in [0, 1)
local function uniform_stream(seed)
  local s = seed
  return function()
    s = s + 0x9E3779B97F4A7C15
    local z = s
    z = (z ~ (z >> 30)) * 0xBF58476D1CE4E5B9
    z = (z ~ (z >> 27)) * 0x94D049BB133111EB
    z = z ~ (z >> 31)
    return (z >> 11) * (1.0 / 9007199254740992.0)
  end
end

-- one cluster: w (Lua list of |weights| > 0) -> codes (n_bits, in units of Iscale·1/s... see
-- below), bits (list of integer masks), loss, steps, history
local function train(w, o, cluster)
  local M_, nb = #w, o.n_bits
  local wmax, wmin = -math.huge, math.huge
  for _, v in ipairs(w) do
    if v > wmax then wmax = v end
    if v < wmin then wmin = v end
  end
  local s = 1 / (wmax - wmin + 1)
  local wt = lp.tensor(w, "float64"):reshape({ 1, M_ }):mul(s)

  local E, D
  if o.init == "kaiming" then
    local rnd = uniform_stream(o.seed + 7919 * (cluster - 1))
    local function kaiming(r, c)
      local lim, v = math.sqrt(6 / r), {}
      for i = 1, r * c do v[i] = (2 * rnd() - 1) * lim end
      return lp.tensor(v, "float64"):reshape({ r, c })
    end
    E, D = kaiming(M_, nb), kaiming(nb, M_)
  else
    local levels = (1 << nb) - 1
    local step = wmax / levels
    local code, n2 = {}, 0.0
    for k = 1, nb do code[k] = (1 << (k - 1)) * step * s end
    for _, v in ipairs(w) do n2 = n2 + (v * s) ^ 2 end
    E = lp.matmul(wt:reshape({ M_, 1 }), lp.tensor({ code }, "float64")):div(n2)
    local dv = {}
    for k = 1, nb do
      local row = {}
      for i, v in ipairs(w) do
        local q = math.floor(v / step + 0.5)
        if q > levels then q = levels end
        row[i] = ((q >> (k - 1)) & 1) == 1 and 2.0 or -2.0
      end
      dv[k] = row
    end
    D = lp.tensor(dv, "float64")
  end
  E:requires_grad(true)
  D:requires_grad(true)

  local opt = OPTIMIZERS[o.optimizer]({ E, D }, o.step_size, function(lr, base)
    local t = { lr = lr }
    for k, v in pairs(base) do t[k] = v end
    for k, v in pairs(o.opt_params) do t[k] = v end
    return t
  end)

  local best, bestE, bestD = math.huge, nil, nil
  local history = o.record_loss and {} or nil
  local last
  local function step()
    opt:zero_grad()
    local code = lp.matmul(wt, E)
    local p = lp.sigmoid(D)
    local h = p:ge(0.5):astype("float64")
    local q = p * p * 0.5
    local mask = h + (q - q:detach())            -- value H(p), gradient p
    local d = lp.matmul(code, mask) - wt
    local loss = (d * d):mean() + (lp.exp(-lp.minimum(code, 0)):sum() - nb) * 1000
    loss:backward()
    last = loss:item()
    if o.keep_best and last < best then
      best, bestE, bestD = last, E:detach():clone(), D:detach():clone()
    end
    opt:step()
    if history then history[#history + 1] = last end
    return last
  end

  local steps = 0
  if o.fixed_epoch then
    for _ = 1, o.num_epoch do step() end
    steps = o.num_epoch
  else
    local count, mean_loss = 0, math.huge
    while steps < o.num_epoch do
      local n = math.min(o.num_epoch_checkpoint, o.num_epoch - steps)
      local sum = 0.0
      for _ = 1, n do sum = sum + step() end
      steps = steps + n
      local mean = sum / n
      if mean_loss - mean < o.eps then
        count = count + 1
        if count > 5 then break end
      else
        count, mean_loss = 0, mean
      end
    end
  end

  local Ef, Df, loss = E:detach(), D:detach(), last
  if o.keep_best and bestE then
    -- the step with the lowest loss, unless the final parameters are better still
    local code = lp.matmul(wt, Ef)
    local d = lp.matmul(code, Df:ge(0):astype("float64")) - wt
    local final = (d * d):mean():item() + (lp.exp(-lp.minimum(code, 0)):sum():item() - nb) * 1000
    if best <= final then Ef, Df, loss = bestE, bestD, best else loss = final end
  end
  local code = lp.matmul(wt, Ef):reshape(-1):totable()
  local bits = Df:ge(0):astype("int32"):totable()   -- σ(D) >= 0.5  <=>  D >= 0
  local ints = {}
  for i = 1, M_ do
    local v = 0
    for k = 1, nb do if bits[k][i] == 1 then v = v + (1 << (k - 1)) end end
    ints[i] = v
  end
  local Iw = {}
  for k = 1, nb do Iw[k] = math.max(code[k], 0.0) / s end   -- in units of Iscale
  return Iw, ints, loss, steps, history
end

--- M.autoencoder_quantization(spec[, opts]) -> qspec, report (see the file header)
function M.autoencoder_quantization(spec, opts)
  if type(spec) ~= "table" or lp.is_tensor(spec) then
    argerror(1, "specification table expected, got " .. (lp.is_tensor(spec) and "tensor" or type(spec)), 3)
  end
  local o = check_opts(opts)
  if type(spec.Iscale) ~= "number" then
    argerror(1, ("Iscale should be float! (field 'Iscale' is %s)"):format(type(spec.Iscale)), 3)
  end
  local N, nc, cmap = spec.n_neuron, spec.n_cluster, spec.core_map
  if math.type(N) ~= "integer" or N < 1 then argerror(1, "field 'n_neuron' must be a positive integer", 3) end
  if math.type(nc) ~= "integer" or nc < 1 then argerror(1, "field 'n_cluster' must be a positive integer", 3) end
  if type(cmap) ~= "table" or #cmap ~= N then
    argerror(1, ("field 'core_map' must be a list of %d cluster ids"):format(N), 3)
  end
  for i, c in ipairs(cmap) do
    if math.type(c) ~= "integer" or c < 1 or c > nc then
      argerror(1, ("field 'core_map': neuron %d has cluster %s, not in 1..%d"):format(i, tostring(c), nc), 3)
    end
  end
  local w_in = matrix(spec, "weights_in", nil, N)
  local w_rec = matrix(spec, "weights_rec", N, N)
  local Nin = w_in and w_in.shape[1] or 0

  -- G = [w_in; w_rec] as Lua rows
  local rows = {}
  if w_in then for _, r in ipairs(w_in:totable()) do rows[#rows + 1] = r end end
  if w_rec then for _, r in ipairs(w_rec:totable()) do rows[#rows + 1] = r end end
  local R = #rows
  local qint, sign = {}, {}
  for r = 1, R do
    qint[r], sign[r] = {}, {}
    for j = 1, N do
      local v = rows[r][j]
      qint[r][j], sign[r][j] = 0, v > 0 and 1 or (v < 0 and -1 or 0)
    end
  end

  local Iw = {}
  for k = 1, 4 do Iw[k] = {} end
  local losses, steps, history = {}, {}, {}
  for c = 1, nc do
    local w, where = {}, {}
    for r = 1, R do
      for j = 1, N do
        if cmap[j] == c and rows[r][j] ~= 0 then
          w[#w + 1] = math.abs(rows[r][j])
          where[#where + 1] = { r, j }
        end
      end
    end
    if #w == 0 then
      for k = 1, 4 do Iw[k][c] = 0.0 end
      losses[c], steps[c] = 0.0, 0
    else
      local iw, ints, loss, n, hist = train(w, o, c)
      for k = 1, 4 do Iw[k][c] = (iw[k] or 0.0) * spec.Iscale end
      for i, p in ipairs(where) do qint[p[1]][p[2]] = ints[i] end
      losses[c], steps[c], history[c] = loss, n, hist
    end
  end

  local q = {}
  for k, v in pairs(spec) do q[k] = v end
  local function part(tab, from, to)
    local out = {}
    for r = from, to do out[#out + 1] = tab[r] end
    return lp.tensor(out, "int32"):reshape({ to - from + 1, N })
  end
  if w_in then
    q.weights_in = Nin > 0 and part(qint, 1, Nin) or lp.zeros({ 0, N }, "int32")
    q.sign_in = Nin > 0 and part(sign, 1, Nin) or lp.zeros({ 0, N }, "int32")
  else
    q.weights_in, q.sign_in = nil, nil
  end
  if w_rec then
    q.weights_rec, q.sign_rec = part(qint, Nin + 1, R), part(sign, Nin + 1, R)
  else
    q.weights_rec, q.sign_rec = nil, nil
  end
  for k = 1, 4 do q["Iw_" .. (k - 1)] = lp.tensor(Iw[k], "float64") end
  q.quantization_loss = lp.tensor(losses, "float64")
  q.n_bits = o.n_bits
  return q, { loss = q.quantization_loss, steps = steps, history = o.record_loss and history or nil }
end

--- M.reconstruct_weights(qspec) -> W_in, W_rec: the float weights (multiples of Iscale) a
-- quantised spec stands for, W[pre, post] = sign · Σ_k bit_k(weights[pre, post]) ·
-- Iw_k(cluster of post) / Iscale; nil where the spec has no such matrix.
function M.reconstruct_weights(q)
  if type(q) ~= "table" then
    error(("bad argument #1 to 'reconstruct_weights' (quantised specification expected, got %s)"):format(type(q)), 2)
  end
  for _, k in ipairs { "Iscale", "core_map", "Iw_0", "Iw_1", "Iw_2", "Iw_3" } do
    if q[k] == nil then
      error(("bad argument #1 to 'reconstruct_weights' (field '%s' is missing; quantise the spec first)"):format(k), 2)
    end
  end
  local Iw = {}
  for k = 1, 4 do
    local v = q["Iw_" .. (k - 1)]
    Iw[k] = lp.is_tensor(v) and v:reshape(-1):totable() or v
  end
  local function one(wkey, skey)
    local W, S = q[wkey], q[skey]
    if W == nil then return nil end
    if S == nil then
      error(("bad argument #1 to 'reconstruct_weights' (field '%s' is missing)"):format(skey), 3)
    end
    local w, sg = lp.tensor(W):astype("int64"):totable(), lp.tensor(S):astype("float64"):totable()
    local out = {}
    for r = 1, #w do
      local row = {}
      for j = 1, #w[r] do
        local c, m, v = q.core_map[j], w[r][j], 0.0
        for k = 1, 4 do if (m >> (k - 1)) & 1 == 1 then v = v + Iw[k][c] end end
        row[j] = sg[r][j] * v / q.Iscale
      end
      out[r] = row
    end
    if #out == 0 then return lp.zeros({ 0, #q.core_map }, "float64") end
    return lp.tensor(out, "float64")
  end
  return one("weights_in", "sign_in"), one("weights_rec", "sign_rec")
end

return M
