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
  local n = U.numel(shape)
  return core._dynapse2.normal(seed, stream, n, dtype or "float64"):reshape(shape)
end

--- M.perturb(x, percent, seed, stream[, sigma_rule = 3]) -> x·(1 + σ·ε), a new tensor of x's dtype
-- (differentiable in x: ε is a constant).
function M.perturb(x, percent, seed, stream, sigma_rule)
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

--- frozen_mismatch_prototype(net) -> list of {mod, name, path}: every DynapSim
-- current and layout constant (nothing of Linear).
function M.frozen_mismatch_prototype(net)
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
function M.mismatch_generator(prototype, opts)
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
  opts = opts or {}
  local proto = opts.prototype
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
  self:apply()
  local res = table.pack(pcall(f, ...))
  self:restore()
  if not res[1] then error(res[2], 0) end
  return table.unpack(res, 2, res.n)
end

M.Transform = Transform
function M.mismatch_transform(net, opts) return Transform(net, opts) end

return M
