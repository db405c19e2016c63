-- examples/tutorials/18_xylo_training.lua -- Training to deploy to the Xylo digital SNN
-- A network meant for Xylo is trained in floating point with the chip's
-- neuron model, then mapped, quantised and checked in the bit-exact
-- simulator: the deployed accuracy is what counts. The task is audio-like:
-- tell a low whistle from a high one and from noise, given band events on
-- 16 channels (what Xylo Audio's front end would deliver).
local lp = require "limpet"
local nn = lp.nn
local tut = require "limpet.tutorial"
local opt = tut.options(arg)
local xylo = lp.xylo
lp.seed(18)
math.randomseed(18)

-- ## Data
--
-- Class 1: a tone in the low bands that wobbles in pitch; class 2: the
-- same in the high bands; class 3: events spread over all bands. Pitch,
-- wobble and onset vary from sample to sample.
local Nin, T, C = 16, 80, 3
local function sample(c)
  local rows = {}
  local base = (c == 1 and 3 or 12) + 2 * (math.random() - 0.5)
  local depth, phase = 1 + 2 * math.random(), 2 * math.pi * math.random()
  local onset = math.random(1, 20)
  for t = 1, T do
    local row = {}
    local centre = base + depth * math.sin(2 * math.pi * t / 40 + phase)
    for ch = 1, Nin do
      local on = t >= onset and t < onset + 50
      row[ch] = 0.005 + (not on and 0 or c == 3 and 0.04 or 0.1 * math.exp(-((ch - centre) ^ 2) / 3))
    end
    rows[t] = row
  end
  return rows
end
local function dataset(n)
  local p, y = {}, {}
  for i = 1, n do
    y[i] = (i - 1) % C + 1
    p[i] = sample(y[i])
  end
  return lp.bernoulli(lp.tensor(p)), lp.tensor(y, "int64")
end
local x_train, y_train = dataset(opt.quick and 240 or 1200)
local x_test, y_test = dataset(opt.quick and 120 or 600)
local fig = lp.plot.figure { rows = 1, cols = 3, width = 1200, height = 380 }
for c = 1, C do fig:raster(c, x_test[c], { title = ({ "low", "high", "noise" })[c], xlabel = "step", ylabel = "band" }) end
assert(fig:save(tut.figure("classes")))

-- ## A network with the chip's dynamics
--
-- `nn.LIFBitshift` decays by `1 - 2^-dash`, exactly as Xylo does, so the
-- time constants survive mapping. Only the weights are trained: time
-- constants stay on values the chip represents exactly, and thresholds
-- stay where quantisation expects them. Outputs fire at most once per
-- step, as Xylo's output neurons do.
local H = 32
local net = nn.Sequential {
  nn.Linear({ Nin, H }),
  nn.LIFBitshift(H, { tau_mem = 16e-3, tau_syn = 8e-3, has_rec = true, w_rec = lp.randn(H, H) * 0.01,
                      max_spikes_per_dt = 1 }),
  nn.Linear({ H, C }),
  nn.LIFBitshift(C, { tau_mem = 16e-3, tau_syn = 8e-3, max_spikes_per_dt = 1 }),
}
local all = net:parameters()
local params = { ["1_Linear"] = all["1_Linear"], ["2_LIFBitshift"] = { w_rec = all["2_LIFBitshift"].w_rec },
                 ["3_Linear"] = all["3_Linear"] }
-- The loss is the cross-entropy of the output spike counts, scaled down
-- (a count of 80 would saturate the softmax and silence the gradient).
local optimizer = lp.optim.Adam(params, { lr = 1e-2 })
local epochs = opt.quick and 16 or 40
local hist = lp.train.fit {
  net = net,
  loss = function(out, y) return lp.loss.cross_entropy(out:sum(2) * 0.1, y) end,
  data = lp.train.TensorLoader(x_train, y_train, { batch_size = 32, shuffle = true, seed = 1 }),
  val_data = lp.train.TensorLoader(x_test, y_test, { batch_size = 120 }),
  epochs = epochs,
  optimizer = optimizer,
  metrics = { "accuracy" },
  progress = false,
}
print(("float test accuracy after %d epochs: %.3f"):format(hist.epochs, hist.val_accuracy[hist.epochs]))
assert(lp.plot.curve({ train_loss = hist.train_loss, val_accuracy = hist.val_accuracy }, tut.figure("history"),
  { xlabel = "epoch", ylabel = "loss", ylabel_right = "accuracy" }))

-- ## Deploy: map, quantise, configure, simulate
local spec = xylo.audio2.mapper(net:as_graph())
local config, ok, msg = xylo.audio2.config_from_specification(xylo.global_quantize(spec))
assert(ok, msg)
print(config)
local sim = xylo.audio2.XyloSim.from_config(config, { dt = 1e-3, output_mode = "Spike" })
local hw = sim(x_test:astype("int32"))
net:reset_state()
local fl = lp.no_grad(function() return net(x_test) end)
local acc_float = lp.train.accuracy(fl, y_test)
local acc_chip = lp.train.accuracy(hw:astype("float32"), y_test)
print(("test accuracy: float %.3f, XyloSim %.3f"):format(acc_float, acc_chip))

-- The chip's confusion matrix:
local pred = hw:astype("float32"):sum(2):argmax(2):reshape(-1):totable()
local truth = y_test:totable()
local cm = lp.zeros(C, C)
for i = 1, #truth do
  local p = math.tointeger(pred[i])
  cm:set(truth[i], p, cm:get(truth[i], p) + 1)
end
assert(lp.plot.confusion(cm, tut.figure("confusion"), { labels = { "low", "high", "noise" },
  title = "XyloSim on the test set" }))
local cycles = xylo.audio2.cycles_model(config)
print(("cycles per step %d; minimum clock at dt = 1 ms: %.2f MHz"):format(cycles,
  xylo.audio2.est_clock_freq(config, 1e-3) / 1e6))

-- ## Closing the gap
--
-- Quantisation to 8-bit weights costs a few points here. Rockpool trains
-- with the quantisation in the loop (`rockpool.transform`, quantisation-
-- aware training) and with parameter noise; in limpet these
-- (`lp.transform`, `lp.xylo.qat`) arrive with another issue.
