-- spec/parity/tensor_parity_spec.lua -- issue 14, tensor side: the NumPy
-- elementwise functions (item 16: sin ... trunc, arctan2, hypot, `//`), with
-- values against Lua's math library in float64 and a gradcheck each; the
-- NumPy reductions and scans (item 25: all, any, median, nansum, nanmean,
-- nanmax, nanmin, logsumexp, cumsum, cumprod, cummax, cummin, ptp,
-- count_nonzero, diff, average) with dims, keepdim and gradients; and
-- tostring(t) showing a tensor's values (item 14).
-- Kernels: core/src/elementwise.c, core/src/reduce.c; backwards:
-- core/src/grad_ops.c; bindings: lua/l_ops.c; Lua helpers:
-- stdlib/limpet/tensor.lua.
local lp = require "limpet"
local ag = lp.autograd

local function F(v) return lp.tensor(v, "float64") end
local function flat(t) return t:reshape(-1):totable() end
local function check(f, inputs) assert.is_true(ag.gradcheck(f, inputs)) end
local function msg(f, ...) local ok, e = pcall(f, ...); assert.is_false(ok); return (e:gsub("^.-:%d+: ", "")) end
local function isnan(x) return x ~= x end

-- x in (-0.9, 0.9) away from 0, deterministic
local X = { -0.83, -0.41, -0.07, 0.12, 0.55, 0.88 }
local P = { 1.2, 1.7, 2.3, 3.1 }            -- > 1 (arccosh)

local function asinh(x) return math.log(x + math.sqrt(x * x + 1)) end
local function acosh(x) return math.log(x + math.sqrt(x * x - 1)) end
local function atanh(x) return 0.5 * math.log((1 + x) / (1 - x)) end
local function sinh(x) return (math.exp(x) - math.exp(-x)) / 2 end
local function cosh(x) return (math.exp(x) + math.exp(-x)) / 2 end
local function cbrt(x) return x < 0 and -((-x) ^ (1 / 3)) or x ^ (1 / 3) end

local UNARY = {
  { "sin", math.sin }, { "cos", math.cos }, { "tan", math.tan },
  { "arcsin", math.asin }, { "arccos", math.acos }, { "arctan", math.atan },
  { "sinh", sinh }, { "cosh", cosh }, { "arcsinh", asinh }, { "arctanh", atanh },
  { "log1p", function(x) return math.log(1 + x) end }, { "expm1", function(x) return math.exp(x) - 1 end },
  { "exp2", function(x) return 2 ^ x end }, { "square", function(x) return x * x end },
  { "reciprocal", function(x) return 1 / x end }, { "cbrt", cbrt },
}

