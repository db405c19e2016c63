-- spec/usb_spec.lua -- hardware discovery (devices/usb/init.lua over devices/usb/usb.c):
-- with a fake libusb device list injected (no hardware needed), which devices are
-- SynSense kits and what each note says; no device gives an empty table; no permission
-- lists the device with the udev rule; opening a kit says its transport is not public
-- and offers the virtual board; the real bus lists without failing.
local lp = require "limpet"
local usb = require "limpet.usb"

local BUS = {
  { vid = 0x04b4, pid = 0x8a01, bus = 1, address = 7, ports = { 2, 1 }, product = "XyloAudio3TestBoard",
    manufacturer = "SynSense", serial = "XA3-0042" },
  { vid = 0x04b4, pid = 0x8a02, bus = 1, address = 8, ports = { 2, 2 }, product = "XyloImuTestBoard" },
  { vid = 0x337d, pid = 0x0101, bus = 1, address = 3, ports = { 4 }, product = "XyloA2TestBoard" },
  { vid = 0x04b4, pid = 0x00f3, bus = 2, address = 2, ports = { 1 }, product = "WestBridge" },
  { vid = 0x337d, pid = 0x0777, bus = 2, address = 9, ports = { 3 }, open = "access", product = "hidden by udev" },
  { vid = 0x04b4, pid = 0x6001, bus = 3, address = 4, ports = { 1 }, product = "USB-Serial Controller" },
  { vid = 0x04b4, pid = 0x1234, bus = 3, address = 5, ports = { 2 }, open = "access" },
  { vid = 0x151f, pid = 0x0130, bus = 4, address = 2, ports = { 1 }, open = "access" },
  { vid = 0x151f, pid = 0x0131, bus = 4, address = 3, ports = { 2 }, product = "XEM7310-A200" },
  { vid = 0x152a, pid = 0x841a, bus = 5, address = 2, ports = { 1 }, product = "DAVIS FX3" },
  { vid = 0x046d, pid = 0xc52b, bus = 5, address = 3, ports = { 2 }, product = "USB Receiver" },
}

local function ids(list)
  local out = {}
  for i, d in ipairs(list) do out[i] = d.id end
  return out
end

