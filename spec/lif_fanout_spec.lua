-- spec/lif_fanout_spec.lua -- recurrence under a fan-out limit (issue 11,
-- item 6): core.lif's rec_targets (each neuron's target list) against the
-- plain reference, the dense kernel with the other entries of w_rec zeroed
-- (spikes and membranes identical, gradients equal up to summation order,
-- dL/dw_rec zero off the targets); a float64 finite-difference gradcheck;
-- core.lif_rec_topk; the rec_fanout option of the LIF modules; and a
-- 256-neuron recurrent layer trained a few steps, mapped, quantised,
-- accepted by config_from_specification and run in XyloSim, then QAT'd
-- without growing targets.
local lp = require "limpet"
local core = require "limpet.core"
local nn = lp.nn

local function maxdiff(a, b) return (a:astype("float64") - b:astype("float64")):abs():max():item() end
local function near(name, a, b, tol)
  local scale = a:astype("float64"):abs():max():item()
  local d = maxdiff(a, b)
  if not (d <= tol * (1 + scale)) then error(("%s: differs by %g (scale %g)"):format(name, d, scale), 2) end
end

describe("core.lif rec_targets against the dense kernel with zeroed entries", function()
  local B, T, N, F = 5, 24, 70, 9
  local function case(dt, k, record, blk)
    local N = blk and 72 or N
    lp.seed(5)
    local K = k * N
    local o = {
      x = (lp.randn({ B, T, K }) * 0.6):astype(dt), alpha = lp.full({ N }, 0.9):astype(dt),
      beta = (k == 1 and lp.full({ N }, 0.8) or lp.full({ N, k }, 0.8)):astype(dt),
      bias = (lp.randn({ N }) * 0.05):astype(dt), threshold = lp.full({ N }, 1.0):astype(dt),
      w_rec = (lp.randn({ N, K }) * 0.3):astype(dt),
    }
    local tg, mask = core.lif_rec_topk(o.w_rec, blk and 16 or F, blk)
    local R = lp.linspace(-1, 1, B * T * N):reshape({ B, T, N }):astype(dt)
    local function run(reference)
      local t = {}
      for name, v in pairs(o) do t[name] = v:clone():requires_grad(true) end
      local s, r = core.lif(t.x, { alpha = t.alpha, beta = t.beta, bias = t.bias, threshold = t.threshold,
        w_rec = reference and t.w_rec * mask or t.w_rec, rec_targets = (not reference) and tg or nil,
        max_spikes_per_dt = 4, record = record })
      ;((s * 0.3 + r.vmem) * R):sum():backward()
      return s, r, t
    end
    local s1, r1, t1 = run(false)
    local s2, r2, t2 = run(true)
    assert.is_true(s1:sum():item() > 0)
    assert.are.equal(0, maxdiff(s1, s2))
    assert.are.equal(0, maxdiff(r1.vmem, r2.vmem))
    if r1.irec then assert.are.equal(0, maxdiff(r1.irec, r2.irec)) end
    local tol = dt == "float64" and 1e-12 or 1e-5
    for _, name in ipairs { "x", "alpha", "beta", "bias", "threshold", "w_rec" } do
      near("d " .. name, t1[name].grad, t2[name].grad, tol)
    end
    -- no gradient off the targets
    assert.are.equal(0, (t1.w_rec.grad * (1 - mask)):abs():max():item())
    assert.is_true(t1.w_rec.grad:abs():max():item() > 0)
  end
  for _, dt in ipairs { "float32", "float64" } do
    it(dt .. ", one synapse (fast paths)", function() case(dt, 1, { "vmem" }) end)
    it(dt .. ", one synapse, every record (general forward)", function() case(dt, 1, true) end)
    it(dt .. ", two synapses (general paths)", function() case(dt, 2, true) end)
    it(dt .. ", blocks of 8 (vector paths), one synapse", function() case(dt, 1, { "vmem" }, 8) end)
    it(dt .. ", blocks of 8, two synapses", function() case(dt, 2, true, 8) end)
  end
end)

