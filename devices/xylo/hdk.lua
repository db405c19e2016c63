-- devices/xylo/hdk.lua -- VirtualHDK: a virtual Xylo board that takes the register and
-- RAM writes a transport would send (limpet.xylo.image), rebuilds the configuration from
-- its memory and runs it on XyloSim (and, on Xylo IMU, raw IMU samples through the IMU
-- interface first). It stands in for a real kit, whose transport is not public
-- (limpet.usb, reference/usb.md §3, §6).
-- Owns: the board's word memory, when to rebuild (after any write to a configuration
-- word), and routing the input. Not here: the memory maps and word layouts (image.lua),
-- the simulators (xylosim.lua, imuif.lua).
--
--   local hdk = xylo.imu.VirtualHDK{dt = 1e-3, output_mode = "Spike"}
--   hdk:write_image(xylo.imu.config_to_image(config, {imu_if = imuif}))  -- or hdk:write(a, v)
--   local out, state, rec = hdk(input, true)      -- as XyloSim.from_config(config)(input, true)
--   hdk:read(addr), hdk:config(), hdk:reset_state()
--
-- Input: spike counts (T, Nin) / (B, T, Nin), exactly as XyloSim takes them; on Xylo IMU
-- with the IMU IF enabled (config.imu_if_input_enable, or an image written with
-- {imu_if = ...}) raw 16-bit IMU samples (T, 3) / (B, T, 3) instead: the IMU IF's 15
-- channels feed SNN inputs 1..15 (record.imu_if holds them). Audio 2 and Audio 3 take
-- spike counts for now: their front ends (limpet.xylo.audio2/audio3 AFE models, built
-- alongside) are connected here when they land, the same way as the IMU IF.
-- State: the SNN state carries over between calls, as on a chip, until a configuration
-- word is written (the network is then rebuilt from zero state) or reset_state().
local lp = require "limpet"
local class = require "limpet.class"
local limits = require "limpet.xylo.limits"
local image = require "limpet.xylo.image"

local M = {}

local function argerror(fname, argno, msg, level)
  error(("bad argument #%d to '%s' (%s)"):format(argno, fname, msg), (level or 1) + 1)
end

local VirtualHDK = class.Object:extend("VirtualHDK")
M.VirtualHDK_class = VirtualHDK

local MODES = { Spike = true, Vmem = true, Isyn = true }

