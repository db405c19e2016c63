-- stdlib/limpet/optim/init.lua -- `lp.optim`: optimisers over parameter tables.
-- Owns: the public table (SGD, Adam, AdamW, RMSprop, clip_grad_norm,
-- clip_grad_value, schedule). Optimisers take the (nested) table returned
-- by net:parameters() (or a list of tensors) and an options table; unknown
-- fields are rejected by name. opt:zero_grad(), opt:step() (in place, under
-- lp.no_grad, so modules holding the tensors see the change),
-- opt:state_dict() / opt:load_state_dict(sd) (named arrays for lp.save).
-- Not here: the update rules (one file each), the shared base (base.lua).
local adam = require "limpet.optim.adam"
local clip = require "limpet.optim.clip"

return {
  Optimizer = require("limpet.optim.base").Optimizer,
  SGD = require "limpet.optim.sgd",
  Adam = adam.Adam,
  AdamW = adam.AdamW,
  RMSprop = require "limpet.optim.rmsprop",
  clip_grad_norm = clip.clip_grad_norm,
  clip_grad_value = clip.clip_grad_value,
  schedule = require "limpet.optim.schedule",
}
