-- stdlib/limpet/optim/schedule.lua -- learning-rate schedules.
-- Owns: schedulers that set opt.lr from the optimiser's initial lr
-- (base_lr) and an epoch counter, in closed form:
--   step:        base_lr * gamma ^ floor(epoch / step_size)
--   exponential: base_lr * gamma ^ epoch
--   cosine:      eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2
--                (epoch beyond T_max continues the cosine, as PyTorch's closed form)
-- s:step() advances one epoch (call it after each epoch's optimiser steps);
-- s:get_lr() gives the current rate; state_dict / load_state_dict keep the epoch.
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
  local o = base.options(fname, 2, opts, defaults, 3)
  local s = setmetatable({ kind = kind, opt = opt, base_lr = opt.lr, epoch = 0, opts = o, rule = rule }, Scheduler)
  return s
end

function Scheduler:get_lr() return self.rule(self.base_lr, self.epoch, self.opts) end

function Scheduler:step()
  self.epoch = self.epoch + 1
  self.opt.lr = self:get_lr()
  return self.opt.lr
end

function Scheduler:state_dict()
  return { epoch = core.tensor(self.epoch, "float64"), base_lr = core.tensor(self.base_lr, "float64") }
end

function Scheduler:load_state_dict(sd)
  self.epoch = math.tointeger(sd.epoch:item()) or sd.epoch:item()
  self.base_lr = sd.base_lr:item()
  self.opt.lr = self:get_lr()
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

return M
