-- examples/adversarial.lua -- adversarial training against parameter
-- mismatch (Büchel et al. 2022) on the 8-class temporal Fashion-MNIST task
-- (examples/lib/fmnist_rows.lua), with xylo_qat.lua's network.
-- Usage: limpet examples/adversarial.lua [--quick] [--hidden H] [--epochs E]
--          [--draws N] [--lr LR] [--root DIR] [--train N] [--zeta Z] [--beta B]
-- The same network is trained twice from the same initial values: normally
-- (cross-entropy) and adversarially (lp.train.adversarial_loss: task loss +
-- beta · robustness loss against a projected-gradient attack on the
-- parameters within ±zeta·|theta|). Mismatch then replaces every parameter
-- theta by theta·(1 + sigma·N(0, 1)) (lp.transform.mismatch, seeded draws)
-- for sigma = 0.1, 0.2, 0.3; the test accuracy's mean and spread over the
-- draws are printed for both networks, ending with
--   result: normal 0.xxx 0.xxx adversarial 0.xxx 0.xxx
-- (mean accuracy without mismatch and at sigma = 0.2).
package.path = (arg and arg[0] and arg[0]:match("^(.*)/[^/]*$") or "examples") .. "/lib/?.lua;" .. package.path
local lp = require "limpet"
local nn, T = lp.nn, lp.transform
local task = require "fmnist_rows"

local opts = { quick = false }
do
  local a, i = arg or {}, 1
  while i <= #a do
    local k = a[i]
    if k == "--quick" then opts.quick = true
    elseif (k == "--hidden" or k == "--epochs" or k == "--draws" or k == "--lr" or k == "--root" or k == "--train" or k == "--zeta" or k == "--beta")
            and a[i + 1] then
      opts[k:sub(3)] = a[i + 1]; i = i + 1
    else io.stderr:write("adversarial: unknown argument '", k, "'\n"); os.exit(2) end
    i = i + 1
  end
end
local quick = opts.quick
local H = math.tointeger(tonumber(opts.hidden) or 64)
local epochs = math.tointeger(tonumber(opts.epochs) or (quick and 1 or 6))
local draws = math.tointeger(tonumber(opts.draws) or (quick and 2 or 20))
local lr = tonumber(opts.lr) or 1e-3
if not (H and epochs and draws) then io.stderr:write("adversarial: --hidden, --epochs, --draws take integers\n"); os.exit(2) end
local ZETA = tonumber(opts.zeta) or 0.1          -- the attack's reach, ±zeta·|theta|
local BETA = tonumber(opts.beta) or 0.1          -- weight of the robustness loss
local t_start = lp.clock()

local x_train, y_train = task.load("train", tonumber(opts.train) or (quick and 2000 or nil), opts.root)
if not x_train then io.stderr:write("adversarial: ", tostring(y_train), "\n"); os.exit(1) end
local x_test, y_test = task.load("test", quick and 500 or nil, opts.root)
print(("task: %d training and %d test sequences"):format(x_train.shape[1], x_test.shape[1]))

-- xylo_qat.lua's network; the readout is the output membrane (scaled as
-- xylo_qat.lua's logits)
local OUT = "4_LIFBitshift"
local Readout = nn.Module:extend("VmemReadout")
function Readout:init(net) nn.Module.init(self, net.shape); self:submodule("net", net) end
function Readout:evolve(x, record)
  local _, st, rec = self.net(x, { "vmem" })
  return rec[OUT].vmem * 0.05, st, record and rec or {}
end
local function make_net()
  lp.seed(11)
  local net = nn.Sequential {
    nn.Linear({ 16, H }),
    nn.LIFBitshift(H, { tau_mem = 8e-3, tau_syn = 4e-3, threshold = 1, has_rec = true }),
    nn.Linear({ H, 8 }),
    nn.LIFBitshift(8, { tau_mem = 16e-3, tau_syn = 4e-3, threshold = 4, max_spikes_per_dt = 1 }),
  }
  lp.no_grad(function()
    net["1_Linear"].weight:mul_(0.05)
    net["2_LIFBitshift"].w_rec:mul_(0.05)
  end)
  return Readout(net)
