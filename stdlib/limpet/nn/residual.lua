-- stdlib/limpet/nn/residual.lua -- nn.Residual: out = block(x) + x, the
-- block being a chain as in Sequential (Rockpool's Residual).
-- Owns: the size check (the chain's input and output sizes must agree).
local Module = require "limpet.nn.module"
local Sequential = require "limpet.nn.sequential"

local Residual = Sequential:extend("Residual")
-- block(x) + x is not a spike raster even when the block spikes (the timed
-- API returns it as a TSContinuous)
Residual._spiking_output = false

function Residual:init(...)
  Sequential.init(self, ...)
  self:_check(4)
end

function Residual:_check(level)
  local order = self._mod_order
  if #order == 0 then return end
  local last = self._mods[order[#order]]
  if self.size_in and self.size_out and self.size_in ~= self.size_out then
    error(("Residual: input has %d channels but output of '%s' has %d")
      :format(self.size_in, last.name, self.size_out), level)
  end
end

function Residual:append(mod, name)
  self:_append(mod, name, 3)
  self:_check(3)
  return self
end

function Residual:evolve(x, record)
  x = Module._auto_batch(self, x)
  local out, state, rec = Sequential.evolve(self, x, record)
  return out + x, state, rec
end

--- res:as_graph() -> GraphHolder over the chain's graph plus an
-- AliasConnection from the chain's input nodes to its output nodes (the
-- skip connection; the Xylo mapper turns it into neuron aliases).
function Residual:as_graph()
  local G = require "limpet.graph"
  local graphs = self:_chain_graphs()
  local first, last = graphs[1], graphs[#graphs]
  local name = self:_graph_name()
  G.AliasConnection(first.input_nodes, last.output_nodes, name .. "_skip", self)
  return G.GraphHolder(first.input_nodes, last.output_nodes, name, self)
end

return Residual
