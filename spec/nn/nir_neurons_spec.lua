-- spec/nn/nir_neurons_spec.lua -- nn.IF, nn.LI, nn.CubaLI, nn.CubaLIF: the
-- fused op against a plain scalar loop, gradients (finite differences on
-- the smooth paths, the surrogate analytically), state rule, NIR round
-- trip, errors.
local lp = require "limpet"
local nn = lp.nn
local ag = lp.autograd

-- plain loop of the NIR step for one neuron (exact or euler)
local function loop(kind, p, xs, dt, euler)
  local v, i, out = 0, 0, {}
  local function decay(tau) return euler and 1 - dt / tau or math.exp(-dt / tau) end
  for t, x in ipairs(xs) do
    local drive = x
    if kind == "CubaLI" or kind == "CubaLIF" then
      local a = decay(p.tau_syn)
      i = a * i + p.w_in * (euler and dt / p.tau_syn or 1 - a) * x
      drive = i
    end
    local u
    if kind == "IF" then u = v + dt * p.r * drive
    else
      local tau = p.tau or p.tau_mem
      local a = decay(tau)
      local w = euler and dt / tau or 1 - a
      u = a * v + w * p.v_leak + w * p.r * drive
    end
    local z = 0
    if (kind == "IF" or kind == "CubaLIF") and u > p.v_threshold then z = 1 end
    v = z == 1 and p.v_reset or u
    out[t] = (kind == "IF" or kind == "CubaLIF") and z or v
  end
  return out
end

