-- stdlib/limpet/loss.lua -- `lp.loss`: loss functions and penalties.
-- Owns: mse, cross_entropy, nll, log_softmax, peak_loss and
-- binary_peak_loss (Rockpool's PeakLoss / BinaryPeakLoss), l1 / l2
-- penalties over parameter tables, make_bounds / bounds_cost /
-- summed_exp_boundary_loss / ParameterBoundaryRegularizer / bounds_clip
-- (Rockpool's constrained optimisation). Everything is built from differentiable
-- tensor ops, so loss:backward() reaches the parameters; integer work
-- (labels, peak positions) is turned into constant masks first.
-- Not here: the tensor ops and their backward (core/), the loop (train.lua).
-- Shapes: (B, C) logits; (B, T, C) clocked outputs; labels (B) in 1..C.
local core = require "limpet.core"
local base = require "limpet.optim.base"

local argerror = base.argerror
local M = {}

local function shape_str(t)
  local s = t.shape
  return #s == 1 and ("(" .. s[1] .. ",)") or ("(" .. table.concat(s, ", ") .. ")")
end

local function is_float(t) return t.dtype == "float32" or t.dtype == "float64" end

local function check_float(t, n, fname, level)
  if not core.is_tensor(t) then
    argerror(n, fname, ("expected a tensor, got %s"):format(type(t)), (level or 2) + 1)
  end
  if not is_float(t) then
    argerror(n, fname, ("expected a float tensor, got %s"):format(t.dtype), (level or 2) + 1)
  end
  return t
end

local function reduce(x, how, fname)
  if how == "mean" then return x:mean() end
  if how == "sum" then return x:sum() end
  if how == "none" then return x end
  argerror(3, fname, ("field 'reduction' must be 'mean', 'sum' or 'none', got '%s'"):format(tostring(how)), 3)
end

-- Labels (B) as an int64 tensor in lo..hi; Lua arrays are accepted.
local function check_labels(labels, n, fname, B, lo, hi)
  if type(labels) == "table" and not core.is_tensor(labels) then
    for i = 1, #labels do
      if math.type(labels[i]) ~= "integer" and not (type(labels[i]) == "number" and labels[i] % 1 == 0) then
        argerror(n, fname, ("label %d is not an integer"):format(i), 3)
      end
    end
    labels = core.tensor(labels, "int64")
  end
  if not core.is_tensor(labels) then argerror(n, fname, ("expected labels, got %s"):format(type(labels)), 3) end
  if labels.dtype == "float32" or labels.dtype == "float64" or labels.dtype == "bool" then
    argerror(n, fname, ("expected integer labels, got %s"):format(labels.dtype), 3)
  end
  if labels:dim() ~= 1 or labels.shape[1] ~= B then
    argerror(n, fname, ("expected labels of shape (%d,), got %s"):format(B, shape_str(labels)), 3)
  end
  if B > 0 then
    local mn, mx = labels:min():item(), labels:max():item()
    if mn < lo or mx > hi then
      argerror(n, fname, ("label %d out of range %d..%d"):format(mn < lo and mn or mx, lo, hi), 3)
    end
  end
  return labels:astype "int64"
end

-- (B, C) one-hot of labels 1..C, dtype of `like`; a constant.
local function one_hot(labels, C, dtype)
  return core.arange(1, C + 1):eq(labels:reshape(labels.shape[1], 1)):astype(dtype)
end
M.one_hot = function(labels, C, dtype)
  if math.type(C) ~= "integer" or C < 1 then argerror(2, "one_hot", "the number of classes must be a positive integer", 2) end
  if not core.is_tensor(labels) and type(labels) ~= "table" then
    argerror(1, "one_hot", "expected labels as a tensor or table, got " .. type(labels), 2)
  end
  if dtype ~= nil and dtype ~= "float32" and dtype ~= "float64" then
    argerror(3, "one_hot", "dtype must be 'float32' or 'float64'", 2)
  end
  labels = check_labels(labels, 1, "one_hot", core.is_tensor(labels) and labels.shape[1] or #labels, 1, C)
  return one_hot(labels, C, dtype or "float32")
end

-- dim (default -1) of x, checked: an integer naming one of x's dims
local function check_dim(x, dim, fname)
  if x:dim() == 0 then argerror(1, fname, "expected a tensor with at least one dim, got a 0-d tensor", 3) end
  if dim == nil then return -1 end
  local n = x:dim()
  if math.type(dim) ~= "integer" or dim == 0 or dim > n or dim < -n then
    argerror(2, fname, ("dim must be an integer in 1..%d or -%d..-1, got %s"):format(n, n, tostring(dim)), 3)
  end
  return dim
end

--- log_softmax(x[, dim = -1]): x - logsumexp(x, dim), stable (shifted by
-- the detached maximum, which changes no gradient).
function M.log_softmax(x, dim)
  check_float(x, 1, "log_softmax")
  dim = check_dim(x, dim, "log_softmax")
  local m = x:max(dim, true):detach()
  local z = x - m
  return z - z:exp():sum(dim, true):log()
end

function M.softmax(x, dim)
  check_float(x, 1, "softmax")
  dim = check_dim(x, dim, "softmax")
  local z = x - x:max(dim, true):detach()
  local e = z:exp()
  return e / e:sum(dim, true)
end

--- mse(output, target[, {reduction = "mean"}]): mean of (output - target)^2.
-- target: a tensor of output's shape, or a number.
function M.mse(out, target, opts)
  check_float(out, 1, "mse")
  local o = base.options("mse", 3, opts, { reduction = "mean" })
  if core.is_tensor(target) then
    local a, b = out.shape, target.shape
    local same = #a == #b
    for i = 1, #a do same = same and a[i] == b[i] end
    if not same then
      argerror(2, "mse", ("expected shape %s, got %s"):format(shape_str(out), shape_str(target)))
    end
    if not is_float(target) then target = target:astype(out.dtype) end
  elseif type(target) ~= "number" then
    argerror(2, "mse", ("expected a tensor or a number, got %s"):format(type(target)))
  end
  local d = out - target
  return reduce(d * d, o.reduction, "mse")
end

local function check_logits(x, fname)
  check_float(x, 1, fname, 3)
  if x:dim() ~= 2 then
    argerror(1, fname, ("expected shape (B, C), got %s"):format(shape_str(x)), 3)
  end
end

--- nll(logp (B, C), labels (B)[, {reduction = "mean"}]): -logp[b, label_b].
function M.nll(logp, labels, opts)
  check_logits(logp, "nll")
  local o = base.options("nll", 3, opts, { reduction = "mean" })
  local B, C = logp.shape[1], logp.shape[2]
  labels = check_labels(labels, 2, "nll", B, 1, C)
  return reduce(-(logp * one_hot(labels, C, logp.dtype)):sum(2), o.reduction, "nll")
end

--- cross_entropy(logits (B, C), labels (B) in 1..C[, {reduction = "mean"}]):
-- nll of the log-softmax (PyTorch's CrossEntropyLoss).
function M.cross_entropy(logits, labels, opts)
  check_logits(logits, "cross_entropy")
  local o = base.options("cross_entropy", 3, opts, { reduction = "mean" })
  local B, C = logits.shape[1], logits.shape[2]
  labels = check_labels(labels, 2, "cross_entropy", B, 1, C)
  local logp = M.log_softmax(logits, 2)
  return reduce(-(logp * one_hot(labels, C, logits.dtype)):sum(2), o.reduction, "cross_entropy")
end

-- The peak window of Rockpool's PeakLoss, as constant weights over (B, T):
-- from the first time of the maximum t*, max_interval steps t*, t*+1, ...;
-- a step that would reach T wraps back to t* (so the window cycles through
-- t*..T), each step weighing 1/max_interval.
local function peak_weights(trace, k, dtype)
  local B, T = trace.shape[1], trace.shape[2]
  local w = core.zeros({ B, T }, "float64")
  local _, at = trace:max(2)
  for b = 1, B do
    local start = at:get(b)
    local t = start
    for _ = 1, k do
      w:set(b, t, w:get(b, t) + 1 / k)
      t = t + 1
      if t > T then t = start end
    end
  end
  return w:astype(dtype)
end

local peak_defaults = { max_interval = base.REQUIRED, weight_nontarget = base.REQUIRED,
                        target_output = base.REQUIRED, nontarget_output = 0 }

local function check_clocked(out, fname)
  check_float(out, 1, fname, 3)
  if out:dim() ~= 3 then argerror(1, fname, ("expected shape (B, T, C), got %s"):format(shape_str(out)), 3) end
end

--- peak_loss(output (B, T, C), labels (B) in 1..C, {max_interval, weight_nontarget,
--   target_output[, nontarget_output = 0]}) -> loss, target_loss, nontarget_loss
-- Rockpool's PeakLoss. For sample b with label y, t* is the first time of
-- the maximum of output[b, :, y]; w_b is the mean of output[b, t, y] over
-- the max_interval steps t*, t*+1, ... (wrapping back to t* at the end of
-- the sample). Then
--   target_loss    = mean_b (w_b - target_output)^2
--   nontarget_loss = mean over b, t and c ~= y_b of (output[b, t, c] - nontarget_output)^2
--   loss           = target_loss + weight_nontarget * nontarget_loss
-- (Rockpool averages per non-target channel, then over the C - 1 channels:
-- the same number, since every channel has B*T samples.)
function M.peak_loss(out, labels, opts)
  check_clocked(out, "peak_loss")
  local o = base.options("peak_loss", 3, opts, peak_defaults)
  if math.type(o.max_interval) ~= "integer" or o.max_interval < 1 then
    argerror(3, "peak_loss", "field 'max_interval' must be an integer >= 1 (time steps)")
  end
  local B, T, C = out.shape[1], out.shape[2], out.shape[3]
  if C < 2 then argerror(1, "peak_loss", "expected at least 2 classes (use binary_peak_loss)") end
  labels = check_labels(labels, 2, "peak_loss", B, 1, C)
  local oh = one_hot(labels, C, out.dtype):reshape(B, 1, C)
  local target_trace = (out * oh):sum(3)                                    -- (B, T)
  local w = peak_weights(target_trace:detach(), o.max_interval, out.dtype)
  local peak = (target_trace * w):sum(2)                                    -- (B)
  local dt = peak - o.target_output
  local loss_t = (dt * dt):mean()
  local dn = out - o.nontarget_output
  local loss_n = (dn * dn * (1 - oh)):sum() * (1 / (B * T * (C - 1)))
  return loss_t + loss_n * o.weight_nontarget, loss_t, loss_n
end

--- binary_peak_loss(output (B, T, 1) or (B, T), labels (B) in {0, 1}, {max_interval,
--   weight_negatives, target_output[, nontarget_output = 0]}) -> loss, positive, negative
-- Rockpool's BinaryPeakLoss: positives (label 1) as peak_loss's target term over
-- the single output; negatives (label 0): mean over their b, t of
-- (output - nontarget_output)^2; loss = positive + weight_negatives * negative.
-- A term with no samples is 0.
function M.binary_peak_loss(out, labels, opts)
  check_float(out, 1, "binary_peak_loss")
  local o = base.options("binary_peak_loss", 3, opts, { max_interval = base.REQUIRED,
    weight_negatives = base.REQUIRED, target_output = base.REQUIRED, nontarget_output = 0 })
  if math.type(o.max_interval) ~= "integer" or o.max_interval < 1 then
    argerror(3, "binary_peak_loss", "field 'max_interval' must be an integer >= 1 (time steps)")
  end
  if out:dim() == 3 and out.shape[3] == 1 then out = out:reshape(out.shape[1], out.shape[2])
  elseif out:dim() ~= 2 then
    argerror(1, "binary_peak_loss", ("expected shape (B, T, 1) or (B, T), got %s"):format(shape_str(out)))
  end
  local B, T = out.shape[1], out.shape[2]
  labels = check_labels(labels, 2, "binary_peak_loss", B, 0, 1)
  local pos = labels:astype(out.dtype)                       -- (B)
  local npos = pos:sum():item()
  local nneg = B - npos
  local loss_p, loss_n = core.tensor(0, out.dtype), core.tensor(0, out.dtype)
  if npos > 0 then
    local w = peak_weights(out:detach(), o.max_interval, out.dtype)
    local dp = (out * w):sum(2) - o.target_output
    loss_p = (dp * dp * pos):sum() * (1 / npos)
  end
  if nneg > 0 then
    local dn = out - o.nontarget_output
    loss_n = (dn * dn * (1 - pos):reshape(B, 1)):sum() * (1 / (nneg * T))
  end
  return loss_p + loss_n * o.weight_negatives, loss_p, loss_n
end

local function leaves(params, fname)
  local list = {}
  if core.is_tensor(params) then return { params } end
  if type(params) ~= "table" then argerror(1, fname, ("expected a table of parameters, got %s"):format(type(params)), 3) end
  base.walk(params, function(_, t) list[#list + 1] = t end, fname, 1, nil, 3)
  return list
end

local function total(list, f)
  local acc
  for _, t in ipairs(list) do
    local s = f(t):sum()
    acc = acc and acc + s or s
  end
  return acc or core.tensor(0, "float32")
end

--- l1(params): sum of |p| over every element of every parameter (a scalar tensor).
function M.l1(params) return total(leaves(params, "l1"), function(t) return t:abs() end) end

--- l2(params): sum of p^2 over every element of every parameter (the squared
-- L2 norm, Rockpool's l2sqr_norm); scale it yourself (e.g. 0.5 * lambda).
function M.l2(params) return total(leaves(params, "l2"), function(t) return t * t end) end

local function copy_tree(t, v)
  if core.is_tensor(t) then return v end
  local out = {}
  for k, x in pairs(t) do out[k] = copy_tree(x, v) end
  return out
end

--- make_bounds(params) -> lower, upper: two tables with params' structure,
-- every leaf -inf (lower) or +inf (upper). Set the leaves you want to bound
-- to a number or a tensor broadcastable to the parameter.
function M.make_bounds(params)
  if type(params) ~= "table" then argerror(1, "make_bounds", ("expected a table of parameters, got %s"):format(type(params))) end
  leaves(params, "make_bounds")
  return copy_tree(params, -math.huge), copy_tree(params, math.huge)
end

local function lookup(tree, path)
  local t = tree
  for _, k in ipairs(path) do
    if type(t) ~= "table" or core.is_tensor(t) then return nil end
    t = t[k]
  end
  return t
end

--- bounds_cost(params, lower, upper) -> scalar tensor
-- Rockpool's constrained-optimisation penalty: each element below its lower
-- bound costs exp(lower - p), each above its upper bound exp(p - upper)
-- (so 1 just outside a bound, growing exponentially); elements inside cost
-- nothing. Missing or infinite bounds impose nothing.
function M.bounds_cost(params, lower, upper)
  if type(params) ~= "table" then argerror(1, "bounds_cost", ("expected a table of parameters, got %s"):format(type(params))) end
  if type(lower) ~= "table" then argerror(2, "bounds_cost", ("expected a table of bounds, got %s"):format(type(lower))) end
  if type(upper) ~= "table" then argerror(3, "bounds_cost", ("expected a table of bounds, got %s"):format(type(upper))) end
  local acc
  local function add(c) acc = acc and acc + c or c end
  local function visit(t, path)
    if core.is_tensor(t) then
      local lo, hi = lookup(lower, path), lookup(upper, path)
      local name = table.concat(path, ".")
      for i, b in ipairs { lo, hi } do
        if b ~= nil and not (type(b) == "number" and (b == math.huge or b == -math.huge)) then
          if type(b) ~= "number" and not core.is_tensor(b) then
            argerror(i + 1, "bounds_cost", ("bound for '%s' is a %s, expected a number or a tensor"):format(name, type(b)), 4)
          end
          local d = i == 1 and (b - t) or (t - b)          -- > 0 outside the bound
          local outside = d:gt(0):astype(t.dtype)
          add((d:clamp(0, nil):exp() * outside):sum())
        end
      end
    elseif type(t) == "table" then
      local keys = {}
      for k in pairs(t) do keys[#keys + 1] = k end
      table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
      for _, k in ipairs(keys) do
        path[#path + 1] = k
        visit(t[k], path)
        path[#path] = nil
      end
    end
  end
  visit(params, {})
  return acc or core.tensor(0, "float32")
end

-- The boundary regulariser and the hard projection (issue: hardware-aware
-- training). Rockpool's summed_exp_boundary_loss skips a bound of 0 (it
-- tests the bound for truth); here only nil skips a bound, so 0 bounds act.

--- summed_exp_boundary_loss(data, lower, upper) -> scalar tensor: the sum
-- of exp(lower - y) over elements below lower and exp(y - upper) over
-- elements above upper (Rockpool's torch regulariser); nil skips a bound.
function M.summed_exp_boundary_loss(data, lower, upper)
  check_float(data, 1, "summed_exp_boundary_loss")
  for i, b in ipairs { lower or false, upper or false } do
    if b and type(b) ~= "number" and not core.is_tensor(b) then
      argerror(i + 1, "summed_exp_boundary_loss", ("expected a number, a tensor or nil, got %s"):format(type(b)))
    end
    if b and core.is_tensor(b) then      -- the bound broadcasts to data's shape
      local sd, sb = data.shape, b.shape
      local ok = #sb <= #sd
      for k = 1, math.min(#sd, #sb) do
        local x, y = sd[#sd + 1 - k], sb[#sb + 1 - k]
        if x ~= y and y ~= 1 then ok = false end
      end
      if not ok then
        argerror(i + 1, "summed_exp_boundary_loss", ("a bound of shape %s does not broadcast to the data's %s")
          :format(shape_str(b), shape_str(data)))
      end
    end
  end
  local acc = core.tensor(0, data.dtype)
  for i, b in ipairs { lower or false, upper or false } do
    if b then
      local d = i == 1 and (b - data) or (data - b)
      acc = acc + (d:clamp(0, nil):exp() * d:gt(0):astype(data.dtype)):sum()
    end
  end
  return acc
end

--- ParameterBoundaryRegularizer{lower_bound =, upper_bound =}: a callable
-- holding its bounds; reg(tensor) -> summed_exp_boundary_loss(tensor, lo, hi).
local PBR = { __name = "ParameterBoundaryRegularizer" }
PBR.__index = PBR
PBR.__call = function(self, data) return M.summed_exp_boundary_loss(data, self.lower_bound, self.upper_bound) end
function M.ParameterBoundaryRegularizer(opts)
  if opts ~= nil and type(opts) ~= "table" then
    argerror(1, "ParameterBoundaryRegularizer", ("expected a table of options, got %s"):format(type(opts)))
  end
  opts = opts or {}
  for k, v in pairs(opts) do
    if k ~= "lower_bound" and k ~= "upper_bound" then
      argerror(1, "ParameterBoundaryRegularizer", ("unknown field '%s'"):format(tostring(k)))
    end
    if type(v) ~= "number" and not core.is_tensor(v) then
      argerror(1, "ParameterBoundaryRegularizer", ("field '%s' must be a number or a tensor"):format(k))
    end
  end
  return setmetatable({ lower_bound = opts.lower_bound, upper_bound = opts.upper_bound }, PBR)
end

--- bounds_clip(params, lower, upper) -> params, every element clamped into
-- its bounds in place (without gradient): the hard projection for
-- lp.optim's `project` option, e.g.
--   Adam(params, {project = function(p) lp.loss.bounds_clip(p, lo, hi) end})
function M.bounds_clip(params, lower, upper)
  if type(params) ~= "table" then argerror(1, "bounds_clip", ("expected a table of parameters, got %s"):format(type(params))) end
  if type(lower) ~= "table" then argerror(2, "bounds_clip", ("expected a table of bounds, got %s"):format(type(lower))) end
  if type(upper) ~= "table" then argerror(3, "bounds_clip", ("expected a table of bounds, got %s"):format(type(upper))) end
  local function visit(t, path)
    if core.is_tensor(t) then
      local lo, hi = lookup(lower, path), lookup(upper, path)
      local name = table.concat(path, ".")
      core.no_grad(function()
        for i, bnd in ipairs { lo or false, hi or false } do
          if bnd and not (type(bnd) == "number" and (bnd == math.huge or bnd == -math.huge)) then
            if type(bnd) ~= "number" and not core.is_tensor(bnd) then
              argerror(i + 1, "bounds_clip", ("bound for '%s' is a %s, expected a number or a tensor"):format(name, type(bnd)), 6)
            end
            local bt = core.is_tensor(bnd) and bnd:astype(t.dtype) or core.tensor(bnd, t.dtype)
            t:copy_(i == 1 and core.maximum(t, bt) or core.minimum(t, bt))
          end
        end
      end)
    elseif type(t) == "table" then
      for k, v in pairs(t) do
        path[#path + 1] = k
        visit(v, path)
        path[#path] = nil
      end
    end
  end
  visit(params, {})
  return params
end

return M
