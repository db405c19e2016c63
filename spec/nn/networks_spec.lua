-- spec/nn/networks_spec.lua -- nn.LowPass, nn.SynNet, nn.WaveSenseBlock,
-- nn.WaveSenseNet: their dynamics against the explicit composition, and
-- their graphs mapped, quantised, configured and run in XyloSim.
local lp = require "limpet"
local nn = lp.nn
local class = require "limpet.class"

local function vals(t) return t:detach():astype("float64"):reshape(-1):totable() end

-- map + quantise + config + XyloSim run, as a user would
local function deploy(net, variant, x)
  local xylo = lp.xylo
  local V = xylo[variant]
  local spec = xylo.global_quantize(V.mapper(net:as_graph()))
  local config, ok, msg = V.config_from_specification(spec)
  assert.is_true(ok, msg)
  local sim = V.XyloSim.from_config(config, { dt = 1e-3 })
  local out, _, rec = sim(x, true)
  return out, rec, spec
end

describe("nn.LowPass", function()
  it("is vmem = vmem·exp(-dt/tau) + x, output vmem, state kept", function()
    local m = nn.LowPass(2, { tau_mem = 0.01 })
    local x = lp.tensor({ { 1, 0 }, { 0, 2 }, { 0, 0 }, { 3, 1 } }):reshape({ 1, 4, 2 })
    local y = m(x)
    local a = math.exp(-0.1)
    local v = { 0, 0 }
    local want = {}
    local xs = vals(x)
    for t = 1, 4 do
      for n = 1, 2 do
        v[n] = v[n] * a + xs[(t - 1) * 2 + n]
        want[#want + 1] = v[n]
      end
    end
    assert.tensor_near(lp.tensor(want):reshape({ 1, 4, 2 }), y, 1e-5)
    assert.tensor_near(lp.tensor({ v[1], v[2] }), m.vmem, 1e-5)
    -- the state carries on
    local y2 = m(lp.zeros(1, 1, 2))
    assert.tensor_near(lp.tensor({ v[1] * a, v[2] * a }):reshape({ 1, 1, 2 }), y2, 1e-5)
  end)

  it("passes gradients to its input (gradcheck)", function()
    local m = nn.LowPass(3, { tau_mem = 0.005 })
    local x = lp.randn(2, 5, 3):astype("float64")
    assert.is_true(lp.autograd.gradcheck(function(t) m:reset_state(); return (m(t)) end, { x }))
  end)

  it("rejects bad options and has no Xylo graph", function()
    assert.has_error(function() nn.LowPass(2, { tau = 1 }) end, "bad argument #2 to 'LowPass' (unknown field 'tau')")
    assert.has_error(function() nn.LowPass(2, { tau_mem = -1 }) end,
      "bad argument #2 to 'LowPass' (field 'tau_mem' must be positive)")
    assert.has_error(function() nn.LowPass(2):as_graph() end)
  end)
end)

describe("nn.SynNet", function()
  it("builds layers with cycling, bit-shift-rounded synaptic time constants and scaled weights", function()
    lp.seed(3)
    local net = nn.SynNet({ 16, 3 }, { size_hidden_layers = { 10, 6 }, time_constants_per_layer = { 4, 2 } })
    local names = {}
    for _, m in ipairs(net:modules()) do names[#names + 1] = m.name end
    assert.same({ "1_linear", "1_neurons", "2_linear", "2_neurons", "out_linear", "out_neurons" }, names)
    local dt = 1e-3
    local t1 = vals(net["1_neurons"].tau_syn)
    for j = 1, 10 do
      local e = (j - 1) % 4 + 1                          -- (2 ms / dt)^e · dt -> dash = e
      assert.near(-dt / math.log(1 - 2 ^ -e), t1[j], 1e-9)
    end
    assert.same({}, net:parameters("taus"))            -- time constants fixed by default
    assert.is_not_nil(net:parameters()["1_linear"])
    assert.equal(1, net["out_neurons"].max_spikes_per_dt)
    assert.equal(31, net["1_neurons"].max_spikes_per_dt)
    -- weights were scaled column by column by dt / tau_syn
    lp.seed(3)
    local raw = nn.Linear({ 16, 10 }).weight
    assert.tensor_near(raw * (lp.tensor(dt) / net["1_neurons"].tau_syn:reshape({ 10 })), net["1_linear"].weight, 1e-6)
  end)

  it("returns the readout's membrane with output = 'vmem'", function()
    lp.seed(4)
    local net = nn.SynNet({ 4, 2 }, { size_hidden_layers = { 8 }, time_constants_per_layer = { 2 }, output = "vmem",
      quantize_time_constants = false })
    local x = lp.bernoulli(0.5, 2, 10, 4) * 3
    local out, _, rec = net(x, true)
    assert.tensor_near(rec.out_neurons.vmem, out, 0)
    assert.equal(2 ^ 15 - 1, net.out_neurons.threshold:get(1))
    local out2 = (net:reset_state())(x)
    assert.tensor_near(out, out2, 1e-6)
  end)

  it("maps to Xylo Audio 2 and 3 without edits and runs in XyloSim", function()
    lp.seed(5)
    local net = nn.SynNet({ 16, 4 }, { size_hidden_layers = { 24, 12 }, time_constants_per_layer = { 4, 2 },
      threshold = 0.05, neuron_model = "LIFBitshift" })
    local x = lp.randint(0, 16, 40, 16):astype("float32")
    for _, v in ipairs { "audio2", "audio3" } do
      local out, rec, spec = deploy(net, v, x)
      assert.equal(40, out.shape[#out.shape - 1])
      assert.equal(36, spec.weights_rec.shape[1])
      assert.is_true(rec.Spikes:sum():item() > 0, v .. ": no hidden spike")
    end
  end)

  it("rejects bad options by name", function()
    assert.has_error(function() nn.SynNet({ 4, 2 }, { size_hidden_layers = { 4 }, time_constants_per_layer = { 1, 2 } }) end,
      "bad argument #2 to 'SynNet' (fields 'size_hidden_layers' and 'time_constants_per_layer' must be lists of the same length)")
    assert.has_error(function() nn.SynNet({ 4, 2 }, { tau_syn_base = 1e-3 }) end,
      "bad argument #2 to 'SynNet' (field 'tau_syn_base' must be larger than 'dt')")
    assert.has_error(function() nn.SynNet({ 4, 2 }, { output = "vmem", threshold_out = 3 }) end,
      "bad argument #2 to 'SynNet' (field 'threshold_out' does not apply with output = 'vmem')")
    assert.has_error(function() nn.SynNet({ 4, 2 }, { neuron_model = "Rate" }) end,
      "bad argument #2 to 'SynNet' (field 'neuron_model' must be one of LIF, LIFBitshift, got 'Rate')")
    assert.has_error(function() nn.SynNet(4) end, "bad argument #1 to 'SynNet' (shape must be {n_channels, n_classes})")
  end)
end)

describe("nn.HopDelay and SynNet's hop_delay", function()
  it("HopDelay is its input one step late, continuing across calls; its graph is the identity", function()
    local d = nn.HopDelay(3)
    local x = lp.randn(2, 6, 3)
    local y = d(x)
    assert.tensor_near(lp.zeros(2, 1, 3), y:slice(2, 1, 1), 0)
    assert.tensor_near(x:slice(2, 1, 5), y:slice(2, 2, 6), 0)
    local z = d(x:slice(2, 1, 2))
    assert.tensor_near(x:slice(2, 6, 6), z:slice(2, 1, 1), 0)
    d:reset_state()
    assert.tensor_near(y, d(x), 0)
    local g = d:as_graph()
    assert.equal(g.input_nodes[2], g.output_nodes[2])
    assert.has_error(function() nn.HopDelay(0) end, "bad argument #1 to 'HopDelay' (channels must be a positive integer)")
  end)

  it("HopDelay on zero steps returns zero steps and keeps its state (found by the hostile sweep)", function()
    local d = nn.HopDelay(3)
    local x = lp.randn(2, 4, 3)
    d(x)
    local e = d(lp.zeros(2, 0, 3))
    assert.same({ 2, 0, 3 }, { e.shape[1], e.shape[2], e.shape[3] })
    assert.tensor_near(x:slice(2, 4, 4), d(x):slice(2, 1, 1), 0)
  end)

  it("SynNet with hop_delay follows XyloSim's timing and maps like the net without it", function()
    for _, hop in ipairs { false, true } do
      lp.seed(12)
      local net = nn.SynNet({ 2, 2 }, { size_hidden_layers = { 3, 3, 3 }, time_constants_per_layer = { 1, 1, 1 },
        neuron_model = "LIFBitshift", output = "vmem", hop_delay = hop })
      lp.no_grad(function()
        for _, m in ipairs(net:modules()) do
          if m.weight then m.weight:copy_(lp.ones(m.weight.shape) * 4) end
        end
      end)
      local x = lp.zeros(1, 12, 2)
      x:set(1, 3, 1, 15)
      local out = net(x)
      local spec = lp.xylo.global_quantize(lp.xylo.audio2.mapper(net:as_graph()))
      assert.equal(9, spec.weights_rec.shape[1])
      local config, ok, msg = lp.xylo.audio2.config_from_specification(spec)
      assert.is_true(ok, msg)
      local hw = lp.xylo.audio2.XyloSim.from_config(config, { dt = 1e-3, output_mode = "Vmem" })(x:astype("int32"))
      local function first(v)
        local t = v:abs():sum(3):reshape(-1):totable()
        for i = 1, #t do if t[i] > 0 then return i end end
      end
      -- three hidden layers: two hidden hops and one to the outputs
      if hop then assert.equal(first(hw), first(out)) else assert.equal(first(hw) - 3, first(out)) end
    end
    assert.has_error(function() nn.SynNet({ 2, 2 }, { hop_delay = 1 }) end,
      "bad argument #2 to 'SynNet' (field 'hop_delay' must be a boolean)")
  end)
end)

describe("nn.WaveSenseBlock and nn.WaveSenseNet", function()
  it("a block is the explicit composition: residual + input, then skip", function()
    lp.seed(6)
    local b = nn.WaveSenseBlock({ 4, 3 }, { dilation = 3, threshold = 0.02 })
    assert.same({ 4, 7 }, b.shape)
    assert.tensor_near(lp.tensor({ 20e-3, 60e-3 }):reshape({ 1, 2 }):expand({ 4, 2 }), b.spk1.tau_syn, 1e-9)
    local x = lp.bernoulli(0.5, 2, 12, 4)
    local y = b(x)
    b:reset_state()
    local h = b.spk1(b.lin1(x))
    local r = b.spk2_res(b.lin2_res(h))
    local s = b.spk2_skip(b.lin2_skip(h))
    assert.tensor_near(lp.cat({ r + x, s }, 3), y, 0)
    assert.is_true(h:sum():item() > 0)
  end)

  it("a net sums the skip outputs of its blocks and reads out through LIF (and LowPass)", function()
    lp.seed(7)
    local net = nn.WaveSenseNet({ 6, 3 }, { dilations = { 1, 2 }, n_channels_res = 4, n_channels_skip = 5,
      n_hidden = 7, threshold = 0.02, smooth_output = true })
    local x = lp.bernoulli(0.5, 2, 15, 6)
    local out, _, rec = net(x, true)
    net:reset_state()
    local o = net.spk1(net.lin1(x))
    local y1 = net.wave1(o)
    local y2 = net.wave2(y1:slice(3, 1, 4))
    local skip = y1:slice(3, 5, 9) + y2:slice(3, 5, 9)
    local z = net.spk_out(net.readout(net.spk2(net.hidden(skip))))
    assert.tensor_near(net.lp(z), out, 1e-6)
    assert.is_not_nil(rec.wave2.spk1)
    assert.has_error(function() net:as_graph() end,
      "WaveSenseNet: smooth_output adds a LowPass, which has no Xylo equivalent")
  end)

  it("maps to Xylo Audio 2 and 3 without edits (aliases for the residual and skip sums) and runs in XyloSim", function()
    lp.seed(8)
    local net = nn.WaveSenseNet({ 16, 4 }, { dilations = { 2, 4 }, n_channels_res = 8, n_channels_skip = 8,
      n_hidden = 8, threshold = 0.05, neuron_model = "LIFBitshift" })
    local G = lp.graph
    local g = net:as_graph()
    local aliases = G.find_modules_of_subclass(g, G.AliasConnection)
    assert.equal(3, #aliases)            -- two residuals, one skip sum
    local x = lp.randint(0, 16, 30, 16):astype("float32")
    for _, v in ipairs { "audio2", "audio3" } do
      local out, rec, spec = deploy(net, v, x)
      assert.equal(30, out.shape[#out.shape - 1])
      assert.equal(8 + 2 * (8 + 8 + 8) + 8, spec.weights_rec.shape[1])   -- spk1, 2 blocks, spk2
      assert.is_true(rec.Spikes:sum():item() > 0, v .. ": no hidden spike")
    end
  end)

  it("hop_delay: every Linear reading hidden spikes sees them one step late (Xylo's timing)", function()
    lp.seed(9)
    local function late(x)          -- (B, T, N) one step late, silent first step
      local B, T, N = x.shape[1], x.shape[2], x.shape[3]
      return lp.cat({ lp.zeros(B, 1, N), x:slice(2, 1, T - 1) }, 2)
    end
    local b = nn.WaveSenseBlock({ 4, 3 }, { dilation = 2, threshold = 0.02, hop_delay = true })
    local x = lp.bernoulli(0.5, 2, 12, 4)
    local y = b(x)
    b:reset_state()
    local h = b.spk1(b.lin1(late(x)))
    local r = b.spk2_res(b.lin2_res(late(h)))
    local s = b.spk2_skip(b.lin2_skip(late(h)))
    assert.tensor_near(lp.cat({ r + x, s }, 3), y, 0)
    assert.is_true(h:sum():item() > 0)

    local net = nn.WaveSenseNet({ 6, 3 }, { dilations = { 1, 2 }, n_channels_res = 4, n_channels_skip = 5,
      n_hidden = 7, threshold = 0.02, hop_delay = true })
    local xn = lp.bernoulli(0.5, 2, 15, 6)
    local out = net(xn)
    net:reset_state()
    local o = net.spk1(net.lin1(xn))
    local y1 = net.wave1(o)
    local y2 = net.wave2(y1:slice(3, 1, 4))
    local skip = y1:slice(3, 5, 9) + y2:slice(3, 5, 9)
    local z = net.spk_out(net.readout(late(net.spk2(net.hidden(late(skip))))))
    assert.tensor_near(z, out, 0)
  end)

  it("hop_delay: the delay lines are state (a split run equals one run; reset_state silences them)", function()
    lp.seed(10)
    local net = nn.WaveSenseNet({ 6, 3 }, { dilations = { 1, 2 }, n_channels_res = 4, n_channels_skip = 5,
      n_hidden = 7, threshold = 0.02, hop_delay = true })
    local x = lp.bernoulli(0.5, 2, 16, 6)
    local _, _, rec = net(x, true)
    net:reset_state()
    local _, _, r1 = net(x:slice(2, 1, 9), true)
    local _, _, r2 = net(x:slice(2, 10, 16), true)
    assert.tensor_near(rec.spk2.spikes, lp.cat({ r1.spk2.spikes, r2.spk2.spikes }, 2), 0)
    assert.tensor_near(rec.spk_out.vmem, lp.cat({ r1.spk_out.vmem, r2.spk_out.vmem }, 2), 1e-5)
    net:reset_state()
    local _, _, again = net(x, true)
    assert.tensor_near(rec.spk_out.vmem, again.spk_out.vmem, 0)
    assert.has_error(function() net(x:slice(1, 1, 1)) end,
      "WaveSenseBlock 'wave1': hop delay state 'hop_in' holds a batch of 2, the input has 1 (call reset_state first)")
    assert.has_error(function() nn.WaveSenseNet({ 4, 2 }, { hop_delay = 1 }) end,
      "bad argument #2 to 'WaveSenseNet' (field 'hop_delay' must be a boolean)")
    assert.has_error(function() nn.WaveSenseBlock({ 4, 2 }, { hop_delay = "yes" }) end,
      "bad argument #2 to 'WaveSenseBlock' (field 'hop_delay' must be a boolean)")
  end)

  it("hop_delay: the float net follows XyloSim's timing (first output response on the same step)", function()
    -- one block, strong positive weights: a single input event travels
    -- lin1 -> spk1 -> wave1 (2 hops) -> hidden -> readout; the first step
    -- at which a readout membrane moves is what the hop delay decides
    lp.seed(11)
    for _, hop in ipairs { false, true } do
      local net = nn.WaveSenseNet({ 2, 2 }, { dilations = { 1 }, n_channels_res = 2, n_channels_skip = 2,
        n_hidden = 2, threshold = 1, neuron_model = "LIFBitshift", hop_delay = hop })
      lp.no_grad(function()
        for _, lin in ipairs { net.lin1, net.wave1.lin1, net.wave1.lin2_res, net.wave1.lin2_skip, net.hidden, net.readout } do
          lin.weight:copy_(lp.ones(lin.weight.shape) * 4)
        end
      end)
      local x = lp.zeros(1, 12, 2)
      x:set(1, 3, 1, 15)
      x:set(1, 3, 2, 15)
      local _, _, rec = net(x, true)
      local function first(v)   -- first step whose |value| > 0, from (1, T, N)
        local t = v:abs():sum(3):reshape(-1):totable()
        for i = 1, #t do if t[i] > 0 then return i end end
      end
      local spec = lp.xylo.global_quantize(lp.xylo.audio2.mapper(net:as_graph()))
      local config, ok, msg = lp.xylo.audio2.config_from_specification(spec)
      assert.is_true(ok, msg)
      local sim = lp.xylo.audio2.XyloSim.from_config(config, { dt = 1e-3, output_mode = "Vmem" })
      local hw = sim(x:astype("int32"))
      local f_float, f_sim = first(rec.spk_out.vmem), first(hw)
      if hop then assert.equal(f_sim, f_float) else assert.equal(f_sim - 4, f_float) end
    end
  end)

  it("rejects bad options by name", function()
    assert.has_error(function() nn.WaveSenseNet({ 4, 2 }, { dilations = {} }) end,
      "bad argument #2 to 'WaveSenseNet' (field 'dilations' must be a non-empty list of positive integers)")
    assert.has_error(function() nn.WaveSenseBlock({ 4, 2 }, { dilation = 0 }) end,
      "bad argument #2 to 'WaveSenseBlock' (field 'dilation' must be a positive integer)")
    assert.has_error(function() nn.WaveSenseNet({ 4, 2 }, { tau = 1 }) end,
      "bad argument #2 to 'WaveSenseNet' (unknown field 'tau')")
  end)

  it("saves and loads (nn.load rebuilds SynNet and WaveSenseNet)", function()
    local path = os.tmpname() .. ".npz"
    local x = lp.bernoulli(0.5, 1, 10, 16)
    for _, net in ipairs { nn.WaveSenseNet({ 16, 4 }, { dilations = { 2 }, threshold = 0.05 }),
                           nn.WaveSenseNet({ 16, 4 }, { dilations = { 2 }, threshold = 0.05, hop_delay = true }),
                           nn.SynNet({ 16, 4 }, { size_hidden_layers = { 8 }, time_constants_per_layer = { 2 } }) } do
      assert.is_true(net:save(path))
      local again = nn.load(path)
      assert.equal(getmetatable(net), getmetatable(again))
      net:reset_state()
      assert.tensor_near(net(x), again(x), 0)
    end
    os.remove(path)
  end)
end)