describe("limpet.usb with an injected bus", function()
  after_each(function() usb.inject(nil) end)

  it("returns an empty table when nothing is attached", function()
    usb.inject({})
    local list, note = usb.devices()
    assert.are.same({}, list)
    assert.is_nil(note)
    assert.are.same({}, (lp.xylo.find_hdks()))
    assert.are.same({}, (usb.find { family = "dynapse2" }))
  end)

  it("lists the SynSense kits and leaves other devices out", function()
    usb.inject(BUS)
    local list = lp.devices()
    assert.are.same({ "04b4:8a01", "04b4:8a02", "337d:0101", "04b4:00f3", "337d:0777", "04b4:1234", "151f:0130", "152a:841a" },
      ids(list))
    local a3 = list[1]
    assert.are.same({ 0x04b4, 0x8a01, 1, "2.1", "1-2.1", "XyloAudio3TestBoard", "xylo", "audio3", true, "ok", "XA3-0042" },
      { a3.vid, a3.pid, a3.bus, a3.port, a3.path, a3.product, a3.family, a3.variant, a3.identified, a3.access, a3.serial })
    assert.are.equal("Xylo Audio 3 kit; limpet cannot run networks on it (the kit's USB transport is not public); "
      .. "use lp.xylo.audio3.VirtualHDK()", a3.note)
    assert.are.equal("imu", list[2].variant)
    assert.are.equal("audio2", list[3].variant)
    assert.are.equal("fx3-bootloader", list[4].family)
    assert.matches("bootloader mode", list[4].note)
    assert.are.equal("camera", list[8].family)
  end)

  it("lists devices it may not open, with the udev rule to install", function()
    usb.inject(BUS)
    local list = usb.devices()
    local hidden = list[5]
    assert.are.same({ "synsense", false, "denied", "unknown (strings unreadable)" },
      { hidden.family, hidden.identified, hidden.access, hidden.product })
    assert.is_nil(hidden.manufacturer)                       -- strings need an opened device
    assert.are.equal('SUBSYSTEM=="usb", ATTR{idVendor}=="337d", MODE="0666"', hidden.udev_rule)
    assert.matches("/etc/udev/rules.d/60-synsense.rules", hidden.udev_install, 1, true)
    assert.matches("udevadm trigger", hidden.udev_install, 1, true)
    assert.are.equal("possibly a SynSense kit (vendor 337d: SynSense (vendor id of samna's udev rule; not in usb.ids)); "
      .. "no permission to open it (LIBUSB_ERROR_ACCESS), so its strings cannot be read: install the udev rule "
      .. 'SUBSYSTEM=="usb", ATTR{idVendor}=="337d", MODE="0666" in /etc/udev/rules.d/60-synsense.rules '
      .. "(see udev_install) and replug", hidden.note)
    local stack = list[7]
    assert.are.same({ "dynapse2", true, "denied" }, { stack.family, stack.identified, stack.access })
    assert.matches("Dynap%-SE2 board", stack.note)
    assert.matches('ATTR{idVendor}=="151f"', stack.udev_rule, 1, true)
  end)

  it("finds Xylo kits and Dynap-SE2 boards, unidentified kits included", function()
    usb.inject(BUS)
    assert.are.same({ "04b4:8a01", "04b4:8a02", "337d:0101", "337d:0777", "04b4:1234" }, ids(lp.xylo.find_hdks()))
    assert.are.same({ "04b4:8a01", "04b4:8a02", "337d:0101" }, ids(usb.find { family = "xylo", identified = true }))
    assert.are.same({ "04b4:8a02" }, ids(usb.find { family = "xylo", variant = "imu" }))
    assert.are.same({ "337d:0777", "04b4:1234", "151f:0130" }, ids(usb.find { family = "dynapse2" }))
    assert.are.same({ "151f:0130" }, ids(usb.find { family = "dynapse2", identified = true }))
    assert.are.same({ "337d:0101", "337d:0777" }, ids(usb.find { vid = 0x337d }))
    assert.are.same({ "337d:0777", "04b4:1234", "151f:0130" }, ids(usb.find { access = "denied" }))
    assert.has_error(function() usb.find { famly = "xylo" } end, "bad argument #1 to 'find' (unknown field 'famly')")
  end)

  it("refuses to open a kit for running and offers the virtual board", function()
    usb.inject(BUS)
    local dev = lp.xylo.find_hdks()[1]
    local ok, msg = lp.xylo.open_hdk(dev)
    assert.is_nil(ok)
    assert.are.equal("cannot open the Xylo Audio 3 kit at 1-2.1 (04b4:8a01): the kit's USB transport (samna's protocol, "
      .. "firmware and packet formats) is not public, so limpet cannot talk to it; use the virtual board instead: "
      .. "hdk = lp.xylo.audio3.VirtualHDK(); hdk:write_image(lp.xylo.audio3.config_to_image(config)); hdk(input) gives "
      .. "what the chip computes (bit-exact XyloSim)", msg)
    local _, msg2 = usb.open(usb.find { family = "dynapse2", identified = true }[1])
    assert.matches("simulate it with lp.dynapse2 instead", msg2, 1, true)
    assert.has_error(function() usb.open("04b4:8a01") end,
      "bad argument #1 to 'open' (a device table from find or devices expected, got string)")
  end)

  it("checks injected devices", function()
    assert.has_error(function() usb.inject { { vid = 0x10000 } } end, "usb inject: field 'vid' must be an integer in 0..65535")
    assert.has_error(function() usb.inject { { vid = 1, open = "nope" } } end)
    assert.has_error(function() usb.inject(5) end, "bad argument #1 to 'inject' (list of devices or nil expected, got number)")
  end)
end)

describe("limpet.usb on this machine's bus", function()
  it("lists without failing and without root (usually nothing here)", function()
    usb.inject(nil)
    local list, note = lp.devices()
    assert.are.equal("table", type(list))
    assert.is_true(note == nil or type(note) == "string")
    for _, d in ipairs(list) do assert.are.equal("string", type(d.note)) end
  end)
end)

describe("issue 16: xylo.open_hdk names itself", function()
  it("a missing device is an error of 'open_hdk'", function()
    local ok, e = pcall(lp.xylo.open_hdk)
    assert.is_false(ok)
    assert.matches("bad argument #1 to 'open_hdk' %(a device table from find or devices expected, got nil%)", e)
  end)
end)
