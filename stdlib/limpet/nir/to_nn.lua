-- stdlib/limpet/nir/to_nn.lua -- an imported NIR chain as limpet modules
-- (nn.Sequential of nn.Linear and nn.LIF), so that Rockpool-style tools
-- work on it: `lp.nir.to_nn(net)`, and `net:as_graph()` for lp.xylo's
-- mappers (the NIR graph becomes the modules' graph).
-- Owns: recognising the chain Input -> (Linear | Affine -> CubaLIF [with a
-- Linear/Affine closing a cycle on it])* -> Output, and the parameter map.
-- Not here: running NIR graphs (nir/graph.lua).
--
-- Map at the graph's dt (exact discretisation, a = exp(-dt/tau)): NIR's
--   I <- a_s·I + w_in·(1 - a_s)·u;  v <- a_m·v + (1 - a_m)·v_leak + r·(1 - a_m)·I
-- is limpet's LIF (isyn <- beta·(isyn + x); vmem <- alpha·vmem + isyn + bias)
-- with alpha = a_m, beta = a_s, bias = (1 - a_m)·v_leak, when the input x is
-- u scaled per neuron by g = r·(1 - a_m)·w_in·(1 - a_s)/a_s: g is folded into
-- the columns of the Linear weights feeding the neuron (the forward and the
-- recurrent ones) and into the Linear's bias (which also takes a recurrent
-- Affine's bias: both are constant input to the synapse; NIR's cycle carries
-- zero at the first step, the Linear bias acts from it). Files written by
-- lp.nir.save have g = 1. The thresholds are
-- kept; NIR's reset-to-v_reset becomes limpet's subtractive reset (as in
-- Rockpool's bridge). Anything else in the graph is an error naming it.
local lp = require "limpet"

local M = {}

local function fail(where, msg)
  error(("nir.to_nn: %s: %s"):format(where, msg), 0)
end

--- M.to_nn(net) -> nn.Sequential
function M.to_nn(net)
  local nn = lp.nn
  if type(net) ~= "table" or net.class_name ~= "NIRGraph" then
    error("bad argument #1 to 'to_nn' (NIRGraph module expected)", 2)
  end
  if #net._ins ~= 1 or #net._outs ~= 1 then
    fail("graph", ("has %d inputs and %d outputs; one of each is needed"):format(#net._ins, #net._outs))
  end
  local nodes, mods, dt = net._nodes, net._mods, net.dt
  local function ty(id) return nodes[id].node.type end
  local function f64(t) return t:detach():astype("float64") end
  local seq = nn.Sequential()
  local id = net._ins[1]
  local pending   -- the last nn.Linear, waiting for its neurons
  local pending_name
  local seen = {}
  while true do
    seen[id] = true
    local x = nodes[id]
    -- the forward successor (not the one closing a recurrent cycle)
    local succ = {}
    for _, s in ipairs(x.succs) do
      local back = false
      for _, ss in ipairs(nodes[s].succs) do if ss == id then back = true end end
      if not back then succ[#succ + 1] = s end
    end
    local t = ty(id)
    local where = ("node '%s' (%s)"):format(id, t)
    if t == "Affine" or t == "Linear" then
      if pending then fail(where, "two Linear nodes in a row cannot be a limpet chain") end
      local m = mods[id]
      local W = f64(m.weight)                      -- (in, out)
      pending = { weight = W, bias = m.bias and f64(m.bias) }
      pending_name = id
    elseif t == "CubaLIF" then
      if not pending then fail(where, "neurons must be fed by a Linear or Affine node") end
      local m = mods[id]
      local N = m.v_threshold:numel()
      local function vec(v) v = f64(v); return v:numel() == 1 and lp.full({ N }, v:item(), "float64") or v:reshape({ N }) end
      local tau_m, tau_s = vec(m.tau_mem), vec(m.tau_syn)
      local am, as = lp.exp((-dt) / tau_m), lp.exp((-dt) / tau_s)
      local g = vec(m.r) * (1 - am) * vec(m.w_in) * (1 - as) / as
      local bias = (1 - am) * vec(m.v_leak)
      -- a recurrent Linear/Affine: x.preds has a predecessor fed by this node
      local w_rec
      for _, p in ipairs(x.preds) do
        if p ~= pending_name then
          local px = nodes[p]
          local pt = px.node.type
          local closes = false
          for _, pp in ipairs(px.preds) do if pp == id then closes = true end end
          if not closes or (pt ~= "Linear" and pt ~= "Affine") or #px.preds ~= 1 then
            fail(where, ("input from '%s' (%s) is neither the Linear before it nor a recurrent Linear on it"):format(p, pt))
          end
          local rm = mods[p]
          w_rec = f64(rm.weight) * g               -- (N, N), columns scaled
          if rm.bias then pending.bias = (pending.bias or 0) + f64(rm.bias) end
          seen[p] = true
        end
      end
      local W = pending.weight * g
      local b = pending.bias and (pending.bias * g):astype("float32") or nil
      seq:append(nn.Linear({ W.shape[1], N }, { weight = W:astype("float32"), bias = b }), pending_name)
      seq:append(nn.LIF(N, { tau_mem = tau_m:astype("float32"), tau_syn = tau_s:astype("float32"),
        threshold = vec(m.v_threshold):astype("float32"), bias = bias:astype("float32"), dt = dt,
        w_rec = w_rec and w_rec:astype("float32") or nil }), id)
      pending, pending_name = nil, nil
    elseif t ~= "Input" and t ~= "Output" then
      fail(where, "has no limpet module in a Linear/LIF chain (Xylo networks are Linear and CubaLIF)")
    end
    if t == "Output" then break end
    if #succ ~= 1 then fail(where, ("has %d successors; a chain needs one"):format(#succ)) end
    id = succ[1]
  end
  if pending then fail(("node '%s'"):format(pending_name), "a Linear node must be followed by CubaLIF neurons") end
  for nid, x in pairs(nodes) do
    if not seen[nid] and x.node then fail(("node '%s' (%s)"):format(nid, x.node.type), "is not on the chain") end
  end
  return seq
end

return M
