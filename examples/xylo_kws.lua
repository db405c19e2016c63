-- examples/xylo_kws.lua -- keyword spotting on Xylo Audio 3, end to end: the
-- spoken digits of lp.data.SpokenDigits (20 classes: "zero".."nine" in
-- English, "null".."neun" in German) -> the Xylo Audio 3 digital front end
-- (or, with --front-end audio2, the Xylo Audio 2 analog front-end model) ->
-- a SynNet (or WaveSenseNet) trained in float, then with hardware-aware
-- training -> map, quantise, configure -> a virtual Xylo Audio 3 board
-- (VirtualHDK with the front end in the loop: audio in, SNN output out) ->
-- test accuracy on the unseen test voices, float vs deployed.
--
-- Usage: limpet examples/xylo_kws.lua [--quick] [--front-end audio3|audio2]
--          [--net synnet|wavesense] [--hidden H] [--epochs E] [--qat-epochs E]
--          [--lr LR] [--qat-lr LR] [--batch B] [--limit K] [--test-limit K] [--test-every K] [--loop-every K]
--          [--root DIR] [--cache DIR] [--out DIR]
-- Data: lp.data.SpokenDigits at --root (default $LIMPET_DATA/SpokenDigits,
-- else data/SpokenDigits), synthesised with espeak-ng and flite where the
-- cache lacks files (the full set, 18,480 files, takes about 20 minutes the
-- first time). The split is by speaker: no test voice is heard in training.
-- --limit K takes the first K training speakers (default 405: 45 variants of
-- each of the 9 espeak-ng voices, 8,100 of the 14,580 training words, which
-- keeps the run within its time on a loaded machine; --limit 729 takes them
-- all), --test-limit K the first K test speakers (default: all 195, 3,900
-- words) (--quick: 12 and 9, a variant of each voice); --test-every K
-- tests on every K-th test word (all test speakers, a K-th of their words).
--
-- Audio: every utterance is padded with silence (or cut) to DURATION = 1.28 s
-- at 16 kHz, so the front end's raster has a fixed number of steps; the front
-- end runs once per sample, its raster is kept on disk (lp.data.DiskCache,
-- under --cache, default build/kws/cache), so training epochs read counts,
-- not audio. Deployment writes the configuration image to two virtual
-- boards: one takes the cached rasters (the deployed accuracy, every test
-- word), the other the padded audio through its own front end, for every
-- --loop-every'th test word (default 10; --quick: every word), whose output
-- must match the raster path bit for bit on Audio 3's integer front end
-- (the line "front end in the loop" counts both).
--
-- Front ends: audio3 (default): AFESimExternal, audio in at 16 kHz
-- (resampled to the chip's 48828.125 Hz), divisive normalisation with its
-- floor dn_EPS at 32768 (quiet noise stays quiet), a step of 488 samples
-- (9.994 ms). audio2: AFESim (110 kHz model, offsets and mismatch
-- of one seeded chip, no circuit noise: its model costs ~2 s CPU per second of
-- audio; 10 ms raster), whose 16 channels feed the same
-- Audio 3 SNN core (Audio 2's core has 8 outputs, too few for 20 classes).
--
-- Networks: synnet (default): nn.SynNet({16, 20}, one hidden layer of H
-- neurons with 4 synaptic time constants, 20 to 160 ms), readout = output
-- membrane; float training (Adam, cross-entropy of the readout membrane
-- averaged over time), then quantisation-aware training on the mapped
-- network (lp.xylo.qat: Xylo Audio 3's integer step in the forward pass).
-- wavesense: nn.WaveSenseNet (dilations 1, 2, 4; aliases, which XyloQAT does
-- not emulate), so its hardware-aware step is lp.transform: weights through
-- 8-bit int_quant on every forward pass while fine-tuning, then the Xylo
-- quantiser. The class is the argmax of the output membrane summed over time
-- (XyloSim output_mode "Vmem").
--
-- Prints per-epoch losses, float / QAT / deployed accuracies on English and
-- on all 20 classes, the cycles model's clock, and writes PNG figures to
-- --out (default build/examples/xylo_kws): kws_confusion.png (deployed
-- confusion matrix, 20 classes), kws_rasters.png (one test word: front-end
-- raster, hidden spikes, readout membranes on the board), kws_training.png.
-- The last line is
--   result: english_float 0.xxx english_deployed 0.xxx all_float 0.xxx all_deployed 0.xxx
-- Measured (default options, LIMPET_DATA=/work/data, nice -n 10 on a loaded
-- 2-core machine, part of the rasters cached): result: english_float 0.888
-- english_deployed 0.918 all_float 0.866 all_deployed 0.913; 24 min wall,
-- 520 s CPU; QAT forward and board agree exactly; clock needed 7.7 MHz.
local lp = require "limpet"
local nn, xylo = lp.nn, lp.xylo
local a3 = xylo.audio3

local NAME = "xylo_kws"
local function fail(code, msg) io.stderr:write(NAME, ": ", msg, "\n"); os.exit(code) end

local VALUED = { ["front-end"] = true, net = true, hidden = true, epochs = true, ["qat-epochs"] = true, lr = true,
  ["qat-lr"] = true, batch = true, limit = true, ["test-limit"] = true, ["loop-every"] = true, ["test-every"] = true, root = true, cache = true, out = true }
local opts = { quick = false }
do
  local a, i = arg or {}, 1
  while i <= #a do
    local k = a[i]
    if k == "--quick" then opts.quick = true
    elseif k:sub(1, 2) == "--" and VALUED[k:sub(3)] then
      if a[i + 1] == nil then fail(2, ("argument '%s' needs a value"):format(k)) end
      opts[k:sub(3)] = a[i + 1]; i = i + 1
    else fail(2, ("unknown argument '%s'"):format(k)) end
    i = i + 1
  end
end
local function int_opt(k, def, lo, hi)
  if opts[k] == nil then return def end
  local v = math.tointeger(tonumber(opts[k]))
  if not v or v < lo or v > hi then fail(2, ("--%s takes an integer in %d..%d, got '%s'"):format(k, lo, hi, opts[k])) end
  return v
end
local function num_opt(k, def)
  if opts[k] == nil then return def end
  local v = tonumber(opts[k])
  if not v or not (v > 0 and v < math.huge) then fail(2, ("--%s takes a positive number, got '%s'"):format(k, opts[k])) end
  return v
end
local quick = opts.quick
local FRONT = opts["front-end"] or "audio3"
if FRONT ~= "audio3" and FRONT ~= "audio2" then fail(2, ("--front-end takes audio3 or audio2, got '%s'"):format(FRONT)) end
local NET = opts.net or "synnet"
if NET ~= "synnet" and NET ~= "wavesense" then fail(2, ("--net takes synnet or wavesense, got '%s'"):format(NET)) end
local H = int_opt("hidden", 128, 1, 128)           -- one layer: every neuron is an input and an output neuron (≤ 128)
local EPOCHS = int_opt("epochs", quick and 2 or 12, 0, 1000)
local QAT_EPOCHS = int_opt("qat-epochs", 1, 0, 1000)
local LR = num_opt("lr", 3e-3)
local QAT_LR = num_opt("qat-lr", 1e-3)
local BATCH = int_opt("batch", 64, 1, 4096)
local LIMIT = int_opt("limit", quick and 12 or 405, 1, 1e9)
local TEST_LIMIT = int_opt("test-limit", quick and 9 or nil, 1, 1e9)
local LOOP_EVERY = int_opt("loop-every", quick and 1 or 10, 1, 1e9)
local TEST_EVERY = int_opt("test-every", 1, 1, 1e9)
local OUT = opts.out or "build/examples/xylo_kws"
local CACHE = opts.cache or "build/kws/cache"

local t_start, cpu_start = lp.clock(), os.clock()
local function stamp() return ("%.1f s wall, %.1f s CPU"):format(lp.clock() - t_start, os.clock() - cpu_start) end
lp.seed(12)
os.execute(("mkdir -p '%s' '%s'"):format(OUT:gsub("'", "'\\''"), CACHE:gsub("'", "'\\''")))

-- data -----------------------------------------------------------------------------
local SR, DURATION = 16000, 1.28
local NS = math.floor(SR * DURATION + 0.5)
local function open(split, limit)
  local ds, err = lp.data.SpokenDigits { split = split, root = opts.root, limit = limit }
  if not ds then fail(1, "no spoken digits: " .. tostring(err)) end
  return ds
end
local train_ds, test_ds = open("train", LIMIT), open("test", TEST_LIMIT)
print(("data: %s\n      %s"):format(tostring(train_ds), tostring(test_ds)))

-- (T, 1) audio -> (NS) float64, padded with silence or cut, and kept within
-- the 14-bit converter's range: full scale (±1, where the data set's
-- augmentation clips) becomes ±8191/8192, the largest code (every other
-- sample quantises as before)
local FULL = 8191 / 8192
local function fixed(audio)
  local n = audio.shape[1]
  local x = audio:reshape(n):astype("float64"):clamp(-FULL, FULL)
  if n >= NS then return x:slice(1, 1, NS):contiguous() end
  return lp.cat({ x, lp.zeros({ NS - n }, "float64") }, 1)
end

-- the front end
local afe, afe_key
if FRONT == "audio3" then
  -- dn_EPS (the divisive normalisation's floor, 0..65535): at the default 1
  -- the normaliser raises background noise to the spike rate of speech
  afe = a3.AFESimExternal { down_sampling_factor = 488, input_sample_rate = SR, dn_EPS = 32768 }
  afe_key = "afe3-dn-eps32768-dsf488"
else
  -- the circuit's noise model costs about 2 s CPU per second of audio: off;
  -- offsets and mismatch of one seeded chip stay
  afe = xylo.audio2.AFESim { input_sample_rate = SR, seed = 2, add_noise = false }
  afe_key = "afe2-seed2-nonoise"
end
local DT = afe.dt or 0.01
if FRONT == "audio2" then DT = afe.raster_period end
local function front(x)
  if FRONT == "audio3" then return afe(x) end
  afe:reset_state()
  return afe:raster((afe(x)))
end
print(("front end: %s, SNN step %.3f ms"):format(tostring(afe), DT * 1e3))

-- features: the raster of every sample, computed once and kept on disk
local function features(ds, split, every)
  ds.transform = function(audio) return front(fixed(audio))[1]:astype("uint8") end
  local cache = assert(lp.data.DiskCache { dataset = ds, path = CACHE .. "/" .. split,
    transform_key = ("%s-%s-%gs%s"):format(afe_key, split, DURATION, opts.root and ("-" .. opts.root) or "") })
  local xs, ys, metas = {}, {}, {}
  local t0 = lp.clock()
  for i = 1, #cache, every do
    local r, y, m = cache:get(i)
    local j = #xs + 1
    xs[j], ys[j], metas[j] = r, y, m
    if j % 1000 == 0 then print(("  %s features %d/%d (%.0f s)"):format(split, j, (#cache + every - 1) // every,
      lp.clock() - t0)) end
  end
  print(("%s: %d samples, raster (%d steps x %d bands); %d from the cache, %d computed (%.1f s)"):format(split,
    #xs, xs[1].shape[1], xs[1].shape[2], cache.hits, cache.misses, lp.clock() - t0))
  return lp.stack(xs, 1):astype("float32"), lp.tensor(ys, "int64"), metas
end
local x_train, y_train = features(train_ds, "train", 1)
local x_test, y_test, test_meta = features(test_ds, "test", TEST_EVERY)
local T, NIN, NC = x_train.shape[2], x_train.shape[3], 20
local is_en = {}
for i, m in ipairs(test_meta) do is_en[i] = m.language == "en" end

-- accuracy on English and on all classes from (N, T, C) outputs; confusion counts
local function score(pred)
  local en_ok, en_n, ok = 0, 0, 0
  local cm = {}
  for c = 1, NC do cm[c] = {} for d = 1, NC do cm[c][d] = 0 end end
  for i = 1, #pred do
    local y = y_test[i]
    local hit = pred[i] == y and 1 or 0
    ok = ok + hit
    if is_en[i] then en_ok, en_n = en_ok + hit, en_n + 1 end
    cm[y][pred[i]] = cm[y][pred[i]] + 1
  end
  return en_n > 0 and en_ok / en_n or 0, ok / #pred, cm
end
-- run f on the test rasters in batches -> predicted classes (argmax of the summed output)
local function predict(f, x)
  local pred = {}
  for s = 1, x.shape[1], 256 do
    local e = math.min(x.shape[1], s + 255)
    local out = f(x:slice(1, s, e))
    local am = out:astype("float64"):sum(2):argmax(2)
    for i = 1, e - s + 1 do pred[#pred + 1] = am[i] end
  end
  return pred
end

-- the network -------------------------------------------------------------------------
local net, readout
if NET == "synnet" then
  net = nn.SynNet({ NIN, NC }, { size_hidden_layers = { H }, time_constants_per_layer = { 4 }, tau_syn_base = 2 * DT,
    tau_mem = 4 * DT, tau_syn_out = 4 * DT, dt = DT, output = "vmem" })
  readout = function(x) return (net(x)) end
else
  net = nn.WaveSenseNet({ NIN, NC }, { dilations = { 1, 2, 4 }, n_channels_res = 16, n_channels_skip = 32,
    n_hidden = 32, tau_mem = 4 * DT, base_tau_syn = 2 * DT, tau_lp = 4 * DT, threshold = 1, dt = DT })
  readout = function(x) return select(3, net(x, true)).spk_out.vmem end
end
-- inputs carry up to 15 events per step: start with small input weights
lp.no_grad(function()
  local first = NET == "synnet" and net["1_linear"].weight or net.lin1.weight
  first:mul_(0.2)
end)
print(net)

local LOGIT_SCALE = 1.0
local loader = lp.train.TensorLoader(x_train, y_train, { batch_size = BATCH, shuffle = true, seed = 1 })
local history, n_float_epochs = {}, 0
local function train_float(epochs, lr, tag)
  local opt = lp.optim.Adam(net:parameters("weights"), { lr = lr })
  for e = 1, epochs do
    local t0, sum, nb, ok, n = lp.clock(), 0, 0, 0, 0
    for x, y in loader:iter() do
      net:reset_state()
      local out = readout(x)
      local logits = out:mean(2) * LOGIT_SCALE
      local l = lp.loss.cross_entropy(logits, y)
      opt:zero_grad(); l:backward()
      lp.optim.clip_grad_norm(opt, 1.0)
      opt:step()
      sum, nb = sum + l:item(), nb + 1
      ok = ok + logits:detach():argmax(2):eq(y):sum():item(); n = n + y:numel()
    end
    history[#history + 1] = { loss = sum / nb, train_accuracy = ok / n }
    n_float_epochs = n_float_epochs + 1
    print(("%s epoch %d/%d  loss %.4f  train accuracy %.3f  (%.1f s)"):format(tag, e, epochs, sum / nb, ok / n,
      lp.clock() - t0))
  end
end
train_float(EPOCHS, LR, "float")
local function float_out(x) net:reset_state(); return lp.no_grad(function() return readout(x) end) end
local pred_float = predict(float_out, x_test)
local en_float, all_float = score(pred_float)
print(("float test accuracy: english %.3f, all 20 classes %.3f  [%s]"):format(en_float, all_float, stamp()))

-- hardware-aware training -> a quantised specification -------------------------------
local qspec
if NET == "synnet" then
  -- XyloQAT: the mapped network with Xylo Audio 3's integer arithmetic in the
  -- forward pass (lp.xylo.qat's module, trained here with our loss)
  local q = xylo.XyloQAT(a3.mapper(net:as_graph()), { variant = "audio3" })
  local report = { shifts = q.shift_report }
  local opt = lp.optim.Adam(q:parameters(), { lr = QAT_LR })
  for e = 1, QAT_EPOCHS do
    local t0, sum, nb, ok, n = lp.clock(), 0, 0, 0, 0
    for x, y in loader:iter() do
      q:reset_state()
      -- the integer readout membrane back in float units (ko = the output weight scale)
      local ko = 127 * 2 ^ q.weight_shift_out / math.max(1e-12, q.weights_out:detach():abs():max():item())
      local logits = q(x):mean(2) * (LOGIT_SCALE / ko)
      local l = lp.loss.cross_entropy(logits, y)
      opt:zero_grad(); l:backward()
      opt:step()
      sum, nb = sum + l:item(), nb + 1
      ok = ok + logits:detach():argmax(2):eq(y):sum():item(); n = n + y:numel()
    end
    history[#history + 1] = { loss = sum / nb, train_accuracy = ok / n }
    print(("QAT epoch %d/%d  loss %.4f  train accuracy %.3f  (%.1f s)"):format(e, QAT_EPOCHS, sum / nb, ok / n,
      lp.clock() - t0))
  end
  qspec = q:quantized()
  local sh = report.shifts
  print(("QAT weight shifts in/out: %d/%d; relative RMS weight error in %.4f out %.4f"):format(q.weight_shift_in,
    q.weight_shift_out, sh.error["in"], sh.error.out))
  local pred_q = predict(function(x) q:reset_state(); return lp.no_grad(function() return q(x) end) end, x_test)
  local en_q, all_q = score(pred_q)
  print(("QAT forward test accuracy: english %.3f, all %.3f  [%s]"):format(en_q, all_q, stamp()))
else
  -- lp.transform: fine-tune with every weight through 8-bit quantisation, then the Xylo quantiser
  local T_ = lp.transform
  local tnet = T_.make_param_T_network(net, T_.make_param_T_config(net, T_.int_quant { n_bits = 8 }, "weights"))
  local inner = net
  net = tnet
  readout = function(x) return select(3, net(x, true)).spk_out.vmem end
  train_float(QAT_EPOCHS, QAT_LR, "quantisation-aware")
  net = T_.remove_transform(T_.apply_transform(tnet))
  assert(net == inner)
  readout = function(x) return select(3, net(x, true)).spk_out.vmem end
  qspec = xylo.global_quantize(a3.mapper(net:as_graph()))
end

-- deploy: configuration -> image -> virtual board with the front end --------------------
local config, ok, msg = a3.config_from_specification(qspec)
if not ok then fail(1, "invalid configuration: " .. tostring(msg)) end
local image = a3.config_to_image(config)
-- two virtual boards with the same image: one takes front-end rasters (the
-- cached ones), the other audio, through its own front end
local board = a3.VirtualHDK { dt = DT, output_mode = "Vmem" }
board:write_image(image)
local hdk = a3.VirtualHDK { dt = DT, front_end = afe, output_mode = "Vmem" }
hdk:write_image(image)
print(("deployed: %s"):format(tostring(hdk)))

local t0 = lp.clock()
local pred_dep = predict(function(x) board:reset_state(); return (board(x:astype("int32"))) end, x_test)
local en_dep, all_dep, cm = score(pred_dep)
print(("deployed test accuracy: english %.3f, all 20 classes %.3f  (%d test words, %.1f s)")
  :format(en_dep, all_dep, #pred_dep, lp.clock() - t0))

-- the front end in the loop: audio into the board, for every LOOP_EVERY-th
-- test word; on Audio 3 the output must be the raster path's, bit for bit
local sample_rec, n_loop, n_same, n_agree = nil, 0, 0, 0
t0 = lp.clock()
test_ds.transform = nil                  -- the audio itself now, not the raster
for i = 1, #test_meta, LOOP_EVERY do
  local audio = test_ds:get(test_meta[i].index)
  hdk:reset_state()
  if FRONT == "audio2" then afe:reset_state() end
  local out, _, rec = hdk(fixed(audio), i == 1)
  if i == 1 then sample_rec = rec end
  board:reset_state()
  local ref = board(x_test:slice(1, i, i):astype("int32"))
  n_loop = n_loop + 1
  if out:astype("float64"):eq(ref:astype("float64")):all():item() then n_same = n_same + 1 end
  if out[1]:astype("float64"):sum(1):argmax(1):item() == pred_dep[i] then n_agree = n_agree + 1 end
end
print(("front end in the loop (audio into the board): %d test words, output identical to the raster path on %d, " ..
  "same answer on %d  (%.1f s)"):format(n_loop, n_same, n_agree, lp.clock() - t0))

-- clock: the cycles model ---------------------------------------------------------------
local cyc = a3.cycles_model(config)
local clk = a3.est_clock_freq(config, DT)
local cyc_real = a3.cycles_model(config, { input = sample_rec.front_end, hidden = sample_rec.Spikes })
print(("cycles model: %.0f cycles per step worst case, %.0f on test word 1; clock needed at dt = %.2f ms: %.3f MHz (of the chip's %g MHz)")
  :format(cyc, cyc_real, DT * 1e3, clk / 1e6, a3.limits.clock_hz / 1e6))
print("power: limpet's Xylo cycles model gives clock cycles only, no power figure")

-- figures ---------------------------------------------------------------------------------
local labels = {}
for c = 1, NC do labels[c] = lp.data.SpokenDigits.classes[c]:gsub("^%a+:", "") end
local cmt = lp.tensor(cm, "float64")
local fig = lp.plot.figure { rows = 1, cols = 1, width = 1100, height = 1000 }
fig:confusion(1, cmt, { labels = labels, title = ("deployed (%s front end, Audio 3 board): test accuracy %.3f")
  :format(FRONT, all_dep) })
assert(fig:save(OUT .. "/kws_confusion.png"))
fig = lp.plot.figure { rows = 3, cols = 1, width = 1000, height = 1100 }
local y1 = y_test[1]
fig:raster(1, sample_rec.front_end[1]:slice(2, 1, NIN), { dt = DT, title = ("front-end raster: '%s' (%s)")
  :format(lp.data.SpokenDigits.classes[y1], test_meta[1].speaker), ylabel = "band" })
fig:raster(2, sample_rec.Spikes[1], { dt = DT, title = "hidden spikes on the board", ylabel = "neuron" })
fig:traces(3, sample_rec.Vmem_out[1]:astype("float32"), { dt = DT, title = ("readout membranes (class %d is the answer)")
  :format(pred_dep[1]), xlabel = "time (s)" })
assert(fig:save(OUT .. "/kws_rasters.png"))
if #history > 0 then
  fig = lp.plot.figure { rows = 1, cols = 1, width = 800, height = 500 }
  fig:curve(1, history, { title = ("training: epochs 1-%d float, then hardware-aware"):format(n_float_epochs),
    xlabel = "epoch", ylabel = "cross-entropy" })
  assert(fig:save(OUT .. "/kws_training.png"))
end
print(("figures: %s/kws_confusion.png, %s/kws_rasters.png, %s/kws_training.png"):format(OUT, OUT, OUT))
print(("time: %s"):format(stamp()))
print(("result: english_float %.3f english_deployed %.3f all_float %.3f all_deployed %.3f"):format(en_float, en_dep,
  all_float, all_dep))
