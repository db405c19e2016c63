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
                        "isclose", "allclose", "index_select", "flip", "gather" } do
  local m = T[name]
  lp[name] = function(t, ...)
    if not core.is_tensor(t) then
      local ty = type(t)
      local ok, v = false, nil
      if ty == "number" or ty == "boolean" or ty == "table" then ok, v = pcall(core.tensor, t) end
      if not ok then
        local why = v and tostring(v):match("%((.*)%)$") or ("tensor, number or table expected, got " .. ty)
        error(("bad argument #1 to '%s' (%s)"):format(name, why), 2)
      end
      t = v
    end
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
lazy.transform = function() return require "limpet.transform" end
-- lp.nir: NIR graphs in and out (stdlib/limpet/nir/)
lazy.nir = function() return require "limpet.nir" end
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
