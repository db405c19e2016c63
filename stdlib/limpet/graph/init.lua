-- stdlib/limpet/graph/init.lua -- lp.graph: computational graphs of modules
-- (Rockpool's rockpool.graph), the form `mod:as_graph()` returns and the
-- Xylo mapper reads.
-- Owns: the node and module classes (GraphNode, GraphModuleBase,
-- GraphModule, GraphHolder), editing a module's node lists (add_input,
-- add_output, remove_input, remove_output, clear_inputs, clear_outputs),
-- SetList (Rockpool's ordered set), the graph module kinds (LinearWeights,
-- GenericNeurons, LIFNeuronWithSynsRealValue, RateNeuronWithSynsRealValue,
-- AliasConnection), the utilities to connect, walk, find and replace
-- modules, and their printing.
-- Not here: as_graph of each nn module (next to the module, stdlib/limpet/nn),
-- hardware neuron kinds and design rules (devices/*/mapper.lua).
--
-- Model: a GraphNode is one scalar signal; it knows the modules writing it
-- (`source_modules`) and reading it (`sink_modules`), each an ordered list
-- without repeats. A GraphModule has ordered `input_nodes` and
-- `output_nodes` and registers itself on them. A GraphHolder only groups a
-- sub-graph: it lists nodes but is neither source nor sink of them (nodes
-- keep a private list of the holders naming them, so that merging nodes
-- keeps holders right). Connecting two modules merges nodes: the nodes of
-- the destination are replaced by the nodes of the source everywhere, so
-- connected modules share node objects, as in Rockpool.
-- Positions (node indices, ranges) are 1-based.
local lp = require "limpet"
local class = require "limpet.class"

-- One set of classes per process: if `lp.graph` is already loaded (a
-- test runner may clear package.loaded between files), hand that back so
-- that graphs built anywhere are instances of the same classes.
do
  local loaded = rawget(lp, "graph")
  if loaded then return loaded end
end

local G = {}

local function argerror(fname, n, msg, level)
  error(("bad argument #%d to '%s' (%s)"):format(n, fname, msg), (level or 1) + 1)
end

local function tname(v)
  if lp.is_tensor(v) then return "tensor" end
  if type(v) == "table" then
    local mt = getmetatable(v)
    if mt and rawget(mt, "__name") then return mt.__name end
  end
  return type(v)
end

-- ordered sets on arrays (sizes here are small: a few modules per node)
local function has(list, x)
  for i = 1, #list do if list[i] == x then return true end end
  return false
end
local function add(list, x) if not has(list, x) then list[#list + 1] = x end end
local function remove(list, x)
  for i = #list, 1, -1 do if list[i] == x then table.remove(list, i) end end
end

-- GraphNode -------------------------------------------------------------------

local next_id = 0
local GraphNode = class.Object:extend("GraphNode")

--- graph.GraphNode() -> a fresh node with no sources and no sinks.
function GraphNode:init()
  next_id = next_id + 1
  self.id = next_id
  self.source_modules = {}
  self.sink_modules = {}
  self._holders = {}
end
function GraphNode:add_source(m) add(self.source_modules, m); return self end
function GraphNode:add_sink(m) add(self.sink_modules, m); return self end
function GraphNode:remove_source(m) remove(self.source_modules, m); return self end
function GraphNode:remove_sink(m) remove(self.sink_modules, m); return self end
function GraphNode:__tostring()
  return ("GraphNode #%d (%d source%s, %d sink%s)"):format(self.id,
    #self.source_modules, #self.source_modules == 1 and "" or "s",
    #self.sink_modules, #self.sink_modules == 1 and "" or "s")
end

-- GraphModuleBase ---------------------------------------------------------------

local Base = class.Object:extend("GraphModuleBase")
-- Each kind lists its fields: name -> { required = bool, size = "in" | "out" | nil }
-- (size: a per-node vector the length of input_nodes or output_nodes).
Base.fields = {}

local function check_nodes(fname, n, nodes, what, level)
  if type(nodes) ~= "table" or getmetatable(nodes) ~= nil then
    argerror(fname, n, ("%s must be a list of GraphNode, got %s"):format(what, tname(nodes)), level + 1)
  end
  local out = {}
  for i, v in ipairs(nodes) do
    if not class.is_a(v, GraphNode) then
      argerror(fname, n, ("%s[%d] must be a GraphNode, got %s"):format(what, i, tname(v)), level + 1)
    end
    out[i] = v
  end
  return out
end

-- A field value: numbers stay numbers (dt), everything else becomes a
-- float64 tensor of its own (never the caller's).
local function field_value(fname, key, v, size, level)
  if v == nil then return nil end
  if type(v) == "number" and size == nil then return v end
  local t
  if type(v) == "number" then
    t = lp.full({ size }, v + 0.0, "float64")
  elseif lp.is_tensor(v) then
    t = v:detach():astype("float64"):clone()
  elseif type(v) == "table" and getmetatable(v) == nil then
    local ok, r = pcall(lp.tensor, v, "float64")
    if not ok then argerror(fname, 5, ("field '%s': expected numbers"):format(key), level + 1) end
    t = r
  else
    argerror(fname, 5, ("field '%s': number or tensor expected, got %s"):format(key, tname(v)), level + 1)
  end
  if size then
    if t:numel() == 1 and size ~= 1 then
      t = lp.full({ size }, t:reshape(-1):get(1), "float64")
    elseif t:numel() ~= size then
      argerror(fname, 5, ("field '%s': expected %d values, got shape (%s)")
        :format(key, size, table.concat(t.shape, ", ")), level + 1)
    else
      t = t:reshape({ size })
    end
  end
  return t
end

function Base:init(input_nodes, output_nodes, name, computational_module, fields)
  local fname = getmetatable(self).__name
  self.input_nodes = check_nodes(fname, 1, input_nodes, "input_nodes", 4)
  self.output_nodes = check_nodes(fname, 2, output_nodes, "output_nodes", 4)
  if name ~= nil and type(name) ~= "string" then
    argerror(fname, 3, "name must be a string, got " .. tname(name), 4)
  end
  self.name = name or fname
  self.computational_module = computational_module
  fields = fields or {}
  if type(fields) ~= "table" or getmetatable(fields) ~= nil then
    argerror(fname, 5, "table of fields expected, got " .. tname(fields), 4)
  end
  local spec = getmetatable(self).fields
  for k in pairs(fields) do
    if type(k) ~= "string" or not spec[k] then
      argerror(fname, 5, ("unknown field '%s'"):format(tostring(k)), 4)
    end
  end
  for k, f in pairs(spec) do
    local size = f.size == "in" and #self.input_nodes or f.size == "out" and #self.output_nodes or nil
    local v = field_value(fname, k, fields[k], size, 4)
    if v == nil and f.required then argerror(fname, 5, ("field '%s' is required"):format(k), 4) end
    self[k] = v
  end
  if self._check then self:_check(fname, 4) end
end

--- Class.factory(size_in, size_out, name, computational_module, fields):
-- the module on fresh nodes.
function Base.factory(cls, size_in, size_out, name, computational_module, fields)
  if math.type(size_in) ~= "integer" or size_in < 0 then
    argerror("factory", 1, "size_in must be a non-negative integer", 2)
  end
  if math.type(size_out) ~= "integer" or size_out < 0 then
    argerror("factory", 2, "size_out must be a non-negative integer", 2)
  end
  -- a node is a table: as many as the caller asks for, within the size cap
  lp.core._check_table("factory", "a list of input nodes", size_in, size_in)
  lp.core._check_table("factory", "a list of output nodes", size_out, size_out)
  local ins, outs = {}, {}
  for i = 1, size_in do ins[i] = GraphNode() end
  for i = 1, size_out do outs[i] = GraphNode() end
  return cls(ins, outs, name, computational_module, fields)
end

function Base:size_in() return #self.input_nodes end
function Base:size_out() return #self.output_nodes end

function Base:_line()
  return ("%s '%s' (%d -> %d)"):format(getmetatable(self).__name, self.name,
    #self.input_nodes, #self.output_nodes)
end

-- GraphModule: registers itself on its nodes.
local GraphModule = Base:extend("GraphModule")
function GraphModule:init(...)
  Base.init(self, ...)
  for _, n in ipairs(self.input_nodes) do n:add_sink(self) end
  for _, n in ipairs(self.output_nodes) do n:add_source(self) end
end
function GraphModule:__tostring() return self:_line() end

-- GraphHolder: names a sub-graph's inputs and outputs.
local GraphHolder = Base:extend("GraphHolder")
function GraphHolder:init(...)
  Base.init(self, ...)
  for _, n in ipairs(self.input_nodes) do add(n._holders, self) end
  for _, n in ipairs(self.output_nodes) do add(n._holders, self) end
end

-- Editing the node lists (Rockpool's GraphModuleBase API). A GraphModule
-- stays registered on its nodes (sink of inputs, source of outputs), a
-- holder in their holder lists; adding a node already listed and removing
-- one not listed do nothing. Each returns the module.
local function attach(self, n, side)
  if class.is_a(self, GraphHolder) then add(n._holders, self)
  elseif class.is_a(self, GraphModule) then
    if side == "in" then n:add_sink(self) else n:add_source(self) end
  end
end
local function detach(self, n, side)
  local list = side == "in" and self.input_nodes or self.output_nodes
  local other = side == "in" and self.output_nodes or self.input_nodes
  if class.is_a(self, GraphHolder) then
    if not has(other, n) then remove(n._holders, self) end
  elseif class.is_a(self, GraphModule) then
    if side == "in" then n:remove_sink(self) else n:remove_source(self) end
  end
  remove(list, n)
end
local function node_arg(fname, n)
  if not class.is_a(n, GraphNode) then argerror(fname, 1, "GraphNode expected, got " .. tname(n), 3) end
  return n
end
function Base:add_input(n)
  node_arg("add_input", n)
  if not has(self.input_nodes, n) then
    self.input_nodes[#self.input_nodes + 1] = n
    attach(self, n, "in")
  end
  return self
end
function Base:add_output(n)
  node_arg("add_output", n)
  if not has(self.output_nodes, n) then
    self.output_nodes[#self.output_nodes + 1] = n
    attach(self, n, "out")
  end
  return self
end
function Base:remove_input(n)
  node_arg("remove_input", n)
  if has(self.input_nodes, n) then detach(self, n, "in") end
  return self
end
function Base:remove_output(n)
  node_arg("remove_output", n)
  if has(self.output_nodes, n) then detach(self, n, "out") end
  return self
end
function Base:clear_inputs()
  for i = #self.input_nodes, 1, -1 do detach(self, self.input_nodes[i], "in") end
  return self
end
function Base:clear_outputs()
  for i = #self.output_nodes, 1, -1 do detach(self, self.output_nodes[i], "out") end
  return self
end

--- graph.as_GraphHolder(g) -> g if a holder, else a holder around g.
function G.as_GraphHolder(g)
  if class.is_a(g, GraphHolder) then return g end
  if not class.is_a(g, Base) then argerror("as_GraphHolder", 1, "graph module expected, got " .. tname(g), 2) end
  return GraphHolder(g.input_nodes, g.output_nodes, g.name, g.computational_module)
end

-- graph module kinds ---------------------------------------------------------

local LinearWeights = GraphModule:extend("LinearWeights")
LinearWeights.fields = { weights = { required = true }, biases = { size = "out" } }
function LinearWeights:_check(fname, level)
  local w = self.weights
  if not lp.is_tensor(w) or w:dim() ~= 2 or w.shape[1] ~= #self.input_nodes
    or w.shape[2] ~= #self.output_nodes then
    argerror(fname, 5, ("field 'weights': expected shape (%d, %d), got %s"):format(#self.input_nodes,
      #self.output_nodes, lp.is_tensor(w) and "(" .. table.concat(w.shape, ", ") .. ")" or tname(w)), level + 1)
  end
end

local GenericNeurons = GraphModule:extend("GenericNeurons")
GenericNeurons.fields = {}

local LIFNeurons = GenericNeurons:extend("LIFNeuronWithSynsRealValue")
LIFNeurons.fields = {
  tau_mem = { size = "out" }, tau_syn = { size = "in" }, threshold = { size = "out" },
  bias = { size = "out" }, dt = {},
}

local RateNeurons = GenericNeurons:extend("RateNeuronWithSynsRealValue")
RateNeurons.fields = {
  tau = { size = "out" }, bias = { size = "out" }, dt = {},
  threshold = { size = "out" }, activation = {},
}
-- activation is a name, not a number
function RateNeurons:init(ins, outs, name, comp, fields)
  local act = fields and fields.activation
  if act ~= nil and type(act) ~= "string" then
    argerror("RateNeuronWithSynsRealValue", 5, "field 'activation': string expected, got " .. tname(act), 3)
  end
  local f = {}
  if fields then for k, v in pairs(fields) do if k ~= "activation" then f[k] = v end end end
  GenericNeurons.init(self, ins, outs, name, comp, f)
  self.activation = act
end

local AliasConnection = GraphModule:extend("AliasConnection")
AliasConnection.fields = {}
function AliasConnection:_check(fname, level)
  if #self.input_nodes ~= #self.output_nodes then
    argerror(fname, 2, ("an alias needs as many output nodes as input nodes (%d), got %d")
      :format(#self.input_nodes, #self.output_nodes), level + 1)
  end
end

-- SetList -----------------------------------------------------------------------
-- Rockpool's SetList: a list without repeats that keeps the order of first
-- insertion. sl[i] (1-based; negative from the end), #sl, ipairs(sl),
-- sl:append(x), sl:extend(list), sl:contains(x), sl:remove(x).
local SetList = class.Object:extend("SetList")
function SetList:init(list)
  rawset(self, "_items", {})
  if list ~= nil then
    if type(list) ~= "table" then argerror("SetList", 1, "list expected, got " .. tname(list), 4) end
    for _, x in ipairs(list) do self:append(x) end
  end
end
function SetList:append(x)
  local items = rawget(self, "_items")
  if not has(items, x) then items[#items + 1] = x end
  return self
end
function SetList:extend(list)
  for _, x in ipairs(list) do self:append(x) end
  return self
end
function SetList:contains(x) return has(rawget(self, "_items"), x) end
function SetList:remove(x) remove(rawget(self, "_items"), x); return self end
function SetList:totable()
  local out = {}
  for i, x in ipairs(rawget(self, "_items")) do out[i] = x end
  return out
end
SetList.__index = function(t, k)
  if math.type(k) == "integer" then
    local items = rawget(t, "_items")
    if k < 0 then k = #items + 1 + k end
    return items[k]
  end
  return SetList[k]
end
SetList.__len = function(t) return #rawget(t, "_items") end
SetList.__newindex = function() error("SetList: use append or extend", 2) end
SetList.__tostring = function(t)
  local parts = {}
  for i, x in ipairs(rawget(t, "_items")) do parts[i] = tostring(x) end
  return "SetList{" .. table.concat(parts, ", ") .. "}"
end

G.SetList = SetList
G.GraphNode = GraphNode
G.GraphModuleBase = Base
G.GraphModule = GraphModule
G.GraphHolder = GraphHolder
G.LinearWeights = LinearWeights
G.GenericNeurons = GenericNeurons
G.LIFNeuronWithSynsRealValue = LIFNeurons
G.RateNeuronWithSynsRealValue = RateNeurons
G.AliasConnection = AliasConnection
G.is_a = class.is_a
rawset(lp, "graph", G)

-- utilities ---------------------------------------------------------------

local function check_graph(fname, n, g, level)
  if not class.is_a(g, Base) then
    argerror(fname, n, "graph module expected, got " .. tname(g), (level or 1) + 1)
  end
end

local function index_list(fname, n, idx, size, what, level)
  if idx == nil then
    local out = {}
    for i = 1, size do out[i] = i end
    return out
  end
  if type(idx) ~= "table" or getmetatable(idx) ~= nil then
    argerror(fname, n, ("%s must be a list of positions"):format(what), level + 1)
  end
  local out = {}
  for i, v in ipairs(idx) do
    if math.type(v) ~= "integer" or v < 1 or v > size then
      argerror(fname, n, ("%s[%d] must be a position in 1..%d, got %s"):format(what, i, size, tostring(v)), level + 1)
    end
    out[i] = v
  end
  return out
end

-- Merge nodes: every `from` node is replaced by map[from] in every module
-- and holder that names it; the kept node gains its sources, sinks and holders.
local function merge_nodes(map)
  local affected, seen = {}, {}
  local function note(m) if not seen[m] then seen[m] = true; affected[#affected + 1] = m end end
  for from in pairs(map) do
    for _, m in ipairs(from.sink_modules) do note(m) end
    for _, m in ipairs(from.source_modules) do note(m) end
    for _, m in ipairs(from._holders) do note(m) end
  end
  for _, m in ipairs(affected) do
    for _, list in ipairs { m.input_nodes, m.output_nodes } do
      for i = 1, #list do
        local to = map[list[i]]
        if to then list[i] = to end
      end
    end
  end
  for from, to in pairs(map) do
    for _, m in ipairs(from.source_modules) do to:add_source(m) end
    for _, m in ipairs(from.sink_modules) do to:add_sink(m) end
    for _, m in ipairs(from._holders) do add(to._holders, m) end
    from.source_modules, from.sink_modules, from._holders = {}, {}, {}
  end
end

--- graph.connect_modules(source, dest[, source_outputs, dest_inputs]):
-- wire output nodes of `source` to input nodes of `dest` (all of them, or
-- the 1-based positions listed) by merging each pair of nodes; the source's
-- nodes are kept. Returns dest.
function G.connect_modules(source, dest, src_idx, dst_idx)
  check_graph("connect_modules", 1, source, 2)
  check_graph("connect_modules", 2, dest, 2)
  local si = index_list("connect_modules", 3, src_idx, #source.output_nodes, "source positions", 2)
  local di = index_list("connect_modules", 4, dst_idx, #dest.input_nodes, "destination positions", 2)
  if #si ~= #di then
    argerror("connect_modules", 2, ("'%s' has %d output node%s to connect but '%s' has %d input node%s")
      :format(source.name, #si, #si == 1 and "" or "s", dest.name, #di, #di == 1 and "" or "s"), 2)
  end
  local map = {}
  for i = 1, #si do
    local s, d = source.output_nodes[si[i]], dest.input_nodes[di[i]]
    if s ~= d then
      if map[d] and map[d] ~= s then
        argerror("connect_modules", 4, "a destination node is listed twice", 2)
      end
      map[d] = s
    end
  end
  merge_nodes(map)
  return dest
end

--- graph.bag_graph(g) -> modules, nodes: every GraphModule reachable from g
-- and every node, in depth-first order (from a module: its input nodes'
-- sources then sinks, then its output nodes' sources then sinks).
-- Holders only group nodes: they are not in the list (g is, if it is a
-- GraphModule).
function G.bag_graph(g)
  check_graph("bag_graph", 1, g, 2)
  local mods, nodes, seen_m, seen_n = {}, {}, {}, {}
  local visit
  local function scan(list)
    for _, n in ipairs(list) do
      for _, s in ipairs(n.source_modules) do visit(s) end
      for _, s in ipairs(n.sink_modules) do visit(s) end
    end
  end
  visit = function(m)
    if seen_m[m] then return end
    seen_m[m] = true
    if not class.is_a(m, GraphHolder) then mods[#mods + 1] = m end
    for _, list in ipairs { m.input_nodes, m.output_nodes } do
      for _, n in ipairs(list) do
        if not seen_n[n] then seen_n[n] = true; nodes[#nodes + 1] = n end
      end
    end
    scan(m.input_nodes)
    scan(m.output_nodes)
  end
  visit(g)
  return mods, nodes
end

--- graph.walk(g) -> iterator over the modules of bag_graph(g), in order:
-- `for m in lp.graph.walk(g) do ... end`
function G.walk(g)
  check_graph("walk", 1, g, 2)
  local mods = G.bag_graph(g)
  local i = 0
  return function() i = i + 1; return mods[i] end
end

--- graph.find_modules_of_subclass(g, cls) -> the modules that are `cls` or a subclass.
function G.find_modules_of_subclass(g, cls)
  check_graph("find_modules_of_subclass", 1, g, 2)
  if type(cls) ~= "table" then argerror("find_modules_of_subclass", 2, "class expected, got " .. tname(cls), 2) end
  local out = {}
  for _, m in ipairs((G.bag_graph(g))) do if class.is_a(m, cls) then out[#out + 1] = m end end
  return out
end

--- graph.find(g, what) -> list of modules: `what` is a class (instances of
-- it or of subclasses), a name (exact), or a predicate function(m) -> bool.
function G.find(g, what)
  check_graph("find", 1, g, 2)
  local pred
  if type(what) == "string" then pred = function(m) return m.name == what end
  elseif type(what) == "function" then pred = what
  elseif type(what) == "table" and getmetatable(what) and rawget(what, "__index") then
    pred = function(m) return class.is_a(m, what) end
  else
    argerror("find", 2, "class, name or function expected, got " .. tname(what), 2)
  end
  local out = {}
  for _, m in ipairs((G.bag_graph(g))) do if pred(m) then out[#out + 1] = m end end
  return out
end

--- graph.replace_module(target, replacement): `replacement` takes the place
-- of GraphModule `target` on target's nodes (same numbers of input and
-- output nodes required); target is detached. Returns replacement.
function G.replace_module(target, replacement)
  if not class.is_a(target, GraphModule) then
    argerror("replace_module", 1, "GraphModule expected, got " .. tname(target), 2)
  end
  if not class.is_a(replacement, GraphModule) then
    argerror("replace_module", 2, "GraphModule expected, got " .. tname(replacement), 2)
  end
  if #target.input_nodes ~= #replacement.input_nodes or #target.output_nodes ~= #replacement.output_nodes then
    argerror("replace_module", 2, ("'%s' has %d input and %d output nodes but '%s' has %d and %d")
      :format(target.name, #target.input_nodes, #target.output_nodes, replacement.name,
        #replacement.input_nodes, #replacement.output_nodes), 2)
  end
  if target == replacement then return replacement end
  for _, n in ipairs(replacement.input_nodes) do n:remove_sink(replacement) end
  for _, n in ipairs(replacement.output_nodes) do n:remove_source(replacement) end
  local function swap(list, n, m)   -- put m where target is, keeping order
    for i = 1, #list do
      if list[i] == target then list[i] = m; return end
    end
    add(list, m)
  end
  for _, n in ipairs(target.input_nodes) do swap(n.sink_modules, n, replacement) end
  for _, n in ipairs(target.output_nodes) do swap(n.source_modules, n, replacement) end
  local ins, outs = {}, {}
  for i, n in ipairs(target.input_nodes) do ins[i] = n end
  for i, n in ipairs(target.output_nodes) do outs[i] = n end
  replacement.input_nodes, replacement.output_nodes = ins, outs
  target.input_nodes, target.output_nodes = {}, {}
  return replacement
end

--- graph.find_recurrent_modules(g) -> modules, recurrent: every module, and
-- those modules whose output reaches their own input through one
-- LinearWeights module (in bag order, no repeats).
function G.find_recurrent_modules(g)
  check_graph("find_recurrent_modules", 1, g, 2)
  local mods = G.bag_graph(g)
  local rec, seen = {}, {}
  for _, w in ipairs(mods) do
    if class.is_a(w, LinearWeights) then
      local srcs = {}
      for _, n in ipairs(w.input_nodes) do for _, s in ipairs(n.source_modules) do srcs[s] = true end end
      for _, n in ipairs(w.output_nodes) do
        for _, t in ipairs(n.sink_modules) do
          if srcs[t] and not seen[t] then seen[t] = true; rec[#rec + 1] = t end
        end
      end
    end
  end
  return mods, rec
end

-- printing -------------------------------------------------------------------

-- "from" part of a line: the modules (or graph inputs) feeding m
local function feeders(m, inputs)
  local names, seen, from_input = {}, {}, false
  for _, n in ipairs(m.input_nodes) do
    if inputs[n] then from_input = true end
    for _, s in ipairs(n.source_modules) do
      if not seen[s] then
        seen[s] = true
        names[#names + 1] = s == m and "itself" or s.name
      end
    end
  end
  if from_input then table.insert(names, 1, "input") end
  return names
end

function GraphHolder:__tostring()
  local inputs, outputs = {}, {}
  for _, n in ipairs(self.input_nodes) do inputs[n] = true end
  for _, n in ipairs(self.output_nodes) do outputs[n] = true end
  local out = { self:_line() .. " {" }
  for _, m in ipairs((G.bag_graph(self))) do
    local l = "    " .. m:_line()
    local f = feeders(m, inputs)
    if #f > 0 then l = l .. " <- " .. table.concat(f, ", ") end
    for _, n in ipairs(m.output_nodes) do
      if outputs[n] then l = l .. " -> output"; break end
    end
    out[#out + 1] = l
  end
  out[#out + 1] = "}"
  return table.concat(out, "\n")
end

return G
