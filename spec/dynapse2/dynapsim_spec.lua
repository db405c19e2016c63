-- spec/dynapse2/dynapsim_spec.lua -- nn.DynapSim (devices/dynapse2/dynapsim.lua
-- + dynapsim.c): every oracle case of spec/fixtures/dynapse2/dynapsim_1.json
-- (states within 1e-9 relative, spike counts exactly; fast and reference
-- loops), float32 against float64, the fast loop against the reference on
-- multi-spike input, batching and the state rule, options and refusals,
-- as_graph / from_graph, BPTT against finite differences (float64).
local lp = require "limpet"
local json = require "limpet.json"
local d2 = require "limpet.dynapse2"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local CASES = json.decode(read("spec/fixtures/dynapse2/dynapsim_1.json"))

local function module_for(c, extra)
  local N = c.shape[2]
  local o = { dtype = "float64", Iscale = c.params.Iscale, dt = c.params.dt }
  for k, v in pairs(extra or {}) do o[k] = v end
  for _, n in ipairs(d2.DynapSim.per_neuron_names) do o[n] = lp.tensor(c.params[n], "float64") end
  local w = lp.tensor(c.params.w_rec, "float64")
  if lp.abs(w):sum():item() > 0 then o.w_rec = w end
  return lp.nn.DynapSim(N, o)
end

-- |expected - actual| <= tol·|expected| everywhere
local function rel_close(name, exp, got, tol)
  local e = lp.tensor(exp, "float64")
  local g = got:astype("float64"):reshape(e.shape)
  local bad = lp.abs(e - g) - lp.abs(e) * tol
  local worst = bad:max():item()
  if worst > 0 then
    error(("%s: differs by more than %g relative (excess %g)"):format(name, tol, worst), 2)
  end
end

