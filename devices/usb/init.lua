-- devices/usb/init.lua -- `require "limpet.usb"`: finding SynSense kits on USB (Xylo HDKs,
-- Dynap-SE2 boards, and what samna's udev rule covers), shared by every chip.
-- Owns: the vendor and product ids of reference/usb.md and what they mean, telling kits
-- apart by their string descriptors where they can be read, the note shown per device,
-- the udev rule for devices that cannot be opened, and the answer to "run on this kit".
-- The bus is read through libusb-1.0 (devices/usb/usb.c via core._usb); specs replace it
-- with a list of fake devices (usb.inject), so nothing here needs hardware or root.
--
--   local usb = require "limpet.usb"      -- also lp.devices(), lp.xylo.find_hdks()
--   for _, d in ipairs(usb.devices()) do print(d.id, d.bus, d.port, d.family, d.note) end
--   usb.find{family = "xylo"}             -- Xylo kits (and kits not yet identified)
--   usb.find{family = "dynapse2"}         -- for lp.dynapse2.find_boards()
--   usb.open(dev)                         -- nil, why limpet cannot run it (and what to use)
--
-- A device table: vid, pid (numbers), id ("04b4:00f3"), bus, address, port (the port
-- path from the root hub, "2.1"; sysfs names the device "<bus>-<port>"), path
-- ("1-2.1"), product, manufacturer, serial (strings, when they could be read), family
-- ("xylo", "dynapse2", "speck", "camera", "fx3-bootloader" or "synsense" for a kit not
-- identified), variant (Xylo: "audio2", "audio3", "imu" when the product string says),
-- identified (false when only the vendor id points at SynSense), access ("ok",
-- "denied", "busy", "gone", "error"), note (one line for people), udev_rule and
-- udev_install (when access is "denied").
--
-- What the ids say (usb.md §2): no product id of any SynSense kit is public. SynSense
-- kits use a Cypress EZ-USB FX3 (vendor 04b4; 04b4:00f3 is the FX3's ROM bootloader, a
-- kit without firmware; 04b4:5bc2 is samna's flasher example), samna's udev rule also
-- covers 337d (presumably SynSense's own vendor id) and 152a (iniVation cameras); the
-- Dynap-SE2 Stack board very probably shows up as Opal Kelly 151f:0130 (its FPGA module;
-- inference). So a kit is identified by its product string, which can only be read when
-- the device can be opened: without the udev rule a 04b4 / 337d device of unknown product
-- id is listed as an unidentified SynSense kit, with the rule to install. Cypress devices
-- whose strings name something else (USB-serial bridges, ...) are left out.
local core = require "limpet.core"

local usb = {}

local RULES_FILE = "/etc/udev/rules.d/60-synsense.rules"

-- Vendors samna's udev rule names, and Opal Kelly for the Dynap-SE2 Stack.
usb.VENDORS = {
  [0x04b4] = "Cypress Semiconductor (EZ-USB FX3, the USB controller of SynSense kits)",
  [0x337d] = "SynSense (vendor id of samna's udev rule; not in usb.ids)",
  [0x152a] = "Thesycon (iniVation event cameras)",
  [0x151f] = "Opal Kelly (FPGA modules; the Dynap-SE2 Stack board)",
}
local VIDS = { 0x04b4, 0x337d, 0x152a, 0x151f }

-- Ids with a meaning of their own (usb.md §2).
usb.KNOWN = {
  ["04b4:00f3"] = { family = "fx3-bootloader", product = "Cypress EZ-USB FX3 bootloader",
    note = "an EZ-USB FX3 in bootloader mode: a SynSense kit without firmware (or another FX3 board); "
      .. "samna's flasher programs it" },
  ["04b4:5bc2"] = { family = "synsense", product = "SynSense kit (04b4:5bc2)",
    note = "04b4:5bc2 is the programmed-kit example of samna's flasher documentation; which kit it is is not public" },
  ["151f:0130"] = { family = "dynapse2", product = "Opal Kelly XEM7310-A75 (DYNAP-SE2 Stack)",
    note = "the Opal Kelly XEM7310-A75 FPGA module the Dynap-SE2 Stack bitstream targets "
      .. "(inferred from Rockpool's Dynapse2Stack.bit; SynSense publishes no ids)" },
  ["152a:8400"] = { family = "camera", product = "iniVation DVS128" },
  ["152a:840d"] = { family = "camera", product = "iniVation DAViS" },
  ["152a:841a"] = { family = "camera", product = "iniVation DAViS FX3" },
}

local TITLES = { audio2 = "Xylo Audio 2", audio3 = "Xylo Audio 3", imu = "Xylo IMU" }

-- family (and Xylo variant) from the product / manufacturer strings, samna's device
-- type names included (XyloA2TestBoard, XyloImuTestBoard, XyloAudio3TestBoard, ...).
local function from_strings(product, manufacturer)
  local p = (product or ""):lower()
  local m = (manufacturer or ""):lower()
  if p:find("xylo", 1, true) or p:find("pollen", 1, true) then
    local v
    if p:find("imu", 1, true) then v = "imu"
    elseif p:find("audio3", 1, true) or p:find("audio 3", 1, true) or p:find("a3", 1, true) then v = "audio3"
    elseif p:find("audio2", 1, true) or p:find("audio 2", 1, true) or p:find("a2", 1, true) then v = "audio2" end
    return "xylo", v
  end
  if p:find("dynap%-?se2") or p:find("dynapse2", 1, true) or p:find("dynap-se2", 1, true) then return "dynapse2" end
  if p:find("speck", 1, true) or p:find("dynapcnn", 1, true) then return "speck" end
  if p:find("davis", 1, true) or p:find("dvxplorer", 1, true) or p:find("dvs", 1, true) then return "camera" end
  if m:find("synsense", 1, true) or p:find("synsense", 1, true) then return "synsense" end
  return nil
end

local ACCESS = { ok = "ok", access = "denied", busy = "busy", gone = "gone", error = "error" }

--- usb.udev_rule(vid) -> rule line, shell command installing it (no root needed to list
-- devices; the rule lets a normal user open them).
function usb.udev_rule(vid)
  local rule = ('SUBSYSTEM=="usb", ATTR{idVendor}=="%04x", MODE="0666"'):format(vid)
  local cmd = ("echo '%s' | sudo tee -a %s && sudo udevadm control --reload-rules && sudo udevadm trigger")
    :format(rule, RULES_FILE)
  return rule, cmd
end

local function transport_line(family, variant)
  if family == "xylo" then
    local v = variant and ("lp.xylo.%s.VirtualHDK()"):format(variant) or "lp.xylo.<variant>.VirtualHDK()"
    return "limpet cannot run networks on it (the kit's USB transport is not public); use " .. v
  end
  if family == "dynapse2" then
    return "limpet cannot drive it (the board's transport is not public); simulate with lp.dynapse2"
  end
  return nil
end

-- A raw libusb record -> a device table, or nil when it is not a SynSense-related device.
local function classify(r)
  local id = ("%04x:%04x"):format(r.vid, r.pid)
  local known = usb.KNOWN[id]
  local access = ACCESS[r.open] or "error"
  local fam, variant = from_strings(r.product, r.manufacturer)
  local identified = true
  if known then
    fam = fam or known.family
  elseif not fam then
    if access == "ok" and r.vid ~= 0x337d then return nil end   -- readable, and not a kit
    if r.vid == 0x152a or r.vid == 0x151f then return nil end     -- other cameras / FPGA boards
    fam, identified = "synsense", false
  end
  if fam == "synsense" then identified = false end
  local ports = {}
  for i, p in ipairs(r.ports or {}) do ports[i] = tostring(p) end
  local port = table.concat(ports, ".")
  local d = {
    vid = r.vid, pid = r.pid, id = id, bus = r.bus, address = r.address,
    port = port, path = port ~= "" and ("%d-%s"):format(r.bus, port) or tostring(r.bus),
    product = r.product or (known and known.product)
      or (access ~= "ok" and "unknown (strings unreadable)" or "unknown"),
    manufacturer = r.manufacturer, serial = r.serial,
    family = fam, variant = variant, identified = identified, access = access,
  }
  -- the note: what it is, then what to do
  local what
  if fam == "xylo" then
    what = (variant and TITLES[variant] or "Xylo") .. " kit"
  elseif fam == "dynapse2" then what = "Dynap-SE2 board"
  elseif fam == "speck" then what = "Speck / DYNAP-CNN kit"
  elseif fam == "camera" then what = "event camera (samna supports it; limpet does not)"
  elseif fam == "fx3-bootloader" then what = known.note
  elseif not identified then
    what = ("possibly a SynSense kit (vendor %04x: %s)"):format(r.vid, usb.VENDORS[r.vid] or "unknown")
    if known then what = known.note end
  end
  if known and known.note and fam ~= "fx3-bootloader" and identified then what = what .. "; " .. known.note end
  local parts = { what }
  if access == "denied" then
    d.udev_rule, d.udev_install = usb.udev_rule(r.vid)
    parts[#parts + 1] = ("no permission to open it (%s), so its strings cannot be read: install the udev rule %s in %s "
      .. "(see udev_install) and replug"):format(r.error or "LIBUSB_ERROR_ACCESS", d.udev_rule, RULES_FILE)
  elseif access ~= "ok" then
    parts[#parts + 1] = ("could not be opened (%s)"):format(r.error or access)
  elseif not identified then
    parts[#parts + 1] = "its strings do not say which kit it is"
  end
  local run = transport_line(fam, variant)
  if run then parts[#parts + 1] = run end
  d.note = table.concat(parts, "; ")
  return d
end

-- every SynSense-related device, in bus order
local function scan()
  local raw, note = core._usb.list(VIDS)
  local out = {}
  for _, r in ipairs(raw) do
    local d = classify(r)
    if d then out[#out + 1] = d end
  end
  table.sort(out, function(a, b)
    if a.bus ~= b.bus then return a.bus < b.bus end
    if a.port ~= b.port then return a.port < b.port end
    return a.address < b.address
  end)
  return out, note
end

--- usb.devices() -> list of device tables (empty when nothing is attached), note
-- (a string when libusb could not look at the bus here, else nil). Never raises for
-- the environment.
function usb.devices() return scan() end

local FILTER = { family = true, vid = true, pid = true, identified = true, access = true, variant = true }

--- usb.find(filter) -> list, note. filter fields: family ("xylo", "dynapse2", ...; kits not
-- yet identified match every kit family unless identified = true), vid, pid, variant,
-- access, identified.
function usb.find(filter)
  if filter ~= nil and type(filter) ~= "table" then
    error(("bad argument #1 to 'find' (filter table expected, got %s)"):format(type(filter)), 2)
  end
  filter = filter or {}
  for k in pairs(filter) do
    if not FILTER[k] then error(("bad argument #1 to 'find' (unknown field '%s')"):format(tostring(k)), 2) end
  end
  local list, note = scan()
  local out = {}
  for _, d in ipairs(list) do
    local ok = true
    if filter.family ~= nil and d.family ~= filter.family then
      local kit = filter.family == "xylo" or filter.family == "dynapse2" or filter.family == "speck"
      ok = kit and not d.identified and filter.identified ~= true
    end
    if filter.identified ~= nil and d.identified ~= filter.identified then ok = false end
    if filter.vid ~= nil and d.vid ~= filter.vid then ok = false end
    if filter.pid ~= nil and d.pid ~= filter.pid then ok = false end
    if filter.variant ~= nil and d.variant ~= filter.variant then ok = false end
    if filter.access ~= nil and d.access ~= filter.access then ok = false end
    if ok then out[#out + 1] = d end
  end
  return out, note
end

--- usb.open(device[, family]) -> nil, message: limpet has no transport for SynSense kits
-- (samna's protocol is not public, usb.md §6); the message names the virtual board.
local function open(dev, family, fname)
  if type(dev) ~= "table" or dev.vid == nil then
    error(("bad argument #1 to '%s' (a device table from find or devices expected, got %s)"):format(fname, type(dev)), 3)
  end
  family = family or dev.family
  local what = dev.family == "xylo" and ((dev.variant and TITLES[dev.variant] or "Xylo") .. " kit")
    or dev.family == "dynapse2" and "Dynap-SE2 board" or ("device " .. tostring(dev.id))
  local alt
  if family == "xylo" then
    alt = ("use the virtual board instead: hdk = lp.xylo.%s.VirtualHDK(); hdk:write_image(lp.xylo.%s.config_to_image(config)); "
      .. "hdk(input) gives what the chip computes (bit-exact XyloSim)"):format(dev.variant or "<variant>", dev.variant or "<variant>")
  elseif family == "dynapse2" then
    alt = "simulate it with lp.dynapse2 instead"
  else
    alt = "limpet simulates the chips instead (lp.xylo, lp.dynapse2)"
  end
  return nil, ("cannot open the %s at %s (%s): the kit's USB transport (samna's protocol, firmware and packet "
    .. "formats) is not public, so limpet cannot talk to it; %s"):format(what, dev.path or "?", dev.id or "?", alt)
end
function usb.open(dev, family) return open(dev, family, "open") end
--- usb._open_as(fname, device[, family]): usb.open for xylo.open_hdk, its errors naming fname
function usb._open_as(fname, dev, family) return open(dev, family, fname) end

--- usb.inject(list | nil): replace libusb with fake devices (specs). Entries: vid, pid, bus,
-- address, ports = {..}, open = "ok" | "access" | "busy" | "gone" | "error",
-- manufacturer, product, serial (read only when open is "ok", as with libusb). nil: back
-- to the real bus; {}: an empty bus.
function usb.inject(list)
  if list ~= nil and type(list) ~= "table" then
    error(("bad argument #1 to 'inject' (list of devices or nil expected, got %s)"):format(type(list)), 2)
  end
  core._usb.inject(list)
end

return usb
