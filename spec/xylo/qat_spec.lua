-- spec/xylo/qat_spec.lua -- lp.xylo.XyloQAT / qat / select_weight_shifts:
-- the QAT forward pass equals XyloSim bit for bit (every step, hop delays
-- included) on random small networks, for the quantised parameters.
local lp = require "limpet"
local nn = lp.nn
local xylo = lp.xylo

-- Linear -> 2-synapse LIFBitshift (recurrent) -> Linear -> LIFBitshift ->
-- Linear -> LIFBitshift: two hidden->hidden hops and the readout hop.
local function random_net(seed, nsyn)
  lp.seed(seed)
  local H1, H2 = 12, 8
  local net = nn.Sequential {
    nn.Linear({ 16, nsyn * H1 }),
    nn.LIFBitshift({ nsyn * H1, H1 }, { tau_syn = lp.rand(H1, nsyn) * 0.01 + 0.002, tau_mem = lp.rand(H1) * 0.01 + 0.002,
      threshold = lp.rand(H1) + 1, bias = lp.randn(H1) * 0.01, has_rec = true }),
    nn.Linear({ H1, H2 }),
    nn.LIFBitshift(H2, { tau_syn = 0.004, tau_mem = 0.004, threshold = 1 }),
    nn.Linear({ H2, 3 }),
    nn.LIFBitshift(3, { tau_syn = 0.004, threshold = 0.5 }),
  }
  lp.no_grad(function()
    net["2_LIFBitshift"].w_rec:mul_(0.3)
    for _, n in ipairs { "1_Linear", "3_Linear", "5_Linear" } do net[n].weight:mul_(0.25) end
  end)
  return net
end

local function same(a, b, what)
  local d = (a:astype("float64") - b:astype("float64")):abs():max():item()
  assert.equal(0, d, what)
end

