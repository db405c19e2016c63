-- spec/dist/dead.lua -- rank 2 fails before a collective; rank 1 must not hang.
local lp = require "limpet"
local r = lp.dist.init { timeout = 5 }
if r == 2 then error("rank 2 fails on purpose") end
lp.dist.all_reduce(lp.ones(4))
print("rank 1 should never get here")
