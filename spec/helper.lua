-- spec/helper.lua -- loaded by busted before the specs (see .busted).
-- Registers assert.tensor_near and forces full collections after each
-- test so that __gc bugs show up near their cause.
local assert = require "luassert"
local say = require "say"
local lp = require "limpet"

local function flat(x)
  if lp.is_tensor(x) then
    if x:dim() == 0 then return { x:item() }, {} end
    local out = {}
    local t = x:reshape(-1):totable()
    for i = 1, #t do out[i] = t[i] end
    return out, x.shape
  end
  if type(x) == "table" then
    local out = {}
    local function walk(v) if type(v) == "table" then for _, w in ipairs(v) do walk(w) end else out[#out + 1] = v end end
    walk(x)
    return out, nil
  end
  return { x }, {}
end

-- assert.tensor_near(expected, actual[, tol]): same shape (when both are
-- tensors) and every element within tol (absolute + relative); NaNs match NaNs.
local function tensor_near(state, args)
  local e, a, tol = args[1], args[2], args[3] or 1e-6
  local ev, es = flat(e)
  local av, as = flat(a)
  if es and as and #es ~= #as then
    state.failure_message = ("shape differs: expected %d dims, got %d"):format(#es, #as)
    return false
  end
  if es and as then
    for i = 1, #es do
      if es[i] ~= as[i] then
        state.failure_message = ("shape differs in dim %d: expected %d, got %d"):format(i, es[i], as[i])
        return false
      end
    end
  end
  if #ev ~= #av then
    state.failure_message = ("element count differs: expected %d, got %d"):format(#ev, #av)
    return false
  end
  for i = 1, #ev do
    local x, y = ev[i], av[i]
    if type(x) == "boolean" or type(y) == "boolean" then
      if x ~= y then state.failure_message = ("element %d: expected %s, got %s"):format(i, tostring(x), tostring(y)); return false end
    elseif x ~= x then
      if y == y then state.failure_message = ("element %d: expected nan, got %s"):format(i, tostring(y)); return false end
    elseif x ~= y and not (math.abs(x - y) <= tol * (1 + math.abs(x))) then
      state.failure_message = ("element %d: expected %.9g, got %.9g (tol %g)"):format(i, x, y, tol)
      return false
    end
  end
  return true
end
say:set("assertion.tensor_near.positive", "tensors differ")
say:set("assertion.tensor_near.negative", "tensors should differ")
assert:register("assertion", "tensor_near", tensor_near,
  "assertion.tensor_near.positive", "assertion.tensor_near.negative")

-- aggressive collection after every test (luv's CI trick)
local busted = require "busted"
busted.subscribe({ "test", "end" }, function()
  collectgarbage()
  collectgarbage()
  return nil, true
end)
