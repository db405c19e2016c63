-- devices/xylo/config.lua -- Xylo configuration objects: build, validate, save, load.
-- Owns: config_from_specification (reference/xylo.md §8), the checks of the
-- per-variant limits (§5, numbers in limpet.xylo.limits), and the JSON file
-- layout of save_config / load_config. Not here: mapping (mapper.lua),
-- quantisation (quantize.lua), simulation (xylosim.lua, C engine).
--
-- A configuration is a Lua table (class XyloConfig) that is also a complete
-- specification: XyloSim.from_specification accepts its spec fields as they are.
--
--   variant          "audio2" | "audio3" | "imu"
--   n_in, n_hidden, n_out   input channels, hidden neurons, output neurons
--   n_syn            synapses per hidden neuron in use (1 or 2)
--   n_ien            input-expansion neurons: weights_in columns are hidden ids 1..n_ien
--   n_oen            output-expansion neurons: weights_out rows are the LAST n_oen hidden
--                    ids, n_hidden-n_oen+1..n_hidden (the A3/IMU readout convention; on
--                    Audio 2 n_oen is normally n_hidden)
--   weights_in       int8 (n_in, n_ien, n_syn)        samna input.weights [, syn2_weights]
--   weights_rec      int8 (n_hidden, n_hidden, n_syn) reservoir/hidden.weights [, syn2_weights]
--   weights_out      int8 (n_oen, n_out)              readout.weights
--   weight_shift_in, weight_shift_rec, weight_shift_out   integers 0..7 (IWBS, RWBS, OWBS)
--   dash_mem, dash_syn    int8 (n_hidden)   neurons[i].v_mem_decay, .i_syn_decay
--   dash_syn_2            int8 (n_hidden)   neurons[i].i_syn2_decay (present iff n_syn == 2)
--   dash_mem_out, dash_syn_out   int8 (n_out)   readout.neurons[k].v_mem_decay, .i_syn_decay
--   threshold        int16 (n_hidden)  neurons[i].threshold
--   threshold_out    int16 (n_out)     readout.neurons[k].threshold
--   bias             int16 (n_hidden)  neurons[i].v_mem_bias (zeros unless bias_enable)
--   bias_out         int16 (n_out)     readout.neurons[k].v_mem_bias
--   aliases          n_hidden lists, each {} or {target} (1-based hidden id)  .alias_target
--   aliasing         boolean: aliases were given (reservoir/hidden.aliasing)
--   bias_enable      boolean: a bias was given (CTRL1 BIAS_EN)
--   synapse2_enable  boolean: n_syn == 2 (CTRL1 ISYN2_EN)
--   operation_mode   "AcceleratedTime" (default) | "Manual" | "RealTime"
--   enable_hibernation_mode   boolean (false)
--   clear_network_state       boolean (false)
--   dt               seconds per time step, when the specification carried one (else absent)
--   time_resolution_wrap  clock cycles per time step in RealTime mode, round(clock_hz·dt)
--                    (A2 TR_WRAP, A3 time_resolution_wrap); absent without dt or clock (IMU)
--   debug            table: monitor_neuron_i_syn, monitor_neuron_i_syn2, monitor_neuron_spike,
--                    monitor_neuron_v_mem ({first, last} hidden ids, inclusive, or false),
--                    always_update_omp_stat (IMU: true);
--                    Audio 2 only: isyn_clock_enable, isyn2_clock_enable, ra_clock_enable,
--                    bias_clock_enable, hm_clock_enable, ram_power_enable
--   input_source     Audio 3 only: "SpikeEvents"
--   imu_if_input_enable   IMU only: false (the SNN reads spike events, not the IMU interface)
--
-- A valid configuration holds its integers in chip-width tensors (int8 weights and dashes,
-- int16 thresholds and biases); an invalid one (ok == false) keeps every value as given in
-- int32 tensors, so nothing wraps and the message can quote the value.
--
-- Differences to Rockpool (deliberate, see reference/xylo.md §6.6, §7, §8):
-- * out-of-range values are reported (ok = false), never wrapped by an int8 cast;
-- * weights, thresholds and biases should already be integers (quantise first): other
--   values are rounded half-to-even with a warning (Rockpool casts with a warning too, by
--   truncation); dashes may still be the mapper's unrounded log2(tau/dt) and are rounded
--   half-to-even silently, as Rockpool does;
-- * hidden biases are read from `bias` (the mapper's name; `bias_hidden` is accepted too),
--   so they are not dropped;
-- * Audio 3 keeps synapse 2 (the silicon has its RAMs; Rockpool writes synapse 1 only);
-- * more than 128 IEN columns / OEN rows on A3 and IMU are trimmed only when the dropped
--   ones are all zero, otherwise the configuration is invalid (Rockpool drops them silently);
-- * a neuron with more than one alias target is invalid (Rockpool keeps the first).
--
-- File layout of save_config (JSON, object keys sorted, ids 0-based):
--   {"format": "limpet.xylo.config", "version": 1, "variant": ..., every field above
--    with tensors as nested arrays of integers (vectors as flat arrays), "aliases" as
--    arrays of 0-based targets, "debug" monitor ranges as [first, last] 0-based or false}
local lp = require "limpet"
local json = require "limpet.json"
local jsonfile = require "limpet.jsonfile"
local class = require "limpet.class"
local limits = require "limpet.xylo.limits"

local M = {}

local Config = class.Object:extend("XyloConfig")
M.Config = Config

local FORMAT, VERSION = "limpet.xylo.config", 1

local OPERATION_MODES = { AcceleratedTime = true, Manual = true, RealTime = true }
local MONITORS = { "monitor_neuron_i_syn", "monitor_neuron_i_syn2", "monitor_neuron_spike",
                   "monitor_neuron_v_mem" }
local A2_CLOCKS = { "isyn_clock_enable", "isyn2_clock_enable", "ra_clock_enable",
                    "bias_clock_enable", "hm_clock_enable", "ram_power_enable" }
for _, k in ipairs(MONITORS) do MONITORS[k] = true end     -- lists double as sets
for _, k in ipairs(A2_CLOCKS) do A2_CLOCKS[k] = true end

-- Errors ---------------------------------------------------------------------

local function argerror(fn, msg, level)
  error(("bad argument #1 to '%s' (%s)"):format(fn, msg), level + 1)
end

local function shape_str(shape)
  local parts = {}
  for i = 1, #shape do parts[i] = tostring(shape[i]) end
  return "(" .. table.concat(parts, ", ") .. (#shape == 1 and ",)" or ")")
end

local function same_shape(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do if a[i] ~= b[i] then return false end end
  return true
end

-- "[i, j, k]" of the 1-based flat position `flat` in a row-major tensor of `shape`.
local function index_str(shape, flat)
  local idx, rem = {}, flat - 1
  for d = #shape, 1, -1 do
    idx[d] = rem % shape[d] + 1
    rem = rem // shape[d]
  end
  return "[" .. table.concat(idx, ", ") .. "]"
end

local function num_str(v)
  if math.type(v) == "float" and v == math.floor(v) and math.abs(v) < 2^63 then
    return ("%d"):format(math.tointeger(v))
  end
  return tostring(v)
end

-- First element (flat position, value) where the boolean tensor `mask` is true, or nil.
local function first_true(t, mask)
  if t:numel() == 0 then return nil end
  local m = mask:reshape(-1):astype("int8")
  local pos = m:argmax():item()
  if m:get(pos) == 0 then return nil end
  return pos, t:reshape(-1):get(pos)
end

-- Value conversion -------------------------------------------------------------

local FLOAT = { float32 = true, float64 = true, float16 = true, bfloat16 = true }

-- While config_from_specification runs: function(msg) that reports a rounded field.
local round_warn = nil

-- spec value (tensor, nested table or number) -> float64 or integer tensor; raises
-- with the field name when the value is not numeric, or (outside
-- config_from_specification, which rounds and warns) not integral.
local function numeric(fn, name, v, level, allow_fraction)
  local t
  if lp.is_tensor(v) then
    t = v
  elseif type(v) == "number" then
    t = lp.tensor(v, "float64")
  elseif type(v) == "table" then
    local ok, res = pcall(lp.tensor, v, "float64")
    if not ok then
      local why = tostring(res):match("%((.*)%)$") or tostring(res)
      argerror(fn, ("field '%s': %s"):format(name, why), level + 1)
    end
    t = res
  else
    argerror(fn, ("field '%s' must be a tensor, a nested table or a number, got %s")
      :format(name, type(v)), level + 1)
  end
  if t.dtype == "bool" then t = t:astype("int32") end
  if FLOAT[t.dtype] then
    t = t:astype("float64")
    local pos, val = first_true(t, t:isnan():logical_or(t:isinf()))
    if pos then
      local what = val ~= val and "nan" or (val > 0 and "inf" or "-inf")
      argerror(fn, ("field '%s' holds %s at %s"):format(name, what, index_str(t.shape, pos)),
        level + 1)
    end
    if allow_fraction then
      t = t:round()
    else
      pos, val = first_true(t, t:ne(t:floor()))
      if pos then
        local msg = ("field '%s' holds non-integer values (%s at %s)"):format(name, tostring(val), index_str(t.shape, pos))
        if not round_warn then argerror(fn, msg .. "; quantise the specification first", level + 1) end
        round_warn(("%s: %s: rounded to the nearest integers (quantise the specification first: "
          .. "xylo.global_quantize or xylo.channel_quantize)"):format(fn, msg))
        t = t:round()
      end
    end
  end
  return t
end

-- Wide integer tensor (int32) of a value already known to be integral; values beyond
-- int32 are clamped (they are far outside every chip range, the message still says so).
local function wide(t)
  if t.dtype == "int32" then return t:clone() end
  if t.dtype == "int64" or FLOAT[t.dtype] or t.dtype == "uint32" then
    t = t:astype("float64"):clamp(-2147483648, 2147483647)
  end
  return t:astype("int32")
end

-- A per-neuron vector of length n: numbers broadcast, (n) tensors pass.
local function vector(fn, name, v, n, default, level, allow_fraction)
  if v == nil then return lp.full({ n }, default, "int32") end
  local t = numeric(fn, name, v, level + 1, allow_fraction)
  if t:dim() == 0 then return lp.full({ n }, 0, "int32"):add(wide(t)) end
  if t:dim() ~= 1 or t.shape[1] ~= n then
    argerror(fn, ("field '%s': expected shape (%d,), got %s"):format(name, n, shape_str(t.shape)),
      level + 1)
  end
  return wide(t)
end

local function scalar_int(fn, name, v, level)
  if v == nil then return 0 end
  local t = numeric(fn, name, v, level + 1)
  if t:numel() ~= 1 then
    argerror(fn, ("field '%s' must be a single integer, got shape %s"):format(name, shape_str(t.shape)),
      level + 1)
  end
  local x = t:reshape(-1):get(1)
  return math.tointeger(x) or x
end

-- Weights: 2-D gets a trailing synapse axis; 3-D passes.
local function weights3(fn, name, v, level)
  local t = numeric(fn, name, v, level + 1)
  if t:dim() == 2 then
    t = t:reshape({ t.shape[1], t.shape[2], 1 })
  elseif t:dim() ~= 3 then
    argerror(fn, ("field '%s': expected 2 or 3 dims, got shape %s"):format(name, shape_str(t.shape)),
      level + 1)
  end
  return wide(t)
end

-- (a, b, 1) -> (a, b, s) with zeros in the new synapse slots.
local function pad_syn(t, s)
  if t.shape[3] == s then return t end
  local out = lp.zeros({ t.shape[1], t.shape[2], s }, "int32")
  out:slice(3, 1, t.shape[3]):copy_(t)
  return out
end

-- Aliases ------------------------------------------------------------------------

local function convert_aliases(fn, v, n, level)
  if v == nil then
    local out = {}
    for i = 1, n do out[i] = {} end
    return out, false
  end
  if type(v) ~= "table" or lp.is_tensor(v) then
    argerror(fn, ("field 'aliases' must be a table of %d lists, got %s"):format(n, lp.is_tensor(v)
      and "a tensor" or type(v)), level + 1)
  end
  if #v ~= n then
    argerror(fn, ("field 'aliases': expected %d lists (one per hidden neuron), got %d"):format(n, #v),
      level + 1)
  end
  local out = {}
  for i = 1, n do
    local a = v[i]
    if type(a) == "number" then a = { a } end
    if type(a) ~= "table" then
      argerror(fn, ("field 'aliases': entry %d must be a list of hidden ids, got %s"):format(i, type(a)),
        level + 1)
    end
    local row = {}
    for j = 1, #a do
      local id = a[j]
      if math.type(id) == "float" and id == math.floor(id) then id = math.tointeger(id) end
      if math.type(id) ~= "integer" then
        argerror(fn, ("field 'aliases': entry %d holds %s, expected an integer hidden id")
          :format(i, tostring(a[j])), level + 1)
      end
      row[j] = id
    end
    out[i] = row
  end
  return out, true
end

-- Validation (§5) ----------------------------------------------------------------

local function check_range(name, t, lo, hi, what)
  if t == nil then return nil end
  local pos, val = first_true(t, t:lt(lo):logical_or(t:gt(hi)))
  if pos then
    return ("%s: %s at %s is outside [%d, %d] (%s)"):format(name, num_str(val),
      index_str(t.shape, pos), lo, hi, what)
  end
end

local function check_shape(name, t, shape)
  if not lp.is_tensor(t) then
    return ("%s: expected a tensor of shape %s, got %s"):format(name, shape_str(shape), type(t))
  end
  if not same_shape(t.shape, shape) then
    return ("%s: expected shape %s, got %s"):format(name, shape_str(shape), shape_str(t.shape))
  end
end

local function is_int(x) return math.type(x) == "integer" end

--- validate(config) -> ok, message: every limit of §5 for the config's variant.
function M.validate(c)
  if type(c) ~= "table" then return false, "config: expected a table, got " .. type(c) end
  if not limits.is_variant(c.variant) then
    return false, ("variant: unknown Xylo variant '%s'"):format(tostring(c.variant))
  end
  local L = limits.for_variant(c.variant)
  local title = L.title
  for _, k in ipairs { "n_in", "n_hidden", "n_out", "n_syn", "n_ien", "n_oen" } do
    if not is_int(c[k]) or c[k] < 0 then
      return false, ("%s: expected a non-negative integer, got %s"):format(k, tostring(c[k]))
    end
  end
  local nin, nh, nout, ns = c.n_in, c.n_hidden, c.n_out, c.n_syn
  -- sizes
  if nin > L.n_in then
    return false, ("weights_in: %d input channels, %s has %d"):format(nin, title, L.n_in)
  end
  if nh > L.n_hidden then
    return false, ("weights_rec: %d hidden neurons, %s has %d"):format(nh, title, L.n_hidden)
  end
  if nout > L.n_out then
    return false, ("weights_out: %d output neurons, %s has %d"):format(nout, title, L.n_out)
  end
  if ns < 1 or ns > L.n_syn then
    return false, ("weights_rec: %d synapses per hidden neuron, %s has %d"):format(ns, title, L.n_syn)
  end
  if c.n_ien > nh then
    return false, ("weights_in: %d input-expansion neurons, more than the %d hidden neurons")
      :format(c.n_ien, nh)
  end
  if c.n_ien > L.n_ien then
    return false, ("weights_in: %d input-expansion neurons (columns), %s allows %d")
      :format(c.n_ien, title, L.n_ien)
  end
  if c.n_oen > nh then
    return false, ("weights_out: %d output-expansion neurons, more than the %d hidden neurons")
      :format(c.n_oen, nh)
  end
  if c.n_oen > L.n_oen then
    return false, ("weights_out: %d output-expansion neurons (rows), %s allows %d")
      :format(c.n_oen, title, L.n_oen)
  end
  -- shapes
  local shapes = {
    { "weights_in", { nin, c.n_ien, ns } }, { "weights_rec", { nh, nh, ns } },
    { "weights_out", { c.n_oen, nout } },
    { "dash_mem", { nh } }, { "dash_syn", { nh } }, { "threshold", { nh } }, { "bias", { nh } },
    { "dash_mem_out", { nout } }, { "dash_syn_out", { nout } }, { "threshold_out", { nout } },
    { "bias_out", { nout } },
  }
  if ns == 2 then shapes[#shapes + 1] = { "dash_syn_2", { nh } } end
  for _, s in ipairs(shapes) do
    local msg = check_shape(s[1], c[s[1]], s[2])
    if msg then return false, msg end
  end
  if ns == 1 and c.dash_syn_2 ~= nil then
    return false, "dash_syn_2: present although synapse 2 is not in use (n_syn = 1)"
  end
  -- ranges
  local w = ("int8 weights, %d bits"):format(L.weight_bits)
  for _, r in ipairs {
    { "weights_in", L.weight_min, L.weight_max, w }, { "weights_rec", L.weight_min, L.weight_max, w },
    { "weights_out", L.weight_min, L.weight_max, w },
    { "dash_mem", L.dash_min, L.dash_max, "4-bit dash" }, { "dash_syn", L.dash_min, L.dash_max, "4-bit dash" },
    { "dash_syn_2", L.dash_min, L.dash_max, "4-bit dash" },
    { "dash_mem_out", L.dash_min, L.dash_max, "4-bit dash" },
    { "dash_syn_out", L.dash_min, L.dash_max, "4-bit dash" },
    { "threshold", L.threshold_min, L.threshold_max, "16-bit threshold" },
    { "threshold_out", L.threshold_min, L.threshold_max, "16-bit threshold" },
    { "bias", L.bias_min, L.bias_max, "16-bit bias" }, { "bias_out", L.bias_min, L.bias_max, "16-bit bias" },
  } do
    local msg = check_range(r[1], c[r[1]], r[2], r[3], r[4])
    if msg then return false, msg end
  end
  for _, k in ipairs { "weight_shift_in", "weight_shift_rec", "weight_shift_out" } do
    local v = c[k]
    if not is_int(v) then
      return false, ("%s: expected an integer, got %s"):format(k, tostring(v))
    end
    if v < L.shift_min or v > L.shift_max then
      return false, ("%s: %d is outside [%d, %d] (3-bit weight shift)"):format(k, v, L.shift_min, L.shift_max)
    end
  end
  -- fan-out and weight counts of the recurrent matrix
  if nh > 0 then
    local nz = c.weights_rec:ne(0)
    local per_row = nz:reshape({ nh, nh * ns }):sum(2)
    local pos, val = first_true(per_row, per_row:gt(L.max_fanout))
    if pos then
      return false, ("weights_rec: hidden neuron %d has %d recurrent targets, %s allows %d per neuron")
        :format(pos, val, title, L.max_fanout)
    end
    for s = 1, ns do
      local total = nz:slice(3, s, s):sum():item()
      if total > L.max_rec_weights then
        return false, ("weights_rec: %d nonzero recurrent weights on synapse %d, %s holds %d")
          :format(total, s, title, L.max_rec_weights)
      end
    end
  end
  -- aliases
  if type(c.aliases) ~= "table" or #c.aliases ~= nh then
    return false, ("aliases: expected %d lists, one per hidden neuron"):format(nh)
  end
  for i = 1, nh do
    local a = c.aliases[i]
    if type(a) ~= "table" then return false, ("aliases[%d]: expected a list"):format(i) end
    if #a > 1 then
      return false, ("aliases[%d]: %d targets, the chip holds one alias target per neuron"):format(i, #a)
    end
    local id = a[1]
    if id ~= nil and (not is_int(id) or id < 1 or id > nh) then
      return false, ("aliases[%d]: target %s is not a hidden neuron id (1..%d)"):format(i, tostring(id), nh)
    end
  end
  -- flags and modes
  for _, k in ipairs { "aliasing", "bias_enable", "synapse2_enable", "enable_hibernation_mode",
                       "clear_network_state" } do
    if type(c[k]) ~= "boolean" then
      return false, ("%s: expected a boolean, got %s"):format(k, type(c[k]))
    end
  end
  if c.synapse2_enable ~= (ns == 2) then
    return false, ("synapse2_enable: %s disagrees with n_syn = %d"):format(tostring(c.synapse2_enable), ns)
  end
  if not OPERATION_MODES[c.operation_mode] then
    return false, ("operation_mode: '%s' is not one of AcceleratedTime, Manual, RealTime")
      :format(tostring(c.operation_mode))
  end
  if c.dt ~= nil and (type(c.dt) ~= "number" or not (c.dt > 0) or c.dt == math.huge) then
    return false, ("dt: expected a positive number of seconds, got %s"):format(tostring(c.dt))
  end
  if c.time_resolution_wrap ~= nil and (not is_int(c.time_resolution_wrap) or c.time_resolution_wrap < 1) then
    return false, ("time_resolution_wrap: expected a positive integer, got %s")
      :format(tostring(c.time_resolution_wrap))
  end
  if type(c.debug) ~= "table" then return false, "debug: expected a table" end
  do   -- every key by name: a mistyped one would otherwise load and save silently
    local known = { always_update_omp_stat = true }
    for _, k in ipairs(MONITORS) do known[k] = true end
    if L.name == "audio2" then for _, k in ipairs(A2_CLOCKS) do known[k] = true end end
    local keys = {}
    for k in pairs(c.debug) do keys[#keys + 1] = tostring(k) end
    table.sort(keys)
    for _, k in ipairs(keys) do
      if not known[k] then
        return false, ("debug: unknown field '%s'%s"):format(k,
          L.name ~= "audio2" and A2_CLOCKS[k] and (" (an Audio 2 field, not %s)"):format(title) or "")
      end
    end
    for _, k in ipairs(keys) do
      if not MONITORS[k] and type(c.debug[k]) ~= "boolean" then
        return false, ("debug.%s: expected a boolean, got %s"):format(k, type(c.debug[k]))
      end
    end
  end
  for _, k in ipairs(MONITORS) do
    local r = c.debug[k]
    if r ~= false then
      if type(r) ~= "table" or not is_int(r[1]) or not is_int(r[2]) or #r ~= 2
        or r[1] < 1 or r[2] < r[1] or r[2] > nh then
        return false, ("debug.%s: expected false or {first, last} with 1 <= first <= last <= %d"):format(k, nh)
      end
    end
  end
  return true, nil
end

-- Chip-width copies of a valid configuration's tensors.
local DTYPES = {
  weights_in = "int8", weights_rec = "int8", weights_out = "int8",
  dash_mem = "int8", dash_syn = "int8", dash_syn_2 = "int8", dash_mem_out = "int8", dash_syn_out = "int8",
  threshold = "int16", threshold_out = "int16", bias = "int16", bias_out = "int16",
}
M.dtypes = DTYPES

local function narrow(c)
  for k, dt in pairs(DTYPES) do
    if c[k] ~= nil then c[k] = c[k]:astype(dt) end
  end
end

-- Variant defaults of the non-network fields.
local function default_fields(c, L)
  c.operation_mode = "AcceleratedTime"
  c.enable_hibernation_mode = false
  c.clear_network_state = false
  local d = {}
  for _, k in ipairs(MONITORS) do d[k] = false end
  d.always_update_omp_stat = (L.name == "imu")
  if L.name == "audio2" then
    d.isyn_clock_enable = true
    d.isyn2_clock_enable = c.synapse2_enable
    d.ra_clock_enable = true
    d.bias_clock_enable = c.bias_enable
    d.hm_clock_enable = true
    d.ram_power_enable = true
  end
  c.debug = d
  if L.name == "audio3" then c.input_source = "SpikeEvents" end
  if L.name == "imu" then c.imu_if_input_enable = false end
  if c.dt ~= nil and L.clock_hz then
    c.time_resolution_wrap = math.max(1, math.floor(L.clock_hz * c.dt + 0.5))
  end
end

-- config_from_specification ---------------------------------------------------------

local SPEC_KEYS = {
  weights_in = true, weights_rec = true, weights_out = true,
  dash_mem = true, dash_syn = true, dash_syn_2 = true, dash_mem_out = true, dash_syn_out = true,
  threshold = true, threshold_out = true, bias = true, bias_hidden = true, bias_out = true,
  weight_shift_in = true, weight_shift_rec = true, weight_shift_out = true, aliases = true,
  -- carried along by the mapper / quantisers / a config used as a spec; not used here:
  mapped_graph = true, dt = true, variant = true,
}
-- fields of a config that may come back in as a spec (config_from_specification(config))
local CONFIG_KEYS = {
  n_in = true, n_hidden = true, n_out = true, n_syn = true, n_ien = true, n_oen = true,
  aliasing = true, bias_enable = true, synapse2_enable = true, operation_mode = true,
  enable_hibernation_mode = true, clear_network_state = true, time_resolution_wrap = true,
  debug = true, input_source = true, imu_if_input_enable = true,
}

-- Drop all-zero IEN columns beyond `keep` (from the end) / OEN rows (from the start).
local function trim_ien(w, keep)
  local n = w.shape[2]
  if n <= keep then return w end
  local extra = w:slice(2, keep + 1, n)
  if extra:ne(0):sum():item() ~= 0 then return w end
  return w:slice(2, 1, keep):clone()
end
local function trim_oen(w, keep)
  local n = w.shape[1]
  if n <= keep then return w end
  local extra = w:slice(1, 1, n - keep)
  if extra:ne(0):sum():item() ~= 0 then return w end
  return w:slice(1, n - keep + 1, n):clone()
end

--- config_from_specification(variant, spec[, fn[, opts]]) -> config, ok, message.
-- opts: {on_warning = function(msg), warnings_fatal = false}; warnings (non-integer
-- weights, thresholds or biases, which are rounded) go to on_warning, else to stderr.
-- A quantiser's report in place of opts is passed over, so that
-- config_from_specification(xylo.channel_quantize(spec)) reads as in Rockpool.
function M.from_specification(variant, spec, fn, opts)
  fn = fn or "config_from_specification"
  local mt = type(opts) == "table" and getmetatable(opts)
  if mt and mt.__name == "limpet.xylo.QuantizeReport" then opts = nil end   -- f(xylo.channel_quantize(spec))
  if opts ~= nil and (type(opts) ~= "table" or lp.is_tensor(opts)) then
    error(("bad argument #2 to '%s' (table expected, got %s)"):format(fn, type(opts)), 3)
  end
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= "on_warning" and k ~= "warnings_fatal" then
      error(("bad argument #2 to '%s' (unknown field '%s')"):format(fn, tostring(k)), 3)
    end
  end
  if opts.on_warning ~= nil and type(opts.on_warning) ~= "function" then
    error(("bad argument #2 to '%s' (field 'on_warning' must be a function)"):format(fn), 3)
  end
  local said = {}
  round_warn = function(msg)
    if opts.warnings_fatal then round_warn = nil; error(msg, 0) end
    if said[msg] then return end
    said[msg] = true
    if opts.on_warning then opts.on_warning(msg) else io.stderr:write(msg, "\n") end
  end
  local c, ok, msg = M._from_specification(variant, spec, fn)
  round_warn = nil
  return c, ok, msg
end

function M._from_specification(variant, spec, fn)
  local L = limits.for_variant(variant)
  if type(spec) ~= "table" or lp.is_tensor(spec) then
    argerror(fn, ("table expected, got %s"):format(lp.is_tensor(spec) and "tensor" or type(spec)), 2)
  end
  local keys = {}
  for k in pairs(spec) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  for _, k in ipairs(keys) do
    if not SPEC_KEYS[k] and not CONFIG_KEYS[k] then argerror(fn, ("unknown field '%s'"):format(k), 2) end
  end
  if spec.weights_in == nil then argerror(fn, "missing field 'weights_in'", 2) end
  if spec.weights_out == nil then argerror(fn, "missing field 'weights_out'", 2) end
  if spec.bias ~= nil and spec.bias_hidden ~= nil then
    argerror(fn, "fields 'bias' and 'bias_hidden' both given; use 'bias'", 2)
  end

  local win = weights3(fn, "weights_in", spec.weights_in, 2)
  local wout = wide(numeric(fn, "weights_out", spec.weights_out, 2))
  if wout:dim() ~= 2 then
    argerror(fn, ("field 'weights_out': expected 2 dims (Noen, Nout), got shape %s"):format(shape_str(wout.shape)), 2)
  end
  local wrec
  if spec.weights_rec ~= nil then wrec = weights3(fn, "weights_rec", spec.weights_rec, 2) end

  -- hidden size: weights_rec, else a per-neuron vector, else the widest projection
  local nh
  if wrec then
    nh = wrec.shape[1]
    if wrec.shape[2] ~= nh then
      argerror(fn, ("field 'weights_rec': expected a square (N, N[, Nsyn]) matrix, got shape %s")
        :format(shape_str(wrec.shape)), 2)
    end
  else
    for _, k in ipairs { "threshold", "dash_mem", "dash_syn", "bias", "bias_hidden" } do
      local v = spec[k]
      if lp.is_tensor(v) and v:dim() == 1 then nh = v.shape[1] break end
      if type(v) == "table" and not lp.is_tensor(v) then nh = #v break end
    end
    nh = nh or math.max(win.shape[2], wout.shape[1])
  end
  local ns = math.max(win.shape[3], wrec and wrec.shape[3] or 1)
  if ns > 2 then
    argerror(fn, ("weights: %d synapses per hidden neuron, at most 2 are supported"):format(ns), 2)
  end
  if win.shape[3] ~= ns and win.shape[3] ~= 1 or wrec and wrec.shape[3] ~= ns and wrec.shape[3] ~= 1 then
    argerror(fn, ("fields 'weights_in' and 'weights_rec' disagree on the synapse count (%d and %d)")
      :format(win.shape[3], wrec.shape[3]), 2)
  end
  win = pad_syn(win, ns)
  wrec = wrec and pad_syn(wrec, ns) or lp.zeros({ nh, nh, ns }, "int32")

  if L.ien_first then win = trim_ien(win, L.n_ien) end
  if L.oen_last then wout = trim_oen(wout, L.n_oen) end
  if win.shape[2] > nh then
    argerror(fn, ("field 'weights_in': %d input-expansion columns for %d hidden neurons")
      :format(win.shape[2], nh), 2)
  end
  if wout.shape[1] > nh then
    argerror(fn, ("field 'weights_out': %d output-expansion rows for %d hidden neurons")
      :format(wout.shape[1], nh), 2)
  end
  local nout = wout.shape[2]

  local c = setmetatable({}, Config)
  c.variant = variant
  c.n_in, c.n_hidden, c.n_out, c.n_syn = win.shape[1], nh, nout, ns
  c.n_ien, c.n_oen = win.shape[2], wout.shape[1]
  c.weights_in, c.weights_rec, c.weights_out = win, wrec, wout
  c.weight_shift_in = scalar_int(fn, "weight_shift_in", spec.weight_shift_in, 2)
  c.weight_shift_rec = scalar_int(fn, "weight_shift_rec", spec.weight_shift_rec, 2)
  c.weight_shift_out = scalar_int(fn, "weight_shift_out", spec.weight_shift_out, 2)
  -- Rockpool's config defaults: dashes 1, thresholds 0, biases none
  c.dash_mem = vector(fn, "dash_mem", spec.dash_mem, nh, 1, 2, true)
  c.dash_syn = vector(fn, "dash_syn", spec.dash_syn, nh, 1, 2, true)
  if ns == 2 then c.dash_syn_2 = vector(fn, "dash_syn_2", spec.dash_syn_2, nh, 1, 2, true) end
  c.dash_mem_out = vector(fn, "dash_mem_out", spec.dash_mem_out, nout, 1, 2, true)
  c.dash_syn_out = vector(fn, "dash_syn_out", spec.dash_syn_out, nout, 1, 2, true)
  c.threshold = vector(fn, "threshold", spec.threshold, nh, 0, 2)
  c.threshold_out = vector(fn, "threshold_out", spec.threshold_out, nout, 0, 2)
  local bname = spec.bias_hidden ~= nil and "bias_hidden" or "bias"
  c.bias = vector(fn, bname, spec[bname], nh, 0, 2)
  c.bias_out = vector(fn, "bias_out", spec.bias_out, nout, 0, 2)
  c.bias_enable = c.bias:ne(0):sum():item() > 0 or c.bias_out:ne(0):sum():item() > 0
  c.aliases, c.aliasing = convert_aliases(fn, spec.aliases, nh, 2)
  c.synapse2_enable = (ns == 2)
  if spec.dt ~= nil then
    if type(spec.dt) ~= "number" then
      argerror(fn, ("field 'dt' must be a number of seconds, got %s"):format(type(spec.dt)), 2)
    end
    c.dt = spec.dt
  end
  default_fields(c, L)

  local ok, msg = M.validate(c)
  if ok then narrow(c) end
  return c, ok, msg
end

--- to_specification(config) -> the spec fields of a config (a plain table, tensors shared).
function M.to_specification(c)
  if getmetatable(c) ~= Config then
    error(("bad argument #1 to 'to_specification' (XyloConfig expected, got %s)"):format(type(c)), 2)
  end
  local s = {}
  for k in pairs(SPEC_KEYS) do
    if k ~= "bias_hidden" and k ~= "mapped_graph" then s[k] = c[k] end
  end
  return s
end

-- Printing ---------------------------------------------------------------------------

function Config:__tostring()
  if not limits.is_variant(self.variant) or not is_int(self.n_in) then   -- made by hand, not valid
    return ("XyloConfig(incomplete: variant %s)"):format(tostring(self.variant))
  end
  local L = limits.for_variant(self.variant)
  local nz = function(t) return t and t:ne(0):sum():item() or 0 end
  local na = 0
  for _, a in ipairs(self.aliases or {}) do if #a > 0 then na = na + 1 end end
  return ("XyloConfig(%s: %d in -> %d hidden (%d syn, %d IEN, %d OEN) -> %d out; "
    .. "%d/%d/%d nonzero in/rec/out weights; shifts %d/%d/%d; %d aliases%s%s)")
    :format(L.title, self.n_in, self.n_hidden, self.n_syn, self.n_ien, self.n_oen, self.n_out,
      nz(self.weights_in), nz(self.weights_rec), nz(self.weights_out),
      self.weight_shift_in, self.weight_shift_rec, self.weight_shift_out, na,
      self.bias_enable and "; bias" or "", self.dt and ("; dt %g s"):format(self.dt) or "")
end

-- JSON save / load ---------------------------------------------------------------------

-- Integer tensors are written by core's numeric-array writer (json.numbers): a
-- matrix field is a list of row texts (one row per line), a vector one text.
local Raw = {}                        -- marks pre-encoded text in the document
local function to_text(t)
  if t:dim() == 1 then return setmetatable({ text = json.numbers(t) }, Raw) end
  local rows = {}
  for i = 1, t.shape[1] do rows[i] = json.numbers(t[i]) end
  return setmetatable({ rows = rows }, Raw)
end

local TENSOR_FIELDS = { "weights_in", "weights_rec", "weights_out", "dash_mem", "dash_syn",
  "dash_syn_2", "dash_mem_out", "dash_syn_out", "threshold", "threshold_out", "bias", "bias_out" }
local SCALAR_FIELDS = { "n_in", "n_hidden", "n_out", "n_syn", "n_ien", "n_oen",
  "weight_shift_in", "weight_shift_rec", "weight_shift_out" }
local BOOL_FIELDS = { "aliasing", "bias_enable", "synapse2_enable", "enable_hibernation_mode",
  "clear_network_state" }

-- The file text: one top-level field per line (format, version, variant first, then the
-- rest sorted), matrices one row per line, everything else compact.
local FIRST = { "format", "version", "variant" }
local function layout(doc)
  local keys, lines = {}, {}
  for k in pairs(doc) do
    if k ~= "format" and k ~= "version" and k ~= "variant" then keys[#keys + 1] = k end
  end
  table.sort(keys)
  for i = #FIRST, 1, -1 do table.insert(keys, 1, FIRST[i]) end
  for _, k in ipairs(keys) do
    local v = doc[k]
    local text
    if getmetatable(v) == Raw then
      if v.text then
        text = v.text
      else
        text = #v.rows == 0 and "[]" or "[\n    " .. table.concat(v.rows, ",\n    ") .. "\n  ]"
      end
    else
      text = json.encode(v)
    end
    lines[#lines + 1] = ("  %s: %s"):format(json.encode(k), text)
  end
  return "{\n" .. table.concat(lines, ",\n") .. "\n}\n"
end

--- save_config(config, path) -> true | nil, message. Atomic (temp file + rename).
function M.save(c, path)
  if getmetatable(c) ~= Config then
    error(("bad argument #1 to 'save_config' (XyloConfig expected, got %s)")
      :format(type(c) == "table" and "table" or type(c)), 2)
  end
  if type(path) ~= "string" then
    error(("bad argument #2 to 'save_config' (string expected, got %s)"):format(type(path)), 2)
  end
  local ok, msg = M.validate(c)
  if not ok then error(("bad argument #1 to 'save_config' (invalid configuration: %s)"):format(msg), 2) end
  local doc = { format = FORMAT, version = VERSION, variant = c.variant }
  for _, k in ipairs(SCALAR_FIELDS) do doc[k] = c[k] end
  for _, k in ipairs(BOOL_FIELDS) do doc[k] = c[k] end
  for _, k in ipairs(TENSOR_FIELDS) do
    if c[k] ~= nil then doc[k] = to_text(c[k]) end
  end
  local al = json.array()
  for i, a in ipairs(c.aliases) do
    local row = json.array()
    for j, id in ipairs(a) do row[j] = id - 1 end
    al[i] = row
  end
  doc.aliases = al
  doc.operation_mode = c.operation_mode
  doc.dt = c.dt
  doc.time_resolution_wrap = c.time_resolution_wrap
  doc.input_source = c.input_source
  doc.imu_if_input_enable = c.imu_if_input_enable
  local d = {}
  for k, v in pairs(c.debug) do
    if type(v) == "table" then d[k] = json.array { v[1] - 1, v[2] - 1 } else d[k] = v end
  end
  doc.debug = d
  return jsonfile.write_atomic("save_config", path, layout(doc))
end

-- Did memory run out? (not a content error: limpet.jsonfile says how it tells)
local is_oom = jsonfile.is_oom

-- Content errors name load_config and the file, with no source position
-- (they are about the file, not about the caller's code).
local function file_error(path, msg) error(("load_config: '%s' %s"):format(path, msg), 0) end

-- nested JSON arrays -> int32 tensor of the expected shape; errors name the field.
local function load_tensor(path, name, v, shape)
  if type(v) ~= "table" and not lp.is_tensor(v) then
    file_error(path, ("field '%s': expected an array, got %s"):format(name, type(v)))
  end
  local numel = 1
  for i = 1, #shape do numel = numel * shape[i] end
  local t
  if numel == 0 then
    t = lp.zeros(shape, "int32")
  else
    local ok, res = true, v
    if not lp.is_tensor(v) then ok, res = pcall(lp.tensor, v, "float64") end
    if not ok and is_oom(res) then error(res, 0) end
    if not ok then
      file_error(path, ("field '%s': %s"):format(name, tostring(res):match("%((.*)%)$") or tostring(res)))
    end
    t = res
    if not same_shape(t.shape, shape) then
      file_error(path, ("field '%s': expected shape %s, got %s"):format(name, shape_str(shape), shape_str(t.shape)))
    end
    local pos, val = first_true(t, t:ne(t:floor()))
    if pos then
      file_error(path, ("field '%s': %s at %s is not an integer"):format(name, tostring(val), index_str(shape, pos)))
    end
    t = wide(t)
  end
  return t
end

local FILE_KEYS = { format = true, version = true, variant = true, aliases = true, operation_mode = true,
  dt = true, time_resolution_wrap = true, input_source = true, imu_if_input_enable = true, debug = true }
for _, k in ipairs(TENSOR_FIELDS) do FILE_KEYS[k] = true end
for _, k in ipairs(SCALAR_FIELDS) do FILE_KEYS[k] = true end
for _, k in ipairs(BOOL_FIELDS) do FILE_KEYS[k] = true end

local load_file

--- load_config(path) -> config | nil, message (missing/unreadable file); raises on bad content,
--- and "load_config: '<path>': not enough memory" when memory runs out (not a content error).
function M.load(path)
  if type(path) ~= "string" then
    error(("bad argument #1 to 'load_config' (string expected, got %s)"):format(type(path)), 2)
  end
  local ok, c, msg = pcall(load_file, path)
  if ok then
    if c == nil then return nil, msg end
    return c
  end
  local e = tostring(c)
  if is_oom(e) then error(("load_config: '%s': not enough memory"):format(path), 0) end
  if e:sub(1, 13) ~= "load_config: " then e = ("load_config: '%s' %s"):format(path, e) end
  error(e, 0)
end

function load_file(path)
  local doc, msg = jsonfile.read("load_config", path, { tensors = true })
  if doc == nil then return nil, msg end
  if type(doc) ~= "table" or doc.format ~= FORMAT then
    file_error(path, ("is not a limpet Xylo configuration (field 'format' must be '%s')"):format(FORMAT))
  end
  if doc.version ~= VERSION then
    file_error(path, ("field 'version': unsupported version %s (expected %d)"):format(tostring(doc.version), VERSION))
  end
  local keys = {}
  for k in pairs(doc) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    if not FILE_KEYS[k] then file_error(path, ("unknown field '%s'"):format(k)) end
  end
  if not limits.is_variant(doc.variant) then
    file_error(path, ("field 'variant': unknown Xylo variant '%s'"):format(tostring(doc.variant)))
  end
  local c = setmetatable({ variant = doc.variant }, Config)
  for _, k in ipairs(SCALAR_FIELDS) do
    local v = doc[k]
    if math.type(v) ~= "integer" or v < 0 then
      file_error(path, ("field '%s': expected a non-negative integer, got %s"):format(k, v == nil and "nothing" or tostring(v)))
    end
    c[k] = v
  end
  if c.n_syn < 1 or c.n_syn > 2 then file_error(path, ("field 'n_syn': %d is not 1 or 2"):format(c.n_syn)) end
  local nh, nout = c.n_hidden, c.n_out
  local shapes = {
    weights_in = { c.n_in, c.n_ien, c.n_syn }, weights_rec = { nh, nh, c.n_syn },
    weights_out = { c.n_oen, nout }, dash_mem = { nh }, dash_syn = { nh }, dash_syn_2 = { nh },
    dash_mem_out = { nout }, dash_syn_out = { nout }, threshold = { nh }, threshold_out = { nout },
    bias = { nh }, bias_out = { nout },
  }
  for _, k in ipairs(TENSOR_FIELDS) do
    if doc[k] == nil then
      if k ~= "dash_syn_2" or c.n_syn == 2 then file_error(path, ("missing field '%s'"):format(k)) end
    else
      c[k] = load_tensor(path, k, doc[k], shapes[k])
    end
  end
  for _, k in ipairs(BOOL_FIELDS) do
    if type(doc[k]) ~= "boolean" then
      file_error(path, ("field '%s': expected true or false, got %s"):format(k, doc[k] == nil and "nothing" or tostring(doc[k])))
    end
    c[k] = doc[k]
  end
  if type(doc.aliases) ~= "table" or #doc.aliases ~= nh then
    file_error(path, ("field 'aliases': expected %d arrays, one per hidden neuron"):format(nh))
  end
  c.aliases = {}
  for i = 1, nh do
    local a = doc.aliases[i]
    if type(a) ~= "table" then file_error(path, ("field 'aliases': entry %d is not an array"):format(i - 1)) end
    local row = {}
    for j = 1, #a do
      if math.type(a[j]) ~= "integer" then
        file_error(path, ("field 'aliases': entry %d holds %s, expected an integer id"):format(i - 1, tostring(a[j])))
      end
      row[j] = a[j] + 1
    end
    c.aliases[i] = row
  end
  c.operation_mode = doc.operation_mode
  c.dt = doc.dt
  c.time_resolution_wrap = doc.time_resolution_wrap
  c.input_source = doc.input_source
  c.imu_if_input_enable = doc.imu_if_input_enable
  if type(doc.debug) ~= "table" then file_error(path, "field 'debug': expected an object") end
  c.debug = {}
  for k, v in pairs(doc.debug) do
    if type(v) == "table" then
      if math.type(v[1]) ~= "integer" or math.type(v[2]) ~= "integer" or #v ~= 2 then
        file_error(path, ("field 'debug.%s': expected false or [first, last]"):format(k))
      end
      c.debug[k] = { v[1] + 1, v[2] + 1 }
    else
      c.debug[k] = v
    end
  end
  -- the variant's fixed fields must be what this variant writes
  if c.variant == "audio3" and c.input_source ~= "SpikeEvents" then
    file_error(path, ("field 'input_source': expected 'SpikeEvents', got %s"):format(tostring(c.input_source)))
  end
  if c.variant ~= "audio3" and c.input_source ~= nil then file_error(path, "unknown field 'input_source'") end
  if c.variant == "imu" and type(c.imu_if_input_enable) ~= "boolean" then
    file_error(path, "field 'imu_if_input_enable': expected true or false")
  end
  if c.variant ~= "imu" and c.imu_if_input_enable ~= nil then file_error(path, "unknown field 'imu_if_input_enable'") end
  local vok, msg = M.validate(c)
  if not vok then
    local field, rest = msg:match("^([^:]+): (.*)$")
    file_error(path, ("field '%s': %s"):format(field, rest))
  end
  narrow(c)
  return c
end

return M
