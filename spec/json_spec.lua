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

  it("rejects malformed text with the position", function()
    assert.has_error(function() json.decode("[1,") end,
      "bad argument #1 to 'decode' (unexpected end of input at position 4)")
    assert.has_error(function() json.decode("01") end, "bad argument #1 to 'decode' (bad number at position 1)")
    assert.has_error(function() json.decode('{"a" 1}') end, "bad argument #1 to 'decode' (expected ':' at position 6)")
    assert.has_error(function() json.decode("[1] x") end, "bad argument #1 to 'decode' (trailing characters at position 5)")
    assert.has_error(function() json.decode('"abc') end, "bad argument #1 to 'decode' (unterminated string at position 1)")
    assert.has_error(function() json.decode(3) end, "bad argument #1 to 'decode' (string expected, got number)")
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
