-- spec/lif_paths_spec.lua -- the fast paths of core.lif added for W1 in
-- the user form (issue 17) against their references: spikes given as 0/1
-- (float32, float64 or bytes) indexed without values (rows added, not
-- multiplied by 1) against the valued path, bit for bit; the membrane
-- record left out when nothing records it and the fast backward does not
-- read it, against the same call recording it; thread counts agree.
local lp = require "limpet"
local core = require "limpet.core"

local function maxdiff(a, b) return (a:astype("float64") - b:astype("float64")):abs():max():item() end

local B, T, NIN, N = 6, 40, 90, 37        -- N: vector blocks and remainder columns

local function lif_opts(dt, extra)
  local o = { alpha = lp.full({ N }, 0.9):astype(dt), beta = lp.full({ N }, 0.8):astype(dt),
              bias = lp.zeros({ N }):astype(dt), threshold = lp.ones({ N }):astype(dt) }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

-- spikes s and dL/dw_in of the fused op on x with weights w (loss on spikes
-- and, when recorded, the membrane)
local function fused(x, w, dt, extra)
  local wl = w:detach():clone():requires_grad(true)
  local s, rec = core.lif(x, lif_opts(dt, { w_in = wl, record = extra and extra.record }))
  local loss = (s * lp.linspace(0.5, 1.5, N):astype(s.dtype)):sum()
  if rec and rec.vmem then loss = loss + (rec.vmem * rec.vmem):sum() end
  loss:backward()
  return s, wl.grad, rec
end

describe("core.lif: spikes as 0/1 are indexed without values", function()
  for _, dt in ipairs { "float32", "float64" } do
    it(dt .. ": the same bits as the valued path (2x against w/2)", function()
      lp.seed(11)
      local x = lp.rand({ B, T, NIN }):lt(0.05):astype(dt)
      local w = (lp.randn({ NIN, N }) * 0.8):astype(dt)
      -- 2 * (w / 2) is exact: the valued path on 2x and w/2 sums the same terms
      local s1, g1, r1 = fused(x, w, dt, { record = { "vmem" } })
      local s2, g2, r2 = fused(x * 2, w / 2, dt, { record = { "vmem" } })
      assert.is_true(s1:sum():item() > 0, "some spikes")
      assert.are.equal(0, maxdiff(s1, s2))
      assert.are.equal(0, maxdiff(r1.vmem, r2.vmem))
      assert.are.equal(0, maxdiff(g1 * 2, g2))      -- dL/d(w/2) = 2 dL/dw, exactly
    end)
  end
  it("uint8 and float32 spikes agree; so do unfused matmul + core.lif", function()
    lp.seed(12)
    local xf = lp.rand({ B, T, NIN }):lt(0.05):astype("float32")
    local w = (lp.randn({ NIN, N }) * 0.8):astype("float32")
    local s1, g1 = fused(xf, w, "float32")
    local s2, g2 = fused(xf:astype("uint8"), w, "float32")
    assert.are.equal(0, maxdiff(s1, s2))
    assert.are.equal(0, maxdiff(g1, g2))
    local wl = w:clone():requires_grad(true)
    local s3 = core.lif(lp.matmul(xf, wl), lif_opts("float32"))
    ;(s3 * lp.linspace(0.5, 1.5, N)):sum():backward()
    assert.are.equal(0, maxdiff(s1, s3))
    assert.is_true(maxdiff(g1, wl.grad) <= 1e-5 * (1 + wl.grad:abs():max():item()))
  end)
  it("a value other than 0 and 1 keeps the values", function()
    lp.seed(13)
    local x = lp.rand({ B, T, NIN }):lt(0.05):astype("float32")
    local w = (lp.randn({ NIN, N }) * 0.8):astype("float32")
    local xv = x * (lp.rand({ B, T, NIN }):lt(0.1):astype("float32") + 1)   -- some spikes are 2
    assert.is_true(xv:max():item() == 2)
    local s1, g1 = fused(xv, w, "float32")
    local wl = w:clone():requires_grad(true)
    local s2 = core.lif(lp.matmul(xv, wl), lif_opts("float32"))
    ;(s2 * lp.linspace(0.5, 1.5, N)):sum():backward()
    assert.are.equal(0, maxdiff(s1, s2))
    assert.is_true(maxdiff(g1, wl.grad) <= 1e-5 * (1 + wl.grad:abs():max():item()))
  end)
  it("gives the same bits on 1 and 2 threads", function()
    local threads0 = lp.config().threads
    lp.seed(14)
    local x = lp.rand({ 40, T, NIN }):lt(0.05):astype("float32")
    local w = (lp.randn({ NIN, N }) * 0.8):astype("float32")
    local out = {}
    for i, n in ipairs { 1, 2 } do
      lp.config { threads = n }
      local s, g = fused(x, w, "float32")
      out[i] = { s, g }
    end
    lp.config { threads = threads0 }
    assert.are.equal(0, maxdiff(out[1][1], out[2][1]))
    assert.are.equal(0, maxdiff(out[1][2], out[2][2]))
  end)
end)

describe("core.lif: no membrane record unless asked or needed", function()
  it("gradients through the spikes alone are the same with and without the record", function()
    lp.seed(15)
    local x = (lp.randn({ B, T, N }) * 0.4):astype("float32")
    local function grads(record)
      local xl = x:clone():requires_grad(true)
      local o = lif_opts("float32", { record = record })
      for _, k in ipairs { "alpha", "beta", "bias", "threshold" } do o[k]:requires_grad(true) end
      local s, rec = core.lif(xl, o)
      ;(s * lp.linspace(0.5, 1.5, N)):sum():backward()
      return s, rec, { xl.grad, o.alpha.grad, o.beta.grad, o.bias.grad, o.threshold.grad }
    end
    local s1, r1, g1 = grads(nil)
    local s2, r2, g2 = grads({ "vmem" })
    assert.is_nil(r1 and r1.vmem)
    assert.is_not_nil(r2.vmem)
    assert.is_true(s1:sum():item() > 0, "some spikes")
    assert.are.equal(0, maxdiff(s1, s2))
    for i = 1, #g2 do assert.are.equal(0, maxdiff(g1[i], g2[i]), "gradient " .. i) end
  end)
  it("the general backward (aLIF) still gets the membrane it reads", function()
    lp.seed(16)
    local x = (lp.randn({ B, T, N }) * 0.4):astype("float32"):requires_grad(true)
    local o = lif_opts("float32", { w_ahp = lp.zeros({ N }), beta_ahp = lp.zeros({ N }) })
    o.alpha:requires_grad(true)
    local s = core.lif(x, o)
    ;(s * lp.linspace(0.5, 1.5, N)):sum():backward()
    local xr = x:detach():clone():requires_grad(true)
    local o2 = lif_opts("float32")
    o2.alpha:requires_grad(true)
    local s2 = core.lif(xr, o2)
    ;(s2 * lp.linspace(0.5, 1.5, N)):sum():backward()
    assert.are.equal(0, maxdiff(s, s2))
    assert.is_true(maxdiff(x.grad, xr.grad) <= 2e-5 * (1 + xr.grad:abs():max():item()))
    assert.is_true(maxdiff(o.alpha.grad, o2.alpha.grad) <= 2e-5 * (1 + o2.alpha.grad:abs():max():item()))
  end)
end)