describe("lp.xylo.XyloQAT", function()
  for _, case in ipairs {
    { seed = 1, variant = "audio2", quantize = "global", nsyn = 2 },
    { seed = 12, variant = "audio2", quantize = "channel", nsyn = 2 },
    { seed = 3, variant = "audio2", quantize = "global", nsyn = 1 },
    { seed = 4, variant = "audio3", quantize = "channel", nsyn = 2 },
    { seed = 16, variant = "audio2", quantize = "global", nsyn = 2, shifts = 2 },
  } do
    it(("equals XyloSim bit for bit: %s, %s, %d synapse(s), seed %d"):format(case.variant, case.quantize,
        case.nsyn, case.seed), function()
      local net = random_net(case.seed, case.nsyn)
      local V = xylo[case.variant]
      local spec = V.mapper(net:as_graph())
      local opts = { variant = case.variant, quantize = case.quantize }
      if case.shifts then
        opts.weight_shift_in, opts.weight_shift_rec, opts.weight_shift_out = case.shifts, case.shifts, case.shifts
      end
      local q = xylo.XyloQAT(spec, opts)
      local qs = q:quantized()
      local config, ok, msg = V.config_from_specification(qs)
      assert.is_true(ok, msg)
      lp.seed(case.seed + 100)
      local x = lp.bernoulli(0.2, 2, 60, 16) * lp.randint(1, 3, 2, 60, 16):astype("float32")
      for _, mode in ipairs { "Vmem", "Spike" } do
        q:reset_state()
        rawset(q, "output_mode", mode)
        local sim = V.XyloSim.from_config(config, { output_mode = mode })
        local out, _, rec = q(x, true)
        local hw, _, hrec = sim(x, true)
        -- a meaningful comparison: hidden and output activity, and synaptic
        -- currents far from the limit (xylosim saturates event by event,
        -- which XyloQAT does not emulate: see devices/xylo/qat.lua)
        assert.is_true(rec.Spikes:sum():item() > 20, "hidden spikes")
        assert.is_true(rec.Vmem_out:abs():sum():item() > 0, "output activity")
        for _, k in ipairs { "Isyn", "Isyn2", "Isyn_out" } do
          if hrec[k] then assert.is_true(hrec[k]:abs():max():item() < 20000, k .. " near saturation") end
        end
        same(out, hw, mode .. " output")
        for _, k in ipairs { "Vmem", "Isyn", "Spikes", "Vmem_out", "Isyn_out" } do same(rec[k], hrec[k], k) end
        if case.nsyn == 2 then same(rec.Isyn2, hrec.Isyn2, "Isyn2") end
      end
    end)
  end

  it("quantises with the quantiser's own scale (global_quantize's for shift 0)", function()
    local net = random_net(7, 2)
    local spec = xylo.audio2.mapper(net:as_graph())
    local g = xylo.global_quantize(spec)
    local q = xylo.XyloQAT(spec, { weight_shift_in = 0, weight_shift_rec = 0, weight_shift_out = 0 }):quantized()
    for _, k in ipairs { "weights_in", "weights_rec", "weights_out", "threshold", "threshold_out" } do
      same(g[k]:reshape(q[k].shape), q[k], k)
    end
    local c = xylo.channel_quantize(spec)
    local qc = xylo.XyloQAT(spec, { quantize = "channel", weight_shift_in = 0, weight_shift_rec = 0,
      weight_shift_out = 0 }):quantized()
    for _, k in ipairs { "weights_in", "weights_rec", "weights_out", "threshold", "threshold_out" } do
      same(c[k]:reshape(qc[k].shape), qc[k], k)
    end
  end)

  it("carries straight-through gradients to every trainable family", function()
    local net = random_net(8, 2)
    local q = xylo.XyloQAT(xylo.audio2.mapper(net:as_graph()))
    local x = lp.bernoulli(0.3, 2, 30, 16) * 2
    local out = q(x)
    out:sum():backward()
    for _, k in ipairs { "weights_in", "weights_rec", "weights_out", "threshold", "threshold_out" } do
      local g = q[k].grad
      assert.is_not_nil(g, k)
      assert.is_true(g:abs():sum():item() > 0, k)
    end
  end)

  it("refuses aliases and bad options by name", function()
    local spec = xylo.audio2.mapper(random_net(9, 1):as_graph())
    assert.has_error(function() xylo.XyloQAT(spec, { quantise = "global" }) end,
      "bad argument #2 to 'XyloQAT' (unknown field 'quantise')")
    assert.has_error(function() xylo.XyloQAT(spec, { quantize = "tensor" }) end,
      "bad argument #2 to 'XyloQAT' (field 'quantize' must be 'global' or 'channel', got 'tensor')")
    assert.has_error(function() xylo.XyloQAT(spec, { weight_shift_in = 9 }) end,
      "bad argument #2 to 'XyloQAT' (field 'weight_shift_in' must be 'auto' or an integer in 0..7)")
    spec.aliases[2] = { 3 }
    assert.has_error(function() xylo.XyloQAT(spec) end,
      "bad argument #1 to 'XyloQAT' (hidden neuron 2 has an alias; XyloQAT does not emulate aliases)")
  end)
end)

describe("lp.xylo.select_weight_shifts", function()
  it("takes the finest scale the thresholds and inputs allow, never coarser than shift 0", function()
    local spec = xylo.audio2.mapper(random_net(10, 2):as_graph())
    local r = xylo.select_weight_shifts(spec)
    for _, k in ipairs { "weight_shift_in", "weight_shift_rec", "weight_shift_out" } do
      assert.is_true(r[k] >= 0 and r[k] <= 7, k)
    end
    local m = math.max(spec.weights_in:abs():max():item(), spec.weights_rec:abs():max():item())
    assert.is_true(r.scale >= 127 / m - 1e-9)
    assert.is_true(r.scale_out >= 127 / spec.weights_out:abs():max():item() - 1e-9)
    assert.is_number(r.error.threshold)
    assert.is_number(r.error_shift0["in"])
    local thmax = spec.threshold:max():item()
    assert.is_true(thmax * r.scale * 4 <= 32767 + 1e-6 or r.weight_shift_in == 0)
    -- the chosen weights fit int8
    local q = xylo.XyloQAT(spec):quantized()
    assert.is_true(q.weights_in:abs():max():item() <= 128 and q.weights_rec:abs():max():item() <= 128)
    assert.has_error(function() xylo.select_weight_shifts(spec, { headroom = 0 }) end,
      "bad argument #2 to 'select_weight_shifts' (field 'headroom' must be a number >= 1)")
  end)
end)

