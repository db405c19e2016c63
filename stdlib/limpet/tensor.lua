-- stdlib/limpet/tensor.lua -- tensor methods that are plain Lua on top of
-- the C core: conveniences composed of core ops.
-- Owns: t:show(), tostring(t) (the values, NumPy-style, summarised when
-- large; t:brief() is the one-line "limpet.Tensor(f32, (3, 4))"),
-- t:float()/t:double()/t:long()/t:bool() casts, and the NumPy helpers that
-- are compositions of core ops: ptp, count_nonzero, diff, clip (= clamp),
-- deg2rad, rad2deg, average, isclose, allclose; index_select, flip, gather
-- (differentiable through t[index]). Not here: kernels (core/), printing format
-- (format.lua).
local core = require "limpet.core"
local T = core.Tensor

-- casts: t:float() ... (t.float() without the colon names the cast)
local function cast(name, dtype)
  T[name] = function(self)
    if not core.is_tensor(self) then
      error(("bad argument #1 to '%s' (limpet.Tensor expected, got %s)"):format(name, type(self)), 2)
    end
    return self:astype(dtype)
  end
end
cast("float", "float32")
cast("double", "float64")
cast("long", "int64")
cast("int", "int32")
cast("bool", "bool")

-- Print the full NumPy-style view (the REPL does this for results).
function T:show(opts)
  if not core.is_tensor(self) then
    error(("bad argument #1 to 'show' (limpet.Tensor expected, got %s)"):format(type(self)), 2)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error(("bad argument #2 to 'show' (table of options expected, got %s)"):format(type(opts)), 2)
  end
  local ok, s = pcall(require("limpet.format").format, self, opts)
  if not ok then error((tostring(s):gsub("^bad argument #2 to 'format'", "bad argument #2 to 'show'")), 2) end
  print(s)
  return self
end

-- tostring(t) shows the values (as print(a) does in NumPy); the C core's
-- one-line description stays reachable as t:brief().
local mt = getmetatable(core.zeros { 0 })
local brief = mt.__tostring
function T:brief() return brief(self) end
mt.__tostring = function(t) return require("limpet.format").tostring(t) end

-- luaL_argerror's words; k counts self, as for lp.diff(t, ...), and drops
-- by one for a method call t:diff(...), as the C methods do.
-- `up` (default 0) counts the helpers between the method and argerr.
local function argerr(k, fname, msg, up)
  up = up or 0
  local info = debug.getinfo(2 + up, "n")
  if info and info.namewhat == "method" then k = k - 1 end
  error(("bad argument #%d to '%s' (%s)"):format(k, fname, msg), 3 + up)
end

-- an optional dim (nil, or an integer in 1..n / -n..-1) and keepdim (nil or
-- a boolean), checked in the caller's name
local function opt_dim(fname, t, dim, argno)
  if dim == nil then return nil end
  local n = t:dim()
  if math.type(dim) ~= "integer" or dim == 0 or dim > n or dim < -n then
    argerr(argno, fname, ("dim must be nil or an integer in 1..%d or -%d..-1, got %s"):format(n, n, tostring(dim)), 1)
  end
  return dim < 0 and n + 1 + dim or dim
end
local function opt_keepdim(fname, keepdim, argno)
  if keepdim ~= nil and type(keepdim) ~= "boolean" then
    argerr(argno, fname, "keepdim must be nil or a boolean, got " .. type(keepdim), 1)
  end
end
local function opt_number(fname, v, argno, what)
  if v ~= nil and type(v) ~= "number" then
    argerr(argno, fname, ("%s must be nil or a number, got %s"):format(what, type(v)), 1)
  end
end
-- v as a tensor (numbers, booleans and nested tables convert), in fname's name
local function as_tensor(fname, v, argno, dtype)
  if core.is_tensor(v) then return v end
  local t = type(v)
  if t ~= "number" and t ~= "boolean" and t ~= "table" then
    argerr(argno, fname, "tensor, number or table expected, got " .. t, 1)
  end
  local ok, r = pcall(core.tensor, v, dtype)
  if not ok then
    argerr(argno, fname, (tostring(r):gsub("^.-bad argument #%d+ to '[^']*' %((.*)%)$", "%1")), 1)
  end
  return r
end

