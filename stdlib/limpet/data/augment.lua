-- stdlib/limpet/data/augment.lua -- image augmentations over a batch
-- (`lp.data.augment`), random per sample and reproducible.
-- Owns: flip, shift (random crop of a zero-padded image), rotate (small
-- angles, nearest neighbour, zeros outside), and compose. Each constructor
-- returns aug(x[, key0]) -> a new tensor of x's shape, x (B, H, W) or
-- (B, C, H, W) (one draw per sample, shared by its channels). With `seed`,
-- sample b's draw is a pure function of (seed, key0 + b - 1) (key0 default
-- 1; pass the samples' indices so an epoch's order does not matter); without,
-- draws come from limpet's stream (lp.seed). Not differentiable in the
-- parameters of the draw; values pass through index ops (gradients flow to
-- x).
--   flip{p = 0.5, seed =}          mirror left-right with probability p
--   shift{max = 2, seed =}         move by (dy, dx) in [-max, max]², zeros in
--   rotate{degrees = 10, seed =}   rotate by an angle in [-degrees, degrees]
--                                  (or {lo, hi}); positive is clockwise as
--                                  displayed (rows downward)
--   compose{aug1, aug2, ...}       one after the other
local core = require "limpet.core"
require "limpet.tensor"

local M = {}

local function argerr(fname, argno, msg, level)
  error(("bad argument #%d to '%s' (%s)"):format(argno, fname, msg), level + 1)
end

local function options(fname, opts, spec, defaults)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" or core.is_tensor(opts) then argerr(fname, 1, "table expected, got " .. type(opts), 3) end
  local out = {}
  for k, v in pairs(defaults) do out[k] = v end
  for k, v in pairs(opts) do
    local check = spec[k]
    if not check then argerr(fname, 1, ("unknown field '%s'"):format(tostring(k)), 3) end
    local msg = check(v)
    if msg then argerr(fname, 1, ("field '%s' %s"):format(k, msg), 3) end
    out[k] = v
  end
  return out
end
local function int_seed(v) if math.type(v) ~= "integer" then return "must be an integer" end end

-- splitmix64-style hash of (seed, key, salt) -> uniform [0, 1)
local function u01(seed, key, salt)
  local z = seed * 0x9E3779B97F4A7C15 + key * 0xBF58476D1CE4E5B9 + salt * 0x94D049BB133111EB
  z = (z ~ (z >> 30)) * 0xBF58476D1CE4E5B9
  z = (z ~ (z >> 27)) * 0x94D049BB133111EB
  z = z ~ (z >> 31)
  return ((z >> 11) & 0x1FFFFFFFFFFFFF) / 9007199254740992.0
end

-- draws(o, B, key0, k) -> function(b, salt) -> u in [0, 1)
local function draws(o, B, key0, fname)
  if key0 ~= nil and math.type(key0) ~= "integer" then argerr(fname, 2, "key must be an integer", 3) end
  key0 = key0 or 1
  if o.seed then
    return function(b, salt) return u01(o.seed, key0 + b - 1, salt) end
  end
  local r = core.rand(B, 4, "float64"):totable()
  return function(b, salt) return r[b][salt] end
end

local function images(x, fname)
  if not core.is_tensor(x) or (x:dim() ~= 3 and x:dim() ~= 4) then
    argerr(fname, 1, "expected (B, H, W) or (B, C, H, W) images", 3)
  end
  return x
end

-- apply f(sample, b) to each sample and stack
local function per_sample(x, f)
  local out = {}
  for b = 1, x.shape[1] do out[b] = f(x[b], b) end
  return core.stack(out, 1)
end

function M.flip(opts)
  local o = options("flip", opts, {
    p = function(v) if type(v) ~= "number" or v < 0 or v > 1 then return "must be a number in [0, 1]" end end,
    seed = int_seed }, { p = 0.5 })
  return function(x, key0)
    x = images(x, "flip")
    local u = draws(o, x.shape[1], key0, "flip")
    return per_sample(x, function(s, b)
      if u(b, 1) < o.p then return s:flip(-1) end
      return s
    end)
  end
