-- spec/nn/delay_spec.lua -- nn.Delay: shifted values per channel, gradients,
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
