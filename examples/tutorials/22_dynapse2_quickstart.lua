-- examples/tutorials/22_dynapse2_quickstart.lua -- Dynap-SE2 quick start
-- From a task to a Dynap-SE2 configuration and back to a simulation of
-- what the chip will run, in six steps: build and train a DynapSim
-- network, export its graph, map it, quantise its weights, build, save and
-- reload the configuration, and simulate the configuration — as built and
-- with a fabricated chip's mismatch.
local lp = require "limpet"
local nn = lp.nn
local tut = require "limpet.tutorial"
local opt = tut.options(arg)
local d2 = lp.dynapse2
lp.seed(22)

-- ## The task: frozen noise
--
-- Two fixed random rasters ("frozen noise") of 60 channels, 500 ms each,
-- with events at 50 Hz per channel: one per class. A population of two
-- recurrently connected neurons must answer raster k by firing mostly with
-- neuron k. We measure the answer by the firing-rate ratio (FRR): spikes
-- of the busier neuron over spikes of the quieter one (a silent neuron
-- counts as one spike), and whether the right neuron is the busier one.
local NS, T, NCH, dt = 2, 500, 60, 1e-3
local x = lp.bernoulli(50 * dt, NS, T, NCH)
print(("frozen noise: %d samples, %d channels, %d steps, %d input events"):format(NS, NCH, T, x:sum():item()))

local function frr(net)
  net:reset_state()
  local counts = lp.no_grad(function() return net(x:astype(net.dtype or "float32")) end):sum(2)
  local r, right = {}, 0
  for s = 1, NS do
    local a, b = counts:get(s, 1), counts:get(s, 2)
    r[s] = math.max(a, b) / math.max(math.min(a, b), 1)
    if (s == 1 and a > b) or (s == 2 and b > a) then right = right + 1 end
  end
  return r, counts, right
end
local function report(name, net)
  local r, c, right = frr(net)
  print(("%-26s FRR %6.2f %6.2f   spikes [%d %d] [%d %d]   right neuron wins %d/%d"):format(name, r[1], r[2],
    c:get(1, 1), c:get(1, 2), c:get(2, 1), c:get(2, 2), right, NS))
end

