-- spec/json_spec.lua -- limpet.json: encode / decode round trips and errors.
local json = require "limpet.json"

describe("limpet.json", function()
  it("encodes values with sorted keys", function()
    assert.equals('{"a":1,"b":[1,2.5,"x\\n"],"c":[],"d":{},"e":true,"f":null,"g":-3.0}',
      json.encode { a = 1, b = { 1, 2.5, "x\n" }, c = json.array(), d = {}, e = true, f = json.null, g = -3.0 })
  end)

  it("keeps integers and floats apart across a round trip", function()
    local v = json.decode(json.encode { 1, 2.0, 0.1, 1e300, -7 })
    assert.equals("integer", math.type(v[1]))
    assert.equals("float", math.type(v[2]))
    assert.equals(0.1, v[3]); assert.equals(1e300, v[4]); assert.equals(-7, v[5])
  end)

  it("decodes escapes, unicode and nesting", function()
    local v = json.decode(' {"a": [1, -3e2, "\\u00e9\\ud83d\\ude00\\t"], "b": null, "c": {"d": false}} ')
    assert.equals(-300.0, v.a[2])
    assert.equals("é😀\t", v.a[3])
    assert.equals(json.null, v.b)
    assert.is_false(v.c.d)
    assert.equals(json.encode(v), json.encode(json.decode(json.encode(v))))
  end)

  it("indents on request", function()
    assert.equals('{\n  "a": [\n    1\n  ]\n}', json.encode({ a = { 1 } }, { indent = 2 }))
  end)

  it("rejects malformed text with jansson's words and the 1-based byte position", function()
    assert.has_error(function() json.decode("[1,") end,
      "bad argument #1 to 'decode' (']' expected near end of file at position 4)")
    assert.has_error(function() json.decode("01") end, "bad argument #1 to 'decode' (invalid token near '0' at position 2)")
    assert.has_error(function() json.decode('{"a" 1}') end, "bad argument #1 to 'decode' (':' expected near '1' at position 7)")
    assert.has_error(function() json.decode("[1] x") end, "bad argument #1 to 'decode' (end of file expected near 'x' at position 6)")
    assert.has_error(function() json.decode('"abc') end, "bad argument #1 to 'decode' (premature end of input near '\"abc' at position 5)")
    assert.has_error(function() json.decode(3) end, "bad argument #1 to 'decode' (string expected, got number)")
    assert.has_error(function() json.decode('{"a":1,"a":2}') end, "bad argument #1 to 'decode' (duplicate object key near '\"a\"' at position 11)")
    assert.has_error(function() json.decode("[1]", { tensor = true }) end, "bad argument #2 to 'decode' (unknown option 'tensor')")
  end)

  it("reads numeric members of a top-level object as tensors on request", function()
    local lp = require "limpet"
    local d = json.decode('{"w": [[1, 2], [3, 4.5]], "s": ["x"], "e": [], "n": 3, "r": [[1], [2, 3]], "o": {"k": [1]}}',
      { tensors = true })
    assert.is_true(lp.is_tensor(d.w))
    assert.same({ 2, 2 }, d.w.shape)
    assert.equals("float64", d.w.dtype)
    assert.same({ { 1, 2 }, { 3, 4.5 } }, d.w:totable())
    assert.equals("x", d.s[1]); assert.equals(0, #d.e); assert.equals(3, d.n)
    assert.same({ { 1 }, { 2, 3 } }, d.r)          -- ragged: plain tables
    assert.same({ 1 }, d.o.k)                        -- only top-level members
    -- the same errors as the general reader, at the same positions
    assert.has_error(function() json.decode('{"a":[1,2],"a":3}', { tensors = true }) end,
      "bad argument #1 to 'decode' (duplicate object key 'a' at position 15)")
    assert.has_error(function() json.decode('{"a":[01]}', { tensors = true }) end,
      "bad argument #1 to 'decode' (invalid token near '0' at position 8)")
    assert.has_error(function() json.decode('{"a":[1] "b":1}', { tensors = true }) end,
      "bad argument #1 to 'decode' (',' or '}' expected at position 10)")
    assert.has_error(function() json.decode('{"a":1} x', { tensors = true }) end,
      "bad argument #1 to 'decode' (end of file expected at position 9)")
  end)

  it("writes tensors as nested arrays that read back exactly", function()
    local lp = require "limpet"
    assert.equals("[[1,2],[3,-4]]", json.numbers(lp.tensor({ { 1, 2 }, { 3, -4 } }, "int32")))
    assert.equals("[0.1,1.0,-2.5e-300]", json.numbers(lp.tensor({ 0.1, 1, -2.5e-300 }, "float64")))
    assert.equals("[[1,0]]", json.numbers(lp.tensor({ { true, false } })))
    local x = lp.randn(3, 4, 2):astype("float64")
    local back = json.decode('{"x":' .. json.numbers(x) .. '}', { tensors = true }).x
    assert.equals(0, back:ne(x):sum():item())
    assert.equals(json.encode(x:totable()), json.encode(json.decode(json.numbers(x))))
    assert.has_error(function() json.numbers(lp.tensor({ 1, 0 / 0 })) end)
  end)

  it("refuses strings that are not UTF-8 and bad indents", function()
    assert.has_error(function() json.encode("\xff") end, "bad argument #1 to 'encode' (string is not UTF-8)")
    assert.has_error(function() json.encode({}, { indent = "\t" }) end, "bad argument #2 to 'encode' (indent must be spaces)")
  end)

  it("rejects values JSON cannot hold", function()
    assert.has_error(function() json.encode { 1, a = 2 } end,
      "bad argument #1 to 'encode' (table mixes array and object keys or has a number key)")
    assert.has_error(function() json.encode(0 / 0) end, "bad argument #1 to 'encode' (cannot encode nan)")
    assert.has_error(function() json.encode(print) end, "bad argument #1 to 'encode' (cannot encode a function)")
    local t = {}; t.t = t
    assert.has_error(function() json.encode(t) end, "bad argument #1 to 'encode' (cycle in table)")
  end)
end)
