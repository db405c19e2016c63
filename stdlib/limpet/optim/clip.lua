-- stdlib/limpet/optim/clip.lua -- gradient clipping.
-- Owns: clip_grad_norm (scale every gradient by max_norm / total norm when
-- the total norm over all parameters exceeds max_norm) and clip_grad_value.
-- Not here: the optimisers.
local base = require "limpet.optim.base"
local core = require "limpet.core"

local M = {}

local function grads(params, fname)
  local list = {}
  for _, p in ipairs(base.flatten(params, fname, 1, 4)) do
    local g = p.t.grad
    if g then list[#list + 1] = g end
  end
  return list
end

--- clip_grad_norm(params, max_norm[, norm_type = 2]) -> total norm (a number)
-- params: a (nested) parameter table, an optimiser, or a list of tensors.
-- Gradients are scaled in place by max_norm / (norm + 1e-6) when norm > max_norm;
-- norm_type may be any p >= 1 or math.huge (the largest absolute value).
function M.clip_grad_norm(params, max_norm, norm_type)
  if type(params) == "table" and params.params and params.step then
    local t = {}
    for i, p in ipairs(params.params) do t[i] = p.t end
    params = t
  end
  if type(max_norm) ~= "number" or max_norm < 0 then
    base.argerror(2, "clip_grad_norm", "expected a number >= 0")
  end
  norm_type = norm_type or 2
  if type(norm_type) ~= "number" or norm_type < 1 then
    base.argerror(3, "clip_grad_norm", "expected a number >= 1 (or math.huge)")
  end
  local gs = grads(params, "clip_grad_norm")
  local total = 0
  core.no_grad(function()
    for _, g in ipairs(gs) do
      local a = g:abs()
      if norm_type == math.huge then
        if a:numel() > 0 then total = math.max(total, a:max():item()) end
      elseif norm_type == 2 then
        total = total + (g * g):sum():item()
      else
        total = total + (a ^ norm_type):sum():item()
      end
    end
    if norm_type ~= math.huge then total = total ^ (1 / norm_type) end
    if total > max_norm then
      local scale = max_norm / (total + 1e-6)
      for _, g in ipairs(gs) do g:mul_(scale) end
    end
  end)
  return total
end

--- clip_grad_value(params, v): clamp every gradient element to [-v, v] in place.
function M.clip_grad_value(params, v)
  if type(v) ~= "number" or v < 0 then base.argerror(2, "clip_grad_value", "expected a number >= 0") end
  core.no_grad(function()
    for _, g in ipairs(grads(params, "clip_grad_value")) do g:clamp_(-v, v) end
  end)
end

return M
