-- examples/xylo_sweep.lua -- a parameter sweep over MPI (lp.sweep): how the
-- Xylo quantiser (global or per channel) and its weight bit width change what
-- the chip (XyloSim) makes of a network: each configuration quantises,
-- configures and simulates it and compares spike counts with the float net.
-- Usage:
--   limpet examples/xylo_sweep.lua [--quick] [--out results.jsonl]
--   mpirun -np 4 limpet examples/xylo_sweep.lua        (configurations spread over 4 ranks)
-- Results go to a JSON Lines file, one record per configuration; running again
-- skips the configurations already in it (delete the file to start over).
local lp = require "limpet"
local nn = lp.nn
local xylo = lp.xylo

local quick, out = false, nil
for i = 1, #arg do
  if arg[i] == "--quick" then quick = true
  elseif arg[i] == "--out" then out = arg[i + 1]
  elseif arg[i - 1] ~= "--out" then error(("unknown argument '%s' (use --quick, --out PATH)"):format(arg[i]), 0) end
end
out = out or ((os.getenv("TMPDIR") or "/tmp") .. "/xylo_sweep.jsonl")
lp.dist.init()

-- The network: 16 input channels of Bernoulli events, 64 hidden LIFBitshift
-- neurons, 8 outputs, random weights (seeded: the same on every rank). The
-- sweep asks how faithfully each quantisation reproduces it on the chip: the
-- spike-count agreement of XyloSim with the float network (lp.xylo.compare).
lp.seed(11)
local T, NIN, NHID, NOUT = 100, 16, 64, 8
local lif = { tau_mem = 16e-3, tau_syn = 8e-3, threshold = 1, dt = 1e-3 }
local net = nn.Sequential { nn.Linear({ NIN, NHID }), nn.LIFBitshift(NHID, lif), nn.Linear({ NHID, NOUT }),
  nn.LIFBitshift(NOUT, { tau_mem = 16e-3, tau_syn = 8e-3, threshold = 1, dt = 1e-3, max_spikes_per_dt = 1 }) }
local x = lp.rand(quick and 4 or 32, T, NIN):lt(0.1):astype("float32")
local spec = xylo.audio2.mapper(net:as_graph())

local configs = {}
for _, q in ipairs { "global", "channel" } do
  for _, bits in ipairs(quick and { 4, 8 } or { 3, 4, 5, 6, 8 }) do
    configs[#configs + 1] = { quantize = q, bits_per_weight = bits }
  end
end
local results = lp.sweep(configs, function(c)
  local quant = c.quantize == "global" and xylo.global_quantize or xylo.channel_quantize
  local qspec = quant(spec, { bits_per_weight = c.bits_per_weight })
  local config, ok, msg = xylo.audio2.config_from_specification(qspec)
  if not ok then return { error = msg } end
  local sim = xylo.audio2.XyloSim.from_config(config, { dt = 1e-3 })
  local report = xylo.compare(net, sim, x)
  local hidden, output = report.layers[1], report.layers[#report.layers]
  return { hidden_agreement = hidden.agreement, output_agreement = output.agreement,
           class_agreement = output.class_agreement }
end, { path = out })

if results then
  print(("%-8s %5s %16s %16s"):format("quantise", "bits", "hidden agreement", "output agreement"))
  for _, r in ipairs(results) do
    local res = r.result
    print(("%-8s %5d %16s %16s"):format(r.config.quantize, r.config.bits_per_weight,
      res.error and "invalid" or ("%.3f"):format(res.hidden_agreement),
      res.error and "" or ("%.3f"):format(res.output_agreement)))
  end
  print(("results in %s (%d records)"):format(out, #results))
end