end

function M.shift(opts)
  local o = options("shift", opts, {
    max = function(v) if math.type(v) ~= "integer" or v < 0 then return "must be a non-negative integer" end end,
    seed = int_seed }, { max = 2 })
  return function(x, key0)
    x = images(x, "shift")
    local u = draws(o, x.shape[1], key0, "shift")
    local H, W = x.shape[x:dim() - 1], x.shape[x:dim()]
    local m = o.max
    return per_sample(x, function(s, b)
      local dy = math.floor(u(b, 1) * (2 * m + 1)) - m
      local dx = math.floor(u(b, 2) * (2 * m + 1)) - m
      if dy == 0 and dx == 0 then return s end
      -- out[i, j] = s[i - dy, j - dx] inside, 0 outside: positions clamped, then masked
      local rows = core.arange(1, H + 1) - dy
      local cols = core.arange(1, W + 1) - dx
      local rmask = rows:ge(1):logical_and(rows:le(H)):astype(s.dtype)
      local cmask = cols:ge(1):logical_and(cols:le(W)):astype(s.dtype)
      local r = s:index_select(-2, rows:clamp(1, H)):index_select(-1, cols:clamp(1, W))
      return r * rmask:reshape(H, 1) * cmask:reshape(1, W)
    end)
  end
end

function M.rotate(opts)
  local o = options("rotate", opts, {
    degrees = function(v)
      if type(v) == "number" and v >= 0 and v <= 180 then return end
      if type(v) == "table" and #v == 2 and type(v[1]) == "number" and type(v[2]) == "number" and v[1] <= v[2] then
        return
      end
      return "must be a number in [0, 180] or a range {lo, hi}"
    end,
    seed = int_seed }, { degrees = 10 })
  local lo, hi
  if type(o.degrees) == "table" then lo, hi = o.degrees[1], o.degrees[2] else lo, hi = -o.degrees, o.degrees end
  return function(x, key0)
    x = images(x, "rotate")
    local u = draws(o, x.shape[1], key0, "rotate")
    local H, W = x.shape[x:dim() - 1], x.shape[x:dim()]
    local cy, cx = (H + 1) / 2, (W + 1) / 2
    local ii = core.arange(1, H + 1):astype("float64"):reshape(H, 1) - cy
    local jj = core.arange(1, W + 1):astype("float64"):reshape(1, W) - cx
    return per_sample(x, function(s, b)
      local a = (lo + u(b, 1) * (hi - lo)) * math.pi / 180
      if a == 0 then return s end
      local c, sn = math.cos(a), math.sin(a)
      -- source of output (i, j): rotate back by -a about the centre, nearest pixel
      local si = (ii * c - jj * sn + cy):round()
      local sj = (ii * sn + jj * c + cx):round()
      local inside = si:ge(1):logical_and(si:le(H)):logical_and(sj:ge(1)):logical_and(sj:le(W))
      local lin = ((si:clamp(1, H) - 1) * W + sj:clamp(1, W)):astype("int64"):reshape(-1)
      local lead = s:dim() == 3 and s.shape[1] or nil
      local flat = lead and s:reshape(lead, H * W) or s:reshape(1, H * W)
      local r = flat:index_select(2, lin):reshape(lead or 1, H, W) * inside:astype(s.dtype)
      return lead and r or r:reshape(H, W)
    end)
  end
end

function M.compose(list)
  if type(list) ~= "table" or #list == 0 then argerr("compose", 1, "a non-empty list of augmentations expected", 2) end
  for i, f in ipairs(list) do
    if type(f) ~= "function" then argerr("compose", 1, ("element %d is not a function"):format(i), 2) end
  end
  return function(x, key0)
    for _, f in ipairs(list) do x = f(x, key0) end
    return x
  end
end

return M
