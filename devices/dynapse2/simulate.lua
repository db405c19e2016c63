-- devices/dynapse2/simulate.lua -- `limpet.dynapse2.simulate`: the DynapSim network a
-- Dynap-SE2 configuration encodes (Rockpool's `dynapsim_net_from_config`, reference/
-- dynapse2.md §9), and the one a specification describes (`dynapsim_net_from_spec`), so
-- that the effect of every step (quantisation, bias codes, mismatch) shows on the same
-- input.
-- Not here: the neuron model (dynapsim.lua), bias codes -> currents (translate.lua's
-- DynapSimCore.from_Dynapse2Parameters, biasgen.lua), the configuration (config.lua).
--
--   local net = lp.dynapse2.from_config(config[, {percent_mismatch = p, seed = s, dtype = "float32"}])
--   local net = lp.dynapse2.from_spec(spec[, opts])
--
-- Both return nn.Sequential(nn.Linear(n_in -> N), nn.DynapSim(N, has_rec = true)) (just the
-- DynapSim when there is no input channel), neurons in network order.
--
-- from_config reads the configuration as the chip would run it:
-- * neuron j is the neuron at config.neurons[j] (without that list: every configured neuron,
--   ordered by chip, core, slot);
-- * a CAM entry of neuron j listening to tag t is driven by every neuron whose SRAM sends t
--   to j's chip and core (the destination's hops from the sender's chip lead to j's chip,
--   its core mask holds j's core), and by every input channel whose destinations in
--   config.input_channel_map do (hops counted from chip 1, where the host injects events);
-- * its weight is sign · Σ_k bit_k · Iw_k / Iscale, Iw_k the current of bias SYAM_Wk_P of
--   j's core, sign +1 for AMPA and NMDA, -1 for GABA and SHUNT (and 0 for none); entries
--   of one source add up;
-- * every current comes from j's core's bias codes through the bias generator model; the
--   combined Igain_syn / Itau_syn are the means of the four synapse types' currents
--   weighted by the integer weights arriving on each type (the plain mean without any);
--   the layout constants are DynapSim's defaults.
-- Where we differ from Rockpool on purpose:
-- * A CAM entry no sender reaches has no effect (Rockpool makes every tag that no neuron
--   sends a new input channel); input channels come from the input channel map, so channel i
--   is input i of the network and unused channels are zero rows.
-- * With latch_so_dc off, Idc is 0 (the DC source is disconnected); Rockpool reads the
--   SOIF_DC_P code regardless.
-- * from_spec passes Iw_ahp (Rockpool's from_spec drops it, §13.8) and accepts a quantised
--   spec (weights rebuilt from masks and base currents) as well as a float one.
local lp = require "limpet"
local limits = require "limpet.dynapse2.limits"
local K = require "limpet.dynapse2.constants"

local M = {}

local CURRENTS = K.current_names
local SIGN = limits.DENDRITE_SIGN
local SYN_ORDER = { "ampa", "gaba", "nmda", "shunt" }

local function argerror(fn, n, msg, level) error(("bad argument #%d to '%s' (%s)"):format(n, fn, msg), (level or 2) + 1) end

local function options(fn, opts)
  local o = { percent_mismatch = nil, seed = nil, dtype = "float32" }
  if opts == nil then return o end
  if type(opts) ~= "table" then argerror(fn, 2, "table of options expected, got " .. type(opts), 3) end
  local known = { percent_mismatch = true, seed = true, dtype = true }
  for k, v in pairs(opts) do
    if not known[k] then argerror(fn, 2, ("unknown field '%s'"):format(tostring(k)), 3) end
    o[k] = v
  end
  if o.dtype ~= "float32" and o.dtype ~= "float64" then
    argerror(fn, 2, ("field 'dtype' must be float32 or float64, got %s"):format(tostring(o.dtype)), 3)
  end
  return o
end

-- the network: Linear(W_in) + DynapSim(currents, W_rec)
local function build(N, Nin, cur, W_in, W_rec, Iscale, dt, o)
  local dsopts = { Iscale = Iscale, dt = dt, dtype = o.dtype, has_rec = true,
    w_rec = lp.tensor(W_rec, "float64"):reshape({ N, N }):astype(o.dtype),
    percent_mismatch = o.percent_mismatch, seed = o.seed }
  for _, k in ipairs(CURRENTS) do dsopts[k] = lp.tensor(cur[k], "float64"):astype(o.dtype) end
  local ds = lp.nn.DynapSim(N, dsopts)
  if Nin == 0 then return ds end
  local w = lp.tensor(W_in, "float64"):reshape({ Nin, N }):astype(o.dtype)
  return lp.nn.Sequential { lp.nn.Linear({ Nin, N }, { weight = w }), ds }
end

local function zeros(r, c)
  local m = {}
  for i = 1, r do
    local row = {}
    for j = 1, c do row[j] = 0.0 end
    m[i] = row
  end
  return m
end

--- M.from_config(config[, opts]) -> net (see the file header)
function M.from_config(config, opts)
  local fn = "from_config"
  local Cfg = require "limpet.dynapse2.config"
  if getmetatable(config) ~= Cfg.Dynapse2Config then
    argerror(fn, 1, "Dynapse2Config expected (config_from_specification or load_config), got " .. type(config))
  end
  local ok, msg = Cfg.validate(config)
  if not ok then argerror(fn, 1, "invalid configuration: " .. msg) end
  local o = options(fn, opts)

  -- the neurons, in network order
  local list = {}
  if #config.neurons > 0 then
    for j, a in ipairs(config.neurons) do list[j] = { chip = a.chip, core = a.core, neuron = a.neuron } end
  else
    for ch, chip in ipairs(config.chips) do
      for co, core in ipairs(chip.cores) do
        local slots = {}
        for n in pairs(core.neurons) do slots[#slots + 1] = n end
        table.sort(slots)
        for _, n in ipairs(slots) do list[#list + 1] = { chip = ch, core = co, neuron = n } end
      end
    end
  end
  local N, Nin = #list, config.n_in
  if N == 0 then argerror(fn, 1, "the configuration has no neurons") end

  -- chip at a grid position
  local at = {}
  for ch = 1, #config.chips do
    local x, y = limits.chip_position(ch)
    at[x .. "," .. y] = ch
  end
  -- (chip, core, tag) -> senders: { {"rec", j} | {"in", i} }
  local senders = {}
  local function reach(from_chip, d, who)
    local x, y = limits.chip_position(from_chip)
    local ch = at[(x + d.x_hop) .. "," .. (y + d.y_hop)]
    if not ch then return end
    for co = 1, limits.NUM_CORES do
      if d.core[co] == 1 then
        local key = (ch * 8 + co) * 4096 + d.tag
        local l = senders[key] or {}
        l[#l + 1] = who
        senders[key] = l
      end
    end
  end
  for j, a in ipairs(list) do
    local x = config.chips[a.chip].cores[a.core].neurons[a.neuron]
    for _, d in ipairs(x.destinations) do reach(a.chip, d, { "rec", j }) end
  end
  for i = 1, Nin do
    for _, d in ipairs(config.input_channel_map[i] or {}) do reach(1, d, { "in", i }) end
  end

  -- each core's currents from its bias codes (DynapSimCore.from_Dynapse2Parameters)
  local T = require "limpet.dynapse2.translate"
  local cores = {}
  local function core_of(a)
    local key = a.chip * 8 + a.core
    local c = cores[key]
    if not c then
      local params = config.chips[a.chip].cores[a.core].parameters
      for _, e in ipairs(K.sim2device) do
        if not params[e[2]] then
          argerror(fn, 1, ("chip %d, core %d holds neurons but has no parameter %s"):format(a.chip, a.core, e[2]), 4)
        end
      end
      c = T.DynapSimCore.from_Dynapse2Parameters(params)
      cores[key] = c
    end
    return c
  end

  local W_in, W_rec = zeros(Nin, N), zeros(N, N)
  local cur = {}
  for _, k in ipairs(CURRENTS) do cur[k] = {} end
  for j, a in ipairs(list) do
    local x = config.chips[a.chip].cores[a.core].neurons[a.neuron]
    local core = core_of(a)
    local Iw = {}
    for k = 1, limits.NUM_BITS do Iw[k] = core["Iw_" .. (k - 1)] end
    local per_type = { ampa = 0, gaba = 0, nmda = 0, shunt = 0 }
    for _, s in ipairs(x.synapses) do
      local m, v = 0, 0.0
      for k = 1, limits.NUM_BITS do
        if s.weight[k] == 1 then m, v = m + (1 << (k - 1)), v + Iw[k] end
      end
      if per_type[s.dendrite] then per_type[s.dendrite] = per_type[s.dendrite] + m end
      local w = SIGN[s.dendrite] * v / config.Iscale
      local from = senders[(a.chip * 8 + a.core) * 4096 + s.tag]
      if from and w ~= 0 then
        for _, who in ipairs(from) do
          if who[1] == "rec" then W_rec[who[2]][j] = W_rec[who[2]][j] + w
          else W_in[who[2]][j] = W_in[who[2]][j] + w end
        end
      end
    end
    for _, k in ipairs(CURRENTS) do
      if k ~= "Igain_syn" and k ~= "Itau_syn" then cur[k][j] = core[k] end
    end
    if not x.latch_so_dc then cur.Idc[j] = 0.0 end
    local total = per_type.ampa + per_type.gaba + per_type.nmda + per_type.shunt
    local g, t = 0.0, 0.0
    for _, ty in ipairs(SYN_ORDER) do
      local wgt = total > 0 and per_type[ty] / total or 0.25
      g = g + wgt * core["Igain_" .. ty]
      t = t + wgt * core["Itau_" .. ty]
    end
    cur.Igain_syn[j], cur.Itau_syn[j] = g, t
  end
  local flat_in, flat_rec = {}, {}
  for i = 1, Nin do for j = 1, N do flat_in[#flat_in + 1] = W_in[i][j] end end
  for i = 1, N do for j = 1, N do flat_rec[#flat_rec + 1] = W_rec[i][j] end end
  return build(N, Nin, cur, flat_in, flat_rec, config.Iscale, config.dt, o)
end

--- M.from_spec(spec[, opts]) -> net: the network of a mapper specification (float
-- weights) or a quantised one (weights rebuilt from masks and base currents), each
-- neuron with its cluster's currents (the clustered means, as the chip would share them).
function M.from_spec(spec, opts)
  local fn = "from_spec"
  if type(spec) ~= "table" or lp.is_tensor(spec) then argerror(fn, 1, "specification table expected, got " .. type(spec)) end
  local o = options(fn, opts)
  local N, cmap = spec.n_neuron, spec.core_map
  if math.type(N) ~= "integer" or N < 1 or type(cmap) ~= "table" or #cmap ~= N then
    argerror(fn, 1, "a mapper specification expected (n_neuron, core_map, currents)")
  end
  local W_in, W_rec = spec.weights_in, spec.weights_rec
  if spec.Iw_0 ~= nil and (spec.sign_in ~= nil or spec.sign_rec ~= nil) then
    W_in, W_rec = require("limpet.dynapse2.quantize").reconstruct_weights(spec)
  end
  local Nin = W_in and W_in.shape[1] or 0
  local cur = {}
  for _, k in ipairs(CURRENTS) do
    local v = spec[k]
    if v == nil then argerror(fn, 1, ("field '%s' is missing"):format(k)) end
    local t = lp.is_tensor(v) and v:reshape(-1):totable() or v
    cur[k] = {}
    for j = 1, N do cur[k][j] = t[cmap[j]] end
  end
  local function flat(W, r)
    if W == nil then
      local z = {}
      for i = 1, r * N do z[i] = 0.0 end
      return z
    end
    return lp.tensor(W):astype("float64"):reshape(-1):totable()
  end
  return build(N, Nin, cur, flat(W_in, Nin), flat(W_rec, N), spec.Iscale, spec.dt or 1e-3, o)
end

return M
