-- examples/tutorials/19_xylo_afe.lua -- Using the analog front end model
-- Before a Xylo Audio SNN sees anything, a front end turns sound into
-- events: a bank of 16 band-pass filters, one spike generator per band, and
-- a counter that sums the spikes of each band over one SNN time step. Xylo
-- Audio 2 does this with analog circuits; limpet models them in
-- `lp.xylo.audio2.AFESim` (an empirical float64 model, with the circuit's
-- noise, offsets and mismatch as options). Xylo Audio 3 does it digitally;
-- `lp.xylo.audio3.AFESimExternal` (audio from an external converter) and
-- `AFESimPDM` (a PDM microphone) reproduce its integer arithmetic bit for
-- bit. This tutorial sends a chirp through both, looks at every stage,
-- measures the filter banks' frequency responses, and finally plugs a front
-- end into a virtual Xylo board so that audio goes in and SNN output comes
-- out.
local lp = require "limpet"
local nn = lp.nn
local tut = require "limpet.tutorial"
local opt = tut.options(arg)
local xylo = lp.xylo
local a2, a3 = xylo.audio2, xylo.audio3
lp.seed(19)

-- ## A test sound
--
-- A logarithmic chirp sweeps from 50 Hz to 20 kHz, so it passes through
-- every band in turn, low bands first. Audio 3's front end runs at
-- 48828.125 Hz (`a3.AUDIO_SAMPLING_RATE`); we synthesise the chirp at that
-- rate. Samples are floats in (−1, 1), full scale being the converter's.
local FS3 = a3.AUDIO_SAMPLING_RATE
local dur = opt.quick and 0.4 or 1.0
local function chirp(seconds, fs, f0, f1, amp)
  local n, x, phase = math.floor(seconds * fs), {}, 0
  local k = math.log(f1 / f0) / seconds
  for i = 1, n do
    phase = phase + 2 * math.pi * f0 * math.exp(k * (i - 1) / fs) / fs
    x[i] = amp * math.sin(phase)
  end
  return lp.tensor(x, "float64")
end
local sound = chirp(dur, FS3, 50, 20000, 0.5)
print(("chirp: %d samples at %.3f Hz (%.2f s)"):format(sound.shape[1], FS3, dur))

-- ## Xylo Audio 3: the digital front end
--
-- `AFESimExternal` quantises the audio to 14 bits, filters it with the
-- chip's 16 integer Butterworth band-pass filters, turns each band into
-- spikes by divisive normalisation (a spike whenever the band's rectified
-- output exceeds a slowly adapting multiple of its own average, so loud and
-- quiet sounds give similar rates), and counts spikes per SNN step.
-- `down_sampling_factor` sets that step in audio samples: 488 samples is
-- about 10 ms. With `record = true` the record holds every stage.
local afe3 = a3.AFESimExternal { down_sampling_factor = 488 }
print(afe3)
local raster3, _, rec3 = afe3(sound, true)
local function shape(t) return "(" .. table.concat(t.shape, ", ") .. ") " .. t.dtype end
for _, k in ipairs { "quantized", "filterbank", "spikes" } do print(("record.%-10s %s"):format(k, shape(rec3[k]))) end
print(("raster (1, %d, %d): %d events at dt = %.2f ms; at most %d per channel and step"):format(
  raster3.shape[2], raster3.shape[3], raster3:sum():item(), afe3.dt * 1e3, raster3:max():item()))

-- The filter outputs are integers at the audio rate. We plot every 20th
-- sample of each band, scaled to its own peak; the chirp lights the bands
-- one after another. Below, the raster the SNN receives.
local function thin(fb, step)          -- (T, N) -> every step-th row, each column scaled to peak 1
  local T, N = fb.shape[1], fb.shape[2]
  local m = math.floor(T / step)
  local x = fb:slice(1, 1, m * step):astype("float64"):contiguous():reshape(m, step, N):slice(2, 1, 1):reshape(m, N)
  return x / x:abs():max(1):clamp(1e-12, math.huge)
end
local fig = lp.plot.figure { rows = 2, cols = 1, width = 900, height = 900 }
fig:traces(1, thin(rec3.filterbank[1], 20), { dt = 20 / FS3, stagger = 2.2,
  title = "Xylo Audio 3 filter bank (each band scaled to its peak)", ylabel = "band (1 = lowest)" })
fig:raster(2, raster3[1], { dt = afe3.dt, title = "Xylo Audio 3 raster: events per 10 ms", ylabel = "band" })
assert(fig:save(tut.figure("audio3_chirp")))

