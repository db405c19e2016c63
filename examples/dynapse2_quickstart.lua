-- examples/dynapse2_quickstart.lua -- Rockpool's Dynap-SE2 quick start, end to end:
-- train, map, quantise, configure, save and reload, and simulate the configuration the
-- chip would run (reference/dynapse2.md §11).
-- Usage: limpet examples/dynapse2_quickstart.lua [--quick] [--out DIR]
--
-- The task ("frozen noise", Rockpool's tutorial): two fixed Poisson rasters of 60 channels,
-- 500 ms at 50 Hz, one per class; a recurrent population of 2 DynapSim neurons must answer
-- sample k with neuron k. The metric is the firing-rate ratio (FRR) of a sample, the spike
-- count of the busier neuron over that of the quieter one (a silent neuron counts as 1
-- spike). The rasters are NumPy's: np.random.seed(2022); np.random.poisson(0.05,
-- (2, 500, 60)), reproduced below (MT19937 and NumPy's Poisson sampler for small rates),
-- so Rockpool's trained weights (its public test data) can be checked on the same input.
-- Steps: (1) Linear(60 -> 2) + DynapSim(2, recurrent) trained with mismatch-aware training
-- (the weights re-drawn with 30 % mismatch at every step); (2) net:as_graph() and the
-- mapper; (3) the autoencoder weight quantisation; (4) the configuration (CAM, SRAM, bias
-- codes), saved to JSON and loaded back; (5) from_config: the DynapSim network that
-- configuration encodes, once as built and once with 10 % frozen mismatch (a fabricated
-- chip); FRR of the float, deployed and mismatched versions; membrane traces and rasters.
local lp = require "limpet"
local nn, d2 = lp.nn, lp.dynapse2

local quick, outdir = false, nil
do
  local i = 1
  while arg and arg[i] do
    local a = arg[i]
    if a == "--quick" then quick = true
    elseif a == "--out" then i = i + 1; outdir = arg[i]
    else error(("unknown argument '%s' (use --quick, --out DIR)"):format(a), 0) end
    i = i + 1
  end
end
local dir = outdir or os.getenv("TMPDIR") or "/tmp"

-- Data: NumPy's legacy generator (MT19937, seeded as np.random.seed) and its Poisson
-- sampler for small rates (multiply uniforms until the product drops below exp(-lam)).
local function numpy_poisson(seed)
  local mt, idx = {}, 624
  mt[0] = seed & 0xffffffff
  for i = 1, 623 do mt[i] = (1812433253 * (mt[i - 1] ~ (mt[i - 1] >> 30)) + i) & 0xffffffff end
  local function next32()
    if idx >= 624 then
      for i = 0, 623 do
        local y = (mt[i] & 0x80000000) | (mt[(i + 1) % 624] & 0x7fffffff)
        local v = mt[(i + 397) % 624] ~ (y >> 1)
        if y & 1 == 1 then v = v ~ 0x9908b0df end
        mt[i] = v
      end
      idx = 0
    end
    local y = mt[idx]
    idx = idx + 1
    y = y ~ (y >> 11)
    y = y ~ ((y << 7) & 0x9d2c5680)
    y = y ~ ((y << 15) & 0xefc60000)
    return (y ~ (y >> 18)) & 0xffffffff
  end
  local function uniform() return ((next32() >> 5) * 67108864.0 + (next32() >> 6)) / 9007199254740992.0 end
  return function(lam)
    local limit, n, prod = math.exp(-lam), 0, 1.0
    while true do
      prod = prod * uniform()
      if prod > limit then n = n + 1 else return n end
    end
  end
end

local NS, T, NCH, dt = 2, 500, 60, 1e-3
local poisson = numpy_poisson(2022)
local v = {}
for i = 1, NS * T * NCH do v[i] = poisson(50 * dt) end
local x = lp.tensor(v, "float32"):reshape({ NS, T, NCH })
print(("frozen noise: %d samples, %d channels, %d steps, %d input events"):format(NS, NCH, T, x:sum():item()))

-- firing-rate ratio of each sample, and whether the right neuron wins
local function frr(net, input)
  net:reset_state()
  local out = lp.no_grad(function() return net(input:astype(net.dtype or "float32")) end)
  local counts = out:sum(2)
  local r, right = {}, 0
  for s = 1, NS do
    local a, b = counts:get(s, 1), counts:get(s, 2)
    r[s] = math.max(a, b) / math.max(math.min(a, b), 1)
    if (s == 1 and a > b) or (s == 2 and b > a) then right = right + 1 end
  end
  return r, counts, right
end
local function report(name, net)
  local r, c, right = frr(net, x)
  print(("%-34s FRR %6.2f %6.2f   spike counts [%d %d] [%d %d]   right neuron wins %d/%d"):format(name, r[1], r[2],
    c:get(1, 1), c:get(1, 2), c:get(2, 1), c:get(2, 2), right, NS))
  return r
end

-- Rockpool's trained weights on the same input, when the test data is at hand
do
  local win = lp.load("spec/fixtures/dynapse2/w_in_optimized.npy")
  local wrec = lp.load("spec/fixtures/dynapse2/w_rec_optimized.npy")
  if win and wrec then
    report("Rockpool's trained network", nn.Sequential {
      nn.Linear({ NCH, 2 }, { weight = win }), nn.DynapSim(2, { has_rec = true, w_rec = wrec }) })
  end
end

-- (1) Train: mismatch-aware (every step sees the weights with a fresh 30 % mismatch).
-- Rockpool's recipe: per-step MSE to the one-hot label, Adam; the DynapSim surrogate is per
-- ampere, so Adam's epsilon must sit far below the gradients (~1e-10).
lp.seed(1)
local net = nn.Sequential { nn.Linear({ NCH, 2 }), nn.DynapSim(2, { has_rec = true }) }
local mm = d2.mismatch_transform(net, { percent = 0.3, seed = 1 })
local opt = lp.optim.Adam(net:parameters(), { lr = 0.1, eps = 1e-30 })
local target = lp.tensor({ { 1, 0 }, { 0, 1 } }, "float32"):reshape({ NS, 1, 2 }):expand({ NS, T, 2 })
local steps = quick and 300 or 1500
local t0 = os.clock()
for step = 1, steps do
  net:reset_state()
  local loss = mm:run(function() return lp.loss.mse(net(x), target) end)
  opt:zero_grad()
  loss:backward()
  opt:step()
  if step % (steps // 5) == 0 then
    local r = frr(net, x)
    print(("step %5d  loss %.4f  FRR %.2f %.2f"):format(step, loss:item(), r[1], r[2]))
  end
end
print(("trained in %.1f s"):format(os.clock() - t0))

-- (2) map, (3) quantise, (4) configure, save and reload
local spec = d2.mapper(net:as_graph())
print(("mapped: %d neurons in %d cluster(s), %d input channels"):format(spec.n_neuron, spec.n_cluster,
  spec.weights_in.shape[1]))
local qspec, qrep = d2.autoencoder_quantization(spec)
local w_in, w_rec = d2.reconstruct_weights(qspec)
print(("quantised: %d autoencoder steps, loss %.3g; largest weight error %.3f (input), %.3f (recurrent)")
  :format(qrep.steps[1], qrep.loss:get(1), (w_in - spec.weights_in):abs():max():item(),
    (w_rec - spec.weights_rec):abs():max():item()))
print(("base weight currents Iw_0..Iw_3: %.3g %.3g %.3g %.3g A"):format(qspec.Iw_0:get(1), qspec.Iw_1:get(1),
  qspec.Iw_2:get(1), qspec.Iw_3:get(1)))
local config = d2.config_from_specification(qspec)
print(tostring(config))
local path = dir .. "/dynapse2_quickstart.json"
assert(d2.save_config(config, path))
local loaded = assert(d2.load_config(path))
print(("saved and reloaded %s"):format(path))
if not outdir then os.remove(path) end

-- (5) simulate what the chip would run, and a fabricated chip's mismatch
local deployed = d2.from_config(loaded)
local mismatched = d2.from_config(loaded, { percent_mismatch = 0.1, seed = 7 })
print()
local r_float = report("float (trained)", net)
local r_dep = report("deployed configuration", deployed)
local r_mm = report("deployed, 10 % mismatch", mismatched)
print(("firing-rate ratios (sample 1, sample 2): float %.2f %.2f | quantised %.2f %.2f | mismatched %.2f %.2f")
  :format(r_float[1], r_float[2], r_dep[1], r_dep[2], r_mm[1], r_mm[2]))

-- plots: membrane currents of both neurons for sample 1, float and deployed; rasters
local function record(m, input)
  m:reset_state()
  local out, _, rec = lp.no_grad(function() return m(input, true) end)
  return out, rec
end
local sample = x:slice(1, 1, 1)
local out_f, rec_f = record(net, sample)
local out_d, rec_d = record(deployed, sample)
local imem_f = rec_f["2_DynapSim"] and rec_f["2_DynapSim"].imem or rec_f.imem
local imem_d = rec_d["2_DynapSim"] and rec_d["2_DynapSim"].imem or rec_d.imem
local traces = lp.cat({ imem_f[1]:astype("float64"), imem_d[1]:astype("float64") }, 2) * 1e9
local files = {
  { "traces", dir .. "/dynapse2_quickstart_imem.png", traces,
    { dt = dt, title = "Imem, sample 1 (float n1 n2, deployed n1 n2)", ylabel = "nA" } },
  { "raster", dir .. "/dynapse2_quickstart_input.png", x[1], { dt = dt, title = "frozen noise, sample 1", ylabel = "channel" } },
  { "raster", dir .. "/dynapse2_quickstart_output.png",
    lp.cat({ out_f[1], out_d[1]:astype(out_f.dtype) }, 2),
    { dt = dt, title = "spikes, sample 1 (float n1 n2, deployed n1 n2)" } },
}
for _, f in ipairs(files) do
  assert(lp.plot[f[1]](f[3], f[2], f[4]))
  print("wrote " .. f[2])
end
