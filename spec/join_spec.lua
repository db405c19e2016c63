-- spec/join_spec.lua -- lp.cat / lp.stack over any number of tensors; index_select, flip, gather.
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

describe("index_select, flip, gather", function()
  local x = lp.arange(0, 24):reshape({ 2, 3, 4 }):astype("float64")

  it("select, reverse and gather by 1-based positions", function()
    assert.tensor_near(lp.tensor({ { { 3, 0 }, { 7, 4 }, { 11, 8 } }, { { 15, 12 }, { 19, 16 }, { 23, 20 } } }, "float64"),
      x:index_select(3, { 4, 1 }), 0)
    assert.tensor_near(x:index_select(2, { 3, 2, 1 }), x:flip(2), 0)
    assert.tensor_near(x:index_select(3, { -1 }), lp.index_select(x, 3, { 4 }), 0)
    local idx = lp.tensor({ { { 1, 2 }, { 3, 3 }, { 1, -1 } }, { { 2, 2 }, { 1, 4 }, { 4, 1 } } }, "int64")
    local g = x:gather(3, idx)
    local want = {}
    local xt, it_ = x:totable(), idx:totable()
    for a = 1, 2 do
      want[a] = {}
      for b = 1, 3 do
        want[a][b] = {}
        for c = 1, 2 do
          local k = it_[a][b][c]
          if k < 0 then k = 5 + k end
          want[a][b][c] = xt[a][b][k]
        end
      end
    end
    assert.tensor_near(lp.tensor(want, "float64"), g, 0)
  end)

  it("have gradients #grad", function()
    local idx = lp.tensor({ { { 1, 2 }, { 3, 3 }, { 1, 1 } }, { { 2, 2 }, { 1, 4 }, { 4, 1 } } }, "int64")
    assert.is_true(lp.autograd.gradcheck(function(a) return a:gather(3, idx) end, { x }))
    assert.is_true(lp.autograd.gradcheck(function(a) return a:flip(1):index_select(2, { 3, 1, 3 }) end, { x }))
  end)

  it("refuse bad dims and indices by argument", function()
    assert.has_error(function() x:flip(4) end, "bad argument #1 to 'flip' (dim must be an integer in 1..3 or -3..-1, got 4)")
    assert.has_error(function() x:gather(3, lp.ones({ 2, 3, 2 }, "int64") * 5) end,
      "bad argument #2 to 'gather' (index out of range 1..4)")
    assert.has_error(function() x:gather(3, lp.ones({ 2, 3 }, "int64")) end,
      "bad argument #2 to 'gather' (index must have 3 dims, got 2)")
  end)
end)
