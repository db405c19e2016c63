-- stdlib/limpet/nn/delay.lua -- nn.Delay: per-channel delays in whole time
-- steps, y[:, t, c] = x[:, t - d_c, c] (zeros before the first input);
-- differentiable through the values (slices, cat and where; the delays are
-- integers, not trained). NIR's Delay node (delay = d·dt).
-- Owns: options (delays as a number or one per channel; dt for export).
local lp = require "limpet"
local Module = require "limpet.nn.module"
local U = require "limpet.nn.util"

local Delay = Module:extend("Delay")
Delay.defaults = { delay = 1, dt = 1e-3 }

--- nn.Delay(N, {delay = 1 (steps: a number or N integers), dt = 1e-3})
function Delay:init(N, opts)
  if math.type(N) ~= "integer" or N < 1 then U.argerror("Delay", 1, "channels must be a positive integer", 3) end
  opts = U.options("Delay", 2, opts, Delay.defaults, 3)
  local d = opts.delay
  if lp.is_tensor(d) then d = d:totable() end
  if type(d) == "number" then
    lp.core._check_table("Delay", "a list of delays", N)
    local l = {}; for i = 1, N do l[i] = d end; d = l
  end
  if type(d) ~= "table" or #d ~= N then U.argerror("Delay", 2, ("field 'delay' must be a number or %d integers"):format(N), 3) end
  for i = 1, N do
    if math.type(d[i]) ~= "integer" and not (type(d[i]) == "number" and d[i] == math.floor(d[i])) or d[i] < 0 then
      U.argerror("Delay", 2, "field 'delay' must hold non-negative integers (steps)", 3)
    end
    d[i] = math.tointeger(d[i])
  end
  if type(opts.dt) ~= "number" or not (opts.dt > 0) then U.argerror("Delay", 2, "field 'dt' must be a positive number", 3) end
  Module.init(self, N)
  self:simulation_parameter("delay", lp.tensor(d, "int64"))
  self:simulation_parameter("dt", opts.dt)
end

function Delay:evolve(x, record)
  local B, T
  x, B, T = self:_auto_batch(x)
  local N = self.size_out
  local d = self.delay:totable()
  local seen, y = {}, nil
  for _, k in ipairs(d) do
    if not seen[k] then
      seen[k] = true
      local shifted
      if k == 0 then shifted = x
      elseif k >= T then shifted = lp.zeros({ B, T, N }, x.dtype)
      else shifted = lp.cat({ lp.zeros({ B, k, N }, x.dtype), x:slice(2, 1, T - k) }, 2) end
      if self.delay:eq(k):all():item() then y = shifted       -- one delay for every channel
      else
        local mask = self.delay:eq(k):reshape({ 1, 1, N })
        y = lp.where(mask, shifted, y or lp.zeros({ B, T, N }, x.dtype))
      end
    end
  end
  return y, {}, {}
end

return Delay
