-- spec/param_check_spec.lua -- core.first_outside (core/src/param_check.c):
-- the vectorised block test (AVX2 / baseline clones, issue 17) against a
-- plain Lua scan of the same values: NaN, +-inf, values at and past the
-- bounds, open and closed lower bounds, the bad value in the first block,
-- a later block and the tail, float32 and float64, strided views.
local lp = require "limpet"
local core = require "limpet.core"

local function plain(vals, lo, hi, open)
  for i, v in ipairs(vals) do
    local inside = v == v and v - v == 0 and (open and v > lo or (not open and v >= lo)) and v <= hi
    if not inside then return i, v end
  end
  return nil
end

describe("core.first_outside", function()
  local n = 3000                       -- two full blocks of 1024 and a tail
  local bads = { 0 / 0, math.huge, -math.huge, -0.5, 1.5, 0.0 }
  for _, dt in ipairs { "float32", "float64" } do
    for _, open in ipairs { false, true } do
      it(("finds the first value outside [0, 1] (%s, lower bound %s)"):format(dt, open and "open" or "closed"), function()
        for _, pos in ipairs { 1, 5, 1024, 1025, 2047, 2049, 2999, 3000 } do
          for _, bad in ipairs(bads) do
            local vals = {}
            for i = 1, n do vals[i] = 0.25 + 0.5 * ((i * 37) % 101) / 101 end
            vals[pos] = bad
            if pos + 7 <= n then vals[pos + 7] = 2.0 end    -- a second bad value after the first
            local t = lp.tensor(vals, dt)
            local want_i = plain(t:totable(), 0, 1, open)
            local got_i, got_v = core.first_outside(t, 0, 1, open)
            assert.equals(want_i, got_i, ("pos %d bad %s"):format(pos, tostring(bad)))
            if want_i then
              local w = t:totable()[want_i]
              assert.is_true(got_v == w or (got_v ~= got_v and w ~= w))
            end
          end
        end
      end)
    end
    it("finds nothing when every value is inside, and reads strided views (" .. dt .. ")", function()
      local t = lp.rand({ 60, 70 }):astype(dt) * 0.5 + 0.25
      assert.is_nil(core.first_outside(t, 0, 1))
      local tt = t:transpose(1, 2)
      assert.is_nil(core.first_outside(tt, 0, 1))
      local vals = t:totable()
      vals[10][3] = -1
      local t2 = lp.tensor(vals, dt):transpose(1, 2)   -- flat index in the view's order: (3, 10)
      assert.equals((3 - 1) * 60 + 10, (core.first_outside(t2, 0, 1)))
    end)
  end
end)