function VirtualHDK:init(variant, opts)
  local fname = "VirtualHDK"
  if not limits.is_variant(variant) then
    argerror(fname, 1, ("unknown Xylo variant '%s'; expected audio2, audio3 or imu"):format(tostring(variant)), 4)
  end
  if opts ~= nil and type(opts) ~= "table" then argerror(fname, 1, "option table expected, got " .. type(opts), 4) end
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= "dt" and k ~= "output_mode" and k ~= "sampling_freq" then
      argerror(fname, 1, ("unknown field '%s'"):format(tostring(k)), 4)
    end
  end
  local dt = opts.dt == nil and 1e-3 or opts.dt
  if type(dt) ~= "number" or not (dt > 0) or dt == math.huge then
    argerror(fname, 1, ("field 'dt' must be a positive number, got %s"):format(tostring(dt)), 4)
  end
  local mode = opts.output_mode or "Spike"
  if not MODES[mode] then argerror(fname, 1, ("field 'output_mode' must be one of Spike, Vmem, Isyn, got '%s'"):format(tostring(mode)), 4) end
  local fs = opts.sampling_freq == nil and 200.0 or opts.sampling_freq
  if type(fs) ~= "number" or not (fs > 0) then argerror(fname, 1, "field 'sampling_freq' must be a positive number", 4) end
  local map = image.map(variant)
  rawset(self, "variant", variant)
  rawset(self, "map", map)
  rawset(self, "dt", dt)
  rawset(self, "output_mode", mode)
  rawset(self, "sampling_freq", fs)
  rawset(self, "_mem", {})
  rawset(self, "_dirty", true)
  rawset(self, "_writes", 0)
  -- which addresses hold state, not configuration
  local state = {}
  for _, b in ipairs(map.banks) do if b.role == "state" then state[#state + 1] = { b.base, b.base + b.words - 1 } end end
  local input_regs = {}
  for _, k in ipairs { "ISPKREG0L", "ISPKREG0H", "ISPKREG1L", "ISPKREG1H", "STAT" } do
    if map.regs[k] then input_regs[map.regs[k]] = true end
  end
  rawset(self, "_state_ranges", state)
  rawset(self, "_input_regs", input_regs)
end

local function is_config_word(self, addr)
  if self._input_regs[addr] then return false end
  for _, r in ipairs(self._state_ranges) do if addr >= r[1] and addr <= r[2] then return false end end
  return true
end

--- hdk:write(address, value): one register or RAM word (0..2^32-1).
function VirtualHDK:write(addr, value)
  if math.type(addr) ~= "integer" or addr < 0 or addr > self.map.ram_end then
    argerror("write", 1, ("address must be an integer in 0..0x%X, got %s"):format(self.map.ram_end, tostring(addr)), 2)
  end
  if math.type(value) ~= "integer" or value < 0 or value > 0xFFFFFFFF then
    argerror("write", 2, ("value must be a 32-bit word (0..0xFFFFFFFF), got %s"):format(tostring(value)), 2)
  end
  self._mem[addr] = value
  rawset(self, "_writes", self._writes + 1)
  if is_config_word(self, addr) then rawset(self, "_dirty", true) end
end

--- hdk:write_image(image): every write of an Image (or a list of {address, value}), in order.
function VirtualHDK:write_image(img)
  if type(img) ~= "table" then argerror("write_image", 1, "an Image or a list of {address, value} expected", 2) end
  if getmetatable(img) == image.Image then
    if img.variant ~= self.variant then
      argerror("write_image", 1, ("image of %s written to a virtual %s"):format(limits.for_variant(img.variant).title,
        limits.for_variant(self.variant).title), 2)
    end
    img = img:totable()
  end
  for i, w in ipairs(img) do
    if type(w) ~= "table" then argerror("write_image", 1, ("write %d is not an {address, value} pair"):format(i), 2) end
    local ok, msg = pcall(self.write, self, w[1], w[2])
    if not ok then argerror("write_image", 1, ("write %d: %s"):format(i, (tostring(msg):gsub("^.-%((.*)%)$", "%1"))), 2) end
  end
  return self
end

--- hdk:read(address) -> the word (0 where nothing was written)
function VirtualHDK:read(addr)
  if math.type(addr) ~= "integer" then argerror("read", 1, "integer address expected", 2) end
  return self._mem[addr] or 0
end

-- Rebuild the configuration and the simulators after configuration writes.
local function rebuild(self)
  if not self._dirty then return end
  local mem = self._mem
  local cfg, imu_if = image.decode(self.variant, function(a) return mem[a] or 0 end, "evolve")
  local xylo = require "limpet.xylo"
  local sim = xylo[self.variant].XyloSim.from_config(cfg, { dt = cfg.dt or self.dt, output_mode = self.output_mode })
  local front
  if self.variant == "imu" and cfg.imu_if_input_enable then
    if not imu_if then argerror("evolve", 1, "the IMU IF is enabled but its registers were never written", 3) end
    if cfg.n_in < 15 then
      argerror("evolve", 1, ("the IMU IF drives 15 SNN inputs, the network has %d"):format(cfg.n_in), 3)
    end
    front = require("limpet.xylo.imuif").IMUIFSim.from_config(imu_if, { sampling_freq = self.sampling_freq })
  end
  rawset(self, "_config", cfg)
  rawset(self, "_imu_if", imu_if)
  rawset(self, "_sim", sim)
  rawset(self, "_front", front)
  rawset(self, "_dirty", false)
end

--- hdk:config() -> the configuration its memory holds (and the IMU IF fields on IMU)
function VirtualHDK:config()
  rebuild(self)
  return self._config, self._imu_if
end

--- hdk:evolve(input[, record]) -> output (B, T, Nout), state, record (XyloSim's); also hdk(input, record)
function VirtualHDK:evolve(x, record)
  rebuild(self)
  if self._front then
    local spikes = self._front(x)
    local B, T = spikes.shape[1], spikes.shape[2]
    local nin = self._config.n_in
    if nin > 15 then spikes = lp.cat({ spikes, lp.zeros({ B, T, nin - 15 }, "int64") }, 3) end
    x = spikes
  end
  local out, state, rec = self._sim(x, record)
  if record and self._front then rec.imu_if = x:slice(3, 1, 15) end
  return out, state, rec
end

function VirtualHDK.__call(self, x, record) return self:evolve(x, record) end

--- hdk:state() -> the SNN state (XyloSim's state table)
function VirtualHDK:state() rebuild(self); return self._sim:state() end

--- hdk:reset_state(): zero the SNN state (and the IMU IF's covariance filter).
function VirtualHDK:reset_state()
  if self._sim then self._sim:reset_state() end
  if self._front then self._front:reset_state() end
  return self
end

function VirtualHDK:__tostring()
  return ("VirtualHDK(%s, %d words written%s)"):format(limits.for_variant(self.variant).title, self._writes,
    self._sim and (", " .. tostring(self._sim)) or "")
end

--- M.VirtualHDK(variant[, {dt = 1e-3, output_mode = "Spike", sampling_freq = 200}])
function M.VirtualHDK(variant, opts) return VirtualHDK(variant, opts) end

return M
