-- stdlib/limpet/nn/linear.lua -- nn.Linear: y = x·W (+ b) (Rockpool's Linear).
-- Owns: the weight layout (W is (Nin, Nout)), Rockpool's initialisers
-- (kaiming-uniform weights, bound sqrt(6 / Nin); bias uniform in
-- ±sqrt(1 / Nin)). The product is lp.matmul, so autodiff records it.
local lp = require "limpet"
local Module = require "limpet.nn.module"
local U = require "limpet.nn.util"

local Linear = Module:extend("Linear")
Linear.defaults = { weight = U.NONE, bias = U.NONE, has_bias = false }

local function uniform(shape, bound)
  return lp.rand(shape) * (2 * bound) - bound
end

--- nn.Linear({Nin, Nout}, {weight = W, bias = b, has_bias = false})
function Linear:init(shape, opts)
  if type(shape) ~= "table" or lp.is_tensor(shape) or #shape ~= 2 then
    U.argerror("Linear", 1, "shape must be {Nin, Nout}", 3)
  end
  opts = U.options("Linear", 2, opts, Linear.defaults, 3)
  Module.init(self, shape)
  local nin, nout = self.size_in, self.size_out
  self:parameter("weight", opts.weight, { shape = { nin, nout }, family = "weights",
    init = function(s) return uniform(s, math.sqrt(6 / nin)) end })
  if opts.has_bias or opts.bias ~= nil then
    self:parameter("bias", opts.bias, { shape = { nout }, family = "biases",
      init = function(s) return uniform(s, math.sqrt(1 / nin)) end })
  end
  rawset(self, "has_bias", opts.has_bias or opts.bias ~= nil)
end

function Linear:evolve(x, record)
  x = self:_auto_batch(x)
  local y = lp.matmul(x, self.weight)
  local b = self.bias
  if b then y = y + b end
  return y, {}, {}
end

--- lin:as_graph() -> lp.graph.LinearWeights (weights (Nin, Nout), biases or nil)
function Linear:as_graph()
  local G = require "limpet.graph"
  return G.LinearWeights:factory(self.size_in, self.size_out, self:_graph_name(), self,
    { weights = self.weight, biases = self.bias })
end

return Linear