-- NumPy's ptp: max - min (over dim, or every element).
function T:ptp(dim, keepdim)
  dim = opt_dim("ptp", self, dim, 2)
  opt_keepdim("ptp", keepdim, 3)
  if (dim == nil and self:numel() == 0) or (dim ~= nil and self.shape[dim] == 0) then
    argerr(1, "ptp", "cannot take the range of an empty " .. (dim and "dim" or "tensor"))
  end
  if dim == nil then return self:max() - self:min() end
  return self:max(dim, keepdim) - self:min(dim, keepdim)
end

-- NumPy's count_nonzero: int64 counts (over dim, or every element).
function T:count_nonzero(dim, keepdim)
  dim = opt_dim("count_nonzero", self, dim, 2)
  opt_keepdim("count_nonzero", keepdim, 3)
  return self:ne(0):sum(dim, keepdim)
end

-- NumPy's diff: the n-th discrete difference along dim (default the last).
function T:diff(n, dim)
  n = n == nil and 1 or n
  if math.type(n) ~= "integer" or n < 0 then argerr(2, "diff", "n must be a non-negative integer") end
  if self:dim() == 0 then argerr(1, "diff", "diff needs at least one dim") end
  dim = dim == nil and self:dim() or dim
  if math.type(dim) ~= "integer" then argerr(3, "diff", "dim must be an integer") end
  if dim < 0 then dim = self:dim() + 1 + dim end
  if dim < 1 or dim > self:dim() then
    argerr(3, "diff", ("dim %d out of range for a %d-d tensor"):format(dim, self:dim()))
  end
  local x = self
  for _ = 1, n do
    local len = x.shape[dim]
    if len <= 1 then
      local shape = {}
      for i, s in ipairs(x.shape) do shape[i] = s end
      shape[dim] = 0
      return core.zeros(shape, x.dtype)
    end
    x = x:slice(dim, 2, len) - x:slice(dim, 1, len - 1)
  end
  return x
end

-- NumPy's clip: clamp under its NumPy name.
function T:clip(lo, hi)
  opt_number("clip", lo, 2, "lo")
  opt_number("clip", hi, 3, "hi")
  return self:clamp(lo, hi)
end

