-- spec/fusion_spec.lua -- the fused input projection of core.lif (w_in,
-- b_in) against lp.matmul + core.lif: same values and every gradient, on
-- sparse inputs (row gathers, scatter-add) and dense ones (one GEMM), with
-- recurrence, several synapses and aLIF, narrow and wide layers (dL/dx by
-- FMA rows or a GEMM); nn.Sequential's detection of a
-- Linear followed by a LIF-family layer; record lists ("vmem", ...).
local lp = require "limpet"
local core = require "limpet.core"
local nn = lp.nn

local function maxdiff(a, b) return (a:astype("float64") - b:astype("float64")):abs():max():item() end

-- |a - b| <= tol * (1 + max |a|)
local function near(name, a, b, tol)
  assert(a and b, name .. ": missing")
  local scale = a:astype("float64"):abs():max():item()
  local d = maxdiff(a, b)
  if not (d <= tol * (1 + scale)) then
    error(("%s: differs by %g (scale %g)"):format(name, d, scale), 2)
  end
end

-- One LIF layer's operands (B, T, Nin) -> (N, k).
local function operands(o)
  lp.seed(o.seed or 5)
  local dt = o.dtype or "float32"
  local B, T, nin, N, k = o.B or 3, o.T or 40, o.nin or 24, o.N or 10, o.k or 1
  local K = N * k
  local x
  if o.dense then x = lp.randn({ B, T, nin }):astype(dt)
  else x = (lp.rand({ B, T, nin }):lt(0.05):astype(dt)) * 2 end
  local t = {
    x = x,
    w_in = (lp.randn({ nin, K }) * 0.8):astype(dt),
    alpha = lp.full({ N }, 0.9):astype(dt),
    beta = (k == 1 and lp.full({ N }, 0.8) or lp.full({ N, k }, 0.8)):astype(dt),
    bias = (lp.randn({ N }) * 0.05):astype(dt),
    threshold = lp.full({ N }, 1.0):astype(dt),
  }
  if o.bias then t.b_in = (lp.randn({ K }) * 0.1):astype(dt) end
  if o.rec then t.w_rec = (lp.randn({ N, K }) * 0.2):astype(dt) end
  if o.ahp then t.w_ahp = lp.full({ N }, -0.5):astype(dt); t.beta_ahp = lp.full({ N }, 0.7):astype(dt) end
  for _, v in pairs(t) do v:requires_grad(true) end
  return t
end

local function run(t, fused, extra)
  local opts = { alpha = t.alpha, beta = t.beta, bias = t.bias, threshold = t.threshold, w_rec = t.w_rec,
                 w_ahp = t.w_ahp, beta_ahp = t.beta_ahp, record = true }
  for k, v in pairs(extra or {}) do opts[k] = v end
  local x = t.x
  if fused then opts.w_in, opts.b_in = t.w_in, t.b_in
  else
    x = lp.matmul(t.x, t.w_in)
    if t.b_in then x = x + t.b_in end
  end
  local s, rec = core.lif(x, opts)
  local loss = (rec.vmem * rec.vmem):sum() + (s * lp.linspace(0.5, 1.5, s.shape[3]):astype(s.dtype)):sum()
  loss:backward()
  local g = {}
  for k, v in pairs(t) do g[k] = v.grad end
  return s, rec, g
end

local function compare(o, tol)
  local t1, t2 = operands(o), operands(o)
  local s1, r1, g1 = run(t1, false, o.extra)
  local s2, r2, g2 = run(t2, true, o.extra)
  assert.are.equal(0, maxdiff(s1, s2))
  assert.is_true(s1:sum():item() > 0, "some spikes")
  near("vmem", r1.vmem, r2.vmem, tol)
  near("isyn", r1.isyn, r2.isyn, tol)
  if r1.irec then near("irec", r1.irec, r2.irec, tol) end
  for k in pairs(t1) do near("d " .. k, g1[k], g2[k], tol) end
end

