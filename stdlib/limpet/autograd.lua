-- stdlib/limpet/autograd.lua -- `lp.autograd`: the functional face of the
-- autodiff engine.
-- Owns: gradcheck (autograd against central finite differences, float64),
-- value_and_grad / grad (Jax style over nested tables of parameters), and
-- aliases of the engine's switches (backward, no_grad, enable_grad, ...).
-- Not here: the engine and the op backwards (core/src/autograd.c,
-- core/src/grad_ops.c), t:backward / t.grad / t:detach (lua/l_autograd.c).
local core = require "limpet.core"

local M = {}

M.no_grad = core.no_grad
M.enable_grad = core.enable_grad
M.is_grad_enabled = core.is_grad_enabled
M.set_grad_enabled = core.set_grad_enabled

-- lp.autograd.backward(t[, grad][, retain_graph]) == t:backward(...)
function M.backward(t, ...)
  if not core.is_tensor(t) then
    error(("bad argument #1 to 'backward' (tensor expected, got %s)"):format(type(t)), 2)
  end
  return t:backward(...)
end

local function argerror(n, fname, msg, level)
  error(("bad argument #%d to '%s' (%s)"):format(n, fname, msg), level + 1)
end

local function is_float(t) return t.dtype == "float32" or t.dtype == "float64" end

