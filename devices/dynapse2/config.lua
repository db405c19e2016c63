-- devices/dynapse2/config.lua -- `limpet.dynapse2.config`: Dynap-SE2 configurations:
-- allocation of a quantised specification onto chips, cores, CAM and SRAM (Rockpool's
-- `config_from_specification` and `WeightAllocator`, reference/dynapse2.md §6, §7), the
-- checks against the chip's limits (§1), and the JSON file of save_config / load_config.
-- Not here: mapping (mapper.lua), quantisation (quantize.lua), currents <-> bias codes
-- (translate.lua, biasgen.lua), simulating a configuration (simulate.lua), events (events.lua).
--
--   local config = lp.dynapse2.config_from_specification(qspec[, {dt = , monitor = true}])
--   local ok, msg = lp.dynapse2.validate_config(config)
--   lp.dynapse2.save_config(config, "net.json") ; config = lp.dynapse2.load_config("net.json")
--
-- A configuration (class Dynapse2Config) holds what the chips would hold, ids 1-based:
--   chips[ch].cores[co]   ch = 1..#chips (<= 4), co = 1..4
--     .parameters          { BIAS_NAME = {coarse, fine}, ... } the core's parameter group
--                          (empty for a core the network does not use)
--     .neurons[n]          n = 1..256, only the neurons in use:
--       .synapses          CAM entries in use (<= 64), each { dendrite = "ampa" | "gaba" |
--                          "nmda" | "shunt" | "none", weight = {b0, b1, b2, b3} (bit k selects
--                          the base current Iw_k), tag = 0..2047 }
--       .destinations      SRAM entries in use (<= 4), each { core = {c1..c4}, x_hop, y_hop,
--                          tag } (events.lua's destinations)
--       .latch_so_dc       the DC current is switched on
--   input_channel_map[i]   input channel i (1-based) -> list of destinations its events take
--   n_in                   input channels of the network
--   neurons[j]             network neuron j -> { chip = , core = , neuron = } its address
--   Iscale, dt             the weight scale (A) and time step (s) of the network
--
-- Allocation (tags are chip values):
--   input channel i      -> virtual tag i - 1
--   network neuron j     -> recurrent tag n_in + j - 1 (its outgoing events), monitor tag j - 1
--                           (without input weights n_in counts as N here, as in Rockpool)
--   tags 2048 - N .. 2047 are kept free (Rockpool's output tags): n_in + 2N <= 2048.
--   Cluster c lives on chip (c-1)//4 + 1, core (c-1)%4 + 1; its neurons take that core's
--   neuron slots 1, 2, ... in network order. CAM of neuron j: one entry per input channel
--   then per network neuron with an integer weight > 0 to j (AMPA for a positive sign, GABA
--   for a negative one). SRAM of neuron j: the monitor entry (all cores, hops (-7, -7):
--   off the grid to the FPGA, tag j - 1), then one entry per chip holding neurons j
--   projects to (the mask of their cores, the hops to that chip, j's recurrent tag).
--   The input channel map holds the same kind of entry per target chip of each channel
--   with a weight > 0, hops counted from chip 1.
--
-- Errors. A specification that does not fit raises "dynapse2.config: <what, where>", e.g.
--   dynapse2.config: neuron 17 (chip 1, core 1, neuron 17) needs 70 CAM entries (60 input,
--   10 recurrent); a Dynap-SE2 neuron has 64
-- validate(config) returns false and such a message for a configuration that breaks a limit.
--
-- File (JSON, 0-based ids throughout: chips, cores, neuron slots, input channels and
-- network neurons; tags, hops, masks and codes as on the chip):
--   {"format": "limpet.dynapse2.config", "version": 1, "Iscale": .., "dt": .., "n_in": ..,
--    "neurons": [[chip, core, neuron], ...]  (network neuron order),
--    "input_channel_map": [[channel, [[mask], x_hop, y_hop, tag], ...], ...],
--    "chips": [{"cores": [{"parameters": {"BIAS": [coarse, fine], ...},
--       "neurons": [{"neuron": n, "latch_so_dc": b, "synapses": [["ampa", [b0, b1, b2, b3], tag], ...],
--                    "destinations": [[[c0, c1, c2, c3], x_hop, y_hop, tag], ...]}, ...]}, x4]}, ...]}
--   written atomically (temporary file + rename); loading checks everything and raises on
--   corrupt content, naming the field.
--
-- Where we differ from Rockpool on purpose (reference §13.6, §13.7):
-- * Neurons take slots of their own core in cluster order (Rockpool uses the network index
--   as the slot in every core, so it works for <= 256 neurons in all).
-- * One allocation for the whole network: a neuron's SRAM entry covers the cores of all its
--   targets, one entry per target chip, and the input channel map covers every cluster.
--   Rockpool allocates cluster by cluster: a neuron's SRAM reaches only its own core (its
--   connections to other clusters are lost), other clusters' cores get copies of every
--   neuron slot, only the last cluster's input map is returned, and with several
--   destination chips only the last is kept.
-- * Chip positions are chips in a row (limits.chip_position); Rockpool's CHIP_POS skips
--   chip 2.
-- * The CAM limit counts the entries in use (Rockpool's check also fires on a zero row
--   once a neuron's list is full).
-- * Only the neurons of the network are written (Rockpool writes a monitor entry for all
--   256 neurons of each core it uses); unused CAM / SRAM slots are simply absent.
-- * Tags are 0..2047 (Rockpool's check lets 2048 through).
-- * A non-zero weight with sign 0 is refused (Rockpool writes a CAM entry with dendrite none).
local lp = require "limpet"
local json = require "limpet.json"
local jsonfile = require "limpet.jsonfile"
local class = require "limpet.class"
local limits = require "limpet.dynapse2.limits"
local events = require "limpet.dynapse2.events"
local K = require "limpet.dynapse2.constants"

local M = {}

local Config = class.Object:extend("Dynapse2Config")
M.Dynapse2Config = Config

local FORMAT, VERSION = "limpet.dynapse2.config", 1
local CURRENTS = K.current_names
local DENDRITES = { none = true, ampa = true, gaba = true, nmda = true, shunt = true }

local function fail(msg) error("dynapse2.config: " .. msg, 0) end
local function argerror(fn, n, msg, level) error(("bad argument #%d to '%s' (%s)"):format(n, fn, msg), (level or 2) + 1) end

local function tname(v) return lp.is_tensor(v) and "tensor" or type(v) end

--- M.bias_codes(currents) -> { BIAS = {coarse, fine}, ... }: a core's parameter group from
-- its DynapSim currents (the 13 of the mapper's spec) and base weight currents Iw_0..Iw_3:
-- Rockpool's path, a DynapSimCore whose four synapse types all get Igain_syn / Itau_syn,
-- exported through the bias generator (translate.lua, biasgen.lua).
function M.bias_codes(cur)
  local T = require "limpet.dynapse2.translate"
  local w = { Iw_0 = cur.Iw_0, Iw_1 = cur.Iw_1, Iw_2 = cur.Iw_2, Iw_3 = cur.Iw_3 }
  return T.DynapSimCore.from_simulation(cur, w):export_Dynapse2Parameters()
end

-- reading a specification -------------------------------------------------------------

local function numbers(fn, key, v, n)
  local t
  if lp.is_tensor(v) then t = v:detach():astype("float64"):reshape(-1):totable()
  elseif type(v) == "table" then t = v
  elseif type(v) == "number" and n == 1 then t = { v }
  else argerror(fn, 1, ("field '%s': %d values expected, got %s"):format(key, n, tname(v)), 4) end
  if #t ~= n then argerror(fn, 1, ("field '%s': %d values expected (one per cluster), got %d"):format(key, n, #t), 4) end
  for i = 1, n do
    if type(t[i]) ~= "number" or t[i] ~= t[i] then
      argerror(fn, 1, ("field '%s': element %d is not a number"):format(key, i), 4)
    end
  end
  return t
end

-- a matrix field (rows, N) -> Lua rows, rows: a merged (rows, N) matrix, or one matrix per
-- cluster (Rockpool's list, or an (n_cluster, rows, N) tensor) where column j is taken from
-- the matrix of j's cluster and must be zero in the others
local function matrix(fn, key, v, N, cmap, nc)
  if v == nil then return nil end
  local function as_tensor(x, what)
    if lp.is_tensor(x) then return x:detach():astype("float64") end
    local ok, r = pcall(lp.tensor, x, "float64")
    if not ok then argerror(fn, 1, ("field '%s'%s: a matrix of numbers expected"):format(key, what), 5) end
    return r
  end
  local parts
  if type(v) == "table" and not lp.is_tensor(v) and lp.is_tensor(v[1]) then
    parts = {}
    for c = 1, #v do parts[c] = as_tensor(v[c], ("[%d]"):format(c)) end
  else
    local t = as_tensor(v, "")
    if t:dim() == 3 then
      parts = {}
      for c = 1, t.shape[1] do parts[c] = t:slice(1, c, c):reshape({ t.shape[2], t.shape[3] }) end
    elseif t:dim() ~= 2 or t.shape[2] ~= N then
      argerror(fn, 1, ("field '%s': expected a (rows, %d) matrix, got shape (%s)"):format(key, N,
        table.concat(t.shape, ", ")), 4)
    else
      return t:totable(), t.shape[1]
    end
  end
  if #parts ~= nc then
    argerror(fn, 1, ("field '%s': %d per-cluster matrices expected, got %d"):format(key, nc, #parts), 4)
  end
  local rows = parts[1].shape[1]
  local out = {}
  for r = 1, rows do out[r] = {} end
  for c = 1, nc do
    local p = parts[c]
    if p:dim() ~= 2 or p.shape[1] ~= rows or p.shape[2] ~= N then
      argerror(fn, 1, ("field '%s'[%d]: expected shape (%d, %d)"):format(key, c, rows, N), 4)
    end
    local tab = p:totable()
    for r = 1, rows do
      for j = 1, N do
        local x = tab[r][j]
        if cmap[j] == c then out[r][j] = x
        elseif x ~= 0 then
          argerror(fn, 1, ("field '%s'[%d]: %g at [%d, %d] is a weight of neuron %d, which is in cluster %d")
            :format(key, c, x, r, j, j, cmap[j]), 4)
        end
      end
    end
  end
  return out, rows
end

local function bits_of(w)
  local b = {}
  for k = 1, limits.NUM_BITS do b[k] = (w >> (k - 1)) & 1 end
  return b
end

--- M.from_specification(spec[, opts]) -> config (see the file header)
-- spec: a quantised specification (autoencoder_quantization's): n_cluster, core_map,
-- n_neuron, Iscale, the 13 clustered currents, Iw_0..Iw_3, weights_in / sign_in,
-- weights_rec / sign_rec (integer masks 0..15 and signs), dt. opts: dt (default spec.dt
-- or 1e-3), monitor (true: every neuron's events also go to the FPGA).
function M.from_specification(spec, opts)
  local fn = "config_from_specification"
  if type(spec) ~= "table" or lp.is_tensor(spec) then argerror(fn, 1, "specification table expected, got " .. tname(spec)) end
  local o = { dt = spec.dt or 1e-3, monitor = true }
  if opts ~= nil then
    if type(opts) ~= "table" then argerror(fn, 2, "table of options expected, got " .. type(opts)) end
    for k, v in pairs(opts) do
      if o[k] == nil and k ~= "dt" then argerror(fn, 2, ("unknown field '%s'"):format(tostring(k))) end
      o[k] = v
    end
  end
  if type(o.dt) ~= "number" or not (o.dt > 0) then argerror(fn, 2, "field 'dt' must be a positive number") end
  if type(o.monitor) ~= "boolean" then argerror(fn, 2, "field 'monitor' must be a boolean") end

  local N, nc, cmap = spec.n_neuron, spec.n_cluster, spec.core_map
  if math.type(N) ~= "integer" or N < 1 then argerror(fn, 1, "field 'n_neuron' must be a positive integer") end
  if math.type(nc) ~= "integer" or nc < 1 then argerror(fn, 1, "field 'n_cluster' must be a positive integer") end
  if type(cmap) ~= "table" or lp.is_tensor(cmap) then argerror(fn, 1, "Core_map should be one dimensional! (a list of cluster ids)") end
  if #cmap ~= N then argerror(fn, 1, ("field 'core_map': %d cluster ids expected, got %d"):format(N, #cmap)) end
  for j, c in ipairs(cmap) do
    if math.type(c) ~= "integer" or c < 1 or c > nc then
      argerror(fn, 1, ("field 'core_map': neuron %d has cluster %s, not in 1..%d"):format(j, tostring(c), nc))
    end
  end
  if type(spec.Iscale) ~= "number" or not (spec.Iscale > 0) then argerror(fn, 1, "field 'Iscale' must be a positive number") end
  if nc > limits.MAX_CLUSTERS then
    fail(("%d clusters need %d cores; a board has %d (%d chips of %d cores)"):format(nc, nc, limits.MAX_CLUSTERS,
      limits.NUM_CHIPS, limits.NUM_CORES))
  end
  local cur = {}
  for _, k in ipairs(CURRENTS) do
    if spec[k] == nil then argerror(fn, 1, ("field '%s' is missing (the clustered currents of the mapper)"):format(k)) end
    cur[k] = numbers(fn, k, spec[k], nc)
  end
  local Iw = {}
  for k = 0, 3 do
    local key = "Iw_" .. k
    if spec[key] == nil then argerror(fn, 1, ("field '%s' is missing; quantise the specification first"):format(key)) end
    Iw[k] = numbers(fn, key, spec[key], nc)
  end
  local W_in, Nin = matrix(fn, "weights_in", spec.weights_in, N, cmap, nc)
  local S_in = matrix(fn, "sign_in", spec.sign_in, N, cmap, nc)
  local W_rec, Nrec = matrix(fn, "weights_rec", spec.weights_rec, N, cmap, nc)
  local S_rec = matrix(fn, "sign_rec", spec.sign_rec, N, cmap, nc)
  Nin = Nin or 0
  if W_rec and Nrec ~= N then argerror(fn, 1, ("field 'weights_rec': expected (%d, %d)"):format(N, N)) end
  local function check_pair(W, S, wk, sk, rows, shape_msg)
    if W == nil then return end
    if S == nil then argerror(fn, 1, ("field '%s' is missing (the signs of %s)"):format(sk, wk), 4) end
    if #S ~= rows then argerror(fn, 1, ("%s (%s has %d rows, %s %d)"):format(shape_msg, sk, #S, wk, rows), 4) end
    for r = 1, rows do
      for j = 1, N do
        local w, s = W[r][j], S[r][j]
        if w ~= math.floor(w) or w < 0 or w > 15 then
          argerror(fn, 1, ("field '%s': %s at [%d, %d] is not a 4-bit weight (0..15); quantise the specification first")
            :format(wk, tostring(w), r, j), 4)
        end
        if s ~= -1 and s ~= 0 and s ~= 1 then
          argerror(fn, 1, ("field '%s': %s at [%d, %d] is not a sign (-1, 0, 1)"):format(sk, tostring(s), r, j), 4)
        end
        if w > 0 and s == 0 then
          argerror(fn, 1, ("field '%s': weight %d at [%d, %d] has sign 0"):format(wk, w, r, j), 4)
        end
      end
    end
  end
  check_pair(W_in, S_in, "weights_in", "sign_in", Nin, "Input sign shape does not match input weight shape!")
  check_pair(W_rec, S_rec, "weights_rec", "sign_rec", N, "Recurrent sign shape does not match the recurrent weight shape!")

  -- addresses: cluster c -> chip, core; neurons take the core's slots in network order
  local addr, fill = {}, {}
  for j = 1, N do
    local c = cmap[j]
    fill[c] = (fill[c] or 0) + 1
    local chip, core = limits.cluster_address(c)
    addr[j] = { chip = chip, core = core, neuron = fill[c] }
  end
  for c = 1, nc do
    if (fill[c] or 0) > limits.NUM_NEURONS then
      local chip, core = limits.cluster_address(c)
      fail(("cluster %d (chip %d, core %d) holds %d neurons; a core has %d"):format(c, chip, core, fill[c], limits.NUM_NEURONS))
    end
  end
  -- virtual tags: one per input channel; without input weights Rockpool still keeps N
  -- (its allocator reads the input count off the recurrent matrix), and so do we
  local Nv = W_in and Nin or N
  if Nv + 2 * N > limits.NUM_TAGS then
    fail(("There are not enough tags to support network implementation! (%d input channels + %d recurrent + %d reserved "
      .. "output tags = %d; the chip has %d)"):format(Nv, N, N, Nv + 2 * N, limits.NUM_TAGS))
  end

  local n_chips = limits.cluster_address(nc)
  local c = setmetatable({ chips = {}, input_channel_map = {}, neurons = {}, n_in = Nin, Iscale = spec.Iscale,
                           dt = o.dt }, Config)
  for ch = 1, n_chips do
    local cores = {}
    for co = 1, limits.NUM_CORES do cores[co] = { parameters = {}, neurons = {} } end
    c.chips[ch] = { cores = cores }
  end
  -- parameter groups
  for cl = 1, nc do
    local chip, core = limits.cluster_address(cl)
    local cc = {}
    for _, k in ipairs(CURRENTS) do cc[k] = cur[k][cl] end
    for k = 0, 3 do cc["Iw_" .. k] = Iw[k][cl] end
    c.chips[chip].cores[core].parameters = M.bias_codes(cc)
  end

  local function dendrite(s) return s > 0 and "ampa" or "gaba" end
  -- destinations from a source chip to the chips / cores of a set of target neurons
  local function route(src_chip, targets, tag)
    local masks, order = {}, {}
    for _, p in ipairs(targets) do
      local a = addr[p]
      if not masks[a.chip] then masks[a.chip] = { 0, 0, 0, 0 }; order[#order + 1] = a.chip end
      masks[a.chip][a.core] = 1
    end
    table.sort(order)
    local out = {}
    local sx, sy = limits.chip_position(src_chip)
    for _, ch in ipairs(order) do
      local x, y = limits.chip_position(ch)
      out[#out + 1] = { core = masks[ch], x_hop = x - sx, y_hop = y - sy, tag = tag }
    end
    return out
  end

  for j = 1, N do
    local a = addr[j]
    local cl = cmap[j]
    local syn, n_in_e, n_rec_e = {}, 0, 0
    for i = 1, Nin do
      local w = W_in[i][j]
      if w > 0 then
        syn[#syn + 1] = { dendrite = dendrite(S_in[i][j]), weight = bits_of(math.tointeger(w)), tag = i - 1 }
        n_in_e = n_in_e + 1
      end
    end
    if W_rec then
      for p = 1, N do
        local w = W_rec[p][j]
        if w > 0 then
          syn[#syn + 1] = { dendrite = dendrite(S_rec[p][j]), weight = bits_of(math.tointeger(w)), tag = Nv + p - 1 }
          n_rec_e = n_rec_e + 1
        end
      end
    end
    if #syn > limits.NUM_SYNAPSES then
      fail(("Maximum synapse limit per neuron reached! (neuron %d (chip %d, core %d, neuron %d) needs %d CAM entries "
        .. "(%d input, %d recurrent); a Dynap-SE2 neuron has %d)"):format(j, a.chip, a.core, a.neuron, #syn, n_in_e,
        n_rec_e, limits.NUM_SYNAPSES))
    end
    local dest = {}
    if o.monitor then
      dest[1] = { core = { 1, 1, 1, 1 }, x_hop = -limits.MAX_HOP, y_hop = -limits.MAX_HOP, tag = j - 1 }
    end
    if W_rec then
      local targets = {}
      for p = 1, N do if W_rec[j][p] > 0 then targets[#targets + 1] = p end end
      for _, d in ipairs(route(a.chip, targets, Nv + j - 1)) do dest[#dest + 1] = d end
    end
    if #dest > limits.NUM_DEST then
      fail(("Maximum SRAM capacity exceeded! (neuron %d (chip %d, core %d, neuron %d) needs %d SRAM destinations; "
        .. "a Dynap-SE2 neuron has %d)"):format(j, a.chip, a.core, a.neuron, #dest, limits.NUM_DEST))
    end
    c.chips[a.chip].cores[a.core].neurons[a.neuron] = { synapses = syn, destinations = dest,
      latch_so_dc = cur.Idc[cl] > 0 }
    c.neurons[j] = { chip = a.chip, core = a.core, neuron = a.neuron }
  end
  for i = 1, Nin do
    local targets = {}
    for j = 1, N do if W_in[i][j] > 0 then targets[#targets + 1] = j end end
    if #targets > 0 then c.input_channel_map[i] = route(1, targets, i - 1) end
  end
  local ok, msg = M.validate(c)
  if not ok then fail(msg) end
  return c
end

-- checks ------------------------------------------------------------------------------

local function is_int(x) return math.type(x) == "integer" end
local function count(t) local n = 0 for _ in pairs(t) do n = n + 1 end return n end

--- M.validate(config) -> true | false, message naming the chip, core, neuron and number
function M.validate(c)
  if getmetatable(c) ~= Config then return false, "not a Dynapse2Config" end
  if type(c.Iscale) ~= "number" or not (c.Iscale > 0) then return false, "Iscale: a positive number of amperes expected" end
  if type(c.dt) ~= "number" or not (c.dt > 0) then return false, "dt: a positive number of seconds expected" end
  if not is_int(c.n_in) or c.n_in < 0 then return false, "n_in: a non-negative integer expected" end
  if type(c.chips) ~= "table" or #c.chips < 1 or #c.chips > limits.NUM_CHIPS or count(c.chips) ~= #c.chips then
    return false, ("chips: a list of 1..%d chips expected"):format(limits.NUM_CHIPS)
  end
  local scale = K.scale
  for ch, chip in ipairs(c.chips) do
    if type(chip) ~= "table" or type(chip.cores) ~= "table" or #chip.cores ~= limits.NUM_CORES
      or count(chip.cores) ~= limits.NUM_CORES then
      return false, ("chip %d: %d cores expected"):format(ch, limits.NUM_CORES)
    end
    for co, core in ipairs(chip.cores) do
      local where = ("chip %d, core %d"):format(ch, co)
      if type(core) ~= "table" or type(core.parameters) ~= "table" or type(core.neurons) ~= "table" then
        return false, where .. ": parameters and neurons expected"
      end
      for name, code in pairs(core.parameters) do
        if type(name) ~= "string" or not scale[name] then
          return false, ("%s: unknown bias '%s'"):format(where, tostring(name))
        end
        if type(code) ~= "table" or #code ~= 2 or not is_int(code[1]) or not is_int(code[2]) then
          return false, ("%s, %s: {coarse, fine} expected"):format(where, name)
        end
        if code[1] < 0 or code[1] > limits.MAX_COARSE then
          return false, ("%s, %s: coarse value %d outside 0..%d"):format(where, name, code[1], limits.MAX_COARSE)
        end
        if code[2] < 0 or code[2] > limits.MAX_FINE then
          return false, ("%s, %s: fine value %d outside 0..%d"):format(where, name, code[2], limits.MAX_FINE)
        end
      end
      for n, neuron in pairs(core.neurons) do
        if not is_int(n) or n < 1 or n > limits.NUM_NEURONS then
          return false, ("%s: neuron %s outside 1..%d (%d neurons per core)"):format(where, tostring(n), limits.NUM_NEURONS,
            limits.NUM_NEURONS)
        end
        local nw = ("%s, neuron %d"):format(where, n)
        if type(neuron) ~= "table" or type(neuron.synapses) ~= "table" or type(neuron.destinations) ~= "table" then
          return false, nw .. ": synapses and destinations expected"
        end
        if type(neuron.latch_so_dc) ~= "boolean" then return false, nw .. ": latch_so_dc must be true or false" end
        local syn = neuron.synapses
        if count(syn) ~= #syn then return false, nw .. ": synapses must be a list" end
        if #syn > limits.NUM_SYNAPSES then
          return false, ("%s: %d CAM entries; a Dynap-SE2 neuron has %d"):format(nw, #syn, limits.NUM_SYNAPSES)
        end
        for k, s in ipairs(syn) do
          local sw = ("%s, synapse %d"):format(nw, k)
          if type(s) ~= "table" or not DENDRITES[s.dendrite] then
            return false, sw .. ": dendrite must be ampa, gaba, nmda, shunt or none"
          end
          local w = s.weight
          if type(w) ~= "table" or #w ~= limits.NUM_BITS then return false, sw .. ": weight must be 4 bits" end
          for b = 1, limits.NUM_BITS do
            if w[b] ~= 0 and w[b] ~= 1 then return false, ("%s: weight bit %d is %s, not 0 or 1"):format(sw, b, tostring(w[b])) end
          end
          if not is_int(s.tag) or s.tag < 0 or s.tag > limits.MAX_TAG then
            return false, ("%s: tag %s outside 0..%d"):format(sw, tostring(s.tag), limits.MAX_TAG)
          end
        end
        local dst = neuron.destinations
        if count(dst) ~= #dst then return false, nw .. ": destinations must be a list" end
        if #dst > limits.NUM_DEST then
          return false, ("%s: %d SRAM destinations; a Dynap-SE2 neuron has %d"):format(nw, #dst, limits.NUM_DEST)
        end
        for k, d in ipairs(dst) do
          local why = events.destination_problem(d)
          if why then return false, ("%s, destination %d: %s"):format(nw, k, why) end
        end
      end
    end
  end
  if type(c.input_channel_map) ~= "table" then return false, "input_channel_map: a table expected" end
  for ch, list in pairs(c.input_channel_map) do
    if not is_int(ch) or ch < 1 or ch > c.n_in then
      return false, ("input_channel_map: channel %s outside 1..%d"):format(tostring(ch), c.n_in)
    end
    if type(list) ~= "table" or count(list) ~= #list then
      return false, ("input_channel_map: channel %d: a list of destinations expected"):format(ch)
    end
    for k, d in ipairs(list) do
      local why = events.destination_problem(d)
      if why then return false, ("input_channel_map: channel %d, destination %d: %s"):format(ch, k, why) end
    end
  end
  if type(c.neurons) ~= "table" or count(c.neurons) ~= #c.neurons then return false, "neurons: a list expected" end
  local seen = {}
  for j, a in ipairs(c.neurons) do
    if type(a) ~= "table" or not is_int(a.chip) or not is_int(a.core) or not is_int(a.neuron) then
      return false, ("neurons: network neuron %d: {chip, core, neuron} expected"):format(j)
    end
    local chip = c.chips[a.chip]
    local core = chip and chip.cores[a.core]
    if not core or not core.neurons[a.neuron] then
      return false, ("neurons: network neuron %d is at chip %d, core %d, neuron %d, which is not configured")
        :format(j, a.chip, a.core, a.neuron)
    end
    local key = (a.chip * 8 + a.core) * 512 + a.neuron
    if seen[key] then
      return false, ("neurons: network neurons %d and %d are both at chip %d, core %d, neuron %d"):format(seen[key], j,
        a.chip, a.core, a.neuron)
    end
    seen[key] = j
  end
  return true
end

-- Configurations come from from_specification and load (which fill every
-- field); calling the class would make an empty one.
function Config:init()
  error("Dynapse2Config: make a configuration with dynapse2.config_from_specification(spec) or " ..
    "dynapse2.load_config(path), not by calling the class", 3)
end

function Config:__tostring()
  local used, syn = 0, 0
  for _, chip in ipairs(self.chips) do
    for _, core in ipairs(chip.cores) do
      for _, n in pairs(core.neurons) do used, syn = used + 1, syn + #n.synapses end
    end
  end
  return ("Dynapse2Config: %d chip%s, %d neurons, %d input channels, %d CAM entries; Iscale %g A, dt %g s")
    :format(#self.chips, #self.chips == 1 and "" or "s", used, self.n_in, syn, self.Iscale, self.dt)
end

-- JSON ---------------------------------------------------------------------------------

local enc = json.encode
local function dest_json(d)
  return ("[[%d,%d,%d,%d],%d,%d,%d]"):format(d.core[1], d.core[2], d.core[3], d.core[4], d.x_hop, d.y_hop, d.tag)
end

local function sorted_keys(t)
  local k = {}
  for x in pairs(t) do k[#k + 1] = x end
  table.sort(k)
  return k
end

local function to_text(c)
  local L = {}
  L[#L + 1] = "{"
  L[#L + 1] = ('  "format": %s,'):format(enc(FORMAT))
  L[#L + 1] = ('  "version": %d,'):format(VERSION)
  L[#L + 1] = ('  "Iscale": %s,'):format(enc(c.Iscale))
  L[#L + 1] = ('  "dt": %s,'):format(enc(c.dt))
  L[#L + 1] = ('  "n_in": %d,'):format(c.n_in)
  local nl = {}
  for j, a in ipairs(c.neurons) do nl[j] = ("[%d,%d,%d]"):format(a.chip - 1, a.core - 1, a.neuron - 1) end
  L[#L + 1] = ('  "neurons": [%s],'):format(table.concat(nl, ","))
  local im = {}
  for _, ch in ipairs(sorted_keys(c.input_channel_map)) do
    local parts = { tostring(ch - 1) }
    for _, d in ipairs(c.input_channel_map[ch]) do parts[#parts + 1] = dest_json(d) end
    im[#im + 1] = "[" .. table.concat(parts, ",") .. "]"
  end
  L[#L + 1] = #im == 0 and '  "input_channel_map": [],' or ('  "input_channel_map": [\n    %s\n  ],'):format(table.concat(im, ",\n    "))
  L[#L + 1] = '  "chips": ['
  for ch, chip in ipairs(c.chips) do
    L[#L + 1] = '    {"cores": ['
    for co, core in ipairs(chip.cores) do
      local params = {}
      for _, name in ipairs(sorted_keys(core.parameters)) do
        local v = core.parameters[name]
        params[#params + 1] = ("%s: [%d,%d]"):format(enc(name), v[1], v[2])
      end
      L[#L + 1] = ('      {"parameters": {%s},'):format(table.concat(params, ", "))
      local ns = {}
      for _, n in ipairs(sorted_keys(core.neurons)) do
        local x = core.neurons[n]
        local syn, dst = {}, {}
        for k, s in ipairs(x.synapses) do
          syn[k] = ("[%s,[%d,%d,%d,%d],%d]"):format(enc(s.dendrite), s.weight[1], s.weight[2], s.weight[3], s.weight[4], s.tag)
        end
        for k, d in ipairs(x.destinations) do dst[k] = dest_json(d) end
        ns[#ns + 1] = ('{"neuron": %d, "latch_so_dc": %s, "synapses": [%s], "destinations": [%s]}')
          :format(n - 1, tostring(x.latch_so_dc), table.concat(syn, ","), table.concat(dst, ","))
      end
      local tail = co < #chip.cores and "," or ""
      if #ns == 0 then
        L[#L + 1] = '       "neurons": []}' .. tail
      else
        L[#L + 1] = '       "neurons": [\n        ' .. table.concat(ns, ",\n        ") .. "\n      ]}" .. tail
      end
    end
    L[#L + 1] = "    ]}" .. (ch < #c.chips and "," or "")
  end
  L[#L + 1] = "  ]"
  L[#L + 1] = "}"
  return table.concat(L, "\n") .. "\n"
end

--- M.save(config, path) -> true | nil, message. Atomic (temporary file + rename); an
-- invalid configuration is an error.
function M.save(c, path)
  if getmetatable(c) ~= Config then argerror("save_config", 1, "Dynapse2Config expected, got " .. tname(c)) end
  if type(path) ~= "string" then argerror("save_config", 2, "string expected, got " .. type(path)) end
  local ok, msg = M.validate(c)
  if not ok then argerror("save_config", 1, "invalid configuration: " .. msg) end
  return jsonfile.write_atomic("save_config", path, to_text(c))
end

local function bad(path, msg) error(("load_config: '%s' %s"):format(path, msg), 0) end

local function check_keys(path, where, obj, known)
  for _, k in ipairs(sorted_keys(obj)) do
    if type(k) ~= "string" or not known[k] then bad(path, ("%s: unknown field '%s'"):format(where, tostring(k))) end
  end
end

local function int_in(path, where, v, lo, hi)
  if not is_int(v) or v < lo or (hi and v > hi) then
    bad(path, ("%s: %s is not an integer in %d..%s"):format(where, v == nil and "nothing" or tostring(v), lo,
      hi and tostring(hi) or ""))
  end
  return v
end

local function is_array(v) return type(v) == "table" and count(v) == #v end

local function read_dest(path, where, v)
  if not is_array(v) or #v ~= 4 or not is_array(v[1]) or #v[1] ~= 4 then
    bad(path, where .. ": [[c0, c1, c2, c3], x_hop, y_hop, tag] expected")
  end
  local d = { core = {}, x_hop = v[2], y_hop = v[3], tag = v[4] }
  for i = 1, 4 do d.core[i] = v[1][i] end
  local why = events.destination_problem(d)
  if why then bad(path, ("%s: %s"):format(where, why)) end
  return d
end

--- M.load(path) -> config | nil, message (a file that cannot be read); raises on corrupt or
-- invalid content, naming the field.
function M.load(path)
  if type(path) ~= "string" then argerror("load_config", 1, "string expected, got " .. type(path)) end
  local doc, msg = jsonfile.read("load_config", path)
  if doc == nil then return nil, msg end
  if type(doc) ~= "table" or doc.format ~= FORMAT then
    bad(path, ("is not a limpet Dynap-SE2 configuration (field 'format' must be '%s')"):format(FORMAT))
  end
  if doc.version ~= VERSION then
    bad(path, ("field 'version': unsupported version %s (expected %d)"):format(tostring(doc.version), VERSION))
  end
  check_keys(path, "top level", doc, { format = true, version = true, Iscale = true, dt = true, n_in = true,
    neurons = true, input_channel_map = true, chips = true })
  for _, k in ipairs { "Iscale", "dt" } do
    if type(doc[k]) ~= "number" or not (doc[k] > 0) then bad(path, ("field '%s': a positive number expected"):format(k)) end
  end
  local c = setmetatable({ Iscale = doc.Iscale, dt = doc.dt, n_in = int_in(path, "field 'n_in'", doc.n_in, 0),
    chips = {}, neurons = {}, input_channel_map = {} }, Config)
  if not is_array(doc.chips) or #doc.chips < 1 or #doc.chips > limits.NUM_CHIPS then
    bad(path, ("field 'chips': a list of 1..%d chips expected"):format(limits.NUM_CHIPS))
  end
  for ch, chip in ipairs(doc.chips) do
    local cw = ("chips[%d]"):format(ch - 1)
    if type(chip) ~= "table" or not is_array(chip.cores) or #chip.cores ~= limits.NUM_CORES then
      bad(path, ("%s: {\"cores\": [4 cores]} expected"):format(cw))
    end
    check_keys(path, cw, chip, { cores = true })
    local cores = {}
    for co, core in ipairs(chip.cores) do
      local ow = ("%s.cores[%d]"):format(cw, co - 1)
      if type(core) ~= "table" or type(core.parameters) ~= "table" or not is_array(core.neurons) then
        bad(path, ow .. ": {\"parameters\": {...}, \"neurons\": [...]} expected")
      end
      check_keys(path, ow, core, { parameters = true, neurons = true })
      local params = {}
      for _, name in ipairs(sorted_keys(core.parameters)) do
        local v = core.parameters[name]
        if not is_array(v) or #v ~= 2 then bad(path, ("%s.parameters.%s: [coarse, fine] expected"):format(ow, tostring(name))) end
        params[name] = { int_in(path, ("%s.parameters.%s coarse"):format(ow, name), v[1], 0, limits.MAX_COARSE),
                         int_in(path, ("%s.parameters.%s fine"):format(ow, name), v[2], 0, limits.MAX_FINE) }
      end
      local neurons = {}
      for k, x in ipairs(core.neurons) do
        local nw = ("%s.neurons[%d]"):format(ow, k - 1)
        if type(x) ~= "table" then bad(path, nw .. ": an object expected") end
        check_keys(path, nw, x, { neuron = true, latch_so_dc = true, synapses = true, destinations = true })
        local n = int_in(path, nw .. ".neuron", x.neuron, 0, limits.NUM_NEURONS - 1) + 1
        if neurons[n] then bad(path, ("%s: neuron %d is listed twice"):format(ow, n - 1)) end
        if type(x.latch_so_dc) ~= "boolean" then bad(path, nw .. ".latch_so_dc: true or false expected") end
        if not is_array(x.synapses) or not is_array(x.destinations) then
          bad(path, nw .. ": lists of synapses and destinations expected")
        end
        local syn, dst = {}, {}
        for i, s in ipairs(x.synapses) do
          local sw = ("%s.synapses[%d]"):format(nw, i - 1)
          if not is_array(s) or #s ~= 3 or not DENDRITES[s[1]] or not is_array(s[2]) or #s[2] ~= 4 then
            bad(path, sw .. ': ["ampa" | "gaba" | "nmda" | "shunt" | "none", [b0, b1, b2, b3], tag] expected')
          end
          local w = {}
          for b = 1, 4 do w[b] = int_in(path, ("%s weight bit %d"):format(sw, b - 1), s[2][b], 0, 1) end
          syn[i] = { dendrite = s[1], weight = w, tag = int_in(path, sw .. " tag", s[3], 0, limits.MAX_TAG) }
        end
        for i, d in ipairs(x.destinations) do dst[i] = read_dest(path, ("%s.destinations[%d]"):format(nw, i - 1), d) end
        neurons[n] = { synapses = syn, destinations = dst, latch_so_dc = x.latch_so_dc }
      end
      cores[co] = { parameters = params, neurons = neurons }
    end
    c.chips[ch] = { cores = cores }
  end
  if not is_array(doc.neurons) then bad(path, "field 'neurons': a list of [chip, core, neuron] expected") end
  for j, a in ipairs(doc.neurons) do
    if not is_array(a) or #a ~= 3 then bad(path, ("neurons[%d]: [chip, core, neuron] expected"):format(j - 1)) end
    c.neurons[j] = { chip = int_in(path, ("neurons[%d] chip"):format(j - 1), a[1], 0) + 1,
                     core = int_in(path, ("neurons[%d] core"):format(j - 1), a[2], 0) + 1,
                     neuron = int_in(path, ("neurons[%d] neuron"):format(j - 1), a[3], 0) + 1 }
  end
  if not is_array(doc.input_channel_map) then bad(path, "field 'input_channel_map': a list expected") end
  for k, e in ipairs(doc.input_channel_map) do
    local iw = ("input_channel_map[%d]"):format(k - 1)
    if not is_array(e) or #e < 2 then bad(path, iw .. ": [channel, destination, ...] expected") end
    local ch = int_in(path, iw .. " channel", e[1], 0) + 1
    if c.input_channel_map[ch] then bad(path, ("%s: channel %d is listed twice"):format(iw, ch - 1)) end
    local list = {}
    for i = 2, #e do list[i - 1] = read_dest(path, ("%s destination %d"):format(iw, i - 2), e[i]) end
    c.input_channel_map[ch] = list
  end
  local vok, msg = M.validate(c)
  if not vok then bad(path, "holds an invalid configuration: " .. msg) end
  return c
end

-- the names lp.dynapse2 gives these
M.config_from_specification = M.from_specification
M.validate_config = M.validate
M.save_config = M.save
M.load_config = M.load

return M
