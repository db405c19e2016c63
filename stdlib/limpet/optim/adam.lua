-- stdlib/limpet/optim/adam.lua -- Adam and AdamW.
-- Owns: the Adam update with bias correction (Kingma & Ba), PyTorch's
-- formulation; Adam's weight_decay is an L2 term added to the gradient,
-- AdamW's decays the weights directly (Loshchilov & Hutter):
--   AdamW only: p *= 1 - lr * weight_decay
--   Adam only:  g = grad + weight_decay * p
--   m = b1 m + (1 - b1) g ;  v = b2 v + (1 - b2) g^2   (t = step count)
--   p -= lr / (1 - b1^t) * m / (sqrt(v / (1 - b2^t)) + eps)
-- With amsgrad, v is replaced by the running maximum of v.
-- The step runs as one fused C pass (core._adam_step) when the parameter
-- and its buffers are contiguous floats of one dtype; the tensor-op version
-- below is the reference and the fallback.
-- Not here: the shared machinery (base.lua).
local base = require "limpet.optim.base"
local core = require "limpet.core"

local Adam = base.Optimizer:extend("Adam")
Adam.defaults = { lr = 1e-3, betas = { 0.9, 0.999 }, eps = 1e-8, weight_decay = 0, amsgrad = false }

local function check_betas(o, name)
  local b = o.betas
  if type(b) ~= "table" or type(b[1]) ~= "number" or type(b[2]) ~= "number" or #b ~= 2
     or b[1] < 0 or b[1] >= 1 or b[2] < 0 or b[2] >= 1 then
    base.argerror(2, name, "field 'betas' must be two numbers in [0, 1)", 5)
  end
  o.betas = { b[1], b[2] }
end

function Adam:init() check_betas(self, self.__name) end

local FLOATS = { float32 = true, float64 = true }

function Adam:update(p, g)
  local b1, b2, t = self.betas[1], self.betas[2], self.step_count
  local pt = p.t
  if core._adam_step and FLOATS[pt.dtype] and pt:is_contiguous() and math.type(t) == "integer" then
    -- one fused pass over p, g, m, v (core/src/optim.c): the same numbers
    -- as the tensor ops below
    local m = self:buffer("exp_avg", p)
    local v = self:buffer("exp_avg_sq", p)
    local vmax = self.amsgrad and self:buffer("max_exp_avg_sq", p) or nil
    if m.dtype == pt.dtype and v.dtype == pt.dtype and m:is_contiguous() and v:is_contiguous()
       and (not vmax or vmax.dtype == pt.dtype and vmax:is_contiguous()) then
      core._adam_step(pt, g, m, v, vmax, self.lr, b1, b2, self.eps, self.weight_decay,
        self.decoupled and true or false, t)
      return
    end
  end
  if self.decoupled then
    if self.weight_decay ~= 0 then p.t:mul_(1 - self.lr * self.weight_decay) end
  elseif self.weight_decay ~= 0 then
    g = g + p.t * self.weight_decay
  end
  local m = self:buffer("exp_avg", p)
  local v = self:buffer("exp_avg_sq", p)
  m:mul_(b1):add_(g * (1 - b1))
  v:mul_(b2):add_(g * g * (1 - b2))
  if self.amsgrad then
    local vmax = self:buffer("max_exp_avg_sq", p)
    vmax:copy_(core.maximum(vmax, v))
    v = vmax
  end
  local bc1, bc2 = 1 - b1 ^ t, 1 - b2 ^ t
  local denom = (v * (1 / bc2)):sqrt() + self.eps
  p.t:sub_(m / denom * (self.lr / bc1))
end

local AdamW = Adam:extend("AdamW")
AdamW.defaults = { lr = 1e-3, betas = { 0.9, 0.999 }, eps = 1e-8, weight_decay = 1e-2, amsgrad = false }
AdamW.decoupled = true

return { Adam = Adam, AdamW = AdamW }