-- Each stage is also a module of its own (`a3.AudioQuantizer`,
-- `a3.ChipButterworth`, `a3.DivisiveNormalization`, `a3.Raster`, and for
-- the microphone path `a3.MicrophonePDM`, `a3.PolyPhaseFIR`). The PDM path
-- takes the same audio through a model of a PDM microphone and the chip's
-- decimation filter; its raster follows the same sweep but differs in
-- detail (the microphone model adds its own quantisation noise).
local pdm = a3.AFESimPDM { down_sampling_factor = 488 }
local raster_pdm = pdm(sound)
print(("PDM path: %d events; %d of %d raster entries differ from the external path"):format(
  raster_pdm:sum():item(), raster_pdm:ne(raster3):sum():item(), raster3:numel()))

-- ## Xylo Audio 2: the analog front end model
--
-- `AFESim` models the analog chain: microphone and low-noise amplifier,
-- 16 second-order band-pass filters, full-wave rectifiers, integrate-and-
-- fire spike generators and a digital counter that passes on one spike in
-- `DIGITAL_COUNTER`. Its input is in volts (here 100 mV peak) at `fs`
-- (110 kHz by default; other rates are resampled, `input_sample_rate`).
-- Noise, offsets and mismatch are on by default, as on a real chip; we turn
-- them off to see the design. The model outputs spikes at `fs`;
-- `afe:raster` counts them per `raster_period` (10 ms).
local afe2 = a2.AFESim { input_sample_rate = FS3, add_noise = false, add_offset = false, add_mismatch = false }
print(afe2)
local spikes2, _, rec2 = afe2(sound * 0.2, true)
local raster2 = afe2:raster(spikes2)
print(("Audio 2: %d spikes at %g kHz, raster (1, %d, %d) with %d events"):format(spikes2:sum():item(), afe2.fs / 1e3,
  raster2.shape[2], raster2.shape[3], raster2:sum():item()))
for _, k in ipairs { "mic_out", "LNA_out", "BPF", "rect", "spikes_pre_counter" } do
  print(("record.%-18s %s"):format(k, shape(rec2[k])))
end

-- The same chirp through the analog model: band-pass outputs and raster.
-- The analog bands are narrower at the bottom (40 Hz ... 17 kHz) than
-- Audio 3's (100 Hz ... 17 kHz).
fig = lp.plot.figure { rows = 2, cols = 1, width = 900, height = 900 }
fig:traces(1, thin(rec2.BPF[1], 40), { dt = 40 / afe2.fs, stagger = 2.2,
  title = "Xylo Audio 2 band-pass filters (each scaled to its peak)", ylabel = "band (1 = lowest)" })
fig:raster(2, raster2[1], { dt = afe2.raster_period, title = "Xylo Audio 2 raster: events per 10 ms", ylabel = "band" })
assert(fig:save(tut.figure("audio2_chirp")))

-- ## Frequency responses
--
-- To see what each band hears, we play pure tones at log-spaced
-- frequencies (one batch row per tone), measure each filter's RMS output
-- over the second half of the tone, and express it in dB relative to that
-- filter's largest response. The frequency with the largest response is
-- the filter's measured centre; the design centres are in
-- `a3.design_centres` and `afe2.design_fcs`.
local NF = opt.quick and 32 or 80
local freqs = {}
for i = 1, NF do freqs[i] = 50 * (20000 / 50) ^ ((i - 1) / (NF - 1)) end
local function tones(fs, seconds, amp)
  local n, rows = math.floor(seconds * fs), {}
  for i, f in ipairs(freqs) do
    local r = {}
    for k = 1, n do r[k] = amp * math.sin(2 * math.pi * f * (k - 1) / fs) end
    rows[i] = r
  end
  return lp.tensor(rows, "float64")
end
local function gains(y)                 -- (B, T, 16) -> (B, 16) dB re each column's peak
  local T = y.shape[2]
  local h = y:slice(2, math.floor(T / 2) + 1, T):astype("float64")
  local rms = (h * h):mean(2):sqrt():reshape(y.shape[1], y.shape[3])
  return (rms / rms:max(1):clamp(1e-30, math.huge)):clamp(1e-6, math.huge):log() * (20 / math.log(10))
end
local function peaks(g)
  local t, out = g:totable(), {}
  for c = 1, #t[1] do
    local best, bf = -math.huge, 0
    for i = 1, #t do if t[i][c] > best then best, bf = t[i][c], freqs[i] end end
    out[c] = bf
  end
  return out
end