describe("nn.IF, nn.LI, nn.CubaLI, nn.CubaLIF", function()
  local params = {
    IF = { r = 2, v_threshold = 1, v_reset = -0.2 },
    LI = { tau = 0.01, r = 1.5, v_leak = 0.3 },
    CubaLI = { tau_mem = 0.02, tau_syn = 0.005, r = 1.2, v_leak = -0.1, w_in = 2 },
    CubaLIF = { tau_mem = 0.02, tau_syn = 0.005, r = 1.2, v_leak = 0.1, w_in = 3, v_threshold = 0.4, v_reset = 0.05 },
  }
  for kind, p in pairs(params) do
    for _, disc in ipairs { "exact", "euler" } do
      it(("%s (%s) runs as the plain loop"):format(kind, disc), function()
        local opts = { dt = kind == "IF" and 0.2 or 1e-3, discretisation = disc }
        for k, v in pairs(p) do opts[k] = v end
        local m = nn[kind](1, opts)
        local xs = lp.rand({ 1, 40, 1 }, "float64") * 3
        local y = m(xs)
        local want = loop(kind, p, xs:reshape({ -1 }):totable(), opts.dt, disc == "euler")
        assert.tensor_near(lp.tensor(want, "float64"), y:reshape({ -1 }):astype("float64"), 1e-5)
      end)
    end
  end

  it("has BPTT gradients for the input and every coefficient #grad", function()
    local N = 3
    local function r(lo, hi) return lp.rand({ N }, "float64") * (hi - lo) + lo end
    local x = lp.randn({ 2, 6, N }, "float64")
    local v0 = lp.randn({ 2, N }, "float64")
    assert.is_true(ag.gradcheck(function(x_, a1, a2, a3, a4, a5)
      return (lp.nir_neuron(x_, { a_m = a1, g_m = a2, c_m = a3, a_s = a4, g_s = a5, v0 = v0 }))
    end, { x, r(0.5, 0.9), r(0.5, 2), r(-0.1, 0.1), r(0.3, 0.8), r(0.5, 1.5) }))
    -- through the modules: gradients reach tau_mem, tau_syn, r, v_leak, w_in (CubaLI is smooth)
    local m = nn.CubaLI(N, { tau_mem = 0.02, tau_syn = 0.01 })
    local y = m(lp.rand({ 2, 10, N }))
    y:sum():backward()
    for _, k in ipairs { "tau_mem", "tau_syn", "r", "v_leak", "w_in" } do
      assert.is_true(m[k].grad:abs():sum():item() > 0, k)
    end
  end)

  it("float fast path: outputs bit-equal to the plain loops, gradients to float rounding", function()
    -- every (synapse, spiking, surrogate) variant, initial states per row
    -- (B, N), shared (N) and mixed, N not a multiple of the vector width
    local B, T, N = 3, 7, 37
    local function coef(lo, hi) return (lp.rand({ N }) * (hi - lo) + lo):requires_grad(true) end
    for _, syn in ipairs { false, true } do
      for _, spk in ipairs { false, true } do
        for _, sg in ipairs(spk and { "FastSigmoid", "ATan" } or { "FastSigmoid" }) do
          for _, shared in ipairs { false, true, "mixed" } do   -- mixed: v0 (N), i0 (B, N)
            local x = (lp.randn({ B, T, N }) * 0.8):requires_grad(true)
            local c = { a_m = coef(0.5, 1), g_m = coef(0.5, 1.5), c_m = coef(-0.1, 0.1), surrogate = sg, scale = 4 }
            if syn then c.a_s, c.g_s = coef(0.3, 0.9), coef(0.5, 1.5) end
            if spk then c.theta, c.v_reset = coef(0.2, 0.6), coef(-0.2, 0.1) end
            c.v0 = shared and lp.randn({ N }) * 0.3 or lp.randn({ B, N }) * 0.3
            if syn then c.i0 = shared == true and lp.randn({ N }) * 0.3 or lp.randn({ B, N }) * 0.3 end
            local go = lp.randn({ B, T, N })
            local res = {}
            for _, ref in ipairs { false, true } do
              c.reference = ref
              local leaves = { x }
              for _, k in ipairs { "a_m", "g_m", "c_m", "a_s", "g_s", "theta", "v_reset" } do
                if c[k] then leaves[#leaves + 1] = c[k]; c[k].grad = nil end
              end
              x.grad = nil
              local out, vm, vT, iT = lp.nir_neuron(x, c)
              out:backward(go)
              local r = { out = out:detach(), vm = vm, vT = vT, iT = iT, g = {} }
              for i, l in ipairs(leaves) do r.g[i] = l.grad:clone() end
              res[ref] = r
            end
            local what = ("syn %s spk %s %s shared %s"):format(syn, spk, sg, shared)
            for _, k in ipairs { "out", "vm", "vT", "iT" } do
              assert.is_true(res[false][k]:eq(res[true][k]):all():item(), what .. " " .. k)
            end
            if spk then assert.is_true(res[false].out:sum():item() > 0, what .. ": no spike") end
            for i, g in ipairs(res[true].g) do
              local d = (res[false].g[i] - g):abs():max():item()
              assert.is_true(d <= 1e-4 * (1 + g:abs():max():item()), what .. (" grad %d off by %g"):format(i, d))
            end
          end
        end
      end
    end
    -- record = false: no membrane trace; unknown and mistyped fields are errors
    local x = lp.rand({ 1, 2, 3 })
    local one = lp.ones({ 3 })
    local out, vm = lp.nir_neuron(x, { a_m = one, g_m = one, c_m = one, record = false })
    assert.is_nil(vm)
    assert.are.same({ 1, 2, 3 }, out.shape)
    assert.has_error(function() lp.nir_neuron(x, { a_m = one, g_m = one, c_m = one, record = 1 }) end,
      "bad argument #2 to 'nir_neuron' (field 'record' must be a boolean)")
    assert.has_error(function() lp.nir_neuron(x, { a_m = one, g_m = one, c_m = one, v0 = lp.ones({ 2, 3 }) }) end,
      "bad argument #2 to 'nir_neuron' ('v0' must be (B, N) or (N) of the input's dtype)")
  end)

  it("reads an input repeated over time (expand) in place: same outputs and gradients as its copy", function()
    for _, ref in ipairs { false, true } do
      local B, T, N = 3, 4, 10
      local c = { a_m = lp.full({ N }, 0.9), g_m = lp.full({ N }, 1.2), c_m = lp.zeros({ N }),
        theta = lp.full({ N }, 0.5), v_reset = lp.zeros({ N }), reference = ref }
      local base = lp.rand({ B, 1, N }):requires_grad(true)
      local rep = base:expand({ B, T, N })
      assert.is_false(rep:is_contiguous())
      local o1 = lp.nir_neuron(rep, c)
      local g = lp.randn({ B, T, N })
      o1:backward(g)
      local g1 = base.grad:clone()
      base.grad = nil
      local o2 = lp.nir_neuron(base:expand({ B, T, N }):contiguous(), c)
      o2:backward(g)
      assert.is_true(o1:eq(o2):all():item())
      assert.is_true(o1:sum():item() > 0)
      assert.tensor_near(base.grad, g1, 1e-6)
    end
    -- through the module: nn.IF on a (B, T, C, H, W) repeat
    local m = nn.IF({ 2, 3, 3 }, { dt = 1 })
    local c1 = lp.rand({ 2, 1, 2, 3, 3 })
    local a = m(c1:expand({ 2, 5, 2, 3, 3 }))
    m:reset_state()
    assert.is_true(a:eq(m(c1:expand({ 2, 5, 2, 3, 3 }):contiguous())):all():item())
  end)

  it("passes spikes back through the surrogate (one step, analytic)", function()
    local N = 4
    local x = lp.randn({ 1, 1, N }, "float64"):requires_grad(true)
    local gm, th = lp.rand({ N }, "float64") + 0.5, lp.full({ N }, 0.1, "float64"):requires_grad(true)
    local out = lp.nir_neuron(x, { a_m = lp.ones({ N }, "float64"), g_m = gm, c_m = lp.zeros({ N }, "float64"),
      theta = th, v_reset = lp.zeros({ N }, "float64"), surrogate = "FastSigmoid", scale = 10 })
    out:sum():backward()
    local u = x:detach():reshape({ N }) * gm
    local s = (1 + (u - 0.1):abs() * 10):pow(-2)
    assert.tensor_near(gm * s, x.grad:reshape({ N }), 1e-12)
    assert.tensor_near(-s, th.grad, 1e-12)
  end)

  it("keep row 1's final state and start every row from it", function()
    local m = nn.LI(2, { tau = 0.01 })
    local x = lp.rand({ 3, 5, 2 })
    local y1 = m(x)
    local v = m.vmem:clone()
    assert.tensor_near(y1[1][5], v, 1e-6)
    local y2 = m(x)
    assert.is_true((y2 - y1):abs():max():item() > 0)
    m:reset_state()
    assert.tensor_near(y1, m(x), 1e-6)
  end)

  it("take any per-sample shape (after a convolution)", function()
    local net = nn.Sequential(nn.Conv2d(2, 3, 3, { padding = 1 }), nn.CubaLIF({ 3, 5, 5 }, { v_threshold = 0.01 }),
      nn.SumPool2d(5), nn.Flatten(), nn.Linear({ 3, 2 }), nn.LI(2))
    local y = net(lp.rand({ 2, 4, 2, 5, 5 }))
    assert.are.same({ 2, 4, 2 }, y.shape)
    y:sum():backward()
    assert.is_true(net["1_Conv2d"].weight.grad:abs():sum():item() > 0)
  end)

  it("round-trip through NIR with the same outputs", function()
    lp.seed(11)   -- weights that make the CubaLIF spike, whatever ran before
    local net = nn.Sequential(nn.Linear({ 3, 4 }), nn.CubaLIF(4, { v_threshold = 0.05, discretisation = "euler" }),
      nn.Linear({ 4, 2 }), nn.LI(2, { discretisation = "euler" }))
    local path = os.tmpname() .. ".nir"
    assert(lp.nir.save(net, path))
    local g = lp.nir.load(path)
    assert.are.equal("euler", g.discretisation)
    local x = lp.rand({ 2, 15, 3 })
    local y = net(x)
    assert.is_true(net:reset_state() ~= nil)
    assert.tensor_near(net(x), g(x), 1e-5)
    assert.is_true(y:abs():sum():item() > 0)
    os.remove(path)
  end)

  it("refuse bad options by name", function()
    assert.has_error(function() nn.LI(3, { tau = -1 }) end, "bad argument #2 to 'LI' (field 'tau' must be positive)")
    assert.has_error(function() nn.IF(3, { tau = 1 }) end, "bad argument #2 to 'IF' (unknown field 'tau')")
    assert.has_error(function() nn.CubaLIF(3, { discretisation = "rk4" }) end,
      "bad argument #2 to 'CubaLIF' (field 'discretisation' must be 'exact' or 'euler', got 'rk4')")
    assert.has_error(function() nn.CubaLIF(3, { surrogate = "StepPWL" }) end,
      "bad argument #2 to 'CubaLIF' (field 'surrogate' must be 'FastSigmoid' or 'ATan', got 'StepPWL')")
    assert.has_error(function() nn.LI({ 2, 0 }) end,
      "bad argument #1 to 'LI' (shape must be N or a list of positive integers)")
    assert.has_error(function() nn.LI(3)(lp.rand({ 1, 2, 4 })) end,
      "bad argument #1 to 'evolve' (LI expects input (B, T, 3), got (1, 2, 4))")
  end)
end)
