-- devices/xylo/mapper.lua -- `limpet.xylo.mapper`: a computational graph
-- (lp.graph, from `mod:as_graph()`) -> a Xylo specification (Rockpool's
-- `mapper` of syns61201 / syns65302 / syns63300), for the variants
-- "audio2", "audio3" and "imu".
-- Owns: the design-rule checks (xylo.md §6.1, in Rockpool's order), the
-- conversion of neuron modules to Xylo hidden / output neuron graph modules
-- (§6.2), hardware id assignment (§6.3, ids written back), the layout of the
-- returned specification (§6.4) and aliases (§6.5).
-- Not here: quantisation (quantize.lua), configuration (config.lua).
--
-- Errors. A design-rule violation raises a string starting with
-- "DRCError: " (M.DRCError is that tag without ": "), e.g.
--   DRCError: Design rule first_module_is_a_weight triggered an error: ...
-- naming the rule, the offending graph module and the numbers. Warnings are
-- strings starting with "DRCWarning: "; each distinct warning is reported
-- once per call, to opts.on_warning(msg) when given, else to stderr, and is
-- raised as an error instead when opts.warnings_fatal is true. Misuse of the
-- function itself (a non-graph, an unknown option) raises the usual
-- "bad argument #k to 'mapper' (...)".
--
-- Ids are 1-based in Lua: hidden neurons 1..Nhid, output neurons
-- max_hidden_neurons + 1.. (Rockpool: 0-based, outputs from 1000); alias
-- targets are 1-based hidden ids. Every value of the returned spec is a
-- float64 tensor unless a dtype option says otherwise.
--
-- Where we differ from Rockpool on purpose (its known quirks, §6.6):
-- * Hidden biases are returned under `bias` (and `bias_out`); the config
--   builder of this library keeps them (Rockpool's drops `bias`).
-- * IMU: an input-expansion module that is also an output-expansion module
--   keeps its ids (Rockpool's IMU mapper re-allocates it; its A3 mapper
--   does what we do). On IMU and A3 `weights_out` rows run from the first
--   output-expansion neuron to the last hidden neuron, so that readout row
--   r is hidden neuron Nhid - N_OEN + r as the chip wires it.
-- * le_128_input_expansion_neurons / le_128_output_expansion_neurons are
--   real checks (Rockpool's are empty functions).
-- * The A3 output-channel warning uses the chip's 32 outputs (Rockpool's
--   text says 16): rule le_32_output_channels.
-- * tau <= dt is refused on every variant (Rockpool's A3 lacks the check):
--   it gives no non-negative dash.
-- * Any number of weight modules may read the network input (Rockpool takes
--   the first only); all their targets are input-expansion neurons.
-- * Weights reaching the same entry twice are summed (as the software net
--   sums them), not overwritten.
local lp = require "limpet"
local G = require "limpet.graph"

local M = {}
M.DRCError = "DRCError"
M.DRCWarning = "DRCWarning"

local VARIANTS = {
  audio2 = { title = "Xylo Audio 2", hidden = 1000, outputs = 8, inputs = 16, synapses = 2,
             out_rule = "le_8_output_channels", expansion = false },
  audio3 = { title = "Xylo Audio 3", hidden = 992, outputs = 32, inputs = 16, synapses = 2,
             out_rule = "le_32_output_channels", expansion = true, ien = 128, oen = 128 },
  imu = { title = "Xylo IMU", hidden = 496, outputs = 16, inputs = 16, synapses = 1,
          out_rule = "le_16_output_channels", expansion = true, ien = 128, oen = 128 },
}
M.variants = VARIANTS

-- Rockpool's values ("float", "int": NumPy's float64 and int64) or a tensor dtype
local DTYPES = { float = "float64", int = "int64", float64 = "float64", float32 = "float32", int8 = "int8",
                 int16 = "int16", int32 = "int32", int64 = "int64", uint8 = "uint8" }

-- Xylo neuron graph modules -------------------------------------------------

--- Neurons after conversion: dash_mem (N), dash_syn (k·N, neuron-major),
-- threshold, bias (N), dt; `hw_ids` (1-based) once allocated.
local XyloNeurons = G.GenericNeurons:extend("XyloNeurons")
XyloNeurons.fields = {
  dash_mem = { size = "out" }, dash_syn = { size = "in" }, threshold = { size = "out" },
  bias = { size = "out" }, dt = {},
}
local XyloHiddenNeurons = XyloNeurons:extend("XyloHiddenNeurons")
local XyloOutputNeurons = XyloNeurons:extend("XyloOutputNeurons")
M.XyloNeurons, M.XyloHiddenNeurons, M.XyloOutputNeurons = XyloNeurons, XyloHiddenNeurons, XyloOutputNeurons

-- helpers ---------------------------------------------------------------------

local function drc_error(msg) error(M.DRCError .. ": " .. msg, 0) end
local function rule_error(rule, msg)
  drc_error(("Design rule %s triggered an error: %s"):format(rule, msg))
end

local function argerror(n, msg, level)
  error(("bad argument #%d to 'mapper' (%s)"):format(n, msg), level or 3)
end

local function kind(m) return ("%s '%s'"):format(getmetatable(m).__name, m.name) end

local function is(m, cls) return G.is_a(m, cls) end
local function is_neuron(m) return is(m, G.GenericNeurons) end
local function is_weight(m) return is(m, G.LinearWeights) end
local function is_alias(m) return is(m, G.AliasConnection) end

local function flat(t) return t:detach():astype("float64"):reshape(-1):totable() end

local function plural(n, word) return ("%d %s%s"):format(n, word, n == 1 and "" or "s") end

local function check_opts(opts, V)
  local function bad(msg) argerror(3, msg, 5) end
  local o = {
    weight_dtype = "float", threshold_dtype = "float", dash_dtype = "float",
    max_hidden_neurons = V.hidden, max_output_neurons = V.outputs,
    warnings_fatal = false, on_warning = nil,
  }
  if opts == nil then return o end
  if type(opts) ~= "table" or lp.is_tensor(opts) then
    bad("table expected, got " .. (lp.is_tensor(opts) and "tensor" or type(opts)))
  end
  local known = { weight_dtype = true, threshold_dtype = true, dash_dtype = true, max_hidden_neurons = true,
                  max_output_neurons = true, warnings_fatal = true, on_warning = true }
  for k, v in pairs(opts) do
    if not known[k] then bad(("unknown field '%s'"):format(tostring(k))) end
    o[k] = v
  end
  for _, k in ipairs { "weight_dtype", "threshold_dtype", "dash_dtype" } do
    if not DTYPES[o[k]] then
      bad(("field '%s' must be one of float, int, float64, float32, int8, int16, int32, int64, uint8, got '%s'")
        :format(k, tostring(o[k])))
    end
  end
  -- above the chip's limits is allowed (a DRC warning says the result will not fit it)
  for _, k in ipairs { "max_hidden_neurons", "max_output_neurons" } do
    if math.type(o[k]) ~= "integer" or o[k] < 1 then
      bad(("field '%s' must be a positive integer, got %s"):format(k, tostring(o[k])))
    end
  end
  if type(o.warnings_fatal) ~= "boolean" then bad("field 'warnings_fatal' must be a boolean") end
  if o.on_warning ~= nil and type(o.on_warning) ~= "function" then bad("field 'on_warning' must be a function") end
  return o
end

-- the facts the rules look at
local function survey(holder)
  local c = { holder = holder, inputs = {}, outputs = {} }
  for i, n in ipairs(holder.input_nodes) do c.inputs[n] = i end
  for i, n in ipairs(holder.output_nodes) do c.outputs[n] = i end
  c.modules = G.bag_graph(holder)
  c.neurons, c.weights, c.aliases = {}, {}, {}
  for _, m in ipairs(c.modules) do
    if is_neuron(m) then c.neurons[#c.neurons + 1] = m
    elseif is_weight(m) then c.weights[#c.weights + 1] = m
    elseif is_alias(m) then c.aliases[#c.aliases + 1] = m end
  end
  -- output neurons: neuron modules producing a network output
  c.is_output = {}
  for _, m in ipairs(c.neurons) do
    for _, n in ipairs(m.output_nodes) do
      if c.outputs[n] then c.is_output[m] = true; break end
    end
  end
  -- input-expansion modules: neurons reached by weights reading the input;
  -- output-expansion modules: hidden neurons feeding weights into outputs
  c.is_ien, c.is_oen = {}, {}
  for _, w in ipairs(c.weights) do
    local from_input, srcs = false, {}
    for _, n in ipairs(w.input_nodes) do
      if c.inputs[n] then from_input = true end
      for _, s in ipairs(n.source_modules) do if is_neuron(s) then srcs[s] = true end end
    end
    local to_output = false
    for _, n in ipairs(w.output_nodes) do
      for _, t in ipairs(n.sink_modules) do
        if is_neuron(t) then
          if from_input and not c.is_output[t] then c.is_ien[t] = true end
          if c.is_output[t] then to_output = true end
        end
      end
    end
    if to_output then
      for s in pairs(srcs) do if not c.is_output[s] then c.is_oen[s] = true end end
    end
  end
  return c
end

-- design rules (xylo.md §6.1) -------------------------------------------------

local R = {}

function R.output_nodes_have_neurons_as_source(c)
  for i, n in ipairs(c.holder.output_nodes) do
    local ok = false
    for _, s in ipairs(n.source_modules) do
      if is_neuron(s) then ok = true
      elseif not is_alias(s) then
        return ("all network outputs must come directly from neurons; output %d comes from %s"):format(i, kind(s))
      end
    end
    if not ok then
      return ("all network outputs must come directly from neurons; output %d has no neuron source"):format(i)
    end
  end
end

function R.input_to_neurons_is_a_weight(c)
  for _, m in ipairs(c.neurons) do
    for i, n in ipairs(m.input_nodes) do
      for _, s in ipairs(n.source_modules) do
        if not is_weight(s) then
          return ("every neuron input must come from a LinearWeights module; input %d of %s comes from %s")
            :format(i, kind(m), kind(s))
        end
      end
    end
  end
end

function R.first_module_is_a_weight(c)
  for i, n in ipairs(c.holder.input_nodes) do
    for _, s in ipairs(n.sink_modules) do
      if not is_weight(s) then
        return ("network inputs must go first through weights; input %d feeds %s"):format(i, kind(s))
      end
    end
  end
end

function R.le_16_input_channels(c, V)
  local n = #c.holder.input_nodes
  if n > V.inputs then
    return ("the network has %d input channels; %s has %d"):format(n, V.title, V.inputs)
  end
end

local function out_channels(c, V)
  local n = #c.holder.output_nodes
  if n > V.outputs then
    return ("the network has %d output channels; %s has %d"):format(n, V.title, V.outputs)
  end
end

local function expansion(c, V, set, what, limit)
  local n, names = 0, {}
  for _, m in ipairs(c.neurons) do
    if set[m] then n = n + #m.output_nodes; names[#names + 1] = kind(m) end
  end
  if n > limit then
    return ("%d neurons %s (%s); %s allows %d"):format(n, what, table.concat(names, ", "), V.title, limit)
  end
end
function R.le_128_input_expansion_neurons(c, V)
  return expansion(c, V, c.is_ien, "receive the network input", V.ien)
end
function R.le_128_output_expansion_neurons(c, V)
  return expansion(c, V, c.is_oen, "project to the output neurons", V.oen)
end

function R.all_neurons_have_same_dt(c)
  local first
  for _, m in ipairs(c.neurons) do
    if type(m.dt) ~= "number" then return ("neuron module %s has no dt"):format(kind(m)) end
    if not first then first = m
    elseif math.abs(m.dt - first.dt) > 1e-12 * math.abs(first.dt) then
      return ("all neurons must have the same dt; %s has dt = %g but %s has dt = %g")
        :format(kind(first), first.dt, kind(m), m.dt)
    end
  end
end

function R.output_neurons_cannot_be_recurrent(c)
  for _, m in ipairs(c.neurons) do
    if c.is_output[m] then
      for _, n in ipairs(m.input_nodes) do
        for _, w in ipairs(n.source_modules) do
          for _, wn in ipairs(w.input_nodes) do
            for _, s in ipairs(wn.source_modules) do
              if s == m then
                return ("output neurons cannot be recurrent; output module %s feeds itself through %s")
                  :format(kind(m), kind(w))
              end
            end
          end
        end
      end
    end
  end
end

function R.no_consecutive_weights(c)
  for _, w in ipairs(c.weights) do
    for _, n in ipairs(w.output_nodes) do
      for _, t in ipairs(n.sink_modules) do
        if is_weight(t) then
          return ("weights cannot follow weights; %s feeds %s"):format(kind(w), kind(t))
        end
      end
    end
  end
end

function R.alias_inputs_must_be_neurons(c)
  for _, a in ipairs(c.aliases) do
    for i, n in ipairs(a.input_nodes) do
      local ok = false
      for _, s in ipairs(n.source_modules) do
        if is_neuron(s) then ok = true
        elseif not is_alias(s) then
          return ("alias sources must be neurons; input %d of %s comes from %s"):format(i, kind(a), kind(s))
        end
      end
      if not ok then
        return ("alias sources must be neurons; input %d of %s has no neuron source"):format(i, kind(a))
      end
    end
  end
end

function R.alias_output_nodes_must_have_neurons_as_input(c)
  for _, a in ipairs(c.aliases) do
    for i, n in ipairs(a.output_nodes) do
      local ok = false
      for _, s in ipairs(n.source_modules) do if is_neuron(s) then ok = true end end
      if not ok then
        return ("alias targets must be neurons; output %d of %s is not produced by a neuron module"):format(i, kind(a))
      end
    end
  end
end

function R.at_least_two_neuron_layers_needed(c)
  if #c.neurons < 2 then
    return ("the network has %s; at least 2 are needed (hidden and output)"):format(plural(#c.neurons, "neuron module"))
  end
end

function R.weight_nodes_have_no_biases(c)
  for _, w in ipairs(c.weights) do
    if w.biases ~= nil then
      return ("biases of %s are ignored: Xylo weights have no biases"):format(kind(w))
    end
  end
end

function R.max_synapses_per_neuron(c, V)
  for _, m in ipairs(c.neurons) do
    local nout = #m.output_nodes
    if nout > 0 and #m.input_nodes > nout then
      return ("%s neurons have 1 synapse; %s has %d input nodes for %s")
        :format(V.title, kind(m), #m.input_nodes, plural(nout, "neuron"))
    end
  end
end

-- the rules of each variant, in order: {name, function, is_warning}
local function rules_for(variant, V)
  local list = {
    { "output_nodes_have_neurons_as_source", R.output_nodes_have_neurons_as_source },
    { "input_to_neurons_is_a_weight", R.input_to_neurons_is_a_weight },
    { "first_module_is_a_weight", R.first_module_is_a_weight },
    { "le_16_input_channels", R.le_16_input_channels, true },
    { V.out_rule, out_channels, true },
  }
  if V.expansion then
    list[#list + 1] = { "le_128_input_expansion_neurons", R.le_128_input_expansion_neurons }
    list[#list + 1] = { "le_128_output_expansion_neurons", R.le_128_output_expansion_neurons }
  end
  for _, r in ipairs {
    { "all_neurons_have_same_dt", R.all_neurons_have_same_dt },
    { "output_neurons_cannot_be_recurrent", R.output_neurons_cannot_be_recurrent },
    { "no_consecutive_weights", R.no_consecutive_weights },
    { "alias_inputs_must_be_neurons", R.alias_inputs_must_be_neurons },
    { "alias_output_nodes_must_have_neurons_as_input", R.alias_output_nodes_must_have_neurons_as_input },
    { "at_least_two_neuron_layers_needed", R.at_least_two_neuron_layers_needed },
    { "weight_nodes_have_no_biases", R.weight_nodes_have_no_biases, true },
  } do list[#list + 1] = r end
  if variant == "imu" then list[#list + 1] = { "max_synapses_per_neuron", R.max_synapses_per_neuron } end
  return list
end

--- M.design_rules(variant) -> the names of the variant's design rules, in order.
function M.design_rules(variant)
  local V = VARIANTS[variant]
  if not V then error(("bad argument #1 to 'design_rules' (unknown variant '%s')"):format(tostring(variant)), 2) end
  local out = {}
  for i, r in ipairs(rules_for(variant, V)) do out[i] = r[1] end
  return out
end

-- conversion (§6.2) ---------------------------------------------------------------

local LN2 = math.log(2)

local function convert(m, is_output, V)
  local what = is_output and "output neuron module" or "module"
  local function fail(msg) drc_error(("Error replacing %s %s: %s"):format(what, kind(m), msg)) end
  if not is(m, G.LIFNeuronWithSynsRealValue) then
    fail(("%s cannot be mapped to Xylo neurons (LIF neurons only)"):format(getmetatable(m).__name))
  end
  local nin, nout = #m.input_nodes, #m.output_nodes
  local k = nout > 0 and nin // nout or 0
  local maxk = is_output and 1 or V.synapses
  if nout == 0 or k * nout ~= nin or k < 1 or k > maxk then
    fail(("it has %d input nodes for %s; %s %s neurons have %s"):format(nin, plural(nout, "neuron"),
      V.title, is_output and "output" or "hidden", maxk == 1 and "1 synapse" or "1 or 2 synapses"))
  end
  if type(m.dt) ~= "number" then fail("it has no dt") end
  for _, f in ipairs { "tau_mem", "tau_syn", "threshold" } do
    if m[f] == nil then fail(("it has no %s"):format(f)) end
  end
  local dt = m.dt
  local function dash(field)
    local v = flat(m[field])
    local out = {}
    for i, tau in ipairs(v) do
      if not (tau > dt) then
        fail(("%s[%d] = %g s is not above dt = %g s, so it has no dash"):format(field, i, tau, dt))
      end
      out[i] = math.log(tau / dt) / LN2
    end
    return lp.tensor(out, "float64")
  end
  local cls = is_output and XyloOutputNeurons or XyloHiddenNeurons
  local x = cls(m.input_nodes, m.output_nodes, m.name, m.computational_module, {
    dash_mem = dash("tau_mem"), dash_syn = dash("tau_syn"), threshold = m.threshold,
    bias = m.bias or 0, dt = dt })
  x.n_synapses = k
  G.replace_module(m, x)
  return x
end

-- id assignment (§6.3) ----------------------------------------------------------

local function allocate(list, first, limit, what)
  local next_id, used = first, 0
  for _, m in ipairs(list) do
    if not m.hw_ids then
      local n = #m.output_nodes
      if used + n > limit then
        drc_error(("Failed to allocate HW resources for %s neurons. Exceeded number of available resources for graph module %s: it needs %d, %d of %d are left")
          :format(what, kind(m), n, limit - used, limit))
      end
      local ids = {}
      for i = 1, n do ids[i] = next_id + i - 1 end
      next_id, used = next_id + n, used + n
      m.hw_ids = ids
      local comp = m.computational_module
      if type(comp) == "table" then rawset(comp, "hw_ids", ids) end
    end
  end
  return used
end

-- the mapper ------------------------------------------------------------------------

--- M.mapper(graph, variant, opts) -> spec, warnings
-- graph: an lp.graph module (e.g. net:as_graph()); variant: "audio2",
-- "audio3" or "imu"; opts: {weight_dtype, threshold_dtype, dash_dtype
-- ("float" = float64, the default; or a tensor dtype: a plain cast),
-- max_hidden_neurons, max_output_neurons, warnings_fatal = false,
-- on_warning = function(msg)}. The graph is changed in place: neuron
-- modules are replaced by Xylo neuron modules carrying `hw_ids`, which are
-- also written to their computational modules (`mod.hw_ids`).
-- `warnings` is the list of the warning messages issued.
function M.mapper(graph, variant, opts)
  if not G.is_a(graph, G.GraphModuleBase) then
    argerror(1, "graph module expected (use net:as_graph()), got " .. (lp.is_tensor(graph) and "tensor" or type(graph)))
  end
  local V = VARIANTS[variant]
  if not V then argerror(2, ("variant must be one of audio2, audio3, imu, got '%s'"):format(tostring(variant))) end
  local o = check_opts(opts, V)
  local holder = G.as_GraphHolder(graph)

  local warnings, said = {}, {}
  local function warn(msg)
    msg = M.DRCWarning .. ": " .. msg
    if o.warnings_fatal then error(msg, 0) end
    if said[msg] then return end
    said[msg] = true
    warnings[#warnings + 1] = msg
    if o.on_warning then o.on_warning(msg) else io.stderr:write(msg, "\n") end
  end

  for _, k in ipairs { "max_hidden_neurons", "max_output_neurons" } do
    local limit = k == "max_hidden_neurons" and V.hidden or V.outputs
    if o[k] > limit then
      warn(("%s = %d is above the %d %s neurons of %s: the specification will not fit the chip")
        :format(k, o[k], limit, k == "max_hidden_neurons" and "hidden" or "output", V.title))
    end
  end

  -- design rules
  local c = survey(holder)
  for _, r in ipairs(rules_for(variant, V)) do
    local msg = r[2](c, V)
    if msg then
      if r[3] then warn(("Design rule %s: %s"):format(r[1], msg)) else rule_error(r[1], msg) end
    end
  end

  -- conversion
  local hidden, outputs = {}, {}
  for _, m in ipairs(c.neurons) do
    local out = c.is_output[m]
    local x = convert(m, out, V)
    if out then outputs[#outputs + 1] = x else hidden[#hidden + 1] = x end
    c.is_ien[x], c.is_oen[x] = c.is_ien[m], c.is_oen[m]
  end
  local dt = c.neurons[1].dt

  -- ids: in bag order (front to back); on IMU / A3 input-expansion modules
  -- first and output-expansion modules last
  local order = hidden
  if V.expansion then
    order = {}
    for _, m in ipairs(hidden) do if c.is_ien[m] then order[#order + 1] = m end end
    for _, m in ipairs(hidden) do if not c.is_ien[m] and not c.is_oen[m] then order[#order + 1] = m end end
    for _, m in ipairs(hidden) do if c.is_oen[m] and not c.is_ien[m] then order[#order + 1] = m end end
  end
  local Nh = allocate(order, 1, o.max_hidden_neurons, "hidden")
  local No = allocate(outputs, o.max_hidden_neurons + 1, o.max_output_neurons, "output")
  local Ni = #holder.input_nodes

  -- synapses per hidden neuron
  local S = 1
  for _, m in ipairs(hidden) do if m.n_synapses > S then S = m.n_synapses end end
  local n_ien, first_oen = Nh, 1
  if V.expansion then
    n_ien = 0
    for _, m in ipairs(hidden) do if c.is_ien[m] then n_ien = n_ien + #m.output_nodes end end
    first_oen = Nh + 1
    for _, m in ipairs(hidden) do
      if c.is_oen[m] then for _, id in ipairs(m.hw_ids) do if id < first_oen then first_oen = id end end end
    end
    if Nh - first_oen + 1 > V.oen then
      rule_error("le_128_output_expansion_neurons", ("the readout reads hidden neurons %d..%d (%d neurons); %s reads the last %d")
        :format(first_oen, Nh, Nh - first_oen + 1, V.title, V.oen))
    end
  end
  local n_oen = Nh - first_oen + 1

  -- where each node lands: neuron input node -> {module, position}; neuron
  -- output node -> {module, position}
  local node_in, node_out = {}, {}
  for _, list in ipairs { hidden, outputs } do
    for _, m in ipairs(list) do
      for q, n in ipairs(m.input_nodes) do
        local l = node_in[n] or {}
        l[#l + 1] = { m, q }
        node_in[n] = l
      end
      for q, n in ipairs(m.output_nodes) do node_out[n] = node_out[n] or { m, q } end
    end
  end
  local is_out = {}
  for _, m in ipairs(outputs) do is_out[m] = true end

  local W_in, W_rec, W_out = {}, {}, {}
  local nin_cols = V.expansion and n_ien or Nh
  for i = 1, Ni * nin_cols * S do W_in[i] = 0.0 end
  for i = 1, Nh * Nh * S do W_rec[i] = 0.0 end
  for i = 1, n_oen * No do W_out[i] = 0.0 end

  for _, w in ipairs(c.weights) do
    local src = {}
    for i, n in ipairs(w.input_nodes) do
      if c.inputs[n] then src[i] = { "in", c.inputs[n] }
      else
        local so = node_out[n]
        if not so then
          drc_error(("Unexpected source of weight graph module %s: input %d is neither a network input nor a neuron output")
            :format(kind(w), i))
        end
        if is_out[so[1]] then
          drc_error(("Unexpected source of weight graph module %s: input %d comes from output neurons %s")
            :format(kind(w), i, kind(so[1])))
        end
        src[i] = { "hid", so[1].hw_ids[so[2]] }
      end
    end
    local wv, nout = flat(w.weights), #w.output_nodes
    for j, n in ipairs(w.output_nodes) do
      local targets = node_in[n]
      if not targets then
        drc_error(("Unexpected target of weight graph module %s: output %d feeds no neuron"):format(kind(w), j))
      end
      for _, t in ipairs(targets) do
        local m, q = t[1], t[2]
        local k = m.n_synapses
        local nid, syn = m.hw_ids[(q - 1) // k + 1], (q - 1) % k + 1
        for i = 1, #src do
          local v = wv[(i - 1) * nout + j]
          local s = src[i]
          if is_out[m] then
            if s[1] == "in" then
              drc_error(("Unexpected target of weight graph module %s: network inputs cannot reach output neurons %s directly")
                :format(kind(w), kind(m)))
            end
            if s[2] < first_oen then
              drc_error(("Unexpected source of weight graph module %s: hidden neuron %d is outside the readout neurons %d..%d")
                :format(kind(w), s[2], first_oen, Nh))
            end
            local r = s[2] - first_oen + 1
            local idx = (r - 1) * No + (nid - o.max_hidden_neurons)
            W_out[idx] = W_out[idx] + v
          elseif s[1] == "in" then
            if nid > nin_cols then
              drc_error(("Unexpected target of weight graph module %s: hidden neuron %d is not an input-expansion neuron")
                :format(kind(w), nid))
            end
            local idx = ((s[2] - 1) * nin_cols + (nid - 1)) * S + syn
            W_in[idx] = W_in[idx] + v
          else
            local idx = ((s[2] - 1) * Nh + (nid - 1)) * S + syn
            W_rec[idx] = W_rec[idx] + v
          end
        end
      end
    end
  end

  -- neuron parameters, by id
  local dash_mem, dash_syn, dash_syn2, thr, bias = {}, {}, {}, {}, {}
  for i = 1, Nh do dash_mem[i], dash_syn[i], dash_syn2[i], thr[i], bias[i] = 0.0, 0.0, 0.0, 0.0, 0.0 end
  for _, m in ipairs(hidden) do
    local dm, ds, th, b = flat(m.dash_mem), flat(m.dash_syn), flat(m.threshold), flat(m.bias)
    local k = m.n_synapses
    for n, id in ipairs(m.hw_ids) do
      dash_mem[id], thr[id], bias[id] = dm[n], th[n], b[n]
      dash_syn[id] = ds[(n - 1) * k + 1]
      if k > 1 then dash_syn2[id] = ds[(n - 1) * k + 2] end
    end
  end
  local dmo, dso, tho, bo = {}, {}, {}, {}
  for _, m in ipairs(outputs) do
    local dm, ds, th, b = flat(m.dash_mem), flat(m.dash_syn), flat(m.threshold), flat(m.bias)
    for n, id in ipairs(m.hw_ids) do
      local r = id - o.max_hidden_neurons
      dmo[r], dso[r], tho[r], bo[r] = dm[n], ds[n], th[n], b[n]
    end
  end

  -- aliases (§6.5)
  local aliases = {}
  for i = 1, Nh do aliases[i] = {} end
  for _, a in ipairs(c.aliases) do
    for i = 1, #a.input_nodes do
      local function hidden_of(n, what)
        for _, s in ipairs(n.source_modules) do
          if G.is_a(s, XyloNeurons) then
            if is_out[s] then
              drc_error(("Unexpected %s of alias %s: output neurons %s cannot be aliased (hidden neurons only)")
                :format(what, kind(a), kind(s)))
            end
            local q = node_out[n][2]
            return s.hw_ids[q]
          end
        end
      end
      local from = hidden_of(a.input_nodes[i], "source")
      local to = hidden_of(a.output_nodes[i], "target")
      local l = aliases[from]
      local dup = false
      for _, x in ipairs(l) do if x == to then dup = true end end
      if not dup then l[#l + 1] = to end
    end
  end

  local function T(v, shape, dtype) return lp.tensor(v, "float64"):reshape(shape):astype(DTYPES[dtype]) end
  local function V1(v, dtype)
    if #v == 0 then return lp.zeros({ 0 }, "float64"):astype(DTYPES[dtype]) end
    return lp.tensor(v, "float64"):astype(DTYPES[dtype])
  end
  local two_d = variant == "audio2" and S == 1
  local spec = {
    weights_in = T(W_in, two_d and { Ni, nin_cols } or { Ni, nin_cols, S }, o.weight_dtype),
    weights_rec = T(W_rec, two_d and { Nh, Nh } or { Nh, Nh, S }, o.weight_dtype),
    weights_out = T(W_out, { n_oen, No }, o.weight_dtype),
    dash_mem = V1(dash_mem, o.dash_dtype),
    dash_mem_out = V1(dmo, o.dash_dtype),
    dash_syn = V1(dash_syn, o.dash_dtype),
    dash_syn_out = V1(dso, o.dash_dtype),
    threshold = V1(thr, o.threshold_dtype),
    threshold_out = V1(tho, o.threshold_dtype),
    bias = V1(bias, o.weight_dtype),
    bias_out = V1(bo, o.weight_dtype),
    weight_shift_in = 0, weight_shift_rec = 0, weight_shift_out = 0,
    aliases = aliases,
    mapped_graph = holder,
    dt = dt,
  }
  if variant ~= "imu" then spec.dash_syn_2 = V1(dash_syn2, o.dash_dtype) end
  return spec, warnings
end

return M
