-- devices/dynapse2/mapper.lua -- `limpet.dynapse2.mapper`: a computational graph
-- (lp.graph, from `net:as_graph()`) -> a Dynap-SE2 specification (Rockpool's
-- `devices.dynapse.mapper`, reference/dynapse2.md §4).
-- Owns: the DynapseNeurons graph module kind (§2.6), recognising a DynapSim graph
-- (§4.1), collapsing multi-layer LIF / DynapSim networks into one recurrent
-- population with the exact block placement (§4.2, §4.3), the non-negative-current
-- check, clustering the neurons onto cores (§4.4) and the spec layout.
-- Not here: quantisation (quantize.lua), allocation / configuration (config.lua),
-- the DynapSim module itself.
--
--   local spec = lp.dynapse2.mapper(net:as_graph()[, {n_cluster = , max_neuron_per_cluster = 256,
--                                                     clustering_method = "greedy" | "random", seed = }])
--
-- The spec (ids 1-based):
--   mapped_graph   GraphHolder: LinearWeights (input) -> DynapseNeurons, plus the recurrent
--                  LinearWeights (new modules; the graph given is never changed)
--   weights_in     float64 (Nin, N) or nil;  weights_rec  float64 (N, N) or nil
--                  (rows = pre, columns = post)
--   Iscale, dt     numbers
--   n_neuron       N;  n_cluster;  core_map  list of N cluster ids (1..n_cluster)
--   unclustered    {Idc = (N) float64, ...} the 13 per-neuron currents
--   Idc, If_nmda, Igain_ahp, Igain_mem, Igain_syn, Ipulse_ahp, Ipulse, Iref, Ispkthr,
--   Itau_ahp, Itau_mem, Itau_syn, Iw_ahp   (n_cluster) float64: the mean over each
--                  cluster's neurons (one parameter group per core)
--
-- Accepted graphs: a DynapseNeurons module alone, with input weights (from the graph's
-- inputs), with recurrent weights (its outputs back to its inputs), or both; otherwise a
-- chain  Linear -> neurons [-> recurrent] -> Linear -> neurons ... where the neuron
-- layers are LIF (LIFNeuronWithSynsRealValue, converted by §4.2) or DynapseNeurons, which
-- becomes one population: w_in (Nin, Σr) gets the first Linear in the first layer's
-- columns, w_rec (Σr, Σr) layer j's recurrent block on the diagonal and the weights from
-- layer j to j+1 in the block right of it.
--
-- Errors. A refused graph raises "dynapse2.mapper: <Rockpool's message> (<what and
-- where>)", e.g.
--   dynapse2.mapper: LIF is at unexpected position! Reshape your network! (LIF layer
--   '2_LIF' follows LIF layer '1_LIF' without weights between them)
-- Misuse of the function (a non-graph, a bad option) raises "bad argument #k to 'mapper'".
--
-- Where we differ from Rockpool on purpose (reference §13.6 and our reading):
-- * Clusters never get an out-of-range id. Rockpool's greedy clustering puts neuron i
--   (0-based) in cluster floor(i / floor(N/n_cluster)), so when n_cluster does not divide
--   N the r = N mod n_cluster tail neurons get id n_cluster (a cluster with no parameters,
--   no core). We keep Rockpool's blocks and give the tail neurons one each to the last r
--   clusters: every neuron Rockpool places in range stays where it was, and no cluster
--   grows beyond ceil(N / n_cluster) <= max_neuron_per_cluster.
-- * The least number of clusters is ceil(N / max_neuron_per_cluster) (Rockpool:
--   floor(N / max) + 1, which asks for 2 clusters for exactly 256 neurons).
-- * max_neuron_per_cluster is at most 256, the neurons of a core.
-- * "random" clustering is seeded (opts.seed, else drawn from limpet's generator, so
--   lp.seed makes it reproducible); Rockpool draws from NumPy's global state.
-- * A DynapSim graph whose weights carry biases is refused ("Linear layers should not
--   have biases!"); Rockpool drops the input biases of a DynapSim graph silently.
-- * A DynapSim graph with no neurons is refused with Rockpool's message for it
--   ("No LIF layers found!"), which we complete with what is wrong.
-- * Weights after the last neuron layer are refused with a message (Rockpool fails
--   with an IndexError there).
local lp = require "limpet"
local G = require "limpet.graph"
local limits = require "limpet.dynapse2.limits"

local M = {}

M.CURRENTS = { "Idc", "If_nmda", "Igain_ahp", "Igain_mem", "Igain_syn", "Ipulse_ahp", "Ipulse",
  "Iref", "Ispkthr", "Itau_ahp", "Itau_mem", "Itau_syn", "Iw_ahp" }
local CURRENTS = M.CURRENTS

-- The DynapSim graph module (Rockpool's DynapseNeurons): one population, one
-- synapse per neuron; every current a per-neuron vector, Iscale and dt numbers.
-- One class per process, kept in lp.graph: DynapSim's as_graph makes the same.
local DynapseNeurons = rawget(G, "DynapseNeurons")
if not DynapseNeurons then
  DynapseNeurons = G.GenericNeurons:extend("DynapseNeurons")
  local fields = { Iscale = {}, dt = {} }
  for _, k in ipairs(CURRENTS) do fields[k] = { size = "out" } end
  DynapseNeurons.fields = fields
  rawset(G, "DynapseNeurons", DynapseNeurons)
end
M.DynapseNeurons = DynapseNeurons

-- Defaults of the LIF -> DynapSim conversion (§4.2, Rockpool's layout defaults).
local CONV = {
  Ut = 0.025, kappa = (0.75 + 0.66) / 2, Vth = 0.7,
  C_mem = 3e-12, C_syn = 25e-12, C_pulse = 0.5e-12, C_ref = 1.5e-12,
  t_pulse = 10e-6, t_ref = 1e-3, r_gain_mem = 4, r_gain_syn = 100, Iscale = 1e-8,
}
M.conversion_defaults = CONV

-- helpers ---------------------------------------------------------------------

local function argerror(n, msg, level)
  error(("bad argument #%d to 'mapper' (%s)"):format(n, msg), level or 3)
end

-- a refusal: Rockpool's message, then what is wrong where
local function fail(msg, detail)
  if detail then msg = ("%s (%s)"):format(msg, detail) end
  error("dynapse2.mapper: " .. msg, 0)
end

local function kind(m) return ("%s '%s'"):format(getmetatable(m).__name, m.name) end
local function is_weight(m) return G.is_a(m, G.LinearWeights) end
local function is_lif(m) return G.is_a(m, G.LIFNeuronWithSynsRealValue) end
-- DynapseNeurons of this file, or a class of the same name built elsewhere
local function is_dynapse(m)
  if G.is_a(m, DynapseNeurons) then return true end
  local mt = getmetatable(m)
  return G.is_a(m, G.GenericNeurons) and mt and mt.__name == "DynapseNeurons"
end
local function is_layer(m) return is_lif(m) or is_dynapse(m) end

local function flat(v, n)
  if v == nil then return nil end
  if type(v) == "number" then
    local out = {}
    for i = 1, n do out[i] = v end
    return out
  end
  return v:detach():astype("float64"):reshape(-1):totable()
end

-- does weight module w connect the outputs of a module back to that module's inputs?
local function is_recurrent(w)
  local srcs = {}
  for _, n in ipairs(w.input_nodes) do for _, s in ipairs(n.source_modules) do srcs[s] = true end end
  for _, n in ipairs(w.output_nodes) do
    for _, t in ipairs(n.sink_modules) do if srcs[t] then return true end end
  end
  return false
end

-- options ------------------------------------------------------------------------

local function check_opts(opts)
  local o = { n_cluster = nil, max_neuron_per_cluster = limits.NUM_NEURONS, clustering_method = "greedy",
              seed = nil }
  if opts == nil then return o end
  if type(opts) ~= "table" or lp.is_tensor(opts) then
    argerror(2, "table expected, got " .. (lp.is_tensor(opts) and "tensor" or type(opts)), 4)
  end
  local known = { n_cluster = true, max_neuron_per_cluster = true, clustering_method = true, seed = true }
  for k, v in pairs(opts) do
    if not known[k] then argerror(2, ("unknown field '%s'"):format(tostring(k)), 4) end
    o[k] = v
  end
  if o.n_cluster ~= nil and (math.type(o.n_cluster) ~= "integer" or o.n_cluster < 1) then
    argerror(2, ("field 'n_cluster' must be a positive integer, got %s"):format(tostring(o.n_cluster)), 4)
  end
  local mx = o.max_neuron_per_cluster
  if math.type(mx) ~= "integer" or mx < 1 or mx > limits.NUM_NEURONS then
    argerror(2, ("field 'max_neuron_per_cluster' must be an integer in 1..%d (the neurons of a core), got %s")
      :format(limits.NUM_NEURONS, tostring(mx)), 4)
  end
  if type(o.clustering_method) ~= "string" then
    argerror(2, ("field 'clustering_method' must be a string, got %s"):format(type(o.clustering_method)), 4)
  end
  if o.seed ~= nil and math.type(o.seed) ~= "integer" then
    argerror(2, ("field 'seed' must be an integer, got %s"):format(tostring(o.seed)), 4)
  end
  return o
end

-- the DynapSim graph (§4.1) ---------------------------------------------------------

-- -> {neurons =, input = LinearWeights | nil, rec = LinearWeights | nil} or nil, why
local function as_dynapsim(holder)
  local mods = G.bag_graph(holder)
  if #mods == 0 then return nil, "No module found in the given graph holder!" end
  if #mods > 3 then return nil, "Illegal DynapSim Graph! More than 3 connected modules are not expected!" end
  local neurons, weights = {}, {}
  for _, m in ipairs(mods) do
    if is_dynapse(m) then neurons[#neurons + 1] = m
    elseif is_weight(m) then weights[#weights + 1] = m
    else return nil, ("%s is neither DynapseNeurons nor LinearWeights"):format(kind(m)) end
  end
  if #neurons ~= 1 then return nil, "one DynapseNeurons module expected" end
  local n = neurons[1]
  if #n.input_nodes ~= #n.output_nodes then return nil, "one synapse per neuron expected" end
  local is_in = {}
  for _, x in ipairs(holder.input_nodes) do is_in[x] = true end
  local c = { neurons = n }
  for _, w in ipairs(weights) do
    if w.biases ~= nil then return nil, "weights with biases" end
    for _, x in ipairs(w.output_nodes) do
      local ok = false
      for _, t in ipairs(x.sink_modules) do if t == n then ok = true end end
      if not ok then return nil, "weights that do not feed the neurons" end
    end
    if is_recurrent(w) then
      if c.rec then return nil, "two recurrent weight modules" end
      c.rec = w
    else
      for _, x in ipairs(w.input_nodes) do
        if not is_in[x] then return nil, "input weights that do not read the graph's inputs" end
      end
      if c.input then return nil, "two input weight modules" end
      c.input = w
    end
  end
  return c
end

-- position of each node in a list
local function positions(nodes)
  local p = {}
  for i, x in ipairs(nodes) do p[x] = p[x] or i end
  return p
end

-- a LinearWeights module's matrix laid out over (sources, targets) node lists
local function gather(w, src_nodes, dst_nodes)
  local ps, pd = positions(src_nodes), positions(dst_nodes)
  local W = lp.zeros({ #src_nodes, #dst_nodes }, "float64")
  local direct = #w.input_nodes == #src_nodes and #w.output_nodes == #dst_nodes
  if direct then
    for i, x in ipairs(w.input_nodes) do if ps[x] ~= i then direct = false end end
    for j, x in ipairs(w.output_nodes) do if pd[x] ~= j then direct = false end end
  end
  if direct then return W:copy_(w.weights) end
  local v, nout = flat(w.weights), #w.output_nodes
  for i, xi in ipairs(w.input_nodes) do
    for j, xj in ipairs(w.output_nodes) do
      local r, c = ps[xi], pd[xj]
      if r and c then W:set(r, c, W:get(r, c) + v[(i - 1) * nout + j]) end
    end
  end
  return W
end

-- LIF -> DynapSim currents (§4.2); DynapseNeurons as they are --------------------------

local function layer_currents(m)
  local N = #m.output_nodes
  if #m.input_nodes ~= N then
    fail("Source array shape is different then mask position!",
      ("%s has %d input nodes for %d neurons; Dynap-SE2 neurons have one synapse"):format(kind(m), #m.input_nodes, N))
  end
  if is_dynapse(m) then
    local cur = {}
    for _, k in ipairs(CURRENTS) do
      if m[k] == nil then fail("Number of neurons indicated does not match!", ("%s has no %s"):format(kind(m), k)) end
      cur[k] = flat(m[k], N)
    end
    if type(m.Iscale) ~= "number" then fail("Iscale should be float!", ("%s has no Iscale"):format(kind(m))) end
    return cur, m.Iscale, m.dt
  end
  for _, f in ipairs { "tau_mem", "tau_syn", "threshold" } do
    if m[f] == nil then fail("The graph module is not recognized!", ("LIF layer %s has no %s"):format(kind(m), f)) end
  end
  if type(m.dt) ~= "number" then fail("The graph module is not recognized!", ("LIF layer %s has no dt"):format(kind(m))) end
  local tau_mem, tau_syn, thr = flat(m.tau_mem, N), flat(m.tau_syn, N), flat(m.threshold, N)
  local bias = m.bias ~= nil and flat(m.bias, N) or flat(0, N)
  local UtK = CONV.Ut / CONV.kappa
  local cur = {}
  for _, k in ipairs(CURRENTS) do cur[k] = {} end
  local Ipulse = CONV.Vth * CONV.C_pulse / CONV.t_pulse
  local Iref = CONV.Vth * CONV.C_ref / CONV.t_ref
  for i = 1, N do
    local Itau_mem = UtK * CONV.C_mem / tau_mem[i]
    local Itau_syn = UtK * CONV.C_syn / tau_syn[i]
    cur.Ispkthr[i] = thr[i] * CONV.Iscale
    cur.Idc[i] = bias[i] * CONV.Iscale
    cur.Itau_mem[i], cur.Itau_syn[i] = Itau_mem, Itau_syn
    cur.Igain_mem[i] = CONV.r_gain_mem * Itau_mem
    cur.Igain_syn[i] = CONV.r_gain_syn * Itau_syn
    cur.Ipulse[i], cur.Iref[i] = Ipulse, Iref
    cur.Itau_ahp[i], cur.If_nmda[i], cur.Igain_ahp[i], cur.Ipulse_ahp[i], cur.Iw_ahp[i] = 0.0, 0.0, 0.0, 0.0, 0.0
  end
  return cur, CONV.Iscale, m.dt
end

-- multi-layer networks (§4.3) ------------------------------------------------------

local function shape_str(t) return ("(%d, %d)"):format(t.shape[1], t.shape[2]) end

-- write w's matrix into dest rows r0+1..r1, columns c0+1..c1 (Rockpool's checks, in order)
local function place(dest, r0, r1, c0, c1, w)
  if r1 > dest.shape[1] then fail("row indice is beyond the limits of the destination matrix!", kind(w)) end
  if c1 > dest.shape[2] then fail("col indice is beyond the limits of the destination matrix!", kind(w)) end
  local W = w.weights
  if W.shape[1] ~= r1 - r0 or W.shape[2] ~= c1 - c0 then
    fail("Source array shape is different then mask position!",
      ("the weights of %s are %s; their place is (%d, %d): rows %d..%d, columns %d..%d")
        :format(kind(w), shape_str(W), r1 - r0, c1 - c0, r0 + 1, r1, c0 + 1, c1))
  end
  local block = dest:slice(1, r0 + 1, r1):slice(2, c0 + 1, c1)
  if block:numel() > 0 and block:ne(0):sum():item() > 0 then
    fail("Target location includes non-zero elements!",
      ("%s overlaps weights already placed at rows %d..%d, columns %d..%d"):format(kind(w), r0 + 1, r1, c0 + 1, c1))
  end
  block:copy_(W)
end

local function lifnet(holder)
  local mods = G.bag_graph(holder)
  local sizes = {}
  for _, m in ipairs(mods) do if is_layer(m) then sizes[#sizes + 1] = #m.output_nodes end end
  if #sizes == 0 then fail("No LIF layers found!", "the graph holds no LIF or DynapseNeurons layer") end
  local off = { 0 }
  for i, s in ipairs(sizes) do off[i + 1] = off[i] + s end
  local Nin, Ntot = #holder.input_nodes, off[#off]
  local w_in = lp.zeros({ Nin, Ntot }, "float64")
  local w_rec = lp.zeros({ Ntot, Ntot }, "float64")

  -- breadth-first from the inputs; states "linear" (a weight layer is expected),
  -- "pre" (neurons are expected), "post" (recurrent or feed-forward weights)
  local state, layer, first_linear, prev = "linear", 0, nil, nil
  local queue, head, visited, nvisited, layers = {}, 1, {}, 0, {}
  for _, x in ipairs(holder.input_nodes) do queue[#queue + 1] = x end
  while head <= #queue do
    local node = queue[head]
    head = head + 1
    for _, sink in ipairs(node.sink_modules) do
      if not visited[sink] then
        visited[sink] = true
        nvisited = nvisited + 1
        for _, x in ipairs(sink.output_nodes) do queue[#queue + 1] = x end
        if is_layer(sink) then
          if state ~= "pre" then
            fail("LIF is at unexpected position! Reshape your network!",
              prev and ("%s follows %s without weights between them"):format(kind(sink), kind(prev))
                or ("%s reads the network input without weights"):format(kind(sink)))
          end
          layers[#layers + 1] = sink
          state, layer, prev = "post", layer + 1, sink
        elseif is_weight(sink) then
          if sink.biases ~= nil then fail("Linear layers should not have biases!", kind(sink)) end
          if is_recurrent(sink) then
            if state ~= "post" then
              fail("LIF Recurrent weights are at unexpected position! Reshape your network!",
                ("%s is a second recurrent weight module of a layer"):format(kind(sink)))
            end
            place(w_rec, off[layer], off[layer + 1], off[layer], off[layer + 1], sink)
            state = "linear"
          else
            if state == "pre" then
              fail("Linear weights are at unexpected position! Reshape your network!",
                ("%s follows %s"):format(kind(sink), kind(prev)))
            end
            if layer >= 1 then
              if layer + 1 > #sizes then
                fail("Linear weights are at unexpected position! Reshape your network!",
                  ("%s follows the last neuron layer; Dynap-SE2 networks end with neurons"):format(kind(sink)))
              end
              place(w_rec, off[layer], off[layer + 1], off[layer + 1], off[layer + 2], sink)
            else
              place(w_in, 0, Nin, off[1], off[2], sink)
              first_linear = sink
            end
            state, prev = "pre", sink
          end
        else
          error("dynapse2.mapper: The graph module is not recognized! (" .. kind(sink)
            .. " is neither a weight nor a LIF / DynapSim layer)", 0)
        end
      end
    end
  end
  if nvisited ~= #mods then
    local names = {}
    for _, m in ipairs(mods) do if not visited[m] then names[#names + 1] = kind(m) end end
    fail("Some modules are not visited!", "not reached from the input: " .. table.concat(names, ", "))
  end

  -- one population: the layers' currents one after the other (Rockpool's merge)
  local cur, Iscale, dt, comps = {}, nil, nil, {}
  for _, k in ipairs(CURRENTS) do cur[k] = {} end
  for i, m in ipairs(layers) do
    local c, isc, mdt = layer_currents(m)
    if i == 1 then
      Iscale, dt = isc, mdt
    else
      if isc ~= Iscale then
        fail("Iscale should be the same in all modules in the merge list!",
          ("%s has Iscale %g A, %s has %g A"):format(kind(m), isc, kind(layers[1]), Iscale))
      end
      if type(mdt) ~= "number" or type(dt) ~= "number" or math.abs(mdt - dt) > 1e-9 * math.abs(dt) then
        fail("dt should be the same in all modules in the merge list!",
          ("%s has dt = %s s, %s has %s s"):format(kind(m), tostring(mdt), kind(layers[1]), tostring(dt)))
      end
    end
    for _, k in ipairs(CURRENTS) do
      local dst = cur[k]
      for _, v in ipairs(c[k]) do dst[#dst + 1] = v end
    end
    comps[#comps + 1] = m.computational_module
  end

  local fields = { Iscale = Iscale, dt = dt }
  for _, k in ipairs(CURRENTS) do fields[k] = #cur[k] > 0 and lp.tensor(cur[k], "float64") or lp.zeros({ 0 }, "float64") end
  local name = holder.name or "graph"
  local neurons = DynapseNeurons:factory(Ntot, Ntot, name .. "_dynapse2", comps, fields)
  local lin = G.LinearWeights:factory(Nin, Ntot, first_linear.name, first_linear.computational_module,
    { weights = w_in })
  G.connect_modules(lin, neurons)
  G.LinearWeights(neurons.output_nodes, neurons.input_nodes, name .. "_dynapse2_recurrent",
    holder.computational_module, { weights = w_rec })
  local out = G.GraphHolder(lin.input_nodes, neurons.output_nodes, name .. "_dynapse2", holder.computational_module)
  return { neurons = neurons, holder = out, w_in = w_in, w_rec = w_rec, Iscale = Iscale, dt = dt, currents = cur }
end

-- clustering (§4.4) ----------------------------------------------------------------

local function cluster_map(N, o)
  local max = o.max_neuron_per_cluster
  local min = (N + max - 1) // max
  if min < 1 then min = 1 end
  local n = o.n_cluster
  if n == nil then
    n = min
  elseif n < min then
    fail(("At least %d clusters required to allocate %d neurons!"):format(min, N),
      ("max_neuron_per_cluster = %d"):format(max))
  end
  if n > N then
    fail(("Number of clusters %d cannot be greater than number of neurons %d"):format(n, N))
  end
  local map = {}
  if o.clustering_method == "greedy" then
    -- Rockpool's contiguous blocks of k = floor(N/n) neurons; the r = N mod n neurons
    -- left over go one each to the last r clusters
    local k, r = N // n, N % n
    for i = 1, N do
      if i <= k * n then map[i] = (i - 1) // k + 1 else map[i] = n - r + (i - k * n) end
    end
  elseif o.clustering_method == "random" then
    local seed = o.seed or lp.randint(0, 0x7fffffff, { 1 }):item()
    local perm = require("limpet.train")._permutation(N, seed)
    for i = 1, N do map[i] = (perm[i] - 1) % n + 1 end
  else
    fail("Unknown clustering method!", ("'%s'; use 'greedy' or 'random'"):format(o.clustering_method))
  end
  return n, map
end

-- the mapper ---------------------------------------------------------------------------

--- M.mapper(graph[, opts]) -> spec (see the file header)
function M.mapper(graph, opts)
  if not G.is_a(graph, G.GraphModuleBase) then
    argerror(1, "graph module expected (use net:as_graph()), got " .. (lp.is_tensor(graph) and "tensor" or type(graph)))
  end
  local o = check_opts(opts)
  local holder = G.as_GraphHolder(graph)

  local spec = {}
  local cur, N
  local c = as_dynapsim(holder)
  if c then
    local n = c.neurons
    N = #n.output_nodes
    if N == 0 then fail("No LIF layers found!", ("%s has no neurons"):format(kind(n))) end
    cur = {}
    for _, k in ipairs(CURRENTS) do
      if n[k] == nil then fail("Number of neurons indicated does not match!", ("%s has no %s"):format(kind(n), k)) end
      cur[k] = flat(n[k], N)
    end
    if type(n.Iscale) ~= "number" then fail("Iscale should be float!", ("%s has no Iscale"):format(kind(n))) end
    spec.mapped_graph = holder
    spec.weights_in = c.input and gather(c.input, holder.input_nodes, n.input_nodes) or nil
    spec.weights_rec = c.rec and gather(c.rec, n.output_nodes, n.input_nodes) or nil
    spec.Iscale, spec.dt = n.Iscale, n.dt
  else
    local r = lifnet(holder)
    N, cur = #r.neurons.output_nodes, r.currents
    spec.mapped_graph = r.holder
    spec.weights_in, spec.weights_rec = r.w_in, r.w_rec
    spec.Iscale, spec.dt = r.Iscale, r.dt
  end

  -- currents: non-negative, one value per neuron
  for _, k in ipairs(CURRENTS) do
    for i, v in ipairs(cur[k]) do
      if not (v >= 0) then fail("property should be non-negative!", ("%s[%d] = %g A"):format(k, i, v)) end
    end
  end
  for _, k in ipairs(CURRENTS) do
    if #cur[k] ~= N then
      fail("Number of neurons indicated does not match!", ("%s has %d values for %d neurons"):format(k, #cur[k], N))
    end
  end
  if N == 0 then fail("No LIF layers found!", "the network has no neurons") end

  local n_cluster, core_map = cluster_map(N, o)
  spec.n_neuron, spec.n_cluster, spec.core_map = N, n_cluster, core_map
  spec.unclustered = {}
  for _, k in ipairs(CURRENTS) do
    spec.unclustered[k] = lp.tensor(cur[k], "float64")
    local sum, cnt = {}, {}
    for c2 = 1, n_cluster do sum[c2], cnt[c2] = 0.0, 0 end
    for i, v in ipairs(cur[k]) do
      local cl = core_map[i]
      sum[cl], cnt[cl] = sum[cl] + v, cnt[cl] + 1
    end
    for c2 = 1, n_cluster do sum[c2] = sum[c2] / cnt[c2] end
    spec[k] = lp.tensor(sum, "float64")
  end
  return spec
end

return M
