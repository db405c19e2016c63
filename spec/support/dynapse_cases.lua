-- spec/support/dynapse_cases.lua -- the Dynap-SE2 mapper oracle cases
-- (spec/fixtures/dynapse_mapper/dynapse_mapper_1.json, from Rockpool's mapper and
-- allocator) for the mapper, quantiser and configuration specs: reading the file and
-- turning each case's layer list into a computational graph.
local lp = require "limpet"
local json = require "limpet.json"
local nn, G = lp.nn, lp.graph

local C = {}

local cache
function C.load()
  if cache then return cache end
  local f = assert(io.open("spec/fixtures/dynapse_mapper/dynapse_mapper_1.json", "rb"))
  cache = json.decode(f:read("a"))
  f:close()
  return cache
end

function C.by_name(name)
  for _, c in ipairs(C.load()) do if c.name == name then return c end end
  error("no oracle case " .. name)
end

local function any_nonzero(m)
  for _, row in ipairs(m) do for _, v in ipairs(row) do if v ~= 0 then return true end end end
  return false
end

-- a DynapSim layer as a graph built by hand: DynapseNeurons, plus its recurrent weights when
-- any is non-zero (what DynapSim's as_graph gives)
function C.dynapsim_graph(L, name)
  local D = require "limpet.dynapse2.mapper"
  local N = L.shape[2]
  local fields = { Iscale = L.Iscale, dt = L.dt }
  for k, v in pairs(L.currents) do fields[k] = #v > 0 and lp.tensor(v, "float64") or lp.zeros({ 0 }, "float64") end
  local n = D.DynapseNeurons:factory(N, N, name or "DynapSim", nil, fields)
  if N > 0 and any_nonzero(L.w_rec) then
    G.LinearWeights(n.output_nodes, n.input_nodes, (name or "DynapSim") .. "_recurrent", nil, { weights = lp.tensor(L.w_rec, "float64") })
    return G.GraphHolder(n.input_nodes, n.output_nodes, name or "DynapSim", nil)
  end
  return n
end

-- one layer of the oracle -> its graph
local function layer_graph(L, i)
  local name = ("%d_%s"):format(i, L.kind)
  if L.kind == "Linear" then
    local o = { weight = L.weight }
    if type(L.bias) == "table" then o.bias = L.bias end
    local m = nn.Linear(L.shape, o)
    return m:as_graph()
  elseif L.kind == "LIF" then
    local m = nn.LIF(L.shape, { tau_mem = L.tau_mem, tau_syn = L.tau_syn, threshold = L.threshold,
      bias = L.bias, dt = L.dt, w_rec = L.has_rec and L.w_rec or nil })
    return m:as_graph()
  else
    return C.dynapsim(L):as_graph()
  end
end

-- a DynapSim layer of the oracle as an nn.DynapSim (float64, so the graph carries the
-- oracle's float32 values exactly)
function C.dynapsim(L)
  local o = { Iscale = L.Iscale, dt = L.dt, dtype = "float64", has_rec = L.has_rec or nil,
    w_rec = L.has_rec and L.w_rec or nil }
  for k, v in pairs(L.currents) do
    if #v > 0 then o[k] = lp.tensor(v, "float64") end
  end
  return nn.DynapSim(L.shape[2], o)
end

-- the oracle's layer list -> a graph (the layers' graphs connected in order)
function C.graph(layers)
  local gs = {}
  for i, L in ipairs(layers) do
    local g = layer_graph(L, i)
    if #gs > 0 then G.connect_modules(gs[#gs], g) end
    gs[#gs + 1] = g
  end
  if #gs == 1 then return gs[1] end
  return G.GraphHolder(gs[1].input_nodes, gs[#gs].output_nodes, "net", nil)
end

-- Lua options from the oracle's mapper kwargs
function C.opts(case)
  local o = {}
  for k, v in pairs(case.mapper_kwargs or {}) do o[k] = v end
  return o
end

return C
