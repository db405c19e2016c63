-- spec/nn/stateless_spec.lua -- nn.Delay, nn.Scale, nn.Threshold: values, gradients,
-- NIR round trip, errors.
local lp = require "limpet"
local nn = lp.nn

describe("nn.Delay", function()
  it("delays each channel by its own number of steps", function()
    local m = nn.Delay(3, { delay = { 0, 2, 1 } })
    local x = lp.rand({ 2, 5, 3 })
    local y = m(x)
    local xt, yt = x:totable(), y:totable()
    for b = 1, 2 do
      for t = 1, 5 do
        for c, d in ipairs { 0, 2, 1 } do
          assert.are.equal(t - d >= 1 and xt[b][t - d][c] or 0, yt[b][t][c])
        end
      end
    end
    assert.tensor_near(lp.zeros({ 1, 4, 2 }), nn.Delay(2, { delay = 9 })(lp.rand({ 1, 4, 2 })), 0)
  end)

  it("has gradients through the values #grad", function()
    local m = nn.Delay(2, { delay = { 1, 3 } })
    assert.is_true(lp.autograd.gradcheck(function(x) return (m(x)) end, { lp.randn({ 2, 6, 2 }, "float64") }))
  end)

  it("round-trips through NIR", function()
    local net = nn.Sequential(nn.Linear({ 2, 3 }), nn.Delay(3, { delay = { 1, 0, 2 } }))
    local path = os.tmpname() .. ".nir"
    assert(lp.nir.save(net, path))
    local x = lp.rand({ 2, 7, 2 })
    assert.tensor_near(net(x), lp.nir.load(path)(x), 1e-6)
    os.remove(path)
  end)

  it("refuses bad delays", function()
    assert.has_error(function() nn.Delay(2, { delay = { 1 } }) end,
      "bad argument #2 to 'Delay' (field 'delay' must be a number or 2 integers)")
    assert.has_error(function() nn.Delay(2, { delay = -1 }) end,
      "bad argument #2 to 'Delay' (field 'delay' must hold non-negative integers (steps))")
  end)
end)

describe("nn.Scale and nn.Threshold", function()
  it("scale and threshold per element, with gradients, and round-trip through NIR", function()
    local sc = nn.Scale({ 2, 3 }, { scale = lp.tensor({ { 1, 2, 3 }, { 4, 5, 6 } }) })
    local th = nn.Threshold({ 2, 3 }, { threshold = 0.5 })
    local x = lp.rand({ 2, 4, 2, 3 })
    assert.tensor_near(x * sc.scale, sc(x), 0)
    assert.tensor_near(x:gt(0.5):astype("float32"), th(x), 0)
    local y = th(sc(x))
    y:sum():backward()
    assert.is_true(sc.scale.grad:abs():sum():item() > 0)
    assert.is_true(th.threshold.grad:abs():sum():item() > 0)
    local net = nn.Sequential(nn.Linear({ 3, 4 }), nn.Scale(4, { scale = 2 }), nn.Threshold(4, { threshold = 0.3 }))
    local path = os.tmpname() .. ".nir"
    assert(lp.nir.save(net, path))
    local x2 = lp.rand({ 2, 5, 3 })
    assert.tensor_near(net(x2), lp.nir.load(path)(x2), 0)
    os.remove(path)
  end)

  it("refuse bad options", function()
    assert.has_error(function() nn.Scale(3, { scal = 1 }) end, "bad argument #2 to 'Scale' (unknown field 'scal')")
    assert.has_error(function() nn.Threshold(3, { surrogate_scale = 0 }) end,
      "bad argument #2 to 'Threshold' (field 'surrogate_scale' must be a positive number)")
  end)
end)

describe("the NIR layers through nn.save / nn.load", function()
  it("come back with the same outputs", function()
    local net = nn.Sequential(nn.Linear({ 3, 4 }), nn.CubaLIF(4, { v_threshold = 0.2 }), nn.BatchNorm(4),
      nn.Delay(4, { delay = { 0, 1, 2, 1 } }), nn.Scale(4), nn.Threshold(4), nn.LI(4), nn.IF(4))
    local path = os.tmpname() .. ".npz"
    assert(net:save(path))
    local back = nn.load(path)
    local x = lp.rand({ 2, 6, 3 })
    net:reset_state(); back:reset_state()
    assert.tensor_near(net(x), back(x), 0)
    os.remove(path)
  end)
end)

describe("issue 16: nn's shape and check helpers refuse bad arguments by name", function()
  local function err(f, ...) local ok, e = pcall(f, ...); assert.is_false(ok); return tostring(e) end
  it("Delay's channel count goes through the size cap; output_shape_for, decay_of, check name themselves", function()
    local cap = lp.config().max_bytes
    lp.config { max_bytes = 64 << 20 }
    local e = err(nn.Delay, 1 << 31)
    lp.config { max_bytes = cap }
    assert.matches("Delay: a list of delays of 2147483648 entries needs %d+ bytes, more than the cap of", e)
    assert.matches("bad argument #1 to 'output_shape_for' %(a shape table expected, got nil%)",
      err(nn.Flatten().output_shape_for, nn.Flatten()))
    local pool = nn.SumPool2d(2)
    assert.matches("bad argument #1 to 'output_shape_for' %(a shape of 3 entries expected, got 2%)",
      err(pool.output_shape_for, pool, { 1, 4 }))
    assert.matches("the input is smaller than the kernel", err(pool.output_shape_for, pool, { 1, 1, 4 }))
    assert.are.same({ 1, 2, 2 }, pool:output_shape_for { 1, 4, 4 })
    assert.matches("bad argument #2 to 'decay_of' %(a tensor of time constants expected, got nil%)",
      err(nn.LIF.decay_of, 1e-3))
    assert.matches("bad argument #1 to 'check' %(an nn module expected, got nil%)", err(nn.check))
    assert.matches("bad argument #1 to 'first_violation' %(an nn module expected, got number%)", err(nn.first_violation, 3))
    assert.matches("bad argument #1 to 'TimedModuleWrapper' %(module expected, got nil%)", err(nn.TimedModuleWrapper))
  end)
end)
