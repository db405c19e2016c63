-- spec/dist/collectives.lua -- run by spec/dist_spec.lua under mpirun -np 2:
-- every collective of lp.dist, printing one line per check for the spec.
local lp = require "limpet"
local r, n = lp.dist.init { timeout = 30 }
local function say(...) if r == 1 then print(...) end end
say("size", n, "rank", r)
for _, dt in ipairs { "float32", "float64", "int32", "int64" } do
  local t = lp.tensor({ r, 10 * r, -r }, dt)
  lp.dist.all_reduce(t, "sum")
  local mx = lp.dist.all_reduce(lp.tensor({ r, -r }, dt), "max")
  local mn = lp.dist.all_reduce(lp.tensor({ r, -r }, dt), "min")
  say("sum", dt, t[1], t[2], t[3], "max", mx[1], mx[2], "min", mn[1], mn[2])
end
local m = lp.dist.all_reduce(lp.tensor({ r, 2 * r }, "float64"), "mean")
say("mean", m[1], m[2])
local b = lp.dist.broadcast(lp.tensor({ r, r }, "float32"), 2)
say("broadcast", b[1], b[2])
local g = lp.dist.all_gather(lp.tensor({ { r, r + 0.5 } }, "float64"))
say("gather", table.concat(g.shape, "x"), g[1][1][1], g[2][1][2])
local obj = lp.dist.broadcast_object(r == 1 and { lr = 1e-3, name = "net", layers = { 3, 4 } } or nil)
say("object", obj.lr, obj.name, obj.layers[2])
say("errors", select(2, pcall(lp.dist.all_reduce, lp.zeros(3, 4):transpose(1, 2))))
say("errors", select(2, pcall(lp.dist.all_reduce, lp.zeros(3), "avg")))
say("errors", select(2, pcall(lp.dist.all_reduce, lp.zeros({ 3 }, "int32"), "mean")))
say("errors", select(2, pcall(lp.dist.broadcast, lp.zeros(3), 3)))
lp.dist.barrier()
say("done")