end

local function task_loss(out, y) return lp.loss.cross_entropy(out:mean(2), y) end
local function train(adversarial)
  local m = make_net()
  local loader = lp.train.TensorLoader(x_train, y_train, { batch_size = 64, shuffle = true, seed = 1 })
  -- as xylo_qat.lua: the recurrent weights at a tenth of the rate
  local W = m:parameters("weights").net
  local opt = lp.optim.Adam({ { params = { ["1_Linear"] = W["1_Linear"], ["3_Linear"] = W["3_Linear"] } },
                              { params = W["2_LIFBitshift"], lr = lr / 10 } }, { lr = lr })
  for e = 1, epochs do
    local t0, sum, nb = lp.clock(), 0, 0
    for x, y in loader:iter() do
      m:reset_state()
      local l
      if adversarial then
        l = lp.train.adversarial_loss(m, x, y, { task_loss = task_loss, beta_robustness = BETA,
          mismatch_level = ZETA, attack_steps = 3, families = { "weights" } })
      else
        l = task_loss(m(x), y)
      end
      opt:zero_grad(); l:backward()
      lp.optim.clip_grad_norm(opt, 0.5)
      opt:step()
      sum, nb = sum + l:item(), nb + 1
    end
    print(("%s epoch %d/%d  loss %.4f  (%.1f s)"):format(adversarial and "adversarial" or "normal", e, epochs,
      sum / nb, lp.clock() - t0))
  end
  return m
end

local function accuracy(m) return task.evaluate(function(x) m:reset_state(); return lp.no_grad(function() return m(x) end) end, x_test, y_test) end

-- mean and standard deviation of the accuracy over seeded mismatch draws
local function under_mismatch(m, sigma)
  local accs = {}
  for d = 1, draws do
    local tnet = T.make_param_T_network(m, T.make_param_T_config(m, T.mismatch { sigma = sigma * 100, seed = 1000 * d }))
    T.apply_transform(tnet)                        -- one draw, burnt in
    accs[d] = accuracy(m)
    -- back to the trained values
    lp.no_grad(function() for _, e in ipairs(m._saved) do e.t:copy_(e.v) end end)
  end
  local mean, var = 0, 0
  for _, a in ipairs(accs) do mean = mean + a end
  mean = mean / #accs
  for _, a in ipairs(accs) do var = var + (a - mean) ^ 2 end
  return mean, math.sqrt(var / math.max(1, #accs - 1))
end

local results = {}
for _, adv in ipairs { false, true } do
  local m = train(adv)
  -- keep the trained values to restore after each burnt-in draw
  local saved = {}
  local function walk(t)
    for _, v in pairs(t) do
      if lp.is_tensor(v) then saved[#saved + 1] = { t = v, v = v:detach():clone() } else walk(v) end
    end
  end
  walk(m:parameters())
  rawset(m, "_saved", saved)
  local name = adv and "adversarial" or "normal"
  local a0 = accuracy(m)
  results[name] = { a0 }
  print(("%s: accuracy without mismatch %.3f"):format(name, a0))
  for _, sigma in ipairs { 0.1, 0.2, 0.3 } do
    local mean, sd = under_mismatch(m, sigma)
    print(("%s: sigma %.1f  accuracy %.3f ± %.3f over %d draws"):format(name, sigma, mean, sd, draws))
    if sigma == 0.2 then results[name][2] = mean end
  end
end
local ln = results.normal[1] - results.normal[2]
local la = results.adversarial[1] - results.adversarial[2]
print(("accuracy lost at sigma 0.2: normal %.3f, adversarial %.3f"):format(ln, la))
print(("wall time %.1f s"):format(lp.clock() - t_start))
print(("result: normal %.3f %.3f adversarial %.3f %.3f"):format(results.normal[1], results.normal[2],
  results.adversarial[1], results.adversarial[2]))
