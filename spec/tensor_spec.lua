-- spec/tensor_spec.lua -- limpet.Tensor: construction, dtypes, views,
-- indexing, element access, cat/stack, in-place methods, and the errors a
-- user can hit on each (exact messages).
local lp = require "limpet"

local function flat(t) return t:reshape(-1):totable() end

describe("lp.tensor", function()
  it("infers dtype and shape from nested tables", function()
    local t = lp.tensor { { 1, 2, 3 }, { 4, 5, 6 } }
    assert.are.equal("int64", t.dtype)
    assert.are.same({ 2, 3 }, t.shape)
    assert.are.equal("float32", lp.tensor { 1, 2.5 }.dtype)
    assert.are.equal("bool", lp.tensor { true, false }.dtype)
    assert.are.equal("float32", lp.tensor(3.5).dtype)
    assert.are.same({}, lp.tensor(3).shape)
    assert.are.equal(0, lp.tensor(3):dim())
  end)
  it("takes an explicit dtype", function()
    for _, dt in ipairs { "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool" } do
      assert.are.equal(dt, lp.tensor({ 1, 0 }, dt).dtype)
    end
    assert.are.same({ 1, 0 }, lp.tensor({ 1.9, 0.2 }, "int32"):totable())
  end)
  it("copies and casts a tensor", function()
    local a = lp.tensor { 1, 2 }
    local b = lp.tensor(a, "float64")
    b:set(1, 10)
    assert.are.same({ 1, 2 }, a:totable())
    assert.are.equal("float64", b.dtype)
  end)
  it("rejects ragged and non-numeric tables", function()
    assert.has_error(function() lp.tensor { { 1, 2 }, { 3 } } end,
      "bad argument #1 to 'tensor' (ragged nested table (a row of length 1, expected 2))")
    assert.has_error(function() lp.tensor { 1, "x" } end,
      "bad argument #1 to 'tensor' (number expected in table, got string)")
    assert.has_error(function() lp.tensor { true, 1 } end,
      "bad argument #1 to 'tensor' (booleans mixed with numbers)")
    assert.has_error(function() lp.tensor("x") end,
      "bad argument #1 to 'tensor' (number, boolean or table expected, got string)")
    assert.has_error(function() lp.tensor({ 1 }, "float16") end,
      "bad argument #2 to 'tensor' (unknown dtype 'float16')")
  end)
  it("handles empty tables as empty tensors", function()
    local t = lp.tensor {}
    assert.are.same({ 0 }, t.shape)
    assert.are.equal(0, t:numel())
  end)
end)

