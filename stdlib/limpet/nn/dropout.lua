-- stdlib/limpet/nn/dropout.lua -- nn.UnitDropout and nn.TimeStepDropout
-- (Rockpool's torch dropout modules); both act only in training mode.
-- Owns: UnitDropout silences whole units for a call (one mask per batch row
-- and unit, survivors scaled by 1 / (1 - p)); TimeStepDropout silences
-- single (time step, unit) entries, unscaled. p = 1 drops everything
-- (UnitDropout then outputs zeros, not 0·inf).
local lp = require "limpet"
local Module = require "limpet.nn.module"
local U = require "limpet.nn.util"

local function check_p(fname, p)
  if type(p) ~= "number" or not (p >= 0 and p <= 1) then
    U.argerror(fname, 2, "field 'p' must be a number in [0, 1]", 4)
  end
end

local function setup(self, fname, shape, opts)
  local split
  shape, opts, split = U.split_shape(fname, shape, opts, 4)
  if split then rawset(self, "_args", table.pack(shape, opts)) end
  opts = U.options(fname, 2, opts, { p = 0.5 }, 4)
  check_p(fname, opts.p)
  Module.init(self, shape)
  self:simulation_parameter("p", opts.p)
end

local UnitDropout = Module:extend("UnitDropout")
UnitDropout._checks_in_evolve = true
function UnitDropout:init(shape, opts) setup(self, "UnitDropout", shape, opts) end
function UnitDropout:evolve(x, record)
  local B
  x, B = self:_auto_batch(x)
  if not self.training or self.p == 0 then return x, {}, {} end
  if self.p == 1 then return x * 0, {}, {} end
  local mask = lp.bernoulli(1 - self.p, B, 1, x.shape[3], x.dtype)
  return x * mask * (1 / (1 - self.p)), {}, {}
end

local TimeStepDropout = Module:extend("TimeStepDropout")
TimeStepDropout._checks_in_evolve = true
function TimeStepDropout:init(shape, opts) setup(self, "TimeStepDropout", shape, opts) end
function TimeStepDropout:evolve(x, record)
  x = self:_auto_batch(x)
  if not self.training or self.p == 0 then return x, {}, {} end
  local s = x.shape
  local mask = lp.bernoulli(1 - self.p, s[1], s[2], s[3], x.dtype)
  return x * mask, {}, {}
end

-- Dropout acts in training only: its graph is the identity, a GraphHolder
-- whose output nodes are its input nodes (Sequential skips it altogether).
local function identity_graph(self)
  local G = require "limpet.graph"
  local n = self.size_in
  if not n then
    error(("%s needs a shape to build its graph"):format(self.full_name), 3)
  end
  local nodes = {}
  for i = 1, n do nodes[i] = G.GraphNode() end
  return G.GraphHolder(nodes, nodes, self:_graph_name(), self)
end
UnitDropout._graph_identity = true
TimeStepDropout._graph_identity = true
function UnitDropout:as_graph() return identity_graph(self) end
function TimeStepDropout:as_graph() return identity_graph(self) end

return { UnitDropout = UnitDropout, TimeStepDropout = TimeStepDropout }
