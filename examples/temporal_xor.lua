-- examples/temporal_xor.lua -- Rockpool's temporal XOR task with a
-- recurrent spiking network, trained by BPTT with lp.train.fit.
-- Task: every trial carries two input pulses, one after the other; each
-- pulse arrives on channel 1 or channel 2 (one bit each). After a delay the
-- network must answer the XOR of the two bits: class 2 when the pulses came
-- on different channels, class 1 when on the same one. The network must
-- hold the first bit in its recurrent state across the gap, then combine it
-- with the second: no feed-forward readout of the instantaneous input can
-- solve it. Answers are read only in the response window at the end.
-- Net: Linear(2 -> H) -> recurrent LIF(H) -> Linear(H -> 2, bias) -> ExpSyn(2)
-- -> the response window; loss = cross-entropy of the window's mean output;
-- accuracy = argmax of the window's summed output, on held-out trials.
-- Usage: limpet examples/temporal_xor.lua [--quick] [--train-taus]
-- --train-taus: the LIF's tau_mem and tau_syn train too (stepped in log
-- space by the optimiser, in their own parameter group, lr 1e-2).
local lp = require "limpet"
local nn = lp.nn

local quick = false
local train_taus = false
for _, a in ipairs(arg or {}) do
  if a == "--quick" then quick = true elseif a == "--train-taus" then train_taus = true end
end

local dt = 1e-3
local T = 80                      -- 80 ms trials
local width = 10                  -- pulse width (steps)
local on1, on2 = 5, 30            -- earliest onsets of pulse 1 and 2 (steps), jittered by 0..5
local resp = 55                   -- the answer is read from step 55 to T
local hidden = quick and 32 or 64
local n_train, n_test = quick and 256 or 1024, quick and 128 or 512
local epochs = quick and 12 or 30

lp.seed(2024)

-- Trials as (n, T, 2) float32 inputs and labels 1..2. The generator is
-- Lua's own, seeded, so the data are the same on every run.
local function make_trials(n, seed)
  local state = seed
  local function rand(k)               -- 0..k-1, a small LCG, enough for jitter and bits
    state = (state * 6364136223846793005 + 1442695040888963407)
    return ((state >> 33) % k)
  end
  local xs, ys = {}, {}
  for i = 1, n do
    local a, b = rand(2), rand(2)
    local x = {}
    for t = 1, T do x[t] = { 0, 0 } end
    local t1, t2 = on1 + rand(6), on2 + rand(6)
    for t = t1, t1 + width - 1 do x[t][a + 1] = 1 end
    for t = t2, t2 + width - 1 do x[t][b + 1] = 1 end
    xs[i], ys[i] = x, (a ~ b) + 1
  end
  local x = lp.tensor(xs, "float32")
  x = x + lp.randn(x.shape) * 0.05          -- input noise
  return x, lp.tensor(ys, "int64")
end

local x_train, y_train = make_trials(n_train, 1)
local x_test, y_test = make_trials(n_test, 2)

-- Scales: Rockpool's LIF adds its input to isyn unscaled, so a unit of
-- input current becomes about (tau_syn / dt) * (tau_mem / dt) = 1000 units
-- of membrane charge; weights start small to match (0.02 input, 0.05 / sqrt(H)
-- recurrent). The time constants are held fixed (nn.Constant): the long
-- synaptic one (50 ms) carries the first bit across the gap.
local window = nn.Instant(function(o) return o:slice(2, resp, T) end)
local net = nn.Sequential {
  nn.Linear({ 2, hidden }, { weight = lp.randn({ 2, hidden }) * 0.02 }),
  nn.LIF(hidden, { has_rec = true, tau_mem = train_taus and 20e-3 or nn.Constant(20e-3),
                   tau_syn = train_taus and 50e-3 or nn.Constant(50e-3), dt = dt,
                   max_spikes_per_dt = 1,
                   w_rec = lp.randn({ hidden, hidden }) * (0.05 / math.sqrt(hidden)) }),
  nn.Linear({ hidden, 2 }, { has_bias = true }),
  nn.ExpSyn(2, { tau = nn.Constant(10e-3), dt = dt }),
  window,
}
print(net)

local opt = lp.optim.Adam(net:parameters(), { lr = 3e-3 })
if train_taus then
  local taus = net:parameters("taus")
  local rest = {}
  for name, p in pairs(net:parameters()) do
    local r = {}
    for k, t in pairs(p) do if not (taus[name] and taus[name][k]) then r[k] = t end end
    if next(r) then rest[name] = r end
  end
  opt = lp.optim.Adam({ { params = rest }, { params = taus, lr = 1e-2 } }, { lr = 3e-3 })
end
local t0 = os.clock()
local hist = lp.train.fit {
  net = net,
  loss = function(out, y) return lp.loss.cross_entropy(out:mean(2), y) end,
  data = lp.train.TensorLoader(x_train, y_train, { batch_size = 64, shuffle = true, seed = 7 }),
  val_data = lp.train.TensorLoader(x_test, y_test, { batch_size = 128 }),
  epochs = epochs,
  optimizer = opt,
  schedule = lp.optim.schedule.cosine(opt, { T_max = epochs, eta_min = 1e-4 }),
  metrics = { "accuracy" },
  clip_grad_norm = 10,
  patience = 8,
}

-- Held-out accuracy, recomputed by hand from the response window.
local correct = 0
lp.no_grad(function()
  net:reset_state()
  local out = net(x_test)
  correct = lp.train.correct(out, y_test)
end)
local acc = correct / n_test
if train_taus then
  local lif = net["2_LIF"]
  print(("trained time constants: tau_mem %.1f..%.1f ms, tau_syn %.1f..%.1f ms (from 20 and 50 ms)")
    :format(lif.tau_mem:min():item() * 1e3, lif.tau_mem:max():item() * 1e3,
            lif.tau_syn:min():item() * 1e3, lif.tau_syn:max():item() * 1e3))
end
print(("temporal XOR: %d epochs, final train loss %.3g, held-out accuracy %.1f %% (%d / %d trials), cpu %.1f s")
  :format(hist.epochs, hist.train_loss[hist.epochs], 100 * acc, correct, n_test, os.clock() - t0))
if acc < 0.95 then
  io.stderr:write("temporal_xor: held-out accuracy below 95 %\n")
  os.exit(1)
end