describe("core.lif rec_targets gradcheck (float64 finite differences, no spikes after t = 0)", function()
  it("w.r.t. w_rec, x, alpha, beta at the targets", function()
    local B, T, N, k = 2, 6, 4, 2
    lp.seed(9)
    local base = { x = lp.rand({ B, T, k * N }, "float64") - 0.5, alpha = lp.full({ N }, 0.8, "float64"),
                   beta = lp.full({ N, k }, 0.7, "float64"), w_rec = lp.randn({ N, k * N }, "float64") }
    local tg = lp.tensor({ { 0, 3, 6 }, { 1, 2, 7 }, { 0, 4, 5 }, { 2, 3, 6 } }, "int64")
    local R = lp.randn({ B, T, N }, "float64")
    local s0 = lp.tensor({ { 1, 0, 2, 1 }, { 0, 1, 1, 0 } }, "float64")
    local function loss(t)
      local _, rec = core.lif(t.x, { alpha = t.alpha, beta = t.beta, bias = lp.zeros({ N }, "float64"),
        threshold = lp.full({ N }, 100.0, "float64"), w_rec = t.w_rec, rec_targets = tg, spikes = s0,
        record = { "vmem" } })
      return (rec.vmem * R):sum()
    end
    local t = {}
    for name, v in pairs(base) do t[name] = v:clone():requires_grad(true) end
    loss(t):backward()
    for name, v in pairs(base) do
      local flat = v:reshape(-1):totable()
      local g = t[name].grad:reshape(-1):totable()
      for i = 1, #flat do
        local h = 1e-6
        local function at(delta)
          local u = {}
          for n2, v2 in pairs(base) do u[n2] = v2 end
          local vals = { table.unpack(flat) }
          vals[i] = vals[i] + delta
          u[name] = lp.tensor(vals, "float64"):reshape(v.shape)
          return loss(u):item()
        end
        local num = (at(h) - at(-h)) / (2 * h)
        local an = g[i]
        if not (math.abs(num - an) <= 1e-6 + 1e-5 * math.abs(num)) then
          error(("d/d%s[%d]: finite difference %.10g, backward %.10g"):format(name, i, num, an))
        end
      end
    end
  end)
end)

describe("core.lif rec_targets errors", function()
  local N = 3
  local function args(extra)
    local a = { alpha = lp.full({ N }, 0.9), beta = lp.full({ N }, 0.8), bias = lp.zeros({ N }),
                threshold = lp.ones({ N }), w_rec = lp.ones({ N, N }) }
    for k, v in pairs(extra) do a[k] = v end
    return a
  end
  local x = lp.zeros({ 1, 2, N })
  it("needs w_rec", function()
    local a = args { rec_targets = lp.tensor({ { 0 }, { 1 }, { 2 } }, "int32") }
    a.w_rec = nil
    assert.has_error(function() core.lif(x, a) end, "bad argument #2 to 'lif' (field 'rec_targets' needs 'w_rec')")
  end)
  it("refuses float targets, wrong shapes, unsorted or out-of-range columns", function()
    local ok, e = pcall(core.lif, x, args { rec_targets = lp.tensor({ { 0.0 }, { 1.0 }, { 2.0 } }) })
    assert.is_false(ok); assert.matches("rec_targets': expected an int32 or int64 tensor", e)
    ok, e = pcall(core.lif, x, args { rec_targets = lp.tensor({ { 0 }, { 1 } }, "int32") })
    assert.is_false(ok); assert.matches("expected shape %(3, F%)", e)
    ok, e = pcall(core.lif, x, args { rec_targets = lp.tensor({ { 1, 0 }, { 0, 1 }, { 0, 2 } }, "int32") })
    assert.is_false(ok); assert.matches("row 0 must hold strictly ascending columns in 0..2, got 0 at position 1", e)
    ok, e = pcall(core.lif, x, args { rec_targets = lp.tensor({ { 0, 1 }, { 1, 1 }, { 0, 2 } }, "int32") })
    assert.is_false(ok); assert.matches("row 1 must hold", e)
    ok, e = pcall(core.lif, x, args { rec_targets = lp.tensor({ { 0 }, { 3 }, { 2 } }, "int64") })
    assert.is_false(ok); assert.matches("got 3 at position 0", e)
    ok, e = pcall(core.lif, x, args { rec_targets = lp.tensor({ { 0 }, { -1 }, { 2 } }, "int64") })
    assert.is_false(ok); assert.matches("got %-1 at position 0", e)
  end)
end)

