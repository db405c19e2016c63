-- spec/parity/io_parity_spec.lua -- issue 14 item 24: lp.load reads NumPy
-- unicode ('<U…') and bytes ('|S…') arrays as Lua strings (a 0-d array as a
-- string, others as nested tables of strings, UTF-8), in .npy and .npz,
-- both byte orders and Fortran order, trailing NULs dropped as NumPy does.
-- u5.npy was written by numpy (make_fixtures.py); the others by
-- make_text_fixtures.py in numpy.save's layout. Reader: core/src/npy.c
-- (dtype parsing); conversion: lua/l_io.c.
local lp = require "limpet"
local FX = "spec/fixtures/npy/"

describe("item 24: lp.load and NumPy string arrays", function()
  it("reads a unicode array numpy wrote", function()
    assert.are.same({ "ab" }, lp.load(FX .. "u5.npy"))
  end)

  it("reads bytes and unicode arrays of any shape, 0-d as a plain string", function()
    assert.are.same({ { "ab", "c" }, { "", "xyz" } }, lp.load(FX .. "s3.npy"))
    assert.are.same({ "\u{b5}s", "\u{3a9}\u{3a9}\u{3a9}" }, lp.load(FX .. "u3_2.npy"))
    assert.are.equal("TSContinuous", lp.load(FX .. "u12_scalar.npy"))
  end)

  it("honours big-endian unicode and Fortran order", function()
    assert.are.same({ "ab", "\u{1F600}" }, lp.load(FX .. "be_u2.npy"))
    assert.are.same({ { "00", "01", "02" }, { "10", "11", "12" } }, lp.load(FX .. "fortran_s2.npy"))
  end)

  it("reads string arrays inside .npz archives next to tensors", function()
    local z = lp.load(FX .. "strings.npz")
    assert.are.equal("TSContinuous", z.str_type)
    assert.are.equal("ts_a", z.name)
    assert.are.same({ "a", "b", "c" }, z.labels)
    assert.are.same({ 0, 0.5, 1 }, z.times:totable())
  end)

  it("raises for a code point that is not unicode", function()
    assert.has_error(function() lp.load(FX .. "bad_u1.npy") end,
      "load: invalid unicode code point 55296 in a string array")
  end)
end)
