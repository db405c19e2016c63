-- examples/tutorials/25_audio_classification.lua -- Training an audio classification task
-- Rockpool teaches audio classification on the Spiking Heidelberg Digits
-- (SHD): spoken digits zero to nine in English and German, 20 classes,
-- turned into spikes by a model of the inner ear, then a spiking network
-- with a leaky readout trained with cross-entropy. This tutorial does the
-- same with limpet, on spoken digits made on this machine:
-- `lp.data.SpokenDigits` synthesises the same 20 words with espeak-ng and
-- flite (many voices, speeds and pitches, seeded noise), and a front end
-- turns the sound into spikes. Every step is one you would take for SHD
-- itself; the last section says what changes there.
local lp = require "limpet"
local nn = lp.nn
local tut = require "limpet.tutorial"
local opt = tut.options(arg)
lp.seed(25)

-- ## The data set
--
-- `SpokenDigits` is an ordinary limpet data set: `#ds`, `ds:get(i)` ->
-- audio, label, meta. The split is by speaker — a speaker is an (engine,
-- voice, variant) triple — and fixed: the test set holds voices never
-- heard in training, so test accuracy measures generalisation to new
-- speakers, as SHD's test set does. `limit = k` takes the first k speakers
-- (each of the 9 espeak-ng voices with one variant per 9 speakers); the
-- files are synthesised once into a cache folder (`$LIMPET_DATA/SpokenDigits`)
-- and read back through libsndfile.
local limit_train, limit_test = opt.quick and 9 or 90, opt.quick and 9 or 45
local function open(split, limit)
  local ds, err = lp.data.SpokenDigits { split = split, limit = limit }
  -- no espeak-ng (or flite) here: say what is missing and stop
  if not ds then error("25_audio_classification: " .. tostring(err), 0) end
  return ds
end
local train_ds, test_ds = open("train", limit_train), open("test", limit_test)
print(train_ds)
print(test_ds)
local audio, label, meta = train_ds:get(3)
print(("sample 3: class %d (%s), speaker %s, %d wpm, %.2f s at %d Hz, gain %.2f, SNR %.0f dB"):format(label,
  lp.data.SpokenDigits.classes[label], meta.speaker, meta.speed, audio.shape[1] / train_ds.sample_rate,
  train_ds.sample_rate, meta.gain, meta.snr_db))

-- ## From sound to spikes
--
-- SHD's spikes come from a hydrodynamic cochlea model with 700 channels.
-- Here the front end is Xylo Audio 3's digital one (`AFESimExternal`):
-- 16 band-pass filters, a spike generator per band with divisive
-- normalisation (it adapts to the loudness of each band), and a counter
-- that sums each band's spikes over one time step. A step of 488 samples of
-- the chip's 48828.125 Hz clock is about 10 ms, SHD's usual bin. The
-- normaliser's floor `dn_EPS` (a register, 0..65535) is raised from 1 to
-- 32768: at 1 it lifts the background noise between words to the spike
-- rate of speech.
local a3 = lp.xylo.audio3
local afe = a3.AFESimExternal { down_sampling_factor = 488, input_sample_rate = train_ds.sample_rate, dn_EPS = 32768 }
local dt = afe.dt
local raster = afe(audio:reshape(audio.shape[1]):astype("float64"))
print(("front end: %d audio samples -> %d steps of %.2f ms x %d bands, %d events"):format(audio.shape[1],
  raster.shape[2], dt * 1e3, raster.shape[3], raster:sum():item()))
local fig = lp.plot.figure { rows = 2, cols = 1, width = 900, height = 700 }
fig:traces(1, audio:astype("float32"), { dt = 1 / train_ds.sample_rate, title = ("'%s' spoken by %s"):format(
  meta.word, meta.speaker), ylabel = "amplitude" })
fig:raster(2, raster[1], { dt = dt, title = "front-end events per step", xlabel = "time (s)", ylabel = "band" })
assert(fig:save(tut.figure("sample")))

-- ## Encoding once: a transform and a disk cache
--
-- The front end costs more than a training step, so each sample is encoded
-- once: the data set's `transform` makes the raster and `lp.data.DiskCache`
-- keeps it on disk (one .npz per sample, checked on every read), as Tonic's
-- caches do for SHD. `DataLoader` batches the cached rasters, padding the
-- shorter words with silence at the end.
local function encode(x)
  -- the converter is 14-bit: full scale (where the augmentation clips) goes to its largest code
  return afe(x:reshape(x.shape[1]):astype("float64"):clamp(-8191 / 8192, 8191 / 8192))[1]:astype("float32")
end
train_ds.transform, test_ds.transform = encode, encode
local cache_dir = opt.out .. "-cache/25_audio_classification"    -- beside the pages, not among them
local train_c = assert(lp.data.DiskCache { dataset = train_ds, path = cache_dir .. "/train", transform_key = "afe3-488-eps32768" })
local test_c = assert(lp.data.DiskCache { dataset = test_ds, path = cache_dir .. "/test", transform_key = "afe3-488-eps32768" })
local train_loader = lp.data.DataLoader { dataset = train_c, batch_size = 32, shuffle = true, seed = 1 }
local test_loader = lp.data.DataLoader { dataset = test_c, batch_size = 128 }
local x0, y0 = train_loader:iter()()
print(("a batch: x (%s) %s, y (%d) %s"):format(table.concat(x0.shape, ", "), x0.dtype, y0.shape[1], y0.dtype))