describe("core.lif with a fused input projection (w_in, b_in)", function()
  it("sparse spikes: values and every gradient as matmul + core.lif", function()
    compare({}, 1e-5)
  end)
  it("sparse spikes with b_in and w_rec", function()
    compare({ bias = true, rec = true }, 1e-5)
  end)
  -- dL/dx = dL/dc . w_in^T: by FMA rows on AVX2+FMA CPUs when the layer is
  -- narrow (K <= 32, as W1's 256 -> 20 readout; 64-, 8- and 1-column
  -- blocks at nin = 300), by the GEMM when wider (K = 40)
  it("dL/dx of a narrow layer (K = 20) with 300 inputs, and of a wider one (K = 40)", function()
    compare({ nin = 300, N = 20, T = 30, B = 4 }, 1e-5)
    compare({ nin = 300, N = 40, T = 30, B = 4 }, 1e-5)
  end)
  -- dL/dw_in from x's saved index listed per input (core/src/lif.c,
  -- in_grad_w): the same sums in the same order as the sparse x^T . dL/dc
  -- of the unfused chain's matmul, so the same bits; spikes of 2 (values)
  -- and of 1 (no products)
  -- N = 40, 20, 12: the narrow rows (8 <= K < 64 in float32) take one pass
  -- over the events with every column vector (the last ending at K,
  -- overlapping the one before at 20 and 12): forward projection and
  -- dL/dw_in the same bits as the unfused chain too
  -- (136: a sixteen-vector pass of 0/1 spikes, then the last vector; 72:
  -- the eight-vector passes and the last vector); spikes of 1 and 2
  -- mixed: runs of ones added without the products among the values
  for _, amp in ipairs { 2, 1, "1 and 2" } do
   for _, N in ipairs { 136, 72, 40, 20, 12 } do
    it(("dL/dw_in the same bits as matmul + core.lif, spikes of %s, 300 inputs, N = %d"):format(amp, N), function()
      lp.seed(5)
      local B, T, nin = 4, 30, 300
      local x
      if amp == "1 and 2" then
        x = lp.rand({ B, T, nin }):lt(0.05):astype("float32") * (lp.rand({ B, T, nin }):lt(0.3):astype("float32") + 1)
      else
        x = lp.rand({ B, T, nin }):lt(0.05):astype("float32") * amp
      end
      local function grad(fused)
        lp.seed(9)
        local w = (lp.randn({ nin, N }) * 0.3):astype("float32"):requires_grad(true)
        local o = { alpha = lp.full({ N }, 0.9):astype("float32"), beta = lp.full({ N }, 0.8):astype("float32"),
                    bias = lp.zeros({ N }):astype("float32"), threshold = lp.ones({ N }):astype("float32"),
                    record = true }
        local xi = x
        if fused then o.w_in = w else xi = lp.matmul(x, w) end
        local s, rec = core.lif(xi, o)
        ;((rec.vmem * rec.vmem):sum() + s:sum()):backward()
        return w.grad, s, rec
      end
      local g1, s1, r1 = grad(true)
      local g2, s2, r2 = grad(false)
      assert.is_true(s1:sum():item() > 0, "some spikes")
      assert.is_true(g1:abs():max():item() > 0)
      assert.are.equal(0, maxdiff(g1, g2))
      assert.are.equal(0, maxdiff(s1, s2))
      assert.are.equal(0, maxdiff(r1.isyn, r2.isyn))
    end)
   end
  end
  it("dense currents (one GEMM) with b_in", function()
    compare({ dense = true, bias = true }, 1e-5)
  end)
  it("float64, several synapses, recurrence and aLIF (general loop)", function()
    compare({ dtype = "float64", k = 2, rec = true, ahp = true, bias = true }, 1e-10)
  end)
  it("FastSigmoid surrogate, membrane only", function()
    compare({ extra = { spike_fn = "FastSigmoid" } }, 1e-5)
    compare({ extra = { membrane_only = true }, k = 1 }, 1e-5)
  end)
  it("no gradient through x unless x requires it", function()
    local t = operands({})
    t.x:requires_grad(false)
    local _, _, g = run(t, true)
    assert.is_nil(g.x)
    assert.is_not_nil(g.w_in)
  end)
  it("forward without autograd equals the recording forward", function()
    local t = operands({ bias = true })
    local s1 = lp.no_grad(function()
      return (core.lif(t.x, { alpha = t.alpha, beta = t.beta, bias = t.bias, threshold = t.threshold,
                              w_in = t.w_in, b_in = t.b_in }))
    end)
    local s2 = run(t, false)
    assert.are.equal(0, maxdiff(s1, s2))
  end)
  it("rejects bad operands by name", function()
    local t = operands({})
    local base = { alpha = t.alpha, beta = t.beta, bias = t.bias, threshold = t.threshold }
    local function with(f)
      local o = {}
      for k, v in pairs(base) do o[k] = v end
      for k, v in pairs(f) do o[k] = v end
      return o
    end
    assert.has_error(function() core.lif(t.x, with { w_in = lp.zeros({ 24, 9 }) }) end,
      "bad argument #2 to 'lif' (field 'w_in': expected shape (Nin, 10), got (24, 9))")
    assert.has_error(function() core.lif(t.x, with { w_in = lp.zeros({ 23, 10 }) }) end,
      "bad argument #1 to 'lif' (expected shape (B, T, 23), got (3, 40, 24))")
    assert.has_error(function() core.lif(t.x, with { b_in = lp.zeros({ 10 }) }) end,
      "bad argument #2 to 'lif' (field 'b_in' needs 'w_in')")
    assert.has_error(function() core.lif(t.x, with { w_in = t.w_in, b_in = lp.zeros({ 9 }) }) end,
      "bad argument #2 to 'lif' (field 'b_in': expected shape (10,), got (9,))")
  end)
