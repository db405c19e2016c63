-- examples/spiking_regression.lua -- Rockpool's "training a spiking network"
-- tutorial (torch-training-spiking): a feed-forward LIF network learns to
-- turn a frozen random spike pattern into a chirp.
-- Input: Nin channels of Poisson spikes (frozen: the same pattern every
-- iteration), T steps of dt = 1 ms. Target: a chirp sin(2 pi (f0 t + (f1 - f0)
-- t^2 / (2 D))) rising from f0 to f1 over the trial. Net: Linear(Nin -> H) ->
-- LIF(H) -> Linear(H -> 1) -> ExpSyn(1) (the readout current); loss: MSE.
-- Success: MSE below 10 % of the target's variance.
-- Usage: limpet examples/spiking_regression.lua [--quick]
local lp = require "limpet"
local nn = lp.nn

local quick = false
for _, a in ipairs(arg or {}) do if a == "--quick" then quick = true end end

local dt = 1e-3
local T = quick and 300 or 1000       -- steps
local Nin, H = 100, quick and 64 or 128
local iters = quick and 60 or 400
local rate = 20                        -- Hz per input channel
local f0, f1 = 2, quick and 6 or 10    -- chirp from f0 to f1 Hz

lp.seed(42)

local x = lp.rand({ 1, T, Nin }):lt(rate * dt):astype("float32")     -- frozen Poisson input
local D = T * dt
local tgt = {}
for k = 1, T do
  local t = (k - 1) * dt
  tgt[k] = { math.sin(2 * math.pi * (f0 * t + (f1 - f0) * t * t / (2 * D))) }
end
local y = lp.tensor({ tgt }, "float32")                              -- (1, T, 1)
local var = y:var():item()

-- Scales: Rockpool's LIF adds input to isyn unscaled (gain ~ tau_syn/dt *
-- tau_mem/dt), so the input weights start small.
local net = nn.Sequential {
  nn.Linear({ Nin, H }, { weight = lp.randn({ Nin, H }) * 0.01 }),
  nn.LIF(H, { tau_mem = nn.Constant(20e-3), tau_syn = nn.Constant(10e-3), dt = dt }),
  nn.Linear({ H, 1 }, { weight = lp.randn({ H, 1 }) * 0.05 }),
  nn.ExpSyn(1, { tau = nn.Constant(10e-3), dt = dt }),
}
print(net)

local opt = lp.optim.Adam(net:parameters(), { lr = 1e-2 })
local t0 = os.clock()
local hist = lp.train.fit {
  net = net,
  loss = function(out, target) return lp.loss.mse(out, target) end,
  data = lp.train.TensorLoader(x, y, { batch_size = 1 }),   -- one trial: an epoch is one iteration
  epochs = iters,
  optimizer = opt,
  schedule = lp.optim.schedule.cosine(opt, { T_max = iters, eta_min = 1e-3 }),
  progress = false,
  on_epoch = function(e, s)
    if e == 1 or e % (iters // 10) == 0 then
      print(("iteration %4d  mse %.5f  (%.1f %% of the target's variance)"):format(e, s.train_loss, 100 * s.train_loss / var))
    end
  end,
}

local mse
lp.no_grad(function()
  net:reset_state()
  mse = lp.loss.mse(net(x), y):item()
end)
print(("spiking regression: %d iterations, T = %d, final mse %.5f = %.1f %% of the target variance %.3f, cpu %.1f s")
  :format(hist.epochs, T, mse, 100 * mse / var, var, os.clock() - t0))
if mse >= 0.1 * var then
  io.stderr:write("spiking_regression: mse not below 10 % of the target's variance\n")
  os.exit(1)
end
