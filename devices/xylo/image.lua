-- devices/xylo/image.lua -- chip memory images of a Xylo configuration: the register and
-- RAM writes (address, value) a configuration becomes on the chip, and back.
-- Owns: the per-variant memory maps (reference/xylo.md §5.1, §5.2, Rockpool's register
-- tables), the word layout of every bank, config_to_image / image_to_config, the Image
-- object, and decode(variant, read) that rebuilds a configuration from any memory
-- (limpet.xylo.hdk's VirtualHDK uses it). Not here: what the configuration means
-- (config.lua), running it (xylosim.lua, hdk.lua).
--
--   local img = xylo.audio2.config_to_image(config)        -- Image: #img writes
--   for addr, value in img:writes() do transport:write(addr, value) end
--   local config2 = xylo.audio2.image_to_config(img)       -- the same network
--   local img = xylo.imu.config_to_image(config, {imu_if = imuif_sim})  -- + IMU IF registers
--   local config2, imu_if_fields = xylo.imu.image_to_config(img)
--
-- An image is the list a transport would send, in order: registers first (CTRL1 ...),
-- then every RAM word of the configured network, bank by bank in address order. Word
-- values are the raw bits (int8 weights as 0..255, 16-bit values as 0..65535, register
-- words as 0..2^32-1); registers and RAM share one address space (registers below the
-- first RAM bank, as on the chips). State RAMs (Isyn, Vmem, spike counts) are not
-- written: a configuration starts from zero state.
--
-- What is the chip's and what is limpet's (the public sources stop at names):
-- * Audio 3: register addresses and CTRL1/CTRL2/CTRL3 fields are Rockpool's reg.py, RAM
--   banks are §5.1 (ram.py).
-- * Audio 2: registers are Rockpool's Xylo2Registers (CTRL1 0x01 fields as §5.2, CTRL2
--   0x02, TR_WRAP 0x03, HM_TR_WRAP 0x04). §5.1's RAM table has no bias RAM although A2
--   has biases; Rockpool's other A2 table (a later xa2_devkit_utils zero_memory,
--   consistent with read_neuron_synapse_state's RSPKRAM at 0xA540) inserts NBRAM at
--   0x09590 and moves the banks after it up by 0x3F0. limpet uses that layout. CTRL2's
--   content is not public: limpet writes the counts there in Audio 3's CTRL2 positions,
--   IN (bits 0-7), ON (bits 8-15, Audio 2 has no IEN count) and HN (bits 16-31); on
--   Audio 2 every hidden neuron may take input and drive the readout, so an image
--   carries weights_in / weights_out over all hidden neurons and image_to_config gives
--   n_ien = n_oen = n_hidden (the columns / rows beyond the original are zeros: the
--   same network).
-- * Xylo IMU: no register or RAM address is public except its input spike registers
--   (0x47-0x4A). limpet lays it out like Audio 3: VERSION, CTRL1, CTRL2, CTRL3,
--   TR_WRAP, HM_TR_WRAP at 0x00-0x05, the IMU IF block at 0x10-0x46 (below), and the
--   Audio 3 RAM banks without the synapse-2 ones, sized for 496 hidden / 16 output
--   neurons, from 0x200 on. These addresses are limpet's, not the chip's.
-- * Word layouts that are not public, limpet's: IWTRAM word = channel · IEN_MAX +
--   neuron; OWTRAM word = row · OUT_MAX + output (row = hidden id on A2, OEN index on
--   A3 / IMU); neuron banks hold hidden neuron j at j and output k at HID_MAX + k;
--   the recurrent weights are fan-out lists (§5.1: "sparse, per fan-out entry"): hidden
--   neuron i owns REFOCRAM[i] consecutive entries (after those of neurons < i), entry e
--   holds the target id in RFORAM[e] and the weights of synapse 1 / 2 in RWTRAM[e] /
--   RWT2RAM[e] (targets ascending, an entry per target with any nonzero weight);
--   RCRAM/HCRAM bit 0 marks a neuron with an alias target, RARAM/HARAM holds it (0-based).
-- * IMU IF block (limpet's addresses; field widths from §11.4): 0x10 IF_CTRL (bit 0
--   enable = the SNN reads the IMU IF, bit 1 bypass_jsvd, bit 2 select_iaf_output,
--   bits 8-12 estimator_k_setting, bits 16-26 update_matrix_threshold = SAH_period - 1,
--   bits 27-31 delay_threshold), 0x11-0x16 B_b, B_wf, B_af (eight 4-bit fields per
--   register, filter 1 in the low bits, as Audio 3's bpf_*_reg), 0x17-0x25 a1 and
--   0x26-0x34 a2 (one 17-bit two's-complement value per register), 0x35-0x37 scale
--   values (six 5-bit fields per register), 0x38-0x46 IAF thresholds (31 bits).
-- * Not chip state, so not in an image: operation_mode other than Manual (the MAN bit;
--   accelerated vs real time is the FPGA's choice), dt (only TR_WRAP = clock · dt is,
--   and dt comes back as TR_WRAP / clock where the clock is known: not on IMU), the
--   debug monitor ranges, clear_network_state. image_to_config gives those their
--   config_from_specification defaults.
local lp = require "limpet"
local class = require "limpet.class"
local limits = require "limpet.xylo.limits"
local configm = require "limpet.xylo.config"

local M = {}

local function argerror(fname, argno, msg, level)
  error(("bad argument #%d to '%s' (%s)"):format(argno, fname, msg), (level or 1) + 1)
end

-- Memory maps ---------------------------------------------------------------------------

-- RAM banks in address order: name, words, role. `base` is filled in (sequential from
-- `ram_start`) unless given.
local function layout(start, banks)
  local addr = start
  for _, b in ipairs(banks) do
    if b.base then addr = b.base end
    b.base = addr
    addr = addr + b.words
  end
  return banks
end

local MAPS = {
  audio2 = {
    hid_max = 1000, out_max = 8, ien_max = 1000, oen_max = 1000, in_max = 16, fanout_words = 32000,
    syn2 = true, clock_hz = 50e6, ram_start = 0x100,
    regs = { VERSION = 0x00, CTRL1 = 0x01, CTRL2 = 0x02, TR_WRAP = 0x03, HM_TR_WRAP = 0x04,
             ISPKREG0L = 0x11, ISPKREG0H = 0x12, ISPKREG1L = 0x13, ISPKREG1H = 0x14, STAT = 0x15 },
    counts = "a2",
    banks = layout(0x100, {
      { name = "IWTRAM", words = 16000, role = "w_in" },
      { name = "IWT2RAM", words = 16000, role = "w_in2" },
      { name = "NSCRAM", words = 1008, role = "state" },
      { name = "RSC2RAM", words = 1000, role = "state" },
      { name = "NMPRAM", words = 1008, role = "state" },
      { name = "NDSRAM", words = 1008, role = "dash_syn" },
      { name = "RDS2RAM", words = 1000, role = "dash_syn_2" },
      { name = "NDMRAM", words = 1008, role = "dash_mem" },
      { name = "NBRAM", words = 1008, role = "bias" },
      { name = "NTHRAM", words = 1008, role = "threshold" },
      { name = "RCRAM", words = 1000, role = "ncfg" },
      { name = "RARAM", words = 1000, role = "alias" },
      { name = "RSPKRAM", words = 1000, role = "state" },
      { name = "REFOCRAM", words = 1000, role = "fanout_count" },
      { name = "RFORAM", words = 32000, role = "fanout_target" },
      { name = "RWTRAM", words = 32000, role = "w_rec" },
      { name = "RWT2RAM", words = 32000, role = "w_rec2" },
      { name = "OWTRAM", words = 8000, role = "w_out" },
    }),
  },
  audio3 = {
    hid_max = 992, out_max = 32, ien_max = 128, oen_max = 128, in_max = 16, fanout_words = 31744,
    syn2 = true, clock_hz = 50e6, ram_start = 0x200,
    regs = { VERSION = 0x00, CTRL1 = 0x01, CTRL2 = 0x02, CTRL3 = 0x03, TR_WRAP = 0x04, HM_TR_WRAP = 0x05,
             ISPKREG0L = 0x149, ISPKREG0H = 0x14A, ISPKREG1L = 0x14B, ISPKREG1H = 0x14C },
    counts = "a3",
    banks = layout(0x200, {
      { name = "IWTRAM", words = 2048, role = "w_in" },
      { name = "IWT2RAM", words = 2048, role = "w_in2" },
      { name = "NSCRAM", words = 1024, role = "state" },
      { name = "HSC2RAM", words = 992, role = "state" },
      { name = "NMPRAM", words = 1024, role = "state" },
      { name = "NDSRAM", words = 1024, role = "dash_syn" },
      { name = "HDS2RAM", words = 992, role = "dash_syn_2" },
      { name = "NDMRAM", words = 1024, role = "dash_mem" },
      { name = "NBRAM", words = 1024, role = "bias" },
      { name = "NTHRAM", words = 1024, role = "threshold" },
      { name = "HCRAM", words = 992, role = "ncfg" },
      { name = "HARAM", words = 992, role = "alias" },
      { name = "HSPKRAM", words = 992, role = "state" },
      { name = "HEFOCRAM", words = 992, role = "fanout_count" },
      { name = "HFORAM", words = 31744, role = "fanout_target" },
      { name = "HWTRAM", words = 31744, role = "w_rec" },
      { name = "HWT2RAM", words = 31744, role = "w_rec2" },
      { name = "OWTRAM", words = 4096, role = "w_out" },
    }),
  },
  imu = {
    hid_max = 496, out_max = 16, ien_max = 128, oen_max = 128, in_max = 16, fanout_words = 31744,
    syn2 = false, clock_hz = nil, ram_start = 0x200, limpet_layout = true,
    regs = { VERSION = 0x00, CTRL1 = 0x01, CTRL2 = 0x02, CTRL3 = 0x03, TR_WRAP = 0x04, HM_TR_WRAP = 0x05,
             IF_CTRL = 0x10, IF_BB = 0x11, IF_BWF = 0x13, IF_BAF = 0x15, IF_A1 = 0x17, IF_A2 = 0x26,
             IF_SCALE = 0x35, IF_IAF_THR = 0x38,
             ISPKREG0L = 0x47, ISPKREG0H = 0x48, ISPKREG1L = 0x49, ISPKREG1H = 0x4A },
    counts = "a3",
    banks = layout(0x200, {
      { name = "IWTRAM", words = 2048, role = "w_in" },
      { name = "NSCRAM", words = 512, role = "state" },
      { name = "NMPRAM", words = 512, role = "state" },
      { name = "NDSRAM", words = 512, role = "dash_syn" },
      { name = "NDMRAM", words = 512, role = "dash_mem" },
      { name = "NBRAM", words = 512, role = "bias" },
      { name = "NTHRAM", words = 512, role = "threshold" },
      { name = "HCRAM", words = 496, role = "ncfg" },
      { name = "HARAM", words = 496, role = "alias" },
      { name = "HSPKRAM", words = 496, role = "state" },
      { name = "HEFOCRAM", words = 496, role = "fanout_count" },
      { name = "HFORAM", words = 31744, role = "fanout_target" },
      { name = "HWTRAM", words = 31744, role = "w_rec" },
      { name = "OWTRAM", words = 2048, role = "w_out" },
    }),
  },
}
for _, m in pairs(MAPS) do
  m.bank = {}
  for _, b in ipairs(m.banks) do m.bank[b.role] = m.bank[b.role] or b; m.bank[b.name] = b end
  local last = m.banks[#m.banks]
  m.ram_end = last.base + last.words - 1
end

--- image.map(variant) -> the memory map: regs (name -> address), banks ({name, base,
-- words, role} in address order), bank[name or role], hid_max, out_max, ien_max,
-- oen_max, fanout_words, ram_start, ram_end, clock_hz, syn2.
function M.map(variant)
  local m = MAPS[variant]
  if not m then
    argerror("map", 1, ("unknown Xylo variant '%s'; expected audio2, audio3 or imu"):format(tostring(variant)), 2)
  end
  return m
end

-- CTRL1 fields (§5.2; Audio 3 reg.py): bit positions
local CTRL1 = { MAN = 0, ISYN2_EN = 1, ALIAS_EN = 2, BIAS_EN = 3, IWBS = 4, RWBS = 8, OWBS = 12,
                MEM_CLK_ON = 16, RAM_ACTIVE = 17, ALWAYS_UPDATE_OMP_STAT = 22, HM_EN = 23 }
M.CTRL1 = CTRL1

-- The Image object ---------------------------------------------------------------------------

local Image = class.Object:extend("XyloImage")
M.Image = Image

--- Image(variant, addresses, values): addresses and values int64 tensors or Lua lists.
function Image:init(variant, addr, value)
  if type(variant) ~= "string" or not pcall(limits.for_variant, variant) then
    argerror("Image", 1, ("a Xylo variant (audio2, audio3 or imu) expected, got %s"):format(tostring(variant)), 3)
  end
  rawset(self, "variant", variant)
  local a = lp.is_tensor(addr) and addr:astype("int64") or lp.tensor(addr, "int64")
  local v = lp.is_tensor(value) and value:astype("int64") or lp.tensor(value, "int64")
  if a:dim() ~= 1 or v:dim() ~= 1 or a:numel() ~= v:numel() then
    argerror("Image", 2, "addresses and values must be 1-d and of the same length", 3)
  end
  rawset(self, "address", a)
  rawset(self, "value", v)
end

function Image:__len() return self.address:numel() end

--- img:writes() -> iterator of address, value (in order)
function Image:writes()
  local a, v = self.address:totable(), self.value:totable()
  local i = 0
  return function()
    i = i + 1
    if a[i] then return a[i], v[i] end
  end
end

--- img:totable() -> { {address, value}, ... }
function Image:totable()
  local out, a, v = {}, self.address:totable(), self.value:totable()
  for i = 1, #a do out[i] = { a[i], v[i] } end
  return out
end

function Image:__tostring()
  local m = MAPS[self.variant]
  local nreg = self.address:lt(m.ram_start):sum():item()
  return ("XyloImage(%s: %d writes, %d registers, %d RAM words)"):format(
    limits.for_variant(self.variant).title, #self, nreg, #self - nreg)
end

--- Image.from_writes(variant, { {address, value}, ... }) -> Image
local function from_writes(fname, variant, list, level)
  if type(list) ~= "table" then
    argerror(fname, 2, "a list of {address, value} expected, got " .. type(list), level + 1)
  end
  lp.core._check_table(fname, "a list of writes", #list)
  local a, v = {}, {}
  for i, w in ipairs(list) do
    if type(w) ~= "table" or math.type(w[1]) ~= "integer" or math.type(w[2]) ~= "integer" then
      argerror(fname, 2, ("write %d is not {address, value} (two integers)"):format(i), level + 1)
    end
    a[i], v[i] = w[1], w[2]
  end
  return Image(variant, a, v)
end
function Image.from_writes(variant, list)
  if type(variant) ~= "string" then argerror("from_writes", 1, "a Xylo variant name expected, got " .. type(variant), 2) end
  return from_writes("from_writes", variant, list, 2)
end

-- Encoding ------------------------------------------------------------------------------------

local function u(v, bits) return v % (1 << bits) end          -- two's complement field
local function s(v, bits)                                     -- and back
  v = v % (1 << bits)
  if v >= (1 << (bits - 1)) then v = v - (1 << bits) end
  return v
end

-- Collects writes in order: Lua lists of addresses and values (tensors appended later).
local function writer()
  local w = { a = {}, v = {}, chunks = {} }
  function w.put(addr, val) local n = #w.a + 1; w.a[n] = addr; w.v[n] = val end
  -- a whole range from Lua lists
  function w.range(base, vals, offsets)
    local a, v, n = w.a, w.v, #w.a
    for i = 1, #vals do n = n + 1; a[n] = base + (offsets and offsets[i] or (i - 1)); v[n] = vals[i] end
  end
  function w.image(variant) return Image(variant, w.a, w.v) end
  return w
end

local function flat_ints(t) return t:astype("int64"):reshape(-1):totable() end

-- The IMU IF register words from the fields of IMUIFSim:export_config().
local function imu_if_words(f, enable)
  local words = {}
  local function fieldreg(list, bits, per, lo, hi, name, signed)
    local regs = {}
    for i = 1, #list do
      local x = list[i]
      if math.type(x) ~= "integer" or x < lo or x > hi then
        error(("bad argument #2 to 'config_to_image' (imu_if field '%s': %s is outside %d..%d)"):format(name, tostring(x), lo, hi), 4)
      end
      local r = (i - 1) // per + 1
      regs[r] = (regs[r] or 0) | ((signed and u(x, bits) or x) << (((i - 1) % per) * bits))
    end
    return regs
  end
  local n = #f.bpf_bb_values
  if n ~= 15 then error("bad argument #2 to 'config_to_image' (imu_if: the IMU IF has 15 filters)", 4) end
  for _, k in ipairs { "bpf_bwf_values", "bpf_baf_values", "bpf_a1_values", "bpf_a2_values", "scale_values", "iaf_threshold_values" } do
    if type(f[k]) ~= "table" or #f[k] ~= n then
      error(("bad argument #2 to 'config_to_image' (imu_if field '%s' must hold 15 values)"):format(k), 4)
    end
  end
  local k = f.estimator_k_setting or 4
  local umt = f.update_matrix_threshold or 9
  local delay = f.delay_threshold or 1
  if math.type(k) ~= "integer" or k < 0 or k > 31 then error("bad argument #2 to 'config_to_image' (imu_if field 'estimator_k_setting' must be in 0..31)", 4) end
  if math.type(umt) ~= "integer" or umt < 0 or umt > 2046 then error("bad argument #2 to 'config_to_image' (imu_if field 'update_matrix_threshold' must be in 0..2046)", 4) end
  if math.type(delay) ~= "integer" or delay < 0 or delay > 31 then error("bad argument #2 to 'config_to_image' (imu_if field 'delay_threshold' must be in 0..31)", 4) end
  words.ctrl = (enable and 1 or 0) | (f.bypass_jsvd and 2 or 0) | (f.select_iaf_output and 4 or 0)
    | (k << 8) | (umt << 16) | (delay << 27)
  words.bb = fieldreg(f.bpf_bb_values, 4, 8, 0, 15, "bpf_bb_values")
  words.bwf = fieldreg(f.bpf_bwf_values, 4, 8, 0, 15, "bpf_bwf_values")
  words.baf = fieldreg(f.bpf_baf_values, 4, 8, 0, 15, "bpf_baf_values")
  words.a1 = fieldreg(f.bpf_a1_values, 17, 1, -65536, 65535, "bpf_a1_values", true)
  words.a2 = fieldreg(f.bpf_a2_values, 17, 1, -65536, 65535, "bpf_a2_values", true)
  words.scale = fieldreg(f.scale_values, 5, 6, 0, 31, "scale_values")
  words.thr = fieldreg(f.iaf_threshold_values, 31, 1, 1, 2147483647, "iaf_threshold_values")
  return words
end

local function imu_if_fields(v)
  if lp.is_tensor(v) or type(v) ~= "table" then return nil end
  if type(v.export_config) == "function" then return v:export_config() end
  return v
end

--- config_to_image(config[, {imu_if = IMUIFSim or its export_config() fields}][, variant])
-- -> Image. The configuration must be valid (xylo.validate_config).
function M.config_to_image(c, opts, variant)
  local fname = "config_to_image"
  if type(c) ~= "table" or getmetatable(c) ~= configm.Config then
    argerror(fname, 1, ("a Xylo configuration expected (config_from_specification), got %s"):format(type(c)), 2)
  end
  variant = variant or c.variant
  if c.variant ~= variant then
    argerror(fname, 1, ("configuration for %s, not %s"):format(tostring(c.variant), limits.for_variant(variant).title), 2)
  end
  local ok, msg = configm.validate(c)
  if not ok then argerror(fname, 1, "invalid configuration: " .. msg, 2) end
  if opts ~= nil and type(opts) ~= "table" then argerror(fname, 2, "option table expected", 2) end
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= "imu_if" then argerror(fname, 2, ("unknown field '%s'"):format(tostring(k)), 2) end
  end
  local m = MAPS[variant]
  local imu_if
  if opts.imu_if ~= nil then
    if variant ~= "imu" then argerror(fname, 2, "field 'imu_if': only Xylo IMU has an IMU interface", 2) end
    imu_if = imu_if_fields(opts.imu_if)
    if not imu_if then argerror(fname, 2, "field 'imu_if' must be an IMUIFSim or its export_config() fields", 2) end
  end
  local nin, nh, nout, ns = c.n_in, c.n_hidden, c.n_out, c.n_syn
  local nien = variant == "audio2" and nh or c.n_ien
  local noen = variant == "audio2" and nh or c.n_oen
  local w = writer()
  local R = m.regs
  -- registers
  local ctrl1 = (c.operation_mode == "Manual" and 1 or 0) << CTRL1.MAN
    | (ns == 2 and 1 or 0) << CTRL1.ISYN2_EN
    | (c.aliasing and 1 or 0) << CTRL1.ALIAS_EN
    | (c.bias_enable and 1 or 0) << CTRL1.BIAS_EN
    | c.weight_shift_in << CTRL1.IWBS | c.weight_shift_rec << CTRL1.RWBS | c.weight_shift_out << CTRL1.OWBS
    | 1 << CTRL1.MEM_CLK_ON | 1 << CTRL1.RAM_ACTIVE
    | ((c.debug and c.debug.always_update_omp_stat) and 1 or 0) << CTRL1.ALWAYS_UPDATE_OMP_STAT
    | (c.enable_hibernation_mode and 1 or 0) << CTRL1.HM_EN
  w.put(R.CTRL1, ctrl1)
  if m.counts == "a2" then
    w.put(R.CTRL2, nin | nout << 8 | nh << 16)
  else
    w.put(R.CTRL2, nin | nien << 8 | nh << 16)
    w.put(R.CTRL3, nout | noen << 8)
  end
  if c.time_resolution_wrap then
    w.put(R.TR_WRAP, c.time_resolution_wrap)
    w.put(R.HM_TR_WRAP, c.time_resolution_wrap)
  end
  if variant == "imu" then
    local enable = c.imu_if_input_enable == true or imu_if ~= nil
    if imu_if then
      local words = imu_if_words(imu_if, enable)
      w.put(R.IF_CTRL, words.ctrl)
      for i, x in ipairs(words.bb) do w.put(R.IF_BB + i - 1, x) end
      for i, x in ipairs(words.bwf) do w.put(R.IF_BWF + i - 1, x) end
      for i, x in ipairs(words.baf) do w.put(R.IF_BAF + i - 1, x) end
      for i, x in ipairs(words.a1) do w.put(R.IF_A1 + i - 1, x) end
      for i, x in ipairs(words.a2) do w.put(R.IF_A2 + i - 1, x) end
      for i, x in ipairs(words.scale) do w.put(R.IF_SCALE + i - 1, x) end
      for i, x in ipairs(words.thr) do w.put(R.IF_IAF_THR + i - 1, x) end
    else
      w.put(R.IF_CTRL, enable and 1 or 0)
    end
  end
  -- RAM, bank by bank in address order
  local win = c.weights_in:astype("int64")                 -- (nin, n_ien, ns)
  local wout = c.weights_out:astype("int64")               -- (n_oen, nout)
  local wrec = c.weights_rec:astype("int64")               -- (nh, nh, ns)
  local aliases = c.aliases
  -- fan-out lists of the recurrent weights
  local fan_count, fan_tgt, fan_w1, fan_w2
  do
    local w1 = wrec:slice(3, 1, 1):reshape(nh, nh)
    local mask = w1:ne(0)
    local w2
    if ns == 2 then
      w2 = wrec:slice(3, 2, 2):reshape(nh, nh)
      mask = mask:logical_or(w2:ne(0))
    end
    local total = mask:astype("int64"):sum():item()
    if total > m.fanout_words then
      argerror(fname, 1, ("weights_rec: %d (pre, post) pairs with a nonzero weight, the fan-out RAM holds %d")
        :format(total, m.fanout_words), 2)
    end
    fan_count = mask:astype("int64"):sum(2):totable()
    if total > 0 then
      local col = lp.arange(0, nh):reshape(1, nh):astype("int64") + lp.zeros({ nh, 1 }, "int64")
      fan_tgt = col[mask]:totable()
      fan_w1 = w1[mask]:totable()
      fan_w2 = w2 and w2[mask]:totable() or nil
    else
      fan_tgt, fan_w1, fan_w2 = {}, {}, ns == 2 and {} or nil
    end
  end
  local function neuron_words(hid, out, fn)    -- hidden 0..nh-1 at 0.., outputs at hid_max + k
    local vals, offs = {}, {}
    for j = 1, #hid do vals[j] = fn(hid[j]); offs[j] = j - 1 end
    if out then
      for k = 1, #out do vals[#vals + 1] = fn(out[k]); offs[#offs + 1] = m.hid_max + k - 1 end
    end
    return vals, offs
  end
  local function id(x) return x end
  local function b16(x) return u(x, 16) end
  for _, b in ipairs(m.banks) do
    local role = b.role
    if role == "w_in" or (role == "w_in2" and ns == 2) then
      local syn = role == "w_in" and 1 or 2
      local vals, offs = {}, {}
      local t = flat_ints(win:slice(3, syn, syn):reshape(nin, c.n_ien))
      for ch = 0, nin - 1 do
        for j = 0, nien - 1 do
          vals[#vals + 1] = j < c.n_ien and u(t[ch * c.n_ien + j + 1], 8) or 0
          offs[#offs + 1] = ch * m.ien_max + j
        end
      end
      w.range(b.base, vals, offs)
    elseif role == "dash_syn" then
      w.range(b.base, neuron_words(flat_ints(c.dash_syn), flat_ints(c.dash_syn_out), id))
    elseif role == "dash_syn_2" and ns == 2 then
      w.range(b.base, neuron_words(flat_ints(c.dash_syn_2), nil, id))
    elseif role == "dash_mem" then
      w.range(b.base, neuron_words(flat_ints(c.dash_mem), flat_ints(c.dash_mem_out), id))
    elseif role == "bias" then
      w.range(b.base, neuron_words(flat_ints(c.bias), flat_ints(c.bias_out), b16))
    elseif role == "threshold" then
      w.range(b.base, neuron_words(flat_ints(c.threshold), flat_ints(c.threshold_out), b16))
    elseif role == "ncfg" or role == "alias" then
      local vals = {}
      for j = 1, nh do
        local a = aliases[j][1]
        if role == "ncfg" then vals[j] = a and 1 or 0 else vals[j] = a and (a - 1) or 0 end
      end
      w.range(b.base, vals)
    elseif role == "fanout_count" then
      w.range(b.base, fan_count)
    elseif role == "fanout_target" then
      w.range(b.base, fan_tgt)
    elseif role == "w_rec" or (role == "w_rec2" and ns == 2) then
      local src = role == "w_rec" and fan_w1 or fan_w2
      local vals = {}
      for e = 1, #src do vals[e] = u(src[e], 8) end
      w.range(b.base, vals)
    elseif role == "w_out" then
      local t = flat_ints(wout)
      local vals, offs = {}, {}
      for r = 0, c.n_oen - 1 do
        local row = variant == "audio2" and (nh - c.n_oen + r) or r
        for k = 0, nout - 1 do
          vals[#vals + 1] = u(t[r * nout + k + 1], 8)
          offs[#offs + 1] = row * m.out_max + k
        end
      end
      if variant == "audio2" then           -- the hidden rows before the OENs read out nothing
        for row = 0, nh - c.n_oen - 1 do
          for k = 0, nout - 1 do vals[#vals + 1] = 0; offs[#offs + 1] = row * m.out_max + k end
        end
      end
      w.range(b.base, vals, offs)
    end
  end
  return w.image(variant)
end

-- Decoding ------------------------------------------------------------------------------------

-- A reader of words: read(addr) -> value (0 where nothing was written).
local function reader_of(img)
  local mem = {}
  for a, v in img:writes() do mem[a] = v end
  return function(a) return mem[a] or 0 end
end
M.reader_of = reader_of

--- decode(variant, read) -> config, imu_if_fields (IMU: the IMU IF registers, or nil when
-- none were written) | raises naming the word at fault. read(addr) -> word.
function M.decode(variant, read, fname)
  fname = fname or "image_to_config"
  local m = M.map(variant)
  local R = m.regs
  local ctrl1 = read(R.CTRL1)
  local function bit(pos) return (ctrl1 >> pos) & 1 == 1 end
  local ns = bit(CTRL1.ISYN2_EN) and 2 or 1
  if ns == 2 and not m.syn2 then argerror(fname, 1, "CTRL1: ISYN2_EN is set, Xylo IMU has one synapse", 3) end
  local ctrl2 = read(R.CTRL2)
  local nin, nh, nout, nien, noen
  nin, nh = ctrl2 & 0xFF, (ctrl2 >> 16) & 0xFFFF
  if m.counts == "a2" then
    nout = (ctrl2 >> 8) & 0xFF
    nien, noen = nh, nh
  else
    nien = (ctrl2 >> 8) & 0xFF
    local ctrl3 = read(R.CTRL3)
    nout, noen = ctrl3 & 0xFF, (ctrl3 >> 8) & 0xFF
  end
  if nh < 1 or nh > m.hid_max then argerror(fname, 1, ("CTRL2: %d hidden neurons (1..%d)"):format(nh, m.hid_max), 3) end
  if nin < 1 or nin > m.in_max then argerror(fname, 1, ("CTRL2: %d input channels (1..%d)"):format(nin, m.in_max), 3) end
  if nout < 1 or nout > m.out_max then argerror(fname, 1, ("output count %d (1..%d)"):format(nout, m.out_max), 3) end
  if nien > math.min(nh, m.ien_max) then argerror(fname, 1, ("CTRL2: %d input-expansion neurons for %d hidden"):format(nien, nh), 3) end
  if noen > math.min(nh, m.oen_max) then argerror(fname, 1, ("CTRL3: %d output-expansion neurons for %d hidden"):format(noen, nh), 3) end
  local function bank(role) return m.bank[role].base end
  local function words(base, offs, conv)
    local out = {}
    for i = 1, #offs do out[i] = conv(read(base + offs[i])) end
    return out
  end
  local function seq(n, from) local t = {} for i = 1, n do t[i] = (from or 0) + i - 1 end return t end
  local function s8(x) return s(x, 8) end
  local function s16(x) return s(x, 16) end
  local function d4(x) return x & 0xF end
  local spec = {}
  -- input weights (nin, nien, ns)
  do
    local flat = {}
    for syn = 1, ns do
      local base = bank(syn == 1 and "w_in" or "w_in2")
      for ch = 0, nin - 1 do
        for j = 0, nien - 1 do
          flat[(ch * nien + j) * ns + syn] = s8(read(base + ch * m.ien_max + j))
        end
      end
    end
    spec.weights_in = lp.tensor(flat, "int32"):reshape(nin, nien, ns)
  end
  -- readout weights (noen, nout)
  do
    local flat = {}
    for r = 0, noen - 1 do
      local row = variant == "audio2" and (nh - noen + r) or r
      for k = 0, nout - 1 do flat[#flat + 1] = s8(read(bank("w_out") + row * m.out_max + k)) end
    end
    spec.weights_out = lp.tensor(flat, "int32"):reshape(noen, nout)
  end
  -- recurrent fan-out lists
  do
    local flat = {}
    for i = 1, nh * nh * ns do flat[i] = 0 end
    local e = 0
    local cap = m.fanout_words
    for i = 0, nh - 1 do
      local n = read(bank("fanout_count") + i)
      if e + n > cap then argerror(fname, 1, ("fan-out counts add up to more than the %d words of the fan-out RAM"):format(cap), 3) end
      for _ = 1, n do
        local j = read(bank("fanout_target") + e)
        if j >= nh then
          argerror(fname, 1, ("fan-out entry %d: target %d is not a hidden neuron (0..%d)"):format(e, j, nh - 1), 3)
        end
        flat[(i * nh + j) * ns + 1] = s8(read(bank("w_rec") + e))
        if ns == 2 then flat[(i * nh + j) * ns + 2] = s8(read(bank("w_rec2") + e)) end
        e = e + 1
      end
    end
    spec.weights_rec = lp.tensor(flat, "int32"):reshape(nh, nh, ns)
  end
  local hid, out = seq(nh), seq(nout, m.hid_max)
  spec.dash_syn = lp.tensor(words(bank("dash_syn"), hid, d4), "int32")
  spec.dash_syn_out = lp.tensor(words(bank("dash_syn"), out, d4), "int32")
  spec.dash_mem = lp.tensor(words(bank("dash_mem"), hid, d4), "int32")
  spec.dash_mem_out = lp.tensor(words(bank("dash_mem"), out, d4), "int32")
  if ns == 2 then spec.dash_syn_2 = lp.tensor(words(bank("dash_syn_2"), hid, d4), "int32") end
  spec.threshold = lp.tensor(words(bank("threshold"), hid, s16), "int32")
  spec.threshold_out = lp.tensor(words(bank("threshold"), out, s16), "int32")
  if bit(CTRL1.BIAS_EN) then
    spec.bias = lp.tensor(words(bank("bias"), hid, s16), "int32")
    spec.bias_out = lp.tensor(words(bank("bias"), out, s16), "int32")
  end
  spec.weight_shift_in = (ctrl1 >> CTRL1.IWBS) & 7
  spec.weight_shift_rec = (ctrl1 >> CTRL1.RWBS) & 7
  spec.weight_shift_out = (ctrl1 >> CTRL1.OWBS) & 7
  if bit(CTRL1.ALIAS_EN) then
    local al = {}
    for j = 0, nh - 1 do
      if read(bank("ncfg") + j) & 1 == 1 then
        local tgt = read(bank("alias") + j)
        if tgt >= nh then argerror(fname, 1, ("alias of hidden neuron %d: %d is not a hidden neuron"):format(j, tgt), 3) end
        al[j + 1] = { tgt + 1 }
      else
        al[j + 1] = {}
      end
    end
    spec.aliases = al
  end
  local twrap = read(R.TR_WRAP)
  if twrap > 0 and m.clock_hz then spec.dt = twrap / m.clock_hz end
  local c, ok, msg = configm.from_specification(variant, spec, fname)
  if not ok then argerror(fname, 1, "the memory holds an invalid configuration: " .. msg, 3) end
  if bit(CTRL1.MAN) then c.operation_mode = "Manual" end
  c.enable_hibernation_mode = bit(CTRL1.HM_EN)
  c.debug.always_update_omp_stat = bit(CTRL1.ALWAYS_UPDATE_OMP_STAT)
  if twrap > 0 then c.time_resolution_wrap = twrap end
  local imu_if
  if variant == "imu" then
    local ctrl = read(R.IF_CTRL)
    c.imu_if_input_enable = ctrl & 1 == 1
    if read(R.IF_BB) ~= 0 or read(R.IF_A1) ~= 0 or read(R.IF_IAF_THR) ~= 0 then
      local function fields(base, bits, per, n, signed)
        local out = {}
        for i = 1, n do
          local word = read(base + (i - 1) // per)
          local x = (word >> (((i - 1) % per) * bits)) & ((1 << bits) - 1)
          out[i] = signed and s(x, bits) or x
        end
        return out
      end
      imu_if = {
        enable = ctrl & 1 == 1, bypass_jsvd = ctrl & 2 == 2, select_iaf_output = ctrl & 4 == 4,
        estimator_k_setting = (ctrl >> 8) & 31, update_matrix_threshold = (ctrl >> 16) & 0x7FF,
        delay_threshold = (ctrl >> 27) & 31,
        bpf_bb_values = fields(R.IF_BB, 4, 8, 15), bpf_bwf_values = fields(R.IF_BWF, 4, 8, 15),
        bpf_baf_values = fields(R.IF_BAF, 4, 8, 15),
        bpf_a1_values = fields(R.IF_A1, 17, 1, 15, true), bpf_a2_values = fields(R.IF_A2, 17, 1, 15, true),
        scale_values = fields(R.IF_SCALE, 5, 6, 15), iaf_threshold_values = fields(R.IF_IAF_THR, 31, 1, 15),
      }
    end
  end
  return c, imu_if
end

--- image_to_config(image[, variant]) -> config, imu_if_fields (IMU)
-- image: an Image or a list of {address, value} writes (later writes win).
function M.image_to_config(img, variant)
  local fname = "image_to_config"
  if type(img) ~= "table" then argerror(fname, 1, "an Image or a list of {address, value} expected, got " .. type(img), 2) end
  if getmetatable(img) ~= Image then
    if not variant then argerror(fname, 1, "a list of writes needs the variant", 2) end
    if type(variant) ~= "string" then argerror(fname, 2, "a Xylo variant name expected, got " .. type(variant), 2) end
    img = from_writes(fname, variant, img, 2)
  end
  variant = variant or img.variant
  if img.variant ~= variant then
    argerror(fname, 1, ("image of %s, not %s"):format(limits.for_variant(img.variant).title, limits.for_variant(variant).title), 2)
  end
  return M.decode(variant, reader_of(img), fname)
end

return M
