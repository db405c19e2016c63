-- examples/tutorials/07_parameters.lua -- Parameter handling: families, Constant, simulation parameters
-- Every module attribute is one of three kinds (as in Rockpool): a
-- *parameter* (trainable), a *state* (changes as the module runs) or a
-- *simulation parameter* (a solver setting such as `dt`). Parameters
-- belong to *families* (`weights`, `taus`, `bias`, `thresholds`, ...) so
-- that an optimiser, a regulariser or a plot can pick them out.
local lp = require "limpet"
local nn = lp.nn
local tut = require "limpet.tutorial"
local opt = tut.options(arg)
lp.seed(7)

-- ## Families
--
-- `parameters(family)` returns only that family, nested by module name:
local net = nn.Sequential {
  nn.Linear({ 8, 16 }),
  nn.LIF(16, { has_rec = true }),
  nn.Linear({ 16, 4 }),
  nn.LIF(4),
}
local function leaves(tree, prefix, out)
  out = out or {}
  for k, v in pairs(tree) do
    local name = prefix and (prefix .. "." .. k) or k
    if lp.is_tensor(v) then out[#out + 1] = ("%s %s"):format(name, tostring(v)) else leaves(v, name, out) end
  end
  table.sort(out)
  return out
end
for _, fam in ipairs { "weights", "taus", "bias", "thresholds" } do
  print(fam .. ":", table.concat(leaves(net:parameters(fam)), ", "))
end

-- A typical use: an L2 penalty on weights only, added to the loss.
local penalty = lp.tensor(0)
local function each(tree, fn)
  for _, v in pairs(tree) do if lp.is_tensor(v) then fn(v) else each(v, fn) end end
end
each(net:parameters("weights"), function(w) penalty = penalty + w:pow(2):sum() end)
print("L2 of all weights:", penalty:item())

-- ## Constants
--
-- `nn.Constant(x)` marks a value as not trainable: it becomes a simulation
-- parameter instead of a parameter, so optimisers never see it. Here the
-- time constants of one layer are fixed:
local fixed = nn.LIF(16, { tau_mem = nn.Constant(30e-3), tau_syn = nn.Constant(5e-3) })
print("trainable:", table.concat(leaves(fixed:parameters()), ", "))
print("simulation parameters:", lp.format(fixed:simulation_parameters().tau_mem))

-- ## Initialisation and reset
--
-- A parameter declared with an `init` function can be re-drawn with
-- `reset_parameters()`; `reset_state()` puts states back to their initial
-- values. Values set with `set_attributes` replace the current ones in
-- place, with their shape checked:
local lin = nn.Linear({ 8, 16 })
local before = lin.weight:clone()
lin:reset_parameters()
print("reset_parameters drew new weights:", (lin.weight - before):abs():max():item() > 0)
print(pcall(lin.set_attributes, lin, { weight = lp.zeros(3, 3) }))

-- The initial weight distribution (Rockpool's Kaiming-uniform style for
-- `Linear`) as a histogram:
local big = nn.Linear({ 256, 256 })
assert(lp.plot.histogram(big.weight:reshape(-1), tut.figure("weights"),
  { bins = 40, title = "initial weights of Linear({256, 256})", xlabel = "weight" }))

-- ## Simulation parameters
--
-- `dt` and similar settings are simulation parameters: they travel with
-- the module, are saved with it, but are never trained:
local l = nn.LIF(4, { dt = 0.5e-3 })
print("dt", l.dt, "simulation parameters:", table.concat((function()
  local k = {}
  for n in pairs(l:simulation_parameters()) do k[#k + 1] = n end
  table.sort(k)
  return k
end)(), ", "))

-- ## Counting and saving
--
-- `count_parameters()` counts trainable elements; `net:save(path)` writes
-- parameters, simulation parameters and the module tree to a `.npz`
-- (NumPy opens it), and `nn.load` rebuilds the module:
print("trainable elements:", net:count_parameters())
local path = opt.out .. "/07_parameters-net.npz"
assert(net:save(path))
local again = nn.load(path)
print("loaded:", again)
print("same first weight:", (again["1_Linear"].weight - net["1_Linear"].weight):abs():max():item() == 0)
os.remove(path)
