-- devices/dynapse2/mismatch.lua -- the Dynap-SE2 mismatch model
-- (reference/dynapse2.md §10): x -> x·(1 + σ·ε), ε ~ N(0, 1) per element,
-- σ = percent_deviation / sigma_rule, every parameter with its own stream.
-- Owns: the seeded draws (core._dynapse2.normal: a pure function of seed,
-- stream and index, so results never depend on lp.seed's stream or on
-- thread count), the frozen prototype (every DynapSim current and layout
-- constant, applied once: a fabricated chip; DynapSim's percent_mismatch),
-- the dynamic prototype (DynapSim.w_rec and Linear.weight, re-sampled at
-- every step of mismatch-aware training), and the transform that applies
-- a sample to a network for one step while gradients reach the originals.
--
--   local mm = lp.dynapse2.mismatch_transform(net, {percent = 0.3, seed = 1})
--   for step = 1, n do
--     local loss = mm:run(function() return loss_fn(net(x), y) end)  -- a fresh sample each call
--     loss:backward(); opt:step()
--   end
local lp = require "limpet"
local core = require "limpet.core"
local class = require "limpet.class"
local U = require "limpet.nn.util"

local M = {}

--- The parameters the frozen prototype selects (§10), in tree order.
M.frozen_names = { "Idc", "If_nmda", "Igain_ahp", "Igain_mem", "Igain_syn", "Ipulse_ahp", "Ipulse", "Iref",
                   "Ispkthr", "Itau_ahp", "Itau_mem", "Itau_syn", "Iw_ahp", "C_ahp", "C_syn", "C_pulse_ahp",
                   "C_pulse", "C_ref", "C_mem", "Io", "kappa_n", "kappa_p", "Ut", "Vth" }

--- M.draw_seed() -> a seed drawn from lp's global stream (so lp.seed(s) makes it reproducible)
function M.draw_seed()
  return math.tointeger(lp.randint(0, (1 << 31) - 1, 1):reshape(-1):get(1))
end

--- M.normal(seed, stream, shape, dtype) -> tensor of standard normal draws
function M.normal(seed, stream, shape, dtype)
  if math.type(seed) ~= "integer" then U.argerror("normal", 1, "an integer seed expected, got " .. tostring(seed), 2) end
  if math.type(stream) ~= "integer" then
    U.argerror("normal", 2, "an integer stream expected, got " .. tostring(stream), 2)
  end
  if type(shape) ~= "table" or lp.is_tensor(shape) then
    U.argerror("normal", 3, "a shape table expected, got " .. type(shape), 2)
  end
  for i, d in ipairs(shape) do
    if math.type(d) ~= "integer" or d < 0 then
      U.argerror("normal", 3, ("shape[%d] must be a non-negative integer, got %s"):format(i, tostring(d)), 2)
    end
  end
  if dtype ~= nil and dtype ~= "float32" and dtype ~= "float64" then
    U.argerror("normal", 4, "dtype must be 'float32' or 'float64', got " .. tostring(dtype), 2)
  end
  local n = U.numel(shape)
  return core._dynapse2.normal(seed, stream, n, dtype or "float64"):reshape(shape)
end

--- M.perturb(x, percent, seed, stream[, sigma_rule = 3]) -> x·(1 + σ·ε), a new tensor of x's dtype
-- (differentiable in x: ε is a constant).
function M.perturb(x, percent, seed, stream, sigma_rule)
  if not lp.is_tensor(x) then U.argerror("perturb", 1, "a tensor expected, got " .. type(x), 2) end
  if type(percent) ~= "number" or not (percent >= 0) or percent == math.huge then
    U.argerror("perturb", 2, "percent must be a non-negative finite number, got " .. tostring(percent), 2)
  end
  if math.type(seed) ~= "integer" then U.argerror("perturb", 3, "an integer seed expected, got " .. tostring(seed), 2) end
  if math.type(stream) ~= "integer" then
    U.argerror("perturb", 4, "an integer stream expected, got " .. tostring(stream), 2)
  end
  if sigma_rule ~= nil and (type(sigma_rule) ~= "number" or not (sigma_rule > 0) or sigma_rule == math.huge) then
    U.argerror("perturb", 5, "sigma_rule must be a positive finite number, got " .. tostring(sigma_rule), 2)
  end
  if x.dtype ~= "float32" and x.dtype ~= "float64" then
    U.argerror("perturb", 1, "a float32 or float64 tensor expected, got " .. x.dtype, 2)
  end
  local sigma = percent / (sigma_rule or 3)
  local eps = M.normal(seed, stream, x.shape, x.dtype)
  return x * (eps * sigma + 1)
end

-- prototypes ----------------------------------------------------------------

-- the modules of a network, depth first, with their paths
local function walk(mod, path, out)
  out[#out + 1] = { mod = mod, path = path }
  for _, n in ipairs(mod._mod_order or {}) do walk(mod._mods[n], path == "" and n or path .. "." .. n, out) end
  return out
end

local function is_dynapsim(m)
  local D = require("limpet.dynapse2.dynapsim").DynapSim
  return class.is_a(m, D)
end
local function is_linear(m)
  return class.is_a(m, require "limpet.nn.linear")
end
local function check_net(fname, net, level)
  if not class.is_a(net, require "limpet.nn.module") then
    U.argerror(fname, 1, "a network (nn module) expected, got " .. (lp.is_tensor(net) and "tensor" or type(net)),
      (level or 2) + 1)
  end
end

--- frozen_mismatch_prototype(net) -> list of {mod, name, path}: every DynapSim
-- current and layout constant (nothing of Linear).
function M.frozen_mismatch_prototype(net)
  check_net("frozen_mismatch_prototype", net)
  local out = {}
  for _, e in ipairs(walk(net, "", {})) do
    if is_dynapsim(e.mod) then
      for _, n in ipairs(M.frozen_names) do out[#out + 1] = { mod = e.mod, name = n, path = e.path } end
    end
  end
  return out
end

--- dynamic_mismatch_prototype(net) -> list of {mod, name, path}: DynapSim.w_rec
-- and Linear.weight, for mismatch-aware training.
function M.dynamic_mismatch_prototype(net)
  check_net("dynamic_mismatch_prototype", net)
  local out = {}
  for _, e in ipairs(walk(net, "", {})) do
    if is_dynapsim(e.mod) and e.mod.has_rec then
      out[#out + 1] = { mod = e.mod, name = "w_rec", path = e.path }
    elseif is_linear(e.mod) and e.mod.weight ~= nil then
      out[#out + 1] = { mod = e.mod, name = "weight", path = e.path }
    end
  end
  return out
end

local function check_opts(fname, opts)
  opts = U.options(fname, 2, opts, { percent = 0.30, percent_deviation = U.NONE, sigma_rule = 3.0, seed = U.NONE }, 3)
  local p = opts.percent_deviation or opts.percent
  if type(p) ~= "number" or p < 0 then U.argerror(fname, 2, "field 'percent' must be a non-negative number", 3) end
  if type(opts.sigma_rule) ~= "number" or not (opts.sigma_rule > 0) then
    U.argerror(fname, 2, "field 'sigma_rule' must be a positive number", 3)
  end
  if opts.seed ~= nil and math.type(opts.seed) ~= "integer" then
    U.argerror(fname, 2, "field 'seed' must be an integer", 3)
  end
  return p, opts.sigma_rule, opts.seed
end

--- mismatch_generator(prototype, {percent = 0.30, sigma_rule = 3, seed}) -> gen:
-- gen(key) -> list of {mod, name, value}: each selected leaf x as x·(1 + σ·ε),
-- σ = percent/sigma_rule, leaf i drawn from stream (key, i). Nothing is changed.
local function check_prototype(fname, argn, prototype, level)
  if type(prototype) ~= "table" then
    U.argerror(fname, argn, "a prototype (list of {mod, name}) expected, got " .. type(prototype), level + 1)
  end
  for i, e in ipairs(prototype) do
    if type(e) ~= "table" or type(e.name) ~= "string" or not class.is_a(e.mod, require "limpet.nn.module")
       or not lp.is_tensor(e.mod[e.name]) then
      U.argerror(fname, argn, ("prototype entry %d is not {mod = module, name = a tensor parameter}"):format(i),
        level + 1)
    end
  end
end

function M.mismatch_generator(prototype, opts)
  check_prototype("mismatch_generator", 1, prototype, 2)
  local p, rule = check_opts("mismatch_generator", opts)
  return function(key)
    if math.type(key) ~= "integer" then U.argerror("mismatch_generator", 1, "an integer key expected", 2) end
    local out = {}
    for i, e in ipairs(prototype) do
      out[i] = { mod = e.mod, name = e.name, path = e.path, value = M.perturb(e.mod[e.name], p, key, i, rule) }
    end
    return out
  end
end

--- M.apply_frozen(net, percent[, seed]) -> net: the frozen mismatch applied once
-- (in place, to every DynapSim in net).
function M.apply_frozen(net, percent, seed, sigma_rule)
  check_net("apply_frozen", net)
  if type(percent) ~= "number" or not (percent >= 0) or percent == math.huge then
    U.argerror("apply_frozen", 2, "percent must be a non-negative finite number, got " .. tostring(percent), 2)
  end
  if seed ~= nil and math.type(seed) ~= "integer" then
    U.argerror("apply_frozen", 3, "seed must be nil or an integer, got " .. tostring(seed), 2)
  end
  if sigma_rule ~= nil and (type(sigma_rule) ~= "number" or not (sigma_rule > 0) or sigma_rule == math.huge) then
    U.argerror("apply_frozen", 4, "sigma_rule must be a positive finite number, got " .. tostring(sigma_rule), 2)
  end
  seed = seed or M.draw_seed()
  local gen = M.mismatch_generator(M.frozen_mismatch_prototype(net), { percent = percent, sigma_rule = sigma_rule })
  for _, e in ipairs(gen(seed)) do e.mod[e.name] = e.value:detach() end
  return net
end

-- Transform -----------------------------------------------------------------

local Transform = class.Object:extend("MismatchTransform")

--- mismatch_transform(net, {percent = 0.30, sigma_rule = 3, seed, prototype}) ->
-- a transform for mismatch-aware training: t:run(f) draws a new sample of
-- the dynamic prototype (w_rec, Linear weights), puts x·(1 + σ·ε) in place
-- of every selected parameter (a tensor computed from it, so gradients
-- reach the original), calls f(), puts the originals back, and returns
-- f's results. Sample k of a transform seeded with s is the same on every
-- run. t:apply() / t:restore() do the two halves separately.
function Transform:init(net, opts)
  check_net("mismatch_transform", net, 3)
  if opts ~= nil and type(opts) ~= "table" then
    U.argerror("mismatch_transform", 2, "table of options expected, got " .. type(opts), 3)
  end
  opts = opts or {}
  local proto = opts.prototype
  if proto ~= nil then check_prototype("mismatch_transform", 2, proto, 3) end
  local o = {}
  for k, v in pairs(opts) do if k ~= "prototype" then o[k] = v end end
  local p, rule, seed = check_opts("mismatch_transform", o)
  self.net = net
  self.prototype = proto or M.dynamic_mismatch_prototype(net)
  self.percent, self.sigma_rule = p, rule
  self.seed = seed or M.draw_seed()
  self.count = 0
end

function Transform:apply()
  if self._saved then error("mismatch_transform: apply called twice without restore", 2) end
  self.count = self.count + 1
  local key = self.seed * 1000003 + self.count
  local saved = {}
  for i, e in ipairs(self.prototype) do
    local vals = e.mod._values
    local orig = vals[e.name]
    saved[i] = orig
    vals[e.name] = M.perturb(orig, self.percent, key, i, self.sigma_rule)
  end
  self._saved = saved
  return self
end

function Transform:restore()
  local saved = self._saved
  if not saved then return self end
  for i, e in ipairs(self.prototype) do e.mod._values[e.name] = saved[i] end
  self._saved = nil
  return self
end

function Transform:run(f, ...)
  local mt = getmetatable(f)
  if type(f) ~= "function" and not (type(mt) == "table" and mt.__call) then
    U.argerror("run", 1, "mismatch_transform:run needs a function, got " .. type(f), 2)
  end
  self:apply()
  local res = table.pack(pcall(f, ...))
  self:restore()
  if not res[1] then error(res[2], 0) end
  return table.unpack(res, 2, res.n)
end

M.Transform = Transform
function M.mismatch_transform(net, opts) return Transform(net, opts) end

return M
