-- spec/nn/linear_spec.lua -- nn.Linear: y = x·W (+ b), init, options.
local lp = require "limpet"
local nn = lp.nn

describe("nn.Linear", function()
  it("computes x·W (+ b) with W (Nin, Nout)", function()
    local W = lp.tensor { { 1, 2 }, { 3, 4 }, { 5, 6 } }
    local m = nn.Linear({ 3, 2 }, { weight = W })
    assert.equals(0, m.bias)                -- no bias parameter: reads 0 (Rockpool)
    assert.is_nil(m:parameters().bias)
    local y = m(lp.tensor { { 1, 0, 1 } })
    assert.tensor_near(lp.tensor { { { 6, 8 } } }, y)
    local mb = nn.Linear({ 3, 2 }, { weight = W, bias = lp.tensor { 1, -1 } })
    assert.tensor_near(lp.tensor { { { 7, 7 } } }, mb(lp.tensor { { 1, 0, 1 } }))
    assert.equals("biases", mb:attribute_family("bias"))
    assert.equals("weights", mb:attribute_family("weight"))
  end)

  it("copies the given weight rather than adopting it", function()
    local W = lp.ones(2, 2)
    local m = nn.Linear({ 2, 2 }, { weight = W })
    assert.are_not.equal(W, m.weight)
    assert.is_false(W:requires_grad())
  end)

  it("draws kaiming-uniform weights within sqrt(6 / Nin)", function()
    local m = nn.Linear({ 50, 40 }, { has_bias = true })
    local bound = math.sqrt(6 / 50)
    assert.is_true(m.weight:abs():max():item() <= bound)
    assert.is_true(m.weight:abs():max():item() > 0.8 * bound)
    assert.is_true(m.bias:abs():max():item() <= math.sqrt(1 / 50))
    local before = m.weight:clone()
    m:reset_parameters()
    assert.is_true((m.weight - before):abs():max():item() > 0)
  end)

  it("freezes a constant weight", function()
    local m = nn.Linear({ 2, 2 }, { weight = nn.Constant(lp.eye(2)) })
    assert.is_nil(m:parameters().weight)
    assert.tensor_near(lp.eye(2), m:simulation_parameters().weight)
  end)

  it("rejects bad shapes and options", function()
    assert.has_error(function() nn.Linear(3) end, "bad argument #1 to 'Linear' (shape must be {Nin, Nout})")
    assert.has_error(function() nn.Linear({ 3, 2 }, { bais = 1 }) end,
      "bad argument #2 to 'Linear' (unknown field 'bais')")
    assert.has_error(function() nn.Linear({ 3, 2 }, { weight = lp.ones(2, 3) }) end,
      "bad argument #2 to 'Linear' (weight: expected shape (3, 2), got (2, 3))")
    assert.has_error(function() nn.Linear({ 3, 0 }) end,
      "bad argument #1 to 'Linear' (shape must be a positive integer or a table of them)")
  end)
end)
