-- spec/nn/conv_spec.lua -- lp.conv2d / lp.sum_pool2d against direct loops
-- written here in Lua, gradients by finite differences, the nn layers over
-- (B, T, ...) and their errors.
local lp = require "limpet"
local nn = lp.nn
local ag = lp.autograd

-- y[n][o][i][j] by the definition (PyTorch's cross-correlation)
local function direct_conv(x, w, b, s, p, d, groups)
  local X, Wt = x:astype("float64"):totable(), w:astype("float64"):totable()
  local Bv = b and b:astype("float64"):totable()
  local N, C, H, Wd = table.unpack(x.shape)
  local O, Cg, KH, KW = table.unpack(w.shape)
  local Og = O // groups
  local OH = (H + 2 * p[1] - d[1] * (KH - 1) - 1) // s[1] + 1
  local OW = (Wd + 2 * p[2] - d[2] * (KW - 1) - 1) // s[2] + 1
  local out = {}
  for n = 1, N do
    out[n] = {}
    for o = 1, O do
      out[n][o] = {}
      local g = (o - 1) // Og
      for i = 1, OH do
        out[n][o][i] = {}
        for j = 1, OW do
          local acc = Bv and Bv[o] or 0
          for c = 1, Cg do
            for a = 1, KH do
              for e = 1, KW do
                local ih = (i - 1) * s[1] - p[1] + (a - 1) * d[1] + 1
                local iw = (j - 1) * s[2] - p[2] + (e - 1) * d[2] + 1
                if ih >= 1 and ih <= H and iw >= 1 and iw <= Wd then
                  acc = acc + X[n][g * Cg + c][ih][iw] * Wt[o][c][a][e]
                end
              end
            end
          end
          out[n][o][i][j] = acc
        end
      end
    end
  end
  return lp.tensor(out, "float64")
end

local function direct_pool(x, k, s, p)
  local X = x:astype("float64"):totable()
  local N, C, H, W = table.unpack(x.shape)
  local OH, OW = (H + 2 * p[1] - k[1]) // s[1] + 1, (W + 2 * p[2] - k[2]) // s[2] + 1
  local out = {}
  for n = 1, N do
    out[n] = {}
    for c = 1, C do
      out[n][c] = {}
      for i = 1, OH do
        out[n][c][i] = {}
        for j = 1, OW do
          local acc = 0
          for a = 1, k[1] do
            for e = 1, k[2] do
              local ih, iw = (i - 1) * s[1] - p[1] + a, (j - 1) * s[2] - p[2] + e
              if ih >= 1 and ih <= H and iw >= 1 and iw <= W then acc = acc + X[n][c][ih][iw] end
            end
          end
          out[n][c][i][j] = acc
        end
      end
    end
  end
  return lp.tensor(out, "float64")
end

describe("lp.conv2d", function()
  local cases = {
    { x = { 2, 3, 7, 6 }, w = { 4, 3, 3, 3 }, s = { 1, 1 }, p = { 0, 0 }, d = { 1, 1 }, g = 1, bias = true },
    { x = { 1, 4, 9, 8 }, w = { 6, 2, 3, 2 }, s = { 2, 1 }, p = { 1, 2 }, d = { 1, 2 }, g = 2, bias = true },
    { x = { 3, 2, 5, 5 }, w = { 2, 2, 5, 5 }, s = { 2, 2 }, p = { 2, 2 }, d = { 1, 1 }, g = 1, bias = false },
    { x = { 1, 4, 6, 6 }, w = { 4, 1, 3, 3 }, s = { 1, 2 }, p = { 1, 0 }, d = { 2, 1 }, g = 4, bias = true },
  }

  it("matches the direct loop (float32 and float64), and the C reference", function()
    for _, c in ipairs(cases) do
      for _, dt in ipairs { "float32", "float64" } do
        local x, w = lp.randn(c.x, dt), lp.randn(c.w, dt)
        local b = c.bias and lp.randn({ c.w[1] }, dt) or nil
        local o = { stride = c.s, padding = c.p, dilation = c.d, groups = c.g }
        local y = lp.conv2d(x, w, b, o)
        assert.tensor_near(direct_conv(x, w, b, c.s, c.p, c.d, c.g), y, dt == "float32" and 1e-4 or 1e-12)
        assert.tensor_near(lp.conv2d_ref(x, w, b, o), y, dt == "float32" and 1e-5 or 1e-12)
      end
    end
  end)

  it("takes the event-driven path on sparse input with the same values and gradients #grad", function()
    for _, c in ipairs(cases) do
      -- 8 % nonzero (the path runs under 15 %), values not just 0/1
      local x = lp.rand(c.x, "float64"):lt(0.08):astype("float64") * lp.randn(c.x, "float64")
      local w = lp.randn(c.w, "float64")
      local b = c.bias and lp.randn({ c.w[1] }, "float64") or nil
      local o = { stride = c.s, padding = c.p, dilation = c.d, groups = c.g }
      assert.tensor_near(direct_conv(x, w, b, c.s, c.p, c.d, c.g), lp.conv2d(x, w, b, o), 1e-12)
      -- dw is gathered event by event when x needs no gradient
      assert.is_true(ag.gradcheck(function(k) return lp.conv2d(x, k, b, o) end, { w }))
    end
  end)

  it("event-driven path with 8, 16 and 32 output channels (the unrolled loops) matches the reference #grad", function()
    for _, O in ipairs { 8, 16, 32 } do
      for _, dt in ipairs { "float32", "float64" } do
        local x = lp.rand({ 2, 2, 9, 9 }, dt):lt(0.05):astype(dt)   -- ~5 %, well under 15 %
        local w, b = lp.randn({ O, 2, 5, 5 }, dt), lp.randn({ O }, dt)
        local o = { stride = { 2, 2 }, padding = { 1, 1 } }
        assert.tensor_near(lp.conv2d_ref(x, w, b, o), lp.conv2d(x, w, b, o), dt == "float32" and 1e-5 or 1e-12)
      end
      local x = lp.zeros({ 1, 1, 6, 6 }, "float64")   -- 3 events in 36 (8 %, under the 15 % bound)
      x:set(1, 1, 1, 1, 1); x:set(1, 1, 3, 4, 0.5); x:set(1, 1, 6, 5, -2)
      local w = lp.randn({ O, 1, 3, 3 }, "float64")
      assert.is_true(ag.gradcheck(function(k) return lp.conv2d(x, k, nil, { padding = { 1, 1 } }) end, { w }))
    end
  end)

  it("event path: bias and input gradients, spike counts, 0 % input, float32 against float64 #grad", function()
    for _, c in ipairs(cases) do
      local o = { stride = c.s, padding = c.p, dilation = c.d, groups = c.g }
      -- spike counts 0..4 (a SumPool2 of spikes), ~6 % nonzero
      local x = lp.rand(c.x, "float64"):lt(0.06):astype("float64") * (lp.rand(c.x, "float64") * 4 + 1):floor()
      local w, b = lp.randn(c.w, "float64"), lp.randn({ c.w[1] }, "float64")
      assert.tensor_near(lp.conv2d_ref(x, w, b, o), lp.conv2d(x, w, b, o), 1e-12)
      assert.is_true(ag.gradcheck(function(k, bb) return lp.conv2d(x, k, bb, o) end, { w, b }))
      -- x needing a gradient too: dx by the dense path, dw and db from the forward's event list
      assert.is_true(ag.gradcheck(function(a, k, bb) return lp.conv2d(a, k, bb, o) end, { x, w, b }))
      -- the float32 build of the loops against float64
      local gw, gb = {}, {}
      for _, dt in ipairs { "float32", "float64" } do
        local kw, kb = w:astype(dt):requires_grad(true), b:astype(dt):requires_grad(true)
        local y = lp.conv2d(x:astype(dt), kw, kb, o)
        y:backward(lp.ones(y.shape, dt) * 0.5)
        gw[dt], gb[dt] = kw.grad:astype("float64"), kb.grad:astype("float64")
      end
      assert.tensor_near(gw.float64, gw.float32, 1e-4)
      assert.tensor_near(gb.float64, gb.float32, 1e-4)
      -- an all-zero input: the bias alone, and dw = 0
      local z = lp.zeros(c.x, "float64")
      local kw = w:clone():requires_grad(true)
      local y = lp.conv2d(z, kw, b, o)
      assert.tensor_near(lp.conv2d_ref(z, w, b, o), y, 0)
      y:sum():backward()
      assert.tensor_near(lp.zeros(c.w, "float64"), kw.grad, 0)
    end
  end)

  it("dense inputs (100 % and 20 %) match the reference, gradients included #grad", function()
    for _, c in ipairs(cases) do
      local o = { stride = c.s, padding = c.p, dilation = c.d, groups = c.g }
      for _, p in ipairs { 1.0, 0.2 } do
        local x = lp.rand(c.x, "float64"):lt(p):astype("float64") * (lp.rand(c.x, "float64") * 4 + 1):floor()
        local w, b = lp.randn(c.w, "float64"), lp.randn({ c.w[1] }, "float64")
        assert.tensor_near(lp.conv2d_ref(x, w, b, o), lp.conv2d(x, w, b, o), 1e-12)
        assert.is_true(ag.gradcheck(function(a, k, bb) return lp.conv2d(a, k, bb, o) end, { x, w, b }))
      end
    end
  end)

  it("has gradients for input, weight and bias #grad", function()
    for _, c in ipairs(cases) do
      local x, w = lp.randn(c.x, "float64"), lp.randn(c.w, "float64")
      local o = { stride = c.s, padding = c.p, dilation = c.d, groups = c.g }
      if c.bias then
        assert.is_true(ag.gradcheck(function(a, k, b) return lp.conv2d(a, k, b, o) end,
          { x, w, lp.randn({ c.w[1] }, "float64") }))
      else
        assert.is_true(ag.gradcheck(function(a, k) return lp.conv2d(a, k, o) end, { x, w }))
      end
    end
  end)

  it("refuses bad shapes and options by argument", function()
    local x, w = lp.randn({ 1, 3, 5, 5 }), lp.randn({ 2, 3, 3, 3 })
    assert.has_error(function() lp.conv2d(lp.randn({ 3, 5, 5 }), w) end,
      "bad argument #1 to 'conv2d' (input must be (N, C, H, W), got 3 dims)")
    assert.has_error(function() lp.conv2d(x, lp.randn({ 2, 2, 3, 3 })) end,
      "bad argument #2 to 'conv2d' (weight (2, 2, ...) with groups 1 does not fit 3 input channels)")
    assert.has_error(function() lp.conv2d(x, w, lp.randn({ 3 })) end,
      "bad argument #3 to 'conv2d' (bias must be (2,) of the input's dtype)")
    assert.has_error(function() lp.conv2d(x, w, nil, { strides = 2 }) end,
      "bad argument #4 to 'conv2d' (unknown field 'strides')")
    assert.has_error(function() lp.conv2d(x, w, nil, { stride = 0 }) end,
      "bad argument #4 to 'conv2d' (field 'stride' must be >= 1)")
    assert.has_error(function() lp.conv2d(x, lp.randn({ 2, 3, 7, 7 })) end,
      "bad argument #1 to 'conv2d' (input 5x5 is smaller than the (dilated) kernel)")
  end)
end)

describe("lp.sum_pool2d", function()
  it("matches the direct loop and has a gradient #grad", function()
    for _, c in ipairs { { k = { 2, 2 }, s = { 2, 2 }, p = { 0, 0 } }, { k = { 3, 2 }, s = { 1, 2 }, p = { 1, 1 } } } do
      local x = lp.randn({ 2, 3, 7, 6 }, "float64")
      local o = { kernel_size = c.k, stride = c.s, padding = c.p }
      assert.tensor_near(direct_pool(x, c.k, c.s, c.p), lp.sum_pool2d(x, o), 1e-12)
      assert.is_true(ag.gradcheck(function(a) return lp.sum_pool2d(a, o) end, { x }))
    end
  end)

  it("row loops (and the 2x2 stride-2 loop) match the per-element reference, gradients included #grad", function()
    local cases = {
      { x = { 2, 3, 8, 6 }, k = { 2, 2 }, s = { 2, 2 }, p = { 0, 0 } },   -- 2x2 tiling exactly: dx written once
      { x = { 1, 2, 7, 5 }, k = { 2, 2 }, s = { 2, 2 }, p = { 0, 0 } },   -- odd sizes: the last row/column unused
      { x = { 2, 2, 7, 6 }, k = { 3, 2 }, s = { 1, 2 }, p = { 1, 1 } },   -- overlapping, padded
      { x = { 1, 3, 9, 9 }, k = { 3, 3 }, s = { 2, 3 }, p = { 1, 0 } },
      { x = { 1, 1, 5, 6 }, k = { 2, 4 }, s = { 3, 1 }, p = { 1, 2 } },
    }
    for _, c in ipairs(cases) do
      local o = { kernel_size = c.k, stride = c.s, padding = c.p }
      for _, dt in ipairs { "float32", "float64" } do
        -- spike counts (small integers) and general values
        for _, x in ipairs { (lp.rand(c.x, dt) * 5):floor(), lp.randn(c.x, dt) } do
          assert.tensor_near(lp.sum_pool2d_ref(x, o), lp.sum_pool2d(x, o), dt == "float32" and 1e-6 or 1e-13)
        end
      end
      local x = lp.randn(c.x, "float64")
      assert.tensor_near(direct_pool(x, c.k, c.s, c.p), lp.sum_pool2d_ref(x, o), 1e-12)
      assert.is_true(ag.gradcheck(function(a) return lp.sum_pool2d(a, o) end, { x }))
      -- the backward's scatter, against dy routed through the reference's windows by hand
      local xg = lp.randn(c.x, "float64"):requires_grad(true)
      local y = lp.sum_pool2d(xg, o)
      local dy = lp.randn(y.shape, "float64")
      y:backward(dy)
      local want = lp.zeros(c.x, "float64")
      local N, C, H, W = table.unpack(c.x)
      local D = dy:totable()
      local acc = {}
      for n = 1, N do for ch = 1, C do for i = 1, y.shape[3] do for j = 1, y.shape[4] do
        for a = 1, c.k[1] do for e = 1, c.k[2] do
          local ih, iw = (i - 1) * c.s[1] - c.p[1] + a, (j - 1) * c.s[2] - c.p[2] + e
          if ih >= 1 and ih <= H and iw >= 1 and iw <= W then
            local key = ((n * C + ch) * H + ih) * W + iw
            acc[key] = (acc[key] or 0) + D[n][ch][i][j]
          end
        end end
      end end end end
      for n = 1, N do for ch = 1, C do for ih = 1, H do for iw = 1, W do
        want:set(n, ch, ih, iw, acc[((n * C + ch) * H + ih) * W + iw] or 0)
      end end end end
      assert.tensor_near(want, xg.grad, 1e-12)
    end
  end)

  it("refuses a missing kernel and oversized padding", function()
    local x = lp.randn({ 1, 1, 4, 4 })
    assert.has_error(function() lp.sum_pool2d(x, {}) end,
      "bad argument #2 to 'sum_pool2d' (field 'kernel_size' is required)")
    assert.has_error(function() lp.sum_pool2d(x, { kernel_size = 2, padding = 2 }) end,
      "bad argument #2 to 'sum_pool2d' (kernel and stride must be >= 1, 0 <= padding <= kernel/2)")
    assert.has_error(function() lp.sum_pool2d_ref(x, { kernel_size = 2, strid = 2 }) end,
      "bad argument #2 to 'sum_pool2d_ref' (unknown field 'strid')")
  end)
end)

describe("nn.Conv2d, nn.Conv1d, nn.SumPool2d, nn.AvgPool2d, nn.Flatten", function()
  it("run every (batch, step) image through the kernel", function()
    local conv = nn.Conv2d(2, 3, 3, { stride = 2, padding = 1 })
    local x = lp.rand({ 2, 4, 2, 9, 9 })
    local y = conv(x)
    assert.are.same({ 2, 4, 3, 5, 5 }, y.shape)
    local one = lp.conv2d(x[2][3]:unsqueeze(1), conv.weight, conv.bias, { stride = 2, padding = 1 })
    assert.tensor_near(one[1], y[2][3], 1e-6)
    local pool = nn.AvgPool2d(2)
    local p = pool(y)
    assert.are.same({ 2, 4, 3, 2, 2 }, p.shape)
    assert.tensor_near(nn.SumPool2d(2)(y) * 0.25, p, 1e-6)
    local f = nn.Flatten()(p)
    assert.are.same({ 2, 4, 12 }, f.shape)
    local c1 = nn.Conv1d(3, 2, 2, { has_bias = false })
    assert.are.same({ 2, 4, 2, 9 }, c1(lp.rand({ 2, 4, 3, 10 })).shape)
    assert.is_nil(c1.bias)
  end)

  it("train: gradients reach the weights", function()
    local net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.SumPool2d(2), nn.Flatten(), nn.Linear({ 8, 3 }))
    local y = net(lp.rand({ 2, 3, 1, 6, 6 }))
    y:sum():backward()
    assert.is_true(net["1_Conv2d"].weight.grad:abs():sum():item() > 0)
    assert.is_true(net["1_Conv2d"].bias.grad:abs():sum():item() > 0)
  end)

  it("refuse bad arguments by name", function()
    assert.has_error(function() nn.Conv2d(0, 2, 3) end,
      "bad argument #1 to 'Conv2d' (in_channels must be an integer >= 1, got 0)")
    assert.has_error(function() nn.Conv2d(4, 6, 3, { groups = 4 }) end,
      "bad argument #4 to 'Conv2d' (field 'groups' must divide in_channels 4 and out_channels 6)")
    assert.has_error(function() nn.Conv2d(2, 2, 3, { strid = 1 }) end,
      "bad argument #4 to 'Conv2d' (unknown field 'strid')")
    assert.has_error(function() nn.Conv2d(2, 2, 3)(lp.rand({ 1, 2, 3, 5, 5 })) end,
      "bad argument #1 to 'evolve' (Conv2d expects 2 input channels, got (1, 2, 3, 5, 5))")
    assert.has_error(function() nn.SumPool2d(2, { padding = 2 }) end,
      "bad argument #2 to 'SumPool2d' (field 'padding' must be at most half the kernel)")
  end)

  it("save and load through nn.save", function()
    local net = nn.Sequential(nn.Conv2d(1, 2, 3, { padding = 1 }), nn.AvgPool2d(2), nn.Flatten())
    local path = os.tmpname() .. ".npz"
    assert(net:save(path))
    local again = nn.load(path)
    local x = lp.rand({ 1, 2, 1, 4, 4 })
    assert.tensor_near(net(x), again(x), 1e-6)
    os.remove(path)
  end)
end)
