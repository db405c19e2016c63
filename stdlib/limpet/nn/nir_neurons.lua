-- stdlib/limpet/nn/nir_neurons.lua -- the neuron nodes NIR names, as
-- modules: nn.IF, nn.LI, nn.CubaLI, nn.CubaLIF (NIR's semantics: reset to
-- v_reset, one spike per step, leak towards v_leak, synaptic weight w_in).
-- Owns: options, parameters (tau*, r, v_leak, w_in, v_threshold, v_reset),
-- the discretisation (coefficients computed with tensor ops so gradients
-- reach every parameter), any per-sample shape (e.g. (C, H, W) after a
-- convolution: input (B, T, *shape)), Rockpool's state rule (every batch
-- row starts from the module state; row 1's final state is kept).
-- Not here: the time loop and its BPTT backward (one fused C op,
-- core.nir_neuron, core/src/nirneuron.c).
-- Discretisation (dt, input held over a step), a = exp(-dt/tau):
--   "exact": v <- a·v + (1 - a)·v_leak + r·(1 - a)·i;
--            i <- a_s·i + w_in·(1 - a_s)·x
--   "euler": a = 1 - dt/tau, gains r·dt/tau and w_in·dt/tau_syn
--   IF:      v <- v + dt·r·x
-- as lp.nir.load runs the same nodes (stdlib/limpet/nir/graph.lua).
local lp = require "limpet"
local core = require "limpet.core"
local Module = require "limpet.nn.module"
local U = require "limpet.nn.util"

local M = {}

local KINDS = {
  IF = { syn = false, leak = false, spk = true,
    defaults = { r = 1, v_threshold = 1, v_reset = 0 } },
  LI = { syn = false, leak = true, spk = false,
    defaults = { tau = 20e-3, r = 1, v_leak = 0 } },
  CubaLI = { syn = true, leak = true, spk = false,
    defaults = { tau_mem = 20e-3, tau_syn = 10e-3, r = 1, v_leak = 0, w_in = 1 } },
  CubaLIF = { syn = true, leak = true, spk = true,
    defaults = { tau_mem = 20e-3, tau_syn = 10e-3, r = 1, v_leak = 0, w_in = 1, v_threshold = 1, v_reset = 0 } },
}
local FAMILY = { tau = "taus", tau_mem = "taus", tau_syn = "taus", v_threshold = "thresholds" }
local ORDER = { "tau", "tau_mem", "tau_syn", "r", "v_leak", "w_in", "v_threshold", "v_reset" }

