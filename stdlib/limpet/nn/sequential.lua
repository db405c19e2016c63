-- stdlib/limpet/nn/sequential.lua -- nn.Sequential: modules in a chain
-- (Rockpool's Sequential).
-- Owns: auto-names `<position>_<Class>` (1-based), names given as ordered
-- pairs (Sequential{{"lin1", m1}, {"lif1", m2}}, Rockpool's OrderedDict),
-- indexing by position (net[2], net[-1] the last) and by name (net["2_LIF"],
-- net.lin1), append, the channel check between
-- neighbours, and nesting of states and records by sub-module name (records
-- also hold each sub-module's output as `<name>_output`, as Rockpool), and
-- the fusion of a Linear into the LIF-family layer after it (core.lif's
-- w_in: the projection is gathered inside the time loop).
local class = require "limpet.class"
local Module = require "limpet.nn.module"
local U = require "limpet.nn.util"
local V = require "limpet.nn.validate"

local Sequential = Module:extend("Sequential")

-- The modules given as Sequential{m1, m2}, Sequential(m1, m2) or with
-- names as ordered pairs Sequential{{"a", m1}, {"b", m2}} (either form per
-- entry). Returns the modules (with .n) and their names (nil: automatic).
-- A table of name = module fields has no order in Lua: refused.
function Sequential.collect_args(fname, ...)
  local n = select("#", ...)
  local first = ...
  local mods = table.pack(...)
  local list = n == 1 and type(first) == "table" and not class.is_a(first, Module)
  if list then
    for k, v in pairs(first) do
      if math.type(k) ~= "integer" then
        U.argerror(fname, 1, ("a table of name = module fields has no order in Lua (found '%s'); give ordered pairs: %s{{\"%s\", module}, ...}")
          :format(tostring(k), fname, tostring(k)), 4)
      end
    end
    mods = {}
    for i = 1, #first do mods[i] = first[i] end
    mods.n = #first
  end
  local names = {}
  for i = 1, mods.n do
    local m = mods[i]
    if type(m) == "table" and not class.is_a(m, Module) and getmetatable(m) == nil
      and #m == 2 and type(m[1]) == "string" then
      names[i], m = m[1], m[2]
      mods[i] = m
    end
    if not class.is_a(m, Module) then
      local what = type(m) == "table" and getmetatable(m) == nil and "a table (a pair is {\"name\", module})" or type(m)
      U.argerror(fname, list and 1 or i, ("module expected at position %d, got %s"):format(i, what), 4)
    end
  end
  return mods, names
end

--- nn.Sequential{m1, m2, ...}, nn.Sequential(m1, m2, ...) or
--- nn.Sequential{{"name1", m1}, {"name2", m2}, ...}
function Sequential:init(...)
  Module.init(self, nil)
  local mods, names = Sequential.collect_args(getmetatable(self).__name, ...)
  for i = 1, mods.n do self:_append(mods[i], names[i], 4) end
end

-- Position lookups: net[i] (1-based), net[-1] the last module.
local function seq_index(base)
  return function(t, k)
    if math.type(k) == "integer" and k < 0 then
      local order = rawget(t, "_mod_order")
      if order then
        local i = #order + 1 + k
        if i >= 1 then return rawget(t, i) end
      end
      return nil
    end
    return base(t, k)
  end
end
Sequential.__index = seq_index(Sequential.__index)
function Sequential:extend(name)
  local C = Module.extend(self, name)
  C.__index = seq_index(C.__index)
  return C
end

function Sequential:_update_shape()
  local order = self._mod_order
  if #order == 0 then return end
  local first, last = self._mods[order[1]], self._mods[order[#order]]
  if first.size_in and last.size_out then
    self:set_shape({ first.size_in, last.size_out })
  end
end

function Sequential:_append(mod, name, level)
  local fname = getmetatable(self).__name
  if not class.is_a(mod, Module) then
    U.argerror("append", 1, "module expected, got " .. type(mod), level)
  end
  local pos = #self._mod_order + 1
  name = name or ("%d_%s"):format(pos, getmetatable(mod).__name)
  if type(name) ~= "string" then U.argerror("append", 2, "string expected, got " .. type(name), level) end
  if type(Module[name]) == "function" or type(getmetatable(self)[name]) == "function" or name:sub(1, 1) == "_" then
    U.argerror("append", 2, ("'%s' cannot name a sub-module (it is a method or reserved)"):format(name), level)
  end
  if self._mods[name] then U.argerror("append", 2, ("a module named '%s' is already in the chain"):format(name), level) end
  local prev = pos > 1 and self._mods[self._mod_order[pos - 1]]
  if prev and prev.size_out and mod.size_in and prev.size_out ~= mod.size_in then
    error(("%s: output of '%s' has %d channels but '%s' expects %d")
      :format(fname, prev.name, prev.size_out, name, mod.size_in), level)
  end
  self:submodule(name, mod)
  rawset(self, pos, mod)
  self:_update_shape()
  return self
end

--- net:append(mod[, name]) -> net
function Sequential:append(mod, name) return self:_append(mod, name, 3) end

-- nn.load rebuilds chains empty, then appends the saved children by name.
function Sequential.rebuild(C) return C() end

function Sequential:__len() return #self._mod_order end

-- Are the sub-modules' outputs recorded? record = true, or a list naming "output".
local function records_outputs(record)
  if type(record) ~= "table" then return record and true or false end
  for _, n in ipairs(record) do if n == "output" then return true end end
  return false
end

-- Can m (a Linear) be fused into nxt (a LIF-family layer)? Only the stock
-- evolve methods, whose fused equivalent core.lif computes (w_in, b_in).
local function fusable(m, nxt)
  local Linear = require "limpet.nn.linear"
  local LIF = require("limpet.nn.lif").LIF
  return getmetatable(m) == Linear and m.evolve == Linear.evolve and nxt ~= nil
    and class.is_a(nxt, LIF) and nxt.evolve == LIF.evolve and m.size_out == nxt.size_in
end

-- record: true, or a list of the records wanted ("vmem", "isyn", "irec",
-- "spikes", "output" for each sub-module's output). A Linear followed by a
-- LIF-family layer runs as one fused op unless outputs are recorded.
function Sequential:evolve(x, record)
  local state, rec = {}, {}
  local order, mods = self._mod_order, self._mods
  local outs = records_outputs(record)
  local i = 1
  while i <= #order do
    local n, m = order[i], mods[order[i]]
    local out, st, r
    if not outs and fusable(m, mods[order[i + 1]]) then
      local n2 = order[i + 1]
      state[n], rec[n] = {}, record and {} or nil
      out, st, r = mods[n2]:evolve(x, record, m)
      i, n = i + 1, n2
    else
      if not m._checks_in_evolve then V.check_forward(m, 2) end
      out, st, r = m:evolve(x, record)
    end
    state[n] = st or {}
    if record then
      rec[n] = r or {}
      if outs then rec[n .. "_output"] = out end
    end
    x = out
    i = i + 1
  end
  return x, state, rec
end

-- The graphs of the chain, connected in order (dropout-like identity
-- modules are skipped). Returns the list of sub-graphs.
function Sequential:_chain_graphs()
  local G = require "limpet.graph"
  local graphs = {}
  for _, n in ipairs(self._mod_order) do
    local m = self._mods[n]
    if not m._graph_identity then
      local g = m:as_graph()
      if m._chain_graphs then
        -- modules inside a nested chain are named by their path: "4_Residual.1_Linear"
        for _, gm in ipairs((G.bag_graph(g))) do
          if gm.computational_module ~= m then gm.name = n .. "." .. gm.name end
        end
      end
      if #graphs > 0 then G.connect_modules(graphs[#graphs], g) end
      graphs[#graphs + 1] = g
    end
  end
  if #graphs == 0 then
    error(("%s has no module to build a graph from"):format(self.full_name), 3)
  end
  return graphs
end

--- net:as_graph() -> GraphHolder over the connected graphs of the chain.
function Sequential:as_graph()
  local G = require "limpet.graph"
  local graphs = self:_chain_graphs()
  return G.GraphHolder(graphs[1].input_nodes, graphs[#graphs].output_nodes, self:_graph_name(), self)
end

return Sequential