describe("core.lif_rec_topk", function()
  it("keeps each row's F largest |w|, ascending, ties to the lower column", function()
    local w = lp.tensor({ { 0.1, -0.9, 0.5, 0.0 }, { 1, 1, 1, 1 }, { 0, 0, -3, 2 } })
    local tg, mask = core.lif_rec_topk(w, 2)
    assert.are.same({ { 1, 2 }, { 0, 1 }, { 2, 3 } }, tg:totable())
    assert.are.equal("int32", tg.dtype)
    assert.are.same({ { 0, 1, 1, 0 }, { 1, 1, 0, 0 }, { 0, 0, 1, 1 } }, mask:totable())
    assert.are.equal("float32", mask.dtype)
    local _, m64 = core.lif_rec_topk(w:astype("float64"), 4)
    assert.are.equal("float64", m64.dtype)
    assert.are.equal(12, m64:sum():item())
  end)
  it("agrees with a sort on random rows with ties", function()
    lp.seed(8)
    local w = lp.floor(lp.randn({ 30, 40 }) * 2)       -- many ties
    local tg = core.lif_rec_topk(w, 7):totable()
    local rows = w:totable()
    for m = 1, 30 do
      local idx = {}
      for j = 1, 40 do idx[j] = j end
      table.sort(idx, function(a, b)
        local x, y = math.abs(rows[m][a]), math.abs(rows[m][b])
        if x ~= y then return x > y end
        return a < b
      end)
      local want = {}
      for j = 1, 7 do want[j] = idx[j] - 1 end
      table.sort(want)
      assert.are.same(want, tg[m])
    end
  end)
  it("keeps whole blocks with the largest sums of |w|", function()
    local w = lp.tensor({ { 1, 1, 0, 0, 3, 0, 0.5, 0.5 } })
    local tg, mask = core.lif_rec_topk(w, 4, 2)
    assert.are.same({ { 0, 1, 4, 5 } }, tg:totable())
    assert.are.same({ { 1, 1, 0, 0, 1, 1, 0, 0 } }, mask:totable())
    local ok, e = pcall(core.lif_rec_topk, w, 4, 3)
    assert.is_false(ok); assert.matches("block 3 must divide the fan%-out 4 and the row length 8", e)
  end)
  it("refuses F outside 1..K and non-matrices", function()
    local w = lp.ones({ 3, 4 })
    assert.has_error(function() core.lif_rec_topk(w, 0) end)
    assert.has_error(function() core.lif_rec_topk(w, 5) end)
    local ok, e = pcall(core.lif_rec_topk, w, 5)
    assert.matches("fan%-out must be in 1..4, got 5", e)
    assert.has_error(function() core.lif_rec_topk(lp.ones({ 4 }), 1) end)
  end)
end)

describe("LIF rec_fanout", function()
  it("is refused without recurrence or when not a positive integer", function()
    assert.has_error(function() nn.LIF(8, { rec_fanout = 4 }) end,
      "bad argument #2 to 'LIF' (field 'rec_fanout' needs has_rec = true (or w_rec))")
    assert.has_error(function() nn.LIF(8, { has_rec = true, rec_fanout = 0 }) end,
      "bad argument #2 to 'LIF' (field 'rec_fanout' must be a positive integer, got 0)")
    assert.has_error(function() nn.LIFBitshift(8, { has_rec = true, rec_fanout = 2.5 }) end,
      "bad argument #2 to 'LIFBitshift' (field 'rec_fanout' must be a positive integer, got 2.5)")
    assert.has_error(function() nn.LIF(8, { has_rec = true, rec_block = 2 }) end,
      "bad argument #2 to 'LIF' (field 'rec_block' needs rec_fanout)")
    assert.has_error(function() nn.LIF(8, { has_rec = true, rec_fanout = 4, rec_block = 3 }) end,
      "bad argument #2 to 'LIF' (field 'rec_block' (3) must divide rec_fanout (4) and the 8 recurrent columns)")
    assert.has_error(function() nn.LIF(8, { has_rec = true, rec_fanout = 4, rec_block = 0 }) end,
      "bad argument #2 to 'LIF' (field 'rec_block' must be a positive integer, got 0)")
  end)
  it("equals the layer with the weights beyond the limit zeroed; exports them as zeros; round-trips", function()
    lp.seed(4)
    local a = nn.LIF(40, { has_rec = true, rec_fanout = 6, tau_mem = 0.01, tau_syn = 0.005, threshold = 0.5 })
    local b = nn.LIF(40, { has_rec = true, tau_mem = 0.01, tau_syn = 0.005, threshold = 0.5 })
    local _, mask = a:rec_targets()
    assert.are.equal(6, mask:sum(2):max():item())
    lp.no_grad(function() b.w_rec = a.w_rec:detach() * mask end)
    local x = lp.rand({ 3, 30, 40 }) * 0.8
    local sa, sb = a(x), b(x)
    assert.is_true(sa:sum():item() > 0)
    assert.are.equal(0, maxdiff(sa, sb))
    local g = a:as_graph()
    local w
    for m in require("limpet.graph").walk(g) do
      if m.weights then w = m.weights end
    end
    assert.are.equal(6, w:ne(0):astype("float64"):sum(2):max():item())
    a:reset_state()
    local path = os.tmpname() .. ".npz"
    a:save(path)
    local c = nn.load(path)
    os.remove(path)
    os.remove(path:sub(1, -5))
    assert.are.equal(6, c.rec_fanout)
    assert.are.equal(0, maxdiff(c(x), a(x)))
    -- blocks: whole runs of 4 adjacent targets
    local blk = nn.LIF(40, { has_rec = true, rec_fanout = 8, rec_block = 4 })
    local t = blk:rec_targets():totable()
    for m = 1, 40 do
      assert.are.equal(0, t[m][1] % 4); assert.are.equal(t[m][1] + 3, t[m][4])
      assert.are.equal(0, t[m][5] % 4); assert.are.equal(t[m][5] + 3, t[m][8])
    end
    assert.is_true(blk(x):sum():item() >= 0)
    -- rec_fanout >= k·N: no limit
    assert.is_nil(nn.LIF(4, { has_rec = true, rec_fanout = 4 }):rec_targets())
  end)
end)

