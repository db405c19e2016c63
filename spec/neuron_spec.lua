-- spec/neuron_spec.lua -- the fused neuron ops core.lif, core.expsyn and
-- core.rate: Rockpool LIFTorch oracles (spec/fixtures/lif/, outputs,
-- recordings and every gradient), finite-difference checks of the smooth
-- parts in float64, surrogate gradients against hand-computed values, and
-- exact error messages.
local lp = require "limpet"
local json = require "limpet.json"
local core = lp.core

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function flat(x, out)
  out = out or {}
  if type(x) == "table" then for _, v in ipairs(x) do flat(v, out) end else out[#out + 1] = x end
  return out
end

local function values(t)
  if type(t) == "table" then return flat(t) end
  if t:dim() == 0 then return { t:item() } end
  return t:reshape(-1):astype("float64"):totable()
end

-- every |e - a| <= abs + rel * |e|; abs_scale: abs is multiplied by max |e|
local function assert_close(what, expected, actual, abs, rel, abs_scale)
  local e, a = values(expected), values(actual)
  assert.are.equal(#e, #a, what .. ": element count")
  local m = 0
  if abs_scale then for i = 1, #e do m = math.max(m, math.abs(e[i])) end; abs = abs * m end
  for i = 1, #e do
    if not (math.abs(e[i] - a[i]) <= abs + rel * math.abs(e[i])) then
      error(("%s: element %d: expected %.9g, got %.9g"):format(what, i, e[i], a[i]), 2)
    end
  end
end

local function T(v, dtype) return lp.tensor(v, dtype or "float32") end

local cases = { "ffwd_1", "recurrent_1", "twosyn_1", "rec_twosyn_1", "clamped_1", "periodic_exp_1" }

describe("core.lif", function()
  for _, name in ipairs(cases) do
    it("matches Rockpool LIFTorch: " .. name .. " #grad", function()
      local c = json.decode(read("spec/fixtures/lif/lif_" .. name .. ".json"))
      local o, e = c.options, c.expected
      local dt = o.dt
      local x = T(c.input):requires_grad(true)
      local tau_mem = T(o.tau_mem):requires_grad(true)
      local tau_syn = T(o.tau_syn):requires_grad(true)
      local bias = T(o.bias):requires_grad(true)
      local threshold = T(o.threshold):requires_grad(true)
      local w_rec = o.has_rec and T(o.w_rec):requires_grad(true) or nil
      local alpha = lp.exp(-dt / tau_mem)
      local beta = lp.exp(-dt / tau_syn)
      local spikes, rec, final = core.lif(x, {
        alpha = alpha, beta = beta, bias = bias, threshold = threshold, w_rec = w_rec,
        max_spikes_per_dt = o.max_spikes_per_dt, spike_fn = o.spike_generation_fn,
        learning_window = o.learning_window, record = true })
      assert_close("spikes", e.spikes, spikes, 0, 0)
      assert.are.equal(spikes, rec.spikes)
      assert_close("vmem", e.vmem, rec.vmem, 1e-4, 1e-4)
      assert_close("isyn", e.isyn, rec.isyn, 1e-4, 1e-4)
      local B, N = #c.input, o.shape[2]
      assert.are.same({ B, N }, final.vmem.shape)
      assert.are.same({ B, N, o.shape[1] // N }, final.isyn.shape)
      assert.is_false(final.vmem:requires_grad())
      local loss = (spikes * T(c.R_spikes)):sum() + (rec.vmem * T(c.R_vmem)):sum()
      assert_close("loss", { e.loss }, loss, 1e-4, 1e-4)
      loss:backward()
      local g = e.grad
      assert_close("d input", g.input, x.grad, 1e-3, 1e-3, true)
      assert_close("d tau_mem", g.tau_mem, tau_mem.grad, 1e-3, 1e-3, true)
      assert_close("d tau_syn", g.tau_syn, tau_syn.grad, 1e-3, 1e-3, true)
      assert_close("d bias", g.bias, bias.grad, 1e-3, 1e-3, true)
      assert_close("d threshold", g.threshold, threshold.grad, 1e-3, 1e-3, true)
      if w_rec then assert_close("d w_rec", g.w_rec, w_rec.grad, 1e-3, 1e-3, true) end
    end)
  end
end)

-- Finite-difference gradient check (float64, central differences). inputs:
-- name -> {shape = {...}, values = flat list}; f(tensors) -> scalar tensor.
local function gradcheck(f, inputs, tol)
  tol = tol or 1e-6
  local function build(grad)
    local ts = {}
    for k, v in pairs(inputs) do
      ts[k] = lp.tensor(v.values, "float64"):reshape(v.shape)
      if grad then ts[k]:requires_grad(true) end
    end
    return ts
  end
  local ts = build(true)
  f(ts):backward()
  for k, v in pairs(inputs) do
    local analytic = values(ts[k].grad)
    for i = 1, #v.values do
      local x0, h = v.values[i], 1e-6
      v.values[i] = x0 + h
      local fp = f(build(false)):item()
      v.values[i] = x0 - h
      local fm = f(build(false)):item()
      v.values[i] = x0
      local num = (fp - fm) / (2 * h)
      if not (math.abs(num - analytic[i]) <= tol + 1e-5 * math.abs(num)) then
        error(("d/d%s[%d]: finite difference %.10g, backward %.10g"):format(k, i, num, analytic[i]), 2)
      end
    end
  end
end

local function rand_input(shape, lo, hi, seed)
  local n = 1
  for _, d in ipairs(shape) do n = n * d end
  math.randomseed(seed)
  local v = {}
  for i = 1, n do v[i] = lo + (hi - lo) * math.random() end
  return { shape = shape, values = v }
end

describe("core.lif gradients (float64 finite differences, no spikes)", function()
  local B, Tn, N, k = 2, 7, 3, 2
  local function inputs(with_rec, with_ahp)
    local t = {
      x = rand_input({ B, Tn, k * N }, -0.5, 0.5, 1),
      alpha = rand_input({ N }, 0.6, 0.95, 2),
      beta = rand_input({ N, k }, 0.3, 0.9, 3),
      bias = rand_input({ N }, -0.1, 0.1, 4),
    }
    if with_rec then t.w_rec = rand_input({ N, k * N }, -0.5, 0.5, 5) end
    if with_ahp then t.w_ahp = rand_input({ N }, -0.9, -0.1, 6); t.beta_ahp = rand_input({ N }, 0.5, 0.9, 7) end
    return t
  end
  local R = lp.tensor(rand_input({ B, Tn, N }, -1, 1, 8).values, "float64"):reshape(B, Tn, N)
  -- spikes given as initial state make w_rec and the ahp current matter
  local s0 = lp.tensor({ { 1.0, 0, 2 }, { 0.0, 1, 0 } }, "float64")
  local function loss(ts)
    local _, rec = core.lif(ts.x, { alpha = ts.alpha, beta = ts.beta, bias = ts.bias,
      threshold = lp.full({ N }, 100.0, "float64"), w_rec = ts.w_rec, w_ahp = ts.w_ahp, beta_ahp = ts.beta_ahp,
      spikes = s0, vmem = lp.tensor({ 0.1, -0.2, 0.3 }, "float64"), record = true })
    return (rec.vmem * R):sum()
  end
  it("w.r.t. x, alpha, beta, bias", function() gradcheck(loss, inputs(false)) end)
  it("w.r.t. w_rec", function() gradcheck(loss, inputs(true)) end)
  it("w.r.t. w_ahp and beta_ahp (aLIF)", function() gradcheck(loss, inputs(true, true)) end)
end)

describe("core.lif surrogate gradients (one neuron, one step)", function()
  -- u = x (beta = 1, no bias, zero state); L = spikes, so dL/dx = ds/du and
  -- dL/dth = ds/dth of the named surrogate.
  local function grads(u, th, opts)
    local x = lp.tensor({ { { u } } }, "float64"):requires_grad(true)
    local thr = lp.tensor({ th }, "float64"):requires_grad(true)
    opts = opts or {}
    opts.alpha = lp.tensor({ 0.9 }, "float64"); opts.beta = lp.tensor({ { 1.0 } }, "float64")
    opts.bias = lp.tensor({ 0.0 }, "float64"); opts.threshold = thr
    local s = core.lif(x, opts)
    s:sum():backward()
    return s:item(), x.grad:item(), thr.grad:item()
  end
  local function near(a, b) assert.is_true(math.abs(a - b) <= 1e-12 * (1 + math.abs(b)), a .. " vs " .. b) end
  it("StepPWL: 1/th and -u/th^2 within the window, 0 below", function()
    local s, dx, dth = grads(1.3, 0.8)
    assert.are.equal(1, s); near(dx, 1 / 0.8); near(dth, -1.3 / 0.64)
    s, dx, dth = grads(0.4, 0.8)          -- 0.4 >= 0.8 - 0.5
    assert.are.equal(0, s); near(dx, 1 / 0.8); near(dth, -0.4 / 0.64)
    s, dx, dth = grads(0.2, 0.8)
    assert.are.equal(0, s); near(dx, 0); near(dth, 0)
    s, dx = grads(0.2, 0.8, { learning_window = 0.7 })
    near(dx, 1 / 0.8)
  end)
  it("PeriodicExponential: exponential bump, periodic in th", function()
    local s, dx, dth = grads(1.3, 0.8, { spike_fn = "PeriodicExponential" })
    local p = math.exp(-math.abs((1.3 - 0.4 - 0.8) - 0.4) / 0.5) / 0.8
    assert.are.equal(1, s); near(dx, p); near(dth, -p * 1.3 / 0.8)
    s, dx = grads(0.5, 0.8, { spike_fn = "PeriodicExponential" })
    near(dx, math.exp(-math.abs(0.5 - 0.4 - 0.4) / 0.5) / 0.8)
  end)
  it("FastSigmoid: 1/(1 + scale |u/th - 1|)^2 / th", function()
    local _, dx, dth = grads(1.3, 0.8, { spike_fn = "FastSigmoid" })
    local g = 1 / (1 + 10 * 0.625) ^ 2
    near(dx, g / 0.8); near(dth, -g * 1.3 / 0.64)
    _, dx = grads(1.3, 0.8, { spike_fn = "FastSigmoid", surrogate_scale = 3 })
    near(dx, 1 / (1 + 3 * 0.625) ^ 2 / 0.8)
  end)
  it("ATan: (scale/2)/(1 + (pi/2 scale z)^2) / th", function()
    local _, dx, dth = grads(1.3, 0.8, { spike_fn = "ATan" })
    local g = 1 / (1 + (math.pi / 2 * 2 * 0.625) ^ 2)
    near(dx, g / 0.8); near(dth, -g * 1.3 / 0.64)
  end)
  it("counts several spikes per step and clips at max_spikes_per_dt", function()
    assert.are.equal(5, (grads(5.5, 1.0)))
    assert.are.equal(3, (grads(5.5, 1.0, { max_spikes_per_dt = 3 })))
    assert.are.equal(0, (grads(-5.5, 1.0)))
  end)
end)

describe("core.lif forward", function()
  local N, k, B, Tn = 3, 2, 2, 9
  local function params(dtype)
    return {
      alpha = lp.tensor({ 0.9, 0.8, 0.7 }, dtype), beta = lp.tensor({ { 0.5, 0.6 }, { 0.7, 0.8 }, { 0.9, 0.4 } }, dtype),
      bias = lp.tensor({ 0.01, 0.02, -0.01 }, dtype), threshold = lp.tensor({ 1.0, 0.7, 1.2 }, dtype),
      w_rec = lp.tensor(rand_input({ N, k * N }, -0.6, 0.6, 11).values, dtype):reshape(N, k * N),
    }
  end
  local x64 = lp.tensor(rand_input({ B, Tn, k * N }, -0.2, 1.0, 12).values, "float64"):reshape(B, Tn, k * N)
  it("follows the documented step (naive Lua loop, float64, recurrent)", function()
    local p = params("float64")
    p.record = true
    local s, rec = core.lif(x64, p)
    local X, al, be, bi, th, W = x64:totable(), p.alpha:totable(), p.beta:totable(), p.bias:totable(),
      p.threshold:totable(), p.w_rec:totable()
    local S, V, I = s:totable(), rec.vmem:totable(), rec.isyn:totable()
    local total = 0
    for b = 1, B do
      local v, isyn, sp = { 0, 0, 0 }, { { 0, 0 }, { 0, 0 }, { 0, 0 } }, { 0, 0, 0 }
      for t = 1, Tn do
        local ns = {}
        for n = 1, N do
          local sum = 0
          for j = 1, k do
            local col, r = (n - 1) * k + j, 0
            for m = 1, N do r = r + sp[m] * W[m][col] end
            isyn[n][j] = be[n][j] * (isyn[n][j] + X[b][t][col] + r)
            sum = sum + isyn[n][j]
            assert.is_true(math.abs(isyn[n][j] - I[b][t][n][j]) < 1e-12)
          end
          local u = al[n] * v[n] + sum + bi[n]
          ns[n] = u >= th[n] and math.floor(u / th[n]) or 0
          v[n] = u - ns[n] * th[n]
          assert.are.equal(ns[n], S[b][t][n])
          assert.is_true(math.abs(v[n] - V[b][t][n]) < 1e-12)
          total = total + ns[n]
        end
        sp = ns
      end
    end
    assert.is_true(total > 3)       -- the case does spike
  end)
  it("float32 agrees with float64", function()
    local s32, r32 = core.lif(x64:astype("float32"), (function() local p = params("float32"); p.record = true; return p end)())
    local s64, r64 = core.lif(x64, (function() local p = params("float64"); p.record = true; return p end)())
    assert_close("spikes", s64, s32, 0, 0)
    assert_close("vmem", r64.vmem, r32.vmem, 1e-5, 1e-5)
    assert.are.equal("float32", s32.dtype)
  end)
  it("continues from the final state: two halves equal one call", function()
    local p = params("float64")
    local s_all, _, f_all = core.lif(x64, p)
    local s1, _, f1 = core.lif(x64:slice(2, 1, 4), p)
    p.vmem, p.isyn, p.spikes = f1.vmem, f1.isyn, f1.spikes
    local s2, _, f2 = core.lif(x64:slice(2, 5, 9), p)
    assert_close("spikes", s_all, lp.cat({ s1, s2 }, 2), 0, 0)
    assert_close("vmem", f_all.vmem, f2.vmem, 1e-12, 0)
  end)
  it("adds noise to the membrane and broadcasts (N) initial states", function()
    local p = params("float64")
    p.w_rec = nil; p.record = true
    p.vmem = lp.tensor({ 0.5, 0.1, 0.2 }, "float64")
    local _, r0 = core.lif(x64, p)
    p.noise = lp.full({ B, Tn, N }, 0.0, "float64")
    local _, r1 = core.lif(x64, p)
    assert_close("vmem", r0.vmem, r1.vmem, 0, 0)
    assert.is_nil(r0.irec)
  end)
  it("records irec and returns no record table without record", function()
    local p = params("float32")
    local s, rec, final = core.lif(x64:astype("float32"), p)
    assert.is_nil(rec)
    assert.are.same({ B, Tn, N }, s.shape)
    assert.is_nil(final.iahp)
    p.record = true
    _, rec = core.lif(x64:astype("float32"), p)
    assert.are.same({ B, Tn, N, k }, rec.irec.shape)
  end)
end)

describe("core.expsyn", function()
  it("integrates then decays (naive loop)", function()
    local x = lp.tensor({ { { 1.0, 2.0 }, { 0.0, 1.0 }, { 3.0, 0.0 } } }, "float64")
    local out, final = core.expsyn(x, { beta = lp.tensor({ 0.5, 0.25 }, "float64") })
    assert_close("out", { 0.5, 0.5, 0.25, 0.375, 1.625, 0.09375 }, out, 1e-15, 0)
    assert_close("final", { 1.625, 0.09375 }, final.isyn, 1e-15, 0)
  end)
  it("gradients match finite differences", function()
    local R = lp.tensor(rand_input({ 2, 6, 3 }, -1, 1, 21).values, "float64"):reshape(2, 6, 3)
    gradcheck(function(ts)
      local out = core.expsyn(ts.x, { beta = ts.beta, isyn = lp.tensor({ 0.3, -0.2, 0.1 }, "float64") })
      return (out * R):sum()
    end, { x = rand_input({ 2, 6, 3 }, -1, 1, 22), beta = rand_input({ 3 }, 0.2, 0.9, 23) })
  end)
end)

describe("core.rate", function()
  it("is the Euler step of tau dx/dt = -x + in + H(x).w_rec + bias", function()
    local x = lp.tensor({ { { 1.0 }, { 2.0 } } }, "float64")
    local out, final = core.rate(x, { alpha = lp.tensor({ 0.5 }, "float64"), bias = lp.tensor({ 0.1 }, "float64"),
      threshold = lp.tensor({ 0.2 }, "float64"), w_rec = lp.tensor({ { 0.5 } }, "float64"), x = lp.tensor({ 1.0 }, "float64") })
    -- h0 = relu(1 - 0.2) = 0.8; x1 = 1 + 0.5 (-1 + 1 + 0.4 + 0.1) = 1.25; h1 = 1.05
    -- x2 = 1.25 + 0.5 (-1.25 + 2 + 0.525 + 0.1) = 1.9375; h2 = 1.7375
    assert_close("out", { 1.05, 1.7375 }, out, 1e-15, 0)
    assert_close("final", { 1.9375 }, final.x, 1e-15, 0)
  end)
  for _, act in ipairs { "relu", "tanh", "sigmoid" } do
    it("gradients match finite differences (" .. act .. ")", function()
      local R = lp.tensor(rand_input({ 2, 5, 3 }, -1, 1, 31).values, "float64"):reshape(2, 5, 3)
      gradcheck(function(ts)
        local out = core.rate(ts.x, { alpha = ts.alpha, bias = ts.bias, threshold = ts.threshold, w_rec = ts.w_rec,
          act = act, x = lp.tensor({ 0.3, 0.6, 0.9 }, "float64") })
        return (out * R):sum()
      end, { x = rand_input({ 2, 5, 3 }, -1, 2, 32), alpha = rand_input({ 3 }, 0.1, 0.5, 33),
             bias = rand_input({ 3 }, -0.2, 0.2, 34), threshold = rand_input({ 3 }, -0.3, 0.1, 35),
             w_rec = rand_input({ 3, 3 }, -0.7, 0.7, 36) })
    end)
  end
end)

describe("neuron op errors", function()
  local x = lp.zeros({ 2, 3, 8 })
  local function opts(extra)
    local o = { alpha = lp.zeros({ 4 }), beta = lp.zeros({ 4, 2 }), bias = lp.zeros({ 4 }), threshold = lp.ones({ 4 }) }
    for kk, v in pairs(extra or {}) do o[kk] = v end
    return o
  end
  local function err(f, msg) assert.has_error(f, msg) end
  it("name the field and both shapes", function()
    err(function() core.lif(x, opts { bias = lp.zeros({ 5 }) }) end,
      "bad argument #2 to 'lif' (field 'bias': expected shape (4,), got (5,))")
    err(function() core.lif(x, opts { w_rec = lp.zeros({ 4, 4 }) }) end,
      "bad argument #2 to 'lif' (field 'w_rec': expected shape (4, 8), got (4, 4))")
    err(function() core.lif(x, opts { beta = lp.zeros({ 3, 2 }) }) end,
      "bad argument #2 to 'lif' (field 'beta': expected shape (4, k), got (3, 2))")
    err(function() core.lif(lp.zeros({ 2, 3, 7 }), opts()) end,
      "bad argument #1 to 'lif' (expected shape (B, T, 8), got (2, 3, 7))")
    err(function() core.lif(lp.zeros({ 3, 8 }), opts()) end,
      "bad argument #1 to 'lif' (expected shape (B, T, k*N), got (3, 8))")
    err(function() core.lif(x, opts { vmem = lp.zeros({ 3 }) }) end,
      "bad argument #2 to 'lif' (field 'vmem': expected shape (4,) or (2, 4), got (3,))")
    err(function() core.lif(x, opts { noise = lp.zeros({ 2, 3, 8 }) }) end,
      "bad argument #2 to 'lif' (field 'noise': expected shape (2, 3, 4), got (2, 3, 8))")
  end)
  it("reject unknown fields, spike functions and bad values by name", function()
    err(function() core.lif(x, opts { treshold = 1 }) end, "bad argument #2 to 'lif' (unknown field 'treshold')")
    err(function() core.lif(x, opts { spike_fn = "Step" }) end,
      "bad argument #2 to 'lif' (field 'spike_fn': unknown spike function 'Step' " ..
      "(StepPWL, PeriodicExponential, FastSigmoid or ATan))")
    err(function() core.lif(x, opts { bias = 0 }) end,
      "bad argument #2 to 'lif' (field 'bias': expected a tensor, got number)")
    err(function() core.lif(x, { beta = lp.zeros({ 4, 2 }) }) end, "bad argument #2 to 'lif' (field 'alpha' is required)")
    err(function() core.lif(x, opts { max_spikes_per_dt = 0 }) end,
      "bad argument #2 to 'lif' (field 'max_spikes_per_dt': must be positive, got 0)")
    err(function() core.lif(x, opts { learning_window = "wide" }) end,
      "bad argument #2 to 'lif' (field 'learning_window': expected a number, got string)")
    err(function() core.lif(x, opts { w_ahp = lp.zeros({ 4 }) }) end,
      "bad argument #2 to 'lif' (fields 'w_ahp' and 'beta_ahp' go together)")
  end)
  it("in expsyn and rate too", function()
    local y = lp.zeros({ 2, 3, 4 })
    err(function() core.expsyn(y, { beta = lp.zeros({ 3 }) }) end,
      "bad argument #2 to 'expsyn' (field 'beta': expected shape (4,), got (3,))")
    err(function() core.expsyn(y, { beta = lp.zeros({ 4 }), tau = 1 }) end,
      "bad argument #2 to 'expsyn' (unknown field 'tau')")
    err(function() core.rate(y, { alpha = lp.zeros({ 4 }), bias = lp.zeros({ 4 }), threshold = lp.zeros({ 4 }), act = "elu" }) end,
      "bad argument #2 to 'rate' (field 'act': unknown activation 'elu' (relu, tanh or sigmoid))")
    err(function() core.rate(y, { alpha = lp.zeros({ 4 }), bias = lp.zeros({ 4 }), threshold = lp.zeros({ 4 }),
      w_rec = lp.zeros({ 4, 3 }) }) end, "bad argument #2 to 'rate' (field 'w_rec': expected shape (4, 4), got (4, 3))")
  end)
end)
