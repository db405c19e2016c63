-- spec/adversarial_spec.lua -- lp.train.pga_attack and adversarial_loss
-- (Büchel et al. 2022, Rockpool's adversarial training tutorial).
local lp = require "limpet"
local nn = lp.nn

local function make()
  lp.seed(2)
  local net = nn.Sequential { nn.Linear({ 5, 8 }), nn.LIF(8, { tau_syn = 0.01 }), nn.Linear({ 8, 3 }) }
  local x = lp.bernoulli(0.4, 4, 15, 5) * 2
  local y = lp.tensor({ 1, 2, 3, 1 }, "int64")
  return net, x, y
end

local function mse(a, b) local d = a - b; return (d * d):mean() end
local function task(out, y) return lp.loss.cross_entropy(out:sum(2), y) end

local function leaves(tree, out, path)
  out = out or {}
  for k, v in pairs(tree) do
    local p = path and (path .. "." .. k) or k
    if lp.is_tensor(v) then out[p] = v else leaves(v, out, p) end
  end
  return out
end

describe("lp.train.pga_attack", function()
  it("stays within ±zeta·|theta|, raises the mismatch loss and leaves the net as it was", function()
    local net, x = make()
    local before = leaves(net:parameters())
    local copies = {}
    for k, t in pairs(before) do copies[k] = t:clone() end
    local ref = lp.no_grad(function() net:reset_state(); return net(x) end)
    local zeta = 0.2
    local star, info = lp.train.pga_attack(net, x, { mismatch_level = zeta, attack_steps = 5 })
    local s = leaves(star)
    for k, t in pairs(before) do
      assert.equal(t, leaves(net:parameters())[k])          -- the same tensors
      assert.tensor_near(copies[k], t, 0)                   -- untouched
      local lim = t:abs() * zeta + 1e-6
      assert.is_true(((s[k] - t):abs() - lim):max():item() <= 0, k)
    end
    -- the attack beats a random perturbation of the same size
    lp.seed(5)
    local rnd = {}
    local list = {}
    for k, t in pairs(before) do
      list[#list + 1] = k
      rnd[k] = t:detach() + t:detach():abs() * zeta * lp.sign(lp.randn(t.shape))
    end
    local function loss_at(vals)
      lp.no_grad(function() for k, t in pairs(before) do t:copy_(vals[k]) end end)
      net:reset_state()
      local l = lp.no_grad(function() return mse(net(x), ref) end):item()
      lp.no_grad(function() for k, t in pairs(before) do t:copy_(copies[k]) end end)
      return l
    end
    local la, lr = loss_at(s), loss_at(rnd)
    assert.near(info.loss, la, 1e-5 * math.max(1, la))
    assert.is_true(la > lr, ("attack %g, random %g"):format(la, lr))
    assert.is_true(la > 0)
  end)

  it("attacks only the chosen families", function()
    local net, x = make()
    local w = net["2_LIF"].tau_mem
    w.grad = lp.full(w.shape, 7.0)
    local star = lp.train.pga_attack(net, x, { families = { "weights" }, mismatch_level = 0.1 })
    assert.is_nil(star["2_LIF"])
    assert.is_not_nil(star["1_Linear"].weight)
    assert.tensor_near(lp.full(w.shape, 7.0), w.grad, 0)     -- others' gradients kept
  end)

  it("rejects bad options by name", function()
    local net, x = make()
    assert.has_error(function() lp.train.pga_attack(net, x, { steps = 3 }) end,
      "bad argument #3 to 'pga_attack' (unknown field 'steps')")
    assert.has_error(function() lp.train.pga_attack(net, x, { attack_steps = 0 }) end,
      "bad argument #3 to 'pga_attack' (field 'attack_steps' must be an integer >= 1)")
    assert.has_error(function() lp.train.pga_attack(3, x) end,
      "bad argument #1 to 'pga_attack' (module expected, got number)")
  end)
end)

describe("lp.train.adversarial_loss", function()
  it("is task loss + beta · mismatch loss at the attacked parameters", function()
    local net, x, y = make()
    lp.seed(11)
    local l, parts = lp.train.adversarial_loss(net, x, y,
      { task_loss = task, beta_robustness = 0.5, mismatch_level = 0.1, attack_steps = 4 })
    assert.near(parts.task:item() + 0.5 * parts.robustness:item(), l:item(), 1e-5)
    -- the same attack, explicitly
    lp.seed(11)
    local star = lp.train.pga_attack(net, x, { output = parts.output, mismatch_level = 0.1, attack_steps = 4 })
    local ps = leaves(net:parameters())
    local ss = leaves(star)
    local saved = {}
    lp.no_grad(function() for k, t in pairs(ps) do saved[k] = t:clone(); t:copy_(ss[k]) end end)
    net:reset_state()
    local rob = mse(net(x), parts.output:detach())
    assert.near(rob:item(), parts.robustness:item(), 1e-5)
    -- its gradient is the mismatch loss's gradient at theta* (straight through)
    for _, t in pairs(ps) do t.grad = nil end
    rob:backward()
    local want = {}
    for k, t in pairs(ps) do want[k] = t.grad:clone(); t.grad = nil end
    lp.no_grad(function() for k, t in pairs(ps) do t:copy_(saved[k]) end end)
    parts.robustness:backward()
    for k, t in pairs(ps) do assert.tensor_near(want[k], t.grad, 1e-4) end
  end)

  it("with beta = 0 is the task loss, and adds Gaussian parameter noise when asked", function()
    local net, x, y = make()
    local l = lp.train.adversarial_loss(net, x, y, { task_loss = task, beta_robustness = 0 })
    net:reset_state()
    assert.near(task(net(x), y):item(), l:item(), 1e-6)
    local a = lp.train.adversarial_loss(net, x, y, { task_loss = task, beta_robustness = 0, noisy_forward_std = 0.3 })
    assert.is_true(math.abs(a:item() - l:item()) > 1e-6)
    a:backward()
    assert.is_not_nil(net["1_Linear"].weight.grad)
  end)

  it("rejects bad options by name", function()
    local net, x, y = make()
    assert.has_error(function() lp.train.adversarial_loss(net, x, y, {}) end,
      "bad argument #4 to 'adversarial_loss' (field 'task_loss' must be a function)")
    assert.has_error(function() lp.train.adversarial_loss(net, x, y, { task_loss = task, beta = 1 }) end,
      "bad argument #4 to 'adversarial_loss' (unknown field 'beta')")
    assert.has_error(function() lp.train.adversarial_loss(net, x, y, { task_loss = task, beta_robustness = -1 }) end,
      "bad argument #4 to 'adversarial_loss' (field 'beta_robustness' must be a non-negative number)")
  end)
end)
