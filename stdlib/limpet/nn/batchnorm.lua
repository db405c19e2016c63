-- stdlib/limpet/nn/batchnorm.lua -- nn.BatchNorm: batch normalisation for
-- spiking nets over (B, T, C, ...), statistics per channel C over the batch,
-- the time steps and any spatial positions (threshold-dependent BN, tdBN,
-- Zheng et al. 2021: the normalised value is scaled by alpha·v_threshold so
-- pre-synaptic inputs sit at the scale of the neurons' threshold).
-- Owns: options, the affine parameters (weight, bias), the running
-- statistics (states running_mean, running_var; updated in training mode
-- with `momentum`, used in eval mode), eval mode's per-channel affine map.
-- Not here: training mode's normalisation and its gradients (one fused op,
-- core.batch_norm, core/src/norm.c).
--   y = alpha·v_threshold·weight·(x - mean)/sqrt(var + eps) + bias
-- var is the biased batch variance in training (as PyTorch normalises);
-- the running variance takes the unbiased one (n / (n - 1)), as PyTorch.
local lp = require "limpet"
local core = require "limpet.core"
local Module = require "limpet.nn.module"
local U = require "limpet.nn.util"

local BatchNorm = Module:extend("BatchNorm")
BatchNorm.defaults = { momentum = 0.1, eps = 1e-5, alpha = 1, v_threshold = 1, affine = true }

--- nn.BatchNorm(C, {momentum = 0.1, eps = 1e-5, alpha = 1, v_threshold = 1, affine = true})
function BatchNorm:init(C, opts)
  if math.type(C) ~= "integer" or C < 1 then U.argerror("BatchNorm", 1, "channels must be a positive integer", 3) end
  opts = U.options("BatchNorm", 2, opts, BatchNorm.defaults, 3)
  for _, k in ipairs { "momentum", "eps", "alpha", "v_threshold" } do
    if type(opts[k]) ~= "number" or not (opts[k] > 0) or (k == "momentum" and opts[k] > 1) then
      U.argerror("BatchNorm", 2, ("field '%s' must be a positive number%s"):format(k, k == "momentum" and " <= 1" or ""), 3)
    end
  end
  Module.init(self, nil)
  rawset(self, "channels", C)
  if opts.affine then
    self:parameter("weight", lp.ones({ C }), { family = "weights" })
    self:parameter("bias", lp.zeros({ C }), { family = "biases" })
  end
  -- persistent: reset_state (which fit calls before every batch) keeps them
  self:state("running_mean", lp.zeros({ C }), { persistent = true })
  self:state("running_var", lp.ones({ C }), { persistent = true })
  self:simulation_parameter("momentum", opts.momentum)
  self:simulation_parameter("eps", opts.eps)
  self:simulation_parameter("alpha", opts.alpha)
  self:simulation_parameter("v_threshold", opts.v_threshold)
end

function BatchNorm:evolve(x, record)
  local C = self.channels
  if not lp.is_tensor(x) or x:dim() < 3 or x.shape[3] ~= C then
    U.argerror("evolve", 1, ("%s expects input (B, T, %d, ...), got %s")
      :format(self.full_name, C, lp.is_tensor(x) and U.fmt_shape(x.shape) or type(x)), 3)
  end
  local shape = x.shape
  local y
  if self.training then
    -- one fused op (core/src/norm.c): statistics per channel over B, T and
    -- the positions, the normalised output, its gradients for x, weight, bias
    local mean, var
    local w, b = self.weight, self.bias
    if x.dtype ~= "float32" and x.dtype ~= "float64" then x = x:astype("float32") end
    if w and w.dtype ~= x.dtype then w = w:astype(x.dtype) end
    if b and b.dtype ~= x.dtype then b = b:astype(x.dtype) end
    y, mean, var = core.batch_norm(x, 3, w, b, { eps = self.eps, gain = self.alpha * self.v_threshold })
    local M = x:numel() // C
    local m = self.momentum
    local unbiased = M > 1 and var * (M / (M - 1)) or var
    self._values.running_mean = (self.running_mean * (1 - m) + mean * m):astype(self.running_mean.dtype)
    self._values.running_var = (self.running_var * (1 - m) + unbiased * m):astype(self.running_var.dtype)
  else
    -- per channel: alpha·v_threshold / sqrt(var + eps), times the weight
    local S = 1
    for d = 4, #shape do S = S * shape[d] end
    local xr = x:contiguous():reshape({ shape[1] * shape[2], C, S })
    local scale = (self.running_var + self.eps):sqrt():reciprocal() * (self.alpha * self.v_threshold)
    if self.weight then scale = scale * self.weight end
    local shift = -self.running_mean * scale
    if self.bias then shift = shift + self.bias end
    y = xr * scale:reshape({ 1, C, 1 }) + shift:reshape({ 1, C, 1 })
  end
  return y:reshape(shape), {}, {}
end

return BatchNorm
