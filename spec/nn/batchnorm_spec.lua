-- spec/nn/batchnorm_spec.lua -- nn.BatchNorm (tdBN) over (B, T, C, ...):
-- values against a plain per-channel loop, running statistics, eval mode,
-- gradients, errors.
local lp = require "limpet"
local nn = lp.nn

describe("nn.BatchNorm", function()
  it("normalises each channel over batch, time and space, scaled by alpha·v_threshold", function()
    local bn = nn.BatchNorm(3, { alpha = 0.5, v_threshold = 2 })
    local x = lp.randn({ 2, 4, 3, 2, 2 }, "float64") * 3 + 1
    local y = bn(x:astype("float32"))
    local xt = x:totable()
    for c = 1, 3 do
      local vals = {}
      for b = 1, 2 do for t = 1, 4 do for i = 1, 2 do for j = 1, 2 do vals[#vals + 1] = xt[b][t][c][i][j] end end end end
      local m = 0
      for _, v in ipairs(vals) do m = m + v end
      m = m / #vals
      local var = 0
      for _, v in ipairs(vals) do var = var + (v - m) ^ 2 end
      var = var / #vals
      local want = (xt[2][3][c][1][2] - m) / math.sqrt(var + 1e-5) * 1.0
      assert.is_true(math.abs(want - y[2][3][c][1][2]) < 1e-4)
      -- running statistics: momentum 0.1 from (0, 1), unbiased variance
      assert.is_true(math.abs(bn.running_mean[c] - 0.1 * m) < 1e-5)
      assert.is_true(math.abs(bn.running_var[c] - (0.9 + 0.1 * var * #vals / (#vals - 1))) < 1e-4)
    end
  end)

  it("uses the running statistics in eval mode", function()
    local bn = nn.BatchNorm(2, { affine = false })
    bn:eval()
    local x = lp.randn({ 3, 2, 2 })
    assert.tensor_near(x / math.sqrt(1 + 1e-5), bn(x), 1e-6)
  end)

  it("keeps its running statistics through reset_state (fit resets before every batch)", function()
    local net = nn.Sequential(nn.BatchNorm(2))
    net(lp.randn({ 4, 3, 2 }) * 2 + 5)
    local m, v = net[1].running_mean:clone(), net[1].running_var:clone()
    assert.is_true(m:abs():max():item() > 0.1)
    net:reset_state()
    assert.tensor_near(m, net[1].running_mean, 0)
    assert.tensor_near(v, net[1].running_var, 0)
  end)

  it("has gradients for input, weight and bias #grad", function()
    local x = lp.randn({ 2, 3, 2, 3 }, "float64")
    local w, b = lp.rand({ 2 }, "float64") + 0.5, lp.randn({ 2 }, "float64")
    local bn = nn.BatchNorm(2)
    assert.is_true(lp.autograd.gradcheck(function(xx, ww, bb)
      bn._values.weight, bn._values.bias = ww, bb
      return (bn(xx))
    end, { x, w, b }))
  end)

  it("refuses bad arguments", function()
    assert.has_error(function() nn.BatchNorm(0) end, "bad argument #1 to 'BatchNorm' (channels must be a positive integer)")
    assert.has_error(function() nn.BatchNorm(2, { momentum = 2 }) end,
      "bad argument #2 to 'BatchNorm' (field 'momentum' must be a positive number <= 1)")
    assert.has_error(function() nn.BatchNorm(2)(lp.rand({ 1, 2, 3 })) end,
      "bad argument #1 to 'evolve' (BatchNorm expects input (B, T, 2, ...), got (1, 2, 3))")
  end)
end)
