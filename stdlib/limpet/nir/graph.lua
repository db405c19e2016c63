-- stdlib/limpet/nir/graph.lua -- the graph executor for imported NIR
-- graphs: a module (class "NIRGraph") that runs any DAG with recurrent
-- cycles, incoming edges summed.
-- Owns: inlining nested subgraphs, edge and shape checks (errors name the
-- node and the mismatch), the evaluation order (a depth-first walk from the
-- inputs; an edge closing a cycle carries the previous step's value, zero
-- at the first step), the
-- discretisation of each node's ODE (below), per-node states with
-- Rockpool's state rule (every batch row starts from the module state; row
-- 1's final state is kept).
-- Not here: reading files (nir/read.lua), convolution kernels (lp.conv2d).
--
-- Discretisation (NIR is continuous-time, §5 of the NIR notes); step dt
-- (option `dt`, default 1e-3, in the exporter's time unit: seconds for
-- Norse/snnTorch/Rockpool, 1 for files in time-step units such as
-- Sinabs'), input held constant over a step, a = exp(-dt/tau):
--   "exact" (default): v <- v_leak + (v - v_leak)·a + R·(1 - a)·x
--   "euler":           v <- v + (dt/tau)·(v_leak - v + R·x)
--   I / IF (no leak):  v <- v + dt·R·x (both schemes)
--   CubaLI(F): the current first, I <- I·a_syn + w_in·(1 - a_syn)·x (exact)
--   or I + (dt/tau_syn)·(w_in·x - I) (euler), then v driven by the new I.
-- Delay: y(t) = x(t - d), d = round(delay/dt) steps per element (zero
-- before the first input arrives).
-- Spiking nodes emit z = [v > v_threshold] (0/1 per step) and reset the
-- spiking elements to v_reset. With "euler", snnTorch's Leaky/Synaptic
-- exports (tau = dt/(1 - beta), r = tau/dt, w_in = 1/(1 - alpha)) run
-- exactly as snnTorch does.
-- Shapes: per-sample shapes as in NIR (no batch axis); data (B, T, ...).
local lp = require "limpet"
local core = require "limpet.core"
local Module = require "limpet.nn.module"

local G = {}

local NIRGraph = Module:extend("NIRGraph")
local NIRNode = Module:extend("NIRNode")
G.NIRGraph, G.NIRNode = NIRGraph, NIRNode

local NEURONS = { I = true, IF = true, LI = true, LIF = true, CubaLI = true, CubaLIF = true }
local SPIKING = { IF = true, LIF = true, CubaLIF = true }

local function fmt(s)
  if s == nil then return "?" end
  return "(" .. table.concat(s, ", ") .. (#s == 1 and ",)" or ")")
end
G.fmt_shape = fmt

local function same(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do if a[i] ~= b[i] then return false end end
  return true
end

local function numel(s) local n = 1; for _, v in ipairs(s) do n = n * v end; return n end

local function ints(t)   -- int tensor / number -> Lua list
  if lp.is_tensor(t) then
    local v = t:reshape({ -1 }):totable()
    for i = 1, #v do v[i] = math.tointeger(v[i]) or v[i] end
    return v
  end
  return { t }
end

local function pair(v, name, where, fail)
  local l = ints(v)
  if #l == 1 then l = { l[1], l[1] } end
  if #l ~= 2 then fail(where, ("field '%s' must be an int or a pair, got %d values"):format(name, #l)) end
  return l
end

-- Conv/pool output size (PyTorch formula).
local function out_size(n, k, s, p, d)
  return (n + 2 * p - d * (k - 1) - 1) // s + 1
end

-- Per-node shapes: in, out (nil when given by the incoming edges).
local function node_shapes(node, fail, where)
  local f, ty = node.fields, node.type
  if ty == "Input" or ty == "Output" then
    local s = ints(f.shape)
    return s, s
  elseif ty == "Affine" or ty == "Linear" then
    local w = f.weight
    if w:dim() ~= 2 then
      fail(where, ("%s weight must be 2-D (out, in), got %s"):format(ty, fmt(w.shape)))
    end
    if ty == "Affine" and (f.bias:numel() ~= w.shape[1]) then
      fail(where, ("Affine bias has %d elements for %d outputs"):format(f.bias:numel(), w.shape[1]))
    end
    return { w.shape[2] }, { w.shape[1] }
  elseif NEURONS[ty] or ty == "Scale" or ty == "Threshold" or ty == "Delay" then
    local key = ({ Scale = "scale", Threshold = "threshold", Delay = "delay", CubaLIF = "v_threshold",
      CubaLI = "v_leak" })[ty] or "r"
    local s = f[key].shape
    for k, v in pairs(f) do
      if lp.is_tensor(v) and v:numel() ~= 1 and not same(v.shape, s) then
        fail(where, ("field '%s' has shape %s but '%s' has %s"):format(k, fmt(v.shape), key, fmt(s)))
      end
    end
    return s, s
  end
  return nil, nil   -- conv, pool, flatten: from the input
end

-- Output shape of a shape-transforming node from its input shape.
local function infer_out(node, ins, fail, where)
  local f, ty = node.fields, node.type
  if ty == "Flatten" then
    local sd = f.start_dim and ints(f.start_dim)[1] or 1
    local ed = f.end_dim and ints(f.end_dim)[1] or -1
    local n = #ins
    if sd < 0 then sd = sd + n end
    if ed < 0 then ed = ed + n end
    if sd < 0 or ed >= n or sd > ed then
      fail(where, ("Flatten dims %d..%d out of range for input %s"):format(sd, ed, fmt(ins)))
    end
    local out = {}
    for i = 1, sd do out[#out + 1] = ins[i] end
    local p = 1
    for i = sd + 1, ed + 1 do p = p * ins[i] end
    out[#out + 1] = p
    for i = ed + 2, n do out[#out + 1] = ins[i] end
    return out
  elseif ty == "Conv2d" or ty == "SumPool2d" or ty == "AvgPool2d" or ty == "Conv1d" then
    local nsp = ty == "Conv1d" and 1 or 2
    if #ins ~= nsp + 1 then
      fail(where, ("%s expects input (C, %s), got %s"):format(ty, nsp == 1 and "N" or "H, W", fmt(ins)))
    end
    local k, s, p, d, cout
    if ty:match "Pool" then
      k, s, p, d = pair(f.kernel_size, "kernel_size", where, fail), pair(f.stride, "stride", where, fail),
        pair(f.padding, "padding", where, fail), { 1, 1 }
      cout = ins[1]
    else
      local w = f.weight
      if w:dim() ~= nsp + 2 then fail(where, ("%s weight must be %d-D, got %s"):format(ty, nsp + 2, fmt(w.shape))) end
      local g = f.groups and ints(f.groups)[1] or 1
      if w.shape[2] * g ~= ins[1] then
        fail(where, ("%s weight %s with groups %d expects %d input channels, got %s")
          :format(ty, fmt(w.shape), g, w.shape[2] * g, fmt(ins)))
      end
      cout = w.shape[1]
      k = { w.shape[3], w.shape[4] or 1 }
      s = f.stride and pair(f.stride, "stride", where, fail) or { 1, 1 }
      d = f.dilation and pair(f.dilation, "dilation", where, fail) or { 1, 1 }
      if nsp == 1 then s[2], d[2] = 1, 1 end
      if type(f.padding) == "string" then
        if f.padding == "valid" then p = { 0, 0 }
        elseif f.padding == "same" then
          p = { d[1] * (k[1] - 1) // 2, d[2] * (k[2] - 1) // 2 }
        else fail(where, ("padding '%s' is not 'same', 'valid' or numbers"):format(f.padding)) end
      else p = f.padding and pair(f.padding, "padding", where, fail) or { 0, 0 } end
      if nsp == 1 then p[2] = 0 end
    end
    local out = { cout }
    for i = 1, nsp do
      local n = out_size(ins[i + 1], k[i], s[i], p[i], d[i])
      if n < 1 then fail(where, ("input %s is smaller than the kernel"):format(fmt(ins))) end
      out[i + 1] = n
    end
    node._conv = { k = k, s = s, p = p, d = d }
    return out
  end
  return ins
end

-- ---- building ----------------------------------------------------------------

-- Inline nested graphs into a flat list of exec nodes.
-- exec node: {id = "sub/name", node = desc, preds = {{id, delayed}}, ...}
local function flatten(desc, path, prefix, nodes, order, fail, warns, top)
  local gname = prefix == "" and "top-level graph" or ("subgraph '%s'"):format(prefix:sub(1, -2))
  local ins, outs = {}, {}
  for _, n in ipairs(desc.names) do
    local nd = desc.nodes[n]
    local id = prefix .. n
    if nd.type == "NIRGraph" then
      local sub_ins, sub_outs = flatten(nd, path, id .. "/", nodes, order, fail, warns, false)
      nodes[id] = { id = id, sub = true, ins = sub_ins, outs = sub_outs }
    else
      nodes[id] = { id = id, node = nd, preds = {}, succs = {} }
      order[#order + 1] = id
      if nd.type == "Input" then ins[#ins + 1] = id end
      if nd.type == "Output" then outs[#outs + 1] = id end
    end
  end
  -- edges, resolved through subgraph ports
  for i, e in ipairs(desc.edges) do
    local function resolve(name, as_src)
      local x = nodes[prefix .. name]
      if x == nil then
        -- "sub.port" names an Input/Output of a subgraph
        local s, port = name:match "^(.-)%.([^.]+)$"
        local sx = s and nodes[prefix .. s]
        if sx and sx.sub then
          local want = prefix .. s .. "/" .. port
          for _, id in ipairs(as_src and sx.outs or sx.ins) do if id == want then return nodes[id] end end
        end
        fail(("%s, edge %d ('%s' -> '%s')"):format(gname, i, e[1], e[2]),
          ("names node '%s', which does not exist"):format(name))
      end
      if x.sub then
        local l = as_src and x.outs or x.ins
        if #l ~= 1 then
          fail(("%s, edge %d ('%s' -> '%s')"):format(gname, i, e[1], e[2]),
            ("subgraph '%s' has %d %s nodes; name one as '%s.<name>'")
            :format(name, #l, as_src and "Output" or "Input", name))
        end
        return nodes[l[1]]
      end
      return x
    end
    local a, b = resolve(e[1], true), resolve(e[2], false)
    b.preds[#b.preds + 1] = a.id
    a.succs[#a.succs + 1] = b.id
  end
  return ins, outs, gname
end

--- G.build(desc, opts) -> NIRGraph module. opts: dt, discretisation,
-- dtype, path (for messages).
function G.build(desc, opts)
  local path = opts.path or "?"
  local function fail(where, msg)
    error(("nir.load: '%s': %s: %s"):format(path, where, msg), 0)
  end
  local nodes, order, warns = {}, {}, {}
  local top_ins, top_outs = flatten(desc, path, "", nodes, order, fail, warns, true)
  if #top_ins == 0 then fail("top-level graph", "has no Input node") end
  if #top_outs == 0 then fail("top-level graph", "has no Output node") end
  -- shapes from the parameters
  for _, id in ipairs(order) do
    local x = nodes[id]
    x.in_shape, x.out_shape = node_shapes(x.node, fail, ("node '%s' (%s)"):format(id, x.node.type))
  end
  -- evaluation order: depth-first from the inputs; an edge to a node on the
  -- walk's stack closes a cycle and carries the previous step's value.
  local state, topo, delayed = {}, {}, {}
  local function visit(id)
    state[id] = 1
    local x = nodes[id]
    for _, s in ipairs(x.succs) do
      if state[s] == 1 then delayed[id .. "\0" .. s] = true
      elseif not state[s] then visit(s) end
    end
    state[id] = 2
    topo[#topo + 1] = id
  end
  for _, id in ipairs(top_ins) do if not state[id] then visit(id) end end
  for _, id in ipairs(order) do if not state[id] then visit(id) end end
  -- reverse post-order = topological order of the non-delayed edges
  local seq = {}
  for i = #topo, 1, -1 do seq[#seq + 1] = topo[i] end
  -- shape inference along the order, checks on every edge
  for _, id in ipairs(seq) do
    local x = nodes[id]
    local where = ("node '%s' (%s)"):format(id, x.node.type)
    local got
    for _, p in ipairs(x.preds) do
      local px = nodes[p]
      local s = px.out_shape
      if s and got and not same(s, got) then
        fail(where, ("inputs disagree: %s from '%s' but %s from another edge"):format(fmt(s), p, fmt(got)))
      end
      got = got or s
    end
    if got and x.in_shape and not same(got, x.in_shape) then
      local top_output = x.node.type == "Output" and not id:find("/", 1, true)
      local msg = ("expects input %s but '%s' gives %s"):format(fmt(x.in_shape), x.preds[1], fmt(got))
      if top_output and numel(got) == numel(x.in_shape) then
        warns[#warns + 1] = ("nir.load: '%s': %s: %s (NIR's reader accepts it unchecked; the output keeps %s)")
          :format(path, where, msg, fmt(got))
        x.in_shape, x.out_shape = got, got
      else
        fail(where, msg)
      end
    end
    x.in_shape = x.in_shape or got
    if not x.out_shape then
      if not x.in_shape then fail(where, "input shape unknown (no incoming edge and none in the node)") end
      x.out_shape = infer_out(x.node, x.in_shape, fail, where)
    end
  end
  local net = NIRGraph(desc, nodes, seq, delayed, top_ins, top_outs, opts)
  rawset(net, "warnings", warns)
  for _, w in ipairs(warns) do io.stderr:write(w, "\n") end
  return net
end

-- ---- the module ----------------------------------------------------------------

local DISC = { exact = true, euler = true }

function NIRNode:init(x, opts)
  Module.init(self, nil)
  local nd, f = x.node, x.node.fields
  rawset(self, "nir_type", nd.type)
  rawset(self, "nir_metadata", nd.metadata)
  rawset(self, "in_shape", x.in_shape)
  rawset(self, "out_shape", x.out_shape)
  rawset(self, "conv", nd._conv)
  local dtype = opts.dtype
  local function t(v) return v:astype(dtype):contiguous():clone() end
  local ty = nd.type
  if ty == "Affine" or ty == "Linear" then
    self:parameter("weight", t(f.weight):transpose(1, 2):contiguous(), { family = "weights" })
    if ty == "Affine" then self:parameter("bias", t(f.bias), { family = "biases" }) end
  elseif ty == "Conv2d" or ty == "Conv1d" then
    self:parameter("weight", t(f.weight), { family = "weights" })
    if f.bias ~= nil and lp.is_tensor(f.bias) then self:parameter("bias", t(f.bias), { family = "biases" }) end
    rawset(self, "groups", f.groups and ints(f.groups)[1] or 1)
  elseif ty == "Scale" then self:parameter("scale", t(f.scale))
  elseif ty == "Threshold" then self:parameter("threshold", t(f.threshold), { family = "thresholds" })
  elseif NEURONS[ty] then
    for _, k in ipairs { "tau", "tau_mem", "tau_syn", "r", "v_leak", "v_threshold", "v_reset", "w_in" } do
      if lp.is_tensor(f[k]) then
        self:parameter(k, t(f[k]), { family = (k:match "^tau" and "taus") or (k == "v_threshold" and "thresholds") or nil })
      end
    end
    local s = x.out_shape
    self:state("vmem", lp.zeros(s, dtype))
    if ty == "CubaLI" or ty == "CubaLIF" then self:state("isyn", lp.zeros(s, dtype)) end
  elseif ty == "Delay" then
    -- delays in the file's time unit -> whole steps (rounded), per element
    local steps = (f.delay:astype("float64") / opts.dt):round()
    if steps:lt(0):any():item() then
      error(("nir.load: '%s': node '%s' (Delay): negative delay"):format(opts.path or "?", x.id), 0)
    end
    self:simulation_parameter("delay", t(f.delay))
    rawset(self, "delay_steps", steps:astype("int64"))
    local uniq, seen = {}, {}
    for _, v in ipairs(steps:reshape({ -1 }):totable()) do
      v = math.tointeger(v)
      if not seen[v] then seen[v] = true; uniq[#uniq + 1] = v end
    end
    table.sort(uniq)
    rawset(self, "delay_values", uniq)
  end
end

function NIRGraph:init(desc, nodes, seq, delayed, ins, outs, opts)
  Module.init(self, nil)
  rawset(self, "nir", desc)
  rawset(self, "_seq", seq)
  rawset(self, "_delayed", delayed)
  rawset(self, "_ins", ins)
  rawset(self, "_outs", outs)
  rawset(self, "_nodes", nodes)
  rawset(self, "input_shape", nodes[ins[1]].out_shape)
  rawset(self, "output_shape", nodes[outs[1]].in_shape)
  rawset(self, "input_names", ins)
  rawset(self, "output_names", outs)
  rawset(self, "has_cycles", next(delayed) ~= nil)
  rawset(self, "_executor", opts.executor)
  self:simulation_parameter("dt", opts.dt)
  self:simulation_parameter("discretisation", opts.discretisation)
  for _, id in ipairs(seq) do
    local x = nodes[id]
    local ty = x.node.type
    if ty ~= "Input" and ty ~= "Output" then
      self:submodule(id, NIRNode(x, opts))
    end
  end
end

-- One step of node m on summed input u (B, ...). Returns the output.
local function step_node(net, m, u, st)
  local ty = m.nir_type
  if ty == "Affine" then
    return lp.matmul(u, m.weight) + m.bias
  elseif ty == "Linear" then
    return lp.matmul(u, m.weight)
  elseif ty == "Scale" then return u * m.scale
  elseif ty == "Threshold" then return u:gt(m.threshold):astype(u.dtype)
  elseif ty == "Flatten" then
    local s = { u.shape[1] }
    for _, v in ipairs(m.out_shape) do s[#s + 1] = v end
    return u:contiguous():reshape(s)
  elseif ty == "Conv2d" or ty == "Conv1d" then
    local c = m.conv
    if not lp.conv2d then error("nir: Conv2d needs lp.conv2d, which is not built in", 0) end
    local x = u
    if ty == "Conv1d" then x = u:unsqueeze(4) end
    local y = lp.conv2d(x, m.weight:dim() == 3 and m.weight:unsqueeze(4) or m.weight, m.bias,
      { stride = c.s, padding = c.p, dilation = c.d, groups = m.groups })
    if ty == "Conv1d" then y = y:squeeze(4) end
    return y
  elseif ty == "Delay" then
    -- y(t) = x(t - d) per element; the history holds the last max(d) + 1 inputs
    local h = st.hist
    table.insert(h, 1, u)
    local vals = m.delay_values
    if #h > vals[#vals] + 1 then h[#h] = nil end
    local y
    for _, d in ipairs(vals) do
      local past = h[d + 1] or lp.zeros_like(u)
      if #vals == 1 then y = past
      else
        local sel = m.delay_steps:eq(d)
        y = y and lp.where(sel, past, y) or lp.where(sel, past, lp.zeros_like(u))
      end
    end
    return y
  elseif ty == "SumPool2d" or ty == "AvgPool2d" then
    local c = m.conv
    if not lp.sum_pool2d then error("nir: pooling needs lp.sum_pool2d, which is not built in", 0) end
    local y = lp.sum_pool2d(u, { kernel_size = c.k, stride = c.s, padding = c.p })
    if ty == "AvgPool2d" then y = y * (1 / (c.k[1] * c.k[2])) end
    return y
  end
  -- neurons
  local dt, euler = net.dt, net.discretisation == "euler"
  local v = st.vmem
  if ty == "I" or ty == "IF" then
    v = v + u * m.r * dt
  else
    local drive
    if ty == "CubaLI" or ty == "CubaLIF" then
      local i = st.isyn
      if euler then i = i + (u * m.w_in - i) * (dt / m.tau_syn)
      else
        local a = lp.exp((-dt) / m.tau_syn)
        i = i * a + u * m.w_in * (1 - a)
      end
      st.isyn = i
      drive = i
    else
      drive = u
    end
    local tau = m.tau or m.tau_mem
    if euler then v = v + (m.v_leak - v + drive * m.r) * (dt / tau)
    else
      local a = lp.exp((-dt) / tau)
      v = m.v_leak + (v - m.v_leak) * a + drive * m.r * (1 - a)
    end
  end
  if SPIKING[ty] then
    local z = v:gt(m.v_threshold)
    v = lp.where(z, m.v_reset, v)
    st.vmem = v
    return z:astype(v.dtype)
  end
  st.vmem = v
  return v
end

local function stack_many(list, dim)
  if #list <= 256 then return lp.stack(list, dim) end
  local parts = {}
  for i = 1, #list, 256 do
    local chunk = {}
    for j = i, math.min(i + 255, #list) do chunk[#chunk + 1] = list[j] end
    parts[#parts + 1] = lp.stack(chunk, dim)
  end
  return lp.cat(parts, dim)
end

-- Coefficients of the fused neuron op (core.nir_neuron) for node module m,
-- flattened to (N): the same step as step_node.
local function coefficients(net, m)
  local ty, dt, euler = m.nir_type, net.dt, net.discretisation == "euler"
  local N = 1
  for _, v in ipairs(m.out_shape) do N = N * v end
  local function flat(t) return (lp.zeros({ N }, t.dtype) + t:reshape(t:numel() == 1 and { 1 } or { N })) end
  local c = {}
  if ty == "I" or ty == "IF" then
    local r = flat(m.r)
    c.a_m, c.g_m, c.c_m = lp.ones({ N }, r.dtype), r * dt, lp.zeros({ N }, r.dtype)
  else
    local tau = flat(m.tau or m.tau_mem)
    local a = euler and (1 - tau:reciprocal() * dt) or lp.exp(tau:reciprocal() * (-dt))
    local w = euler and tau:reciprocal() * dt or (1 - a)
    c.a_m, c.g_m, c.c_m = a, flat(m.r) * w, flat(m.v_leak) * w
  end
  if ty == "CubaLI" or ty == "CubaLIF" then
    local ts = flat(m.tau_syn)
    local a = euler and (1 - ts:reciprocal() * dt) or lp.exp(ts:reciprocal() * (-dt))
    c.a_s, c.g_s = a, flat(m.w_in) * (euler and ts:reciprocal() * dt or (1 - a))
  end
  if SPIKING[ty] then c.theta, c.v_reset = flat(m.v_threshold), flat(m.v_reset) end
  return c, N
end

-- Whole-sequence evaluation of node m on u (B, T, ...) for acyclic graphs:
-- stateless nodes on the (B·T) images, neurons as one fused op.
local function seq_node(net, m, u, st, B, T)
  local ty = m.nir_type
  if NEURONS[ty] then
    local c, N = coefficients(net, m)
    local dtype = c.a_m.dtype
    c.v0 = st.vmem:reshape({ B, N }):astype(dtype)
    if st.isyn then c.i0 = st.isyn:reshape({ B, N }):astype(dtype) end
    local out, vmem, vT, iT = core.nir_neuron(u:contiguous():reshape({ B, T, N }):astype(dtype), c)
    local s = { B }
    for _, v in ipairs(m.out_shape) do s[#s + 1] = v end
    st.vmem = vT:reshape(s)
    if st.isyn then st.isyn = iT:reshape(s) end
    local os = { B, T, table.unpack(m.out_shape) }
    st.vtrace = vmem:reshape(os)
    return out:reshape(os)
  elseif ty == "Delay" then
    local h = {}
    for t = 1, T do
      h[t] = step_node(net, m, u:slice(2, t, t):squeeze(2), st)
    end
    return stack_many(h, 2)
  end
  local flat = { B * T, table.unpack(m.in_shape) }
  local y = step_node(net, m, u:contiguous():reshape(flat), st)
  return y:reshape({ B, T, table.unpack(m.out_shape) })
end

-- Check an input (B, T, *shape) or (T, *shape); returns (B, T, ...).
local function batch_input(net, x, name, shape, argno)
  if not lp.is_tensor(x) then
    error(("bad argument #%d to 'evolve' (NIRGraph input '%s': tensor expected, got %s)")
      :format(argno, name, type(x)), 3)
  end
  if x:dim() == #shape + 1 then x = x:unsqueeze(1) end
  local ok = x:dim() == #shape + 2
  for i = 1, #shape do ok = ok and x.shape[i + 2] == shape[i] end
  if not ok then
    error(("bad argument #%d to 'evolve' (NIRGraph input '%s' expects (B, T, %s), got %s)")
      :format(argno, name, table.concat(shape, ", "), fmt(x.shape)), 3)
  end
  return x
end

--- net(x[, record]) -> output (B, T, ...), state, record. x: a tensor
-- (B, T, *input_shape) or, with several Input nodes, a table name -> tensor;
-- with several Output nodes the output is a table name -> tensor.
-- record: true gives, per node, its output sequence (key `output`) and
-- for neurons `vmem` (after reset) and `isyn`, each (B, T, ...).
function NIRGraph:evolve(x, record)
  local nodes, seq, delayed = self._nodes, self._seq, self._delayed
  local inputs = {}
  if #self._ins == 1 and lp.is_tensor(x) then
    inputs[self._ins[1]] = batch_input(self, x, self._ins[1], nodes[self._ins[1]].out_shape, 1)
  elseif type(x) == "table" and not lp.is_tensor(x) then
    for _, id in ipairs(self._ins) do
      if x[id] == nil then
        error(("bad argument #1 to 'evolve' (NIRGraph input '%s' missing)"):format(id), 2)
      end
      inputs[id] = batch_input(self, x[id], id, nodes[id].out_shape, 1)
    end
    for k in pairs(x) do
      if not nodes[k] or nodes[k].node.type ~= "Input" then
        error(("bad argument #1 to 'evolve' (no Input node named '%s')"):format(tostring(k)), 2)
      end
    end
  else
    error(("bad argument #1 to 'evolve' (NIRGraph has %d inputs: a tensor or a table of tensors expected)")
      :format(#self._ins), 2)
  end
  local first = inputs[self._ins[1]]
  local B, T = first.shape[1], first.shape[2]
  for id, t in pairs(inputs) do
    if t.shape[1] ~= B or t.shape[2] ~= T then
      error(("bad argument #1 to 'evolve' (input '%s' has (B, T) = (%d, %d), others (%d, %d))")
        :format(id, t.shape[1], t.shape[2], B, T), 2)
    end
  end
  local dtype = self:_dtype()
  -- per-node states, every batch row from the module state
  local states = {}
  for _, id in ipairs(seq) do
    local m = self._mods[id]
    if m and m.vmem then
      local s = { B }
      for _, v in ipairs(m.out_shape) do s[#s + 1] = v end
      local st = { vmem = m.vmem:detach():unsqueeze(1):expand(s):contiguous() }
      if m.isyn then st.isyn = m.isyn:detach():unsqueeze(1):expand(s):contiguous() end
      states[id] = st
    elseif m and m.nir_type == "Delay" then
      states[id] = { hist = {} }
    end
  end
  if not self.has_cycles and self._executor ~= "step" then
    return self:_evolve_seq(inputs, states, B, T, record)
  end
  local prev, cur = {}, {}
  local traces, vtr, itr = {}, {}, {}
  for _, id in ipairs(seq) do
    local s = { B }
    for _, v in ipairs(nodes[id].out_shape) do s[#s + 1] = v end
    prev[id] = lp.zeros(s, dtype)
    traces[id] = {}
  end
  for t = 1, T do
    for _, id in ipairs(seq) do
      local xn = nodes[id]
      local ty = xn.node.type
      local u
      if ty == "Input" and inputs[id] then
        u = inputs[id]:slice(2, t, t):squeeze(2):astype(dtype)
      end
      for _, p in ipairs(xn.preds) do
        local v = delayed[p .. "\0" .. id] and prev[p] or cur[p]
        u = u and (u + v) or v
      end
      if u == nil then u = lp.zeros({ B, table.unpack(xn.in_shape) }, dtype) end
      local y
      if ty == "Input" or ty == "Output" then y = u
      else y = step_node(self, self._mods[id], u, states[id]) end
      cur[id] = y
      if record or ty == "Output" then local tr = traces[id]; tr[#tr + 1] = y end
      if record and states[id] then
        local st = states[id]
        vtr[id] = vtr[id] or {}
        vtr[id][t] = st.vmem
        if st.isyn then itr[id] = itr[id] or {}; itr[id][t] = st.isyn end
      end
    end
    prev, cur = cur, {}
  end
  -- keep row 1 of the final states
  for id, st in pairs(states) do
    local m = self._mods[id]
    if st.vmem then
      m._values.vmem = st.vmem[1]:detach():clone()
      if st.isyn then m._values.isyn = st.isyn[1]:detach():clone() end
    end
  end
  local outs = {}
  for _, id in ipairs(self._outs) do outs[id] = stack_many(traces[id], 2) end
  local rec = {}
  if record then
    for _, id in ipairs(seq) do
      rec[id] = { output = stack_many(traces[id], 2) }
      if vtr[id] then rec[id].vmem = stack_many(vtr[id], 2) end
      if itr[id] then rec[id].isyn = stack_many(itr[id], 2) end
    end
  end
  local out = #self._outs == 1 and outs[self._outs[1]] or outs
  return out, self:state(), rec
end

--- net:to_nn() -> nn.Sequential of Linear and LIF (see nir/to_nn.lua)
function NIRGraph:to_nn() return require("limpet.nir.to_nn").to_nn(self) end

--- net:as_graph(): the graph of net:to_nn(), for lp.xylo's mappers
function NIRGraph:as_graph() return self:to_nn():as_graph() end

-- Acyclic graphs: every node over the whole sequence, in order.
function NIRGraph:_evolve_seq(inputs, states, B, T, record)
  local nodes, seq = self._nodes, self._seq
  local dtype = self:_dtype()
  local vals, rec = {}, {}
  for _, id in ipairs(seq) do
    local xn = nodes[id]
    local ty = xn.node.type
    local u = inputs[id] and inputs[id]:astype(dtype) or nil
    for _, p in ipairs(xn.preds) do u = u and (u + vals[p]) or vals[p] end
    if u == nil then u = lp.zeros({ B, T, table.unpack(xn.in_shape) }, dtype) end
    local y
    if ty == "Input" or ty == "Output" then y = u
    else y = seq_node(self, self._mods[id], u, states[id] or {}, B, T) end
    vals[id] = y
    if record then
      rec[id] = { output = y }
      local st = states[id]
      if st and st.vtrace then rec[id].vmem = st.vtrace end
    end
  end
  for id, st in pairs(states) do
    local m = self._mods[id]
    if st.vmem then
      m._values.vmem = st.vmem[1]:detach():clone()
      if st.isyn then m._values.isyn = st.isyn[1]:detach():clone() end
    end
  end
  local outs = {}
  for _, id in ipairs(self._outs) do outs[id] = vals[id] end
  local out = #self._outs == 1 and outs[self._outs[1]] or outs
  return out, self:state(), rec
end

function NIRGraph:_dtype()
  for _, id in ipairs(self._seq) do
    local m = self._mods[id]
    if m then
      for _, k in ipairs(m._order) do
        local v = m._values[k]
        if lp.is_tensor(v) and (v.dtype == "float32" or v.dtype == "float64") then return v.dtype end
      end
    end
  end
  return "float32"
end

G.DISC = DISC
return G
