-- stdlib/limpet/nn/util.lua -- small helpers shared by the nn modules.
-- Owns: option-table checking (unknown fields rejected by name), shape
-- formatting for messages, turning numbers / Lua arrays / tensors into
-- tensors of a wanted shape. Not here: the Module machinery (module.lua).
local lp = require "limpet"

local U = {}

--- U.argerror(fname, argno, msg[, level]) raises "bad argument #n to 'f' (msg)".
function U.argerror(fname, argno, msg, level)
  error(("bad argument #%d to '%s' (%s)"):format(argno, fname, msg), (level or 1) + 1)
end

--- U.tensor_arg(fname, argno, v[, dtype]) -> v as a tensor of dtype (a Lua
-- table or number converts); anything else, or a table lp.tensor refuses, is
-- an argument error in fname's name, raised at the caller's caller.
function U.tensor_arg(fname, argno, v, dtype)
  if lp.is_tensor(v) then return v end
  if type(v) ~= "table" and type(v) ~= "number" then
    U.argerror(fname, argno, "a tensor or a table of numbers expected, got " .. type(v), 3)
  end
  local ok, t = pcall(lp.tensor, v, dtype)
  if not ok then U.argerror(fname, argno, (tostring(t):gsub("^.-%((.*)%)$", "%1")), 3) end
  return t
end

--- U.options(fname, argno, opts, defaults[, level]) -> a new table of the
-- defaults overlaid with opts; a field not in defaults is an error. A
-- default of U.NONE means "no default" (the field may be given or absent).
U.NONE = setmetatable({}, { __name = "nn.NONE" })
function U.options(fname, argno, opts, defaults, level)
  level = (level or 1) + 1
  if opts == nil then opts = {} end
  if type(opts) ~= "table" or lp.is_tensor(opts) then
    U.argerror(fname, argno, "table expected, got " .. (lp.is_tensor(opts) and "tensor" or type(opts)), level)
  end
  local out = {}
  for k, v in pairs(defaults) do if v ~= U.NONE then out[k] = v end end
  for k, v in pairs(opts) do
    if type(k) ~= "string" or defaults[k] == nil then
      U.argerror(fname, argno, ("unknown field '%s'"):format(tostring(k)), level)
    end
    out[k] = v
  end
  return out
end

--- U.split_shape(fname, shape, opts[, level]) -> shape, opts, split
-- Options may be written inside the shape table, as Lua invites:
-- nn.LIF{8, tau_mem = 0.5} is nn.LIF({8}, {tau_mem = 0.5}). The named
-- fields join opts (a field given in both is an error); the positional
-- ones are the shape. `split` is true when anything was moved.
function U.split_shape(fname, shape, opts, level)
  level = (level or 1) + 1
  if type(shape) ~= "table" or lp.is_tensor(shape) or getmetatable(shape) ~= nil then
    return shape, opts, false
  end
  local named
  for k, v in pairs(shape) do
    if math.type(k) ~= "integer" then
      named = named or {}
      named[k] = v
    end
  end
  if not named then return shape, opts, false end
  if opts ~= nil then
    if type(opts) ~= "table" or lp.is_tensor(opts) then
      U.argerror(fname, 2, "table expected, got " .. (lp.is_tensor(opts) and "tensor" or type(opts)), level)
    end
    for k, v in pairs(opts) do
      if named[k] ~= nil then
        U.argerror(fname, 2, ("field '%s' is given twice (in the shape table and in the options)")
          :format(tostring(k)), level)
      end
      named[k] = v
    end
  end
  local s = {}
  for i = 1, #shape do s[i] = shape[i] end
  if #s == 0 then
    U.argerror(fname, 1, "the shape table holds options but no shape (write nn.X{N, field = ...})", level)
  end
  return s, named, true
end

--- U.per_sample_shape(fname, shape) -> a fresh list: a module's per-sample
-- shape given as N or a list of positive integers ({C, H, W}); anything else
-- is an error on argument 1 of fname, raised at the constructor's caller
-- (U.per_sample_shape is called from the module's init).
function U.per_sample_shape(fname, shape)
  if math.type(shape) == "integer" and shape > 0 then return { shape } end
  if type(shape) == "table" and not lp.is_tensor(shape) and #shape > 0 then
    for _, v in ipairs(shape) do
      if math.type(v) ~= "integer" or v < 1 then U.argerror(fname, 1, "shape must be N or a list of positive integers", 4) end
    end
    return { table.unpack(shape) }
  end
  U.argerror(fname, 1, "shape must be N or a list of positive integers", 4)
end

--- U.fmt_shape({2, 3}) -> "(2, 3)"; {4} -> "(4,)"; {} -> "()"
function U.fmt_shape(s)
  if #s == 1 then return "(" .. tostring(s[1]) .. ",)" end
  local parts = {}
  for i = 1, #s do parts[i] = tostring(s[i]) end
  return "(" .. table.concat(parts, ", ") .. ")"
end

function U.same_shape(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do if a[i] ~= b[i] then return false end end
  return true
end

function U.numel(shape)
  local n = 1
  for i = 1, #shape do n = n * shape[i] end
  return n
end

--- U.is_float_dtype(dt)
function U.is_float(t) return t.dtype == "float32" or t.dtype == "float64" end

--- U.to_tensor(v[, shape]) -> a new tensor (never the caller's) of shape
-- `shape` when given: numbers and one-element tensors are filled in, a
-- tensor with the same number of elements is reshaped. Returns nil, msg
-- when v cannot be made into that shape. Integer and bool data become
-- float32; float64 stays float64.
function U.to_tensor(v, shape)
  local t
  if type(v) == "number" then
    if shape then return lp.full(shape, v + 0.0, "float32") end
    return lp.tensor(v + 0.0, "float32")
  elseif lp.is_tensor(v) then
    t = v:detach():clone()
  elseif type(v) == "table" then
    local ok, r = pcall(lp.tensor, v)
    if not ok then return nil, "expected a number, table of numbers or tensor" end
    t = r
  else
    return nil, "expected a number or tensor, got " .. type(v)
  end
  if not U.is_float(t) then t = t:astype "float32" end
  if shape and not U.same_shape(t.shape, shape) then
    local n = t:numel()
    if n == 1 then
      t = lp.full(shape, t:reshape(-1):get(1), t.dtype)
    elseif n == U.numel(shape) and #t.shape <= 1 then
      t = t:reshape(shape)
    else
      return nil, ("expected shape %s, got %s"):format(U.fmt_shape(shape), U.fmt_shape(t.shape))
    end
  end
  return t
end

return U
