-- stdlib/limpet/nn/rate.lua -- nn.Rate: non-spiking rate neurons
-- (Rockpool's RateTorch): tau dx/dt = -x + in + W_rec·H(x) + bias (+ noise),
-- forward Euler, output H(x) = act(x - threshold), act relu / tanh /
-- sigmoid (the fused kernel core.rate) or any Lua function act(x, threshold)
-- of tensors acting per time step (autodiff included): without w_rec the
-- states are a linear filter of the whole sequence (core.expsyn) and act is
-- applied once to them; with w_rec a per-step loop of tensor ops, refused
-- beyond Rate.max_lua_steps steps.
-- Owns: options, parameters (tau, bias, threshold, w_rec), the state rule,
-- the record (Rockpool's: x, the state after each step, and rec_input, the
-- recurrent input of each step; zeros without w_rec).
local lp = require "limpet"
local core = require "limpet.core"
local Module = require "limpet.nn.module"
local U = require "limpet.nn.util"
local V = require "limpet.nn.validate"

local ACTS = { relu = true, tanh = true, sigmoid = true }

local Rate = Module:extend("Rate")
Rate._checks_in_evolve = true
Rate.defaults = { tau = 20e-3, bias = 0, threshold = 0, activation = U.NONE, activation_func = U.NONE,
                  has_rec = false, w_rec = U.NONE, weight_init_func = U.NONE, dt = 1e-3, noise_std = 0 }

--- nn.Rate(N, {tau, bias, threshold, activation_func = "relu" | "tanh" |
--   "sigmoid" | function(x, threshold), has_rec, w_rec, weight_init_func, dt,
--   noise_std});
--   `activation` is another name of activation_func.
function Rate:init(shape, opts)
  local split
  shape, opts, split = U.split_shape("Rate", shape, opts, 3)
  if split then rawset(self, "_args", table.pack(shape, opts)) end
  opts = U.options("Rate", 2, opts, Rate.defaults, 3)
  if opts.activation ~= nil and opts.activation_func ~= nil then
    U.argerror("Rate", 2, "give 'activation_func' or 'activation', not both", 3)
  end
  local act = opts.activation_func
  if act == nil then act = opts.activation end
  if act == nil then act = "relu" end
  if type(act) ~= "function" and not ACTS[act] then
    U.argerror("Rate", 2, ("field 'activation_func' must be one of relu, tanh, sigmoid or a function, got '%s'")
      :format(tostring(act)), 3)
  end
  if type(opts.dt) ~= "number" or not (opts.dt > 0) then
    U.argerror("Rate", 2, "field 'dt' must be a positive number", 3)
  end
  Module.init(self, shape)
  local N = self.size_out
  if self.size_in ~= N then U.argerror("Rate", 1, "shape must be N or {N, N}", 3) end
  self:parameter("tau", opts.tau, { shape = { N }, family = "taus" })
  self:parameter("bias", opts.bias, { shape = { N }, family = "biases" })
  self:parameter("threshold", opts.threshold, { shape = { N }, family = "thresholds" })
  local has_rec = opts.has_rec or opts.w_rec ~= nil
  if opts.weight_init_func ~= nil and type(opts.weight_init_func) ~= "function" then
    U.argerror("Rate", 2, "field 'weight_init_func' must be a function(shape) -> tensor", 3)
  end
  if has_rec then
    self:parameter("w_rec", opts.w_rec, { shape = { N, N }, family = "weights",
      init = opts.weight_init_func or function(s) local b = math.sqrt(6 / N); return lp.rand(s) * (2 * b) - b end })
  end
  rawset(self, "has_rec", has_rec and true or false)
  self:simulation_parameter("activation", act)
  self:simulation_parameter("dt", opts.dt)
  self:simulation_parameter("noise_std", opts.noise_std)
  self:state("x", 0, { shape = { N } })
end

-- dt / tau, in float64 rounded once
local function alpha_of(dt, tau)
  local a = lp.tensor(dt, "float64") / tau:astype("float64")
  return tau.dtype == "float64" and a or a:astype(tau.dtype)
end

-- Without recurrent weights the state does not depend on the activation:
-- x_t = (1 - a) x_{t-1} + a (in_t + bias + noise_t) is a linear filter of
-- the whole sequence. With e_t = x_t - x_0 and u_t = a (in_t + bias +
-- noise_t - x_0): e_t = u_t + p_{t-1}, where p = core.expsyn(u, beta = 1 - a)
-- (p_t = beta (p_{t-1} + u_t), p_0 = 0), so autodiff reaches the input, bias
-- and tau through core.expsyn's backward. The activation is then applied once
-- to the (B, T, N) states: it must act per time step (elementwise or along
-- the last axis), as it does when called step by step.
local function evolve_filter(self, x, B, T, noise, fn)
  local N = self.size_out
  local alpha = alpha_of(self.dt, self.tau)
  local s0 = self._values.x
  local w = (x + self.bias) - s0
  if noise then w = w + noise end
  local u = w * alpha
  local e = u
  if T > 1 then
    local p = core.expsyn(u:slice(2, 1, T - 1), { beta = 1 - alpha })
    e = u + lp.cat({ lp.zeros({ B, 1, N }, p.dtype), p }, 2)
  end
  local s = e + s0
  local out = fn(s, self.threshold)
  if not lp.is_tensor(out) or #out.shape ~= 3 or out.shape[1] ~= B or out.shape[2] ~= T or out.shape[3] ~= N then
    error(("%s: the activation function must return a tensor of the shape of its input (%d, %d, %d), got %s")
      :format(self.full_name, B, T, N, lp.is_tensor(out) and U.fmt_shape(out.shape) or type(out)), 3)
  end
  return out, s:slice(2, T, T):reshape({ B, N }), s
end

-- With recurrent weights and a Lua activation (or a record), the Euler loop
-- steps once per time step in Lua: inputs longer than Rate.max_lua_steps are
-- refused (the fused kernel, relu/tanh/sigmoid without a record, has no limit).
Rate.max_lua_steps = 100000

-- The Euler loop in tensor ops, for recurrent weights.
local function evolve_lua(self, x, B, T, noise, fn)
  local N = self.size_out
  if T > Rate.max_lua_steps then
    error(("%s: evolve: a recurrent Rate with a Lua activation or a record steps in Lua, at most " ..
      "nn.Rate.max_lua_steps = %d time steps, got %d (relu, tanh or sigmoid without a record run the " ..
      "fused kernel, without this limit)"):format(self.full_name, Rate.max_lua_steps, T), 3)
  end
  local alpha, bias, th, w = alpha_of(self.dt, self.tau), self.bias, self.threshold, self.w_rec
  local s = self._values.x:reshape({ 1, N }):expand({ B, N })
  local act = fn(s, th)
  local outs, xs, recs = {}, {}, {}
  for t = 1, T do
    local d = (x:slice(2, t, t):reshape({ B, N }) + bias) - s
    if noise then d = d + noise:slice(2, t, t):reshape({ B, N }) end
    local r
    if w then r = lp.matmul(act, w); d = d + r end
    s = s + d * alpha
    act = fn(s, th)
    outs[t], xs[t], recs[t] = act, s, r
  end
  local out = lp.stack(outs, 2)
  return out, s, lp.stack(xs, 2), w and lp.stack(recs, 2) or nil
end

local BUILTIN = {
  relu = function(v, th) return lp.relu(v - th) end,
  tanh = function(v, th) return lp.tanh(v - th) end,
  sigmoid = function(v, th) return lp.sigmoid(v - th) end,
}

-- The fused kernel runs unless a record is asked for or the activation is
-- a Lua function: then the loop of tensor ops, which has x and the
-- recurrent input of every step at hand. Noise enters the Euler increment
-- (scaled by dt/tau) as in Rockpool.
function Rate:evolve(x, record)
  V.check_forward(self, 2)
  local B, T
  x, B, T = self:_auto_batch(x)
  local N = self.size_out
  local noise = self:_noise(B, T, N)
  local act = self.activation
  if type(act) == "function" or record then
    local fn = type(act) == "function" and act or BUILTIN[act]
    local out, final, xs, recs
    if self.w_rec then out, final, xs, recs = evolve_lua(self, x, B, T, noise, fn)
    else out, final, xs = evolve_filter(self, x, B, T, noise, fn) end
    self._values.x = final[1]:detach():clone()
    local rec = {}
    if record then rec = { x = xs, rec_input = recs or lp.zeros({ B, T, N }, out.dtype) } end
    return out, self:state(), rec
  end
  if not core.rate then error("Rate: the fused kernel core.rate is not built in", 2) end
  local out, final = core.rate(noise and x + noise or x, { alpha = alpha_of(self.dt, self.tau),
    bias = self.bias, threshold = self.threshold, w_rec = self.w_rec, act = act, x = self._values.x })
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
  if type(self.activation) == "function" then
    error(("%s has a Lua activation function; as_graph needs relu, tanh or sigmoid"):format(self.full_name), 2)
  end
  local neurons = G.RateNeuronWithSynsRealValue:factory(N, N, name, self, {
    tau = self.tau, bias = self.bias, threshold = self.threshold, dt = self.dt,
    activation = self.activation })
  if not self.has_rec then return neurons end
  G.LinearWeights(neurons.output_nodes, neurons.input_nodes, name .. "_recurrent", self,
    { weights = self.w_rec })
  return G.GraphHolder(neurons.input_nodes, neurons.output_nodes, name, self)
end

return Rate
