-- spec/transform_spec.lua -- lp.transform: the parameter transforms, their
-- (straight-through) gradients, and the wrapper pipeline.
local lp = require "limpet"
local T = lp.transform
local nn = lp.nn
local class = require "limpet.class"

local function vals(t) return t:detach():astype("float64"):reshape(-1):totable() end

local function grad_of(f, x)
  local c = lp.tensor(x):requires_grad(true)
  local y = f(c)
  local w = lp.arange(1, y:numel() + 1, 1, y.dtype):reshape(y.shape)   -- weights 1, 2, ...
  ;(y * w):sum():backward()
  return c.grad, w
end

describe("lp.transform.int_quant", function()
  it("rounds per tensor to N bits, half to even, as the explicit computation", function()
    local x = lp.tensor({ 0.5, -1, 0.26, 0, 1 / 6 }, "float64")
    -- n_bits = 3: L = 3, max|x| = 1, s = 3: x·s = 1.5, -3, 0.78, 0, 0.5
    local q = T.int_quant(x, { n_bits = 3 })
    assert.tensor_near(lp.tensor({ 2 / 3, -1, 1 / 3, 0, 0 }, "float64"), q, 1e-12)
    local qi = T.int_quant(x, { n_bits = 3, map_to_max = true })
    assert.same({ 2, -3, 1, 0, 0 }, vals(qi))
  end)

  it("uses one scale per channel (last dimension) with per_channel", function()
    local x = lp.tensor({ { 1, 0.1, -4 }, { -0.5, 0.2, 1 } }, "float64")
    local q = T.int_quant(x, { n_bits = 8, per_channel = true, map_to_max = true })
    -- column maxima 1, 0.2, 4 -> scales 127, 635, 31.75
    local want = {}
    local xs, m = vals(x), { 1, 0.2, 4 }
    for i = 1, 6 do
      local c = (i - 1) % 3 + 1
      local v = xs[i] * 127 / m[c]
      local r = math.floor(v + 0.5)
      if r - v == 0.5 and r % 2 == 1 then r = r - 1 end
      want[i] = r
    end
    assert.same(want, vals(q))
    local g = T.int_quant(x, { n_bits = 8 })   -- per tensor: one scale 127 / 4
    assert.tensor_near(lp.round(x * (127 / 4)) / (127 / 4), g, 1e-12)
  end)

  it("leaves an all-zero tensor at zero", function()
    assert.same({ 0, 0, 0 }, vals(T.int_quant(lp.zeros({ 3 }, "float64"))))
    assert.same({ 0, 0 }, vals(T.int_quant(lp.zeros({ 1, 2 }, "float64"), { per_channel = true })))
  end)

  it("rounds stochastically without bias, reproducibly with a seed", function()
    local x = lp.full({ 4000 }, 0.3, "float64")
    x:set(1, 1.0)                 -- max 1, L = 7 (4 bits): x·s = 2.1
    local f = T.int_quant { n_bits = 4, stochastic = true, map_to_max = true, seed = 11 }
    local q = f(x)
    local v = vals(q)
    local n2, n3 = 0, 0
    for i = 2, #v do
      if v[i] == 2 then n2 = n2 + 1 elseif v[i] == 3 then n3 = n3 + 1 else error("value " .. v[i]) end
    end
    local mean = (2 * n2 + 3 * n3) / (#v - 1)
    assert.is_true(math.abs(mean - 2.1) < 0.03, "mean " .. mean)
    -- the stream advances: a second call differs, a fresh transform with the seed repeats
    assert.are_not.same(v, vals(f(x)))
    local again = T.int_quant { n_bits = 4, stochastic = true, map_to_max = true, seed = 11 }
    assert.same(v, vals(again(x)))
  end)

  it("passes gradients straight through (1 in value units, s in integer units)", function()
    local x = lp.tensor({ 0.3, -0.7, 0.05, 1.0 }, "float64")
    local g, w = grad_of(function(c) return T.int_quant(c, { n_bits = 4 }) end, x)
    assert.tensor_near(w, g, 0)
    g, w = grad_of(function(c) return T.int_quant(c, { n_bits = 4, map_to_max = true }) end, x)
    assert.tensor_near(w * 7, g, 1e-12)
    g, w = grad_of(function(c) return T.int_quant(c, { n_bits = 4, stochastic = true, seed = 1 }) end, x)
    assert.tensor_near(w, g, 0)
  end)

  it("has the straight-through gradient on every element, whatever lies downstream", function()
    -- finite differences see the rounding steps (slope 0), so the check is
    -- against the straight-through definition: d int_quant(x) / dx = 1
    local x = lp.randn(3, 4):astype("float64")
    local c = lp.tensor(x):requires_grad(true)
    local y = T.int_quant(c, { n_bits = 5, per_channel = true })
    local z = lp.tanh(y)
    z:sum():backward()
    assert.tensor_near(1 - lp.tanh(y:detach()) ^ 2, c.grad, 1e-12)
  end)

  it("rejects bad options by name", function()
    assert.has_error(function() T.int_quant { nbits = 4 } end,
      "bad argument #1 to 'int_quant' (unknown field 'nbits')")
    assert.has_error(function() T.int_quant(lp.ones(2), { n_bits = 1 }) end,
      "bad argument #2 to 'int_quant' (field 'n_bits' must be an integer in [2, 32])")
    assert.has_error(function() T.int_quant { stochastic = 1 } end,
      "bad argument #1 to 'int_quant' (field 'stochastic' must be a boolean)")
    assert.has_error(function() T.int_quant {}(lp.ones({ 2 }, "int32")) end,
      "bad argument #1 to 'int_quant' (float tensor expected, got int32)")
    assert.has_error(function() T.int_quant {}(3) end,
      "bad argument #1 to 'int_quant' (tensor expected, got number)")
    assert.has_error(function() T.int_quant { seed = 1.5 } end,
      "bad argument #1 to 'int_quant' (field 'seed' must be an integer)")
  end)
end)

describe("lp.transform.t_decay", function()
  it("takes decays to the nearest bit-shift decay 1 - 2^-dash", function()
    local a = lp.tensor({ 0.9, 0.6, 0.99, 0.3, 1.0, 0.9999999 }, "float64")
    -- -log2(1 - a) = 3.32, 1.32, 6.64, 0.51, inf, 23.3 -> dash 3, 1, 7, 1, 15, 15
    local want = {}
    for i, d in ipairs { 3, 1, 7, 1, 15, 15 } do want[i] = 1 - 2 ^ -d end
    assert.tensor_near(lp.tensor(want, "float64"), T.t_decay(a), 1e-15)
  end)

  it("takes time constants to the tau whose decay is the bit-shift decay", function()
    local tau = lp.tensor({ 20e-3, 5e-3, 2e-3, 1e-3, 1.0 }, "float64")
    local dt = 1e-3
    local q = T.t_decay(tau, { dt = dt })
    local dash = { 4, 2, 1, 1, 10 }   -- round(log2(tau / dt)); 0 clips to 1
    local qv = vals(q)
    for i, d in ipairs(dash) do
      assert.near(1 - 2 ^ -d, math.exp(-dt / qv[i]), 1e-12)
      -- the mapper's rule gives back the same dash
      local back = math.log(qv[i] / dt, 2)
      assert.equal(d, math.floor(back + 0.5))
    end
  end)

  it("passes gradients straight through", function()
    local g, w = grad_of(function(c) return T.t_decay(c) end, lp.tensor({ 0.8, 0.95 }, "float64"))
    assert.tensor_near(w, g, 0)
    g, w = grad_of(function(c) return T.t_decay(c, { dt = 1e-3 }) end, lp.tensor({ 0.01, 0.05 }, "float64"))
    assert.tensor_near(w, g, 0)
  end)

  it("rejects bad options by name", function()
    assert.has_error(function() T.t_decay { dt = 0 } end,
      "bad argument #1 to 't_decay' (field 'dt' must be a positive number)")
    assert.has_error(function() T.t_decay { max_dash = 0 } end,
      "bad argument #1 to 't_decay' (field 'max_dash' must be an integer in [1, 62])")
  end)
end)

describe("lp.transform.dropout", function()
  it("zeroes a fraction p of the entries, unscaled, reproducibly with a seed", function()
    local x = lp.full({ 5000 }, 2.0, "float64")
    local y = vals(T.dropout(x, { p = 0.3, seed = 5 }))
    local zeros = 0
    for _, v in ipairs(y) do
      if v == 0 then zeros = zeros + 1 else assert.equal(2, v) end
    end
    assert.is_true(math.abs(zeros / #y - 0.3) < 0.03)
    assert.same(y, vals(T.dropout(x, { p = 0.3, seed = 5 })))
  end)

  it("has the gradient of the mask (gradcheck)", function()
    local x = lp.randn(4, 5):astype("float64")
    assert.is_true(lp.autograd.gradcheck(function(c) return T.dropout(c, { p = 0.5, seed = 3 }) end, { x }))
    local g = grad_of(function(c) return T.dropout(c, { p = 0.5, seed = 3 }) end, x)
    local m = T.dropout(lp.ones_like(x), { p = 0.5, seed = 3 })
    local w = lp.arange(1, 21, 1, "float64"):reshape({ 4, 5 })
    assert.tensor_near(m * w, g, 0)
  end)

  it("rejects p outside [0, 1)", function()
    assert.has_error(function() T.dropout { p = 1 } end,
      "bad argument #1 to 'dropout' (field 'p' must be a number in [0, 1))")
  end)
end)

describe("lp.transform.mismatch", function()
  it("multiplies by 1 + sigma/100 N(0, 1), re-drawn per call, seeded", function()
    local x = lp.full({ 20000 }, 3.0, "float64")
    local f = T.mismatch { sigma = 20, seed = 9 }
    local y1, y2 = f(x), f(x)
    local r = y1 / 3
    assert.is_true(math.abs(r:mean():item() - 1) < 0.01)
    assert.is_true(math.abs(r:std():item() - 0.2) < 0.01)
    assert.are_not.same(vals(y1), vals(y2))
    local g = T.mismatch { sigma = 20, seed = 9 }
    assert.same(vals(y1), vals(g(x)))
    assert.same(vals(y2), vals(g(x)))
    assert.same({ 3, 3 }, vals(T.mismatch(lp.full({ 2 }, 3.0, "float64"), { sigma = 0 })))
  end)

  it("is the explicit computation and has its gradient (gradcheck)", function()
    local x = lp.randn(3, 3):astype("float64")
    local n = lp.core._events.normal(9, 4, 0):reshape({ 3, 3 })
    assert.tensor_near(x * (n * 0.1 + 1), T.mismatch(x, { sigma = 10, seed = 4 }), 1e-12)
    assert.is_true(lp.autograd.gradcheck(function(c) return T.mismatch(c, { sigma = 10, seed = 4 }) end, { x }))
  end)

  it("rejects a negative sigma", function()
    assert.has_error(function() T.mismatch { sigma = -1 } end,
      "bad argument #1 to 'mismatch' (field 'sigma' must be a non-negative number (percent))")
  end)
end)

describe("lp.transform pipeline", function()
  local function make_net()
    lp.seed(3)
    return nn.Sequential {
      nn.Linear({ 6, 5 }),
      nn.LIF(5, { tau_mem = 0.01, tau_syn = 0.005, has_rec = true }),
      nn.Linear({ 5, 2 }),
    }
  end

  it("builds a config like parameters(family) and refuses a family without parameters", function()
    local net = make_net()
    local f = T.int_quant {}
    local cfg = T.make_param_T_config(net, f, "weights")
    assert.equal(f, cfg["1_Linear"].weight)
    assert.equal(f, cfg["2_LIF"].w_rec)
    assert.equal(f, cfg["3_Linear"].weight)
    assert.is_nil(cfg["2_LIF"].tau_mem)
    assert.has_error(function() T.make_param_T_config(net, f, "nope") end,
      "bad argument #3 to 'make_param_T_config' (no parameter of family 'nope')")
  end)

  it("runs the network on the transformed values, gradients reaching the originals", function()
    local net = make_net()
    local x = lp.bernoulli(0.3, 2, 20, 6)
    local tnet = T.make_param_T_network(net, T.make_param_T_config(net, T.int_quant { n_bits = 3 }, "weights"))
    local w1 = net["1_Linear"].weight:clone()
    local out = tnet(x)
    -- the parameters are untouched and are the wrapper's parameters
    assert.tensor_near(w1, net["1_Linear"].weight, 0)
    assert.equal(net["1_Linear"].weight, tnet:parameters()["1_Linear"].weight)
    -- explicit: quantise a copy's weights, run it
    local ref = make_net()
    lp.no_grad(function()
      for _, n in ipairs { "1_Linear", "3_Linear" } do
        ref[n].weight:copy_(T.int_quant(ref[n].weight, { n_bits = 3 }))
      end
      ref["2_LIF"].w_rec:copy_(T.int_quant(ref["2_LIF"].w_rec, { n_bits = 3 }))
    end)
    assert.tensor_near(ref(x), out, 1e-6)
    out:sum():backward()
    assert.is_not_nil(net["1_Linear"].weight.grad)
    assert.is_not_nil(net["2_LIF"].w_rec.grad)
  end)

  it("exports the transformed values in as_graph; burns them in; unwraps", function()
    local net = make_net()
    local tnet = T.make_param_T_network(net,
      { ["2_LIF"] = { tau_mem = T.t_decay { dt = 1e-3 } }, ["1_Linear"] = { weight = T.int_quant { n_bits = 4 } } })
    local G = lp.graph
    local g = tnet:as_graph()
    local mods = G.bag_graph(g)
    local lin, lif
    for _, m in ipairs(mods) do
      if m.name == "1_Linear" then lin = m end
      if class.is_a(m, G.LIFNeuronWithSynsRealValue) then lif = m end
    end
    assert.tensor_near(T.int_quant(net["1_Linear"].weight, { n_bits = 4 }):astype("float64"), lin.weights, 1e-7)
    assert.tensor_near(T.t_decay(net["2_LIF"].tau_mem:astype("float64"), { dt = 1e-3 }), lif.tau_mem, 1e-6)
    -- the graph of the plain net still has the float weights
    local w = net["1_Linear"].weight:clone()
    T.apply_transform(tnet)
    assert.tensor_near(T.int_quant(w, { n_bits = 4 }), net["1_Linear"].weight, 1e-7)
    assert.equal(net, T.remove_transform(tnet))
    assert.equal(net, T.remove_T_net(T.make_param_T_network(tnet, {})))
    assert.equal("1_Linear", net["1_Linear"].name)
  end)

  it("re-draws mismatch on every call", function()
    local net = make_net()
    local tnet = T.make_param_T_network(net, T.make_param_T_config(net, T.mismatch { sigma = 30, seed = 1 }, "weights"))
    local x = lp.ones(1, 10, 6)
    local a = tnet(x, true)
    net:reset_state()
    local _, _, ra = tnet(x, true)
    net:reset_state()
    local _, _, rb = tnet(x, true)
    assert.are_not.same(vals(ra["2_LIF"].vmem), vals(rb["2_LIF"].vmem))
    assert.is_not_nil(a)
  end)

  it("names the bad entry of a config and restores the parameters when a transform fails", function()
    local net = make_net()
    assert.has_error(function() T.make_param_T_network(net, { ["1_Linear"] = { wieght = T.int_quant {} } }) end,
      "bad argument #2 to 'TWrapper' (config '1_Linear.wieght': no such parameter or sub-module)")
    assert.has_error(function() T.make_param_T_network(net, { ["1_Linear"] = { weight = 3 } }) end,
      "bad argument #2 to 'TWrapper' (config '1_Linear.weight': a function expected, got number)")
    assert.has_error(function() T.make_param_T_network(net, { ["2_LIF"] = { dt = T.int_quant {} } }) end,
      "bad argument #2 to 'TWrapper' (config '2_LIF.dt': not a trainable parameter)")
    assert.has_error(function() T.make_param_T_network(3, {}) end,
      "bad argument #1 to 'make_param_T_network' (module expected, got number)")
    local w = net["1_Linear"].weight
    local tnet = T.make_param_T_network(net, { ["1_Linear"] = { weight = function() return lp.ones(2) end } })
    assert.has_error(function() tnet(lp.ones(1, 3, 6)) end,
      "transform of '1_Linear.weight' must return a tensor of shape (6, 5)")
    assert.equal(w, net["1_Linear"].weight)
    assert.has_error(function() T.apply_transform(net) end,
      "bad argument #1 to 'apply_transform' (TWrapper expected, got Sequential)")
  end)
end)

describe("issue 16: lp.transform's helpers and Rockpool names check their arguments", function()
  local function err(f, ...) local ok, e = pcall(f, ...); assert.is_false(ok); return tostring(e) end
  it("straight_through, apply_T and remove_T_net name themselves", function()
    assert.matches("bad argument #2 to 'straight_through' %(a tensor expected, got nil%)", err(T.straight_through, lp.ones(2)))
    assert.matches("bad argument #2 to 'straight_through' %(value's shape %(3%) differs from through's %(2%)%)",
      err(T.straight_through, lp.ones(2), lp.ones(3)))
    assert.matches("bad argument #1 to 'remove_T_net' %(module expected", err(T.remove_T_net))
    assert.matches("bad argument #1 to 'remove_transform' %(module expected", err(T.remove_transform))
    assert.matches("bad argument #1 to 'apply_T' %(TWrapper expected", err(T.apply_T))
    local x = lp.ones(2):requires_grad(true)
    T.straight_through(x, lp.zeros(2)):sum():backward()
    assert.are.same({ 1, 1 }, vals(x.grad))
  end)
end)
