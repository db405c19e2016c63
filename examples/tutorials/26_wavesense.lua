-- examples/tutorials/26_wavesense.lua -- WaveSense: a spiking WaveNet for Xylo
-- WaveSense (Weidel & Sheik, 2021) borrows the idea of WaveNet — a stack
-- of dilated temporal convolutions whose receptive field doubles from
-- layer to layer — and builds it from spiking neurons, with no delays
-- and no convolutions: a neuron with two synapses of different time
-- constants sees its input smeared over two time scales, and stacking
-- such layers with growing time constants gives the long, graded memory
-- that WaveNet gets from dilation. Everything is feed-forward, with
-- residual and skip connections, so it maps onto Xylo. This tutorial
-- builds the pieces, trains a net on a task that needs the order of
-- events, deploys it to Xylo Audio 3 in XyloSim, and shows the one thing
-- to get right for deployment: the chip's one-step delay per layer.
-- (`examples/wavesense.lua` runs WaveSense on Fashion-MNIST rows and on
-- spoken digits through the Audio 3 front end.)
local lp = require "limpet"
local nn, xylo = lp.nn, lp.xylo
local tut = require "limpet.tutorial"
local opt = tut.options(arg)
lp.seed(26)
math.randomseed(26)

-- ## One block
--
-- `nn.WaveSenseBlock({Nres, Nskip}, {dilation = d, ...})` is one layer of
-- the stack: a Linear layer into neurons with `kernel_size` synapses each
-- (synapse s has τ_syn = max(1, (s − 1)·d)·base_tau_syn: with the default
-- two synapses, one fast at the base and one d times slower), then two
-- outputs: a residual path (Linear → neurons, plus the block's own input)
-- that feeds the next block, and a skip path (Linear → neurons) that goes
-- to the readout. Its output is the residual channels followed by the
-- skip channels.
local dt = 1e-3
local block = nn.WaveSenseBlock({ 8, 16 }, { dilation = 4, base_tau_syn = 2e-3, tau_mem = 4e-3, dt = dt,
  neuron_model = "LIFBitshift" })
print(block)
print("tau_syn of the first three dilation neurons (s):")
print(block.spk1.tau_syn:slice(1, 1, 3))

-- The slow synapse of a dilation neuron for the dilations a net typically
-- stacks: what a single input spike leaves in it over the next 40 ms (the
-- fast synapse is the d = 1 curve in every block). Each doubling of the
-- dilation doubles the slow synapse's memory.
local dil = { 1, 2, 4, 8 }
local kernels = lp.zeros(40, #dil)
for t = 1, 40 do
  for i, d in ipairs(dil) do kernels:set(t, i, math.exp(-(t - 1) * dt / (d * 2e-3))) end
end
assert(lp.plot.traces(kernels, tut.figure("kernels"), { stagger = 0,
  labels = { "d = 1 (fast)", "d = 2", "d = 4", "d = 8" }, xlabel = "time (ms)",
  title = "slow synaptic kernel of a dilation neuron", ylabel = "current after one spike" }))

-- ## A task that needs the order of events
--
-- Three classes on 16 channels, 40 steps: an upward sweep (channel 1 to 16
-- over about 24 steps), the same sweep downward, and a "V": the sweep
-- starts at both ends and meets in the middle, alternating between the
-- lower and the upper half. Every
-- channel fires about the same number of times in each class — the
-- classes differ only in *when* each channel fires — and each sample has
-- its own onset, speed jitter and background events.
local Nin, T, C = 16, 40, 3
local function sample(c)
  local x = {}
  for t = 1, T do
    local row = {}
    for ch = 1, Nin do row[ch] = math.random() < 0.02 and 1 or 0 end
    x[t] = row
  end
  local onset, speed = math.random(1, 10), 1.5 + (math.random() - 0.5) * 0.4
  for k = 0, Nin - 1 do
    local chs
    if c == 1 then chs = { k + 1 } elseif c == 2 then chs = { Nin - k }
    elseif k % 2 == 0 then chs = { k // 2 + 1 } else chs = { Nin - k // 2 } end
    local t = math.floor(onset + k * speed + 0.5)
    for _, ch in ipairs(chs) do
      for j = 0, 1 do if t + j <= T and math.random() < 0.9 then x[t + j][ch] = 1 end end
    end
  end
  return x
end
local function dataset(n)
  local xs, ys = {}, {}
  for i = 1, n do ys[i] = (i - 1) % C + 1; xs[i] = sample(ys[i]) end
  return lp.tensor(xs, "float32"), lp.tensor(ys, "int64")
end
local x_train, y_train = dataset(opt.quick and 300 or 1200)
local x_test, y_test = dataset(opt.quick and 150 or 600)
local fig = lp.plot.figure { rows = 1, cols = 3, width = 1500, height = 480 }
for c = 1, C do
  fig:raster(c, x_test[c], { title = ({ "up", "down", "V" })[c], xlabel = "step", ylabel = "channel" })
end
assert(fig:save(tut.figure("task")))

-- ## The network
--
-- `nn.WaveSenseNet({Nin, classes}, {...})`: an input layer (Linear →
-- neurons), one block per dilation (residual outputs chained, skip outputs
-- summed), a hidden layer on the summed skips, and a readout layer of
-- LIF neurons with τ_mem = τ_syn = tau_lp that acts as a low-pass filter.
-- We read the class from the readout's membrane potential (the chip
-- reports it with `output_mode = "Vmem"`); the loss is the cross-entropy
-- of its time average plus a small penalty on its square (see below). `neuron_model = "LIFBitshift"`
-- makes the decays the chip's bit-shift decays, so the time constants
-- survive deployment exactly (every τ here is dt times a power of 2).
-- `hop_delay` is explained below; we build one net of each kind.
local function make(hop)
  lp.seed(260)
  return nn.WaveSenseNet({ Nin, C }, { dilations = { 1, 2, 4, 8 }, n_channels_res = 16, n_channels_skip = 16,
    n_hidden = 16, tau_mem = 4e-3, base_tau_syn = 2e-3, tau_lp = 8e-3, neuron_model = "LIFBitshift", dt = dt,
    hop_delay = hop })
end
print(make(true))
local function readout(net, x)
  local _, _, rec = net(x, true)
  return rec.spk_out.vmem                               -- (B, T, C)
end
local epochs = opt.quick and 10 or 25
local function train(net)
  local optimizer = lp.optim.Adam(net:parameters("weights"), { lr = 1e-2 })
  local loader = lp.train.TensorLoader(x_train, y_train, { batch_size = 32, shuffle = true, seed = 1 })
  local losses, accs = {}, {}
  for e = 1, epochs do
    local sum, nb = 0, 0
    for x, y in loader:iter() do
      net:reset_state()
      local v = readout(net, x)
      local loss = lp.loss.cross_entropy(v:mean(2), y) + v:pow(2):mean() * 1e-3
      optimizer:zero_grad(); loss:backward()
      lp.optim.clip_grad_norm(optimizer, 0.5)
      optimizer:step()
      sum, nb = sum + loss:item(), nb + 1
    end
    net:reset_state()
    losses[e] = sum / nb
    accs[e] = lp.train.accuracy(lp.no_grad(function() return readout(net, x_test) end), y_test)
  end
  return losses, accs
end

-- ## Deployment and the hop delay
--
-- On Xylo all hidden neurons form one population: a spike a hidden neuron
-- emits at step t reaches other hidden neurons (and the output neurons)
-- at step t + 1; only input events arrive within their step. The float
-- network passes spikes on within the step. A WaveSense net with B blocks
-- is 2B + 2 such hops deep (here 10 steps), so on the chip the readout
-- sees everything 10 steps later than in training, and the paths of
-- different length that the skip sum adds together arrive shifted
-- against each other. (The residual and skip sums themselves become
-- neuron *aliases* on Xylo — a neuron's spikes counted as another's — and
-- add no delay.) `hop_delay = true` puts exactly this one-step delay in
-- front of every Linear layer that reads hidden spikes, so the float
-- network trains with the chip's timing.
--
-- We train both nets, then deploy each: `as_graph`, the Audio 3 mapper,
-- `global_quantize` (int8 weights, integer thresholds), a configuration,
-- and XyloSim.
local results, curves = {}, {}
for _, hop in ipairs { false, true } do
  local net = make(hop)
  local losses, accs = train(net)
  curves[hop and "hop_delay" or "plain"] = accs
  net:reset_state()
  local acc_float = lp.train.accuracy(lp.no_grad(function() return readout(net, x_test) end), y_test)
  local spec = xylo.global_quantize(xylo.audio3.mapper(net:as_graph()))
  local config, ok, msg = xylo.audio3.config_from_specification(spec)
  assert(ok, msg)
  local sim = xylo.audio3.XyloSim.from_config(config, { dt = dt, output_mode = "Vmem" })
  local hw, _, rec = sim(x_test:astype("int32"), true)
  local acc_sim = lp.train.accuracy(hw:astype("float32"), y_test)
  net:reset_state()
  local fl = lp.no_grad(function() return readout(net, x_test:slice(1, 1, 1)) end)
  results[#results + 1] = { hop = hop, float = acc_float, sim = acc_sim, hw = hw, rec = rec, config = config,
    fl = fl }
  print(("hop_delay = %-5s  float %.3f   XyloSim %.3f"):format(tostring(hop), acc_float, acc_sim))
end
print(results[2].config)
assert(lp.plot.curve({ plain = curves.plain, hop_delay = curves.hop_delay }, tut.figure("training"),
  { xlabel = "epoch", ylabel = "float test accuracy", right = {} }))

-- The timing, made visible: the membrane potential of the correct output
-- for the first test sample, in float and on the chip, each scaled to its
-- own peak (the chip's are integers on another scale). Without the hop
-- delay the chip's response comes several steps after the float one (the
-- shortest path, through the first block's skip neurons, is 4 hops; the
-- longest 10); with it the two coincide.
local timing = lp.plot.figure { rows = 1, cols = 2, width = 1400, height = 500 }
for k, r in ipairs(results) do
  local c = y_test[1]
  local a = r.fl[1]:slice(2, c, c):reshape(-1)
  local b = r.hw[1]:astype("float32"):slice(2, c, c):reshape(-1)
  local both = lp.stack({ a / a:abs():max():clamp(1e-9, math.huge), b / b:abs():max():clamp(1e-9, math.huge) }, 2)
  timing:traces(k, both, { stagger = 0, labels = { "float", "XyloSim" }, xlabel = "step",
    title = ("trained with hop_delay = %s"):format(tostring(r.hop)), ylabel = "output Vmem / peak" })
end
assert(timing:save(tut.figure("timing")))

-- The chip's output membranes for one test sample of each class (the net
-- trained with the hop delay), and its hidden spikes for the first:
-- activity moves up through the blocks one step per layer. The small
-- penalty on the squared potentials in the training loss keeps them inside
-- the chip's 16-bit range: without it the wrong classes' potentials run
-- into the floor at −32768, where the chip clips them and float does not.
local r = results[2]
local figo = lp.plot.figure { rows = 2, cols = 2, width = 1200, height = 900 }
for c = 1, C do
  figo:traces(c, r.hw[c]:astype("float32"), { stagger = 0, labels = { "up", "down", "V" },
    title = ("XyloSim output Vmem, class %s"):format(({ "up", "down", "V" })[c]), xlabel = "step" })
end
figo:raster(4, r.rec.Spikes[1], { title = "XyloSim hidden spikes (class up)", xlabel = "step", ylabel = "neuron" })
assert(figo:save(tut.figure("xylosim")))

-- ## What to take away
--
-- Compare the two lines printed above. The net trained without the hop
-- delay is deployed as a different network from the one it was trained
-- as, and how much that costs depends on how much of the sequence the
-- 10-step lag cuts off (on Fashion-MNIST rows, where the image fills all
-- 28 steps, it cost 18 points: `examples/wavesense.lua`). Trained with
-- `hop_delay = true`, the float net *is* the network the chip runs (up to
-- the integer arithmetic), and float and XyloSim agree. Leave the input
-- some silent steps after its last event, so that the deepest path still
-- reaches the readout before the sequence ends.