describe("constructors", function()
  it("zeros, ones, full take a shape as numbers or a table, then a dtype", function()
    assert.are.same({ 2, 3 }, lp.zeros(2, 3).shape)
    assert.are.same({ 2, 3 }, lp.ones({ 2, 3 }, "int16").shape)
    assert.are.equal("int16", lp.ones({ 2, 3 }, "int16").dtype)
    assert.are.equal("float32", lp.zeros(4).dtype)
    assert.are.same({ 7, 7 }, lp.full({ 2 }, 7):totable())
    assert.are.equal("int64", lp.full({ 2 }, 7).dtype)
    assert.are.equal("float32", lp.full({ 2 }, 0.5).dtype)
    assert.are.equal("bool", lp.full({ 2 }, true).dtype)
    assert.are.same({}, lp.zeros().shape)
    assert.are.same({ 0, 3 }, lp.zeros(0, 3).shape)
  end)
  it("arange is half-open and infers int64 or float32", function()
    assert.are.same({ 0, 1, 2, 3, 4 }, lp.arange(5):totable())
    assert.are.same({ 2, 4 }, lp.arange(2, 6, 2):totable())
    assert.are.equal("int64", lp.arange(5).dtype)
    assert.are.equal("float32", lp.arange(0, 1, 0.25).dtype)
    assert.are.same({ 0, 0.25, 0.5, 0.75 }, lp.arange(0, 1, 0.25):totable())
    assert.are.same({ 5, 4, 3 }, lp.arange(5, 2, -1):totable())
    assert.are.same({ 0 }, lp.arange(5, 0).shape)
    assert.are.equal("float64", lp.arange(3, "float64").dtype)
  end)
  it("linspace includes both ends; eye is the identity", function()
    assert.are.same({ 0, 0.25, 0.5, 0.75, 1 }, lp.linspace(0, 1, 5):totable())
    assert.are.same({ { 1, 0, 0 }, { 0, 1, 0 } }, lp.eye(2, 3):totable())
    assert.are.equal("int32", lp.eye(2, "int32").dtype)
  end)
  it("names bad shapes and dtypes", function()
    assert.has_error(function() lp.zeros(-1) end, "bad argument #1 to 'zeros' (negative size -1 in shape)")
    assert.has_error(function() lp.zeros(2.5) end, "bad argument #1 to 'zeros' (sizes must be integers)")
    assert.has_error(function() lp.zeros(2, "int9") end, "bad argument #2 to 'zeros' (unknown dtype 'int9')")
    assert.has_error(function() lp.zeros({ 1, 1, 1, 1, 1, 1, 1, 1, 1 }) end,
      "bad argument #1 to 'zeros' (tensors have at most 8 dims, got 9)")
    assert.has_error(function() lp.arange(0, 1, 0) end, "bad argument #3 to 'arange' (step must be nonzero)")
    assert.has_error(function() lp.arange(0, 1 / 0) end, "bad argument #2 to 'arange' (bounds must be finite)")
    assert.has_error(function() lp.linspace(0, 1, -2) end,
      "bad argument #3 to 'linspace' (number of points must be non-negative)")
    assert.has_error(function() lp.eye(-1) end, "bad argument #1 to 'eye' (size must be non-negative)")
  end)
  it("refuses sizes beyond the cap before allocating", function()
    local ok, err = pcall(function() return lp.zeros(1000000, 1000000, 1000000) end)
    assert.is_false(ok)
    assert.truthy(err:find("shape (1000000, 1000000, 1000000) of float32 needs 4000000000000000000 bytes, more than the cap of", 1, true))
    local old = lp.config().max_bytes
    lp.config { max_bytes = 1000 }
    assert.has_error(function() lp.zeros(1000) end,
      "zeros: shape (1000,) of float32 needs 4000 bytes, more than the cap of 1000 bytes")
    assert.are.same({ 250 }, lp.zeros(250).shape)
    lp.config { max_bytes = old }
    assert.has_error(function() lp.config { max_byte = 1 } end,
      "bad argument #1 to 'config' (unknown field 'max_byte')")
  end)
end)

