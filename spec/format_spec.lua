-- spec/format_spec.lua -- limpet.format: the text of tensors and tables.
local lp = require "limpet"
local F = require "limpet.format"
local format = F.format

describe("limpet.format tensors", function()
  it("prints integers aligned in columns with dtype and shape", function()
    assert.equals("tensor([[1, 2],\n        [3, 4]], dtype=int64, shape=(2, 2))",
                  format(lp.tensor { { 1, 2 }, { 3, 4 } }))
    assert.equals("tensor([[  1, -20],\n        [300,   4]], dtype=int64, shape=(2, 2))",
                  format(lp.tensor { { 1, -20 }, { 300, 4 } }))
    assert.equals("tensor([7, 8, 9], dtype=int32, shape=(3,))",
                  format(lp.tensor({ 7, 8, 9 }):astype "int32"))
    assert.equals("tensor([  0, 255], dtype=uint8, shape=(2,))",
                  format(lp.tensor({ 0, 255 }):astype "uint8"))
  end)

  it("separates the blocks of 3-d tensors with a blank line", function()
    assert.equals(
      "tensor([[[0, 1],\n" ..
      "         [2, 3]],\n" ..
      "\n" ..
      "        [[4, 5],\n" ..
      "         [6, 7]]], dtype=int64, shape=(2, 2, 2))",
      format(lp.arange(0, 8):reshape(2, 2, 2)))
  end)

  it("gives floats a common format with 4 significant digits", function()
    assert.equals("tensor([ 0.50,  1.25, -3.00], dtype=float32, shape=(3,))",
                  format(lp.tensor { 0.5, 1.25, -3 }))
    assert.equals("tensor([3.142, 2.718], dtype=float64, shape=(2,))",
                  format(lp.tensor({ math.pi, math.exp(1) }):astype "float64"))
    assert.equals("tensor([123.5,   0.5], dtype=float64, shape=(2,))",
                  format(lp.tensor({ 123.456, 0.5 }):astype "float64"))
    assert.equals("tensor([0.1, 0.2], dtype=float32, shape=(2,))",
                  format(lp.tensor { 0.1, 0.2 }))
  end)

  it("prints integral floats with a trailing point", function()
    assert.equals("tensor([1., 2., 3.], dtype=float32, shape=(3,))",
                  format(lp.tensor { 1.0, 2.0, 3.0 }))
    assert.equals("tensor([0., 0.], dtype=float32, shape=(2,))", format(lp.zeros(2)))
  end)

  it("switches to scientific notation for wide ranges", function()
    assert.equals("tensor([1.e-05, 2.e+00], dtype=float64, shape=(2,))",
                  format(lp.tensor({ 1e-5, 2 }):astype "float64"))
    assert.equals("tensor([1.235e+09], dtype=float64, shape=(1,))",
                  format(lp.tensor({ 1234567890.0 }):astype "float64"))
    assert.equals("tensor([1.5e-03, 2.0e+00], dtype=float64, shape=(2,))",
                  format(lp.tensor({ 0.0015, 2 }):astype "float64"))
  end)

  it("shows NaN and infinities", function()
    assert.equals("tensor([ 1.5,  nan,  inf, -inf], dtype=float32, shape=(4,))",
                  format(lp.tensor { 1.5, 0 / 0, 1 / 0, -1 / 0 }))
    assert.equals("tensor([nan], dtype=float32, shape=(1,))", format(lp.tensor { 0 / 0 }))
  end)

  it("prints bools as true/false", function()
    assert.equals("tensor([[ true, false],\n        [false,  true]], dtype=bool, shape=(2, 2))",
                  format(lp.tensor { { true, false }, { false, true } }))
  end)

  it("handles 0-d and empty tensors", function()
    assert.equals("tensor(3.5, dtype=float32, shape=())", format(lp.tensor(3.5)))
    assert.equals("tensor(7, dtype=int64, shape=())", format(lp.tensor(7)))
    assert.equals("tensor([], dtype=float32, shape=(0,))", format(lp.zeros(0)))
    assert.equals("tensor([], dtype=float32, shape=(2, 0))", format(lp.zeros(2, 0)))
  end)

  it("summarises tensors of more than 1000 elements with ...", function()
    assert.equals("tensor([   0,    1,    2, ..., 1998, 1999, 2000], dtype=int64, shape=(2001,))",
                  format(lp.arange(0, 2001)))
    local s = format(lp.arange(0, 2000):reshape(40, 50))
    assert.equals(
      "tensor([[   0,    1,    2, ...,   47,   48,   49],\n" ..
      "        [  50,   51,   52, ...,   97,   98,   99],\n" ..
      "        [ 100,  101,  102, ...,  147,  148,  149],\n" ..
      "        ...,\n" ..
      "        [1850, 1851, 1852, ..., 1897, 1898, 1899],\n" ..
      "        [1900, 1901, 1902, ..., 1947, 1948, 1949],\n" ..
      "        [1950, 1951, 1952, ..., 1997, 1998, 1999]], dtype=int64, shape=(40, 50))", s)
    -- 1000 elements exactly are shown in full
    assert.is_nil(format(lp.arange(0, 1000)):find("...", 1, true))
  end)

  it("keeps short dims whole when summarising", function()
    local s = format(lp.arange(0, 2002):reshape(2, 1001))
    assert.equals(
      "tensor([[   0,    1,    2, ...,  998,  999, 1000],\n" ..
      "        [1001, 1002, 1003, ..., 1999, 2000, 2001]], dtype=int64, shape=(2, 1001))", s)
  end)

  it("wraps long rows at the line width", function()
    local s = format(lp.arange(0, 30), { linewidth = 40 })
    assert.equals(
      "tensor([ 0,  1,  2,  3,  4,  5,  6,  7,\n" ..
      "         8,  9, 10, 11, 12, 13, 14, 15,\n" ..
      "        16, 17, 18, 19, 20, 21, 22, 23,\n" ..
      "        24, 25, 26, 27, 28, 29], dtype=int64, shape=(30,))", s)
    for line in s:gmatch "[^\n]+" do
      if not line:find "dtype" then assert.is_true(#line <= 40) end
    end
  end)

  it("takes precision, threshold and edgeitems options", function()
    assert.equals("tensor([3.14159, 2.71828], dtype=float64, shape=(2,))",
                  format(lp.tensor({ math.pi, math.exp(1) }):astype "float64", { precision = 6 }))
    assert.equals("tensor([0, ..., 9], dtype=int64, shape=(10,))",
                  format(lp.arange(0, 10), { threshold = 5, edgeitems = 1 }))
  end)

  it("prints views and non-contiguous tensors by their values", function()
    assert.equals("tensor([[0, 3],\n        [1, 4],\n        [2, 5]], dtype=int64, shape=(3, 2))",
                  format(lp.arange(0, 6):reshape(2, 3):transpose(1, 2)))
  end)

  it("prints released tensors by tostring", function()
    local t = lp.zeros(2)
    t:release()
    assert.equals("limpet.Tensor(released)", format(t))
  end)

  it("is lp.format and t:show()", function()
    assert.equals(F.format, lp.format)
    local t = lp.tensor { 1, 2 }
    local printed
    local old = print
    _G.print = function(s) printed = s end
    local ok, r = pcall(t.show, t)
    _G.print = old
    assert.is_true(ok)
    assert.equals(t, r)
    assert.equals("tensor([1, 2], dtype=int64, shape=(2,))", printed)
  end)
end)

describe("limpet.format tables and values", function()
  it("prints short tables on one line: sequence, then number keys, then names", function()
    assert.equals("{1, 2, 3}", format { 1, 2, 3 })
    assert.equals('{10, [1.5] = 4, b = 2, c = "x", z = true}', format { 10, z = true, c = "x", b = 2, [1.5] = 4 })
    assert.equals("{}", format {})
    assert.equals('{["a b"] = 1, ["end"] = 2}', format { ["a b"] = 1, ["end"] = 2 })
  end)

  it("breaks long tables over indented lines", function()
    local t = { alpha = string.rep("a", 40), beta = { gamma = string.rep("g", 40), delta = 1 } }
    assert.equals(
      "{\n" ..
      '  alpha = "' .. string.rep("a", 40) .. '",\n' ..
      '  beta = {delta = 1, gamma = "' .. string.rep("g", 40) .. '"}\n' ..
      "}", format(t))
  end)

  it("detects cycles", function()
    local t = { name = "loop" }
    t.self = t
    assert.equals('{name = "loop", self = <cycle>}', format(t))
  end)

  it("prints shared (non-cyclic) tables twice", function()
    local s = { 1 }
    assert.equals("{{1}, {1}}", format { s, s })
  end)

  it("stops at the depth limit", function()
    assert.equals("{{{{{...}}}}}", format { { { { { { 1 } } } } } })
    assert.equals("{{...}}", format({ { { 1 } } }, { depth = 1 }))
  end)

  it("shows small tensors inside tables in full, large ones short", function()
    assert.equals("{w = tensor([1, 2], dtype=int64, shape=(2,))}", format { w = lp.tensor { 1, 2 } })
    assert.equals("{w = limpet.Tensor(f32, (3, 4))}", format { w = lp.zeros(3, 4) })
  end)

  it("quotes strings and escapes newlines", function()
    assert.equals('"a\\nb"', format "a\nb")
    assert.equals('{"x\\"y"}', format { 'x"y' })
  end)

  it("prints numbers, booleans and nil like Lua", function()
    assert.equals("42", format(42))
    assert.equals("0.5", format(0.5))
    assert.equals("1.0", format(1.0))
    assert.equals("nil", format(nil))
    assert.equals("false", format(false))
  end)

  it("uses __tostring of tables that have one", function()
    local obj = setmetatable({}, { __tostring = function() return "<obj>" end })
    assert.equals("{<obj>}", format { obj })
  end)

  it("rejects unknown and malformed options by name", function()
    assert.has_error(function() format(1, { precison = 3 }) end,
      "bad argument #2 to 'format' (unknown field 'precison')")
    assert.has_error(function() format(1, { precision = 0 }) end,
      "bad argument #2 to 'format' (field 'precision' must be a positive integer)")
    assert.has_error(function() format(1, { depth = 1.5 }) end,
      "bad argument #2 to 'format' (field 'depth' must be a non-negative integer)")
    assert.has_error(function() format(1, "wide") end,
      "bad argument #2 to 'format' (table expected, got string)")
    assert.has_error(function() F.set_options { width = 3 } end,
      "bad argument #1 to 'set_options' (unknown field 'width')")
  end)

  it("changes the session defaults with set_options", function()
    local saved = {}
    for k, v in pairs(F.defaults) do saved[k] = v end
    F.set_options { precision = 2 }
    local s = format(lp.tensor({ math.pi }):astype "float64")
    for k, v in pairs(saved) do F.defaults[k] = v end
    assert.equals("tensor([3.1], dtype=float64, shape=(1,))", s)
  end)
end)
