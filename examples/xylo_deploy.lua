-- examples/xylo_deploy.lua -- train, map, quantise, configure and simulate a Xylo network.
-- Usage: limpet examples/xylo_deploy.lua [--quick] [--variant audio2|audio3|imu] [--out DIR]
--
-- The task (temporal): 8 input channels carry background noise; in each sample one of
-- three channel groups bursts for 20 ms at a random moment of the 60 ms window. The
-- network must say which group burst, so it has to integrate events over time.
-- Steps: train Linear -> LIFBitshift -> Linear -> LIFBitshift with Adam, export the graph,
-- map it to Xylo, quantise, build and validate a configuration, save and reload it
-- (JSON), simulate it bit-exactly with XyloSim, and print float-vs-chip agreement and
-- the cycles model's clock estimate.
-- Read-out: the output neurons get a threshold they never reach and the class is the
-- output with the largest membrane potential summed over time (XyloSim output_mode
-- "Vmem"); training on output spike counts leaves silent outputs without gradient
-- (that read-out reached 56 % float). The loss is the cross-entropy of the
-- time-averaged output membranes plus a small penalty on their square that keeps them
-- inside the chip's 16-bit state range.
-- The full run ends with "result: float 0.xxx xylosim 0.xxx" (test accuracies).
local lp = require "limpet"
local nn = lp.nn
local xylo = lp.xylo

local quick, variant, outdir = false, "audio2", nil
do
  local i = 1
  while arg and arg[i] do
    local a = arg[i]
    if a == "--quick" then quick = true
    elseif a == "--variant" then i = i + 1; variant = arg[i]
    elseif a == "--out" then i = i + 1; outdir = arg[i]
    else error(("unknown argument '%s' (use --quick, --variant NAME, --out DIR)"):format(a), 0) end
    i = i + 1
  end
end
local X = xylo[variant] or error(("unknown variant '%s'"):format(tostring(variant)), 0)

lp.seed(7)
local dt, T, NIN, NHID, NCLS = 1e-3, 60, 8, 24, 3
local groups = { { 1, 2, 3 }, { 4, 5 }, { 6, 7, 8 } }

-- One batch of samples: (B, T, NIN) event counts (float32) and labels 1..3.
local function make_batch(B)
  local x = lp.rand({ B, T, NIN }):lt(0.03):astype("float32")
  local labels = lp.randint(1, NCLS + 1, { B })
  local onset = lp.randint(1, T - 20 + 1, { B })
  for b = 1, B do
    local c, t0 = labels:get(b), onset:get(b)
    local burst = lp.rand({ 20, #groups[c] }):lt(0.5):astype("float32")
    for j, ch in ipairs(groups[c]) do
      local col = x:slice(1, b, b):slice(2, t0, t0 + 19):slice(3, ch, ch)
      col:copy_(col:reshape({ 20, 1 }):add(burst:slice(2, j, j)):clamp(0, 1):reshape(col.shape))
    end
  end
  return x, labels
end

local net = nn.Sequential {
  nn.Linear({ NIN, NHID }),
  nn.LIFBitshift(NHID, { tau_mem = 16e-3, tau_syn = 8e-3, threshold = 1, dt = dt }),
  nn.Linear({ NHID, NCLS }),
  nn.LIFBitshift(NCLS, { tau_mem = 16e-3, tau_syn = 8e-3, threshold = 200, dt = dt, max_spikes_per_dt = 1 }),
}
local function readout(x)                      -- (B, T, NCLS) output membrane potentials
  local _, _, rec = net(x, true)
  return rec["4_LIFBitshift"].vmem
end

-- Training --------------------------------------------------------------------------
local steps, B = quick and 120 or 600, 32
-- Only the weights are trained: the time constants stay at values the chip's
-- bit-shift decays represent exactly, and thresholds stay where quantisation expects them.
local all = net:parameters()
local params = { ["1_Linear"] = all["1_Linear"], ["3_Linear"] = all["3_Linear"] }
local opt = lp.optim.Adam(params, { lr = 1e-2 })
local function accuracy(out, labels)
  local pred = out:sum(2):argmax(2)
  return pred:reshape({ -1 }):eq(labels:astype(pred.dtype)):astype("float32"):mean():item()
end
local t0 = os.clock()
for step = 1, steps do
  local x, y = make_batch(B)
  net:reset_state()
  local out = readout(x)
  local loss = lp.loss.cross_entropy(out:mean(2), y) + out:pow(2):mean() * 0.01
  opt:zero_grad()
  loss:backward()
  opt:step()
  if step % (steps // 4) == 0 or step == steps then
    print(("step %4d  loss %.3f  batch accuracy %.2f"):format(step, loss:item(), accuracy(out, y)))
  end
end
print(("trained in %.1f s"):format(os.clock() - t0))

local xtest, ytest = make_batch(quick and 96 or 1000)
net:reset_state()
local float_out = lp.no_grad(function() return readout(xtest) end)
local acc_float = accuracy(float_out, ytest)
print(("float test accuracy: %.3f"):format(acc_float))

-- Map, quantise, configure -------------------------------------------------------------
local spec = X.mapper(net:as_graph())
local qspec, report = xylo.global_quantize(spec)
if type(report) == "table" then
  local parts = {}
  for k, v in pairs(report) do
    if type(v) == "number" then parts[#parts + 1] = ("%s = %.4g"):format(k, v) end
  end
  table.sort(parts)
  print("quantisation: " .. table.concat(parts, ", "))
end
local config, ok, msg = X.config_from_specification(qspec)
print(tostring(config))
if not ok then error("invalid configuration: " .. tostring(msg), 0) end

local dir = outdir or (os.getenv("TMPDIR") or "/tmp")
local path = ("%s/xylo_deploy_%s.json"):format(dir, variant)
assert(xylo.save_config(config, path))
local loaded = assert(xylo.load_config(path))
print(("saved and reloaded %s"):format(path))
if not outdir then os.remove(path) end

-- Simulate and compare ------------------------------------------------------------------
-- Hidden spike counts, float vs chip (the outputs never spike by design):
local cmp = xylo.compare(net, X.XyloSim.from_config(loaded, { dt = dt, output_mode = "Spike" }), xtest)
print(cmp)
local sim = X.XyloSim.from_config(loaded, { dt = dt, output_mode = "Vmem" })
print(tostring(sim))
sim:reset_state()
local hw_out = sim(xtest:astype("int32"))
local acc_sim = accuracy(hw_out, ytest)
print(("XyloSim test accuracy: %.3f"):format(acc_sim))

-- Cycles model -----------------------------------------------------------------------
local cycles = X.cycles_model(loaded)
local cyc = type(cycles) == "table" and (cycles.cycles or cycles[1]) or cycles
print(("cycles per step (worst case): %s"):format(tostring(cyc)))
local hz = X.est_clock_freq(loaded, dt)
print(("estimated minimum core clock at dt = %g s: %.3f MHz"):format(dt, hz / 1e6))
print(("result: float %.3f xylosim %.3f"):format(acc_float, acc_sim))
