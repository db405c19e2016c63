-- devices/dynapse2/limits.lua -- `limpet.dynapse2.limits`: the Dynap-SE2 chip
-- layout and routing limits (reference/dynapse2.md §1), one place for the
-- numbers the mapper, the allocator, the configuration checks and the event
-- codec use. Data only.
--
-- Ids: chips, cores and neuron slots are counted from 1 in Lua; tags (0..2047),
-- hops (-7..7), core masks ({c1, c2, c3, c4} of 0/1) and bias codes (coarse
-- 0..5, fine 0..255) are chip values and keep their numbers.
local L = {}

L.NUM_CHIPS = 4          -- chips assumed on a board / stack
L.NUM_CORES = 4          -- neural cores per chip
L.NUM_NEURONS = 256      -- neurons per core (1024 per chip)
L.NUM_SYNAPSES = 64      -- CAM (incoming) entries per neuron
L.NUM_DEST = 4           -- SRAM (outgoing destination) entries per neuron
L.NUM_TAGS = 2048        -- 11-bit tags, 0..2047
L.MAX_TAG = 2047
L.MAX_HOP = 7            -- relative chip hops, -7..7 in x and y
L.NUM_BITS = 4           -- weight bits per CAM entry (base currents Iw_0..Iw_3)
L.MAX_COARSE, L.MAX_FINE = 5, 255

-- clusters (cores) on one board: 4 chips x 4 cores
L.MAX_CLUSTERS = L.NUM_CHIPS * L.NUM_CORES

-- the FPGA's event clock and the control events of the hardware interface (§8)
L.DT_FPGA = 1e-6
L.CONTROL_TAG = 2047
L.CONTROL_HOP = -7

-- dendrite (synapse) types of a CAM entry and their samna enum values (§1.1);
-- AMPA and NMDA excite, GABA and SHUNT inhibit
L.DENDRITES = { none = 0, ampa = 1024, gaba = 512, nmda = 256, shunt = 128 }
L.DENDRITE_SIGN = { none = 0, ampa = 1, nmda = 1, gaba = -1, shunt = -1 }

--- L.chip_position(chip) -> x, y: the grid position of chip `chip` (1-based) on the
-- board, chips in a row: chip k at (k, 0); the host / FPGA side sits at (0, 0).
-- (Rockpool's CHIP_POS table skips chip 2, reference §13.6; we do not.)
function L.chip_position(chip) return chip, 0 end

--- L.cluster_address(c) -> chip, core: where cluster (core-map id) c lives, both 1-based:
-- clusters fill the cores of chip 1 first, then chip 2, ...
function L.cluster_address(c)
  if math.type(c) ~= "integer" or c < 1 then
    error(("bad argument #1 to 'cluster_address' (a cluster id >= 1 expected, got %s)"):format(tostring(c)), 2)
  end
  return (c - 1) // L.NUM_CORES + 1, (c - 1) % L.NUM_CORES + 1
end

return L