describe("random numbers", function()
  it("are reproducible from a seed", function()
    lp.seed(42)
    local a = flat(lp.rand(100))
    local n = flat(lp.randn(10))
    lp.seed(42)
    assert.are.same(a, flat(lp.rand(100)))
    assert.are.same(n, flat(lp.randn(10)))
    assert.are.equal(42, lp.seed())
  end)
  it("have the right ranges and moments", function()
    lp.seed(7)
    local u = flat(lp.rand(20000, "float64"))
    local s, lo, hi = 0, 1, 0
    for _, v in ipairs(u) do s = s + v; lo = math.min(lo, v); hi = math.max(hi, v) end
    assert.is_true(lo >= 0 and hi < 1)
    assert.is_true(math.abs(s / #u - 0.5) < 0.01)
    local g = flat(lp.randn(20000, "float64"))
    local m, q = 0, 0
    for _, v in ipairs(g) do m = m + v; q = q + v * v end
    m = m / #g
    assert.is_true(math.abs(m) < 0.03)
    assert.is_true(math.abs(q / #g - m * m - 1) < 0.05)
    local r = flat(lp.randint(3, 6, 1000))
    local seen = {}
    for _, v in ipairs(r) do assert.is_true(v >= 3 and v < 6); seen[v] = true end
    assert.is_true(seen[3] and seen[4] and seen[5])
    assert.are.equal("int64", lp.randint(0, 2, 3).dtype)
    local b = flat(lp.bernoulli(0.25, 10000))
    local c = 0
    for _, v in ipairs(b) do c = c + v end
    assert.is_true(math.abs(c / 10000 - 0.25) < 0.02)
    assert.are.same({ 0, 1 }, lp.bernoulli(lp.tensor { 0, 1 }):totable())
  end)
  it("rejects bad parameters", function()
    assert.has_error(function() lp.rand(2, "int32") end, "rand: rand needs a float dtype, got int32")
    assert.has_error(function() lp.randint(5, 5, 2) end, "bad argument #2 to 'randint' (high must be greater than low (5))")
    assert.has_error(function() lp.bernoulli(1.5, 2) end,
      "bad argument #1 to 'bernoulli' (probability must lie in [0, 1], got 1.5)")
    assert.has_error(function() lp.bernoulli(lp.tensor { 0.5, 0 / 0 }) end,
      "bad argument #1 to 'bernoulli' (probabilities must lie in [0, 1], got -nan)")
  end)
end)

describe("views", function()
  local t
  before_each(function() t = lp.arange(6):reshape(2, 3) end)
  it("reshape shares storage and infers -1", function()
    local r = t:reshape(3, -1)
    assert.are.same({ 3, 2 }, r.shape)
    r:set(1, 1, 100)
    assert.are.equal(100, t:get(1, 1))
    assert.are.same({ 6 }, t:reshape { 6 }.shape)
  end)
  it("transpose and permute are views; contiguous copies", function()
    local u = t:transpose(1, 2)
    assert.are.same({ { 0, 3 }, { 1, 4 }, { 2, 5 } }, u:totable())
    assert.is_false(u:is_contiguous())
    assert.is_true(u:contiguous():is_contiguous())
    assert.are.same({ 0, 3, 1, 4, 2, 5 }, flat(u))
    local p = lp.arange(24):reshape(2, 3, 4):permute(3, 1, 2)
    assert.are.same({ 4, 2, 3 }, p.shape)
    assert.are.equal(13, p:get(2, 2, 1))
    assert.are.same({ 3, 2 }, t:transpose().shape)
  end)
  it("view refuses what needs a copy; reshape copies", function()
    local u = t:transpose()
    assert.has_error(function() u:view(6) end,
      "view: cannot view a non-contiguous tensor of shape (3, 2) this way; use reshape")
    assert.are.same({ 0, 3, 1, 4, 2, 5 }, u:reshape(6):totable())
    assert.has_error(function() t:reshape(4, 2) end,
      "bad argument #1 to 'reshape' (cannot reshape (2, 3) (6 elements) to (4, 2))")
  end)
  it("squeeze and unsqueeze", function()
    local a = lp.zeros(1, 3, 1)
    assert.are.same({ 3 }, a:squeeze().shape)
    assert.are.same({ 3, 1 }, a:squeeze(1).shape)
    assert.are.same({ 1, 3 }, a:squeeze(-1).shape)
    assert.are.same({ 2, 1, 3 }, t:unsqueeze(2).shape)
    assert.are.same({ 2, 3, 1 }, t:unsqueeze(-1).shape)
    assert.has_error(function() t:unsqueeze(5) end,
      "bad argument #1 to 'unsqueeze' (dim 5 out of range for a 3-d tensor)")
  end)
  it("slice takes inclusive 1-based positions, negative from the end, and a step", function()
    assert.are.same({ { 1, 2 }, { 4, 5 } }, t:slice(2, 2, 3):totable())
    assert.are.same({ { 0, 1, 2 } }, t:slice(1, 1, 1):totable())
    assert.are.same({ { 2 }, { 5 } }, t:slice(2, -1):totable())
    assert.are.same({ 0, 2, 4, 6, 8 }, lp.arange(10):slice(1, 1, -1, 2):totable())
    assert.are.same({ 0 }, lp.arange(10):slice(1, 5, 4).shape)
    local s = t:slice(2, 2, 3)
    s:fill_(9)
    assert.are.same({ { 0, 9, 9 }, { 3, 9, 9 } }, t:totable())
    assert.has_error(function() t:slice(2, 4, 4) end,
      "bad argument #2 to 'slice' (position 4 out of range for dim 2 of size 3)")
    assert.has_error(function() t:slice(2, 1, 5) end,
      "bad argument #3 to 'slice' (position 5 out of range for dim 2 of size 3)")
    assert.has_error(function() t:slice(3, 1, 1) end,
      "bad argument #1 to 'slice' (dim 3 out of range for a 2-d tensor)")
    assert.has_error(function() t:slice(1, 1, 1, 0) end, "bad argument #4 to 'slice' (step must be positive)")
  end)
  it("expand broadcasts without copying", function()
    local e = lp.tensor { 1, 2, 3 }:expand(2, 3)
    assert.are.same({ { 1, 2, 3 }, { 1, 2, 3 } }, e:totable())
    assert.has_error(function() lp.tensor { 1, 2 }:expand(3, 3) end,
      "bad argument #1 to 'expand' (cannot broadcast shape (2,) to (3, 3))")
  end)
end)

describe("indexing", function()
  local t
  before_each(function() t = lp.arange(6):reshape(2, 3) end)
  it("t[i] gives a row view or a number", function()
    assert.are.same({ 3, 4, 5 }, t[2]:totable())
    assert.are.equal(5, t[2][3])
    assert.are.equal(5, t[-1][-1])
    t[1][2] = 7 -- assignment through a view
    t[1]:set(2, 7)
    assert.are.equal(7, t:get(1, 2))
    assert.are.equal(2, #t)
  end)
  it("t[i] = v fills or copies a row", function()
    t[1] = 9
    assert.are.same({ 9, 9, 9 }, t[1]:totable())
    t[2] = lp.tensor { 1, 2, 3 }
    assert.are.same({ 1, 2, 3 }, t[2]:totable())
  end)
  it("get/set take positions as numbers or a table", function()
    assert.are.equal(4, t:get(2, 2))
    assert.are.equal(4, t:get { 2, 2 })
    t:set(2, 2, 40)
    t:set({ 1, 1 }, -1)
    assert.are.same({ { -1, 1, 2 }, { 3, 40, 5 } }, t:totable())
    assert.are.equal(true, lp.tensor { true }:get(1))
  end)
  it("selects with boolean masks and index tensors", function()
    local v = lp.tensor { 10, 20, 30, 40 }
    assert.are.same({ 10, 30 }, v[lp.tensor { true, false, true, false }]:totable())
    assert.are.same({ 40, 10, 40 }, v[lp.tensor { 4, 1, -1 }]:totable())
    assert.are.same({ { 3, 4, 5 } }, t[lp.tensor { 2 }]:totable())
    v[lp.tensor { false, true, false, true }] = 0
    assert.are.same({ 10, 0, 30, 0 }, v:totable())
    -- a mask over the leading dims selects rows, as in NumPy
    local m = lp.arange(6):reshape(3, 2)
    assert.are.same({ { 0, 1 }, { 4, 5 } }, m[lp.tensor { true, false, true }]:totable())
    m[lp.tensor { false, true, false }] = -1
    assert.are.same({ { 0, 1 }, { -1, -1 }, { 4, 5 } }, m:totable())
    assert.are.same({ 1, 4, 5 }, m[m:gt(0)]:totable())
  end)
  it("names out-of-range and wrong indices", function()
    assert.has_error(function() return t[3] end,
      "bad argument #2 to 'index' (position 3 out of range for dim 1 of size 2)")
    assert.has_error(function() return t:get(1, 4) end,
      "bad argument #2 to 'get' (position 4 out of range for dim 2 of size 3)")
    assert.has_error(function() return t:get(1) end, "bad argument #1 to 'get' (expected 2 indices, got 1)")
    assert.has_error(function() return t:get(1, 1.5) end, "bad argument #2 to 'get' (indices must be integers)")
    assert.has_error(function() return lp.tensor { 1, 2 }[lp.tensor { 3 }] end,
      "bad argument #2 to 'index' (index 3 out of range for dim 1 of size 2)")
    assert.has_error(function() return lp.tensor { 1, 2 }[lp.tensor { 1.5 }] end,
      "bad argument #2 to 'index' (index must be a bool mask or a 1-d integer tensor)")
    assert.has_error(function() return lp.tensor(1)[1] end, "bad argument #2 to 'index' (cannot index a 0-d tensor)")
    assert.has_error(function() return t:item() end,
      "calling 'item' on bad self (item needs a tensor with one element, got shape (2, 3))")
  end)
  it("item returns the single value", function()
    assert.are.equal(3, lp.tensor(3):item())
    assert.are.equal(2.5, lp.tensor({ { 2.5 } }):item())
    assert.are.equal(false, lp.tensor({ false }):item())
  end)
end)

describe("dtype conversion", function()
  it("index_select on a contiguous tensor (slab copies) equals the strided path, every dim and dtype", function()
    for _, dt in ipairs { "float32", "float64", "int64", "uint8" } do
      local a = (lp.rand({ 4, 5, 6 }) * 100):astype(dt)
      local v = a:permute({ 3, 2, 1 }):contiguous():permute({ 3, 2, 1 })      -- same values, not contiguous
      assert.is_false(v:is_contiguous())
      for d = 1, 3 do
        local n = a.shape[d]
        local idx = lp.tensor({ n, 1, 2, n, -1 }, "int64")
        local r, g = a:index_select(d, idx), v:index_select(d, idx)
        assert.are.same(g:totable(), r:totable())
      end
      local flat = a:reshape({ -1 })
      assert.are.same({ flat:get(120), flat:get(1), flat:get(7) }, flat[lp.tensor({ 120, 1, 7 }, "int64")]:totable())
    end
  end)
  it("astype from uint8 and bool to float, contiguous and strided (the inline loops)", function()
    local u = lp.tensor({ { 0, 1, 255 }, { 7, 128, 3 } }, "uint8")
    assert.are.same({ { 0, 1, 255 }, { 7, 128, 3 } }, u:astype("float32"):totable())
    assert.are.same({ { 0, 7 }, { 1, 128 }, { 255, 3 } }, u:permute({ 2, 1 }):astype("float32"):totable())
    assert.are.same({ 255, 3 }, u:slice(2, 3, 3):reshape({ 2 }):astype("float64"):totable())
    local b = lp.tensor { 1, 0, 2 }:gt(0)
    assert.are.same({ 1, 0, 1 }, b:astype("float32"):totable())
    assert.are.same({ 1, 0, 1 }, b:astype("float64"):totable())
  end)
  it("astype wraps integers like NumPy and saturates floats", function()
    assert.are.same({ -56, 127 }, lp.tensor { 200, 127 }:astype("int8"):totable())
    assert.are.same({ 255, 0 }, lp.tensor { -1, 256 }:astype("uint8"):totable())
    assert.are.same({ 1, -1, 0 }, lp.tensor { 1.7, -1.7, 0 / 0 }:astype("int32"):totable())
    assert.are.same({ true, false, true }, lp.tensor { 2, 0, -1 }:astype("bool"):totable())
    assert.are.equal("float64", lp.tensor { 1 }:double().dtype)
  end)
  it("keeps NaN and Inf through float casts", function()
    local v = lp.tensor({ 1 / 0, -1 / 0, 0 / 0 }, "float64"):astype("float32"):totable()
    assert.are.equal(math.huge, v[1])
    assert.are.equal(-math.huge, v[2])
    assert.is_true(v[3] ~= v[3])
  end)
end)

describe("cat and stack", function()
  it("join along a dim, promoting dtypes", function()
    local a, b = lp.tensor { { 1, 2 } }, lp.tensor { { 3.5, 4 } }
    local c = lp.cat({ a, b }, 1)
    assert.are.same({ { 1, 2 }, { 3.5, 4 } }, c:totable())
    assert.are.equal("float64", c.dtype)  -- int64 with float32 promotes to float64, as NumPy
    assert.are.same({ { 1, 2, 3.5, 4 } }, lp.cat({ a, b }, 2):totable())
    assert.are.same({ 2, 1, 2 }, lp.stack { a, b }.shape)
    assert.are.same({ 1, 2, 2 }, lp.stack({ a, b }, 2).shape)
    assert.are.same({ 1, 2, 2 }, lp.stack({ a, b }, -1).shape)
  end)
  it("reject mismatched shapes and empty lists", function()
    assert.has_error(function() lp.cat({ lp.zeros(2, 2), lp.zeros(3, 3) }, 1) end,
      "bad argument #1 to 'cat' (tensor 2 has shape (3, 3), expected (2, 2) except in dim 1)")
    assert.has_error(function() lp.stack { lp.zeros(2), lp.zeros(3) } end,
      "bad argument #1 to 'stack' (tensor 2 has shape (3,), expected (2,))")
    assert.has_error(function() lp.cat {} end, "bad argument #1 to 'cat' (expected a non-empty list of tensors)")
    assert.has_error(function() lp.cat { 1 } end, "bad argument #1 to 'cat' (element 1 is not a tensor)")
  end)
end)

describe("in-place methods", function()
  it("copy_, fill_, zero_ write through views held elsewhere", function()
    local t = lp.zeros(2, 2)
    local row = t[1]
    row:fill_(3)
    assert.are.same({ { 3, 3 }, { 0, 0 } }, t:totable())
    t:copy_(lp.tensor { 1, 2 })
    assert.are.same({ { 1, 2 }, { 1, 2 } }, t:totable())
    t:zero_()
    assert.are.same({ { 0, 0 }, { 0, 0 } }, t:totable())
    assert.has_error(function() t:copy_(lp.zeros(3)) end,
      "bad argument #1 to 'copy_' (cannot copy shape (3,) into shape (2, 2))")
  end)
  it("copy_ between overlapping views is correct", function()
    local t = lp.arange(5)
    t:slice(1, 2, 5):copy_(t:slice(1, 1, 4))
    assert.are.same({ 0, 0, 1, 2, 3 }, t:totable())
  end)
end)

describe("the tensor userdata", function()
  it("prints its values, has a one-line description, and keeps user fields", function()
    assert.are.equal("tensor(1, dtype=int64, shape=())", tostring(lp.tensor(1)))
    assert.are.equal("limpet.Tensor(f32, (2, 3))", lp.zeros(2, 3):brief())
    assert.are.equal("limpet.Tensor(i64, ())", lp.tensor(1):brief())
    local t = lp.zeros(1)
    t.note = "hello"
    assert.are.equal("hello", t.note)
  end)
  it("can be released early, after which it is refused by name", function()
    local t = lp.zeros(3)
    t:release()
    assert.are.equal("limpet.Tensor(released)", tostring(t))
    assert.has_error(function() t:numel() end, "calling 'numel' on bad self (tensor was released)")
    do local u <close> = lp.zeros(4) end
  end)
  it("rejects non-tensors as self", function()
    assert.has_error(function() lp.Tensor.numel(3) end,
      "bad argument #1 to 'numel' (tensor expected, got number)")
  end)
  it("accounts storage to the collector (flat memory over a loop of temporaries)", function()
    collectgarbage()
    local before = lp.config().bytes_live
    for _ = 1, 200 do local _ = lp.zeros(1000, 100) end  -- 400 kB each, 80 MB in all
    local after = lp.config().bytes_live
    assert.is_true(after - before < 40 * 1000 * 1000, "live bytes grew by " .. (after - before))
  end)
end)
