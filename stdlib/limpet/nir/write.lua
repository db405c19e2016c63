-- stdlib/limpet/nir/write.lua -- limpet modules -> NIR files (HDF5).
-- Owns: the module -> node mapping, the graph layout (one flat NIRGraph;
-- an imported NIRGraph inside a net is a nested subgraph), the HDF5 layout
-- of NIR HEAD (gzip'd numeric datasets, `v_reset`, version "1.0.8") and the
-- legacy layout for readers pinned to NIR <= 1.0.4 such as Rockpool 3.0.x
-- (no `v_reset`, no `CubaLI`, no metadata, no compression, "1.0.4").
-- Not here: HDF5 calls (core/src/h5w.c via core.h5_create), reading.
--
-- Mapping (NIR weights are (out, in): limpet's weight transposed). The
-- neuron parameters are chosen so that the graph, loaded with the exact
-- discretisation at the same dt (written in the graph metadata, which
-- lp.nir.load uses when no dt is given), reproduces limpet's update:
--   Linear          -> Linear (no bias) / Affine
--   ExpSyn          -> LI: tau, r = beta/(1 - beta), v_leak = 0 (limpet's
--                      synapse is isyn <- beta·(isyn + x), Rockpool's)
--   LIFNeuron       -> LIF: tau = -dt/ln(alpha), r = 1/(1 - alpha),
--                      v_leak = bias/(1 - alpha), v_threshold = threshold
--   LIF (1 synapse) -> CubaLIF: as LIF plus tau_syn = -dt/ln(beta),
--                      w_in = beta/(1 - beta); w_rec -> a Linear node
--                      "<name>.w_rec" in an explicit cycle with the neurons
--   IF, LI, CubaLI, CubaLIF (nn/nir_neurons.lua) -> the same node, fields
--                      copied (the graph metadata carries their dt and
--                      discretisation)
--   Delay           -> Delay (delay = steps·dt); Scale, Threshold -> the same
--   Sequential      -> a chain; Residual -> the chain plus the skip edges
--                      (the next node sums both: edges are summed in NIR)
--   NIRGraph        -> its graph, with the module's current values
-- Decision: NIR's LIF/CubaLIF reset to v_reset (0) after one spike per
-- step; limpet's LIF (Rockpool's) subtracts the threshold and may spike
-- several times per step. The exported graph keeps the subthreshold
-- dynamics exactly; after a spike the two differ, as in Rockpool's bridge.
local lp = require "limpet"
local core = require "limpet.core"
local U = require "limpet.nn.util"

local W = {}

local VERSION, LEGACY_VERSION = "1.0.8", "1.0.4"

local function f32(t) return t:detach():contiguous():clone() end

local function shape_tensor(s)
  return lp.tensor(s, "int64")
end

-- emit(mod, name, preds, ctx) -> list of node names whose sum is the output
local emit

local function add(ctx, name, node)
  if ctx.nodes[name] then error(("nir.save: duplicate node name '%s'"):format(name), 0) end
  ctx.nodes[name] = node
  ctx.names[#ctx.names + 1] = name
end

local function connect(ctx, preds, name)
  for _, p in ipairs(preds) do ctx.edges[#ctx.edges + 1] = { p, name } end
end

local function vec(v, N, dtype)   -- number or tensor -> (N) tensor
  if lp.is_tensor(v) then
    v = v:detach()
    if v:numel() == 1 then return lp.full({ N }, v:reshape({ -1 })[1]:item(), dtype) end
    return v:astype(dtype):reshape({ N }):contiguous():clone()
  end
  return lp.full({ N }, v, dtype)
end

local function tau_of(decay, dt)   -- decay tensor -> tau = -dt / ln(decay)
  return lp.tensor(-dt, decay.dtype) / lp.log(decay)
end

local function lif_node(ctx, m, name, preds, membrane_only)
  local N = m.size_out
  if not membrane_only and m.n_synapses ~= 1 then
    error(("nir.save: %s has %d synapses per neuron; NIR's CubaLIF has one"):format(m.full_name, m.n_synapses), 0)
  end
  local dt = m.dt
  ctx.dt = ctx.dt or dt
  if ctx.dt ~= dt or (ctx.disc and ctx.disc ~= "exact") then ctx.mixed_dt = true end
  ctx.disc = ctx.disc or "exact"
  local alpha, beta = m:decays()
  alpha = vec(alpha, N, "float64")
  local bias = vec(m.bias, N, "float64")
  local thr = vec(m.threshold, N, "float64")
  local r = 1 / (1 - alpha)
  local fields = {
    r = r, v_leak = bias * r, v_threshold = thr,
  }
  if not ctx.legacy then fields.v_reset = lp.zeros({ N }, "float64") end
  local node
  if membrane_only then
    fields.tau = tau_of(alpha, dt)
    node = { type = "LIF", fields = fields }
  else
    beta = vec(beta, N, "float64")
    fields.tau_mem = tau_of(alpha, dt)
    fields.tau_syn = tau_of(beta, dt)
    fields.w_in = beta / (1 - beta)
    node = { type = "CubaLIF", fields = fields }
  end
  add(ctx, name, node)
  connect(ctx, preds, name)
  ctx.shape = { N }
  if m.w_rec then
    local rn = name .. ".w_rec"
    add(ctx, rn, { type = "Linear", fields = { weight = f32(m.w_rec):transpose(1, 2):contiguous() } })
    connect(ctx, { name }, rn)
    connect(ctx, { rn }, name)
  end
  return { name }
end

-- An imported graph: its description with the module's current values.
local function graph_desc(net, legacy)
  local function copy(desc, prefix)
    local out = { type = "NIRGraph", fields = {}, metadata = desc.metadata, nodes = {},
      names = desc.names, edges = desc.edges }
    for _, n in ipairs(desc.names) do
      local nd = desc.nodes[n]
      local id = prefix .. n
      if nd.type == "NIRGraph" then out.nodes[n] = copy(nd, id .. "/")
      else
        local f = {}
        for k, v in pairs(nd.fields) do f[k] = v end
        local m = net._mods[id]
        if m then
          for _, k in ipairs(m._order) do
            local v = m._values[k]
            if m._attrs[k].kind == "parameter" or m._attrs[k].kind == "simulation" then
              if k == "weight" and (nd.type == "Affine" or nd.type == "Linear") then
                v = v:detach():transpose(1, 2):contiguous()
              end
              if lp.is_tensor(v) then f[k] = v:detach():contiguous() end
            end
          end
        end
        local ty = nd.type
        if legacy then
          f.v_reset = nil
          if ty == "CubaLI" then
            error(("nir.save: node '%s' is a CubaLI, which NIR <= 1.0.4 does not know (legacy mode)"):format(id), 0)
          end
        end
        out.nodes[n] = { type = ty, fields = f, metadata = nd.metadata }
      end
    end
    return out
  end
  return copy(net.nir, "")
end

function emit(m, name, preds, ctx)
  local cls = m.class_name
  if cls == "Linear" then
    ctx.shape = { m.size_out }
    local f = { weight = f32(m.weight):transpose(1, 2):contiguous() }
    local b = m.bias
    if not lp.is_tensor(b) then b = nil end            -- a Linear without bias reads bias == 0
    if b then f.bias = f32(b) end
    add(ctx, name, { type = b and "Affine" or "Linear", fields = f })
    connect(ctx, preds, name)
    return { name }
  elseif cls == "ExpSyn" then
    local N = m.size_out
    local beta = lp.exp((-m.dt) / vec(m.tau, N, "float64"))
    ctx.dt = ctx.dt or m.dt
    if ctx.dt ~= m.dt or (ctx.disc and ctx.disc ~= "exact") then ctx.mixed_dt = true end
    ctx.disc = ctx.disc or "exact"
    add(ctx, name, { type = "LI", fields = { tau = vec(m.tau, N, "float64"), r = beta / (1 - beta),
      v_leak = lp.zeros({ N }, "float64") } })
    connect(ctx, preds, name)
    return { name }
  elseif cls == "LIF" or cls == "LIFBitshift" then
    return lif_node(ctx, m, name, preds, false)
  elseif cls == "LIFNeuron" then
    return lif_node(ctx, m, name, preds, true)
  elseif cls == "Sequential" or cls == "Residual" then
    local cur = preds
    for _, n in ipairs(m._mod_order) do
      cur = emit(m._mods[n], name and (name .. "." .. n) or n, cur, ctx)
    end
    if cls == "Residual" then
      local out = {}
      for _, p in ipairs(cur) do out[#out + 1] = p end
      for _, p in ipairs(preds) do out[#out + 1] = p end
      return out
    end
    return cur
  elseif cls == "NIRGraph" then
    local d = graph_desc(m, ctx.legacy)
    ctx.shape = m.output_shape
    add(ctx, name, d)
    connect(ctx, preds, name)
    return { name }
  elseif cls == "Conv2d" or cls == "Conv1d" then
    local nsp = cls == "Conv2d" and 2 or 1
    local function ints(t) return nsp == 2 and lp.tensor(t, "int64") or lp.tensor(t[1], "int64"):reshape({}) end
    local f = { weight = f32(m.weight), stride = ints(m.stride), padding = ints(m.padding),
      dilation = ints(m.dilation), groups = lp.tensor(m.groups, "int64"):reshape({}),
      bias = lp.is_tensor(m.bias) and f32(m.bias) or lp.zeros({ m.out_channels }, m.weight.dtype) }
    if ctx.shape then
      local sp = {}
      for i = 2, #ctx.shape do sp[#sp + 1] = ctx.shape[i] end
      f.input_shape = ints(sp)
      ctx.shape = m:output_shape_for(ctx.shape)
    end
    add(ctx, name, { type = cls, fields = f })
    connect(ctx, preds, name)
    return { name }
  elseif cls == "SumPool2d" or cls == "AvgPool2d" then
    add(ctx, name, { type = cls, fields = { kernel_size = lp.tensor(m.kernel_size, "int64"),
      stride = lp.tensor(m.stride, "int64"), padding = lp.tensor(m.padding, "int64") } })
    connect(ctx, preds, name)
    if ctx.shape then ctx.shape = m:output_shape_for(ctx.shape) end
    return { name }
  elseif cls == "Flatten" then
    if not ctx.shape then
      error(("nir.save: %s needs the input shape: pass {input_shape = {...}}"):format(m.full_name), 0)
    end
    add(ctx, name, { type = "Flatten", fields = { start_dim = lp.tensor(0, "int64"):reshape({}),
      end_dim = lp.tensor(-1, "int64"):reshape({}), input_type = lp.tensor(ctx.shape, "int64") } })
    connect(ctx, preds, name)
    ctx.shape = m:output_shape_for(ctx.shape)
    return { name }
  elseif cls == "IF" or cls == "LI" or cls == "CubaLI" or cls == "CubaLIF" then
    if ctx.legacy and cls == "CubaLI" then
      error(("nir.save: %s: NIR <= 1.0.4 has no CubaLI node (legacy mode)"):format(m.full_name), 0)
    end
    local f = {}
    for _, k in ipairs { "tau", "tau_mem", "tau_syn", "r", "v_leak", "w_in", "v_threshold", "v_reset" } do
      if m[k] ~= nil and not (ctx.legacy and k == "v_reset") then f[k] = f32(m[k]) end
    end
    ctx.dt = ctx.dt or m.dt
    if ctx.dt ~= m.dt or (ctx.disc and ctx.disc ~= m.discretisation) then ctx.mixed_dt = true end
    ctx.disc = ctx.disc or m.discretisation
    add(ctx, name, { type = cls, fields = f })
    connect(ctx, preds, name)
    ctx.shape = m.neuron_shape
    return { name }
  elseif cls == "Scale" or cls == "Threshold" then
    local k = cls == "Scale" and "scale" or "threshold"
    add(ctx, name, { type = cls, fields = { [k] = f32(m[k]) } })
    connect(ctx, preds, name)
    ctx.shape = m.neuron_shape
    return { name }
  elseif cls == "Delay" then
    add(ctx, name, { type = "Delay", fields = { delay = m.delay:astype("float64") * m.dt } })
    connect(ctx, preds, name)
    ctx.dt = ctx.dt or m.dt
    if ctx.dt ~= m.dt then ctx.mixed_dt = true end
    return { name }
  elseif cls == "TimeStepDropout" or cls == "UnitDropout" then
    return preds   -- identity at inference
  elseif W.converters[cls] then
    return W.converters[cls](m, name, preds, ctx, add, connect)
  end
  error(("nir.save: %s has no NIR node"):format(m.full_name), 0)
end

--- W.converters[class_name] = function(mod, name, preds, ctx, add, connect)
-- -> output names: the hook by which other modules (conv, pool) export.
W.converters = {}

--- W.describe(net[, legacy[, input_shape]]) -> top-level graph description
function W.describe(net, legacy, input_shape)
  local ctx = { nodes = {}, names = {}, edges = {}, legacy = legacy }
  if net.class_name == "NIRGraph" then
    local d = graph_desc(net, legacy)
    if legacy then d.metadata = {} end
    return d
  end
  local in_shape = input_shape or net.input_shape or { net.size_in }
  if not in_shape[1] then
    error(("nir.save: %s has no input size: pass {input_shape = {...}}"):format(net.full_name), 0)
  end
  ctx.shape = in_shape
  add(ctx, "input", { type = "Input", fields = { shape = shape_tensor(in_shape) } })
  local top
  if net.class_name ~= "Sequential" then top = net.name or net.class_name:lower() end
  local outs = emit(net, top, { "input" }, ctx)
  local out_shape = ctx.shape or net.output_shape or { net.size_out }
  add(ctx, "output", { type = "Output", fields = { shape = shape_tensor(out_shape) } })
  connect(ctx, outs, "output")
  local meta = {}
  if not legacy then
    meta.exporter = "limpet"
    if ctx.dt and not ctx.mixed_dt then
      meta.dt = lp.tensor(ctx.dt, "float64"):reshape({})
      meta.discretisation = ctx.disc or "exact"
    end
  end
  return { type = "NIRGraph", fields = {}, nodes = ctx.nodes, names = ctx.names, edges = ctx.edges,
    metadata = meta }
end

local function write_table(w, p, t, gz)
  w:group(p)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local v = t[k]
    if v == nil then v = t[tonumber(k)] end
    local q = p .. "/" .. k
    if type(v) == "string" then w:string(q, v)
    elseif type(v) == "boolean" then w:tensor(q, lp.tensor(v and 1 or 0, "int64"):reshape({}), false)
    elseif math.type(v) == "integer" then w:tensor(q, lp.tensor(v, "int64"):reshape({}), false)
    elseif type(v) == "number" then w:tensor(q, lp.tensor(v, "float64"):reshape({}), false)
    elseif lp.is_tensor(v) then w:tensor(q, v:contiguous(), gz and v:dim() > 0)
    elseif type(v) == "table" then write_table(w, q, v, gz)
    else error(("nir.save: metadata '%s': cannot store a %s"):format(q, type(v)), 0) end
  end
end

local function write_meta(w, grp, meta, gz)
  if not meta or next(meta) == nil then return end
  write_table(w, grp .. "/metadata", meta, gz)
end

local function write_node(w, grp, node, legacy)
  local gz = not legacy
  w:group(grp)
  w:string(grp .. "/type", node.type)
  if node.type == "NIRGraph" then
    w:group(grp .. "/nodes")
    for _, n in ipairs(node.names) do write_node(w, grp .. "/nodes/" .. n, node.nodes[n], legacy) end
    local flat = {}
    for _, e in ipairs(node.edges) do flat[#flat + 1] = e[1]; flat[#flat + 1] = e[2] end
    w:strings(grp .. "/edges", flat, 2)
  end
  local keys = {}
  for k in pairs(node.fields) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local v = node.fields[k]
    local p = grp .. "/" .. k
    if type(v) == "string" then w:string(p, v)
    elseif lp.is_tensor(v) then w:tensor(p, v:contiguous(), gz and v:dim() > 0)
    elseif type(v) == "table" then
      w:group(p)
      for kk, vv in pairs(v) do
        if lp.is_tensor(vv) then w:tensor(p .. "/" .. kk, vv:contiguous(), gz and vv:dim() > 0) end
      end
    elseif math.type(v) == "integer" then w:tensor(p, lp.tensor(v, "int64"):reshape({}), false)
    elseif type(v) == "number" then w:tensor(p, lp.tensor(v, "float64"):reshape({}), false)
    end
  end
  if not legacy then write_meta(w, grp, node.metadata, gz) end
end

--- W.save(net, path[, {legacy = false}]) -> true | nil, msg
function W.save(net, path, opts)
  local Module = require "limpet.nn.module"
  local class = require "limpet.class"
  if not class.is_a(net, Module) then
    U.argerror("save", 1, "module expected, got " .. (lp.is_tensor(net) and "tensor" or type(net)), 3)
  end
  if type(path) ~= "string" then U.argerror("save", 2, "string expected, got " .. type(path), 3) end
  opts = U.options("save", 3, opts, { legacy = false, input_shape = U.NONE }, 3)
  local ish = opts.input_shape
  if ish ~= nil then
    if type(ish) == "number" then ish = { ish } end
    local ok = type(ish) == "table" and #ish > 0
    for _, v in ipairs(type(ish) == "table" and ish or {}) do ok = ok and math.type(v) == "integer" and v > 0 end
    if not ok then U.argerror("save", 3, "field 'input_shape' must be a list of positive integers", 3) end
  end
  local desc = W.describe(net, opts.legacy, ish)
  local w, err = core.h5_create(path)
  if not w then return nil, err end
  local ok, e = pcall(function()
    w:string("version", opts.legacy and LEGACY_VERSION or VERSION)
    write_node(w, "node", desc, opts.legacy)
  end)
  if not ok then w:abort(); error(e, 0) end
  return w:commit()
end

return W