describe("DynapSim oracles (float64)", function()
  for _, c in ipairs(CASES) do
    for _, ref in ipairs { false, true } do
      it(("reproduces %s (%s loop)"):format(c.name, ref and "reference" or "fast"), function()
        local mod = module_for(c, { reference = ref })
        local s, st, rec = mod(lp.tensor(c.input, "float64"), true)
        assert.are.same({ 1, #c.input, c.shape[2] }, s.shape)
        local es = lp.tensor(c.expected.spikes, "float64")
        assert.are.equal(0, lp.abs(es - s[1]):sum():item(), "spike counts")
        assert.are.equal(0, lp.abs(es - rec.spikes[1]):sum():item(), "recorded spikes")
        for _, k in ipairs { "imem", "isyn", "iahp", "vmem" } do rel_close(k, c.expected[k], rec[k][1], 1e-9) end
        for _, k in ipairs { "iahp", "imem", "isyn", "spikes", "timer_ref", "vmem" } do
          rel_close("final " .. k, c.final_state[k], st[k], 1e-9)
        end
      end)
    end
  end

  it("float32 follows float64 on every case (spike counts within a step)", function()
    for _, c in ipairs(CASES) do
      local m64 = module_for(c)
      local o = { dtype = "float32", Iscale = c.params.Iscale, dt = c.params.dt }
      for _, n in ipairs(d2.DynapSim.per_neuron_names) do o[n] = lp.tensor(c.params[n], "float64") end
      local w = lp.tensor(c.params.w_rec, "float64")
      if lp.abs(w):sum():item() > 0 then o.w_rec = w end
      local m32 = lp.nn.DynapSim(c.shape[2], o)
      assert.are.equal("float32", m32.Idc.dtype)
      local x = lp.tensor(c.input, "float64")
      local s64 = m64(x)
      local s32 = m32(x)
      assert.are.equal("float32", s32.dtype)
      local n64, n32 = s64:sum():item(), s32:astype("float64"):sum():item()
      assert.is_true(math.abs(n64 - n32) <= 2 + 0.05 * n64, c.name .. ": " .. n64 .. " vs " .. n32)
    end
  end)
end)

describe("DynapSim loops", function()
  -- strong random drive (several spikes per step), recurrence and AHP
  local function busy(dtype, reference, seed)
    lp.seed(seed or 3)
    local N = 16
    local mod = lp.nn.DynapSim(N, {
      dtype = dtype, reference = reference, has_rec = true, Idc = lp.rand(N) * 2e-9,
      Iw_ahp = lp.rand(N) * 1e-9, Itau_ahp = 1e-11, Iref = lp.rand(N) * 2e-9 + 5e-10,
      Ispkthr = lp.rand(N) * 1e-8 + 1e-9,
    })
    lp.seed(seed or 3)
    local x = (lp.rand(3, 200, N) - 0.3) * 40
    return mod, x:astype(dtype)
  end

  it("fast and reference loops agree (float64: to rounding, spike counts exactly)", function()
    local a, x = busy("float64", false)
    local b = busy("float64", true)
    local sa, _, ra = a(x, true)
    local sb, _, rb = b(x, true)
    assert.are.equal(0, lp.abs(sa - sb):sum():item())
    assert.is_true(sa:max():item() >= 2, "the drive makes several spikes in a step")
    for _, k in ipairs { "imem", "isyn", "iahp", "vmem" } do
      assert.is_true((lp.abs(ra[k] - rb[k]) - lp.abs(rb[k]) * 1e-10):max():item() <= 0, k)
    end
  end)

  it("fast and reference loops agree in float32", function()
    local a, x = busy("float32", false)
    local b = busy("float32", true)
    local sa = a(x)
    local sb = b(x)
    local na, nb = sa:sum():item(), sb:sum():item()
    assert.is_true(math.abs(na - nb) <= 0.02 * nb + 2, na .. " vs " .. nb)
  end)

  it("each batch row starts from the module state; row 1's final state is kept", function()
    local mod, x = busy("float64", false)
    local s, st = mod(x)
    local mod2 = busy("float64", false)
    for b = 1, 3 do
      mod2:reset_state()
      local sb, stb = mod2(x[b])
      assert.are.equal(0, lp.abs(sb[1] - s[b]):sum():item(), "row " .. b)
      if b == 1 then
        for _, k in ipairs { "imem", "isyn", "vmem", "timer_ref" } do
          assert.are.equal(0, lp.abs(stb[k] - st[k]):sum():item(), k)
        end
      end
    end
  end)

  it("T/2 + T/2 = T (the state carries over)", function()
    local mod, x = busy("float64", false)
    local s = mod(x[1])
    local mod2 = busy("float64", false)
    local a = mod2(x[1]:slice(1, 1, 100))
    local b = mod2(x[1]:slice(1, 101, 200))
    assert.are.equal(0, lp.abs(lp.cat({ a, b }, 2) - s):sum():item())
  end)

  it("reset_state puts the currents back to Io and the rest to 0", function()
    local mod, x = busy("float64", false)
    mod(x)
    mod:reset_state()
    assert.are.equal(0, lp.abs(mod.imem - mod.Io):sum():item())
    assert.are.equal(0, lp.abs(mod.vmem):sum():item())
    assert.are.equal(0, lp.abs(mod.timer_ref):sum():item())
  end)
end)

describe("DynapSim options", function()
  it("is lp.nn.DynapSim and lp.dynapse2.DynapSim", function()
    assert.are.equal(lp.nn.DynapSim, d2.DynapSim)
  end)

  it("has Rockpool's defaults", function()
    local m = lp.nn.DynapSim(3, { dtype = "float64" })
    local want = {
      Idc = 5e-13, If_nmda = 5e-13, Igain_ahp = 2.8368794326241126e-11, Igain_mem = 2.1276595744680848e-11,
      Igain_syn = 8.687943262411346e-09, Ipulse_ahp = 3.5e-07, Ipulse = 3.4999999999999996e-08,
      Iref = 1.0499999999999999e-09, Ispkthr = 1e-07, Itau_ahp = 2.8368794326241126e-11,
      Itau_mem = 5.319148936170212e-12, Itau_syn = 8.687943262411346e-11, Iw_ahp = 5e-13, C_ahp = 4e-11,
      C_syn = 2.45e-11, C_pulse_ahp = 5e-13, C_pulse = 5e-13, C_ref = 1.5e-12, C_mem = 3e-12, Io = 5e-13,
      kappa_n = 0.75, kappa_p = 0.66, Ut = 0.025, Vth = 0.7,
    }
    for k, v in pairs(want) do
      local got = m[k]:totable()
      for i = 1, 3 do assert.is_true(math.abs(got[i] - v) <= 1e-15 * v, k) end
    end
    assert.are.equal(1e-8, m.Iscale)
    assert.are.equal(1e-3, m.dt)
    assert.is_false(m.has_rec)
    assert.are.same({}, m:parameters())
    local tc = m:time_constants()
    assert.is_true(math.abs(tc.tau_mem:totable()[1] - 20e-3) < 1e-15)
    assert.is_true(math.abs(tc.tau_syn:totable()[1] - 10e-3) < 1e-15)
    assert.is_true(math.abs(tc.t_ref:totable()[1] - 1e-3) < 1e-15)
  end)

  it("takes numbers, tables and (N) tensors for every current and layout constant", function()
    local m = lp.nn.DynapSim(2, { Idc = { 1e-12, 2e-12 }, Io = lp.tensor({ 4e-13, 6e-13 }), C_mem = 2e-12 })
    assert.are.same({ 2 }, m.Idc.shape)
    assert.is_true(math.abs(m.Io:totable()[2] - 6e-13) < 1e-7 * 6e-13)
    assert.is_true(math.abs(m.imem:totable()[2] - 6e-13) < 1e-7 * 6e-13, "the currents start at Io")
  end)

  it("w_rec is the only trainable parameter; nn.Parameter makes a current trainable", function()
    local m = lp.nn.DynapSim(3, { has_rec = true })
    local p = m:parameters()
    assert.are.same({ 3, 3 }, p.w_rec.shape)
    local bound = math.sqrt(6 / 3)
    assert.is_true(lp.abs(p.w_rec):max():item() <= bound)
    local m2 = lp.nn.DynapSim(3, { Itau_mem = lp.nn.Parameter(6e-12) })
    assert.are.same({ 3 }, m2:parameters().Itau_mem.shape)
    local s, _, rec = m2(lp.ones(20, 3) * 5, true)
    rec.vmem:sum():backward()
    assert.is_true(lp.abs(m2.Itau_mem.grad):sum():item() > 0)
  end)

  it("accepts DynapSim(0) (the mapper refuses it)", function()
    local m = lp.nn.DynapSim(0)
    assert.are.equal(0, m.size_out)
  end)

  it("refuses multapses, more than two dimensions and bad options", function()
    assert.has_error(function() lp.nn.DynapSim({ 4, 2 }) end,
      "bad argument #1 to 'DynapSim' (Multapses are not currently supported in DynapSim pipeline! (input size 4, 2 neurons))")
    assert.has_error(function() lp.nn.DynapSim({ 2, 2, 2 }) end,
      "bad argument #1 to 'DynapSim' (shape must be N or {N, N}: more than two dimensions)")
    assert.has_error(function() lp.nn.DynapSim(2, { tau = 1 }) end,
      "bad argument #2 to 'DynapSim' (unknown field 'tau')")
    assert.has_error(function() lp.nn.DynapSim(2, { Idc = { 1, 2, 3 } }) end,
      "bad argument #2 to 'DynapSim' (field 'Idc': expected a number or shape (2,), got (3,))")
    assert.has_error(function() lp.nn.DynapSim(2, { dtype = "int8" }) end,
      "bad argument #2 to 'DynapSim' (field 'dtype' must be float32 or float64, got int8)")
    assert.has_error(function() lp.nn.DynapSim(2, { surrogate = "x" }) end,
      "bad argument #2 to 'DynapSim' (field 'surrogate' must be per_ampere or per_threshold, got x)")
    assert.has_error(function() lp.nn.DynapSim(2, { w_rec = lp.zeros(3, 3) }) end,
      "bad argument #2 to 'DynapSim' (field 'w_rec': expected shape (2, 2), got (3, 3))")
    assert.has_error(function() lp.nn.DynapSim(2)(lp.zeros(5, 3)) end,
      "bad argument #1 to 'evolve' (DynapSim expects 2 input channels, got (1, 5, 3))")
  end)

  it("saves and loads with nn.save / nn.load (currents, mismatch, weights)", function()
    local m = lp.nn.Sequential(lp.nn.Linear({ 3, 4 }), lp.nn.DynapSim(4, {
      has_rec = true, Idc = lp.tensor({ 1e-12, 2e-12, 3e-12, 4e-12 }), percent_mismatch = 0.1, seed = 4 }))
    local path = os.tmpname() .. ".npz"
    assert.is_true(m:save(path))
    local m2 = lp.nn.load(path)
    os.remove(path)
    local x = lp.ones(1, 20, 3) * 5
    assert.are.equal(0, lp.abs(m(x) - m2(x)):sum():item())
    for _, k in ipairs { "w_rec", "Idc", "C_mem", "Io" } do
      assert.are.equal(0, lp.abs(m[2][k] - m2[2][k]):sum():item(), k)
    end
  end)

  it("runs after a Linear in a Sequential and records per sub-module", function()
    local net = lp.nn.Sequential(lp.nn.Linear({ 3, 2 }), lp.nn.DynapSim(2, { has_rec = true }))
    local out, st, rec = net(lp.ones(1, 30, 3) * 10, true)
    assert.are.same({ 1, 30, 2 }, out.shape)
    assert.are.same({ 1, 30, 2 }, rec["2_DynapSim"].vmem.shape)
    assert.are.same({ 2 }, st["2_DynapSim"].timer_ref.shape)
  end)
end)

describe("DynapSim graphs", function()
  it("as_graph gives DynapseNeurons with the 13 currents, Iscale and dt", function()
    local m = lp.nn.DynapSim(3, { Idc = { 1e-12, 2e-12, 3e-12 }, Iscale = 2e-8, dt = 5e-4 })
    local g = m:as_graph()
    assert.are.equal("DynapseNeurons", getmetatable(g).__name)
    assert.are.same({ 1e-12, 2e-12, 3e-12 }, (function()
      local t = g.Idc:totable()
      for i = 1, 3 do t[i] = tonumber(string.format("%.6g", t[i])) end
      return t
    end)())
    assert.are.equal(2e-8, g.Iscale)
    assert.are.equal(5e-4, g.dt)
    for _, n in ipairs(d2.DynapSim.current_names) do assert.are.same({ 3 }, g[n].shape, n) end
  end)

  it("adds the recurrent LinearWeights when w_rec has a non-zero entry, and from_graph rebuilds", function()
    local m = lp.nn.DynapSim(2, { w_rec = lp.tensor({ { 0, 1 }, { -2, 0 } }) })
    local g = m:as_graph()
    assert.are.equal("GraphHolder", getmetatable(g).__name)
    local G = lp.graph
    local ns = G.find_modules_of_subclass(g, G.DynapseNeurons)
    local ws = G.find_modules_of_subclass(g, G.LinearWeights)
    assert.are.equal(1, #ns)
    assert.are.equal(1, #ws)
    local m2 = d2.DynapSim.from_graph(ns[1], ws[1])
    assert.are.same(m.w_rec:totable(), m2.w_rec:totable())
    assert.is_true(require("limpet.class").is_a(ns[1], G.GenericNeurons))
    local m0 = lp.nn.DynapSim(2, { has_rec = true, w_rec = lp.zeros(2, 2) })
    assert.are.equal("DynapseNeurons", getmetatable(m0:as_graph()).__name)
    local w2 = G.LinearWeights.factory(G.LinearWeights, 2, 2, "w", nil, { weights = lp.zeros(2, 2), biases = { 1, 1 } })
    assert.has_error(function() d2.DynapSim.from_graph(ns[1], w2) end, "Recurrent weight layer biases cannot be defined!")
  end)
end)

describe("DynapSim BPTT", function()
  local ag = require "limpet.autograd"
  local core = require "limpet.core"
  local N, T = 3, 40
  local NAMES = { "syn_a", "syn_q", "syn_g", "ahp_a", "ahp_h", "itau_mem", "igain_mem", "idc", "io", "mem_c", "fv",
                  "utk" }
  -- recurrent, AHP, refractory, counts of 2 in a step, inhibition clamped
  local function setup()
    lp.seed(7)
    local mod = lp.nn.DynapSim(N, { dtype = "float64", has_rec = true,
      Idc = lp.tensor({ 2e-10, 5e-11, 1e-9 }, "float64"), Iw_ahp = 3e-10, Itau_ahp = 1e-11, Ispkthr = 5e-9,
      Iref = 5e-9 })
    local x = ((lp.rand(1, T, N) - 0.2) * 30):astype("float64")
    return mod, mod:coefficients(), x, mod.w_rec:detach():clone()
  end

  -- the kernel on coefficients c0·scale (scales are the inputs, so every
  -- coefficient is perturbed relatively)
  local function kernel(c0, sg, xx, ww, scales)
    local o = {}
    for k, v in pairs(c0) do o[k] = v:detach() end
    for i, n in ipairs(NAMES) do o[n] = c0[n]:detach() * scales[i] end
    o.sg = sg; o.w_rec = ww; o.dt = 1e-3; o.record = true
    for _, n in ipairs { "iahp", "imem", "isyn" } do o[n] = c0.io:detach() end
    local s, rec = core._dynapse2.dynapsim(xx, o)
    return { rec.imem, rec.isyn, rec.iahp, rec.vmem, s }
  end

  it("is exact away from the surrogate: gradcheck with dn/dimem = 0, float64", function()
    local _, c0, x, w = setup()
    local ins = { x, w }
    for _ = 1, #NAMES do ins[#ins + 1] = lp.ones({ N }, "float64") end
    local f = function(xx, ww, ...)
      local r = kernel(c0, lp.zeros({ N }, "float64"), xx, ww, { ... })
      assert.is_true(r[5]:max():item() >= 2)
      return { r[1] / 5e-9, r[2] / 1e-9, r[3] / 1e-10, r[4] }
    end
    assert.is_true(ag.gradcheck(f, ins, { eps = 1e-6, atol = 1e-6, rtol = 1e-4 }))
  end)

  -- §2.4 written with autograd ops, the spike count through the
  -- straight-through estimator of §2.5 and torch.where-like reset and gate
  local function transcription(c0, sg, xx, ww, sc)
    local c = {}
    for i, n in ipairs(NAMES) do c[n] = c0[n]:detach() * sc[i] end
    local io, thr, tref = c.io, c0.ispkthr:detach(), c0.t_ref:detach()
    local zero = lp.zeros({ N }, "float64")
    local isyn, iahp, imem, vmem, s, timer = io:detach(), io:detach(), io:detach(), zero, zero, zero
    local outs = { {}, {}, {}, {}, {} }
    for t = 1, T do
      local u = xx[1][t] + lp.matmul(s:reshape({ 1, N }), ww):reshape({ N })
      isyn = c.syn_a * isyn + c.syn_q * lp.maximum(c.syn_g * u, io)
      iahp = lp.maximum(c.ahp_a * iahp + c.ahp_h * s, io)
      local F = lp.exp(c.fv * vmem)
      local L = c.itau_mem + iahp
      local a = (isyn - L + c.idc) * (1 - timer:gt(0):astype("float64"))
      local iin = lp.maximum(a, io)
      local minf = c.igain_mem / c.itau_mem * (iin - L)
      local f = io * F / L * (imem + c.igain_mem)
      local tau = c.mem_c / L
      local di = imem / (tau * (imem + c.igain_mem)) * (minf + f - imem * (1 + iahp / c.itau_mem))
      local imp = lp.maximum(imem + di * 1e-3, io)
      vmem = c.utk * lp.log(imp / io)
      local n = lp.maximum(lp.ceil(lp.log(imp:detach() / thr)), zero)
      local ns = n + (imp - imp:detach()) * sg * imp:detach():gt(io:detach()):astype("float64")
      local spk = n:gt(0)
      imem = lp.where(spk, io, imp)
      timer = lp.where(spk, tref, lp.maximum(timer - 1e-3, zero))
      s = ns
      outs[1][t], outs[2][t], outs[3][t], outs[4][t], outs[5][t] = imem, isyn, iahp, vmem, ns
    end
    local r = {}
    for k = 1, 5 do r[k] = lp.stack(outs[k], 1):reshape({ 1, T, N }) end
    return r
  end

  for _, mode in ipairs { "per_ampere", "per_threshold" } do
    it("equals autograd through a transcription of the step, surrogate " .. mode, function()
      local _, c0, x, w = setup()
      local sg = mode == "per_ampere" and lp.ones({ N }, "float64") or 1 / c0.ispkthr:detach()
      lp.seed(11)
      local wts = {}
      for k = 1, 5 do wts[k] = lp.rand(1, T, N):astype("float64") end
      local function loss(r)
        return (r[1] / 5e-9 * wts[1]):sum() + (r[2] / 1e-9 * wts[2]):sum() + (r[3] / 1e-10 * wts[3]):sum()
          + (r[4] * wts[4]):sum() + (r[5] * wts[5]):sum()
      end
      local function leaves()
        local l = { x:clone():requires_grad(true), w:clone():requires_grad(true) }
        for _ = 1, #NAMES do l[#l + 1] = lp.ones({ N }, "float64"):requires_grad(true) end
        return l
      end
      local A, B = leaves(), leaves()
      local ra = kernel(c0, sg, A[1], A[2], { table.unpack(A, 3) })
      local rb = transcription(c0, sg, B[1], B[2], { table.unpack(B, 3) })
      assert.are.equal(0, lp.abs(ra[5] - rb[5]:detach()):sum():item(), "spike counts")
      loss(ra):backward()
      loss(rb):backward()
      for i = 1, #A do
        local ga, gb = A[i].grad, B[i].grad
        local d = (lp.abs(ga - gb):max() / (lp.abs(gb):max() + 1e-300)):item()
        assert.is_true(d < 1e-12, ("input %s: relative difference %g"):format(i <= 2 and (i == 1 and "x" or "w_rec")
          or NAMES[i - 2], d))
      end
    end)
  end

  it("reaches the currents through the coefficients (module level, float64)", function()
    local m = lp.nn.DynapSim(2, { dtype = "float64", Itau_mem = lp.nn.Parameter(6e-12), Idc = lp.nn.Parameter(3e-11) })
    local x = lp.ones(30, 2, "float64") * 3
    local function f(itm, idc)
      m._values.Itau_mem, m._values.Idc = itm * 6e-12, idc * 3e-11
      m:reset_state()
      local _, _, rec = m(x, true)
      return rec.vmem
    end
    assert.is_true(ag.gradcheck(f, { lp.ones({ 2 }, "float64"), lp.ones({ 2 }, "float64") },
      { eps = 1e-6, atol = 1e-6, rtol = 1e-4 }))
  end)

  it("trains w_rec and a preceding Linear's weights (float32)", function()
    lp.seed(5)
    local net = lp.nn.Sequential(lp.nn.Linear({ 4, 3 }), lp.nn.DynapSim(3, { has_rec = true }))
    local x = (lp.rand(2, 50, 4):lt(0.3)):astype("float32")
    local out = net(x)
    out:sum():backward()
    local p = net:parameters()
    assert.is_true(lp.abs(p["1_Linear"].weight.grad):sum():item() > 0)
    assert.is_true(lp.abs(p["2_DynapSim"].w_rec.grad):sum():item() >= 0)
  end)
end)

describe("DynapSim with a sparse w_rec", function()
  -- N >= 64 and at most 1/8 non-zeros: the fast loops keep w_rec's
  -- non-zeros (CSR); the reference loops use it dense
  local function net(reference, dtype)
    local N = 96
    math.randomseed(4)
    local w = lp.zeros({ N, N }, "float64")
    for i = 1, N do
      for _ = 1, 6 do w:set(i, math.random(1, N), math.random() * 6 - 2) end
    end
    lp.seed(8)
    local x = ((lp.rand(2, 120, N):lt(0.05)):astype("float64") * 8):astype(dtype)
    return lp.nn.DynapSim(N, { dtype = dtype, w_rec = w, reference = reference, Idc = 2e-11 }), x
  end

  it("gives the dense loops' spikes, states and gradients (float64)", function()
    local a, x = net(false, "float64")
    local b = net(true, "float64")
    local xa, xb = x:clone():requires_grad(true), x:clone():requires_grad(true)
    local sa, _, ra = a(xa, true)
    local sb, _, rb = b(xb, true)
    assert.is_true(sa:sum():item() > 20)
    assert.are.equal(0, lp.abs(sa - sb):sum():item())
    assert.is_true((lp.abs(ra.vmem - rb.vmem) - lp.abs(rb.vmem) * 1e-10):max():item() <= 0)
    local la = (sa * 0.3):sum() + ra.vmem:sum() + (ra.imem / 1e-9):sum()
    local lb = (sb * 0.3):sum() + rb.vmem:sum() + (rb.imem / 1e-9):sum()
    la:backward()
    lb:backward()
    local function close(p, q, what)
      local d = (lp.abs(p - q):max() / (lp.abs(q):max() + 1e-300)):item()
      assert.is_true(d < 1e-10, what .. ": " .. d)
    end
    close(a.w_rec.grad, b.w_rec.grad, "w_rec")
    close(xa.grad, xb.grad, "x")
  end)

  it("builds the CSR itself when the caller gives none (core op, forward and backward)", function()
    local core = require "limpet.core"
    local a, x = net(false, "float64")
    local opts = a:coefficients()
    for _, k in ipairs { "iahp", "imem", "isyn", "spikes", "timer_ref", "vmem" } do opts[k] = a[k] end
    opts.dt, opts.record = 1e-3, true
    local w1 = a.w_rec:detach():clone():requires_grad(true)
    local w2 = a.w_rec:detach():clone():requires_grad(true)
    opts.w_rec = w1
    local s1, r1 = core._dynapse2.dynapsim(x, opts)
    opts.w_rec = w2
    local p, i, v = core._dynapse2.csr(w2:detach())
    local tp, ti, tv = core._dynapse2.csr(w2:detach(), true)
    assert.is_not_nil(p)
    opts.w_ptr, opts.w_idx, opts.w_val, opts.wt_ptr, opts.wt_idx, opts.wt_val = p, i, v, tp, ti, tv
    local s2, r2 = core._dynapse2.dynapsim(x, opts)
    assert.are.equal(0, lp.abs(s1 - s2):sum():item())
    local l1 = (s1 * 0.2):sum() + r1.vmem:sum()
    local l2 = (s2 * 0.2):sum() + r2.vmem:sum()
    l1:backward()
    l2:backward()
    assert.are.equal(0, lp.abs(w1.grad - w2.grad):max():item())
    assert.is_true(lp.abs(w1.grad):sum():item() > 0)
    assert.is_nil(core._dynapse2.csr(lp.ones(96, 96)), "too dense: no CSR")
    assert.is_nil(core._dynapse2.csr(lp.eye(10)), "too small: no CSR")
  end)

  it("sees every change of w_rec (the module's CSR is rebuilt)", function()
    local a, x = net(false, "float64")
    local s1 = a(x)
    a:reset_state()
    -- in place: the parameter keeps its tensor, its storage version changes
    local w2 = a.w_rec:detach():clone()
    w2:set(1, 1, 0)
    for i = 1, 96 do w2:set(i, (i % 96) + 1, 3) end
    a.w_rec = w2
    local s2 = a(x)
    local fresh = lp.nn.DynapSim(96, { dtype = "float64", w_rec = w2, Idc = 2e-11 })
    assert.are.equal(0, lp.abs(s2 - fresh(x)):sum():item())
    assert.is_true(lp.abs(s2 - s1):sum():item() > 0)
    -- an optimiser step
    a:reset_state()
    local opt = lp.optim.SGD(a:parameters(), { lr = 1e5 })
    local before = a.w_rec:detach():clone()
    local s3, _, r3 = a(x, true)
    local loss = r3.vmem:sum()
    loss:backward()
    opt:step()
    assert.is_true(lp.abs(a.w_rec:detach() - before):sum():item() > 0, "the step changed w_rec")
    a:reset_state()
    local fresh2 = lp.nn.DynapSim(96, { dtype = "float64", w_rec = a.w_rec:detach():clone(), Idc = 2e-11 })
    assert.are.equal(0, lp.abs(a(x) - fresh2(x)):sum():item())
  end)

  it("runs in float32 close to float64", function()
    local a, x = net(false, "float32")
    local b = net(true, "float64")
    local na, nb = a(x):sum():item(), b(x:astype("float64")):sum():item()
    assert.is_true(math.abs(na - nb) <= 0.05 * nb + 2, na .. " vs " .. nb)
  end)
end)