end)

describe("core.lif record lists", function()
  local t = operands({ rec = true })
  local function opts(record)
    return { alpha = t.alpha, beta = t.beta, bias = t.bias, threshold = t.threshold, w_rec = t.w_rec,
             w_in = t.w_in, record = record }
  end
  it("{'vmem'} records the membrane only; true records everything", function()
    local s, r = core.lif(t.x, opts { "vmem" })
    local s2, r2 = core.lif(t.x, opts(true))
    -- record = true with w_rec also records irec (the general loop): equal to rounding
    near("spikes", s, s2, 1e-6)
    near("vmem", r.vmem, r2.vmem, 1e-5)
    assert.are.equal(0, maxdiff(r.spikes, s))
    assert.is_nil(r.isyn)
    assert.is_nil(r.irec)
    assert.is_not_nil(r2.isyn)
    assert.is_not_nil(r2.irec)
    local _, r3 = core.lif(t.x, opts {})
    assert.is_nil(r3.vmem)
    assert.is_not_nil(r3.spikes)
  end)
  it("rejects unknown record names", function()
    assert.has_error(function() core.lif(t.x, opts { "vmem", "isin" }) end,
      "bad argument #2 to 'lif' (field 'record': unknown record 'isin' (vmem, isyn, irec, iahp or spikes))")
  end)
end)

describe("nn.Sequential fuses Linear -> LIF", function()
  local function build(opts)
    lp.seed(7)
    return nn.Sequential {
      nn.Linear({ 30, 20 }, { has_bias = opts.bias }),
      opts.alif and nn.aLIF(20, { has_rec = opts.rec }) or nn.LIF(20, { has_rec = opts.rec, tau_syn = 5e-3 }),
      nn.Linear({ 20, 5 }),
      nn.LIF(5),
    }
  end
  local function input()
    lp.seed(8)
    return lp.rand({ 4, 50, 30 }):lt(0.1):astype("float32") * 3
  end
  -- core.lif calls with w_in while f runs
  local function count_fused(f)
    local orig, n = core.lif, 0
    core.lif = function(x, o)
      if o.w_in then n = n + 1 end
      return orig(x, o)
    end
    local ok, err = pcall(f)
    core.lif = orig
    assert(ok, err)
    return n
  end
  local function grads(net)
    local g = {}
    local function walk(p, pre)
      for k, v in pairs(p) do
        if lp.is_tensor(v) then g[pre .. k] = v.grad else walk(v, pre .. k .. ".") end
      end
    end
    walk(net:parameters(), "")
    return g
  end

  for _, o in ipairs { {}, { bias = true, rec = true }, { alif = true } } do
    it(("records and gradients as the unfused chain (bias %s, rec %s, aLIF %s)")
      :format(tostring(o.bias or false), tostring(o.rec or false), tostring(o.alif or false)), function()
      local n1, n2 = build(o), build(o)
      local x = input()
      local out1, st1, r1, out2, st2, r2
      assert.are.equal(0, count_fused(function() out1, st1, r1 = n1(x, true) end))
      assert.are.equal(2, count_fused(function() out2, st2, r2 = n2(x, { "vmem", "isyn", "irec" }) end))
      assert.are.equal(0, maxdiff(out1, out2))
      for _, name in ipairs { "2_" .. (o.alif and "aLIF" or "LIF"), "4_LIF" } do
        for _, f in ipairs { "vmem", "isyn" } do near(name .. "." .. f, r1[name][f], r2[name][f], 1e-6) end
        near(name .. " state", st1[name].vmem, st2[name].vmem, 1e-6)
      end
      assert.is_not_nil(r1["1_Linear_output"])
      assert.is_nil(r2["1_Linear_output"])
      assert.are.same({}, r2["1_Linear"])
      local name = "4_LIF"
      local l1 = (r1[name].vmem:sum(2) * r1[name].vmem:sum(2)):sum() + out1:sum()
      local l2 = (r2[name].vmem:sum(2) * r2[name].vmem:sum(2)):sum() + out2:sum()
      l1:backward()
      l2:backward()
      local g1, g2 = grads(n1), grads(n2)
      for k, v in pairs(g1) do near("d " .. k, v, g2[k], 1e-5) end
    end)
  end

  it("fuses in a plain forward and under no_grad; not when outputs are recorded", function()
    local net, x = build({}), input()
    local a, b, c
    assert.are.equal(2, count_fused(function() a = net(x) end))
    net:reset_state()
    assert.are.equal(2, count_fused(function() b = lp.no_grad(function() return (net(x)) end) end))
    net:reset_state()
    assert.are.equal(0, count_fused(function() c = net(x, { "vmem", "output" }) end))
    assert.are.equal(0, maxdiff(a, b))
    assert.are.equal(0, maxdiff(a, c))
  end)

  it("does not fuse a Linear into a LIFNeuron-free chain or a non-LIF module", function()
    lp.seed(1)
    local net = nn.Sequential { nn.Linear({ 6, 4 }), nn.ExpSyn(4) }
    assert.are.equal(0, count_fused(function() net(lp.rand({ 2, 5, 6 })) end))
  end)

  it("a wrong input size names the Linear, as unfused", function()
    local net = build({})
    assert.has_error(function() net(lp.zeros({ 2, 5, 29 })) end)
    local ok, err = pcall(net, lp.zeros({ 2, 5, 29 }))
    assert.is_false(ok)
    assert.truthy(tostring(err):find("Linear '1_Linear' expects 30 input channels", 1, true))
  end)
end)

