-- examples/xylo_imu.lua -- motion classification on Xylo IMU, from raw accelerometer
-- samples to the chip: synthetic IMU recordings -> IMU interface -> SNN on the IMU core.
-- Usage: limpet examples/xylo_imu.lua [--quick] [--out DIR]
--
-- Four motions of a device held in a random orientation, 1.5 s at 200 Hz, in g:
--   rest      gravity and sensor noise only
--   rotation  the device turns about a random axis at 1-2 turns per second
--   shaking   a 4-8 Hz shake along a random direction
--   tapping   a finger tapping the device at 2-4 Hz: short 20-30 Hz knocks
-- The IMU Quantizer (scale 0.49, 16 bits) and Rockpool's default IMU interface (rotation
-- removal, 15 band-pass filters 1-32 Hz, scale spike encoder) turn each recording into
-- 15 event channels at 200 Hz; a Linear -> LIFBitshift -> Linear -> LIFBitshift network
-- is trained on them, mapped to Xylo IMU, quantised, configured and simulated bit-exactly
-- with XyloSim; then the configuration and the IMU interface registers are written as a
-- memory image into a virtual board, which takes the raw samples and must give exactly
-- XyloSim's output. Figures (PNG, in --out): raw samples and IMU IF events of one
-- recording per motion, and the training curve.
local lp = require "limpet"
local nn = lp.nn
local xylo = lp.xylo
local imu = xylo.imu

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
outdir = outdir or os.getenv("TMPDIR") or "/tmp"

lp.seed(11)
math.randomseed(11)
local FS, T = 200.0, 300                      -- 1.5 s at 200 Hz
local dt = 1 / FS
local CLASSES = { "rest", "rotation", "shaking", "tapping" }
local RANGE = 1.4                             -- the sensor saturates here (g)

-- Synthetic recordings ------------------------------------------------------------------

local function unit(v)
  local n = math.sqrt(v[1] ^ 2 + v[2] ^ 2 + v[3] ^ 2)
  return { v[1] / n, v[2] / n, v[3] / n }
end
local function rand_dir() return unit { lp.randn(1):item(), lp.randn(1):item(), lp.randn(1):item() } end

-- Rotation of `v` about unit axis `k` by angle a (Rodrigues).
local function rotate(v, k, a)
  local c, s = math.cos(a), math.sin(a)
  local d = k[1] * v[1] + k[2] * v[2] + k[3] * v[3]
  local x = { k[2] * v[3] - k[3] * v[2], k[3] * v[1] - k[1] * v[3], k[1] * v[2] - k[2] * v[1] }
  return { v[1] * c + x[1] * s + k[1] * d * (1 - c), v[2] * c + x[2] * s + k[2] * d * (1 - c),
           v[3] * c + x[3] * s + k[3] * d * (1 - c) }
end

