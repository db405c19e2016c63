-- stdlib/limpet/transform.lua -- `lp.transform`: parameter transforms applied
-- on every forward pass (Rockpool's torch_transform family).
-- Owns: the transforms int_quant, t_decay, dropout and mismatch (each with a
-- straight-through or natural gradient, see below), the wrapper TWrapper
-- that applies them to chosen parameters of a network on every call (and to
-- what as_graph exports), and the pipeline functions make_param_T_config,
-- make_param_T_network, apply_transform (burn the transformed values in) and
-- remove_transform (unwrap).
-- Not here: the modules (nn/), the Xylo quantisers of a mapped spec
-- (devices/xylo/quantize.lua), QAT (devices/xylo/qat.lua).
--
-- Every transform can be called two ways: `T.int_quant(t, opts)` transforms
-- the tensor t now; `T.int_quant(opts)` returns a function t -> tensor for a
-- config. The result always carries gradients to t:
--   int_quant  q = round(x·s) (or floor(x·s + u), u ~ U[0, 1), stochastic),
--              s = L / max|x|, L = 2^(n_bits-1) - 1, per tensor or per
--              channel (one scale per position of the LAST dimension: the
--              post-synaptic neuron of a (Nin, Nout) weight); returns q / s
--              (or q with map_to_max = true). Straight-through: d/dx = 1
--              (s with map_to_max); s itself is treated as a constant.
--              Rounding is half to even, as the Xylo quantisers.
--   t_decay    decays α in (0, 1) -> 1 - 2^-dash, dash = round(-log2(1 - α));
--              with dt given, time constants τ -> the τ whose decay
--              exp(-dt/τ) is exactly 1 - 2^-dash, dash = round(log2(τ/dt))
--              (the Xylo mapper's rule, so a mapped τ gives back the same
--              dash); dash is clipped to [1, 15]. Straight-through: d/dx = 1.
--   dropout    x·m, m ~ Bernoulli(1 - p), unscaled (Rockpool's); gradient m.
--   mismatch   x·(1 + σ/100·n), n ~ N(0, 1) re-drawn on every call; gradient
--              1 + σ/100·n. σ is a percentage (Rockpool's percent deviation).
-- Random draws: with `seed`, a transform owns its stream (seed, counter) and
-- advances it on every call, so runs repeat exactly and nothing else's
-- random numbers move; without, it draws from limpet's generator (lp.seed).
local lp = require "limpet"
local class = require "limpet.class"
local Module = require "limpet.nn.module"
local U = require "limpet.nn.util"

local ev = lp.core._events
local M = {}

local LN2 = math.log(2)

local function tname(v)
  if lp.is_tensor(v) then return "tensor" end
  return type(v)
end

-- A transform constructor: opts checked against defaults; called with a
-- tensor it applies at once, else it returns the closure.
local function transform(fname, defaults, check, apply)
  return function(a, b)
    local t, opts
    if lp.is_tensor(a) then t, opts = a, b else opts = a end
    local argn = t and 2 or 1
    if t and b ~= nil and (type(b) ~= "table" or lp.is_tensor(b)) then
      U.argerror(fname, 2, "table expected, got " .. tname(b), 2)
    end
    local o = U.options(fname, argn, opts, defaults, 2)
    check(fname, argn, o)
    local stream = { seed = o.seed, counter = 0 }
    local function fn(x)
      if not lp.is_tensor(x) then U.argerror(fname, 1, "tensor expected, got " .. tname(x), 2) end
      if x.dtype ~= "float32" and x.dtype ~= "float64" then
        U.argerror(fname, 1, ("float tensor expected, got %s"):format(x.dtype), 2)
      end
      return apply(x, o, stream)
    end
    if t then return fn(t) end
    return fn
  end
end

-- n draws shaped like x (dtype of x) from the transform's stream.
local function draw(kind, x, stream)
  local n = x:numel()
  local d
  if stream.seed then
    d = ev[kind](n, stream.seed, stream.counter)
    stream.counter = stream.counter + n * (kind == "normal" and 2 or 1)
  else
    d = ev[kind](n)
  end
  if n == 0 then return lp.zeros(x.shape, x.dtype) end
  return d:astype(x.dtype):reshape(x.shape)
end

local function check_seed(fname, n, o)
  if o.seed ~= nil and math.type(o.seed) ~= "integer" then
    U.argerror(fname, n, "field 'seed' must be an integer", 4)
  end
end

-- straight-through: the value of `value`, the gradient of `through`
local function ste(through, value)
  return through + (value - through):detach()
end
--- straight_through(through, value) -> value, with through's gradient (tensors of one shape)
function M.straight_through(through, value)
  if not lp.is_tensor(through) then U.argerror("straight_through", 1, "a tensor expected, got " .. tname(through), 2) end
  if not lp.is_tensor(value) then U.argerror("straight_through", 2, "a tensor expected, got " .. tname(value), 2) end
  local a, b = through.shape, value.shape
  local same = #a == #b
  for i = 1, #a do same = same and a[i] == b[i] end
  if not same then
    U.argerror("straight_through", 2, ("value's shape (%s) differs from through's (%s)")
      :format(table.concat(b, ", "), table.concat(a, ", ")), 2)
  end
  return ste(through, value)
end

-- int_quant -------------------------------------------------------------------

--- T.int_quant([t, ]{n_bits = 8, per_channel = false, stochastic = false,
--   map_to_max = false, seed = }) -- see the header.
M.int_quant = transform("int_quant",
  { n_bits = 8, per_channel = false, stochastic = false, map_to_max = false, seed = U.NONE },
  function(fname, n, o)
    if math.type(o.n_bits) ~= "integer" or o.n_bits < 2 or o.n_bits > 32 then
      U.argerror(fname, n, "field 'n_bits' must be an integer in [2, 32]", 4)
    end
    for _, k in ipairs { "per_channel", "stochastic", "map_to_max" } do
      if type(o[k]) ~= "boolean" then U.argerror(fname, n, ("field '%s' must be a boolean"):format(k), 4) end
    end
    check_seed(fname, n, o)
  end,
  function(x, o, stream)
    local L = 2 ^ (o.n_bits - 1) - 1
    local xd = x:detach()
    local m
    if o.per_channel and x:dim() >= 1 then
      local last = x.shape[x:dim()]
      if x:numel() == 0 then m = lp.zeros({ last }, x.dtype)
      else m = (xd:abs():reshape({ -1, last }):max(1)) end     -- (last): broadcasts over rows
    else
      m = x:numel() > 0 and xd:abs():max() or lp.tensor(0, x.dtype)
    end
    local pos = m:gt(0)
    local s = lp.where(pos, lp.tensor(L, x.dtype) / lp.where(pos, m, lp.ones_like(m)), lp.ones_like(m))
    local v = xd * s
    local q
    if o.stochastic then q = lp.floor(v + draw("uniform", x, stream))
    else q = lp.round(v) end
    q = q:clamp(-L, L)
    if o.map_to_max then return ste(x * s, q) end
    return ste(x, q / s)
  end)

-- t_decay ---------------------------------------------------------------------

--- T.t_decay([t, ]{dt = , max_dash = 15}) -- see the header.
M.t_decay = transform("t_decay", { dt = U.NONE, max_dash = 15 },
  function(fname, n, o)
    if o.dt ~= nil and (type(o.dt) ~= "number" or not (o.dt > 0)) then
      U.argerror(fname, n, "field 'dt' must be a positive number", 4)
    end
    if math.type(o.max_dash) ~= "integer" or o.max_dash < 1 or o.max_dash > 62 then
      U.argerror(fname, n, "field 'max_dash' must be an integer in [1, 62]", 4)
    end
  end,
  function(x, o)
    local xd = x:detach():astype("float64")
    local dash, q
    if o.dt then
      dash = lp.round(lp.log(xd:clamp(1e-300, math.huge) * (1 / o.dt)) * (1 / LN2)):clamp(1, o.max_dash)
      -- tau with exp(-dt/tau) = 1 - 2^-dash
      q = lp.tensor(-o.dt, "float64") / lp.log(1 - lp.exp(dash * (-LN2)))
    else
      local r = (1 - xd):clamp(2 ^ -(o.max_dash + 1), math.huge)
      dash = lp.round(lp.log(r) * (-1 / LN2)):clamp(1, o.max_dash)
      q = 1 - lp.exp(dash * (-LN2))
    end
    return ste(x, q:astype(x.dtype))
  end)

-- dropout ---------------------------------------------------------------------

--- T.dropout([t, ]{p = 0.5, seed = }) -- see the header.
M.dropout = transform("dropout", { p = 0.5, seed = U.NONE },
  function(fname, n, o)
    if type(o.p) ~= "number" or not (o.p >= 0 and o.p < 1) then
      U.argerror(fname, n, "field 'p' must be a number in [0, 1)", 4)
    end
    check_seed(fname, n, o)
  end,
  function(x, o, stream)
    local keep = draw("uniform", x, stream):ge(o.p):astype(x.dtype)
    return x * keep
  end)

-- mismatch --------------------------------------------------------------------

--- T.mismatch([t, ]{sigma = 10 (percent), seed = }) -- see the header.
M.mismatch = transform("mismatch", { sigma = 10, seed = U.NONE },
  function(fname, n, o)
    if type(o.sigma) ~= "number" or not (o.sigma >= 0 and o.sigma < math.huge) then
      U.argerror(fname, n, "field 'sigma' must be a non-negative number (percent)", 4)
    end
    check_seed(fname, n, o)
  end,
  function(x, o, stream)
    return x * (draw("normal", x, stream) * (o.sigma / 100) + 1)
  end)

-- the wrapper -----------------------------------------------------------------

local function is_module(m) return class.is_a(m, Module) end

-- Walk config against net: fn(module, attribute name, transform, path) for
-- each leaf. Unknown names and non-function leaves are errors.
local function walk_config(fname, argn, net, cfg, fn, path, level)
  for k, v in pairs(cfg) do
    local where = path and (path .. "." .. tostring(k)) or tostring(k)
    local sub = rawget(net, "_mods")[k]
    if sub then
      if type(v) ~= "table" or lp.is_tensor(v) then
        U.argerror(fname, argn, ("config '%s': a sub-module needs a table"):format(where), level)
      end
      walk_config(fname, argn, sub, v, fn, where, level + 1)
    elseif rawget(net, "_attrs")[k] then
      if net._attrs[k].kind ~= "parameter" then
        U.argerror(fname, argn, ("config '%s': not a trainable parameter"):format(where), level)
      end
      if type(v) ~= "function" and not (type(v) == "table" and getmetatable(v) and getmetatable(v).__call) then
        U.argerror(fname, argn, ("config '%s': a function expected, got %s"):format(where, tname(v)), level)
      end
      fn(net, k, v, where)
    else
      U.argerror(fname, argn, ("config '%s': no such parameter or sub-module"):format(where), level)
    end
  end
end

--- T.make_param_T_config(net, fn[, family]) -> a config: a table nested
-- like net:parameters(family) whose leaves are fn.
function M.make_param_T_config(net, fn, family)
  if not is_module(net) then U.argerror("make_param_T_config", 1, "module expected, got " .. tname(net), 2) end
  if type(fn) ~= "function" then U.argerror("make_param_T_config", 2, "function expected, got " .. tname(fn), 2) end
  local function map(t)
    local out = {}
    for k, v in pairs(t) do
      if lp.is_tensor(v) then out[k] = fn else out[k] = map(v) end
    end
    return out
  end
  local cfg = map(net:parameters(family))
  if next(cfg) == nil then
    U.argerror("make_param_T_config", 3, ("no parameter of family '%s'"):format(tostring(family)), 2)
  end
  return cfg
end

local TWrapper = Module:extend("TWrapper")
M.TWrapper = TWrapper

--- T.make_param_T_network(net, config) -> a TWrapper around net: every call
-- (and as_graph) sees the transformed parameters; the trainable tensors stay
-- net's own (parameters() of the wrapper is net:parameters()).
function TWrapper:init(net, cfg)
  if not is_module(net) then U.argerror("TWrapper", 1, "module expected, got " .. tname(net), 4) end
  if type(cfg) ~= "table" or lp.is_tensor(cfg) then
    U.argerror("TWrapper", 2, "config table expected, got " .. tname(cfg), 4)
  end
  local list = {}
  walk_config("TWrapper", 2, net, cfg, function(m, name, fn, path)
    list[#list + 1] = { m = m, name = name, fn = fn, path = path }
  end, nil, 5)
  table.sort(list, function(a, b) return a.path < b.path end)
  Module.init(self, net.shape)
  local name = rawget(net, "_name")
  self:submodule("module", net)
  rawset(net, "_name", name)      -- the network keeps its own name (graphs carry it)
  rawset(self, "_tlist", list)
  rawset(self, "_tconfig", cfg)
end

function M.make_param_T_network(net, cfg)
  if not is_module(net) then U.argerror("make_param_T_network", 1, "module expected, got " .. tname(net), 2) end
  if type(cfg) ~= "table" or lp.is_tensor(cfg) then
    U.argerror("make_param_T_network", 2, "config table expected, got " .. tname(cfg), 2)
  end
  return TWrapper(net, cfg)
end

-- Put the transformed values in place of the parameters, run f, put the
-- parameters back (also when f raises).
function TWrapper:_with_transformed(f, ...)
  local saved = {}
  local ok, err = pcall(function()
    for i, e in ipairs(self._tlist) do
      local p = e.m._values[e.name]
      local q = e.fn(p)
      if not lp.is_tensor(q) or not U.same_shape(q.shape, p.shape) then
        error(("transform of '%s' must return a tensor of shape %s"):format(e.path, U.fmt_shape(p.shape)), 0)
      end
      saved[i] = p
      e.m._values[e.name] = q
    end
  end)
  local res
  if ok then res = table.pack(pcall(f, ...)) end
  for i, e in ipairs(self._tlist) do
    if saved[i] then e.m._values[e.name] = saved[i] end
  end
  if not ok then error(err, 0) end
  if not res[1] then error(res[2], 0) end
  return table.unpack(res, 2, res.n)
end

function TWrapper:evolve(x, record)
  local net = self._mods.module
  return self:_with_transformed(function() return net:evolve(x, record) end)
end

--- tnet:as_graph(): the inner network's graph, built from the transformed
-- values (stochastic transforms draw once).
function TWrapper:as_graph()
  local net = self._mods.module
  return self:_with_transformed(function()
    return lp.no_grad(function() return net:as_graph() end)
  end)
end

-- The trainable tensors, states and settings are the wrapped network's.
function TWrapper:_collect(kind, family) return self._mods.module:_collect(kind, family) end
function TWrapper:set_attributes(tbl)
  self._mods.module:set_attributes(tbl)
  return self
end
function TWrapper:count_parameters() return self._mods.module:count_parameters() end

--- T.apply_transform(tnet) -> tnet with each transformed value written into
-- its parameter (in place, without gradient; stochastic transforms draw
-- once). Rockpool's apply_T. The wrapper stays: remove_transform unwraps.
local function apply_transform(tnet, fname)
  if not class.is_a(tnet, TWrapper) then
    U.argerror(fname, 1, "TWrapper expected, got " .. (is_module(tnet) and tnet.class_name or tname(tnet)), 3)
  end
  lp.no_grad(function()
    for _, e in ipairs(tnet._tlist) do
      local p = e.m._values[e.name]
      local q = e.fn(p)
      p:copy_(q:detach():astype(p.dtype))
    end
  end)
  return tnet
end

--- T.remove_transform(tnet) -> the wrapped network (wrappers nested by
-- repeated make_param_T_network are all removed). Rockpool's remove_T_net.
local function remove_transform(tnet, fname)
  if not is_module(tnet) then U.argerror(fname, 1, "module expected, got " .. tname(tnet), 3) end
  local net = tnet
  while class.is_a(net, TWrapper) do net = net._mods.module end
  return net
end

function M.apply_transform(tnet) return apply_transform(tnet, "apply_transform") end
function M.remove_transform(tnet) return remove_transform(tnet, "remove_transform") end

-- Rockpool's names, each its own function so that its errors name it
function M.apply_T(tnet) return apply_transform(tnet, "apply_T") end
function M.remove_T_net(tnet) return remove_transform(tnet, "remove_T_net") end

return M