-- ## The network
--
-- As in Rockpool's SHD tutorial: a linear layer into recurrent LIF neurons,
-- and a linear readout into leaky synapses (`ExpSyn`) that integrate the
-- hidden spikes into one trace per class. The class is the readout summed
-- over time; the loss is the cross-entropy of the readout's mean. Inputs
-- carry up to 15 events per step, so the input weights start small.
local H = opt.quick and 64 or 128
local net = nn.Sequential {
  nn.Linear({ 16, H }, { weight = lp.randn(16, H) * 0.05 }),
  nn.LIF(H, { tau_mem = nn.Constant(40e-3), tau_syn = nn.Constant(20e-3), has_rec = true, dt = dt }),
  nn.Linear({ H, 20 }, { weight = lp.randn(H, 20) * 0.1 }),
  nn.ExpSyn(20, { tau = nn.Constant(40e-3), dt = dt }),
}
lp.no_grad(function() net["2_LIF"].w_rec:mul_(0.1) end)
print(net)

-- ## Training
--
-- `lp.train.fit` runs the loop, with the test speakers as validation data
-- (`metrics = {"accuracy"}` takes the argmax of the output summed over
-- time). The gradient norm is clipped: recurrent spiking networks have
-- the odd steep step.
local epochs = opt.quick and 6 or 20
local optimizer = lp.optim.Adam(net:parameters(), { lr = 3e-3 })
local hist = lp.train.fit {
  net = net,
  loss = function(out, y) return lp.loss.cross_entropy(out:mean(2), y) end,
  data = train_loader, val_data = test_loader, epochs = epochs, optimizer = optimizer,
  metrics = { "accuracy" }, clip_grad_norm = 1.0, progress = false,
  on_epoch = function(e, s)
    print(("epoch %2d  train loss %.3f acc %.3f  |  test loss %.3f acc %.3f"):format(e, s.train_loss,
      s.train_accuracy, s.val_loss, s.val_accuracy))
  end,
}
assert(lp.plot.curve({ train_loss = hist.train_loss, test_loss = hist.val_loss, train_accuracy = hist.train_accuracy,
  test_accuracy = hist.val_accuracy }, tut.figure("history"), { xlabel = "epoch", ylabel = "cross-entropy",
  ylabel_right = "accuracy" }))

-- ## Results on unseen speakers
--
-- A confusion matrix over the test speakers, and the accuracy for each
-- language. German is spoken by one voice of nine (espeak-ng's; flite has
-- no German), so it has a ninth of the speakers: with `--quick` the network
-- hears a single German speaker and German stays near chance; the full run
-- (without `--quick`) trains on ten.
local cm = {}
for c = 1, 20 do cm[c] = {} for d = 1, 20 do cm[c][d] = 0 end end
local ok = { en = 0, de = 0 }
local n = { en = 0, de = 0 }
net:reset_state()
for x, y in test_loader:iter() do
  net:reset_state()
  local pred = lp.no_grad(function() return net(x) end):sum(2):argmax(2)
  for i = 1, y:numel() do
    local t, p = y[i], pred[i]
    local lang = t <= 10 and "en" or "de"
    cm[t][p] = cm[t][p] + 1
    n[lang] = n[lang] + 1
    if t == p then ok[lang] = ok[lang] + 1 end
  end
end
for _, lang in ipairs { "en", "de" } do
  print(("%s: %d of %d test words right (%.1f %%)"):format(lang, ok[lang], n[lang], 100 * ok[lang] / math.max(1, n[lang])))
end
local labels = {}
for c = 1, 20 do labels[c] = lp.data.SpokenDigits.classes[c]:gsub("^%a+:", "") end
assert(lp.plot.confusion(lp.tensor(cm, "float64"), tut.figure("confusion"), { labels = labels,
  title = "test speakers: true class (rows) vs predicted", width = 1000, height = 900 }))

-- ## What the network does
--
-- One test word through the trained network: the input events, the
-- hidden spikes and the 20 readout traces, the largest belonging (one
-- hopes) to the word spoken.
local xw, yw = test_c:get(1)
net:reset_state()
local out, _, rec = lp.no_grad(function() return net(xw:unsqueeze(1), true) end)
fig = lp.plot.figure { rows = 3, cols = 1, width = 900, height = 1000 }
fig:raster(1, xw, { dt = dt, title = ("input: '%s'"):format(lp.data.SpokenDigits.classes[yw]), ylabel = "band" })
fig:raster(2, rec["2_LIF"].spikes[1], { dt = dt, title = "hidden spikes", ylabel = "neuron" })
fig:traces(3, out[1], { dt = dt, title = ("readout (answer: %s)"):format(
  lp.data.SpokenDigits.classes[out[1]:sum(1):argmax(1):item()]), xlabel = "time (s)" })
assert(fig:save(tut.figure("word")))
print(("hidden spikes on this word: %d (%.1f per neuron per second)"):format(rec["2_LIF"].spikes:sum():item(),
  rec["2_LIF"].spikes:sum():item() / (H * xw.shape[1] * dt)))

-- ## With the real SHD
--
-- `lp.data.SHD{split = "train"}` reads `shd_train.h5` and `shd_test.h5`
-- from `$LIMPET_DATA/SHD` (zenkelab.org's files); its samples are events
-- (time, channel 1..700), which `lp.data.transforms.ToFrame` bins into the
-- same (T, N) counts as above — so the cache, loader, network (with 700
-- inputs) and loop stay as they are. `examples/shd_training.lua` is that
-- script. To deploy such a network to Xylo Audio, use the chip's own
-- front end as here, a network that maps to the chip and hardware-aware
-- training: `examples/xylo_kws.lua` does it end to end.
