-- spec/parity/nn_parity_spec.lua -- issue 14, module side: where Rockpool's
-- own tests (tests/tests_default: test_lif_torch, test_ahp_lif_torch,
-- test_rate_torch, test_exp_syn_torch, test_linear, test_instant,
-- test_dropout, test_sequential, test_residual, test_timedmodule,
-- test_parameters, test_modules) and a Rockpool user's habits expect
-- something limpet did differently or silently wrong. One describe per item
-- of the issue; each fails on the tree before the fix.
local lp = require "limpet"
local nn = lp.nn
local core = require "limpet.core"

local function f32(x) return string.unpack("f", string.pack("f", x)) end

local function keys(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  table.sort(out)
  return out
end

local function err_of(f, ...)
  local ok, e = pcall(f, ...)
  assert.is_false(ok, "expected an error")
  return tostring(e)
end

describe("issue 14 item 1: LIF-family records as Rockpool", function()
  it("aLIF records iahp (B, T, N) and isyn with the ahp current as the last synapse", function()
    -- Rockpool test_ahp_LIFTorch_shapes / _bias
    local N, k, B, T = 10, 5, 3, 20
    local m = nn.aLIF({ k * N, N }, { tau_mem = 0.02, tau_syn = 0.05 })
    local out, ns, rd = m(lp.rand(B, T, k * N), true)
    assert.same({ B, T, N }, out.shape)
    assert.same({ N, k }, ns.isyn.shape)
    assert.same({ N }, ns.iahp.shape)
    assert.same({ B, T, N }, rd.iahp.shape)
    assert.same({ B, T, N, k + 1 }, rd.isyn.shape)
    assert.same({ B, T, N, k }, rd.irec.shape)
    local tail = rd.isyn:slice(4, k + 1, k + 1):reshape({ B, T, N })
    assert.tensor_near(rd.iahp, tail, 0)
  end)

  it("aLIF's iahp follows the spikes (bias-driven neuron, Rockpool's test)", function()
    local dt, tau_mem = 1e-3, 0.05
    local m = nn.aLIF(1, { tau_mem = tau_mem, tau_syn = 0.02, bias = 0.1, threshold = 1, dt = dt })
    local _, ns, rd = m(lp.zeros(1, 20, 1), true)
    assert.is_true(ns.iahp:abs():sum():item() > 0)
    assert.is_true(rd.iahp:abs():sum():item() > 0)
    assert.equals(f32(0.1), rd.vmem[1][1][1])
    assert.equals(f32(f32(f32(0.1) * f32(math.exp(-dt / f32(tau_mem)))) + f32(0.1)), rd.vmem[1][2][1])
  end)

  it("the LIF family records irec always, zeros without w_rec", function()
    local m = nn.LIF({ 4, 2 })
    local _, _, rd = m(lp.rand(3, 5, 4), true)
    assert.same({ "irec", "isyn", "spikes", "vmem" }, keys(rd))
    assert.same({ 3, 5, 2, 2 }, rd.irec.shape)
    assert.equals(0, rd.irec:abs():sum():item())
    local r = nn.LIF({ 4, 2 }, { has_rec = true })
    local _, _, rr = r(lp.rand(3, 5, 4) * 4, true)
    assert.same({ 3, 5, 2, 2 }, rr.irec.shape)
    local _, _, only = m(lp.rand(3, 5, 4), { "irec" })
    assert.same({ 3, 5, 2, 2 }, only.irec.shape)
  end)
end)

describe("issue 14 item 2: nn.Rate records x and rec_input", function()
  it("returns Rockpool's record (B, T, N) each, rec_input zeros without w_rec", function()
    lp.seed(1)
    local m = nn.Rate(2)
    local x = lp.randn(3, 7, 2)
    local out, _, rec = m(x, true)
    assert.same({ "rec_input", "x" }, keys(rec))
    assert.same({ 3, 7, 2 }, rec.x.shape)
    assert.same({ 3, 7, 2 }, rec.rec_input.shape)
    assert.equals(0, rec.rec_input:abs():sum():item())
    assert.tensor_near(lp.relu(rec.x), out, 1e-6)           -- out = H(x), threshold 0
    local r = nn.Rate(2, { has_rec = true, activation_func = "tanh" })
    local o1 = r(x)
    r:reset_state()
    local o2, _, rr = r(x, true)
    assert.tensor_near(o1, o2, 1e-6)                          -- recording changes nothing
    assert.is_true(rr.rec_input:abs():sum():item() > 0)
  end)
end)

describe("issue 14 item 6: decay factors are the correctly rounded float32 values", function()
  it("exp(-dt/tau) for dt 1 ms, tau 20 ms is 0.9512294531 (torch), not 0.9512293935", function()
    local a = nn.LIF(1):decays()
    assert.equals("0.9512294531", ("%.10f"):format(a:get(1)))
    local e = nn.ExpSyn(1, { tau = 0.02 })
    local out = e(lp.ones(1, 1))
    assert.equals("0.9512294531", ("%.10f"):format(out:reshape(-1):get(1)))
  end)

  it("matches float32(exp(-dt / tau)) computed in double for many taus", function()
    lp.seed(3)
    local taus = lp.rand(200) * 0.1 + 1e-3
    local l = nn.LIF(200, { tau_mem = taus, tau_syn = taus })
    local a, b = l:decays()
    local tv = l.tau_mem:totable()
    for i = 1, 200 do
      local want = f32(math.exp(-1e-3 / tv[i]))
      assert.equals(want, a:get(i))
      assert.equals(want, b:get(i, 1))
    end
  end)
end)

describe("issue 14 item 8: options written inside the shape table", function()
  it("are taken as options by every constructor", function()
    local l = nn.LIF { 8, tau_mem = 0.5, has_rec = true }
    assert.equals(f32(0.5), l.tau_mem:get(1))
    assert.is_true(l.has_rec)
    assert.same({ 8, 8 }, l.w_rec.shape)
    local lin = nn.Linear { 2, 3, has_bias = true }
    assert.is_true(lin.has_bias)
    assert.same({ 3 }, lin.bias.shape)
    assert.equals(f32(0.05), nn.ExpSyn { 3, tau = 0.05 }.tau:get(1))
    assert.equals(f32(0.05), nn.Rate { 3, tau = 0.05 }.tau:get(1))
    assert.equals(f32(0.05), nn.LIFNeuron { 3, tau_mem = 0.05 }.tau_mem:get(1))
    assert.equals(f32(0.05), nn.aLIF { 3, tau_ahp = 0.05 }.tau_ahp:get(1))
    assert.equals(f32(0.05), nn.LIFBitshift { 3, tau_mem = 0.05 }.tau_mem:get(1))
    assert.equals(0.25, nn.UnitDropout { 3, p = 0.25 }.p)
    assert.equals(0.25, nn.TimeStepDropout { 3, p = 0.25 }.p)
    assert.same({ 4, 2 }, nn.LIF { 4, 2, tau_syn = 0.01 }.shape)
    local P = nn.Parameter { 0.1, 0.2, family = "taus" }
    assert.equals("taus", P.family)
  end)

  it("refuses a field given twice and a table without shape", function()
    assert.equals("bad argument #2 to 'LIF' (field 'tau_mem' is given twice (in the shape table and in the options))",
      err_of(nn.LIF, { 8, tau_mem = 0.5 }, { tau_mem = 0.1 }):match("bad argument.*$"))
    assert.equals("bad argument #1 to 'Linear' (the shape table holds options but no shape (write nn.X{N, field = ...}))",
      err_of(nn.Linear, { has_bias = true }):match("bad argument.*$"))
    assert.matches("unknown field 'treshold'", err_of(nn.LIF, { 4, treshold = 2 }))
  end)

  it("saves and loads a module built that way", function()
    local path = os.tmpname() .. ".npz"
    local l = nn.LIF { 4, tau_mem = 0.5, has_rec = true }
    assert.is_true(l:save(path))
    local back = nn.load(path)
    os.remove(path)
    assert.tensor_near(l.tau_mem, back.tau_mem, 0)
    assert.tensor_near(l.w_rec, back.w_rec, 0)
  end)
end)

describe("issue 14 item 9: Sequential from a name -> module table", function()
  it("is refused with the ordered-pairs spelling instead of building an empty network", function()
    local e = err_of(nn.Sequential, { lin1 = nn.Linear { 2, 3 } })
    assert.equals([[bad argument #1 to 'Sequential' (a table of name = module fields has no order in Lua (found 'lin1'); give ordered pairs: Sequential{{"lin1", module}, ...})]],
      e:match("bad argument.*$"))
  end)
end)

describe("issue 14 item 10: value_and_grad over a function that loads parameters into a module", function()
  it("differentiates with respect to the parameters passed in (Rockpool's Jax style)", function()
    lp.seed(5)
    local net = nn.Sequential { nn.Linear { 3, 4 }, nn.Rate { 4, activation_func = "tanh" }, nn.Linear { 4, 1 } }
    local x, y = lp.rand(2, 10, 3), lp.rand(2, 10, 1)
    local function loss(p)
      net:reset_state()
      net:set_attributes(p)
      local out = net(x)
      return ((out - y) * (out - y)):mean()
    end
    local params = net:parameters()
    local before = params["1_Linear"].weight:clone()
    local v, g = lp.autograd.value_and_grad(loss)(params)
    -- the same gradients the module API gives
    net:reset_state()
    local out = net(x)
    local l = ((out - y) * (out - y)):mean()
    l:backward()
    assert.near(l:item(), v:item(), 1e-6)
    for _, m in ipairs { "1_Linear", "3_Linear" } do
      assert.is_true(g[m].weight:abs():max():item() > 0)
      assert.tensor_near(net[m].weight.grad, g[m].weight, 1e-5)
    end
    assert.tensor_near(net["2_Rate"].tau.grad, g["2_Rate"].tau, 1e-4)
    -- the module has its own tensors back, unchanged
    assert.equals(params["1_Linear"].weight, net["1_Linear"].weight)
    assert.tensor_near(before, net["1_Linear"].weight, 0)
  end)

  it("works with parameters that are copies (Rockpool's deepcopy) and with direct assignment", function()
    local lin = nn.Linear { 2, 1, weight = lp.tensor { { 1 }, { 2 } } }
    local x = lp.tensor { { 1, 3 } }
    local p = { weight = lp.tensor { { 0.5 }, { -1 } } }
    local _, g = lp.autograd.value_and_grad(function(q)
      lin.weight = q.weight
      return lin(x):sum()
    end)(p)
    assert.tensor_near(lp.tensor { { 1 }, { 3 } }, g.weight, 1e-6)
    assert.tensor_near(lp.tensor { { 1 }, { 2 } }, lin.weight, 0)   -- given back
  end)
end)

describe("issue 14 item 11: time constants and non-finite values are checked", function()
  it("at construction", function()
    assert.matches("ExpSyn: parameter 'tau' must be > 0, got %-0.01", err_of(nn.ExpSyn, 3, { tau = -0.01 }))
    assert.matches("LIF: parameter 'tau_syn' must be > 0, got 0 at %(2, 1%)",
      err_of(nn.LIF, 2, { tau_syn = lp.tensor { 0.01, 0 } }))
    assert.matches("LIF: parameter 'threshold' must be > 0", err_of(nn.LIF, 2, { threshold = 0 }))
    assert.matches("Linear: parameter 'weight' must be finite, got nan", err_of(nn.Linear, { 1, 1 }, { weight = { { 0 / 0 } } }))
    assert.matches("LIF: parameter 'alpha' must be in %[0, 1%], got 1.5",
      err_of(nn.LIF, 2, { leak_mode = "decays", alpha = 1.5 }))
    assert.matches("LIF: parameter 'dash_mem' must be >= 0", err_of(nn.LIF, 2, { leak_mode = "bitshifts", dash_mem = -1 }))
    assert.matches("LIF: simulation parameter 'tau_mem' must be > 0", err_of(nn.LIF, 2, { tau_mem = nn.Constant(-1) }))
  end)

  it("in set_attributes and on assignment, leaving the value as it was", function()
    local net = nn.Sequential { nn.Linear { 2, 2 }, nn.ExpSyn(2) }
    assert.equals("bad argument #1 to 'set_attributes' (ExpSyn '2_ExpSyn': parameter 'tau' must be > 0, got -0.02 at element 2)",
      err_of(net.set_attributes, net, { ["2_ExpSyn"] = { tau = { 0.01, -0.02 } } }):match("bad argument.*$"))
    assert.equals(f32(0.01), net[2].tau:get(1))
    assert.matches("ExpSyn '2_ExpSyn': parameter 'tau' must be > 0, got inf", err_of(function() net[2].tau = math.huge end))
  end)

  it("at every forward call, naming module and parameter (e.g. after an optimiser step)", function()
    local net = nn.Sequential { nn.Linear { 2, 2 }, nn.ExpSyn(2) }
    local x = lp.rand(4, 2)
    net(x)
    lp.no_grad(function() net[2].tau:sub_(1) end)          -- what a large optimiser step does
    assert.matches("ExpSyn '2_ExpSyn': parameter 'tau' must be > 0, got %-0.99", err_of(net, x))
    lp.no_grad(function() net[2].tau:fill_(0.01); net[1].weight:set(1, 1, 0 / 0) end)
    assert.matches("Linear '1_Linear': parameter 'weight' must be finite, got nan at %(1, 1%)", err_of(net, x))
    assert.matches("parameter 'weight' must be finite", err_of(net.evolve, net, x))   -- evolve too
    lp.no_grad(function() net[1].weight:set(1, 1, 0.5) end)
    net(x)
    -- a user module: checked by the call
    local My = nn.Module:extend("My")
    function My:init() nn.Module.init(self, 1); self:parameter("tau", 0.1, { family = "taus" }) end
    function My:evolve(x) return x * self.tau, {}, {} end
    local m = My()
    lp.no_grad(function() m.tau:fill_(-1) end)
    assert.matches("My: parameter 'tau' must be > 0, got %-1", err_of(m, x))
  end)

  it("one Adam step too far: fit names the step and the parameter", function()
    lp.seed(0)
    local net = nn.Sequential { nn.Linear { 3, 2 }, nn.ExpSyn(2, { tau = 0.002 }) }
    local X, Y = lp.rand(6, 20, 3) * 50, lp.rand(6, 20, 2)
    local e = err_of(lp.train.fit, { net = net, data = lp.train.TensorLoader(X, Y, { batch_size = 3 }),
      loss = function(o, y) return lp.loss.mse(o, y) end,
      optimizer = lp.optim.Adam(net:parameters(), { lr = 1e-2 }), epochs = 3, progress = false })
    assert.matches("^fit: after the optimiser step at epoch 1, batch 1, parameter '2_ExpSyn.tau' of module '2_ExpSyn' left its valid range %(must be > 0, got %-", e)
  end)

  it("is one function other code calls (nn.first_violation, nn.check)", function()
    local net = nn.Sequential { nn.Linear { 2, 2 }, nn.LIF(2) }
    assert.is_nil(nn.first_violation(net))
    assert.equals(net, nn.check(net))
    lp.no_grad(function() net[2].tau_syn:fill_(-3) end)
    local path, mod, name, problem = nn.first_violation(net)
    assert.equals("2_LIF.tau_syn", path)
    assert.equals(net[2], mod)
    assert.equals("tau_syn", name)
    assert.equals("must be > 0, got -3 at (1, 1)", problem)
    assert.matches("LIF '2_LIF': parameter 'tau_syn' must be > 0", err_of(nn.check, net))
  end)
end)

describe("issue 14 item 15: the timed API", function()
  it("net:timed() keeps the network's name", function()
    local net = nn.Sequential { nn.Linear { 2, 2 }, nn.LIF(2) }
    local outer = nn.Sequential { { "body", net } }
    local tm = net:timed()
    assert.equals("body", net.name)
    assert.equals(net, tm.module)
    assert.is_nil(nn.LIF(2):timed().module.name)
  end)

  it("runs a periodic input for one full period, from any t", function()
    local lin = nn.Linear { 1, 1, weight = { { 1 } } }
    local tm = lin:timed { dt = 1e-3 }
    local ts = lp.TSContinuous.from_clocked(lp.tensor { 1, 2, 3, 4 }, { dt = 1e-3, periodic = true })
    local a = tm(ts)
    assert.same({ 4, 1 }, a.samples.shape)
    assert.near(0.004, tm.t, 1e-12)
    local b = tm(ts)                                  -- t = 4 ms > t_stop: one more period
    assert.same({ 4, 1 }, b.samples.shape)
    assert.near(0.004, b.t_start, 1e-12)
    assert.tensor_near(lp.tensor { { 1 }, { 2 }, { 3 }, { 4 } }, b.samples, 1e-6)
    local ev = lp.TSEvent({ 0.0005, 0.0025 }, { 1, 1 }, { t_start = 0, t_stop = 0.004, periodic = true })
    local te = lin:timed { dt = 1e-3 }
    local c = te(ev)
    assert.same({ 4, 1 }, c.samples.shape)
    local d = te(ev)                                  -- the events repeat in the second period
    assert.near(0.004, d.t_start, 1e-12)
    assert.tensor_near(lp.tensor { { 1 }, { 0 }, { 1 }, { 0 } }, d.samples, 0)
  end)

  it("steps on the module's dt: another dt, or sub-modules that disagree, are errors", function()
    assert.matches("bad argument #1 to 'timed' %(field 'dt' = 0.25 differs from the module's dt = 0.001",
      err_of(function() return nn.LIF(2):timed { dt = 0.25 } end))
    assert.matches("the module's sub%-modules have different dt %(0.001, 0.002%)",
      err_of(function() return nn.Sequential { nn.LIF(2), nn.Linear { 2, 2 }, nn.LIF(2, { dt = 2e-3 }) }:timed() end))
    assert.equals(0.25, nn.Linear { 2, 2 }:timed { dt = 0.25 }.dt)
  end)

  it("broadcasts a one-channel input across the module's channels", function()
    local lin = nn.Linear { 3, 3, weight = lp.eye(3) }
    local ts = lp.TSContinuous.from_clocked(lp.tensor { 1, 2 }, { dt = 1e-3 })
    local out = lin:timed()(ts)
    assert.tensor_near(lp.tensor { { 1, 1, 1 }, { 2, 2, 2 } }, out.samples, 1e-6)
    -- the clocked API does it too (Rockpool's _auto_batch): (T, 1) and (T)
    assert.tensor_near(lp.tensor { { { 1, 1, 1 }, { 2, 2, 2 } } }, lin(lp.tensor { { 1 }, { 2 } }), 1e-6)
    assert.tensor_near(lp.tensor { { { 1, 1, 1 }, { 2, 2, 2 } } }, lin(lp.tensor { 1, 2 }), 1e-6)
  end)
end)

describe("issue 14 item 17: LIF leak modes", function()
  it("take alpha, beta or dash_mem, dash_syn as constructor arguments", function()
    local d = nn.LIF(2, { leak_mode = "decays", alpha = 0.9, beta = 0.8 })
    assert.same({ "alpha", "beta", "bias", "threshold" }, keys(d:parameters()))
    assert.equals("decays", d:attribute_family("beta"))
    assert.equals(f32(0.9), d.alpha:get(1))
    assert.equals(f32(0.8), d.beta:get(1, 1))
    local dd = nn.LIF(2, { leak_mode = "decays" })          -- Rockpool's defaults
    assert.equals(0.5, dd.alpha:get(1))
    local b = nn.LIF(2, { leak_mode = "bitshifts", dash_mem = 4, dash_syn = 2 })
    assert.same({ "bias", "dash_mem", "dash_syn", "threshold" }, keys(b:parameters()))
    local a, be = b:decays()
    assert.equals(1 - 2 ^ -4, a:get(1))
    assert.equals(1 - 2 ^ -2, be:get(1, 1))
    assert.equals(1, nn.LIF(2, { leak_mode = "bitshifts" }).dash_mem:get(1))
    local c = nn.LIF(2, { leak_mode = "decays", alpha = nn.Constant(0.9) })
    assert.is_nil(c:parameters().alpha)
  end)

  it("refuses a parameter of another mode, as Rockpool", function()
    assert.equals("bad argument #2 to 'LIF' (field 'tau_mem' belongs to leak_mode 'taus'; with leak_mode 'decays' give alpha and beta)",
      err_of(nn.LIF, 2, { leak_mode = "decays", tau_mem = 0.02 }):match("bad argument.*$"))
    assert.matches("field 'alpha' belongs to leak_mode 'decays'", err_of(nn.LIF, 2, { alpha = 0.9 }))
    assert.matches("field 'dash_syn' belongs to leak_mode 'bitshifts'", err_of(nn.LIF, 2, { leak_mode = "decays", dash_syn = 1 }))
  end)

  it("reads the other modes' values as views, and assigning one sets this mode's", function()
    local l = nn.LIF(1, { tau_mem = 0.02 })
    assert.equals("0.9512294531", ("%.10f"):format(l.alpha:get(1)))
    local d = nn.LIF(1, { leak_mode = "decays", alpha = math.exp(-1 / 20) })
    assert.near(0.02, d.tau_mem:get(1), 1e-7)
    d.tau_mem = 0.01
    assert.near(math.exp(-1 / 10), d.alpha:get(1), 1e-6)
  end)
end)

describe("issue 14 item 18: Sequential names and negative indices", function()
  it("builds from ordered (name, module) pairs, names kept, modules reachable by name", function()
    local l1, l2 = nn.Linear { 2, 3 }, nn.LIF(3)
    local seq = nn.Sequential { { "lin1", l1 }, { "lif1", l2 }, nn.Linear { 3, 1 } }
    assert.equals(l1, seq.lin1)
    assert.equals(l2, seq.lif1)
    assert.equals("lin1", l1.name)
    assert.same({ "lin1", "lif1", "3_Linear" }, seq._mod_order)
    local _, state = seq(lp.rand(4, 2))
    assert.is_truthy(state.lif1.vmem)
    assert.equals(seq, seq:set_attributes(state))
  end)

  it("indexes from the end with negative positions", function()
    local seq = nn.Sequential { nn.Linear { 2, 3 }, nn.LIF(3), nn.Linear { 3, 1 } }
    assert.equals(seq[3], seq[-1])
    assert.equals(seq[1], seq[-3])
    assert.is_nil(seq[-4])
  end)
end)

describe("issue 14 item 20: the constructors' forms Rockpool users type", function()
  it("nn.Instant(shape, fn), identity by default", function()
    local x = lp.rand(5, 4)
    assert.tensor_near(lp.tanh(x):unsqueeze(1), nn.Instant(4, lp.tanh)(x), 1e-7)
    assert.tensor_near(x:unsqueeze(1), nn.Instant(4)(x), 0)
    assert.same({ 4 }, nn.Instant(4).shape)
    assert.tensor_near(lp.tanh(x):unsqueeze(1), nn.Instant(4, "tanh")(x), 1e-7)
    assert.tensor_near((x * 2):unsqueeze(1), nn.Instant(4, { ["function"] = function(z) return z * 2 end })(x), 1e-7)
  end)

  it("nn.Rate{activation_func = } with a name or a function(x, threshold)", function()
    local x = lp.randn(6, 3)
    local a = nn.Rate(3, { activation_func = "tanh" })
    local b = nn.Rate(3, { activation_func = function(v, th) return lp.tanh(v - th) end })
    assert.tensor_near(a(x), b(x), 1e-6)
    assert.equals(a.activation, "tanh")
  end)

  it("dropout with p = 1 drops everything", function()
    local x = lp.rand(3, 5, 4)
    assert.equals(0, nn.TimeStepDropout(4, { p = 1.0 })(x):abs():sum():item())
    assert.equals(0, nn.UnitDropout(4, { p = 1.0 })(x):abs():sum():item())
  end)

  it("Linear without a bias reads bias == 0 and refuses an assigned one", function()
    local lin = nn.Linear { 2, 3 }
    assert.equals(0, lin.bias)
    assert.is_nil(lin:parameters().bias)
    assert.matches("Linear has no bias parameter %(build it with has_bias = true%)", err_of(function() lin.bias = lp.ones(3) end))
  end)

  it("LIFNeuron: state {vmem}, record {spikes, vmem}", function()
    local m = nn.LIFNeuron(3)
    local _, state, rec = m(lp.rand(2, 4, 3), true)
    assert.same({ "vmem" }, keys(state))
    assert.same({ "vmem" }, keys(m:state()))
    assert.same({ "spikes", "vmem" }, keys(rec))
  end)
end)

describe("issue 14 item 21: nn.TimedModule, TimedModuleWrapper, and returned states", function()
  it("exports TimedModule (the base) and TimedModuleWrapper (what mod:timed() gives)", function()
    assert.is_table(nn.TimedModule)
    assert.is_table(nn.TimedModuleWrapper)
    local lif = nn.LIF(3)
    local tm = nn.TimedModuleWrapper(lif, { dt = 1e-3 })
    assert.equals("TimedModuleWrapper", tm.class_name)
    assert.equals("TimedModuleWrapper", lif:timed().class_name)
  end)

  it("a TimedModule subclass evolves by input, duration and num_timesteps (Rockpool's test_TimedModule)", function()
    local My = nn.TimedModule:extend("My")
    function My:init(N, opts)
      nn.TimedModule.init(self, N, { dt = opts.dt })
      self:state("activation", 0, { shape = { N } })
    end
    function My:evolve(ts, opts)
      local _, x = self:_prepare_input(ts, opts)
      return self:_gen_timeseries(x), { activation = self.activation }, {}
    end
    local N, dt = 10, 1e-3
    local mod = My(N, { dt = dt })
    local input = lp.TSContinuous.from_clocked(lp.rand(100, N), { dt = dt, periodic = true })
    local out, ns = mod(input)
    assert.same({ 100, N }, out.samples.shape)
    assert.equals(mod, mod:set_attributes(ns))
    out = mod { duration = 0.02 }
    assert.same({ 20, N }, out.samples.shape)
    out = mod { num_timesteps = 25 }
    assert.same({ 25, N }, out.samples.shape)
    assert.near(0.145, mod.t, 1e-12)
  end)

  it("every module accepts the state it returns (set_attributes), timed or not", function()
    local mods = {
      nn.Linear { 2, 2 }, nn.LIF(2), nn.LIFBitshift(2), nn.LIFNeuron(2), nn.aLIF(2), nn.ExpSyn(2),
      nn.Rate(2), nn.Instant(2), nn.UnitDropout(2), nn.TimeStepDropout(2),
      nn.Sequential { nn.Linear { 2, 2 }, nn.LIF(2) }, nn.Residual(nn.Linear { 2, 2 }, nn.LIF(2)),
      nn.FFwdStack(nn.LIF(2), nn.LIF(2)),
    }
    for _, m in ipairs(mods) do
      local _, state = m(lp.rand(3, 2))
      assert.equals(m, m:set_attributes(state), m.class_name)
      local tm = m:timed()
      local _, tstate = tm(lp.TSContinuous.from_clocked(lp.rand(3, 2), { dt = tm.dt }))
      assert.equals(tm, tm:set_attributes(tstate), m.class_name)
      assert.equals(m, m:set_attributes(tstate), m.class_name)
    end
  end)
end)

describe("issue 14 item 23: {Nin, N} with Nin not a multiple of N", function()
  it("is refused at construction (earlier than Rockpool's mapper, deliberately)", function()
    assert.equals("bad argument #1 to 'LIF' (input size 5 is not a multiple of the 2 neurons)",
      err_of(nn.LIF, { 5, 2 }):match("bad argument.*$"))
    assert.matches("input size 7 is not a multiple of the 3 neurons", err_of(nn.aLIF, { 7, 3 }))
  end)
end)

if not core.lif then
  describe("issue 14 parity", function()
    it("needs the fused kernels", function() pending("core.lif not built in") end)
  end)
end

describe("issue 14, further differences found in Rockpool's tests", function()
  it("m2(m1(x)) chains calls as Rockpool's tuple does (m1's state and record dropped)", function()
    local lin, lif = nn.Linear { 2, 3 }, nn.LIF(3)
    local x = lp.rand(5, 2)
    local out, state, rec = lif(lin(x))
    assert.same({ 1, 5, 3 }, out.shape)
    assert.is_truthy(state.vmem)
    assert.same({}, rec)
    local t1, t2 = nn.Linear { 2, 2 }:timed(), nn.LIF(2):timed()
    local ts = t2(t1(lp.TSContinuous.from_clocked(lp.rand(5, 2), { dt = 1e-3 })))
    assert.equals("TSEvent", getmetatable(ts).__name)
  end)

  it("ExpSyn and Rate add their noise where Rockpool does (before the decay; inside the Euler step)", function()
    local x = lp.rand(2, 6, 3)
    lp.seed(11)
    local n = lp.randn(2, 6, 3) * (0.5 * math.sqrt(1e-3))
    lp.seed(11)
    local out = nn.ExpSyn(3, { tau = 0.01, noise_std = 0.5 })(x)
    lp.seed(11)
    local ref = nn.ExpSyn(3, { tau = 0.01 })
    ref:eval()
    assert.tensor_near(ref(x + n), out, 1e-6)
    lp.seed(12)
    n = lp.randn(2, 6, 3) * (0.5 * math.sqrt(1e-3))
    lp.seed(12)
    local rout = nn.Rate(3, { noise_std = 0.5 })(x)
    assert.tensor_near(nn.Rate(3)(x + n), rout, 1e-6)
  end)

  it("aLIF records U, the surrogate activity (Rockpool's aLIFTorch)", function()
    local m = nn.aLIF(2)
    local _, _, rd = m(lp.rand(1, 4, 2), true)
    assert.same({ 1, 4, 2 }, rd.U.shape)
    assert.tensor_near(lp.tanh(rd.vmem * 20 + 1 - 1) * 0.5 + 0.5, rd.U, 1e-6)
  end)

  it("spiking_input / spiking_output and attributes_named, as Rockpool's Module", function()
    local net = nn.Sequential { nn.Linear { 2, 3 }, nn.LIF(3) }
    assert.is_false(net.spiking_input)
    assert.is_true(net.spiking_output)
    assert.is_true(nn.ExpSyn(2).spiking_input)
    assert.is_false(nn.ExpSyn(2).spiking_output)
    assert.is_false(nn.Residual(nn.Linear { 2, 2 }, nn.LIF(2)).spiking_output)
    assert.same({ ["2_LIF"] = { dt = 1e-3 } }, net:attributes_named("dt"))
  end)

  it("Parameter shapes may be a list of permitted shapes (Rockpool's shape=[(N,), ()])", function()
    local M = nn.Module:extend("ShapesM")
    function M:init(desc) nn.Module.init(self); self.param = desc end
    assert.same({}, M(nn.Parameter(nil, { shape = { {}, { 1 } }, init = function(s) return lp.full(s, 2.0) end })).param.shape)
    assert.same({ 3 }, M(nn.Parameter({ 1, 2, 3 }, { shape = { { 3 }, {} } })).param.shape)
    assert.matches("param: expected one of the shapes %(3,%), %(%), got %(2,%)",
      err_of(M, nn.Parameter({ 1, 2 }, { shape = { { 3 }, {} } })))
  end)

  it("weight_init_func / bias_init_func as in LinearTorch, LIFTorch and RateTorch", function()
    local zeros = function(s) return lp.zeros(s) end
    local lin = nn.Linear { 2, 5, has_bias = true, weight_init_func = zeros, bias_init_func = function(s) return lp.ones(s) end }
    assert.equals(0, lin.weight:abs():sum():item())
    assert.equals(5, lin.bias:sum():item())
    lp.no_grad(function() lin.weight:fill_(3) end)
    lin:reset_parameters()
    assert.equals(0, lin.weight:abs():sum():item())
    assert.equals(0, nn.LIF(3, { has_rec = true, weight_init_func = zeros }).w_rec:abs():sum():item())
    assert.equals(0, nn.Rate(3, { has_rec = true, weight_init_func = zeros }).w_rec:abs():sum():item())
    local path = os.tmpname() .. ".npz"
    assert.is_true(lin:save(path))
    assert.equals(5, nn.load(path).bias:sum():item())
    os.remove(path)
  end)

  it("LIF tau_syn may be given as (1, k), shared by all neurons", function()
    local l = nn.LIF({ 6, 3 }, { tau_syn = lp.tensor { { 0.01, 0.02 } } })
    assert.same({ 3, 2 }, l.tau_syn.shape)
    assert.equals(f32(0.02), l.tau_syn:get(3, 2))
  end)
end)

describe("issue 16: nn.Rate with a Lua activation or a record runs over the whole sequence", function()
  -- VM instructions a call executes (counted by a hook, not timed)
  local function instructions(f)
    local n = 0
    debug.sethook(function() n = n + 1 end, "", 1000)
    local ok, err = pcall(f)
    debug.sethook()
    assert.is_true(ok, tostring(err))
    return n * 1000
  end

  it("without w_rec: the same outputs, records and gradients as the step loop", function()
    lp.seed(3)
    local fn = function(v, th) return lp.tanh(v - th) * 2 end
    local tau = lp.tensor { 0.02, 0.005, 0.001, 0.03 }
    local a = nn.Rate(4, { activation_func = fn, tau = tau, bias = 0.1 })
    -- w_rec of zeros: the same dynamics, computed by the per-step loop
    local b = nn.Rate(4, { activation_func = fn, tau = tau:clone(), bias = 0.1, w_rec = lp.zeros(4, 4) })
    local x = lp.randn(2, 50, 4)
    for _ = 1, 2 do                              -- the second call starts from the kept state
      local ya, _, ra = a(x, true)
      local yb, _, rb = b(x, true)
      assert.tensor_near(yb, ya, 1e-5)
      assert.tensor_near(rb.x, ra.x, 1e-5)
      assert.tensor_near(b.x, a.x, 1e-5)
    end
    local xa, xb = x:clone():requires_grad(true), x:clone():requires_grad(true)
    a(xa):sum():backward()
    b(xb):sum():backward()
    assert.tensor_near(xb.grad, xa.grad, 1e-5)
    assert.tensor_near(b.bias.grad, a.bias.grad, 1e-3)
    assert.tensor_near(b.tau.grad / b.tau.grad:abs():max(), a.tau.grad / b.tau.grad:abs():max(), 1e-4)
    -- a record with a built-in activation takes the same path
    local r = nn.Rate(3, { activation = "sigmoid" })
    local out, _, rec = r(lp.randn(5, 3), true)
    assert.tensor_near(lp.sigmoid(rec.x), out, 1e-6)
  end)

  it("a 2^20-step input is a few hundred VM instructions, not a loop per step", function()
    local r = nn.Rate(3, { activation_func = function(v, th) return lp.relu(v - th) end })
    local n = instructions(function() return r(lp.zeros(1, 3):expand(1 << 20, 3), true) end)
    assert.is_true(n < 100000, n .. " instructions")
  end)

  it("with w_rec, an input longer than nn.Rate.max_lua_steps is refused by name", function()
    local r = nn.Rate(3, { activation_func = function(v, th) return lp.relu(v - th) end, has_rec = true })
    local ok, err = pcall(r, lp.zeros(1, 3):expand(1 << 20, 3))
    assert.is_false(ok)
    assert.matches("Rate: evolve: a recurrent Rate with a Lua activation or a record steps in Lua, at most " ..
      "nn.Rate.max_lua_steps = 100000 time steps, got 1048576", err, 1, true)
    local bad = nn.Rate(2, { activation_func = function(v) return v:sum() end })
    assert.matches("the activation function must return a tensor of the shape of its input", select(2, pcall(bad, lp.ones(3, 2))))
  end)
end)
