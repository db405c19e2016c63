-- spec/support/mapper_cases.lua -- the Xylo mapper oracle cases for the
-- mapper and quantiser specs: reading spec/fixtures/xylo_mapper/mapper_1.json
-- and turning each case's layer list into lp.nn modules.
local lp = require "limpet"
local json = require "limpet.json"
local nn = lp.nn

local C = {}

function C.load()
  local f = assert(io.open("spec/fixtures/xylo_mapper/mapper_1.json", "rb"))
  local cases = json.decode(f:read("a"))
  f:close()
  return cases
end

-- the oracle's layer list -> lp.nn modules
function C.build(layers)
  local mods = {}
  for _, L in ipairs(layers) do
    if L.kind == "Linear" then
      mods[#mods + 1] = nn.Linear(L.shape, { weight = L.weight })
    elseif L.kind == "LIF" then
      mods[#mods + 1] = nn.LIF(L.shape, { tau_mem = L.tau_mem, tau_syn = L.tau_syn,
        threshold = L.threshold, dt = L.dt, w_rec = L.has_rec and L.w_rec or nil })
    else
      mods[#mods + 1] = nn.Residual(C.build(L.layers))
    end
  end
  return mods
end

return C