describe("a 256-neuron recurrent layer under Xylo Audio 2's fan-out limit", function()
  it("trains a few steps, maps, quantises, configures and runs in XyloSim; QAT keeps the targets", function()
    lp.seed(2)
    local H = 256
    local net = nn.Sequential {
      nn.Linear({ 16, H }),
      nn.LIFBitshift(H, { tau_mem = 8e-3, tau_syn = 4e-3, has_rec = true, rec_fanout = 64, max_spikes_per_dt = 31 }),
      nn.Linear({ H, 8 }),
      nn.LIFBitshift(8, { tau_mem = 16e-3, tau_syn = 4e-3, threshold = 4, max_spikes_per_dt = 1 }),
    }
    local x = lp.floor(lp.rand({ 16, 20, 16 }) * 6)
    local y = lp.tensor({ 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8 }, "int64")
    local opt = lp.optim.Adam(net:parameters(), { lr = 1e-3 })
    local w0 = net["2_LIFBitshift"].w_rec:detach():clone()
    for _ = 1, 3 do
      net:reset_state()
      local _, _, rec = net(x, { "vmem" })
      local l = lp.loss.cross_entropy(rec["4_LIFBitshift"].vmem:mean(2), y)
      opt:zero_grad(); l:backward(); opt:step()
    end
    assert.is_true(maxdiff(net["2_LIFBitshift"].w_rec, w0) > 0)
    local xylo = lp.xylo
    local spec = xylo.audio2.mapper(net:as_graph())
    local q = xylo.global_quantize(spec)
    local per_row = q.weights_rec:ne(0):astype("float64"):reshape({ H, -1 }):sum(2)
    assert.is_true(per_row:max():item() <= 64)
    local config, ok, msg = xylo.audio2.config_from_specification(q)
    assert.is_true(ok, msg)
    local sim = xylo.audio2.XyloSim.from_config(config, { dt = 1e-3 })
    local out = sim(x[1])
    assert.are.equal(20, out.shape[#out.shape - 1])
    assert.are.equal(8, out.shape[#out.shape])
    -- QAT: one epoch; the trained specification keeps every zero of the float one
    local loader = lp.train.TensorLoader(x, y, { batch_size = 8 })
    local qn, qspec = xylo.qat(net, { data = loader, epochs = 1, progress = false })
    local function flat(w) return w:reshape({ H, -1 }) end
    assert.are.equal(0, (flat(qspec.weights_rec):ne(0):astype("float64") * flat(spec.weights_rec):eq(0):astype("float64"))
      :sum():item())
    assert.is_true(flat(qspec.weights_rec):ne(0):astype("float64"):sum(2):max():item() <= 64)
    assert.are.equal(H, qn.n_hidden)
    local _, ok2, msg2 = xylo.audio2.config_from_specification(qspec)
    assert.is_true(ok2, msg2)
  end)
end)
