-- examples/tutorials/24_adversarial_training.lua -- Adversarial training against parameter mismatch
-- Analog and mixed-signal chips never hold exactly the parameters they were
-- given: every weight, time constant and threshold comes out a few percent
-- off, differently on every chip ("mismatch"). A network trained in
-- floating point can be surprisingly fragile to that. Büchel et al. (2022)
-- make networks robust by training against an adversary: during training,
-- a projected gradient ascent searches, within a band of ±ζ·|θ| around the
-- current parameters θ, for the perturbation that changes the network's
-- output most, and the loss asks the network to behave the same under that
-- worst case. This tutorial trains one network normally and one
-- adversarially on the same task and measures both on many simulated chips.
-- (The full experiment on the Fashion-MNIST temporal task is
-- `examples/adversarial.lua`.)
local lp = require "limpet"
local nn = lp.nn
local tut = require "limpet.tutorial"
local opt = tut.options(arg)
lp.seed(24)
math.randomseed(24)

-- ## The task: frozen noise
--
-- Four classes, each a fixed random spike pattern on 16 channels over
-- 40 steps ("frozen noise"). A sample is its class pattern with a tenth of
-- the spikes dropped and some background spikes added, so the network must
-- recognise a pattern in time, not just count spikes per channel.
local C, Nin, T = 4, 16, 40
local patterns = {}
for c = 1, C do patterns[c] = lp.rand(T, Nin):lt(0.08):astype("float32") end
local function dataset(n)
  local xs, ys = {}, {}
  for i = 1, n do
    local c = (i - 1) % C + 1
    local keep = lp.rand(T, Nin):ge(0.1):astype("float32")
    local noise = lp.rand(T, Nin):lt(0.02):astype("float32")
    xs[i] = (patterns[c] * keep + noise):clamp(0, 1):reshape(1, T, Nin)
    ys[i] = c
  end
  return lp.cat(xs, 1), lp.tensor(ys, "int64")
end
local x_train, y_train = dataset(opt.quick and 256 or 1024)
local x_test, y_test = dataset(opt.quick and 256 or 512)
local fig = lp.plot.figure { rows = 2, cols = 2, width = 1100, height = 800 }
for c = 1, C do fig:raster(c, x_test[c], { title = ("class %d"):format(c), xlabel = "step", ylabel = "channel" }) end
assert(fig:save(tut.figure("patterns")))

-- ## The network
--
-- Linear → LIF (32 neurons) → Linear → LIF read out on its membrane
-- potential: the class is the output neuron with the highest mean membrane
-- potential. `make_net` always starts from the same initial weights, so the
-- two networks differ only in how they were trained.
local H = 32
local function make_net()
  lp.seed(240)
  return nn.Sequential {
    nn.Linear({ Nin, H }),
    nn.LIF(H, { tau_mem = nn.Constant(20e-3), tau_syn = nn.Constant(10e-3), max_spikes_per_dt = 1 }),
    nn.Linear({ H, C }),
    nn.LIF(C, { tau_mem = nn.Constant(20e-3), tau_syn = nn.Constant(10e-3), threshold = nn.Constant(1e6) }),
  }
end
-- A module that returns the output membrane potentials (B, T, C), so
-- that the attack and the loss see them. The potentials are scaled by
-- 0.1 and the task loss keeps them small (a penalty on their square):
-- the robustness term compares outputs by their squared difference, and
-- outputs of arbitrary size would make it arbitrarily large.
local Readout = nn.Module:extend("Readout")
function Readout:init(net) nn.Module.init(self, net.shape); self:submodule("net", net) end
function Readout:evolve(x, record)
  local _, st, rec = self.net(x, true)
  return rec["4_LIF"].vmem * 0.1, st, record and rec or {}
end
local function task_loss(out, y) return lp.loss.cross_entropy(out:mean(2), y) + out:pow(2):mean() * 0.01 end
local function kl_loss(out, ref)              -- KL(p_ref || p_out) over the classes, batch mean
  local lr_, lo = lp.loss.log_softmax(ref:mean(2), 2), lp.loss.log_softmax(out:mean(2), 2)
  return (lp.exp(lr_) * (lr_ - lo)):sum(2):mean()
end

-- ## Two ways to train
--
-- Normal training minimises the task loss. Adversarial training calls
-- `lp.train.adversarial_loss`, which returns
--
--     task loss(net_θ(x), y) + β · mismatch loss(net_θ*(x), net_θ(x))
--
-- where θ* comes from `lp.train.pga_attack`: starting near θ, each of
-- `attack_steps` steps moves every parameter by ζ·|θ|/steps in the
-- direction that increases the mismatch loss, and clips it to θ ± ζ·|θ|.
-- The mismatch loss here is the one of Büchel et al.: the Kullback-Leibler
-- divergence between the class probabilities (softmax of the time-averaged
-- outputs) of the clean and the attacked network (the default is the mean
-- squared difference of the raw outputs, which a network can also satisfy
-- by making all its outputs small). β (`beta_robustness`)
-- weighs robustness against the task; ζ (`mismatch_level`) is the size of
-- the band the adversary searches. Both runs use the same data order,
-- optimiser and number of epochs.
local BETA, ZETA = 0.5, 0.2
local epochs = opt.quick and 15 or 40
local function train(adversarial)
  local m = Readout(make_net())
  local optimizer = lp.optim.Adam(m:parameters("weights"), { lr = 1e-2 })
  local loader = lp.train.TensorLoader(x_train, y_train, { batch_size = 64, shuffle = true, seed = 1 })
  local hist = {}
  for e = 1, epochs do
    local sum, nb = 0, 0
    for x, y in loader:iter() do
      m:reset_state()
      local loss
      if adversarial then
        loss = lp.train.adversarial_loss(m, x, y, { task_loss = task_loss, mismatch_loss = kl_loss,
          beta_robustness = BETA, mismatch_level = ZETA, attack_steps = 5, families = { "weights" } })
      else
        loss = task_loss(m(x), y)
      end
      optimizer:zero_grad(); loss:backward(); optimizer:step()
      sum, nb = sum + loss:item(), nb + 1
    end
    hist[e] = sum / nb
  end
  return m, hist
