-- spec/join_spec.lua -- lp.cat / lp.stack over any number of tensors.
local lp = require "limpet"

describe("lp.cat and lp.stack", function()
  it("join any number of tensors (more than 256), gradients included", function()
    local l = {}
    for i = 1, 700 do l[i] = lp.full({ 2 }, i + 0.0):requires_grad(true) end
    local s = lp.stack(l, 1)
    assert.are.same({ 700, 2 }, s.shape)
    assert.are.equal(1400, s:slice(1, 700, 700):sum():item())
    local loss = (s * 3):sum()
    loss:backward()
    assert.tensor_near(lp.full({ 2 }, 3.0), l[555].grad, 0)
    assert.are.same({ 1400 }, lp.cat(l).shape)
    assert.are.same({ 2, 700 }, lp.stack(l, 2).shape)
  end)
end)
