-- examples/tutorials/23_dynapse2_training.lua -- Training to deploy to Dynap-SE2
-- A network that works in simulation must still work on the chip, and the
-- chip differs from the simulation in two ways: weights are quantised to
-- a few base currents chosen by 4 bits, and every analog circuit is off by
-- some per cent (mismatch), differently on every chip. This tutorial
-- trains the same network twice — plainly, and with mismatch-aware
-- training — deploys both, and tests both on many simulated fabricated
-- chips.
local lp = require "limpet"
local nn = lp.nn
local tut = require "limpet.tutorial"
local opt = tut.options(arg)
local d2 = lp.dynapse2
lp.seed(23)

-- ## The task
--
-- Three classes of frozen noise (fixed random rasters, 40 channels,
-- 300 ms, events at 50 Hz per channel); three recurrently connected
-- DynapSim neurons; neuron k should fire most for raster k. A sample is
-- right when its neuron is the busiest.
local NS, T, NCH, dt = 3, 300, 40, 1e-3
local x = lp.bernoulli(50 * dt, NS, T, NCH)
local target = lp.eye(NS):astype("float32"):reshape({ NS, 1, NS }):expand({ NS, T, NS })
print(("frozen noise: %d samples, %d channels, %d steps, %d input events"):format(NS, NCH, T, x:sum():item()))

local function score(net)   -- -> samples right, mean ratio of the right neuron's spikes to the busiest other's
  net:reset_state()
  local c = lp.no_grad(function() return net(x:astype(net.dtype or "float32")) end):sum(2):totable()
  local right, ratio = 0, 0
  for s = 1, NS do
    local other = 0
    for k = 1, NS do if k ~= s then other = math.max(other, c[s][k]) end end
    if c[s][s] > other then right = right + 1 end
    ratio = ratio + c[s][s] / math.max(other, 1)
  end
  return right, ratio / NS
end

-- ## Mismatch-aware training
--
-- `d2.mismatch_transform(net, {percent = p, seed = s})` wraps a network:
-- each `mm:run(f)` draws a fresh mismatched copy of the weights (every
-- weight times 1 + σ·ε, ε standard normal, σ from `percent`), runs `f`
-- with them, and routes the gradients back to the original weights. The
-- optimiser thus sees the loss averaged over many possible chips, and
-- settles where small deviations do not matter. Plain training is the
-- same loop without the transform.
local function train(mismatch_aware)
  lp.seed(5)
  local net = nn.Sequential { nn.Linear({ NCH, NS }), nn.DynapSim(NS, { has_rec = true }) }
  local mm = mismatch_aware and d2.mismatch_transform(net, { percent = 0.3, seed = 1 }) or nil
  local adam = lp.optim.Adam(net:parameters(), { lr = 0.1, eps = 1e-30 })
  local steps, losses = opt.quick and 300 or 1500, {}
  for step = 1, steps do
    net:reset_state()
    local function f() return lp.loss.mse(net(x), target) end
    local loss = mm and mm:run(f) or f()
    adam:zero_grad()
    loss:backward()
    adam:step()
    losses[step] = loss:item()
  end
  return net, losses
end
local plain, loss_plain = train(false)
local aware, loss_aware = train(true)
for _, c in ipairs { { "plain", plain }, { "mismatch-aware", aware } } do
  local right, ratio = score(c[2])
  print(("%-15s float network: %d/%d right, mean spike ratio %.2f"):format(c[1], right, NS, ratio))
end

-- ## Deploying both
--
-- Each network goes through the mapper, quantisation and configuration;
-- `from_config` gives the network the chip runs.
local function deploy(net)
  local qspec = d2.autoencoder_quantization(d2.mapper(net:as_graph()), { num_epoch = opt.quick and 3000 or 100000 })
  return d2.config_from_specification(qspec)
end
local configs = { plain = deploy(plain), aware = deploy(aware) }
local label = { plain = "plain", aware = "mismatch-aware" }
for _, k in ipairs { "plain", "aware" } do
  local right, ratio = score(d2.from_config(configs[k]))
  print(("%-15s deployed:       %d/%d right, mean spike ratio %.2f"):format(label[k], right, NS, ratio))
end

-- ## Many fabricated chips
--
-- `from_config(config, {percent_mismatch = p, seed = s})` draws the
-- frozen mismatch of one chip: every current of every neuron and every
-- weight off by a random few per cent, fixed for that chip. We build
-- many such chips for each configuration and count how often all samples
-- are still answered right.
local NCHIP = opt.quick and 12 or 50
local ratios = {}
for j, k in ipairs { "plain", "aware" } do
  local all_right, sum = 0, 0
  for chip = 1, NCHIP do
    local right, ratio = score(d2.from_config(configs[k], { percent_mismatch = 0.2, seed = chip }))
    if right == NS then all_right = all_right + 1 end
    sum = sum + ratio
    ratios[chip] = ratios[chip] or {}
    ratios[chip][j] = ratio
  end
  print(("%-15s on %d chips with 20 %% mismatch: all samples right on %d, mean spike ratio %.2f"):format(label[k], NCHIP,
    all_right, sum / NCHIP))
end

-- Read the numbers as they come: on a task this small, both networks
-- survive most chips. In our runs the mismatch-aware network kept the
-- larger margin (mean spike ratio) on most chips, but was not right on
-- more of them; mismatch-aware training shifts the odds, it guarantees
-- nothing, and the honest test of a deployment is this one: many
-- simulated chips, counted. Below, the spike ratio of every chip (above 1:
-- the right neuron won) and the two training losses.
local fig = lp.plot.figure { rows = 2, cols = 1, width = 900, height = 800 }
fig:traces(1, lp.tensor(ratios, "float64"), { stagger = 0, labels = { "plain", "mismatch-aware" },
  title = "mean spike ratio per fabricated chip (20 % mismatch)", xlabel = "chip" })
fig:traces(2, lp.tensor({ loss_plain, loss_aware }, "float64"):transpose(1, 2):contiguous(), { stagger = 0,
  labels = { "plain", "mismatch-aware" }, title = "training loss", xlabel = "step" })
assert(fig:save(tut.figure("chips")))

-- ## More knobs
--
-- * The neurons' currents can be trained too: give `nn.DynapSim` a value
--   wrapped in `nn.Parameter(...)` (e.g. `Itau_mem = nn.Parameter(5e-12)`)
--   and the gradient reaches it through the conversions of the model.
-- * `surrogate = "per_threshold"` scales DynapSim's surrogate gradient by
--   the threshold current, which suits plain SGD better than the default
--   per-ampere one (kept for Rockpool's Adam recipes).
-- * `autoencoder_quantization` takes `n_bits` (fewer base currents),
--   `num_epoch`, `optimizer` and `step_size`; its report gives the loss per
--   core, a measure of how far the deployed weights are from the trained.
