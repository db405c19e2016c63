-- stdlib/limpet/nn/rate.lua -- nn.Rate: non-spiking rate neurons
-- (Rockpool's RateTorch): tau dx/dt = -x + in + W_rec·H(x) + bias (+ noise),
-- forward Euler, output H(x) = act(x - threshold), act relu / tanh / sigmoid.
-- Owns: options, parameters (tau, bias, threshold, w_rec), the state rule.
-- Dynamics: core.rate.
local lp = require "limpet"
local core = require "limpet.core"
local Module = require "limpet.nn.module"
local U = require "limpet.nn.util"

local ACTS = { relu = true, tanh = true, sigmoid = true }

local Rate = Module:extend("Rate")
Rate.defaults = { tau = 20e-3, bias = 0, threshold = 0, activation = "relu",
                  has_rec = false, w_rec = U.NONE, dt = 1e-3, noise_std = 0 }

--- nn.Rate(N, {tau, bias, threshold, activation, has_rec, w_rec, dt, noise_std})
function Rate:init(shape, opts)
  opts = U.options("Rate", 2, opts, Rate.defaults, 3)
  if not ACTS[opts.activation] then
    U.argerror("Rate", 2, ("field 'activation' must be one of relu, tanh, sigmoid, got '%s'")
      :format(tostring(opts.activation)), 3)
  end
  if type(opts.dt) ~= "number" or not (opts.dt > 0) then
    U.argerror("Rate", 2, "field 'dt' must be a positive number", 3)
  end
  Module.init(self, shape)
  local N = self.size_out
  if self.size_in ~= N then U.argerror("Rate", 1, "shape must be N or {N, N}", 3) end
  self:parameter("tau", opts.tau, { shape = { N }, family = "taus" })
  self:parameter("bias", opts.bias, { shape = { N }, family = "bias" })
  self:parameter("threshold", opts.threshold, { shape = { N }, family = "thresholds" })
  local has_rec = opts.has_rec or opts.w_rec ~= nil
  if has_rec then
    self:parameter("w_rec", opts.w_rec, { shape = { N, N }, family = "weights",
      init = function(s) local b = math.sqrt(6 / N); return lp.rand(s) * (2 * b) - b end })
  end
  rawset(self, "has_rec", has_rec and true or false)
  self:simulation_parameter("activation", opts.activation)
  self:simulation_parameter("dt", opts.dt)
  self:simulation_parameter("noise_std", opts.noise_std)
  self:state("x", 0, { shape = { N } })
end

function Rate:evolve(x, record)
  if not core.rate then error("Rate: the fused kernel core.rate is not built in", 2) end
  local B, T
  x, B, T = self:_auto_batch(x)
  local noise = self:_noise(B, T, self.size_out)
  local out, final = core.rate(x, { alpha = self.dt / self.tau, bias = self.bias,
    threshold = self.threshold, w_rec = self.w_rec, act = self.activation,
    x = self._values.x, noise = noise })
  self._values.x = final.x[1]:clone()
  return out, self:state(), {}
end

--- rate:as_graph() -> RateNeuronWithSynsRealValue (tau, bias, threshold, dt,
-- activation); with w_rec, a GraphHolder that adds the recurrent
-- LinearWeights from the neurons' output nodes to their input nodes.
function Rate:as_graph()
  local G = require "limpet.graph"
  local name = self:_graph_name()
  local N = self.size_out
  local neurons = G.RateNeuronWithSynsRealValue:factory(N, N, name, self, {
    tau = self.tau, bias = self.bias, threshold = self.threshold, dt = self.dt,
    activation = self.activation })
  if not self.has_rec then return neurons end
  G.LinearWeights(neurons.output_nodes, neurons.input_nodes, name .. "_recurrent", self,
    { weights = self.w_rec })
  return G.GraphHolder(neurons.input_nodes, neurons.output_nodes, name, self)
end

return Rate
