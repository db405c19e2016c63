-- stdlib/limpet/optim/rmsprop.lua -- RMSprop (Hinton), PyTorch's formulation:
--   g = grad + weight_decay * p
--   v = alpha v + (1 - alpha) g^2
--   centred: a = alpha a + (1 - alpha) g ; d = sqrt(v - a^2) + eps, else d = sqrt(v) + eps
--   momentum > 0: b = momentum b + g / d ; p -= lr b   else p -= lr g / d
-- Not here: the shared machinery (base.lua).
local base = require "limpet.optim.base"

local RMSprop = base.Optimizer:extend("RMSprop")
RMSprop.defaults = { lr = 1e-2, alpha = 0.99, eps = 1e-8, weight_decay = 0, momentum = 0, centered = false }

function RMSprop:init()
  if self.alpha < 0 or self.alpha >= 1 then
    base.argerror(2, "RMSprop", ("field 'alpha' must be in [0, 1), got %g"):format(self.alpha), 4)
  end
end

function RMSprop:update(p, g)
  if self.weight_decay ~= 0 then g = g + p.t * self.weight_decay end
  local v = self:buffer("square_avg", p)
  v:mul_(self.alpha):add_(g * g * (1 - self.alpha))
  local d
  if self.centered then
    local a = self:buffer("grad_avg", p)
    a:mul_(self.alpha):add_(g * (1 - self.alpha))
    d = (v - a * a):sqrt() + self.eps
  else
    d = v:sqrt() + self.eps
  end
  if self.momentum > 0 then
    local b = self:buffer("momentum_buffer", p)
    b:mul_(self.momentum):add_(g / d)
    p.t:sub_(b * self.lr)
  else
    p.t:sub_(g / d * self.lr)
  end
end

return RMSprop
