-- examples/shd_training.lua -- train a spiking network on the Spiking
-- Heidelberg Digits (SHD) with lp.train.fit.
-- Data: lp.data.SHD reads <root>/shd_train.h5 and shd_test.h5 (or .h5.gz);
-- each sample's events (t in seconds, channel x in 1..700) are cropped to
-- the first `--duration` seconds and binned into frames of `--dt` seconds
-- by Tonic's ToFrame, so a batch is (B, T, 700) spike counts (padded with
-- zeros at the end in time). With --cache DIR the binned samples are kept on
-- disk (lp.data.DiskCache), so later epochs read no HDF5.
-- Net: Linear(700 -> H) -> recurrent LIF(H) -> Linear(H -> 20) -> ExpSyn(20),
-- a leaky (non-spiking) readout: the LIF-RSNN of Cramer et al. (2020), "The
-- Heidelberg spiking data sets for the systematic evaluation of spiking
-- neural networks". Loss: cross-entropy of the readout's mean over time, or
-- with --readout max of its maximum over time (Cramer et al.'s
-- max-over-time readout); accuracy: argmax of its sum over time (fit's metric).
-- Without the SHD files at the root it says so and exits with status 0.
-- Usage: limpet examples/shd_training.lua [--root DIR] [--quick] [--epochs N]
--          [--hidden H] [--dt SECONDS] [--duration SECONDS] [--batch B] [--cache DIR]
--          [--readout mean|max]
-- root defaults to $LIMPET_DATA/SHD, else data/SHD. The files come from
-- https://zenkelab.org/datasets/ (shd_train.h5.gz, shd_test.h5.gz).
local lp = require "limpet"
local nn = lp.nn
local tf = lp.data.transforms

local opts = { quick = false }
do
  local a, i = arg or {}, 1
  while i <= #a do
    local k = a[i]
    if k == "--quick" then opts.quick = true
    elseif k:match("^%-%-%a") and a[i + 1] then opts[k:sub(3)] = a[i + 1]; i = i + 1
    else io.stderr:write("shd_training: unknown argument '", k, "'\n"); os.exit(2) end
    i = i + 1
  end
end
local quick = opts.quick
local epochs = math.tointeger(tonumber(opts.epochs) or (quick and 2 or 20))
local H = math.tointeger(tonumber(opts.hidden) or (quick and 64 or 256))
local B = math.tointeger(tonumber(opts.batch) or 64)
local dt = tonumber(opts.dt) or 10e-3
local duration = tonumber(opts.duration) or 1.0
if not (epochs and H and B and dt > 0 and duration > 0) then
  io.stderr:write("shd_training: --epochs, --hidden and --batch take integers; --dt and --duration positive seconds\n")
  os.exit(2)
end
local readout = opts.readout or "mean"
if readout ~= "mean" and readout ~= "max" then
  io.stderr:write(("shd_training: --readout takes mean or max, got '%s'\n"):format(readout))
  os.exit(2)
end
local root = opts.root
if not root then
  local base = os.getenv("LIMPET_DATA")
  root = base and base ~= "" and (base .. "/SHD") or "data/SHD"
end
local n_classes = 20

local t_start = lp.clock()
lp.seed(7)

-- data ----------------------------------------------------------------------------------
local transform = tf.Compose { tf.CropTime { max = duration }, tf.ToFrame { sensor_size = { 700 }, time_window = dt } }
local function open(split)
  local ds, err = lp.data.SHD { split = split, root = root, transform = transform }
  if not ds then
    print(("shd_training: no SHD data at '%s': %s"):format(root, err))
    print("shd_training: nothing to train; pass --root <folder with shd_train.h5 and shd_test.h5>")
    os.exit(0)
  end
  return ds
end
local train_ds, test_ds = open("train"), open("test")

-- the first n samples of a data set (quick runs on the real files)
local function first(ds, n)
  if #ds <= n then return ds end
  return setmetatable({ get = function(_, i) return ds:get(i) end },
                      { __len = function() return n end })
end
local function cached(ds, split)
  if not opts.cache then return ds end
  local c, err = lp.data.DiskCache { dataset = ds, path = opts.cache .. "/" .. split }
  if not c then
    io.stderr:write("shd_training: no cache (", err, "); reading the HDF5 files every epoch\n")
    return ds
  end
  return c
end
local train_set = cached(quick and first(train_ds, 256) or train_ds, "train")
local test_set = cached(quick and first(test_ds, 128) or test_ds, "test")
print(("SHD at %s: %d training and %d test samples (using %d / %d), frames of %g ms, at most %g s")
  :format(root, #train_ds, #test_ds, #train_set, #test_set, dt * 1e3, duration))

local train_loader = lp.data.DataLoader { dataset = train_set, batch_size = B, shuffle = true, seed = 1 }
local test_loader = lp.data.DataLoader { dataset = test_set, batch_size = B }

-- the network ---------------------------------------------------------------------------
local net = nn.Sequential {
  nn.Linear({ 700, H }, { weight = lp.randn({ 700, H }) * (0.5 / math.sqrt(700)) }),
  nn.LIF(H, { has_rec = true, dt = dt, tau_mem = nn.Constant(40e-3), tau_syn = nn.Constant(20e-3),
              threshold = nn.Constant(1.0), bias = nn.Constant(0.0), spike_generation_fn = "ATan",
              max_spikes_per_dt = 1, w_rec = lp.randn({ H, H }) * (0.2 / math.sqrt(H)) }),
  nn.Linear({ H, n_classes }, { weight = lp.randn({ H, n_classes }) * (1 / math.sqrt(H)) }),
  nn.ExpSyn(n_classes, { tau = nn.Constant(20e-3), dt = dt }),
}
print(net)

local opt = lp.optim.Adam(net:parameters(), { lr = 2e-3 })
local hist = lp.train.fit {
  net = net,
  loss = function(v, y) return lp.loss.cross_entropy(readout == "max" and v:max(2) or v:mean(2), y) end,
  data = train_loader,
  val_data = test_loader,
  epochs = epochs,
  optimizer = opt,
  metrics = { "accuracy" },
  clip_grad_norm = 5,
  on_epoch = function(e, s)
    print(("epoch %d: train loss %.4f acc %.1f%%  test loss %.4f acc %.1f%%  (%.1f s)")
      :format(e, s.train_loss, 100 * s.train_accuracy, s.val_loss, 100 * s.val_accuracy, s.time))
  end,
}
print(("final test accuracy: %.1f%% on %d samples after %d epochs (chance %.0f%%); wall time %.1f s")
  :format(100 * hist.val_accuracy[hist.epochs], #test_set, hist.epochs, 100 / n_classes, lp.clock() - t_start))
