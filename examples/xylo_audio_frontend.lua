-- examples/xylo_audio_frontend.lua -- sound into spikes the way Xylo Audio does it.
-- Usage: limpet examples/xylo_audio_frontend.lua [--quick] [--out DIR]
--
-- A synthesised chirp (50 Hz → 20 kHz) and a spoken word (Debian's espeak-ng
-- writes the WAV; read with lp.audio.load) go through
--   * the Xylo Audio 3 digital front end, both input paths: the external
--     path (resample, 14-bit quantiser) and the PDM path (microphone model,
--     decimation FIR), then the integer filter bank, divisive normalisation
--     and the raster at the SNN's dt (lp.xylo.audio3.AFESimExternal / AFESimPDM);
--   * the Xylo Audio 2 analog front-end model (lp.xylo.audio2.AFESim: 16
--     analog band-pass filters, rectifiers, IAF spike generators, counter).
-- Figures (PNG, lp.plot) in DIR (default build/examples/xylo_audio_frontend):
-- the filter-bank outputs and the spike rasters of both front ends for each
-- sound, and the measured frequency responses of both filter banks; the
-- measured peaks are printed next to the design centres of reference/xylo.md §11.
local lp = require "limpet"
local a3, a2 = lp.xylo.audio3, lp.xylo.audio2

local quick, outdir = false, "build/examples/xylo_audio_frontend"
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
assert(os.execute(("mkdir -p '%s'"):format(outdir)), "cannot create " .. outdir)
local function out(name) return outdir .. "/" .. name end

local FS3 = a3.AUDIO_SAMPLING_RATE            -- 48828.125 Hz
local FS2 = 110e3                             -- the Audio 2 model's rate

-- ---- the sounds -------------------------------------------------------------------

-- a logarithmic chirp from f0 to f1 over `dur` seconds at fs, amplitude a
local function chirp(dur, fs, f0, f1, a)
  local n, x, ph = math.floor(dur * fs), {}, 0
  local k = math.log(f1 / f0) / dur
  for i = 1, n do
    local t = (i - 1) / fs
    ph = ph + 2 * math.pi * f0 * math.exp(k * t) / fs
    x[i] = a * math.sin(ph)
  end
  return lp.tensor(x, "float64")
end

local sounds = { { name = "chirp", samples = chirp(quick and 0.4 or 1.0, FS3, 50, 20000, 0.5), rate = FS3 } }

