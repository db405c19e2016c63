-- bench/imu.lua -- speed of the Xylo IMU interface (issue 10): 60 s of 3-axis IMU
-- samples at 200 Hz (T = 12,000; a device turning, shaking and at rest, quantised to
-- 16 bits) through IMUIFSim, one core, reported as x real time. Target: >= 10,000x.
-- Lines: the whole interface with rotation removal (the default), with the JSVD
-- bypassed, with the IAF encoder, and its stages alone (covariance filter +
-- sample-and-hold, rotation with a JSVD every 10 samples, the 15-filter bank).
package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/lib/?.lua;" .. package.path
local lp = require "limpet"
local H = require "harness"
local imu = lp.xylo.imu

local FS = 200.0
local SECONDS = H.quick and 20 or 60
local T = math.floor(SECONDS * FS)

-- the signal: gravity turning about a slow axis, a 6 Hz shake in bursts, noise (g)
local rows = {}
math.randomseed(5)
for t = 1, T do
  local s = (t - 1) / FS
  local a = 2 * math.pi * 0.3 * s
  local shake = (math.floor(s) % 3 == 1) and 0.3 * math.sin(2 * math.pi * 6 * s) or 0
  rows[t] = { math.sin(a) * 0.8 + shake + 0.01 * (math.random() - 0.5),
              math.cos(a) * 0.5 + 0.01 * (math.random() - 0.5),
              0.3 + 0.5 * math.cos(a) * math.sin(a) - shake + 0.01 * (math.random() - 0.5) }
end
local x = imu.Quantizer { scale = 0.49 }(lp.tensor(rows, "float64"))
rows = nil
collectgarbage()

local function line(name, fn)
  local med, min = H.time(fn, H.quick and 5 or 15, 2)
  H.report(name, med, min, nil, ("T %d (%g s at 200 Hz)  x%.0f real time%s"):format(
    T, SECONDS, SECONDS / (med / 1e3), name == "IMUIFSim default" and "  (target >= 10000x)" or ""))
end

local sim = imu.IMUIFSim {}
line("IMUIFSim default", function() sim:reset_state(); sim(x) end)
local byp = imu.IMUIFSim { bypass_jsvd = true }
line("IMUIFSim bypass_jsvd", function() byp(x) end)
local iaf = imu.IMUIFSim { select_iaf_output = true }
line("IMUIFSim IAF encoder", function() iaf:reset_state(); iaf(x) end)

local sub = imu.SubSpace {}
local sah = imu.SampleAndHold { sampling_period = 10, shape = 9 }
line("  covariance + S&H", function() sub:reset_state(); sah(sub(x)) end)
local held = sah(sub:reset_state()(x))
local core = require "limpet.core"
line("  rotation (JSVD / 10)", function() core._imuif.rotate(x, held) end)
local fb = imu.FilterBank {}
line("  filter bank (15)", function() fb(x) end)