end
local t0 = lp.clock()
local normal, hist_n = train(false)
local robust, hist_r = train(true)
print(("trained both networks for %d epochs in %.1f s"):format(epochs, lp.clock() - t0))
assert(lp.plot.curve({ normal = hist_n, adversarial = hist_r }, tut.figure("loss"),
  { xlabel = "epoch", ylabel = "training loss" }))

-- ## What the adversary finds
--
-- `pga_attack` can be called on its own: it returns the attacked
-- parameters (nested like `net:parameters()`) and the mismatch loss there.
-- For each trained network and several band widths ζ we compare the
-- output change the attack achieves; the adversarially trained network
-- should move less.
local function accuracy(m, x, y)
  m:reset_state()
  local v = lp.no_grad(function() return m(x) end)
  return lp.train.accuracy(v, y)
end
local xa = x_test:slice(1, 1, 64)
print("mismatch loss (KL divergence) reached by a 10-step attack:")
for _, zeta in ipairs { 0.05, 0.1, 0.2 } do
  local _, info_n = lp.train.pga_attack(normal, xa, { mismatch_level = zeta, attack_steps = 10, mismatch_loss = kl_loss,
    families = { "weights" } })
  local _, info_r = lp.train.pga_attack(robust, xa, { mismatch_level = zeta, attack_steps = 10, mismatch_loss = kl_loss,
    families = { "weights" } })
  print(("  zeta %.2f: normal %.4f, adversarial %.4f"):format(zeta, info_n.loss, info_r.loss))
end

-- ## Simulated chips
--
-- A simulated chip replaces every weight θ by θ·(1 + σ·N(0, 1)), a fresh
-- seeded draw per chip (`lp.transform.mismatch` does this as a transform;
-- here we write it out). We test each network on the same chips at several
-- mismatch levels σ.
local draws = opt.quick and 8 or 30
local function on_chips(m, sigma)
  local params = {}
  local function walk(t) for _, v in pairs(t) do if lp.is_tensor(v) then params[#params + 1] = v else walk(v) end end end
  walk(m:parameters("weights"))
  local saved = {}
  for i, p in ipairs(params) do saved[i] = p:detach():clone() end
  local accs = {}
  for d = 1, draws do
    lp.seed(1000 + d)
    lp.no_grad(function()
      for i, p in ipairs(params) do p:copy_(saved[i] * (lp.randn(p.shape) * sigma + 1)) end
    end)
    accs[d] = accuracy(m, x_test, y_test)
  end
  lp.no_grad(function() for i, p in ipairs(params) do p:copy_(saved[i]) end end)
  local mean, var = 0, 0
  for _, a in ipairs(accs) do mean = mean + a end
  mean = mean / #accs
  for _, a in ipairs(accs) do var = var + (a - mean) ^ 2 end
  return mean, math.sqrt(var / math.max(1, #accs - 1)), accs
end
local sigmas = { 0, 0.1, 0.2, 0.3, 0.4 }
local curves = lp.zeros(#sigmas, 2)
local at = {}
print(("test accuracy on %d simulated chips per level (mean ± sd):"):format(draws))
for i, s in ipairs(sigmas) do
  local mn, sn, an = on_chips(normal, s)
  local mr, sr, ar = on_chips(robust, s)
  curves:set(i, 1, mn)
  curves:set(i, 2, mr)
  if s == 0.3 then at = { an, ar } end
  print(("  sigma %.1f: normal %.3f ± %.3f   adversarial %.3f ± %.3f"):format(s, mn, sn, mr, sr))
end
local fig2 = lp.plot.figure { rows = 1, cols = 3, width = 1500, height = 560 }
fig2:traces(1, curves, { dt = 0.1, stagger = 0, labels = { "normal", "adversarial" },
  title = "mean accuracy vs mismatch", xlabel = "sigma", ylabel = "test accuracy" })
fig2:histogram(2, at[1], { bins = 10, range = { 0, 1 }, title = "normal, sigma 0.3", xlabel = "test accuracy",
  ylabel = "chips" })
fig2:histogram(3, at[2], { bins = 10, range = { 0, 1 }, title = "adversarial, sigma 0.3", xlabel = "test accuracy",
  ylabel = "chips" })
assert(fig2:save(tut.figure("mismatch")))

-- ## What to take away
--
-- Without mismatch both networks solve the task (the adversarially trained
-- one may give up a little accuracy there; its training loss also carries
-- the robustness term, so it stays higher). As σ grows, the normally
-- trained network's accuracy falls faster and varies more from chip to
-- chip, and the attack moves its output much further. β and ζ trade the two: a larger ζ
-- prepares for larger mismatch, a larger β insists more on robustness.
-- `noisy_forward_std` adds Gaussian parameter noise to the task term as
-- well (Rockpool's option of the same name).
