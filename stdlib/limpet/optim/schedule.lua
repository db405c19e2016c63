-- stdlib/limpet/optim/schedule.lua -- learning-rate schedules.
-- Owns: schedulers that set opt.lr from the optimiser's initial lr
-- (base_lr) and an epoch counter, in closed form:
--   step:        base_lr * gamma ^ floor(epoch / step_size)
--   exponential: base_lr * gamma ^ epoch
--   cosine:      eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2
--                (epoch beyond T_max continues the cosine, as PyTorch's closed form)
--   lambda:      base_lr * lr_lambda(epoch)            (PyTorch's LambdaLR)
-- s:step() advances one epoch (call it after each epoch's optimiser steps);
-- s:get_lr() gives the current rate; state_dict / load_state_dict keep the epoch.
-- With {per_step = true} the counter is the optimiser's step count instead:
-- the optimiser sets the rate before every update (step k uses rule(k - 1))
-- and s:step() is an error. Parameter groups with their own lr follow the
-- same rule from their own base rate (as PyTorch's schedulers).
-- Not here: the optimisers (they only expose `lr`).
local base = require "limpet.optim.base"
local core = require "limpet.core"

local M = {}

local Scheduler = {}
Scheduler.__index = Scheduler

local function make(kind, fname, opt, opts, defaults, rule)
  if type(opt) ~= "table" or type(opt.lr) ~= "number" then
    base.argerror(1, fname, "expected an optimiser", 3)
  end
  local d = { per_step = false }
  for k, v in pairs(defaults) do d[k] = v end
  local o = base.options(fname, 2, opts, d, 3)
  local s = setmetatable({ kind = kind, opt = opt, base_lr = opt.lr, epoch = 0, opts = o, rule = rule,
                           group_base = {} }, Scheduler)
  for _, g in ipairs(opt.groups or {}) do
    if type(g.hyper.lr) == "number" then s.group_base[#s.group_base + 1] = { g = g, lr = g.hyper.lr } end
  end
  if o.per_step then
    opt.step_schedules = opt.step_schedules or {}
    table.insert(opt.step_schedules, s)
  end
  return s
end

function Scheduler:get_lr() return self.rule(self.base_lr, self.epoch, self.opts) end

function Scheduler:_apply()
  self.opt.lr = self:get_lr()
  for _, e in ipairs(self.group_base) do e.g.hyper.lr = self.rule(e.lr, self.epoch, self.opts) end
  return self.opt.lr
end

-- per-step schedules: the optimiser calls this before each update
function Scheduler:_at(count)
  self.epoch = count
  return self:_apply()
end

function Scheduler:step()
  if self.opts.per_step then
    error(("schedule.%s: a per_step schedule is advanced by the optimiser's steps, not by step()"):format(self.kind), 2)
  end
  self.epoch = self.epoch + 1
  return self:_apply()
end

function Scheduler:state_dict()
  return { epoch = core.tensor(self.epoch, "float64"), base_lr = core.tensor(self.base_lr, "float64") }
end

function Scheduler:load_state_dict(sd)
  self.epoch = math.tointeger(sd.epoch:item()) or sd.epoch:item()
  self.base_lr = sd.base_lr:item()
  self:_apply()
  return self
end

Scheduler.__tostring = function(s) return ("schedule.%s(epoch=%d, lr=%g)"):format(s.kind, s.epoch, s.opt.lr) end

function M.step(opt, opts)
  local s = make("step", "step", opt, opts, { step_size = base.REQUIRED, gamma = 0.1 },
    function(lr, e, o) return lr * o.gamma ^ (e // o.step_size) end)
  if type(s.opts.step_size) ~= "number" or s.opts.step_size < 1 or math.type(s.opts.step_size) ~= "integer" then
    base.argerror(2, "step", "field 'step_size' must be an integer >= 1")
  end
  return s
end

function M.exponential(opt, opts)
  local s = make("exponential", "exponential", opt, opts, { gamma = base.REQUIRED },
    function(lr, e, o) return lr * o.gamma ^ e end)
  return s
end

function M.cosine(opt, opts)
  local s = make("cosine", "cosine", opt, opts, { T_max = base.REQUIRED, eta_min = 0 },
    function(lr, e, o) return o.eta_min + (lr - o.eta_min) * (1 + math.cos(math.pi * e / o.T_max)) / 2 end)
  if s.opts.T_max <= 0 then base.argerror(2, "cosine", "field 'T_max' must be > 0") end
  return s
end

local NOFN = function() end
function M.lambda(opt, opts)
  local s = make("lambda", "lambda", opt, opts, { lr_lambda = NOFN },
    function(lr, e, o)
      local f = o.lr_lambda(e)
      if type(f) ~= "number" or f ~= f then
        error(("schedule.lambda: lr_lambda(%d) must return a number, got %s"):format(e, tostring(f)), 0)
      end
      return lr * f
    end)
  if s.opts.lr_lambda == NOFN then base.argerror(2, "lambda", "field 'lr_lambda' is required") end
  return s
end

return M
