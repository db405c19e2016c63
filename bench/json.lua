-- bench/json.lua -- configuration files (issue 15): a full-size Xylo Audio 2
-- configuration (bench/lib/xylo_net.lua: 1000 x 1000 x 2 recurrent weights,
-- 32 recurrent targets per neuron and synapse; a 6 MB file) saved and loaded
-- through lp.xylo.save_config / load_config. Target: < 0.2 s each (median of
-- 3); the lines print the ratio to that limit.
-- Peer in the same run: the same file decoded by libjansson alone into Lua
-- tables (json.decode without the tensor option), which is what loading
-- would cost without core's numeric-array reader (core/src/json_num.c): the
-- reason that reader exists.
-- Recorded (2-vCPU VM shared with other jobs, medians of 3): save 0.14 s,
-- load 0.13 s, jansson-only decode 1.1 s (the pure-Lua codec before this
-- change: save 1.7 s, load 8.2 s).
package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/lib/?.lua;" .. package.path
local lp = require "limpet"
local H = require "harness"
local N = require "xylo_net"
local json = require "limpet.json"
local xylo = lp.xylo

local cfg, ok, msg = xylo.audio2.config_from_specification(N.spec(100))
assert(ok, msg)
local path = os.tmpname() .. ".json"

local LIMIT = 200   -- ms
local smed, smin = H.time(function() assert(xylo.save_config(cfg, path)) end, 3, 1)
H.report("config save (A2 full size)", smed, smin, nil, ("x%.2f the 200 ms limit"):format(smed / LIMIT))
local lmed, lmin = H.time(function() assert(xylo.load_config(path)) end, 3, 1)
H.report("config load (A2 full size)", lmed, lmin, nil, ("x%.2f the 200 ms limit"):format(lmed / LIMIT))
local f = assert(io.open(path, "rb"))
local text = f:read("a")
f:close()
local jmed, jmin = H.time(function() json.decode(text) end, 3, 1)
H.report("jansson-only decode (peer)", jmed, jmin, nil,
  ("x%.2f the limit; load is x%.2f of it  (%.1f MB)"):format(jmed / LIMIT, lmed / jmed, #text / 1e6))
os.remove(path)