local function make(name)
  local K = KINDS[name]
  local C = Module:extend(name)
  local defaults = { dt = 1e-3, discretisation = "exact", surrogate = "FastSigmoid", surrogate_scale = U.NONE }
  for k, v in pairs(K.defaults) do defaults[k] = v end
  C.defaults = defaults

  function C:init(shape, opts)
    local s = U.per_sample_shape(name, shape)
    opts = U.options(name, 2, opts, defaults, 3)
    if type(opts.dt) ~= "number" or not (opts.dt > 0) then U.argerror(name, 2, "field 'dt' must be a positive number", 3) end
    if opts.discretisation ~= "exact" and opts.discretisation ~= "euler" then
      U.argerror(name, 2, ("field 'discretisation' must be 'exact' or 'euler', got '%s'"):format(tostring(opts.discretisation)), 3)
    end
    if opts.surrogate ~= "FastSigmoid" and opts.surrogate ~= "ATan" then
      U.argerror(name, 2, ("field 'surrogate' must be 'FastSigmoid' or 'ATan', got '%s'"):format(tostring(opts.surrogate)), 3)
    end
    local N = U.numel(s)
    Module.init(self, N)
    rawset(self, "neuron_shape", s)
    for _, k in ipairs(ORDER) do
      if K.defaults[k] ~= nil then
        local v = opts[k]
        if type(v) == "number" then v = lp.full(s, v, "float32") end
        self:parameter(k, v, { shape = s, family = FAMILY[k] })
        if k:match "^tau" and self[k]:le(0):any():item() then
          U.argerror(name, 2, ("field '%s' must be positive"):format(k), 3)
        end
      end
    end
    self:simulation_parameter("dt", opts.dt)
    self:simulation_parameter("discretisation", opts.discretisation)
    self:simulation_parameter("surrogate", opts.surrogate)
    if opts.surrogate_scale ~= nil then self:simulation_parameter("surrogate_scale", opts.surrogate_scale) end
    self:state("vmem", lp.zeros(s, "float32"))
    if K.syn then self:state("isyn", lp.zeros(s, "float32")) end
  end

  -- coefficients (N) as tensors carrying gradients
  function C:_coefficients()
    local N, dt, euler = self.size_out, self.dt, self.discretisation == "euler"
    local function flat(t) return t:reshape({ N }) end
    local c = {}
    if K.leak then
      local tau = flat(self.tau or self.tau_mem)
      local a = euler and (1 - tau:reciprocal() * dt) or lp.exp(tau:reciprocal() * (-dt))
      local w = euler and tau:reciprocal() * dt or (1 - a)
      c.a_m, c.g_m, c.c_m = a, flat(self.r) * w, flat(self.v_leak) * w
    else
      c.a_m, c.g_m, c.c_m = lp.ones({ N }, self.r.dtype), flat(self.r) * dt, lp.zeros({ N }, self.r.dtype)
    end
    if K.syn then
      local ts = flat(self.tau_syn)
      local a = euler and (1 - ts:reciprocal() * dt) or lp.exp(ts:reciprocal() * (-dt))
      c.a_s = a
      c.g_s = flat(self.w_in) * (euler and ts:reciprocal() * dt or (1 - a))
    end
    if K.spk then c.theta, c.v_reset = flat(self.v_threshold), flat(self.v_reset) end
    return c
  end

  function C:evolve(x, record)
    local s = self.neuron_shape
    if not lp.is_tensor(x) then U.argerror("evolve", 1, ("%s expects a tensor, got %s"):format(self.full_name, type(x)), 2) end
    if x:dim() == #s + 1 then x = x:unsqueeze(1) end
    local ok = x:dim() == #s + 2
    for i = 1, #s do ok = ok and x.shape[i + 2] == s[i] end
    if not ok then
      U.argerror("evolve", 1, ("%s expects input (B, T, %s), got %s")
        :format(self.full_name, table.concat(s, ", "), U.fmt_shape(x.shape)), 2)
    end
    local B, T, N = x.shape[1], x.shape[2], self.size_out
    local c = self:_coefficients()
    local dtype = c.a_m.dtype
    local xf = x:reshape({ B, T, N })       -- a view when it can be (an expand over T stays one)
    if xf.dtype ~= dtype then xf = xf:astype(dtype) end      -- astype always copies
    -- the state is per neuron: one (N) row for every batch row
    c.v0 = self.vmem:detach():reshape({ N }):astype(dtype)
    if K.syn then c.i0 = self.isyn:detach():reshape({ N }):astype(dtype) end
    c.surrogate, c.scale, c.record = self.surrogate, self.surrogate_scale, record and true or false
    local out, vmem, vT, iT = core.nir_neuron(xf, c)
    self._values.vmem = vT[1]:reshape(s):astype(self.vmem.dtype)
    if K.syn then self._values.isyn = iT[1]:reshape(s):astype(self.isyn.dtype) end
    local os = { B, T, table.unpack(s) }
    local rec = {}
    if record then rec.vmem = vmem:reshape(os) end
    return out:reshape(os), self:state(), rec
  end

  return C
end

for _, n in ipairs { "IF", "LI", "CubaLI", "CubaLIF" } do M[n] = make(n) end
M.KINDS = KINDS
return M