-- a's and b's shapes broadcast together (NumPy's rule), or an error in fname's name
local function check_broadcast(fname, argno, a, b)
  local sa, sb = a.shape, b.shape
  for i = 1, math.min(#sa, #sb) do
    local x, y = sa[#sa + 1 - i], sb[#sb + 1 - i]
    if x ~= y and x ~= 1 and y ~= 1 then
      local function f(s) local p = {} for k, v in ipairs(s) do p[k] = tostring(v) end return table.concat(p, ", ") end
      argerr(argno, fname, ("shapes (%s) and (%s) cannot be broadcast together"):format(f(sa), f(sb)), 1)
    end
  end
end

-- NumPy's isclose / allclose: |a - b| <= atol + rtol |b| elementwise
-- (rtol 1e-5, atol 1e-8; NaNs equal only with equal_nan).
local CLOSE_OPTS = { rtol = true, atol = true, equal_nan = true }
local function close(self, other, opts, fname)
  if opts ~= nil and type(opts) ~= "table" then argerr(3, fname, "expected an options table, got " .. type(opts)) end
  opts = opts or {}
  for k in pairs(opts) do
    if not CLOSE_OPTS[k] then argerr(3, fname, ("unknown field '%s'"):format(tostring(k))) end
  end
  local rtol, atol = opts.rtol or 1e-5, opts.atol or 1e-8
  opt_number(fname, opts.rtol, 3, "field 'rtol'")
  opt_number(fname, opts.atol, 3, "field 'atol'")
  other = as_tensor(fname, other, 2)
  check_broadcast(fname, 2, self, other)
  local a, b = self:astype "float64", other:astype "float64"
  local r = (a - b):abs():le((b:abs() * rtol) + atol)
  r = r:logical_or(a:eq(b))                    -- equal infinities
  if opts.equal_nan then r = r:logical_or(a:isnan():logical_and(b:isnan())) end
  return r
end
function T:isclose(other, opts) return close(self, other, opts, "isclose") end
function T:allclose(other, opts) return close(self, other, opts, "allclose"):all():item() end

function T:deg2rad() return self * (math.pi / 180) end
function T:rad2deg() return self * (180 / math.pi) end

-- NumPy's average: the mean, weighted along dim (weights 1-d of that dim's
-- length) or over every element (weights of self's shape).
function T:average(dim, weights)
  dim = opt_dim("average", self, dim, 2)
  if weights == nil then return self:mean(dim) end
  weights = as_tensor("average", weights, 3)
  local function fmt(s) local p = {} for k, v in ipairs(s) do p[k] = tostring(v) end return table.concat(p, ", ") end
  if dim == nil then
    if fmt(weights.shape) ~= fmt(self.shape) or weights:dim() ~= self:dim() then
      argerr(3, "average", ("weights must have the tensor's shape (%s), got (%s)"):format(fmt(self.shape),
        fmt(weights.shape)))
    end
    return (self * weights):sum() / weights:sum()
  end
  if weights:dim() ~= 1 or weights.shape[1] ~= self.shape[dim] then
    argerr(3, "average", ("weights must be 1-d of length %d (dim %d), got (%s)"):format(self.shape[dim], dim,
      fmt(weights.shape)))
  end
  local shape = {}
  for i = 1, self:dim() do shape[i] = i == dim and -1 or 1 end
  local w = weights:reshape(table.unpack(shape))
  return (self * w):sum(dim) / weights:sum()
end

-- ---- index_select, flip, gather (differentiable: built on t[index], whose
-- backward scatter-adds) ------------------------------------------------------

local function check_dim(fname, t, dim, argno)
  local n = t:dim()
  if math.type(dim) ~= "integer" or dim == 0 or dim > n or dim < -n then
    error(("bad argument #%d to '%s' (dim must be an integer in 1..%d or -%d..-1, got %s)")
      :format(argno, fname, n, n, tostring(dim)), 3)
  end
  return dim < 0 and n + 1 + dim or dim
end

--- t:index_select(dim, index): the positions index (1-d integers, 1-based,
-- negative from the end) of dim, in that order.
function T:index_select(dim, index)
  dim = check_dim("index_select", self, dim, 1)
  index = as_tensor("index_select", index, 3, "int64")
  if not (index.dtype:match "^int" or index.dtype == "uint8") or index:dim() ~= 1 then
    argerr(3, "index_select", "index must be a 1-d integer tensor")
  end
  if dim == 1 then return self[index] end
  return self:transpose(1, dim)[index]:transpose(1, dim)
end

--- t:flip(dim): dim in reverse order (NumPy's flip along one axis).
function T:flip(dim)
  dim = check_dim("flip", self, dim, 1)
  local n = self.shape[dim]
  return self:index_select(dim, core.arange(n, 0, -1))
end

--- t:gather(dim, index): PyTorch's gather: out has index's shape and
-- out[..., k, ...] = t[..., index[..., k, ...], ...] along dim (1-based);
-- index's other dims must not exceed t's.
function T:gather(dim, index)
  dim = check_dim("gather", self, dim, 1)
  if not core.is_tensor(index) or not (index.dtype:match "^int" or index.dtype == "uint8") then
    error("bad argument #2 to 'gather' (index must be an integer tensor)", 2)
  end
  local n = self:dim()
  if index:dim() ~= n then
    error(("bad argument #2 to 'gather' (index must have %d dims, got %d)"):format(n, index:dim()), 2)
  end
  local s = self.shape
  for d = 1, n do
    if d ~= dim and index.shape[d] > s[d] then
      error(("bad argument #2 to 'gather' (index dim %d has %d entries, the tensor %d)")
        :format(d, index.shape[d], s[d]), 2)
    end
  end
  local idx = index:astype("int64")
  if idx:eq(0):any():item() or idx:gt(s[dim]):any():item() or idx:lt(-s[dim]):any():item() then
    error(("bad argument #2 to 'gather' (index out of range 1..%d)"):format(s[dim]), 2)
  end
  idx = core.where(idx:lt(0), idx + (s[dim] + 1), idx)
  -- linear positions into the flattened tensor (0-based), then 1-based
  local lin = core.zeros(index.shape, "int64")
  local stride = 1
  for d = n, 1, -1 do
    local coord
    if d == dim then coord = idx - 1
    else
      local shape = {}
      for k = 1, n do shape[k] = k == d and index.shape[d] or 1 end
      coord = core.arange(0, index.shape[d]):reshape(shape)
    end
    lin = lin + coord * stride
    stride = stride * s[d]
  end
  local flat = self:contiguous():reshape({ -1 })
  return flat[lin:reshape({ -1 }) + 1]:reshape(index.shape)
end

return T
