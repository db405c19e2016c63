-- stdlib/limpet/nn/scale_threshold.lua -- NIR's stateless nodes as
-- modules: nn.Scale (y = s ⊙ x, s trainable) and nn.Threshold (z = [x >
-- theta], 0/1; backward through a sigmoid surrogate of slope
-- surrogate_scale, straight-through: z = σ + ([x > θ] - σ) detached).
-- Input (B, T, *shape), shape N or a per-sample shape such as {C, H, W}.
local lp = require "limpet"
local Module = require "limpet.nn.module"
local U = require "limpet.nn.util"

local M = {}

local function check_input(self, x)
  local s = self.neuron_shape
  if not lp.is_tensor(x) then U.argerror("evolve", 1, ("%s expects a tensor, got %s"):format(self.full_name, type(x)), 3) end
  if x:dim() == #s + 1 then x = x:unsqueeze(1) end
  local ok = x:dim() == #s + 2
  for i = 1, #s do ok = ok and x.shape[i + 2] == s[i] end
  if not ok then
    U.argerror("evolve", 1, ("%s expects input (B, T, %s), got %s")
      :format(self.full_name, table.concat(s, ", "), U.fmt_shape(x.shape)), 3)
  end
  return x
end

--- nn.Scale(shape, {scale = 1})
local Scale = Module:extend("Scale")
M.Scale = Scale
function Scale:init(shape, opts)
  local s = U.per_sample_shape("Scale", shape)
  opts = U.options("Scale", 2, opts, { scale = 1 }, 3)
  Module.init(self, U.numel(s))
  rawset(self, "neuron_shape", s)
  local v = opts.scale
  if type(v) == "number" then v = lp.full(s, v, "float32") end
  self:parameter("scale", v, { shape = s, family = "weights" })
end
function Scale:evolve(x, record)
  x = check_input(self, x)
  return x * self.scale, {}, {}
end

--- nn.Threshold(shape, {threshold = 1, surrogate_scale = 5})
local Threshold = Module:extend("Threshold")
M.Threshold = Threshold
function Threshold:init(shape, opts)
  local s = U.per_sample_shape("Threshold", shape)
  opts = U.options("Threshold", 2, opts, { threshold = 1, surrogate_scale = 5 }, 3)
  if type(opts.surrogate_scale) ~= "number" or not (opts.surrogate_scale > 0) then
    U.argerror("Threshold", 2, "field 'surrogate_scale' must be a positive number", 3)
  end
  Module.init(self, U.numel(s))
  rawset(self, "neuron_shape", s)
  local v = opts.threshold
  if type(v) == "number" then v = lp.full(s, v, "float32") end
  self:parameter("threshold", v, { shape = s, family = "thresholds" })
  self:simulation_parameter("surrogate_scale", opts.surrogate_scale)
end
function Threshold:evolve(x, record)
  x = check_input(self, x)
  local d = x - self.threshold
  local soft = lp.sigmoid(d * self.surrogate_scale)
  local hard = d:gt(0):astype(soft.dtype)
  return soft + (hard - soft):detach(), {}, {}
end

return M
