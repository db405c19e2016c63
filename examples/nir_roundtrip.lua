-- examples/nir_roundtrip.lua -- NIR interchange on the public NIR files:
-- import each one, run it on a sample input, export it again with
-- lp.nir.save, re-import, run again and compare; then the same for a
-- limpet network (Linear, LIF, Conv2d, pooling). Prints a table.
-- Usage: limpet examples/nir_roundtrip.lua [--quick] [--dir DIR] [--out DIR]
--   --dir: where the NIR files are (default ../shared/oracles/nir)
--   --out: where the re-exported files go (default $TMPDIR or /tmp)
local lp = require "limpet"
local nn = lp.nn

local dir, out, quick = "../shared/oracles/nir", os.getenv("TMPDIR") or "/tmp", false
local i = 1
while arg and arg[i] do
  local a = arg[i]
  if a == "--quick" then quick = true
  elseif a == "--dir" then dir = arg[i + 1]; i = i + 1
  elseif a == "--out" then out = arg[i + 1]; i = i + 1
  else io.stderr:write("nir_roundtrip: unknown argument '", a, "'\n"); os.exit(2) end
  i = i + 1
end

-- exporter time units: Sinabs' CNN counts steps, the others use seconds
-- at the NIR paper's dt = 1e-4
local FILES = {
  { "lif_norse.nir", 1e-4 }, { "lif_rockpool.nir", 1e-4 }, { "two_lif_neurons.nir", 1e-4 },
  { "braille_noDelay_bias_zero.nir", 1e-4 }, { "braille_noDelay_noBias_subtract.nir", 1e-4 },
  { "cnn_sinabs.nir", 1 },
}
local T = quick and 20 or 100

print(("%-38s %-7s %-12s %7s %9s %8s %10s"):format("file", "version", "input", "nodes", "spikes/el", "run s",
  "max |diff|"))
local worst = 0
local function report(name, version, net, x)
  local t0 = os.clock()
  local y = net(x)
  local dt = os.clock() - t0
  local path = ("%s/nir_roundtrip_%s"):format(out, name:gsub("[^%w_.]", "_"))
  assert(lp.nir.save(net, path, { input_shape = net.input_shape }))
  local again = lp.nir.load(path, { dt = net.dt })
  local y2 = again(x)
  local d = (y - y2):abs():max():item()
  worst = math.max(worst, d)
  local n = 0
  for _ in pairs(net._nodes or {}) do n = n + 1 end
  print(("%-38s %-7s %-12s %7d %9.4f %8.3f %10.3g"):format(name, version or "-",
    table.concat(net.input_shape, "x"), n, y:mean():item(), dt, d))
  os.remove(path)
end

local f = io.open(dir .. "/lif_norse.nir", "rb")
if f then
  f:close()
  for _, e in ipairs(FILES) do
    lp.seed(1)
    local net, version = lp.nir.load(dir .. "/" .. e[1], { dt = e[2] })
    local x = lp.rand({ 4, T, table.unpack(net.input_shape) })
    if e[1]:match "cnn" or e[1]:match "braille" then x = x:gt(0.9):astype("float32") end
    report(e[1], version, net, x)
  end
else
  print(("(no NIR files in %s: the public-file rows are skipped)"):format(dir))
end

-- a limpet network out and back: spiking CNN on 2x16x16 events
lp.seed(2)
local cnn = nn.Sequential(nn.Conv2d(2, 4, 3, { stride = 2, padding = 1 }), nn.SumPool2d(2), nn.Flatten(),
  nn.Linear({ 64, 10 }), nn.LIF(10, { tau_mem = 10e-3, tau_syn = 5e-3, threshold = 1e6 }))
local path = out .. "/nir_roundtrip_limpet_cnn.nir"
assert(lp.nir.save(cnn, path, { input_shape = { 2, 16, 16 } }))
local g = lp.nir.load(path)
local x = lp.rand({ 2, T, 2, 16, 16 }):gt(0.95):astype("float32")
local _, _, r1 = cnn(x, true)
local _, _, r2 = g(x, true)
local d = (r1["5_LIF"].vmem - r2["5_LIF"].vmem):abs():max():item()
print(("%-38s %-7s %-12s %7d %9s %8s %10.3g"):format("limpet Conv2d-SumPool-Linear-LIF (vmem)", "1.0.8",
  "2x16x16", 7, "-", "-", d))
os.remove(path)
print(("result: worst max |diff| %.3g"):format(math.max(worst, d)))
