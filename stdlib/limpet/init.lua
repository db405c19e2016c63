-- stdlib/limpet/init.lua -- the `limpet` module table (`lp`).
-- Owns: assembling `lp` from the C core (`limpet.core`) and the pure-Lua
-- library, and loading the chip modules (`lp.xylo`, `lp.dynapse2`) and the
-- larger sub-libraries on first use. Not here: numerics (core/), bindings (lua/).
local core = require "limpet.core"

local lp = {}
for k, v in pairs(core) do lp[k] = v end
lp.core = core
lp.version = core.version

-- Tensor methods written in Lua join the C ones.
require "limpet.tensor"

-- Sub-libraries load on first touch so `require "limpet"` stays fast.
local lazy = {
  format = function() return require("limpet.format").format end,
  repl = function() return require "limpet.repl" end,
}
lazy.TSContinuous = function() return require "limpet.timeseries.continuous" end
lazy.TSEvent = function() return require "limpet.timeseries.event" end
local function chip(name) return function() return require("limpet." .. name) end end
lazy.xylo, lazy.dynapse2 = chip "xylo", chip "dynapse2"
lazy.transform = function() return require "limpet.transform" end
for _, name in ipairs { "nn", "optim", "loss", "train", "data", "plot", "autograd", "graph" } do
  lazy[name] = function() return require("limpet." .. name) end
end

return setmetatable(lp, {
  __index = function(t, k)
    local load = lazy[k]
    if not load then return nil end
    local v = load()
    rawset(t, k, v)
    return v
  end,
})
