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
-- Class 1: a 25 ms whistle in the low bands; class 2: the same in the
-- high bands; class 3: a burst spread over all bands. Pitch and onset vary
-- from sample to sample; every channel carries background events.
local Nin, T, C = 16, 80, 3
local function sample(c)
  local rows = {}
  local centre = (c == 1 and 3 or 12) + 2 * (math.random() - 0.5)
  local onset = math.random(1, T - 30)
  for t = 1, T do
    local row = {}
    local on = t >= onset and t < onset + 25
    for ch = 1, Nin do
      local burst = 0
      if on then burst = c == 3 and 0.12 or 0.5 * math.exp(-((ch - centre) ^ 2) / 3) end
      row[ch] = 0.02 + burst
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
local fig = lp.plot.figure { rows = 1, cols = 3, width = 1200, height = 450 }
for c = 1, C do fig:raster(c, x_test[c], { title = ({ "low", "high", "noise" })[c], xlabel = "step", ylabel = "band" }) end
assert(fig:save(tut.figure("classes")))

-- ## A network with the chip's dynamics
--
-- `nn.LIFBitshift` decays by `1 - 2^-dash`, exactly as Xylo does, so the
-- time constants survive mapping. Only the weights are trained: time
-- constants stay on values the chip represents exactly, and thresholds
-- stay where quantisation expects them. Hidden neurons fire at most once
-- per step, as on the chip.
--
-- The read-out: training on output *spike counts* is fragile (an output
-- neuron that falls silent gets no gradient and stays silent). Instead the
-- output neurons get a threshold they never reach, and the class is the
-- output with the highest membrane potential over time — which Xylo reports
-- directly (`output_mode = "Vmem"`). The loss is the cross-entropy of the
-- time-averaged output membrane potentials, read from the record, plus a
-- small penalty on their square that keeps them well inside the chip's
-- 16-bit state range (the chip saturates where floating point does not).
local H = 32
local net = nn.Sequential {
  nn.Linear({ Nin, H }),
  nn.LIFBitshift(H, { tau_mem = 16e-3, tau_syn = 8e-3, max_spikes_per_dt = 1 }),
  nn.Linear({ H, C }),
  nn.LIFBitshift(C, { tau_mem = 16e-3, tau_syn = 8e-3, threshold = 200, max_spikes_per_dt = 1 }),
}
local all = net:parameters()
local params = { ["1_Linear"] = all["1_Linear"], ["3_Linear"] = all["3_Linear"] }
local optimizer = lp.optim.Adam(params, { lr = 1e-2 })
local epochs = opt.quick and 12 or 30

-- The loop is written out, because the loss reads the record rather than
-- the output:
local function readout(x)
  local _, _, rec = net(x, true)
  return rec["4_LIFBitshift"].vmem                    -- (B, T, C) output membranes
end
local loader = lp.train.TensorLoader(x_train, y_train, { batch_size = 32, shuffle = true, seed = 1 })
local hist = { train_loss = {}, val_accuracy = {} }
for epoch = 1, epochs do
  local total, nb = 0, 0
  for x, y in loader:iter() do
    net:reset_state()
    local v = readout(x)
    local loss = lp.loss.cross_entropy(v:mean(2), y) + v:pow(2):mean() * 0.01
    optimizer:zero_grad()
    loss:backward()
    optimizer:step()
    total, nb = total + loss:item(), nb + 1
  end
  net:reset_state()
  local v = lp.no_grad(function() return readout(x_test) end)
  hist.train_loss[epoch], hist.val_accuracy[epoch] = total / nb, lp.train.accuracy(v, y_test)
end
print(("float test accuracy after %d epochs: %.3f"):format(epochs, hist.val_accuracy[epochs]))
assert(lp.plot.curve({ train_loss = hist.train_loss, val_accuracy = hist.val_accuracy }, tut.figure("history"),
  { xlabel = "epoch", ylabel = "loss", ylabel_right = "accuracy" }))

-- ## Deploy: map, quantise, configure, simulate
local spec = xylo.audio2.mapper(net:as_graph())
local config, ok, msg = xylo.audio2.config_from_specification(xylo.global_quantize(spec))
assert(ok, msg)
print(config)
local sim = xylo.audio2.XyloSim.from_config(config, { dt = 1e-3, output_mode = "Vmem" })
local hw = sim(x_test:astype("int32")):astype("float32")
net:reset_state()
local fl = lp.no_grad(function() return readout(x_test) end)
local acc_float = lp.train.accuracy(fl, y_test)
local acc_chip = lp.train.accuracy(hw, y_test)
print(("test accuracy: float %.3f, XyloSim %.3f"):format(acc_float, acc_chip))
print(("largest output Vmem on the chip: %d (threshold %d)"):format(hw:abs():max():item(), config.threshold_out
  and config.threshold_out[1] or -1))

-- The chip's confusion matrix:
local pred = hw:sum(2):argmax(2):reshape(-1):totable()
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
-- Here the deployed network does as well as the floating-point one. When
-- quantisation costs more, Rockpool trains with the quantisation in the
-- loop (`rockpool.transform`, quantisation-aware training) and with
-- parameter noise; in limpet these (`lp.transform`, `lp.xylo.qat`) arrive
-- with another issue.
