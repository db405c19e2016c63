-- examples/wavesense.lua -- WaveSense (nn.WaveSenseNet) on the 8-class
-- temporal Fashion-MNIST task (examples/lib/fmnist_rows.lua), then mapped to
-- Xylo Audio 2, quantised (global_quantize), configured and run in XyloSim.
-- Usage: limpet examples/wavesense.lua [--quick] [--epochs E] [--lr LR] [--root DIR]
-- The class is the argmax of the readout membrane (spk_out's vmem, XyloSim
-- output_mode "Vmem") summed over time. Ends with
--   result: float 0.xxx xylosim 0.xxx
-- The audio task of the tutorials issue is not included here (not available
-- on this branch).
package.path = (arg and arg[0] and arg[0]:match("^(.*)/[^/]*$") or "examples") .. "/lib/?.lua;" .. package.path
local lp = require "limpet"
local nn, xylo = lp.nn, lp.xylo
local task = require "fmnist_rows"

local opts = { quick = false }
do
  local a, i = arg or {}, 1
  while i <= #a do
    local k = a[i]
    if k == "--quick" then opts.quick = true
    elseif (k == "--epochs" or k == "--lr" or k == "--root" or k == "--train") and a[i + 1] then
      opts[k:sub(3)] = a[i + 1]; i = i + 1
    else io.stderr:write("wavesense: unknown argument '", k, "'\n"); os.exit(2) end
    i = i + 1
  end
end
local quick = opts.quick
local epochs = math.tointeger(tonumber(opts.epochs) or (quick and 1 or 6))
local lr = tonumber(opts.lr) or 3e-3
if not epochs then io.stderr:write("wavesense: --epochs takes an integer\n"); os.exit(2) end
local t_start = lp.clock()
lp.seed(5)

local x_train, y_train = task.load("train", tonumber(opts.train) or (quick and 2000 or nil), opts.root)
if not x_train then io.stderr:write("wavesense: ", tostring(y_train), "\n"); os.exit(1) end
local x_test, y_test = task.load("test", quick and 500 or nil, opts.root)
print(("task: %d training and %d test sequences"):format(x_train.shape[1], x_test.shape[1]))

local dt = 1e-3
local net = nn.WaveSenseNet({ 16, 8 }, { dilations = { 1, 2, 4 }, n_channels_res = 16, n_channels_skip = 32,
  n_hidden = 32, tau_mem = 4e-3, base_tau_syn = 2e-3, tau_lp = 8e-3, threshold = 1, neuron_model = "LIFBitshift",
  dt = dt })
lp.no_grad(function() net.lin1.weight:mul_(0.1) end)       -- inputs carry up to 15 events per step
print(net)

local function vmem_out(x) return select(3, net(x, true)).spk_out.vmem end
local loader = lp.train.TensorLoader(x_train, y_train, { batch_size = 64, shuffle = true, seed = 1 })
local opt = lp.optim.Adam(net:parameters("weights"), { lr = lr })
for e = 1, epochs do
  local t0, sum, nb = lp.clock(), 0, 0
  for x, y in loader:iter() do
    net:reset_state()
    local l = lp.loss.cross_entropy(vmem_out(x):mean(2), y)
    opt:zero_grad(); l:backward()
    lp.optim.clip_grad_norm(opt, 0.5)
    opt:step()
    sum, nb = sum + l:item(), nb + 1
  end
  print(("epoch %d/%d  loss %.4f  (%.1f s)"):format(e, epochs, sum / nb, lp.clock() - t0))
end
local acc_float = task.evaluate(function(x) net:reset_state(); return lp.no_grad(function() return vmem_out(x) end) end,
  x_test, y_test)
print(("float test accuracy: %.3f"):format(acc_float))

local spec = xylo.global_quantize(xylo.audio2.mapper(net:as_graph()))
local config, ok, msg = xylo.audio2.config_from_specification(spec)
if not ok then error("invalid configuration: " .. tostring(msg), 0) end
print(("mapped: %d hidden neurons, %d outputs"):format(spec.weights_rec.shape[1], spec.weights_out.shape[2]))
local sim = xylo.audio2.XyloSim.from_config(config, { dt = dt, output_mode = "Vmem" })
local acc_sim = task.evaluate(function(x) sim:reset_state(); return sim(x) end, x_test, y_test)
print(("XyloSim test accuracy: %.3f"):format(acc_sim))
print(("wall time %.1f s"):format(lp.clock() - t_start))
print(("result: float %.3f xylosim %.3f"):format(acc_float, acc_sim))
