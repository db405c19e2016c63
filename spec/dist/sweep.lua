-- spec/dist/sweep.lua PATH N -- a sweep over configurations 1..N (under mpirun);
-- each result records the rank that ran it.
local lp = require "limpet"
local n = tonumber(arg[2])
local configs = {}
for i = 1, n do configs[i] = { i = i, tau = i * 1e-3 } end
local res = lp.sweep(configs, function(c) return { square = c.i * c.i } end, { path = arg[1], timeout = 30 })
if res then print("records", #res) end
