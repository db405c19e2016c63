-- stdlib/limpet/nn/linear.lua -- nn.Linear: y = x·W (+ b) (Rockpool's Linear).
-- Owns: the weight layout (W is (Nin, Nout)), Rockpool's initialisers
-- (kaiming-uniform weights, bound sqrt(6 / Nin); bias uniform in
-- ±sqrt(1 / Nin)). The product is lp.matmul, so autodiff records it.
-- Without a bias (has_bias = false, the default as in LinearTorch),
-- `lin.bias` reads 0 (Rockpool's native Linear: y = x·W + 0), never a
-- parameter.
local lp = require "limpet"
local Module = require "limpet.nn.module"
local U = require "limpet.nn.util"
local V = require "limpet.nn.validate"

local Linear = Module:extend("Linear")
Linear._checks_in_evolve = true
Linear.defaults = { weight = U.NONE, bias = U.NONE, has_bias = false,
                   weight_init_func = U.NONE, bias_init_func = U.NONE }
Linear.bias = 0           -- read when no bias parameter is registered

local function uniform(shape, bound)
  return lp.rand(shape) * (2 * bound) - bound
end

--- nn.Linear({Nin, Nout}, {weight = W, bias = b, has_bias = false,
---   weight_init_func = function(shape) -> tensor, bias_init_func = ...})
function Linear:init(shape, opts)
  local split
  shape, opts, split = U.split_shape("Linear", shape, opts, 3)
  if split then rawset(self, "_args", table.pack(shape, opts)) end
  if type(shape) ~= "table" or lp.is_tensor(shape) or #shape ~= 2 then
    U.argerror("Linear", 1, "shape must be {Nin, Nout}", 3)
  end
  opts = U.options("Linear", 2, opts, Linear.defaults, 3)
  Module.init(self, shape)
  local nin, nout = self.size_in, self.size_out
  for _, f in ipairs { "weight_init_func", "bias_init_func" } do
    if opts[f] ~= nil and type(opts[f]) ~= "function" then
      U.argerror("Linear", 2, ("field '%s' must be a function(shape) -> tensor"):format(f), 3)
    end
  end
  self:parameter("weight", opts.weight, { shape = { nin, nout }, family = "weights",
    init = opts.weight_init_func or function(s) return uniform(s, math.sqrt(6 / nin)) end })
  if type(opts.has_bias) ~= "boolean" then U.argerror("Linear", 2, "field 'has_bias' must be a boolean", 3) end
  if opts.has_bias or opts.bias ~= nil then
    self:parameter("bias", opts.bias, { shape = { nout }, family = "biases",
      init = opts.bias_init_func or function(s) return uniform(s, math.sqrt(1 / nin)) end })
  end
  rawset(self, "has_bias", opts.has_bias or opts.bias ~= nil)
end

-- Assigning a bias to a Linear built without one would only set a plain
-- field that evolve ignores: refuse it.
local base_newindex = Linear.__newindex
function Linear.__newindex(t, k, v)
  if k == "bias" and rawget(t, "_values") and not t._attrs.bias then
    error(("%s has no bias parameter (build it with has_bias = true)"):format(t.full_name), 2)
  end
  return base_newindex(t, k, v)
end

function Linear:evolve(x, record)
  V.check_forward(self, 2)
  x = self:_auto_batch(x)
  local y = lp.matmul(x, self.weight)
  if self.has_bias then y = y + self.bias end
  return y, {}, {}
end

--- lin:as_graph() -> lp.graph.LinearWeights (weights (Nin, Nout), biases or nil)
function Linear:as_graph()
  local G = require "limpet.graph"
  return G.LinearWeights:factory(self.size_in, self.size_out, self:_graph_name(), self,
    { weights = self.weight, biases = self.has_bias and self.bias or nil })
end

return Linear
