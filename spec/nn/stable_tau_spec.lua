-- spec/nn/stable_tau_spec.lua -- training time constants, decays and
-- thresholds stays inside their valid range by default: optimisers step
-- them in log / logit space (nn/parameters.lua constraints, optim/base.lua).
local lp = require "limpet"
local nn, optim = lp.nn, lp.optim

-- The Fashion-MNIST example's shape and learning rate with trainable taus.
local function fmnist_like(reparametrise, steps)
  lp.seed(7)
  local net = nn.Sequential {
    nn.Linear({ 784, 512 }),
    nn.LIF(512, { tau_mem = 20e-3, tau_syn = 5e-3, spike_generation_fn = "ATan" }),
    nn.Linear({ 512, 10 }, { has_bias = true }),
  }
  local x = lp.bernoulli(0.15, 16, 28, 784)
  local y = lp.randint(1, 11, 16)
  local opt = optim.Adam(net:parameters(), { lr = 2e-3, reparametrise = reparametrise })
  local losses = {}
  for i = 1, steps do
    net:reset_state()
    opt:zero_grad()
    local l = lp.loss.cross_entropy(net(x):sum(2), y)
    losses[i] = l:item()
    l:backward()
    opt:step()
  end
  local tau = net["2_LIF"].tau_syn
  return tau:le(0):astype("int64"):sum():item(), tau:min():item(), losses, net
end

describe("stable trainable time constants", function()
  it("reproduces the failure with the plain update: taus go <= 0 within a few Adam steps", function()
    -- the next forward refuses the parameter that left its range (issue 14's validation)
    local ok, err = pcall(fmnist_like, false, 6)
    assert.is_false(ok, "no tau went <= 0")
    assert.matches("'2_LIF': parameter 'tau_syn' must be > 0", tostring(err))
  end)

  it("keeps every tau positive by default (log-space steps)", function()
    local bad, min, losses, net = fmnist_like(nil, 6)
    assert.equal(0, bad)
    assert.is_true(min > 4e-3, "min tau_syn " .. min)
    for _, l in ipairs(losses) do assert.is_true(l == l and l < math.huge) end
    assert.is_true(net["2_LIF"].threshold:min():item() > 0)
  end)

  it("is Adam on log tau, exactly", function()
    local tau = lp.tensor({ 0.02, 0.005, 0.1 }, "float64")
    local mod = nn.LIF(3, { tau_mem = tau, tau_syn = 0.01 })
    mod.tau_mem:astype("float64")
    local opt = optim.Adam(mod:parameters(), { lr = 0.1 })
    local g = lp.tensor({ 3.0, -2.0, 0.5 }, "float32")
    mod.tau_mem.grad = g
    opt:step()
    local u = lp.log(tau)
    local gu = g:astype("float64") * tau
    -- first Adam step: m_hat = gu, v_hat = gu^2
    local want = lp.exp(u - gu / (gu:abs() + 1e-8) * 0.1)
    assert.tensor_near(want, mod.tau_mem:astype("float64"), 1e-6)
  end)

  it("steps decays in logit space, keeping them in (0, 1)", function()
    local mod = nn.LIF(2, { leak_mode = "decays", alpha = math.exp(-1e-3 / 0.02), beta = math.exp(-1e-3 / 0.005) })
    local opt = optim.Adam(mod:parameters(), { lr = 5 })
    for _ = 1, 5 do
      mod.alpha.grad = lp.tensor({ -1.0, 1.0 })
      mod.beta.grad = lp.tensor({ { -1.0 }, { 1.0 } })
      opt:step()
    end
    for _, t in ipairs { mod.alpha, mod.beta } do
      assert.is_true(t:min():item() > 0 and t:max():item() < 1)
    end
    assert.is_true(mod.alpha:get(1) > 0.99 and mod.alpha:get(2) < 0.5)
  end)

  it("names a parameter that cannot be stepped in its space", function()
    local mod = nn.LIF(2)
    lp.no_grad(function() mod.threshold:copy_(lp.tensor({ 1.0, -1.0 })) end)
    local opt = optim.Adam(mod:parameters())
    mod.threshold.grad = lp.ones(2)
    assert.has_error(function() opt:step() end,
      "Adam: parameter 'threshold' holds values <= 0 but is stepped in log space (it must be positive; "
      .. "reparametrise = false steps it plainly)")
    assert.has_error(function() optim.Adam(mod:parameters(), { reparametrise = 1 }) end,
      "bad argument #2 to 'Adam' (field 'reparametrise' must be a boolean, got number)")
    local plain = optim.SGD(mod:parameters(), { lr = 1, reparametrise = false })
    plain:step()
    assert.tensor_near(lp.tensor({ 0.0, -2.0 }), mod.threshold, 1e-7)
  end)

  it("keeps the constraint when a parameter tensor is replaced or reset", function()
    local P = require "limpet.nn.parameters"
    local mod = nn.LIF(2)
    assert.same({ space = "log" }, P.constraint(mod.tau_mem))
    mod:reset_parameters()
    assert.same({ space = "log" }, P.constraint(mod.tau_mem))
    assert.is_nil(P.constraint(mod.bias))
  end)
end)
