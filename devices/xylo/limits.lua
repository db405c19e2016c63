-- devices/xylo/limits.lua -- per-variant hardware limits of the Xylo SNN core.
-- Owns: the numbers of reference/xylo.md §2 and §5 for Xylo Audio 2 (SYNS61201),
-- Xylo Audio 3 (SYNS65302) and Xylo IMU (SYNS63300), as one read-only table per
-- variant. Every Xylo module (mapper, quantisers, config, XyloSim, cycles model)
-- reads its limits from here; nothing else hard-codes them.
--
-- API (stable):
--   limits.variants                 -> {"audio2", "audio3", "imu"}
--   limits.for_variant(name)        -> the table below (error if `name` is unknown)
--   limits.is_variant(name)         -> boolean
--
-- Fields of a variant table (ranges inclusive, ids counted from 1 in Lua):
--   name, chip, samna               "audio2", "SYNS61201", "xyloCore2" ...
--   n_in                            input channels (16)
--   n_hidden                        hidden neurons (1000 / 992 / 496)
--   n_out                           output neurons (8 / 32 / 16)
--   n_syn                           synaptic states per hidden neuron on silicon (2 / 2 / 1)
--   n_ien, n_oen                    how many hidden neurons may receive input / drive
--                                   the readout (A2: all; A3 and IMU: 128)
--   ien_first, oen_last             A3/IMU: IENs are hidden ids 1..n_ien, OENs the last
--                                   n_oen hidden ids (readout row r <-> hidden n_hidden - n_oen + r)
--   weight_min, weight_max          int8 weights: -128, 127   (weight_bits = 8)
--   shift_min, shift_max            IWBS/RWBS/OWBS weight bit shifts: 0, 7 (3 bits)
--   dash_min, dash_max              dash_mem/dash_syn/...: 0, 15 (4 bits)
--   threshold_min, threshold_max    int16: -32768, 32767 (threshold_bits = 16)
--   bias_min, bias_max              int16: -32768, 32767 (xylosim width; HW width unknown)
--   state_min, state_max            Isyn / Vmem int16 saturation limits
--   max_input_events                15 events per channel per step
--   max_hidden_spikes               31 spikes per hidden neuron per step
--   max_output_spikes               1 spike per output neuron per step
--   max_fanout                      max nonzero recurrent weights leaving one hidden
--                                   neuron, all synapses counted (64 / 1024 / 512)
--   max_rec_weights                 max nonzero recurrent weights per synapse over the
--                                   whole core (32000 / 31744 / 31744)
--   has_bias                        hidden and output biases supported (true)
--   has_aliases                     one alias target per hidden neuron (true)
--   main_clock_hz                   A2: 100e6 (core = 100e6/(2(k+1))), A3: 50e6, IMU: nil (unknown)
--   clock_hz                        default SNN core clock (A2 50e6, A3 50e6, IMU nil)
--   mapper_max_hidden, mapper_max_output   mapper defaults (= n_hidden, n_out)
local limits = {}

local common = {
  n_in = 16,
  weight_bits = 8, weight_min = -128, weight_max = 127,
  shift_min = 0, shift_max = 7,
  dash_min = 0, dash_max = 15,
  threshold_bits = 16, threshold_min = -32768, threshold_max = 32767,
  bias_min = -32768, bias_max = 32767,
  state_min = -32768, state_max = 32767,
  max_input_events = 15, max_hidden_spikes = 31, max_output_spikes = 1,
  has_bias = true, has_aliases = true,
}

local specific = {
  audio2 = {
    chip = "SYNS61201", samna = "xyloCore2", title = "Xylo Audio 2",
    n_hidden = 1000, n_out = 8, n_syn = 2,
    n_ien = 1000, n_oen = 1000, ien_first = false, oen_last = false,
    max_fanout = 64, max_rec_weights = 32000,
    main_clock_hz = 100e6, clock_hz = 50e6,
  },
  audio3 = {
    chip = "SYNS65302", samna = "xyloAudio3", title = "Xylo Audio 3",
    n_hidden = 992, n_out = 32, n_syn = 2,
    n_ien = 128, n_oen = 128, ien_first = true, oen_last = true,
    max_fanout = 1024, max_rec_weights = 31744,
    main_clock_hz = 50e6, clock_hz = 50e6,
  },
  imu = {
    chip = "SYNS63300", samna = "xyloImu", title = "Xylo IMU",
    n_hidden = 496, n_out = 16, n_syn = 1,
    n_ien = 128, n_oen = 128, ien_first = true, oen_last = true,
    max_fanout = 512, max_rec_weights = 31744,
    main_clock_hz = nil, clock_hz = nil,
  },
}

local frozen_mt = {
  __newindex = function(_, k) error(("limits are read-only (field '%s')"):format(tostring(k)), 2) end,
}

local tables = {}
limits.variants = { "audio2", "audio3", "imu" }
for _, name in ipairs(limits.variants) do
  local t = { name = name }
  for k, v in pairs(common) do t[k] = v end
  for k, v in pairs(specific[name]) do t[k] = v end
  t.mapper_max_hidden, t.mapper_max_output = t.n_hidden, t.n_out
  tables[name] = setmetatable(t, frozen_mt)
end

--- limits.is_variant(name) -> true if `name` is a known Xylo variant.
function limits.is_variant(name) return tables[name] ~= nil end

--- limits.for_variant(name) -> the read-only limits table of the variant.
function limits.for_variant(name)
  local t = tables[name]
  if not t then
    error(("bad argument #1 to 'for_variant' (unknown Xylo variant '%s'; expected audio2, audio3 or imu)")
      :format(tostring(name)), 2)
  end
  return t
end

return limits
