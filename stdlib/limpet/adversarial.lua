-- stdlib/limpet/adversarial.lua -- adversarial training against parameter
-- mismatch (Büchel et al. 2022; Rockpool's training.adversarial_jax), as
-- lp.train.pga_attack and lp.train.adversarial_loss.
-- Owns: running a network on substituted parameter values (with_parameters),
-- the projected-gradient-ascent attack on the parameters within ±ζ·|θ|, and
-- the adversarial loss = task loss + β · robustness loss.
-- Not here: the training loop (train.lua), losses (loss.lua), mismatch as a
-- transform (transform.lua).
--
-- pga_attack: θ* starts at θ + |θ|·initial_std·N(0, 1); each of `steps`
-- steps moves θ* by ζ·|θ|/steps · sign(∇θ* L(net_θ*(x), y_ref)) and clips
-- it to θ ± ζ·|θ|. L is the mismatch loss (default: mean squared error
-- between outputs), y_ref the output at the unattacked (noisy) parameters.
-- adversarial_loss: out = net(x) with parameters θ·(1 + noisy_forward_std
-- ·N(0, 1)) (Gaussian parameter noise, when > 0), L_task = task_loss(out,
-- target); θ* = pga_attack(..., y_ref = out); L_rob = mismatch_loss(
-- net_θ̃(x), out) with θ̃ = θ + detach(θ* − θ): the value at θ*, the
-- gradient reaching θ as if θ* moved with it (as Rockpool's jax version,
-- whose attack is not differentiated through); y_ref is detached.
-- Parameters are the network's trainable tensors (or those of `families`);
-- the network's state is reset before every forward pass (as fit does).
local lp = require "limpet"
local class = require "limpet.class"
local Module = require "limpet.nn.module"
local U = require "limpet.nn.util"

local M = {}

local function tname(v) return lp.is_tensor(v) and "tensor" or type(v) end

-- {m = module, name = , path = , t = leaf} for each trainable tensor.
local function param_list(net, families)
  local list = {}
  local function walk(m, prefix)
    for _, n in ipairs(m._order) do
      local meta = m._attrs[n]
      if meta.kind == "parameter" then
        local fam_ok = families == nil
        if not fam_ok then
          for _, f in ipairs(families) do if f == meta.family then fam_ok = true end end
        end
        if fam_ok then
          list[#list + 1] = { m = m, name = n, path = prefix and (prefix .. "." .. n) or n, t = m._values[n] }
        end
      end
    end
    for _, n in ipairs(m._mod_order) do walk(m._mods[n], prefix and (prefix .. "." .. n) or n) end
  end
  walk(net, nil)
  return list
end

--- M.with_parameters(net, list, values, f, ...) runs f(...) with values[i]
-- in place of list[i]'s parameter; the parameters come back afterwards,
-- also when f raises. Returns f's results.
local function with_parameters(list, values, f, ...)
  for i, e in ipairs(list) do e.m._values[e.name] = values[i] end
  local res = table.pack(pcall(f, ...))
  for _, e in ipairs(list) do e.m._values[e.name] = e.t end
  if not res[1] then error(res[2], 0) end
  return table.unpack(res, 2, res.n)
end
M.with_parameters = with_parameters

local function mse(out, ref)
  local d = out - ref
  return (d * d):mean()
end

local function check_net(fname, net)
  if not class.is_a(net, Module) then U.argerror(fname, 1, "module expected, got " .. tname(net), 3) end
end

local function callable(v)
  if type(v) == "function" then return true end
  local mt = getmetatable(v)
  return type(mt) == "table" and mt.__call ~= nil
end

local function common_checks(fname, argn, o)
  if math.type(o.attack_steps) ~= "integer" or o.attack_steps < 1 then
    U.argerror(fname, argn, "field 'attack_steps' must be an integer >= 1", 4)
  end
  for _, k in ipairs { "mismatch_level", "initial_std" } do
    if type(o[k]) ~= "number" or not (o[k] >= 0 and o[k] < math.huge) then
      U.argerror(fname, argn, ("field '%s' must be a non-negative number"):format(k), 4)
    end
  end
  if not callable(o.mismatch_loss) then U.argerror(fname, argn, "field 'mismatch_loss' must be a function", 4) end
  if type(o.reset_state) ~= "boolean" then U.argerror(fname, argn, "field 'reset_state' must be a boolean", 4) end
  if o.families ~= nil and (type(o.families) ~= "table" or lp.is_tensor(o.families)) then
    U.argerror(fname, argn, "field 'families' must be a list of family names", 4)
  end
end

local function forward(net, x, reset)
  if reset then net:reset_state() end
  return (net(x))
end

-- The attack on list's parameters; returns the attacked values (detached
-- tensors, in list order) and the mismatch loss at them.
local function attack(net, list, x, ref, o)
  local theta, lo, hi, step, star = {}, {}, {}, {}, {}
  for i, e in ipairs(list) do
    local t = e.t:detach()
    local a = t:abs()
    theta[i] = t
    lo[i], hi[i] = t - a * o.mismatch_level, t + a * o.mismatch_level
    step[i] = a * (o.mismatch_level / o.attack_steps)
    star[i] = lp.no_grad(function()
      return t + a * lp.randn(t.shape):astype(t.dtype) * o.initial_std
    end)
  end
  -- parameters outside `list` (other families) must not collect the
  -- attack's gradients: keep theirs aside
  local others = {}
  for _, e in ipairs(param_list(net, nil)) do
    others[#others + 1] = { t = e.t, g = e.t.grad }
    e.t.grad = nil
  end
  local last
  for _ = 1, o.attack_steps do
    local leaves = {}
    for i = 1, #list do leaves[i] = star[i]:detach():clone():requires_grad(true) end
    local l = lp.enable_grad(function()
      return with_parameters(list, leaves, function()
        local l = o.mismatch_loss(forward(net, x, o.reset_state), ref)
        l:backward()
        return l
      end)
    end)
    last = l:item()
    for _, e in ipairs(others) do e.t.grad = nil end
    lp.no_grad(function()
      for i = 1, #list do
        local g = leaves[i].grad
        if g then
          local s = leaves[i]:detach() + step[i] * lp.sign(g)
          star[i] = lp.minimum(lp.maximum(s, lo[i]), hi[i])
        end
      end
    end)
  end
  for _, e in ipairs(others) do e.t.grad = e.g end
  -- the loss at the final attacked values
  local final = lp.no_grad(function()
    return with_parameters(list, star, function() return o.mismatch_loss(forward(net, x, o.reset_state), ref) end)
  end)
  return star, final:item(), last
end

local ATTACK_DEFAULTS = {
  attack_steps = 10, mismatch_level = 0.025, initial_std = 1e-3, mismatch_loss = mse,
  reset_state = true, families = U.NONE, output = U.NONE,
}

--- lp.train.pga_attack(net, x[, {output =, attack_steps = 10, mismatch_level = 0.025,
--   initial_std = 1e-3, mismatch_loss = mse, families =, reset_state = true}])
-- -> attacked parameters (a table nested like net:parameters()), info
-- {loss = mismatch loss at the attacked values, loss_before = at the
-- unattacked ones (≈ 0 without initial noise)}. output: the reference
-- output (default: net(x) without gradient). The network is left as it was.
function M.pga_attack(net, x, opts)
  check_net("pga_attack", net)
  if not lp.is_tensor(x) then U.argerror("pga_attack", 2, "tensor expected, got " .. tname(x), 2) end
  local o = U.options("pga_attack", 3, opts, ATTACK_DEFAULTS, 2)
  common_checks("pga_attack", 3, o)
  if o.output ~= nil and not lp.is_tensor(o.output) then
    U.argerror("pga_attack", 3, "field 'output' must be a tensor", 2)
  end
  local list = param_list(net, o.families)
  if #list == 0 then U.argerror("pga_attack", 1, "the network has no parameters to attack", 2) end
  local ref = o.output and o.output:detach()
    or lp.no_grad(function() return forward(net, x, o.reset_state) end)
  local star, final = attack(net, list, x, ref, o)
  local tree = {}
  for i, e in ipairs(list) do
    local node = tree
    local parts = {}
    for part in e.path:gmatch("[^.]+") do parts[#parts + 1] = part end
    for j = 1, #parts - 1 do
      node[parts[j]] = node[parts[j]] or {}
      node = node[parts[j]]
    end
    node[parts[#parts]] = star[i]
  end
  return tree, { loss = final }
end

local ADV_DEFAULTS = {
  task_loss = U.NONE, mismatch_loss = mse, beta_robustness = 0.25, attack_steps = 10,
  mismatch_level = 0.025, initial_std = 1e-3, noisy_forward_std = 0, reset_state = true,
  families = U.NONE,
}

--- lp.train.adversarial_loss(net, x, target, {task_loss = fn(out, target),
--   mismatch_loss = mse, beta_robustness = 0.25, attack_steps = 10,
--   mismatch_level = 0.025, initial_std = 1e-3, noisy_forward_std = 0,
--   families =, reset_state = true}) -> loss (scalar tensor with gradients
-- to the parameters), parts {task =, robustness =, output =}.
function M.adversarial_loss(net, x, target, opts)
  check_net("adversarial_loss", net)
  if not lp.is_tensor(x) then U.argerror("adversarial_loss", 2, "tensor expected, got " .. tname(x), 2) end
  local o = U.options("adversarial_loss", 4, opts, ADV_DEFAULTS, 2)
  if not callable(o.task_loss) then U.argerror("adversarial_loss", 4, "field 'task_loss' must be a function", 2) end
  common_checks("adversarial_loss", 4, o)
  for _, k in ipairs { "beta_robustness", "noisy_forward_std" } do
    if type(o[k]) ~= "number" or not (o[k] >= 0 and o[k] < math.huge) then
      U.argerror("adversarial_loss", 4, ("field '%s' must be a non-negative number"):format(k), 2)
    end
  end
  local list = param_list(net, o.families)
  if #list == 0 then U.argerror("adversarial_loss", 1, "the network has no parameters", 2) end
  -- the (noisy) forward pass and the task loss
  local out
  if o.noisy_forward_std > 0 then
    local noisy = {}
    for i, e in ipairs(list) do
      noisy[i] = e.t * (lp.randn(e.t.shape):astype(e.t.dtype) * o.noisy_forward_std + 1)
    end
    out = with_parameters(list, noisy, function() return forward(net, x, o.reset_state) end)
  else
    out = forward(net, x, o.reset_state)
  end
  local task = o.task_loss(out, target)
  if o.beta_robustness == 0 then
    return task, { task = task, output = out }
  end
  local ref = out:detach()
  local star = attack(net, list, x, ref, o)
  local through = {}
  for i, e in ipairs(list) do through[i] = e.t + (star[i] - e.t:detach()) end
  local rob = with_parameters(list, through, function()
    return o.mismatch_loss(forward(net, x, o.reset_state), ref)
  end)
  return task + rob * o.beta_robustness, { task = task, robustness = rob, output = out }
end

return M
