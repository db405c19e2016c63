-- stdlib/limpet/data/encoders.lua -- images to spikes (`lp.data.encoders`).
-- Owns: rate (Bernoulli per step), latency (time to first spike) and
-- sequential (rows as time steps) encoders. Each constructor returns a
-- function enc(x, key) -> (T, N) float32, x any shape with values in [0, 1]
-- (flattened to N = numel(x)); FashionMNIST's `encoder` option passes the
-- sample index as key. Not here: the random kernel (core/src/encode.c).
--   rate{T = 100, max_rate = 1 / dt (Hz), dt = 1e-3, seed = nil}
--     spike at each step with probability clamp(x * max_rate * dt, 0, 1).
--     With seed, draws depend only on (seed, key, step, element), so a
--     sample encodes the same in any order and on any thread count; without,
--     draws come from limpet's stream (lp.seed).
--   latency{T = 100, tau = 5e-3, threshold = 0.01, linear = false, dt = 1e-3}
--     one spike per element with x > threshold, none otherwise; step (1-based)
--     s = floor(tau / dt * ln(x / (x - threshold))) + 1 (RC charging to
--     threshold: brighter is earlier), dropped when s > T; linear = true:
--     s = round((1 - x) * (T - 1)) + 1 (x = 1 at step 1, x = 0 at step T).
--   sequential{} -- an (H, W) image as H steps of W channels (a copy, float32).
--   rate_batch, latency_batch, sequential_batch: the same over a batch
--   (B, ...) -> (B, T, N) in one call (end of file).
local core = require "limpet.core"
require "limpet.tensor"

local M = {}

local function argerr(fname, msg, level)
  error(("bad argument #1 to '%s' (%s)"):format(fname, msg), level + 1)
end

local function options(fname, opts, spec)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then argerr(fname, "table expected, got " .. type(opts), 3) end
  for k, v in pairs(opts) do
    local kind = spec[k]
    if not kind then argerr(fname, ("unknown field '%s'"):format(tostring(k)), 3) end
    if kind == "boolean" then
      if type(v) ~= "boolean" then argerr(fname, ("field '%s' must be a boolean"):format(k), 3) end
    elseif kind == "integer" or kind == "count" then
      if math.type(v) ~= "integer" or (kind == "count" and v < 1) then
        argerr(fname, ("field '%s' must be %s"):format(k, kind == "count" and "a positive integer" or "an integer"), 3)
      end
    elseif type(v) ~= "number" or not (v > 0) or v == math.huge then
      argerr(fname, ("field '%s' must be a positive number"):format(k), 3)
    end
  end
  return opts
end

local function flat_float(x, fname)
  if not core.is_tensor(x) then argerr(fname, "expected a tensor, got " .. type(x), 3) end
  if x.dtype ~= "float32" then x = x:astype("float32") end
  return x:reshape(-1)
end

function M.rate(opts)
  local o = options("rate", opts, { T = "count", max_rate = "number", dt = "number", seed = "integer" })
  local T, dt = o.T or 100, o.dt or 1e-3
  local gain = (o.max_rate or 1 / dt) * dt
  local seed = o.seed
  return function(x, key)
    local p = flat_float(x, "rate") * gain
    if seed then
      if key ~= nil and math.type(key) ~= "integer" then argerr("rate", "key must be an integer", 2) end
      return core.encode_rate(p, T, seed, key or 0)
    end
    return core.rand(T, p:numel()):lt(p):astype("float32")
  end
end

-- the options of latency / latency_batch with their defaults, and the step
-- (1..T, T + 1 for no spike) at which each intensity of x fires
local LATENCY_OPTIONS = { T = "count", tau = "number", threshold = "number", linear = "boolean", dt = "number" }
local function latency_defaults(o)
  return { T = o.T or 100, dt = o.dt or 1e-3, tau = o.tau or 5e-3, thr = o.threshold or 0.01,
           linear = o.linear == true }
end
local function latency_steps(x, o)
  local s
  if o.linear then
    s = ((1 - x) * (o.T - 1)):round() + 1
  else
    local safe = x:maximum(o.thr * (1 + 1e-6))
    s = ((safe / (safe - o.thr)):log() * (o.tau / o.dt)):floor() + 1
  end
  return s:where(x:gt(o.thr), o.T + 1)                  -- T + 1: no spike
end

function M.latency(opts)
  local o = latency_defaults(options("latency", opts, LATENCY_OPTIONS))
  local steps = core.arange(1, o.T + 1):reshape(o.T, 1)   -- 1..T, int64
  return function(x)
    local s = latency_steps(flat_float(x, "latency"), o)
    return steps:eq(s:reshape(1, -1)):astype("float32")
  end
end

function M.sequential(opts)
  options("sequential", opts, {})
  return function(x)
    if not core.is_tensor(x) then argerr("sequential", "expected a tensor, got " .. type(x), 2) end
    if x:dim() ~= 2 then
      argerr("sequential", ("expected an (H, W) image, got %d dims"):format(x:dim()), 2)
    end
    return x:astype("float32"):clone()
  end
end

-- ---- batched encoders: (B, ...) -> (B, T, N) in one call -------------------
--   rate_batch{...}(X[, key0]), latency_batch{...}(X), sequential_batch{}(X):
--   the options of rate / latency / sequential; row b of X encodes as the
--   single-sample encoder does (rate with a seed: key key0 + b - 1, default
--   key0 = 1, so a batch gives the rows the sample encoder gives those keys).

local function batch_float(x, fname)
  if not core.is_tensor(x) then argerr(fname, "expected a tensor, got " .. type(x), 3) end
  if x:dim() < 1 or x.shape[1] < 1 then argerr(fname, "expected a (B, ...) tensor with B >= 1", 3) end
  if x.dtype ~= "float32" then x = x:astype("float32") end
  return x:reshape(x.shape[1], -1)
end

function M.rate_batch(opts)
  local o = options("rate_batch", opts, { T = "count", max_rate = "number", dt = "number", seed = "integer" })
  local T, dt = o.T or 100, o.dt or 1e-3
  local gain = (o.max_rate or 1 / dt) * dt
  local seed = o.seed
  return function(x, key0)
    local p = batch_float(x, "rate_batch") * gain
    local B, N = p.shape[1], p.shape[2]
    if seed then
      if key0 ~= nil and math.type(key0) ~= "integer" then argerr("rate_batch", "key must be an integer", 2) end
      key0 = key0 or 1
      local rows = {}
      for b = 1, B do rows[b] = core.encode_rate(p[b], T, seed, key0 + b - 1) end
      return core.stack(rows, 1)
    end
    return core.rand(B, T, N):lt(p:reshape(B, 1, N)):astype("float32")
  end
end

function M.latency_batch(opts)
  local o = latency_defaults(options("latency_batch", opts, LATENCY_OPTIONS))
  local steps = core.arange(1, o.T + 1):reshape(1, o.T, 1)
  return function(x)
    x = batch_float(x, "latency_batch")
    return steps:eq(latency_steps(x, o):reshape(x.shape[1], 1, -1)):astype("float32")
  end
end

function M.sequential_batch(opts)
  options("sequential_batch", opts, {})
  return function(x)
    if not core.is_tensor(x) then argerr("sequential_batch", "expected a tensor, got " .. type(x), 2) end
    if x:dim() ~= 3 then
      argerr("sequential_batch", ("expected (B, H, W) images, got %d dims"):format(x:dim()), 2)
    end
    return x:astype("float32"):clone()
  end
end

return M
