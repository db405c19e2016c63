-- stdlib/limpet/optim/sgd.lua -- stochastic gradient descent.
-- Owns: the SGD update (momentum, dampening, Nesterov, L2 weight decay),
-- PyTorch's formulation:
--   g  = grad + weight_decay * p
--   b  = g (first step) | momentum * b + (1 - dampening) * g
--   g  = g + momentum * b (nesterov) | b (momentum > 0)
--   p -= lr * g
-- Not here: the shared machinery (base.lua).
local base = require "limpet.optim.base"

local SGD = base.Optimizer:extend("SGD")
SGD.defaults = { lr = 1e-2, momentum = 0, dampening = 0, nesterov = false, weight_decay = 0 }

function SGD:init()
  if self.momentum < 0 then base.argerror(2, "SGD", ("field 'momentum' must be >= 0, got %g"):format(self.momentum), 4) end
  if self.nesterov and (self.momentum <= 0 or self.dampening ~= 0) then
    base.argerror(2, "SGD", "Nesterov momentum needs momentum > 0 and dampening = 0", 4)
  end
end

function SGD:update(p, g)
  if self.weight_decay ~= 0 then g = g + p.t * self.weight_decay end
  if self.momentum ~= 0 then
    local bufs = self.state.momentum_buffer
    local b = bufs and bufs[p.name]
    if not b then
      b = self:buffer("momentum_buffer", p, g)
    else
      b:mul_(self.momentum):add_(g * (1 - self.dampening))
    end
    if self.nesterov then g = g + b * self.momentum else g = b end
  end
  p.t:sub_(g * self.lr)
end

return SGD
