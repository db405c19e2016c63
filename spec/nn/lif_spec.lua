-- spec/nn/lif_spec.lua -- LIF-family modules at module level: options,
-- shapes, state keeping, the batching rule, records, multi-synapse layout,
-- errors. The numerics against Rockpool's oracles are the kernel's spec.
local lp = require "limpet"
local core = require "limpet.core"
local nn = lp.nn

local function run_kernels() return core.lif ~= nil end

describe("nn.LIF", function()
  it("lays out parameters and states (multi-synapse: tau_syn (N, k))", function()
    local l = nn.LIF({ 8, 4 }, { tau_syn = lp.tensor { 0.01, 0.02, 0.03, 0.04 }, has_rec = true })
    assert.same({ 8, 4 }, l.shape)
    assert.equals(2, l.n_synapses)
    assert.same({ 4 }, l.tau_mem.shape)
    assert.same({ 4, 2 }, l.tau_syn.shape)
    assert.tensor_near(lp.tensor { { 0.01, 0.01 }, { 0.02, 0.02 }, { 0.03, 0.03 }, { 0.04, 0.04 } }, l.tau_syn, 1e-7)
    assert.same({ 4, 8 }, l.w_rec.shape)
    assert.is_true(l.w_rec:abs():max():item() <= math.sqrt(6 / 8))
    assert.same({ 4, 2 }, l.isyn.shape)
    local p = l:parameters()
    for _, k in ipairs { "tau_mem", "tau_syn", "bias", "threshold", "w_rec" } do assert.is_truthy(p[k], k) end
    assert.same({ "tau_mem", "tau_syn" }, (function() local t = {} for k in pairs(l:parameters("taus")) do t[#t + 1] = k end table.sort(t) return t end)())
    local sp = l:simulation_parameters()
    assert.equals(1e-3, sp.dt); assert.equals(65536, sp.max_spikes_per_dt); assert.equals("StepPWL", sp.spike_generation_fn)
    assert.same({ 4, 2 }, nn.LIF({ 8, 4 }, { tau_syn = lp.full({ 4, 2 }, 0.01) }).tau_syn.shape)
  end)

  it("freezes constants and computes decays with tensor ops", function()
    local l = nn.LIF(3, { tau_mem = nn.Constant(0.03) })
    assert.is_nil(l:parameters().tau_mem)
    assert.tensor_near(lp.full({ 3 }, 0.03), l:simulation_parameters().tau_mem, 1e-7)
    local a, b = l:decays()
    assert.tensor_near(lp.full({ 3 }, math.exp(-1 / 30)), a, 1e-6)
    assert.tensor_near(lp.full({ 3, 1 }, math.exp(-1 / 20)), b, 1e-6)
  end)

  it("offers the decays and bitshifts leak modes", function()
    local d = nn.LIF(2, { leak_mode = "decays", alpha = math.exp(-1 / 20) })
    assert.is_nil(d:parameters().tau_mem)
    assert.equals("decays", d:attribute_family("alpha"))
    assert.tensor_near(lp.full({ 2 }, math.exp(-1 / 20)), d.alpha, 1e-6)
    assert.tensor_near(lp.full({ 2 }, 0.02), d.tau_mem, 1e-6)     -- a view computed from alpha
    local b = nn.LIF(2, { leak_mode = "bitshifts", dash_mem = 4, dash_syn = 2 })
    assert.tensor_near(lp.full({ 2 }, 4), b.dash_mem)
    local alpha, beta = b:decays()
    assert.tensor_near(lp.full({ 2 }, 1 - 2 ^ -4), alpha, 1e-7)
    assert.tensor_near(lp.full({ 2, 1 }, 1 - 2 ^ -2), beta, 1e-7)
  end)

  it("LIFBitshift forces Xylo decays and 31 spikes per step", function()
    local l = nn.LIFBitshift(2, { tau_mem = 0.017, tau_syn = 0.005 })
    assert.equals(31, l.max_spikes_per_dt)
    local a, b = l:decays()
    assert.tensor_near(lp.full({ 2 }, 1 - 2 ^ -4), a, 1e-7)
    assert.tensor_near(lp.full({ 2, 1 }, 1 - 2 ^ -2), b, 1e-7)
    assert.has_error(function() nn.LIFBitshift(2, { leak_mode = "taus" }) end,
      "bad argument #2 to 'LIFBitshift' (unknown field 'leak_mode')")
  end)

  it("rejects unknown and malformed options by name", function()
    assert.has_error(function() nn.LIF(4, { treshold = 1 }) end, "bad argument #2 to 'LIF' (unknown field 'treshold')")
    assert.has_error(function() nn.LIF({ 7, 2 }) end,
      "bad argument #1 to 'LIF' (input size 7 is not a multiple of the 2 neurons)")
    assert.has_error(function() nn.LIF("4") end, "bad argument #1 to 'LIF' (shape must be N or {k*N, N})")
    assert.has_error(function() nn.LIF(4, { spike_generation_fn = "Heaviside" }) end,
      "bad argument #2 to 'LIF' (field 'spike_generation_fn' must be one of StepPWL, PeriodicExponential, FastSigmoid, ATan, got 'Heaviside')")
    assert.has_error(function() nn.LIF(4, { leak_mode = "tau" }) end,
      "bad argument #2 to 'LIF' (field 'leak_mode' must be one of taus, decays, bitshifts, got 'tau')")
    assert.has_error(function() nn.LIF(4, { dt = 0 }) end, "bad argument #2 to 'LIF' (field 'dt' must be a positive number)")
    assert.has_error(function() nn.LIF(4, { tau_mem = lp.ones(3) }) end,
      "bad argument #2 to 'LIF' (field 'tau_mem': expected a number or shape (4,), got (3,))")
    assert.has_error(function() nn.LIF({ 4, 2 }, { tau_syn = lp.ones(3) }) end,
      "bad argument #2 to 'LIF' (field 'tau_syn': expected a number or shape (2,) or (2, 2), got (3,))")
    assert.has_error(function() nn.LIF(2, { w_rec = lp.ones(3, 3) }) end,
      "bad argument #2 to 'LIF' (w_rec: expected shape (2, 2), got (3, 3))")
    assert.has_error(function() nn.aLIF(2, { w_ahb = 1 }) end, "bad argument #2 to 'aLIF' (unknown field 'w_ahb')")
  end)

  it("evolves, keeps state, records and batches as Rockpool", function()
    if not run_kernels() then pending("core.lif not built in") return end
    lp.seed(1)
    local l = nn.LIF({ 6, 3 }, { has_rec = true })
    local x = lp.rand(10, 6) * 2
    local s, st, rec = l(x, true)
    assert.same({ 1, 10, 3 }, s.shape)
    assert.equals(l.vmem, st.vmem)
    assert.same({ 1, 10, 3 }, rec.vmem.shape)
    assert.same({ 1, 10, 3, 2 }, rec.isyn.shape)
    assert.same({ 1, 10, 3, 2 }, rec.irec.shape)
    assert.same({ 1, 10, 3 }, rec.spikes.shape)
    local _, _, none = l(x)
    assert.same({}, none)
    -- no implicit reset: a second call continues from the kept state
    l:reset_state()
    local first = l(x)
    local second = l(x)
    l:reset_state()
    local both = l(lp.cat({ x, x }, 1))
    assert.tensor_near(lp.cat({ first, second }, 2), both, 1e-5)
    -- batch rule: every row starts from the current state; row 1's final state is kept
    l:reset_state()
    local xb = lp.stack({ x, x * 0 }, 1)
    local sb = l(xb)
    assert.same({ 2, 10, 3 }, sb.shape)
    local keep = l.vmem:clone()
    l:reset_state()
    local s1 = l(x)
    assert.tensor_near(s1, sb:slice(1, 1, 1), 1e-6)
    assert.tensor_near(keep, l.vmem, 1e-6)
  end)

  it("checks the input width against the module", function()
    if not run_kernels() then pending("core.lif not built in") return end
    local l = nn.LIF({ 8, 4 })
    assert.has_error(function() l(lp.rand(5, 4)) end,
      "bad argument #1 to 'evolve' (LIF expects 8 input channels, got (1, 5, 4))")
  end)

  it("LIFNeuron integrates input straight into the membrane", function()
    if not run_kernels() then pending("core.lif not built in") return end
    local l = nn.LIFNeuron(1, { threshold = 100, tau_mem = 1e9 })
    local _, _, rec = l(lp.tensor { { 0.5 }, { 0.25 }, { 1 } }, true)
    assert.tensor_near(lp.tensor { { { 0.5 }, { 0.75 }, { 1.75 } } }, rec.vmem, 1e-6)
    _, _, rec = l(lp.tensor { { 0.5 }, { 0.25 } }, true)
    assert.tensor_near(lp.tensor { { { 2.25 }, { 2.5 } } }, rec.vmem, 1e-6)
    assert.is_nil(l.tau_syn)
  end)

  it("aLIF, ExpSyn and Rate evolve with their states", function()
    if not run_kernels() then pending("core.lif not built in") return end
    local a = nn.aLIF(2)
    assert.tensor_near(lp.full({ 2 }, -0.9), a.w_ahp, 1e-7)
    local s, st = a(lp.ones(5, 2) * 5)
    assert.same({ 1, 5, 2 }, s.shape); assert.same({ 2 }, st.iahp.shape)
    local e = nn.ExpSyn(2, { tau = 0.01 })
    local out = e(lp.tensor { { 1, 0 }, { 0, 0 } })
    assert.tensor_near(lp.tensor { { { math.exp(-0.1), 0 }, { math.exp(-0.2), 0 } } }, out, 1e-6)
    assert.tensor_near(lp.tensor { math.exp(-0.2), 0 }, e.isyn, 1e-6)
    local r = nn.Rate(2, { activation = "tanh" })
    local ro = r(lp.ones(3, 2))
    assert.same({ 1, 3, 2 }, ro.shape)
    assert.same({ 2 }, r.x.shape)
    assert.has_error(function() nn.Rate(2, { activation = "gelu" }) end,
      "bad argument #2 to 'Rate' (field 'activation_func' must be one of relu, tanh, sigmoid or a function, got 'gelu')")
  end)

  it("adds noise only in training mode", function()
    if not run_kernels() then pending("core.lif not built in") return end
    local l = nn.LIF(3, { noise_std = 0.5, threshold = 1e6 })
    local x = lp.zeros(4, 3)
    local _, _, rec = l(x, true)
    assert.is_true(rec.vmem:abs():max():item() > 0)
    l:eval(); l:reset_state()
    _, _, rec = l(x, true)
    assert.equals(0, rec.vmem:abs():max():item())
  end)
end)
