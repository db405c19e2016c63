-- stdlib/limpet/init.lua -- the `limpet` module table (`lp`).
-- Owns: assembling `lp` from the C core (`limpet.core`) and the pure-Lua
-- library, and loading the chip modules (`lp.xylo`, `lp.dynapse2`) and the
-- larger sub-libraries on first use. Not here: numerics (core/), bindings (lua/).
local core = require "limpet.core"

local lp = {}
for k, v in pairs(core) do lp[k] = v end
lp.core = core
lp.version = core.version

-- Tensor methods written in Lua join the C ones, and are module functions
-- too (lp.diff(t) == t:diff()), as the C ones are.
local T = require "limpet.tensor"
for _, name in ipairs { "ptp", "count_nonzero", "diff", "clip", "deg2rad", "rad2deg", "average",
                        "isclose", "allclose" } do
  local m = T[name]
  lp[name] = function(t, ...)
    if not core.is_tensor(t) then t = core.tensor(t) end
    return m(t, ...)
  end
end

-- Sub-libraries load on first touch so `require "limpet"` stays fast.
local lazy = {
  format = function() return require("limpet.format").format end,
  repl = function() return require "limpet.repl" end,
}
lazy.TSContinuous = function() return require "limpet.timeseries.continuous" end
lazy.TSEvent = function() return require "limpet.timeseries.event" end
lazy.timeseries = function() return require "limpet.timeseries" end
lazy.load_ts_from_file = function() return require("limpet.timeseries").load_ts_from_file end
lazy.TSDictOnDisk = function() return require("limpet.timeseries").TSDictOnDisk end
lazy.help = function() return require "limpet.help" end     -- lp.help(x): limpet/help.lua
local function chip(name) return function() return require("limpet." .. name) end end
lazy.xylo, lazy.dynapse2 = chip "xylo", chip "dynapse2"
-- lp.devices(): SynSense kits attached over USB (devices/usb/init.lua)
lazy.devices = function() return require("limpet.usb").devices end
lazy.sweep = function() return require("limpet.sweep").sweep end
for _, name in ipairs { "nn", "optim", "loss", "train", "data", "plot", "autograd", "graph", "dist", "audio" } do
  lazy[name] = function() return require("limpet." .. name) end
end

local lazy_names = {}
for k in pairs(lazy) do lazy_names[#lazy_names + 1] = k end
table.sort(lazy_names)

return setmetatable(lp, {
  -- the names that load on first touch, for the REPL's Tab and printing
  __complete = lazy_names,
  __index = function(t, k)
    local load = lazy[k]
    if not load then return nil end
    local v = load()
    rawset(t, k, v)
    return v
  end,
})
