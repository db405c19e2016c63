-- spec/constraints_spec.lua -- constrained optimisation (Rockpool's how-to
-- "Configure and perform constrained optimization"), the boundary
-- regulariser, lp.optim's `project` option, parameter groups and per-step
-- schedules.
local lp = require "limpet"
local loss, optim = lp.loss, lp.optim

describe("summed_exp_boundary_loss and ParameterBoundaryRegularizer", function()
  it("sums exp(distance) over the violating elements only", function()
    local y = lp.tensor({ -2, 0.5, 1, 3 }, "float64")
    local v = loss.summed_exp_boundary_loss(y, 0, 2):item()
    assert.near(math.exp(2) + math.exp(1), v, 1e-12)
    assert.near(math.exp(1), loss.summed_exp_boundary_loss(y, nil, 2):item(), 1e-12)
    assert.near(math.exp(3) + math.exp(0.5), loss.summed_exp_boundary_loss(y, 1, nil):item(), 1e-12)   -- 1 itself is inside
    assert.equal(0, loss.summed_exp_boundary_loss(y):item())
    local reg = loss.ParameterBoundaryRegularizer { lower_bound = 0, upper_bound = 2 }
    assert.near(v, reg(y):item(), 1e-12)
  end)

  it("has the gradient of its formula (gradcheck, away from the bounds)", function()
    local y = lp.tensor({ -2.3, 0.5, 1.2, 3.1, 0.1 }, "float64")
    assert.is_true(lp.autograd.gradcheck(function(t) return loss.summed_exp_boundary_loss(t, 0, 2) end, { y }))
    local lo = lp.tensor({ 0, 0, 2, 0, 0.5 }, "float64")
    assert.is_true(lp.autograd.gradcheck(function(t) return loss.summed_exp_boundary_loss(t, lo, 3) end, { y }))
  end)

  it("bounds_cost has the gradient of its formula (gradcheck)", function()
    local p = { a = { w = lp.tensor({ -1.5, 0.2, 2.5 }, "float64") }, b = lp.tensor({ 4.2 }, "float64") }
    local lo, hi = loss.make_bounds(p)
    lo.a.w, hi.a.w, hi.b = 0, 2, 3
    assert.is_true(lp.autograd.gradcheck(function(q) return loss.bounds_cost(q, lo, hi) end, { p }))
  end)

  it("rejects bad bounds by name", function()
    assert.has_error(function() loss.summed_exp_boundary_loss(lp.ones(2), "a") end,
      "bad argument #2 to 'summed_exp_boundary_loss' (expected a number, a tensor or nil, got string)")
    assert.has_error(function() loss.ParameterBoundaryRegularizer { lower = 1 } end,
      "bad argument #1 to 'ParameterBoundaryRegularizer' (unknown field 'lower')")
  end)
end)

