-- examples/tutorials/09_rate_rnn.lua -- Gradient-descent training of a rate-based recurrent network
-- Before spikes: a recurrent network of rate neurons (`nn.Rate`), trained
-- by back-propagation through time to turn a brief input pulse into a
-- pair of oscillations. The loop is written by hand here — `zero_grad`,
-- `backward`, `step` — to show what `lp.train.fit` does for you.
local lp = require "limpet"
local nn = lp.nn
local tut = require "limpet.tutorial"
local opt = tut.options(arg)
lp.seed(9)

-- ## Rate neurons
--
-- `nn.Rate(N, {tau, bias, activation, has_rec})` integrates its input with
-- time constant `tau`: `tau dx/dt = -x + input + W_rec H(x) + bias`, and
-- outputs `H(x)` (`relu` by default, or `tanh`, `sigmoid`).
--
-- ## The task
--
-- One input channel carries a 10 ms pulse at the start of the trial; the
-- two outputs must then draw a sine and a cosine of 5 Hz for the rest of
-- the trial. With no further input, the oscillation must come from the
-- recurrent weights.
local dt = 1e-3
local T = opt.quick and 200 or 400
local H = opt.quick and 48 or 96
local x = lp.zeros(1, T, 1)
x:slice(2, 1, 10):fill_(1)
local tl = {}
for t = 1, T do
  local s = (t - 1) * dt
  tl[t] = { math.sin(2 * math.pi * 5 * s), math.cos(2 * math.pi * 5 * s) * math.min(1, t / 20) }
end
local target = lp.tensor({ tl })

local net = nn.Sequential {
  nn.Linear({ 1, H }, { weight = lp.randn(1, H) * 0.5 }),
  nn.Rate(H, { tau = nn.Constant(20e-3), activation = "tanh", has_rec = true,
               w_rec = lp.randn(H, H) * (1.2 / math.sqrt(H)) }),
  nn.Linear({ H, 2 }, { weight = lp.randn(H, 2) * 0.1 }),
}
print(net)

-- ## The loop
--
-- Each iteration: reset the state, run the trial, take the mean squared
-- error, back-propagate through all T steps and let Adam update every
-- parameter (`net:parameters()` is the table Adam works on; gradients
-- land in each tensor's `.grad`).
local optimizer = lp.optim.Adam(net:parameters(), { lr = 3e-3 })
local iters = opt.quick and 150 or 600
local losses = {}
for i = 1, iters do
  net:reset_state()
  optimizer:zero_grad()
  local out = net(x)
  local loss = lp.loss.mse(out, target)
  loss:backward()
  optimizer:step()
  losses[i] = loss:item()
  if i == 1 or i % (iters // 5) == 0 then print(("iteration %4d  mse %.4f"):format(i, losses[i])) end
end
assert(lp.plot.curve({ mse = losses }, tut.figure("loss"), { xlabel = "iteration", ylabel = "mean squared error" }))

-- ## The trained network
--
-- Output and target, and a few hidden units: after the pulse, the
-- recurrent dynamics sustain the oscillation on their own. (`nn.Rate`
-- records nothing of its own yet; `Sequential` records every module's
-- output under `<name>_output`, which is what is plotted here.)
net:reset_state()
local out, _, rec = lp.no_grad(function() return net(x, true) end)
local fig = lp.plot.figure { rows = 2, cols = 1 }
fig:traces(1, lp.cat({ out[1], target[1] }, 2), { dt = dt, stagger = 2.5,
  labels = { "out 1", "out 2", "target 1", "target 2" }, title = "outputs and targets" })
fig:traces(2, rec["2_Rate_output"][1]:slice(2, 1, 6), { dt = dt, title = "six hidden units (output H(x))", xlabel = "time (s)" })
assert(fig:save(tut.figure("outputs")))
print(("final mse %.4f (the targets' variance is about 0.5)"):format(lp.loss.mse(out, target):item()))
