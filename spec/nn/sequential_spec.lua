-- spec/nn/sequential_spec.lua -- Sequential, Residual, FFwdStack, Instant,
-- dropout (ports the behaviour of Rockpool's test_sequential.py and
-- test_residual.py).
local lp = require "limpet"
local nn = lp.nn

local Mod = nn.Module:extend("Mod")
function Mod:init(n)
  nn.Module.init(self, n)
  self:state("activation", 0, { shape = n })
  self:parameter("bias", nil, { shape = n, init = function(s) return lp.randn(s) end })
end
function Mod:evolve(x) x = self:_auto_batch(x); return x + self.bias, {}, {} end

describe("nn.Sequential", function()
  it("chains modules with Rockpool-style names", function()
    local seq = nn.Sequential(Mod(10), nn.Linear({ 10, 20 }), Mod(20), nn.Linear({ 20, 30 }), Mod(30),
      nn.Linear({ 30, 1 }), Mod(1))
    assert.same({ 10, 1 }, seq.shape)
    assert.equals(7, #seq)
    assert.equals("2_Linear", seq[2].name)
    assert.equals(seq[2], seq["2_Linear"])
    local out = seq(lp.rand(100, 10))
    assert.same({ 1, 100, 1 }, out.shape)
    local p = seq:parameters()
    assert.equals(seq[2].weight, p["2_Linear"].weight)
    assert.equals(seq[1].bias, p["1_Mod"].bias)
    assert.same({ 20 }, seq:state()["3_Mod"].activation.shape)
  end)

  it("accepts a table and append, and nests states and records", function()
    local seq = nn.Sequential { nn.Linear({ 2, 3 }), nn.Instant("tanh") }
    seq:append(nn.Linear({ 3, 4 }), "readout")
    assert.equals("readout", seq[3].name)
    local out, st, rec = seq(lp.rand(5, 2), true)
    assert.same({ 1, 5, 4 }, out.shape)
    assert.same({}, st["1_Linear"])
    assert.same({ 1, 5, 3 }, rec["1_Linear_output"].shape)
    assert.equals(out, rec.readout_output)
    local y = lp.tanh(lp.matmul(lp.rand(1, 1, 2), seq[1].weight))
    assert.same({ 1, 1, 3 }, y.shape)
  end)

  it("names both modules and sizes when they do not fit", function()
    assert.has_error(function() nn.Sequential(nn.Linear({ 4, 256 }), nn.LIF(128)) end,
      "Sequential: output of '1_Linear' has 256 channels but '2_LIF' expects 128")
    local seq = nn.Sequential(nn.Linear({ 2, 3 }))
    assert.has_error(function() seq:append(nn.Linear({ 4, 1 })) end,
      "Sequential: output of '1_Linear' has 3 channels but '2_Linear' expects 4")
    assert.has_error(function() seq:append(nn.Linear({ 3, 1 }), "1_Linear") end,
      "bad argument #2 to 'append' (a module named '1_Linear' is already in the chain)")
    assert.has_error(function() nn.Sequential(nn.Linear({ 2, 3 }), 5) end,
      "bad argument #2 to 'Sequential' (module expected at position 2, got number)")
  end)

  it("prints the tree with shapes and parameter counts", function()
    local seq = nn.Sequential(nn.Linear({ 3, 2 }), nn.Instant("relu"))
    assert.equals("Sequential with shape (3, 2), 6 parameters {\n" ..
      "    Linear '1_Linear' with shape (3, 2), 6 parameters\n" ..
      "    Instant '2_Instant', 0 parameters\n}", tostring(seq))
  end)
end)

describe("nn.Residual", function()
  it("adds the input to the block's output", function()
    local a = nn.Linear({ 3, 5 }); local b = nn.Linear({ 5, 3 })
    local r = nn.Residual(a, b)
    local x = lp.rand(2, 7, 3)
    local out = r(x, true)
    local want = lp.matmul(lp.matmul(x, a.weight), b.weight) + x
    assert.tensor_near(want, out, 1e-5)
    assert.same({ 1, 4, 3 }, r(lp.rand(4, 3)).shape)
  end)

  it("checks that the block keeps the size", function()
    assert.has_error(function() nn.Residual(nn.Linear({ 3, 5 }), nn.Linear({ 5, 4 })) end,
      "Residual: input has 3 channels but output of '2_Linear' has 4")
  end)
end)

describe("nn.FFwdStack", function()
  it("inserts weights between modules", function()
    local s = nn.FFwdStack(Mod(10), Mod(20), Mod(30), Mod(1))
    assert.equals(7, #s)
    assert.same({ 10, 20 }, s[2].shape)
    assert.equals("4_Linear", s[4].name)
    assert.same({ 1, 100, 1 }, s(lp.rand(100, 10)).shape)
  end)
end)

describe("nn.Instant", function()
  it("applies a function or a named lp function", function()
    local x = lp.randn(3, 4)
    assert.tensor_near(lp.tanh(x):unsqueeze(1), nn.Instant("tanh")(x))
    assert.tensor_near((x * 2):unsqueeze(1), nn.Instant(function(z) return z * 2 end, 4)(x))
    assert.has_error(function() nn.Instant("nope") end, "bad argument #1 to 'Instant' (no lp function named 'nope')")
  end)
end)

describe("dropout", function()
  it("acts only in training mode", function()
    lp.seed(3)
    local x = lp.ones(2, 50, 40)
    local u = nn.UnitDropout(40, { p = 0.5 })
    local y = u(x)
    local vals = {}
    for _, v in ipairs(y:reshape(-1):totable()) do vals[v] = true end
    assert.same({ [0.0] = true, [2.0] = true }, vals)
    -- one mask per (batch row, unit): a unit is dropped for all time steps
    local col = y:slice(1, 1, 1):slice(3, 1, 1)
    assert.equals(col:max():item(), col:min():item())
    u:eval()
    assert.tensor_near(x, u(x))
    local t = nn.TimeStepDropout(40, { p = 0.25 })
    local z = t(x)
    assert.equals(1.0, z:max():item())
    assert.is_true(z:mean():item() > 0.6 and z:mean():item() < 0.9)
    assert.tensor_near(x, t:eval()(x))
    assert.has_error(function() nn.UnitDropout(4, { p = 1.5 }) end,
      "bad argument #2 to 'UnitDropout' (field 'p' must be a number in [0, 1])")
  end)
end)