-- Keys of a table in a stable order: 1..n first, then the rest sorted by
-- their string form.
local function ordered_keys(tbl)
  local keys, n = {}, #tbl
  for i = 1, n do keys[i] = i end
  local rest = {}
  for k in pairs(tbl) do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then rest[#rest + 1] = k end
  end
  table.sort(rest, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(rest) do keys[#keys + 1] = k end
  return keys
end

-- Map fn over the tensor leaves of a nested table, keeping its structure;
-- fn(t, path) returns the new leaf. Non-tensor leaves go through other(v).
local function map_tree(v, fn, other, path)
  if core.is_tensor(v) then return fn(v, path) end
  if type(v) == "table" then
    local out = {}
    for _, k in ipairs(ordered_keys(v)) do
      out[k] = map_tree(v[k], fn, other, path == "" and tostring(k) or (path .. "." .. tostring(k)))
    end
    return out
  end
  return other(v)
end

local function identity(v) return v end
local function drop_value() return nil end

-- ---- functional scopes ----------------------------------------------------------
-- While f runs inside value_and_grad, the tensors it was handed are known
-- here: a module that is given one of them (set_attributes, `mod.w = p.w`)
-- binds it instead of copying its values (nn/module.lua), so the graph is
-- built from the tensors the gradients are taken for. Each binding leaves a
-- restore function in the scope, run when value_and_grad returns.
local scopes = {}

--- autograd._functional_scope(t) -> the innermost running scope whose
-- function was handed t, or nil.
function M._functional_scope(t)
  for i = #scopes, 1, -1 do
    if scopes[i].leaves[t] then return scopes[i] end
  end
  return nil
end

local function close_scope(scope)
  for i = #scope.restores, 1, -1 do scope.restores[i]() end
  for i = #scopes, 1, -1 do
    if scopes[i] == scope then table.remove(scopes, i) break end
  end
end

-- ---- value_and_grad / grad -------------------------------------------------
-- value_and_grad(f) -> function(params, ...) -> value, grads, ...
--   params: a tensor or a nested table of tensors; f(params', ...) must return
--   a one-element tensor first (extra results are passed through after the
--   grads). f sees detached copies (sharing storage) that require grad, so
--   the callers' tensors and their .grad fields are untouched. grads has the
--   structure of params: float leaves get their gradient (zeros when none
--   reached them); other leaves get nil. value is detached.
--   f may load params into a module (Rockpool's Jax style:
--   net:set_attributes(p); return loss(net(x))): the module then computes
--   with the very tensors of p during the call (see "functional scopes").
local function make_value_and_grad(f, fname)
  if type(f) ~= "function" then
    argerror(1, fname, ("function expected, got %s"):format(type(f)), 3)
  end
  return function(params, ...)
    local leaves = {}
    local scope = { leaves = {}, restores = {} }
    local copies = map_tree(params, function(t)
      local c = t:detach()
      if is_float(t) then
        c:requires_grad(true)
        leaves[#leaves + 1] = c
      end
      scope.leaves[c] = true
      return c
    end, identity, "")
    scopes[#scopes + 1] = scope
    local res = table.pack(pcall(core.enable_grad, f, copies, ...))
    if not res[1] then
      close_scope(scope)
      error(res[2], 0)
    end
    table.remove(res, 1)
    res.n = res.n - 1
    local value = res[1]
    if not core.is_tensor(value) then
      close_scope(scope)
      error(("%s: the function must return a tensor first, got %s"):format(fname, type(value)), 2)
    end
    if value:numel() ~= 1 then
      close_scope(scope)
      local s = value.shape
      error(("%s: the function must return a one-element tensor, got shape (%s)")
        :format(fname, table.concat(s, ", ")), 2)
    end
    local ok, err = pcall(function() if value:requires_grad() then value:backward() end end)
    close_scope(scope)
    if not ok then error(err, 0) end
    local grads = map_tree(copies, function(c)
      if not is_float(c) then return nil end
      local g = c.grad
      if g == nil then return core.zeros_like(c) end
      return g
    end, drop_value, "")
    for _, c in ipairs(leaves) do c.grad = nil end
    return value:detach(), grads, table.unpack(res, 2, res.n)
  end
end

function M.value_and_grad(f) return make_value_and_grad(f, "value_and_grad") end

-- grad(f) -> function(params, ...) -> grads, ...  (the value is dropped)
function M.grad(f)
  local vg = make_value_and_grad(f, "grad")
  return function(params, ...)
    local res = table.pack(vg(params, ...))
    return table.unpack(res, 2, res.n)
  end
end

-- ---- gradcheck ----------------------------------------------------------------
local gc_fields = { eps = true, atol = true, rtol = true }

-- Deterministic weights projecting a non-scalar output to a number, so one
-- backward gives a vector-Jacobian product that differences can check.
local function weights_like(t)
  local n = t:numel()
  if n == 1 then return core.ones(t.shape, "float64") end
  local w = {}
  for k = 1, n do w[k] = 0.5 + ((k * 7919) % 101) / 101 end
  local wt = core.tensor(w, "float64")
  return wt:reshape(t.shape)
end

local function project(out, ws)
  if core.is_tensor(out) then out = { out } end
  local total
  for i, t in ipairs(out) do
    ws[i] = ws[i] or weights_like(t)
    local term = (t:astype("float64") * ws[i]):sum()
    total = total and total + term or term
  end
  return total
end

local function multi_index(k, shape)
  local idx, r = {}, k - 1
  for d = #shape, 1, -1 do
    idx[d] = r % shape[d] + 1
    r = r // shape[d]
  end
  return idx
end

-- gradcheck(f, inputs[, {eps, atol, rtol}]) -> true
--   inputs: a list whose entries are float64 tensors or nested tables of
--   them; f(table.unpack(inputs)) returns a tensor (or a list of tensors).
--   Every element of every input is perturbed by +-eps; raises naming the
--   input, the position and both values when |analytic - numeric| >
--   atol + rtol * |numeric|.
function M.gradcheck(f, inputs, opts)
  if type(f) ~= "function" then argerror(1, "gradcheck", ("function expected, got %s"):format(type(f)), 2) end
  if type(inputs) ~= "table" and not core.is_tensor(inputs) then
    argerror(2, "gradcheck", ("table of tensors expected, got %s"):format(type(inputs)), 2)
  end
  if core.is_tensor(inputs) then inputs = { inputs } end
  opts = opts or {}
  if type(opts) ~= "table" then argerror(3, "gradcheck", ("table expected, got %s"):format(type(opts)), 2) end
  for k in pairs(opts) do
    if not gc_fields[k] then argerror(3, "gradcheck", ("unknown field '%s'"):format(tostring(k)), 2) end
  end
  local eps, atol, rtol = opts.eps or 1e-6, opts.atol or 1e-5, opts.rtol or 1e-3

  local leaves = {}
  local copies = map_tree(inputs, function(t, path)
    if t.dtype ~= "float64" then
      argerror(2, "gradcheck", ("input %s must be a float64 tensor, got %s"):format(path, t.dtype), 5)
    end
    local c = core.tensor(t):requires_grad(true)
    leaves[#leaves + 1] = { t = c, path = path }
    return c
  end, identity, "")
  local n = #inputs
  local ws = {}
  local function run() return project(f(table.unpack(copies, 1, n)), ws) end

  -- analytic
  local loss = core.enable_grad(run)
  if not loss:requires_grad() then
    error("gradcheck: the output does not depend on any input (no grad_fn)", 2)
  end
  loss:backward()
  -- numeric, element by element
  for _, leaf in ipairs(leaves) do
    local c = leaf.t
    local g = c.grad
    local ga = g and g:reshape(-1):totable() or nil
    local flat = c:view(-1)
    local shape = c.shape
    core.no_grad(function()
      for k = 1, c:numel() do
        local v = flat:get(k)
        flat:set(k, v + eps)
        local fp = run():item()
        flat:set(k, v - eps)
        local fm = run():item()
        flat:set(k, v)
        local num = (fp - fm) / (2 * eps)
        local ana = ga and ga[k] or 0
        if not (math.abs(ana - num) <= atol + rtol * math.abs(num)) then
          local pos = table.concat(multi_index(k, shape), ", ")
          error(("gradcheck: input %s, position {%s}: analytic %.9g, numeric %.9g")
            :format(leaf.path, pos, ana, num), 0)
        end
      end
    end)
  end
  for _, leaf in ipairs(leaves) do leaf.t.grad = nil end
  return true
end

return M