describe("bounds_clip and the optimisers' project option", function()
  it("clamps every bounded element in place, leaving unbounded ones", function()
    local p = { l = { tau = lp.tensor({ -1, 0.5, 9 }), w = lp.tensor({ -7, 7 }) } }
    local lo, hi = loss.make_bounds(p)
    lo.l.tau, hi.l.tau = 0.01, lp.tensor({ 1, 1, 5 })
    local t = p.l.tau
    assert.equal(p, loss.bounds_clip(p, lo, hi))
    assert.equal(t, p.l.tau)
    assert.tensor_near(lp.tensor({ 0.01, 0.5, 5 }), p.l.tau, 1e-7)
    assert.tensor_near(lp.tensor({ -7, 7 }), p.l.w, 0)
    hi.l.w = "x"
    assert.has_error(function() loss.bounds_clip(p, lo, hi) end,
      "bad argument #3 to 'bounds_clip' (bound for 'l.w' is a string, expected a number or a tensor)")
  end)

  it("runs project(params) after every step", function()
    local w = lp.tensor({ 1.0, -1.0 }):requires_grad(true)
    local calls = 0
    local opt = optim.SGD({ w = w }, { lr = 1, project = function(p)
      calls = calls + 1
      p.w:clamp_(0, 0.5)
    end })
    for _ = 1, 3 do
      opt:zero_grad()
      local l = (w * lp.tensor({ -1.0, 1.0 })):sum()
      l:backward()
      opt:step()
    end
    assert.equal(3, calls)
    assert.tensor_near(lp.tensor({ 0.5, 0 }), w, 0)
    assert.has_error(function() optim.Adam({ w = w }, { project = 3 }) end,
      "bad argument #2 to 'Adam' (field 'project' must be a function, got number)")
  end)

  -- Rockpool's how-to: a single LIF neuron, time constants that must stay
  -- positive and a threshold that must stay positive; a loss pushing them
  -- down; bounds from make_bounds; a soft penalty (bounds_cost) or a hard
  -- projection (bounds_clip after each step).
  local function how_to(mode)
    lp.seed(1)
    local net = lp.nn.LIF(1)
    local params = net:parameters()
    local lo, hi = loss.make_bounds(params)
    lo.tau_mem, lo.tau_syn, lo.threshold = 5e-3, 5e-3, 0.1
    hi.tau_mem, hi.tau_syn = 0.1, 0.1
    local project = mode == "hard" and function(p) loss.bounds_clip(p, lo, hi) end or nil
    -- reparametrise = false: plain Adam on tau, as in Rockpool (limpet steps taus in log space by default)
    local opt = optim.Adam(params, { lr = 2e-3, project = project, reparametrise = false })
    local x = lp.ones(1, 20, 1) * 0.5
    local min_tau, finite = math.huge, true
    for _ = 1, 60 do
      opt:zero_grad()
      net:reset_state()
      local out = lp.no_grad(function() return select(3, net(x, true)).vmem end)
      finite = finite and out:isnan():astype("int64"):sum():item() == 0 and out:abs():max():item() < 1e6
      -- a task loss that rewards short time constants and a low threshold
      local l = params.tau_mem:sum() * 10 + params.tau_syn:sum() * 10 + params.threshold:sum()
      if mode ~= "none" then l = l + loss.bounds_cost(params, lo, hi) * 100 end
      l:backward()
      opt:step()
      min_tau = math.min(min_tau, params.tau_mem:min():item(), params.tau_syn:min():item())
    end
    return params, min_tau, finite
  end

  it("the how-to: without constraints the taus leave the valid range (and the next forward refuses them)", function()
    local ok, err = pcall(how_to, "none")
    assert.is_false(ok)
    assert.matches("parameter 'tau_%a+' must be > 0, got %-", tostring(err))
  end)

  it("the how-to: bounds_cost keeps the taus near their bounds", function()
    local p, min_tau, finite = how_to("soft")
    assert.is_true(min_tau > 5e-3 - 0.004, "min tau " .. min_tau)
    assert.is_true(finite)
    assert.is_true(p.threshold:item() > 0.1 - 0.004)
  end)

  it("the how-to: bounds_clip as a projection keeps them inside exactly", function()
    local p, min_tau, finite = how_to("hard")
    assert.is_true(finite)
    assert.is_true(min_tau >= 5e-3 - 1e-9, "min tau " .. min_tau)
    assert.near(5e-3, p.tau_mem:item(), 1e-6)
    assert.is_true(p.threshold:item() >= 0.1)
  end)
end)