-- the spoken word, through espeak-ng (skipped with a note when it is not installed)
do
  local wav = out("word.wav")
  local ok = os.execute(("espeak-ng -w '%s' 'seven' 2>/dev/null"):format(wav))
  local s, rate = nil, nil
  if ok then s, rate = lp.audio.load(wav) end
  if s then
    if s:dim() == 2 then s = s:mean(2) end
    s = s / math.max(s:abs():max():item(), 1e-9) * 0.5        -- peak 0.5 of full scale
    if quick then s = s:slice(1, 1, math.min(s.shape[1], math.floor(0.4 * rate))) end
    sounds[#sounds + 1] = { name = "word", samples = s, rate = rate }
    print(("spoken word: %s, %d samples at %d Hz (%.2f s)"):format(wav, s.shape[1], rate, s.shape[1] / rate))
  else
    print("note: espeak-ng is not installed or failed; the spoken word is skipped (apt-get install espeak-ng)")
  end
end

-- ---- helpers for the figures -----------------------------------------------------------

-- (T, N) filter-bank output -> every `step`-th row, each channel scaled to peak 1
local function normalise(fb, step)
  local T, N = fb.shape[1], fb.shape[2]
  local m = math.floor(T / step)
  local x = fb:slice(1, 1, m * step):astype("float64"):contiguous():reshape(m, step, N):slice(2, 1, 1):reshape(m, N)
  local peak = x:abs():max(1):clamp(1e-12, math.huge)
  return x / peak
end

local function plot_fb(fb, fs, path, title)
  local step = math.max(1, math.floor(fb.shape[1] / 3000))
  local x = normalise(fb, step)
  assert(lp.plot.traces(x, path, { dt = step / fs, stagger = 2.2, title = title, ylabel = "filter (1 = lowest)",
    width = 900, height = 520 }))
end

local function plot_raster(r, dt, path, title)
  assert(lp.plot.raster(r, path, { dt = dt, title = title, ylabel = "channel (1 = lowest band)", width = 900, height = 360 }))
end

-- ---- both front ends on each sound ----------------------------------------------------------

local ext, pdm = nil, nil
local afe2 = a2.AFESim { fs = FS2, add_noise = false, add_mismatch = false, add_offset = false }
for _, snd in ipairs(sounds) do
  local x = snd.samples
  ext = a3.AFESimExternal { input_sample_rate = snd.rate, down_sampling_factor = 488 }   -- dt ≈ 10 ms
  pdm = a3.AFESimPDM { input_sample_rate = snd.rate, down_sampling_factor = 488 }
  local t0 = os.clock()
  local r_ext, _, rec = ext(x, true)
  local t1 = os.clock()
  local r_pdm, _, rec_pdm = pdm(x, true)
  local t2 = os.clock()
  afe2 = a2.AFESim { fs = FS2, input_sample_rate = snd.rate, add_noise = false, add_mismatch = false, add_offset = false }
  local spk2, _, rec2 = afe2(x * 0.2, true)                   -- volts: peak 100 mV
  local r2 = afe2:raster(spk2)
  local t3 = os.clock()
  local dur = x.shape[1] / snd.rate
  print(("%-6s %.2f s of audio: Audio 3 external %d spikes (%.0fx real time), PDM %d spikes (%.0fx), " ..
         "Audio 2 %d spikes (%.0fx)"):format(snd.name, dur, r_ext:sum():item(), dur / math.max(t1 - t0, 1e-9),
         r_pdm:sum():item(), dur / math.max(t2 - t1, 1e-9), r2:sum():item(), dur / math.max(t3 - t2, 1e-9)))
  local agree = r_ext:ne(r_pdm):sum():item()
  print(("       raster entries where the external and PDM paths differ: %d of %d (the PDM microphone adds its own noise)")
    :format(agree, r_ext:numel()))
  plot_fb(rec.filterbank:reshape(rec.filterbank.shape[2], -1), FS3, out(snd.name .. "_a3_filterbank.png"),
    "Xylo Audio 3 filter bank: " .. snd.name)
  plot_raster(r_ext:reshape(r_ext.shape[2], -1), ext.dt, out(snd.name .. "_a3_raster.png"),
    ("Xylo Audio 3 spikes per %.1f ms: %s (external path)"):format(ext.dt * 1e3, snd.name))
  plot_raster(r_pdm:reshape(r_pdm.shape[2], -1), pdm.dt, out(snd.name .. "_a3_pdm_raster.png"),
    ("Xylo Audio 3 spikes per %.1f ms: %s (PDM path)"):format(pdm.dt * 1e3, snd.name))
  plot_fb(rec2.BPF:reshape(rec2.BPF.shape[2], -1), FS2, out(snd.name .. "_a2_filterbank.png"),
    "Xylo Audio 2 band-pass filters: " .. snd.name)
  plot_raster(r2:reshape(r2.shape[2], -1), afe2.raster_period, out(snd.name .. "_a2_raster.png"),
    ("Xylo Audio 2 spikes per %g ms: %s"):format(afe2.raster_period * 1e3, snd.name))
end

-- ---- measured frequency responses -------------------------------------------------------------

-- tones at log-spaced frequencies, one batch row each; gain = output RMS over the
-- second half of each tone / input RMS, in dB, normalised to each filter's peak
local NF = quick and 40 or 80
local freqs = {}
for i = 1, NF do freqs[i] = 50 * (20000 / 50) ^ ((i - 1) / (NF - 1)) end

local function tones(fs, dur, amp)
  local n, rows = math.floor(dur * fs), {}
  for i, f in ipairs(freqs) do
    local r = {}
    for k = 1, n do r[k] = amp * math.sin(2 * math.pi * f * (k - 1) / fs) end
    rows[i] = r
  end
  return lp.tensor(rows, "float64")
end

local function response(y)   -- y (B, T, 16) -> gains (B, 16) in dB re the column peak
  local T = y.shape[2]
  local h = y:slice(2, math.floor(T / 2) + 1, T):astype("float64")
  local rms = (h * h):mean(2):sqrt():reshape(y.shape[1], y.shape[3])
  local peak = rms:max(1):clamp(1e-30, math.huge)
  return ((rms / peak):clamp(1e-6, math.huge)):log() * (20 / math.log(10))
end

local function report(name, gains, centres, actual, path)
  -- peak frequency per filter (the tone with the largest output)
  local g = gains:totable()
  print(("%s filter bank: measured peak (Hz) vs design centre (Hz)%s"):format(name, actual and " vs reference's measured centre" or ""))
  for c = 1, #centres do
    local best, bf = -math.huge, 0
    for i = 1, #freqs do if g[i][c] > best then best, bf = g[i][c], freqs[i] end end
    print(("  filter %2d  %8.0f  %8.0f%s"):format(c, bf, centres[c], actual and ("  %8.0f"):format(actual[c]) or ""))
  end
  assert(lp.plot.traces(gains, path, { stagger = 0, title = name .. " filter bank: gain per tone",
    xlabel = ("tone (%d, log-spaced 50 Hz ... 20 kHz)"):format(#freqs),
    ylabel = "gain (dB, each filter's peak = 0)", width = 900, height = 520 }))
end

do
  local fb3 = a3.ChipButterworth {}
  local q = a3.AudioQuantizer {}(tones(FS3, quick and 0.15 or 0.3, 0.5))
  local y3 = fb3(q)
  report("Xylo Audio 3", response(y3), a3.design_centres, a3.actual_centres, out("a3_frequency_response.png"))
  local fe2 = a2.AFESim { fs = FS2, add_noise = false, add_mismatch = false, add_offset = false }
  local _, _, rec2 = fe2(tones(FS2, quick and 0.1 or 0.2, 0.05), true)
  report("Xylo Audio 2", response(rec2.BPF), fe2.design_fcs, nil, out("a2_frequency_response.png"))
end

print("figures in " .. outdir)