describe("item 16: NumPy's elementwise functions", function()
  it("match the math library in float64, as methods and module functions", function()
    local x = F(X)
    for _, case in ipairs(UNARY) do
      local name, ref = case[1], case[2]
      local want = {}
      for i, v in ipairs(X) do want[i] = ref(v) end
      assert.tensor_near(F(want), x[name](x), 1e-12)
      assert.tensor_near(F(want), lp[name](x), 1e-12)
    end
    local p = F(P)
    local want = {}
    for i, v in ipairs(P) do want[i] = acosh(v) end
    assert.tensor_near(F(want), p:arccosh(), 1e-12)
    assert.tensor_near(F { 3, 0.5 }, F { 8, math.sqrt(2) }:log2(), 1e-12)
    assert.tensor_near(F { 3, -1 }, F { 1000, 0.1 }:log10(), 1e-12)
    assert.are.same({ 1, -1, 0, -2 }, flat(F { 1.7, -1.7, 0.2, -2.9 }:trunc()))
  end)

  it("accept numbers and tables, and give float32 for integers (NumPy: float)", function()
    assert.are.equal("float32", lp.sin(lp.arange(0, 3)).dtype)
    assert.are.equal(0, lp.sin(0):item())
    assert.tensor_near(lp.tensor { 0, 1 }, lp.sin { 0, math.pi / 2 }, 1e-6)
    assert.are.equal("int64", lp.arange(0, 3):square().dtype)     -- square and trunc keep integers
    assert.are.same({ 0, 1, 4 }, flat(lp.arange(0, 3):square()))
    assert.are.equal("int32", lp.tensor({ 1, 2 }, "int32"):trunc().dtype)
    assert.are.equal("float32", lp.tensor { 1, 2 }:sin().dtype)
  end)

  it("have the torch spellings asin, acos, atan, asinh, acosh, atanh and atan2", function()
    local x = F(X)
    assert.tensor_near(x:arcsin(), x:asin(), 0)
    assert.tensor_near(x:arccos(), lp.acos(x), 0)
    assert.tensor_near(x:arctan(), x:atan(), 0)
    assert.tensor_near(x:arcsinh(), x:asinh(), 0)
    assert.tensor_near(x:arctanh(), x:atanh(), 0)
    assert.tensor_near(F(P):arccosh(), F(P):acosh(), 0)
    assert.tensor_near(lp.arctan2(x, 0.5), lp.atan2(x, 0.5), 0)
  end)

  it("isfinite, arctan2, hypot, and floor division with //", function()
    assert.are.same({ true, false, false, false }, flat(F { 1, 0 / 0, 1 / 0, -1 / 0 }:isfinite()))
    assert.are.same({ true, true }, flat(lp.tensor({ 1, 2 }, "int32"):isfinite()))
    assert.tensor_near(F { math.pi / 4, -3 * math.pi / 4, math.pi / 2 },
      lp.arctan2(F { 1, -1, 1 }, F { 1, -1, 0 }), 1e-12)
    assert.tensor_near(F { 5, 13 }, lp.hypot(F { 3, 5 }, F { 4, 12 }), 1e-12)
    assert.are.same({ 3, -4, 3, -4 }, flat(lp.tensor { 7, -7, 6, -8 } // 2))   -- NumPy floor_divide
    assert.are.equal("int64", (lp.tensor { 7, -7 } // 2).dtype)
    assert.are.same({ 3, -4 }, flat(lp.tensor { 7.5, -7.5 } // 2))
    assert.are.same({ 2, -3 }, flat(7 // lp.tensor { 3, -3 }))
    assert.are.same({ 0 }, flat(lp.tensor { 7 } // 0))                          -- NumPy: 0 (with a warning)
    assert.are.same({ 1, 2 }, flat(lp.tensor { 3, 5 }:floor_divide(lp.tensor { 2, 2 })))
  end)

  it("have gradients (gradcheck each)", function()
    local x, p = F(X):reshape(2, 3), F(P)
    for _, case in ipairs(UNARY) do
      local name = case[1]
      check(function(a) return a[name](a) end, { x })
    end
    check(function(a) return a:arccosh() + a:log2() + a:log10() + a:sqrt():log1p() end, { p })
    check(function(a) return lp.sin(a) * lp.cos(a) + lp.expm1(a) end, { x })
    check(function(a, b) return lp.arctan2(a, b) end, { x, F { 0.7, -0.4, 1.3 } })
    check(function(a, b) return a:hypot(b) end, { x, F { 0.7, -0.4, 1.3 } })
    check(function(a) return lp.arctan2(a, 0.6) + lp.arctan2(0.6, a) + a:hypot(2) end, { x })
  end)

  it("trunc and // have zero gradient", function()
    local a = F { 1.5, -2.5 }:requires_grad(true)
    local y = (a:trunc() + a // 0.7) * 3
    y:sum():backward()
    assert.tensor_near(F { 0, 0 }, a.grad, 0)
  end)
end)

describe("item 25: NumPy's reductions", function()
  local m = F { { 3, 1, 2 }, { 0, 5, 4 } }

  it("all and any over everything or a dim, with keepdim", function()
    assert.is_true(lp.tensor({ true, true }):all():item())
    assert.is_false(m:all():item())
    assert.is_true(m:any():item())
    assert.are.same({ true, false }, flat(m:all(2)))
    assert.are.same({ 2, 1 }, m:all(2, true).shape)
    assert.are.same({ true, true, true }, flat(m:any(1)))
    assert.are.equal("bool", m:any().dtype)
    assert.is_true(F { 0 / 0 }:all():item())                  -- NaN is true, NumPy
    assert.is_true(lp.zeros { 0 }:all():item())               -- empty: all true, any false
    assert.is_false(lp.zeros { 0 }:any():item())
    assert.is_true(lp.all(lp.tensor { 1, 2 }):item())
  end)

  it("median as NumPy: the middle value, the mean of two for even counts, NaN with a NaN", function()
    assert.are.equal(2.5, m:median():item())
    assert.are.same({ 2, 4 }, flat(m:median(2)))
    assert.are.same({ 1.5, 3, 3 }, flat(m:median(1)))
    assert.are.same({ 1, 3 }, m:median(1, true).shape)
    assert.are.equal("float32", lp.tensor { 1, 2, 4 }:median().dtype)  -- integers give float
    assert.are.equal(2, lp.tensor { 1, 2, 4 }:median():item())
    assert.is_true(isnan(F { 1, 0 / 0, 3 }:median():item()))
    assert.is_true(isnan(lp.zeros { 0 }:median():item()))
  end)

  it("nansum, nanmean, nanmax, nanmin skip NaNs", function()
    local n = F { { 1, 0 / 0, 3 }, { 0 / 0, 0 / 0, 0 / 0 } }
    assert.are.equal(4, n:nansum():item())
    assert.are.same({ 4, 0 }, flat(n:nansum(2)))
    local mean = flat(n:nanmean(2))
    assert.are.equal(2, mean[1]); assert.is_true(isnan(mean[2]))
    local mx = flat(n:nanmax(2))
    assert.are.equal(3, mx[1]); assert.is_true(isnan(mx[2]))
    assert.are.equal(1, n:nanmin():item())
    assert.are.equal(3, n:nanmax():item())
    assert.are.equal(6, lp.tensor { 1, 2, 3 }:nansum():item())
    assert.are.equal("int64", lp.tensor { 1, 2, 3 }:nansum().dtype)
  end)

  it("logsumexp stably, ptp, count_nonzero, average", function()
    local big = F { 1000, 1000 }
    assert.is_true(math.abs(big:logsumexp():item() - (1000 + math.log(2))) < 1e-9)
    assert.tensor_near(F { math.log(math.exp(3) + math.exp(1) + math.exp(2)), math.log(1 + math.exp(5) + math.exp(4)) },
      m:logsumexp(2), 1e-12)
    assert.are.equal(-math.huge, lp.zeros({ 0 }, "float64"):logsumexp():item())
    assert.are.equal(5, m:ptp():item())
    assert.are.same({ 2, 5 }, flat(m:ptp(2)))
    assert.are.equal(5, m:count_nonzero():item())
    assert.are.same({ 1, 2, 2 }, flat(m:count_nonzero(1)))
    assert.are.equal(2.5, lp.count_nonzero(m):item() / 2)
    assert.are.same({ 2, 3 }, flat(m:average(2)))
    assert.tensor_near(F { 2, 3.25 }, m:average(2, { 1, 1, 2 }), 1e-12)
    assert.tensor_near(F { 2 / 3 * 3 + 1 / 3 * 0, 2 / 3 * 1 + 1 / 3 * 5, 2 / 3 * 2 + 1 / 3 * 4 },
      m:average(1, { 2, 1 }), 1e-12)
  end)

  it("quantile and percentile as NumPy's 'linear' method", function()
    local x = F { 7, 1, 3, 9, 5 }
    assert.are.equal(5, x:quantile(0.5):item())
    assert.are.equal(3, x:quantile(0.25):item())
    assert.are.equal(2.6, x:quantile(0.2):item())         -- np.quantile([7,1,3,9,5], 0.2) = 2.6
    assert.are.equal(9, x:percentile(100):item())
    assert.are.equal(1, x:percentile(0):item())
    assert.are.same({ 2, 4 }, flat(m:quantile(0.5, 2)))
    assert.are.same({ 2, 1 }, m:percentile(50, 2, true).shape)
    assert.are.equal(m:median():item(), m:quantile(0.5):item())
    assert.are.equal("bad argument #1 to 'quantile' (quantile must be in [0, 1])",
      msg(function() local r = x:quantile(1.5); return r end))
    check(function(a) return a:quantile(0.3, 2) + a:percentile(80):reshape(1) end,
      { F { { 0.3, -0.7, 1.1, 0.2 }, { 0.9, 0.4, -0.5, 0.6 } } })
  end)

  it("isclose and allclose as NumPy", function()
    assert.are.same({ true, false, true }, flat(F { 1, 2, 1 / 0 }:isclose { 1 + 1e-9, 2.1, 1 / 0 }))
    assert.is_true(F { 1, 2 }:allclose { 1, 2 + 1e-6 })
    assert.is_false(F { 1, 0 / 0 }:allclose { 1, 0 / 0 })
    assert.is_true(F { 1, 0 / 0 }:allclose({ 1, 0 / 0 }, { equal_nan = true }))
    assert.is_true(lp.allclose(F { 1 }, { 1.05 }, { rtol = 0.1 }))
  end)

  it("cumsum, cumprod, cummax, cummin along a dim or over the flattened tensor", function()
    assert.are.same({ 3, 4, 6, 0, 5, 9 }, flat(m:cumsum(2)))
    assert.are.same({ 3, 1, 2, 3, 6, 6 }, flat(m:cumsum(1)))
    assert.are.same({ 3, 4, 6, 6, 11, 15 }, flat(m:cumsum()))       -- NumPy: flattened
    assert.are.same({ 6 }, m:cumsum().shape)
    assert.are.same({ 3, 3, 6, 0, 0, 0 }, flat(m:cumprod(2)))
    assert.are.same({ 3, 3, 3, 0, 5, 5 }, flat(m:cummax(2)))
    assert.are.same({ 3, 1, 1, 0, 0, 0 }, flat(m:cummin(-1)))
    assert.are.equal("int64", lp.tensor({ 1, 2 }, "int32"):cumsum().dtype)   -- NumPy: int64
    assert.are.equal("float32", lp.tensor { 1.5, 2 }:cumsum().dtype)
    assert.are.equal("int32", lp.tensor({ 1, 2 }, "int32"):cummax().dtype)
    local c = flat(F { 1, 0 / 0, 3 }:cummax())
    assert.are.equal(1, c[1]); assert.is_true(isnan(c[2]) and isnan(c[3]))
    assert.are.same({ 1, 3, 6 }, flat(lp.cumsum { 1, 2, 3 }))
    assert.are.equal("bad argument #1 to 'cumsum' (dim 3 out of range for a 2-d tensor)",
      msg(function() local r = m:cumsum(3); return r end))
  end)

  it("diff as NumPy: n-th differences along a dim (last by default)", function()
    assert.are.same({ -2, 1, 5, -1 }, flat(m:diff()))
    assert.are.same({ 2, 2 }, m:diff().shape)
    assert.are.same({ -3, 4, 2 }, flat(m:diff(1, 1)))
    assert.are.same({ 3, -6 }, flat(m:diff(2)))
    assert.are.same({ 2, 0 }, m:diff(3).shape)
    assert.are.same({ 1, 2 }, flat(lp.diff { 1, 2, 4 }))
    assert.are.equal("bad argument #2 to 'diff' (dim 3 out of range for a 2-d tensor)",
      msg(function() local r = m:diff(1, 3); return r end))
  end)

  it("have gradients where differentiable (gradcheck each)", function()
    local a = F { { 0.3, -0.7, 1.1, 0.2 }, { 0.9, 0.4, -0.5, 0.6 }, { -0.2, 0.8, 0.1, -1.3 } }
    check(function(x) return x:median(2) + x:median(1):sum() + x:median() end, { a })
    check(function(x) return x:logsumexp(2) + x:logsumexp() + x:logsumexp(1, true):sum() end, { a })
    check(function(x) return x:nansum(2) + x:nanmean(1):sum() + x:nanmax(2) + x:nanmin() end, { a })
    check(function(x) return x:cumsum(2) + x:cumsum(1) + x:cumsum():sum() end, { a })
    check(function(x) return x:cumprod(2) + x:cumprod(1) + x:cumprod():sum() end, { a })
    check(function(x) return x:cummax(2) + x:cummin(1) end, { a })
    check(function(x) return x:ptp(2) + x:diff(2):sum() + x:diff(1, 1):sum() + x:average(2, { 1, 2, 3, 4 }) end, { a })
  end)

  it("cumprod's gradient is right with zeros (no division by them)", function()
    local x = F { 2, 0, 3, 0, 5 }:requires_grad(true)
    x:cumprod():sum():backward()
    -- out = {2, 0, 0, 0, 0}; d/dx1 = 1; d/dx2 = 2 + 2*3 + 0 + 0 = 8; later ones 0
    assert.tensor_near(F { 1, 8, 0, 0, 0 }, x.grad, 1e-12)
    check(function(a) return a:cumprod() end, { F { 2, 0, 3, 0.5 } })
  end)

  it("NaN elements get no gradient from nansum, nanmean and nanmax", function()
    local x = F { 1, 0 / 0, 3 }:requires_grad(true)
    local y = x:nansum() + x:nanmean() + x:nanmax()
    y:backward()
    local g = flat(x.grad)
    assert.are.same({ 1.5, 0, 2.5 }, g)
  end)

  it("median splits the gradient between the two middle values", function()
    local x = F { 4, 1, 3, 2 }:requires_grad(true)
    x:median():backward()
    assert.are.same({ 0, 0, 0.5, 0.5 }, flat(x.grad))
  end)
end)

describe("item 14: tostring(t) shows the values", function()
  it("as NumPy's print does, summarised when large", function()
    assert.are.equal("tensor([1, 2, 3], dtype=int64, shape=(3,))", tostring(lp.tensor { 1, 2, 3 }))
    assert.are.equal("tensor([[0., 0.],\n        [0., 0.]], dtype=float32, shape=(2, 2))", tostring(lp.zeros(2, 2)))
    local big = tostring(lp.arange(0, 100000))
    assert.is_truthy(big:find("...", 1, true))
    assert.is_true(#big < 200)
    assert.are.equal("limpet.Tensor(f32, (2, 3))", lp.zeros(2, 3):brief())
    local t = lp.zeros(2)
    t:release()
    assert.are.equal("limpet.Tensor(released)", tostring(t))
  end)
end)

describe("issue 16: errors of the NumPy helpers name the function called", function()
  it("aliases are functions of their own: lp.arccos and lp.acos each name themselves", function()
    assert.matches("[.']arccos' %(", select(2, pcall(lp.arccos)))
    assert.matches("[.']acos' %(", select(2, pcall(lp.acos)))
    assert.matches("[.']arctanh' %(", select(2, pcall(lp.arctanh)))
    assert.matches("[.']atanh' %(", select(2, pcall(lp.atanh)))
    assert.matches("[.']arctan2' %(", select(2, pcall(lp.Tensor.arctan2, lp.ones(2))))
    assert.matches("[.']atan2' %(", select(2, pcall(lp.Tensor.atan2, lp.ones(2))))
    assert.are.same(flat(lp.arccos(F { 0.5 })), flat(lp.acos(F { 0.5 })))
  end)

  it("lp.<helper>(x) converting x names the helper, not 'tensor'", function()
    assert.are.equal("bad argument #1 to 'ptp' (tensor, number or table expected, got nil)", msg(lp.ptp, nil))
    assert.matches("^bad argument #1 to 'allclose' %(", msg(lp.allclose, { 1, { 2 } }))
    assert.are.equal(2, lp.ptp { 1, 3 }:item())
  end)

  it("ptp, count_nonzero, clip, average, isclose, index_select check their arguments", function()
    local t = lp.arange(6):reshape(2, 3):astype("float32")
    assert.matches("bad argument #2 to 'ptp' %(dim must be nil or an integer", msg(lp.ptp, t, "x"))
    assert.matches("bad argument #3 to 'count_nonzero' %(keepdim must be nil or a boolean", msg(lp.count_nonzero, t, 1, 2))
    assert.matches("bad argument #2 to 'clip' %(lo must be nil or a number, got string%)", msg(lp.clip, t, "a"))
    assert.matches("bad argument #3 to 'average' %(weights must be 1%-d of length 3", msg(lp.average, t, 2, { 1, 2 }))
    assert.matches("bad argument #3 to 'average' %(weights must have the tensor's shape", msg(lp.average, t, nil, lp.ones(3)))
    assert.matches("bad argument #2 to 'isclose' %(shapes %(2, 3%) and %(2%) cannot be broadcast",
      msg(lp.isclose, t, lp.ones(2)))
    assert.matches("bad argument #2 to 'allclose' %(tensor, number or table expected, got nil%)", msg(lp.allclose, t, nil))
    assert.matches("bad argument #3 to 'index_select' %(index must be a 1%-d integer tensor%)",
      msg(lp.index_select, t, 1, { { 1 } }))
    -- and still compute
    assert.are.same({ 1.5, 4.5 }, flat(t:average(2, { 1, 1, 1 }):astype("float64") + 0.5))
    assert.is_true(t:allclose(t + 1e-9))
  end)
end)
