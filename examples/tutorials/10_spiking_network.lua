-- examples/tutorials/10_spiking_network.lua -- Training a spiking network
-- Spikes are not differentiable; limpet trains through them with a
-- surrogate gradient (the derivative of a smooth stand-in for the
-- threshold), inside one fused C operation per LIF layer that runs all
-- time steps forward and back. This tutorial trains a feed-forward spiking
-- network to turn a frozen random spike pattern into a chirp, a signal
-- whose frequency rises through the trial.
local lp = require "limpet"
local nn = lp.nn
local tut = require "limpet.tutorial"
local opt = tut.options(arg)
lp.seed(10)

-- ## Input and target
--
-- 64 channels of Poisson spikes at 20 Hz, frozen: the network sees the
-- same pattern every iteration and must learn to read time out of it.
local dt = 1e-3
local T = opt.quick and 250 or 1000
local Nin, H = 64, opt.quick and 64 or 128
local input = lp.bernoulli(20 * dt, 1, T, Nin)
local f0, f1, D = 2, opt.quick and 6 or 10, T * dt
local tl = {}
for k = 1, T do
  local t = (k - 1) * dt
  tl[k] = { math.sin(2 * math.pi * (f0 * t + (f1 - f0) * t * t / (2 * D))) }
end
local target = lp.tensor({ tl })
assert(lp.plot.raster(input[1], tut.figure("input"), { dt = dt, title = "frozen input spikes", xlabel = "time (s)",
  ylabel = "channel" }))

-- ## The network
--
-- Linear -> LIF -> Linear -> ExpSyn: the spiking layer's output spikes are
-- weighted and low-pass filtered into the output current. Time constants
-- are fixed with `nn.Constant`; the weights, biases and thresholds train.
-- LIF input is added to the synaptic current unscaled (as in Rockpool),
-- so input weights start small.
local net = nn.Sequential {
  nn.Linear({ Nin, H }, { weight = lp.randn(Nin, H) * 0.01 }),
  nn.LIF(H, { tau_mem = nn.Constant(20e-3), tau_syn = nn.Constant(10e-3), dt = dt }),
  nn.Linear({ H, 1 }, { weight = lp.randn(H, 1) * 0.05 }),
  nn.ExpSyn(1, { tau = nn.Constant(10e-3), dt = dt }),
}
print(net)

-- ## Surrogate-gradient training
--
-- The LIF's spike function is a step forward; backward it uses the
-- surrogate named by `spike_generation_fn`: Rockpool's default `StepPWL`
-- (gradient 1/threshold once `vmem` is within `learning_window` of the
-- threshold, and above it), or `PeriodicExponential`, `FastSigmoid`,
-- `ATan`. `lp.train.fit` runs the loop; a batch of one trial makes each
-- epoch one iteration.
local iters = opt.quick and 60 or 400
local optimizer = lp.optim.Adam(net:parameters(), { lr = 1e-2 })
local var = target:var():item()
local hist = lp.train.fit {
  net = net,
  loss = function(out, y) return lp.loss.mse(out, y) end,
  data = lp.train.TensorLoader(input, target, { batch_size = 1 }),
  epochs = iters,
  optimizer = optimizer,
  schedule = lp.optim.schedule.cosine(optimizer, { T_max = iters, eta_min = 1e-3 }),
  progress = false,
  on_epoch = function(e, s)
    if e == 1 or e % (iters // 5) == 0 then
      print(("iteration %4d  mse %.4f  (%.0f %% of the target's variance)"):format(e, s.train_loss, 100 * s.train_loss / var))
    end
  end,
}

-- ## Result
--
-- The output against the target, and what the hidden layer does:
net:reset_state()
local out, _, rec = lp.no_grad(function() return net(input, true) end)
local fig = lp.plot.figure { rows = 2, cols = 1 }
fig:traces(1, lp.cat({ out[1], target[1] }, 2), { dt = dt, labels = { "output", "target" },
  title = "output current and target" })
fig:raster(2, rec["2_LIF"].spikes[1], { dt = dt, title = "hidden spikes", xlabel = "time (s)", ylabel = "neuron" })
assert(fig:save(tut.figure("result")))
print(("hidden spikes per neuron per second: %.1f"):format(rec["2_LIF"].spikes:sum():item() / (H * T * dt)))
assert(lp.plot.curve({ mse = hist.train_loss }, tut.figure("loss"), { xlabel = "iteration", ylabel = "mse" }))