describe("the fused Adam step (core._adam_step)", function()
  -- k steps of cls(opts) on a small problem, with or without the C kernel
  local function run(fused, cls, opts, dtype)
    local save = core._adam_step
    if not fused then core._adam_step = nil end
    local ok, p = pcall(function()
      lp.seed(4)
      local p = lp.randn({ 37, 13 }):astype(dtype):requires_grad(true)
      local opt = lp.optim[cls]({ p }, opts)
      for _ = 1, 7 do
        opt:zero_grad()
        local l = (p * p * p):sum() + lp.exp(p * 0.3):sum()
        l:backward()
        opt:step()
      end
      return p
    end)
    core._adam_step = save
    assert(ok, p)
    return p
  end
  for _, cls in ipairs { "Adam", "AdamW" } do
    it(cls .. ": the same bits as the tensor-op formulation", function()
      for _, o in ipairs { { lr = 1e-2 }, { lr = 1e-2, weight_decay = 0.1 },
                           { lr = 3e-3, amsgrad = true, weight_decay = 0.05, betas = { 0.8, 0.99 } } } do
        for _, dt in ipairs { "float32", "float64" } do
          assert.are.equal(0, maxdiff(run(true, cls, o, dt), run(false, cls, o, dt)))
        end
      end
    end)
  end
  it("rejects mismatched buffers by name", function()
    local p, g = lp.zeros({ 4 }), lp.zeros({ 4 })
    assert.has_error(function() core._adam_step(p, g, lp.zeros({ 3 }), lp.zeros({ 4 }), nil, 1e-3, 0.9, 0.999, 1e-8, 0, false, 1) end,
      "bad argument #3 to '_adam_step' (exp_avg: expected 4 elements, got 3)")
    assert.has_error(function() core._adam_step(p, g, lp.zeros({ 4 }), lp.zeros({ 4 }, "float64"), nil, 1e-3, 0.9, 0.999, 1e-8, 0, false, 1) end,
      "bad argument #4 to '_adam_step' (exp_avg_sq: expected float32)")
    assert.has_error(function() core._adam_step(p, g, lp.zeros({ 4 }), lp.zeros({ 4 }), nil, 1e-3, 0.9, 0.999, 1e-8, 0, false, 0) end,
      "bad argument #12 to '_adam_step' (step must be >= 1, got 0)")
  end)
end)