local g3 = gains(a3.ChipButterworth {}(a3.AudioQuantizer {}(tones(FS3, opt.quick and 0.1 or 0.3, 0.5))))
local fe2 = a2.AFESim { add_noise = false, add_offset = false, add_mismatch = false }
local _, _, rtones = fe2(tones(fe2.fs, opt.quick and 0.08 or 0.2, 0.05), true)
local g2 = gains(rtones.BPF)
local p3, p2 = peaks(g3), peaks(g2)
print("band   Audio 3: design  measured   Audio 2: design  measured   (Hz)")
for c = 1, 16 do
  print(("%4d   %16.0f %9.0f   %16.0f %9.0f"):format(c, a3.design_centres[c], p3[c], fe2.design_fcs[c], p2[c]))
end

-- With only a few tones (in `--quick`) the measured peaks are as coarse as
-- the tone grid; the full run uses 80 tones.
fig = lp.plot.figure { rows = 2, cols = 1, width = 900, height = 900 }
local xl = ("tone (%d, log-spaced 50 Hz ... 20 kHz)"):format(NF)
fig:traces(1, g3, { stagger = 0, title = "Xylo Audio 3 filter bank: gain per tone", xlabel = xl, ylabel = "dB" })
fig:traces(2, g2, { stagger = 0, title = "Xylo Audio 2 filter bank: gain per tone", xlabel = xl, ylabel = "dB" })
assert(fig:save(tut.figure("frequency_response")))

-- ## Audio in, SNN output out: a virtual board with a front end
--
-- `VirtualHDK` is a virtual Xylo board: it takes the register and memory
-- writes a transport would send, rebuilds the configuration from them, and
-- simulates it with `XyloSim`. Made with `{front_end = afe}` it takes audio
-- instead of events: the front end's raster feeds SNN inputs 1..16, and
-- the record carries the raster (`front_end`) and the front end's own
-- record (`afe`). Give the board and the network the front end's `dt`.
--
-- The network here is untrained: 16 band inputs, 32 hidden
-- neurons with a fast and a slow synapse each, 4 outputs. (Training for
-- Xylo is in tutorial 18.)
local Nin, N, Nout = 16, 32, 4
local tau_syn = lp.tensor({ { 20e-3, 80e-3 } }):expand(N, 2):contiguous()
local net = nn.Sequential {
  nn.Linear({ Nin, 2 * N }, { weight = lp.randn(Nin, 2 * N) * 0.05 }),
  nn.LIFBitshift({ 2 * N, N }, { tau_mem = 40e-3, tau_syn = tau_syn, dt = afe3.dt, max_spikes_per_dt = 1 }),
  nn.Linear({ N, Nout }, { weight = lp.randn(N, Nout) * 0.1 }),
  nn.LIFBitshift(Nout, { tau_mem = 40e-3, tau_syn = 40e-3, dt = afe3.dt, max_spikes_per_dt = 1 }),
}
local spec = a3.mapper(net:as_graph())
local config, ok, msg = a3.config_from_specification(xylo.global_quantize(spec))
assert(ok, msg)

local hdk = a3.VirtualHDK { dt = afe3.dt, front_end = afe3 }
hdk:write_image(a3.config_to_image(config))
local out, _, rec = hdk(sound, true)
print(("board: %d audio samples -> raster of %d steps -> %d hidden spikes; output spikes per channel %s"):format(
  sound.shape[1], rec.front_end.shape[2], rec.Spikes:sum():item(), lp.format(out[1]:sum(1))))

-- The board's answer is the same as running the front end and `XyloSim`
-- one after the other:
local direct = a3.XyloSim.from_config(config, { dt = afe3.dt })(raster3:astype("int32"))
print("same as front end then XyloSim:", direct:astype("int64"):eq(out:astype("int64")):all():item())

fig = lp.plot.figure { rows = 3, cols = 1, width = 900, height = 1000 }
fig:raster(1, rec.front_end[1], { dt = afe3.dt, title = "front-end raster (SNN input)", ylabel = "band" })
fig:raster(2, rec.Spikes[1], { dt = afe3.dt, title = "hidden spikes", ylabel = "neuron" })
fig:raster(3, out[1], { dt = afe3.dt, title = "output spikes", xlabel = "time (s)", ylabel = "output" })
assert(fig:save(tut.figure("board")))

-- An Audio 2 board takes the analog model the same way:
-- `a2.VirtualHDK{dt = 0.01, front_end = a2.AFESim{...}}`, with the SNN's
-- `dt` set to the model's `raster_period` (10 ms by default).