-- ## 1. Build and train
--
-- `Linear(60 → 2)` feeds the input events to the neurons' synapses;
-- `DynapSim(2, {has_rec = true})` adds trainable recurrent weights. The
-- target is a one-hot rate per sample (mean squared error per step).
-- DynapSim's surrogate gradient is per ampere (as Rockpool's), so its
-- gradients are tiny numbers: Adam copes if its `eps` sits far below them.
-- Training with a fresh 30 % weight mismatch at every step
-- (`d2.mismatch_transform`) makes the result survive the chip's mismatch;
-- tutorial 23 looks at that closely.
local net = nn.Sequential { nn.Linear({ NCH, 2 }), nn.DynapSim(2, { has_rec = true }) }
local mm = d2.mismatch_transform(net, { percent = 0.3, seed = 1 })
local adam = lp.optim.Adam(net:parameters(), { lr = 0.1, eps = 1e-30 })
local target = lp.tensor({ { 1, 0 }, { 0, 1 } }, "float32"):reshape({ NS, 1, 2 }):expand({ NS, T, 2 })
local steps = opt.quick and 400 or 1500
local losses = {}
for step = 1, steps do
  net:reset_state()
  local loss = mm:run(function() return lp.loss.mse(net(x), target) end)
  adam:zero_grad()
  loss:backward()
  adam:step()
  losses[step] = loss:item()
  if step % (steps // 4) == 0 then
    local r = frr(net)
    print(("step %5d  loss %.4f  FRR %.2f %.2f"):format(step, losses[step], r[1], r[2]))
  end
end
report("trained (float)", net)

-- ## 2 and 3. Graph and mapping
--
-- The mapper turns the graph into a specification: one population with
-- input and recurrent weights in units of `Iscale`, its neurons clustered
-- onto cores (one parameter group per core), and the neurons' currents.
local spec = d2.mapper(net:as_graph())
print(("mapped: %d neurons in %d cluster(s), %d input channels; Itau_mem %.3g A, Ispkthr %.3g A"):format(
  spec.n_neuron, spec.n_cluster, spec.weights_in.shape[1], spec.Itau_mem:get(1), spec.Ispkthr:get(1)))

-- ## 4. Quantisation
--
-- Each connection on the chip is a sign times a sum of up to four base
-- currents `Iw_0 .. Iw_3` shared by the core, chosen by 4 bits.
-- `autoencoder_quantization` trains a small autoencoder to find base
-- currents and bits that reproduce the float weights; `reconstruct_weights`
-- shows the weights the quantised specification stands for.
local qspec, qrep = d2.autoencoder_quantization(spec, { num_epoch = opt.quick and 3000 or 100000 })
local w_in, w_rec = d2.reconstruct_weights(qspec)
print(("quantised: %d autoencoder steps; largest weight error %.3f (input), %.3f (recurrent)"):format(
  qrep.steps[1], (w_in - spec.weights_in):abs():max():item(), (w_rec - spec.weights_rec):abs():max():item()))
print(("base weight currents Iw_0..Iw_3: %.3g %.3g %.3g %.3g A"):format(qspec.Iw_0:get(1), qspec.Iw_1:get(1),
  qspec.Iw_2:get(1), qspec.Iw_3:get(1)))
local fig = lp.plot.figure { rows = 1, cols = 2, width = 1100, height = 450 }
fig:histogram(1, spec.weights_in:reshape(-1), { bins = 30, title = "float input weights", xlabel = "weight (× Iscale)" })
fig:histogram(2, w_in:reshape(-1), { bins = 30, title = "quantised input weights", xlabel = "weight (× Iscale)" })
assert(fig:save(tut.figure("weights")))

-- ## 5. The configuration
--
-- `config_from_specification` allocates the network: neurons to core
-- slots, one CAM entry per incoming connection, SRAM destinations, tags,
-- and the bias codes of every current. Configurations save to JSON and
-- load back.
local config = d2.config_from_specification(qspec)
print(config)
local path = opt.out .. "/22_dynapse2_quickstart-config.json"
assert(d2.save_config(config, path))
local loaded = assert(d2.load_config(path))
print("reloaded:", loaded)
os.remove(path)

-- ## 6. Simulating what the chip will run
--
-- `from_config` builds the DynapSim network the configuration encodes:
-- weights from the CAM bits and base currents, currents from the bias
-- codes through the bias generator model. With `percent_mismatch` it
-- also draws a fabricated chip's mismatch.
local deployed = d2.from_config(loaded)
report("deployed configuration", deployed)
report("deployed, 10 % mismatch", d2.from_config(loaded, { percent_mismatch = 0.1, seed = 7 }))

-- The membrane currents of both neurons for sample 1, the float network
-- against the deployed one, and the output spikes of both.
local function run(m)
  m:reset_state()
  return lp.no_grad(function() return m(x:slice(1, 1, 1):astype(m.dtype or "float32"), true) end)
end
local out_f, _, rec_f = run(net)
local out_d, _, rec_d = run(deployed)
local imem = lp.cat({ rec_f["2_DynapSim"].imem[1]:astype("float64"), rec_d["2_DynapSim"].imem[1]:astype("float64") }, 2)
fig = lp.plot.figure { rows = 3, cols = 1, width = 900, height = 1000 }
fig:traces(1, lp.tensor(losses, "float64"):reshape(steps, 1), { title = "training loss", xlabel = "step" })
fig:traces(2, imem * 1e9, { dt = dt, stagger = 0, labels = { "float n1", "float n2", "deployed n1", "deployed n2" },
  title = "imem, sample 1", ylabel = "nA" })
fig:raster(3, lp.cat({ out_f[1], out_d[1]:astype(out_f.dtype) }, 2), { dt = dt,
  title = "spikes, sample 1 (float n1 n2, deployed n1 n2)", xlabel = "time (s)" })
assert(fig:save(tut.figure("deployed")))
