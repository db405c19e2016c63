-- spec/lif_fast_spec.lua -- the fast LIF backward (k = 1, StepPWL, no aLIF)
-- against the general loop (the same network with a zero after-
-- hyperpolarisation current, which takes the general path), with w_rec at
-- sizes that use the vector and remainder loops of the recurrent backward
-- (dot products only where the surrogate is nonzero); dL/dw_rec against
-- sum_t s_{t-1}^T dL/dx_t written out; thread counts give identical results.
-- Also: the fused input projection (w_in) takes spikes as uint8 / bool.
local lp = require "limpet"
local core = require "limpet.core"

local function maxdiff(a, b) return (a:astype("float64") - b:astype("float64")):abs():max():item() end

local function near(name, a, b, tol)
  local scale = a:astype("float64"):abs():max():item()
  local d = maxdiff(a, b)
  if not (d <= tol * (1 + scale)) then error(("%s: differs by %g (scale %g)"):format(name, d, scale), 2) end
end

local B, T, N = 9, 30, 40

local function operands(dt, n)
  local N = n or N
  lp.seed(17)
  local t = {
    x = (lp.randn({ B, T, N }) * 0.3 - 0.03):astype(dt),
    alpha = lp.full({ N }, 0.9):astype(dt),
    beta = lp.full({ N }, 0.8):astype(dt),
    bias = (lp.randn({ N }) * 0.05):astype(dt),
    threshold = lp.full({ N }, 1.0):astype(dt),
    w_rec = (lp.randn({ N, N }) * (0.05 * math.sqrt(40 / math.max(N, 40)))):astype(dt),   -- rate near 5 % at larger N too
  }
  for _, v in pairs(t) do v:requires_grad(true) end
  return t
end

local function run(t, general)
  local N = t.w_rec.shape[1]
  local opts = { alpha = t.alpha, beta = t.beta, bias = t.bias, threshold = t.threshold, w_rec = t.w_rec,
                 max_spikes_per_dt = 2, record = true }
  if general then
    opts.w_ahp = lp.zeros({ N }):astype(t.x.dtype)
    opts.beta_ahp = lp.zeros({ N }):astype(t.x.dtype)
  end
  local s, rec = core.lif(t.x, opts)
  local loss = (rec.vmem * rec.vmem):sum() + (s * lp.linspace(0.5, 1.5, N):astype(s.dtype)):sum()
  loss:backward()
  local g = {}
  for k, v in pairs(t) do g[k] = v.grad end
  return s, g
end

