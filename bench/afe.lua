-- bench/afe.lua -- the Xylo audio front ends (issue 10): 10 s of 48.8 kHz
-- audio (a speech-like signal: harmonic chirps under an envelope, plus noise,
-- peak 0.5) through the Audio 3 external path (resample-free: the audio is at
-- 48828.125 Hz; quantiser, filter bank and DN with the boundary trick, raster),
-- the Audio 3 PDM path (microphone model at 1.5625 MHz, decimation FIR, then
-- the same chain), the PDM path fed with ready PDM bits, and the Audio 2
-- model (resampled to 110 kHz, all 16 analog channels, noise and mismatch off).
-- One core. Targets: A3 external >= 1000x real time, PDM >= 200x, A2 >= 100x.
-- Reported as ms per 10 s of audio and x real time (median of the runs).
-- Recorded on one core of the 2-vCPU AMD EPYC (Zen 4) VM, gcc 12 -O2 with the
-- AVX2 kernels, while the machine ran other jobs (load average 7-9), so
-- medians vary by 2-3x between runs; best runs, ms per 10 s (x real time):
--   A3 external 38 (x261) -- stages alone, best of 5: filter bank 10, DN 20,
--     quantiser 1 ms: x300 on a quiet core, short of x1000;
--   A3 PDM from audio 256 min (x28-39) -- the float64 delta-sigma loop (1.56 M
--     steps per s of audio) is latency bound: every step needs s += d / fs on
--     the previous state (a division the reference makes; a reciprocal would
--     change bits), ~25 cycles, so x200 is out of reach for the exact model;
--   A3 PDM from bits 97 (x100), A2 at 110 kHz 184 (x54 in the 2 s runs).
package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/lib/?.lua;" .. package.path
local lp = require "limpet"
local H = require "harness"

local FS = 48828.125
local SECONDS = H.quick and 2 or 10
local T = math.floor(SECONDS * FS)

-- the test signal, built once in Lua
local x = {}
do
  local seed = 12345
  local function rnd() seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648 end
  local phase = 0
  for i = 1, T do
    local t = (i - 1) / FS
    local f0 = 120 + 80 * math.sin(2 * math.pi * 0.7 * t)
    phase = phase + 2 * math.pi * f0 / FS
    local env = 0.5 + 0.5 * math.sin(2 * math.pi * 3 * t)
    local v = 0
    for h = 1, 8 do v = v + math.sin(h * phase) / h end
    x[i] = 0.5 * (0.18 * env * v + 0.02 * (rnd() - 0.5))
  end
end
local audio = lp.tensor(x, "float64")
local a3, a2 = lp.xylo.audio3, lp.xylo.audio2
local reps = H.quick and 2 or 3

local function run(name, target, fn)
  local med, min = H.time(fn, reps, 1)
  local per10 = med * 10 / SECONDS
  H.report(name, med, min, nil, ("%.1f ms per 10 s of audio  x%.0f real time  (target x%d)"):format(
    per10, 10000 / per10, target))
end

local ext = a3.AFESimExternal {}
run("Audio 3 AFESimExternal", 1000, function() ext(audio) end)
local pdm = a3.AFESimPDM {}
run("Audio 3 AFESimPDM (microphone model)", 200, function() pdm(audio) end)
local _, _, rec = pdm(audio:slice(1, 1, 1000), true)
local bits = lp.xylo.audio3.MicrophonePDM {}(audio):reshape(-1)
run("Audio 3 AFESimPDM (PDM bits in)", 200, function() pdm(bits) end)
local afe2 = a2.AFESim { fs = 110e3, input_sample_rate = FS, add_noise = false, add_mismatch = false, add_offset = false }
run("Audio 2 AFESim (110 kHz)", 100, function() afe2:reset_state(); afe2(audio) end)