describe("lp.xylo.qat", function()
  it("trains through the integer forward pass and returns a spec XyloSim runs identically", function()
    lp.seed(11)
    -- two classes: events on the low or on the high input channels
    local N = 32
    local x = lp.zeros(N, 20, 16)
    local y = lp.zeros({ N }, "int64")
    for i = 1, N do
      local c = (i - 1) % 2 + 1
      y:set(i, c)
      local lo = c == 1 and 1 or 9
      x:slice(1, i, i):slice(3, lo, lo + 7):copy_(lp.bernoulli(0.4, 1, 20, 8) * 2)
    end
    local net = nn.Sequential { nn.Linear({ 16, 10 }), nn.LIFBitshift(10, { threshold = 1 }),
                                nn.Linear({ 10, 2 }), nn.LIFBitshift(2, { threshold = 1 }) }
    local data = lp.train.TensorLoader(x, y, { batch_size = 8, shuffle = true, seed = 1 })
    local q, spec, report = xylo.qat(net, { data = data, epochs = 4, lr = 3e-3, progress = false })
    assert.equal(4, #report.history.train_loss)
    assert.is_true(report.history.train_loss[4] < report.history.train_loss[1])
    local config, ok, msg = xylo.audio2.config_from_specification(spec)
    assert.is_true(ok, msg)
    local sim = xylo.audio2.XyloSim.from_config(config, { output_mode = "Vmem" })
    q:reset_state()
    local a = lp.no_grad(function() return q(x) end)
    local b = sim(x)
    same(a, b, "output Vmem")
    assert.has_error(function() xylo.qat(net, {}) end, "bad argument #2 to 'qat' (field 'data' is required)")
  end)
  it("takes a schedule, gradient clipping and a loss given the QAT module; refuses bad ones by name", function()
    lp.seed(12)
    local x = lp.floor(lp.rand({ 16, 10, 16 }) * 4)
    local y = lp.tensor({ 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2 }, "int64")
    local net = nn.Sequential { nn.Linear({ 16, 12 }), nn.LIFBitshift(12, { has_rec = true, rec_fanout = 3 }),
                                nn.Linear({ 12, 2 }), nn.LIFBitshift(2, { threshold = 1 }) }
    local data = lp.train.TensorLoader(x, y, { batch_size = 8 })
    local seen, opt = nil, nil
    local q, spec = xylo.qat(net, { data = data, epochs = 2, lr = 1e-2, progress = false, clip_grad_norm = 0.5,
      loss = function(out, yy, qn) seen = qn; return lp.loss.cross_entropy(out:mean(2) * 0.01, yy) end,
      schedule = function(o) opt = o; return lp.optim.schedule.step(o, { step_size = 1, gamma = 0.5 }) end })
    assert.are.equal(q, seen)
    assert.near(2.5e-3, opt.lr, 1e-12)               -- halved after each of the 2 epochs
    -- the float net's 3 targets per neuron are all QAT may use
    local fr = xylo.audio2.mapper(net:as_graph()).weights_rec
    local nz = function(w) return w:reshape({ 12, -1 }):ne(0):astype("float64") end
    assert.are.equal(0, (nz(spec.weights_rec) * (1 - nz(fr))):sum():item())
    assert.is_true(nz(spec.weights_rec):sum(2):max():item() <= 3)
    assert.has_error(function() xylo.qat(net, { data = data, schedule = 1 }) end,
      "bad argument #2 to 'qat' (field 'schedule' must be a function(optimizer) -> schedule)")
    assert.has_error(function() xylo.qat(net, { data = data, loss = "mse" }) end,
      "bad argument #2 to 'qat' (field 'loss' must be a function)")
  end)
end)