describe("parameter groups", function()
  it("gives each group its own hyperparameters (PyTorch's param_groups)", function()
    local a = lp.tensor({ 1.0 }):requires_grad(true)
    local b = lp.tensor({ 1.0 }):requires_grad(true)
    local opt = optim.SGD({ { params = { a = a }, lr = 0.5 }, { params = { b = b } } }, { lr = 0.1 })
    opt:zero_grad()
    local l = (a + b):sum()
    l:backward()
    opt:step()
    assert.near(0.5, a:item(), 1e-7)
    assert.near(0.9, b:item(), 1e-7)
    assert.equal(0.1, opt.lr)
    assert.equal(2, #opt.params)
  end)

  it("matches separate optimisers for Adam with per-family learning rates", function()
    lp.seed(4)
    local function net() lp.seed(4); return lp.nn.Sequential { lp.nn.Linear({ 3, 4 }), lp.nn.LIF(4, { tau_syn = 0.01 }) } end
    local x = lp.rand(2, 10, 3) * 2
    local n1, n2 = net(), net()
    local opt1 = optim.Adam({ { params = n1:parameters("weights"), lr = 1e-2 },
                              { params = n1:parameters("taus"), lr = 1e-4 } }, { lr = 1e-3 })
    local oa = optim.Adam(n2:parameters("weights"), { lr = 1e-2 })
    local ob = optim.Adam(n2:parameters("taus"), { lr = 1e-4 })
    for _ = 1, 3 do
      for _, n in ipairs { n1, n2 } do n:reset_state() end
      opt1:zero_grad(); oa:zero_grad(); ob:zero_grad()
      n1(x):sum():backward()
      n2(x):sum():backward()
      opt1:step(); oa:step(); ob:step()
    end
    assert.tensor_near(n2["1_Linear"].weight, n1["1_Linear"].weight, 1e-7)
    assert.tensor_near(n2["2_LIF"].tau_mem, n1["2_LIF"].tau_mem, 1e-9)
    assert.tensor_near(n2["2_LIF"].tau_syn, n1["2_LIF"].tau_syn, 1e-9)
    -- the groups' rates travel with state_dict
    local sd = opt1:state_dict()
    assert.near(1e-4, sd["group2.lr"]:item(), 1e-15)
    opt1.groups[2].hyper.lr = 5
    opt1:load_state_dict(sd)
    assert.near(1e-4, opt1.groups[2].hyper.lr, 1e-15)
  end)

  it("rejects malformed groups by name", function()
    local a = lp.tensor({ 1.0 }):requires_grad(true)
    assert.has_error(function() optim.Adam({ { params = { a = a }, lrr = 1 } }) end,
      "bad argument #1 to 'Adam' (parameter group 1: unknown field 'lrr')")
    assert.has_error(function() optim.Adam({ { params = { a = a } }, { params = { b = a } } }) end,
      "bad argument #1 to 'Adam' (parameter 'b' is in more than one group)")
    assert.has_error(function() optim.Adam({ { params = { a = a }, lr = -1 } }) end,
      "bad argument #1 to 'Adam' (parameter group 1: field 'lr' must be >= 0, got -1)")
    assert.has_error(function() optim.Adam({ { params = { a = a }, betas = { 2, 0 } } }) end,
      "bad argument #2 to 'Adam' (field 'betas' must be two numbers in [0, 1))")
  end)
end)

describe("per-step schedules", function()
  it("sets the rate before every optimiser step, groups scaled from their own base", function()
    local a = lp.tensor({ 0.0 }):requires_grad(true)
    local b = lp.tensor({ 0.0 }):requires_grad(true)
    local opt = optim.SGD({ { params = { a = a } }, { params = { b = b }, lr = 10 } }, { lr = 1 })
    local s = optim.schedule.lambda(opt, { lr_lambda = function(k) return 1 / (k + 1) end, per_step = true })
    local rates = {}
    for _ = 1, 4 do
      opt:zero_grad()
      local l = (a - b):sum()      -- grad a = 1, grad b = -1
      l:backward()
      opt:step()
      rates[#rates + 1] = opt.lr
    end
    assert.same({ 1, 1 / 2, 1 / 3, 1 / 4 }, rates)
    assert.near(-(1 + 1 / 2 + 1 / 3 + 1 / 4), a:item(), 1e-6)
    assert.near(10 * (1 + 1 / 2 + 1 / 3 + 1 / 4), b:item(), 1e-5)
    assert.has_error(function() s:step() end,
      "schedule.lambda: a per_step schedule is advanced by the optimiser's steps, not by step()")
  end)

  it("keeps epoch schedules as they were and checks lambda's options", function()
    local a = lp.tensor({ 0.0 }):requires_grad(true)
    local opt = optim.SGD({ a = a }, { lr = 1 })
    local s = optim.schedule.step(opt, { step_size = 2, gamma = 0.5 })
    s:step(); s:step()
    assert.equal(0.5, opt.lr)
    assert.has_error(function() optim.schedule.lambda(opt, {}) end,
      "bad argument #2 to 'lambda' (field 'lr_lambda' is required)")
    assert.has_error(function() optim.schedule.lambda(opt, { lr_lambda = 2 }) end,
      "bad argument #2 to 'lambda' (field 'lr_lambda' must be a function, got number)")
  end)
end)

describe("issue 16: summed_exp_boundary_loss's bounds", function()
  it("a bound tensor that does not broadcast to the data is refused by name", function()
    local ok, e = pcall(loss.summed_exp_boundary_loss, lp.ones(4, 3), lp.zeros(0, 3))
    assert.is_false(ok)
    assert.matches("bad argument #2 to 'summed_exp_boundary_loss' %(a bound of shape %(0, 3%) does not broadcast", e)
    assert.are.equal(0, loss.summed_exp_boundary_loss(lp.ones(4, 3), lp.zeros(1, 3)):item())
  end)
end)