describe("core.lif fast backward with w_rec", function()
  -- N = 40: the 32- and 8-column loops; 43: and the scalar tail; 5: the tail alone;
  -- 200: eight or more spiking neurons per step (the forward adds eight W rows at a time)
  -- (float32 on AVX2 + FMA CPUs: the fused multiply-add dot products, core/src/lif.c)
  for _, dt in ipairs { "float64", "float32" } do
   for _, n in ipairs { 40, 43, 5, 200 } do
    local tol = dt == "float64" and 1e-10 or 2e-5
    it("equals the general loop, " .. dt .. ", N = " .. n, function()
      local t1, t2 = operands(dt, n), operands(dt, n)
      local s1, g1 = run(t1, false)
      local s2, g2 = run(t2, true)
      assert.are.equal(0, maxdiff(s1, s2))
      local rate = s1:astype("float64"):mean():item()
      assert.is_true(rate > 0.01 and rate < 0.1, "spike rate " .. rate)   -- sparse: dw_rec by scatter-add
      for k in pairs(t1) do near("d " .. k, g2[k], g1[k], tol) end
    end)
   end
  end
  it("dL/dw_rec = sum over b, t of s_{t-1}^T dL/dx_t", function()
    local t = operands("float64")
    local s, g = run(t, false)
    local S, DX = s:totable(), g.x:totable()
    local want = {}
    for m = 1, N do
      want[m] = {}
      for j = 1, N do
        local acc = 0
        for b = 1, B do
          for tt = 2, T do
            local sm = S[b][tt - 1][m]
            if sm ~= 0 then acc = acc + sm * DX[b][tt][j] end
          end
        end
        want[m][j] = acc
      end
    end
    near("d w_rec", lp.tensor(want, "float64"), g.w_rec, 1e-10)
  end)
  -- B = 70, N = 300: the float32 recurrent backward's row blocks (64 rows)
  -- and neuron blocks (256) both split; dL/dw_rec from the per-neuron spike
  -- event lists (core/src/neuron_kernels.h, lif_grad_w_ev) the same bits as
  -- the sparse product s_prev^T . dL/dx through lp.matmul (sparse.c's gathers)
  it("float32, 70 rows, 300 neurons: equals the general loop; dL/dw_rec the same bits as lp.matmul", function()
    local Bb, Tb, Nb = 70, 6, 300
    local function ops()
      lp.seed(23)
      local t = {
        x = (lp.randn({ Bb, Tb, Nb }) * 0.3 - 0.03):astype("float32"),
        alpha = lp.full({ Nb }, 0.9):astype("float32"),
        beta = lp.full({ Nb }, 0.8):astype("float32"),
        bias = (lp.randn({ Nb }) * 0.05):astype("float32"),
        threshold = lp.full({ Nb }, 1.0):astype("float32"),
        w_rec = (lp.randn({ Nb, Nb }) * (0.05 * math.sqrt(40 / Nb))):astype("float32"),
      }
      for _, v in pairs(t) do v:requires_grad(true) end
      return t
    end
    local t1, t2 = ops(), ops()
    local s1, g1 = run(t1, false)
    local s2, g2 = run(t2, true)
    assert.are.equal(0, maxdiff(s1, s2))
    local rate = s1:mean():item()
    assert.is_true(rate > 0.01 and rate < 0.1, "spike rate " .. rate)
    for k in pairs(t1) do near("d " .. k, g2[k], g1[k], 2e-5) end
    local S, sp = s1:totable(), {}
    for b = 1, Bb do
      for tt = 1, Tb do
        local row = {}
        for m = 1, Nb do row[m] = tt > 1 and S[b][tt - 1][m] or 0 end
        sp[#sp + 1] = row
      end
    end
    local sprev = lp.tensor(sp, "float32")
    local want = lp.matmul(sprev:transpose(1, 2), g1.x:reshape({ Bb * Tb, Nb }))
    assert.are.equal(0, maxdiff(want, g1.w_rec))
  end)
  it("dL/dw_rec with spike counts above 1 (values, not ones), float32", function()
    local t = operands("float32")
    -- rare kicks of 2.5 past two thresholds (counts of 2), the rate under the
    -- 10 % where dL/dw_rec takes the event lists (denser: one GEMM)
    t.x = (t.x - 0.05 + lp.rand({ B, T, N }):lt(0.005):astype("float32") * 2.5):detach():requires_grad(true)
    local s, g = run(t, false)
    local S, DX = s:totable(), g.x:totable()
    local twos = 0
    local want = {}
    for m = 1, N do
      want[m] = {}
      for j = 1, N do
        local acc = 0
        for b = 1, B do
          for tt = 2, T do
            local sm = S[b][tt - 1][m]
            if sm ~= 0 then acc = acc + sm * DX[b][tt][j] end
            if j == 1 and sm == 2 then twos = twos + 1 end
          end
        end
        want[m][j] = acc
      end
    end
    assert.is_true(twos > 0, "no spike count of 2")
    local rate = s:ne(0):astype("float64"):mean():item()
    assert.is_true(rate < 0.1, "spike rate " .. rate)
    near("d w_rec", lp.tensor(want, "float64"), g.w_rec, 1e-5)
  end)
  it("gives the same results on 1 and 2 threads", function()
    local threads0 = lp.config().threads
    local out = {}
    for i, n in ipairs { 1, 2 } do
      lp.config { threads = n }
      local t = operands("float32")
      local _, g = run(t, false)
      out[i] = g
    end
    lp.config { threads = threads0 }
    for k in pairs(out[1]) do assert.are.equal(0, maxdiff(out[1][k], out[2][k]), "d " .. k) end
  end)
end)

describe("core.lif with w_in and spikes given as bytes", function()
  for _, xdt in ipairs { "uint8", "bool" } do
    for _, dens in ipairs { 0.05, 0.5 } do   -- indexed as bytes; too dense: converted, one GEMM
      it(("%s input, density %g: as the float32 input"):format(xdt, dens), function()
        lp.seed(3)
        local xf = lp.rand({ 5, 30, 150 }):lt(dens):astype("float32")
        local w = (lp.randn({ 150, 40 }) * 0.3):requires_grad(true)
        local function run(x)
          local s, rec = core.lif(x, { alpha = lp.full({ 40 }, 0.9), beta = lp.full({ 40 }, 0.8),
            bias = lp.zeros({ 40 }), threshold = lp.ones({ 40 }), w_in = w, record = true })
          local loss = (rec.vmem * rec.vmem):sum() + s:sum()
          loss:backward()
          local g = w.grad:clone()
          w.grad = nil
          return s, rec.vmem, g
        end
        local s1, v1, g1 = run(xf)
        local s2, v2, g2 = run(xf:astype(xdt))
        assert.are.equal("float32", s2.dtype)
        assert.is_true(s1:sum():item() > 0)
        assert.are.equal(0, maxdiff(s1, s2))
        assert.are.equal(0, maxdiff(v1, v2))
        assert.are.equal(0, maxdiff(g1, g2))
      end)
    end
  end
end)

-- The forward step without noise (core/src/lif.c's AVX2 lif_step1, on CPUs
-- with AVX2) against its plain reference (neuron_kernels.h's lif_step1,
-- which the same call takes when given noise; zero noise adds +0 as the fast
-- step does): the same bits, with and without autograd (no u, c rows
-- kept), with and without w_rec (the running spikes kept after the last
-- step only), at N = 5 (the masked tail alone), 13 (eight and a tail) and
-- 64; currents large enough for the clamp at max_spikes_per_dt, negative
-- ones, thresholds from 0.5 to 1.5.
describe("core.lif forward step, fast and plain", function()
  for _, n in ipairs { 5, 13, 64 } do
    for _, rec in ipairs { false, true } do
      for _, grad in ipairs { false, true } do
        it(("the same bits, N = %d, w_rec %s, autograd %s"):format(n, tostring(rec), tostring(grad)), function()
          local B2, T2 = 3, 25
          local function go(noise)
            lp.seed(23)
            local x = (lp.randn({ B2, T2, n }) * 1.5):astype("float32")
            local o = { alpha = lp.full({ n }, 0.9), beta = lp.full({ n }, 0.8), bias = lp.randn({ n }) * 0.1,
                        threshold = lp.rand({ n }) + 0.5, max_spikes_per_dt = 3, record = true }
            if rec then o.w_rec = lp.randn({ n, n }) * 0.2 end
            if noise then o.noise = lp.zeros({ B2, T2, n }) end
            if grad then x:requires_grad(true) end
            local s, r, fin = core.lif(x, o)
            local gx
            if grad then
              ;((r.vmem * r.vmem):sum() + s:sum()):backward()
              gx = x.grad
            end
            return s, r, fin, gx
          end
          local s1, r1, f1, g1 = go(false)
          local s2, r2, f2, g2 = go(true)
          assert.is_true(s1:sum():item() > 0, "some spikes")
          assert.is_true(s1:max():item() == 3, "the clamp reached")
          assert.are.equal(0, maxdiff(s1, s2))
          assert.are.equal(0, maxdiff(r1.vmem, r2.vmem))
          assert.are.equal(0, maxdiff(r1.isyn, r2.isyn))
          for _, k in ipairs { "vmem", "isyn", "spikes" } do assert.are.equal(0, maxdiff(f1[k], f2[k]), k) end
          if grad then assert.are.equal(0, maxdiff(g1, g2)) end
        end)
      end
    end
  end
end)

-- The fast backward without w_rec (float32 on AVX2 CPUs: core/src/lif.c's
-- lif_bstep1_avx2_f32 per row and step, the same bits as neuron_kernels.h's
-- lif_bstep1, which float64 runs) against the general loop, with the loss
-- on the membrane and the spikes, on the spikes only and on the membrane
-- only (the step's optional gradient rows), at N = 5 (the masked tail
-- alone), 13 and 40; thresholds from 0.5 to 1.5, spike counts clamped at 2.
describe("core.lif fast backward without w_rec", function()
  for _, dt in ipairs { "float32", "float64" } do
    for _, n in ipairs { 5, 13, 40 } do
      for _, loss_on in ipairs { "both", "spikes", "vmem" } do
        it(("equals the general loop, %s, N = %d, loss on %s"):format(dt, n, loss_on), function()
          local tol = dt == "float64" and 1e-10 or 2e-5
          local function go(general)
            lp.seed(29)
            local t = {
              x = (lp.randn({ B, T, n }) * 0.6):astype(dt),
              alpha = lp.full({ n }, 0.9):astype(dt), beta = lp.full({ n }, 0.8):astype(dt),
              bias = (lp.randn({ n }) * 0.05):astype(dt), threshold = (lp.rand({ n }) + 0.5):astype(dt),
            }
            for _, v in pairs(t) do v:requires_grad(true) end
            local o = { alpha = t.alpha, beta = t.beta, bias = t.bias, threshold = t.threshold,
                        max_spikes_per_dt = 2, record = true }
            if general then
              o.w_ahp = lp.zeros({ n }):astype(dt)
              o.beta_ahp = lp.zeros({ n }):astype(dt)
            end
            local s, r = core.lif(t.x, o)
            local lin = lp.linspace(0.5, 1.5, n):astype(dt)
            local loss
            if loss_on == "spikes" then loss = (s * lin):sum()
            elseif loss_on == "vmem" then loss = (r.vmem * r.vmem):sum()
            else loss = (r.vmem * r.vmem):sum() + (s * lin):sum() end
            loss:backward()
            local g = {}
            for k, v in pairs(t) do g[k] = v.grad end
            return s, g
          end
          local s1, g1 = go(false)
          local s2, g2 = go(true)
          assert.is_true(s1:sum():item() > 0, "some spikes")
          assert.are.equal(0, maxdiff(s1, s2))
          for k in pairs(g1) do
            assert.is_true(g1[k]:abs():max():item() > 0, "d " .. k .. " nonzero")
            near("d " .. k, g1[k], g2[k], tol)
          end
        end)
      end
    end
  end
end)