-- One recording (T, 3) in g and its label (1..4).
local function recording(label)
  local g = rand_dir()                        -- gravity in the device frame at t = 0
  local rows = {}
  local noise = lp.randn({ T, 3 }):totable()
  local axis, freq, amp, phase = rand_dir(), 0, 0, 2 * math.pi * math.random()
  local taps = {}
  if label == 2 then freq = 1 + math.random()
  elseif label == 3 then freq, amp = 4 + 4 * math.random(), 0.15 + 0.2 * math.random()
  elseif label == 4 then                      -- a finger tapping at 2-4 Hz, with jitter
    local period, dir, f = FS / (2 + 2 * math.random()), rand_dir(), 20 + 10 * math.random()
    local t = math.random(1, math.floor(period))
    while t < T do
      taps[#taps + 1] = { t0 = t, dir = dir, f = f, a = 0.5 + 0.3 * math.random() }
      t = t + math.floor(period * (0.8 + 0.4 * math.random()))
    end
  end
  for t = 1, T do
    local time = (t - 1) * dt
    local v = g
    if label == 2 then v = rotate(g, axis, 2 * math.pi * freq * time) end
    local a = { v[1], v[2], v[3] }
    if label == 3 then
      local s = amp * math.sin(2 * math.pi * freq * time + phase)
      for i = 1, 3 do a[i] = a[i] + s * axis[i] end
    end
    for _, tap in ipairs(taps) do
      if t >= tap.t0 then
        local u = (t - tap.t0) * dt
        local s = tap.a * math.exp(-u / 0.03) * math.sin(2 * math.pi * tap.f * u)
        for i = 1, 3 do a[i] = a[i] + s * tap.dir[i] end
      end
    end
    for i = 1, 3 do a[i] = math.max(-RANGE, math.min(RANGE, a[i] + 0.01 * noise[t][i])) end
    rows[t] = a
  end
  return rows
end

local function dataset(n)
  local rows, labels = {}, {}
  for i = 1, n do
    labels[i] = (i - 1) % #CLASSES + 1
    rows[i] = recording(labels[i])
  end
  return lp.tensor(rows, "float64"), lp.tensor(labels, "int64")
end

-- The IMU interface ---------------------------------------------------------------------

local quantizer = imu.Quantizer { scale = 0.49, num_bits = 16 }
local imuif = imu.IMUIFSim {}                  -- Rockpool's defaults
print(tostring(imuif))

local function encode(raw)                     -- (B, T, 3) g -> (B, T, 15) events, float32
  imuif:reset_state()
  return imuif(quantizer(raw)):astype("float32")
end

local n_train, n_test = quick and 96 or 480, quick and 48 or 160
local raw_train, y_train = dataset(n_train)
local raw_test, y_test = dataset(n_test)
local t0 = lp.clock()
local x_train, x_test = encode(raw_train), encode(raw_test)
local secs = lp.clock() - t0
print(("IMU interface: %d recordings (%.0f s of IMU data) in %.3f s, %.0fx real time")
  :format(n_train + n_test, (n_train + n_test) * T / FS, secs, (n_train + n_test) * T / FS / secs))
for c, name in ipairs(CLASSES) do
  local m = y_train:eq(c)
  local ev = x_train[m]:sum():item() / m:astype("int64"):sum():item() / T
  print(("  %-9s %.2f events per step"):format(name, ev))
end

-- Figures of one recording per motion: raw samples (3 traces) and IMU IF events (15 rows).
do
  local raws, evs = {}, {}
  for c = 1, #CLASSES do raws[c] = raw_test[c]; evs[c] = x_test[c] end
  local p1 = outdir .. "/xylo_imu_samples.png"
  local p2 = outdir .. "/xylo_imu_events.png"
  assert(lp.plot.traces(lp.cat(raws, 1), p1, { dt = dt,
    title = "accelerometer (g): rest | rotation | shaking | tapping", ylabel = "x, y, z (staggered)", width = 900 }))
  assert(lp.plot.raster(lp.cat(evs, 1), p2, { dt = dt,
    title = "IMU IF events: rest | rotation | shaking | tapping", ylabel = "channel (5 bands x 3 axes)", width = 900 }))
  print(("wrote %s and %s"):format(p1, p2))
end

-- Training --------------------------------------------------------------------------------

local NIN, NHID, NCLS = 15, 32, #CLASSES
local net = nn.Sequential {
  nn.Linear({ NIN, NHID }),
  nn.LIFBitshift(NHID, { tau_mem = 8 * dt, tau_syn = 4 * dt, threshold = 1, dt = dt }),
  nn.Linear({ NHID, NCLS }),
  -- the readout neurons are read by their membrane potential (Xylo's output_mode "Vmem");
  -- their threshold is out of reach
  nn.LIFBitshift(NCLS, { tau_mem = 8 * dt, tau_syn = 4 * dt, threshold = 100, dt = dt, max_spikes_per_dt = 1 }),
}
local READOUT = "4_LIFBitshift"
local all = net:parameters()
local opt = lp.optim.Adam({ ["1_Linear"] = all["1_Linear"], ["3_Linear"] = all["3_Linear"] }, { lr = 3e-3 })
-- out: the readout's membrane potential (B, T, classes); the answer is its largest mean
local function accuracy(out, labels)
  local pred = out:astype("float32"):mean(2):argmax(2):reshape(-1)
  return pred:eq(labels:astype(pred.dtype)):astype("float32"):mean():item()
end
local steps, B = quick and 150 or 400, 32
-- Event counts reach 15 per step and channel: the float network sees them scaled by
-- IN_SCALE (folded into the first weights before mapping); the loss reads the mean
-- readout membrane potential scaled by OUT_SCALE.
local IN_SCALE, OUT_SCALE = 0.005, 1.0
local losses, accs = {}, {}
t0 = lp.clock()
for step = 1, steps do
  local idx = lp.randint(1, n_train + 1, { B })
  local x, y = x_train[idx] * IN_SCALE, y_train[idx]
  net:reset_state()
  local _, _, rec = net(x, true)
  local out = rec[READOUT].vmem
  local loss = lp.loss.cross_entropy(out:mean(2) * OUT_SCALE, y)
  opt:zero_grad()
  loss:backward()
  opt:step()
  losses[step], accs[step] = loss:item(), accuracy(out, y)
  if step % (steps // 4) == 0 then
    print(("step %4d  loss %.3f  batch accuracy %.2f"):format(step, losses[step], accs[step]))
  end
end
print(("trained in %.1f s"):format(lp.clock() - t0))
local curve = outdir .. "/xylo_imu_training.png"
assert(lp.plot.curve({ loss = losses, ["batch accuracy"] = accs }, curve, { title = "IMU motion SNN", xlabel = "step" }))
print("wrote " .. curve)

-- The input scale is folded into the first weights, so the chip sees raw event counts.
lp.no_grad(function() all["1_Linear"].weight:mul_(IN_SCALE) end)
net:reset_state()
local float_out = lp.no_grad(function() local _, _, r = net(x_test, true); return r[READOUT].vmem end)
print(("float test accuracy: %.2f"):format(accuracy(float_out, y_test)))

-- Map, quantise, configure, simulate ---------------------------------------------------------

local spec = imu.mapper(net:as_graph())
local qspec = xylo.global_quantize(spec)
local config, ok, msg = imu.config_from_specification(qspec)
if not ok then error("invalid configuration: " .. tostring(msg), 0) end
print(tostring(config))
local sim = imu.XyloSim.from_config(config, { dt = dt, output_mode = "Vmem" })
local hw_out = sim(x_test:astype("int32"))
print(("XyloSim test accuracy: %.2f"):format(accuracy(hw_out, y_test)))
local confusion = {}
do
  local pred = hw_out:astype("float32"):mean(2):argmax(2):reshape(-1):totable()
  local truth = y_test:totable()
  for c = 1, NCLS do confusion[c] = { 0, 0, 0, 0 } end
  for i = 1, #truth do confusion[truth[i]][pred[i]] = confusion[truth[i]][pred[i]] + 1 end
  print("confusion (rows: motion, columns: chip's answer):")
  for c, name in ipairs(CLASSES) do print(("  %-9s %s"):format(name, table.concat(confusion[c], " "))) end
end

-- The virtual board: memory image of the SNN and the IMU interface, raw samples in -------------

local image = imu.config_to_image(config, { imu_if = imuif })
print(tostring(image))
local hdk = imu.VirtualHDK { dt = dt, output_mode = "Vmem" }
hdk:write_image(image)
local q_test = quantizer(raw_test)
local board_out = hdk(q_test)
sim:reset_state()
local same = board_out:ne(sim(x_test:astype("int32"))):sum():item() == 0
print(("virtual board on raw IMU samples == XyloSim on IMU IF events: %s"):format(tostring(same)))
print(("virtual board test accuracy: %.2f"):format(accuracy(board_out, y_test)))
if not same then error("the virtual board disagrees with XyloSim", 0) end
