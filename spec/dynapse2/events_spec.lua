-- spec/dynapse2/events_spec.lua -- limpet.dynapse2.events: the destination code, input
-- rasters -> timed grid events, output events -> rasters, control events (reference/
-- dynapse2.md §1.2, §8), on their own.
local lp = require "limpet"
local E = require "limpet.dynapse2.events"

local function dest(core, x, y, tag) return { core = core, x_hop = x, y_hop = y, tag = tag } end

describe("dynapse2 events", function()
  describe("destination code", function()
    it("packs core mask, hops + 7 and tag from the most significant bits down", function()
      -- Rockpool's test destination: Destination([1,0,1,0], -1, 1, 1234)
      local d = dest({ 1, 0, 1, 0 }, -1, 1, 1234)
      assert.equal((5 << 20) | (6 << 16) | (8 << 12) | 1234, E.encode_destination(d))
      assert.same(d, E.decode_destination(E.encode_destination(d)))
      assert.equal(0, E.encode_destination(dest({ 0, 0, 0, 0 }, -7, -7, 0)))
      assert.equal(0xfee7ff, E.encode_destination(dest({ 1, 1, 1, 1 }, 7, 7, 2047)))
    end)

    it("round-trips every mask, hop and a sweep of tags", function()
      for mask = 0, 15 do
        for x = -7, 7 do
          for _, tag in ipairs { 0, 1, 255, 1024, 2047 } do
            local d = dest({ mask & 1, (mask >> 1) & 1, (mask >> 2) & 1, (mask >> 3) & 1 }, x, -x, tag)
            assert.same(d, E.decode_destination(E.encode_destination(d)))
          end
        end
      end
    end)

    it("are distinct keys for distinct destinations", function()
      local seen, n = {}, 0
      for mask = 0, 15 do
        for x = -7, 7 do
          local c = E.encode_destination(dest({ mask & 1, (mask >> 1) & 1, (mask >> 2) & 1, (mask >> 3) & 1 }, x, 3, 17))
          assert.is_nil(seen[c])
          seen[c], n = true, n + 1
        end
      end
      assert.equal(16 * 15, n)
    end)

    it("refuses what the chip cannot hold", function()
      assert.has_error(function() E.encode_destination(dest({ 1, 0, 0, 0 }, 8, 0, 1)) end,
        "bad argument #1 to 'encode_destination' (field 'x_hop' must be an integer in -7..7, got 8)")
      assert.has_error(function() E.encode_destination(dest({ 1, 0, 0, 0 }, 0, 0, 2048)) end,
        "bad argument #1 to 'encode_destination' (field 'tag' must be an integer in 0..2047, got 2048)")
      assert.has_error(function() E.encode_destination(dest({ 1, 0, 2, 0 }, 0, 0, 1)) end,
        "bad argument #1 to 'encode_destination' (field 'core': element 3 is 2, not 0 or 1)")
      assert.has_error(function() E.decode_destination(1 << 24) end,
        "bad argument #1 to 'decode_destination' (a 24-bit destination code expected, got 16777216)")
      assert.has_error(function() E.decode_destination(15 << 16) end,
        "bad argument #1 to 'decode_destination' (code 0x0f0000 has a hop of 8 (hops are -7..7))")
    end)
  end)

  describe("input", function()
    local cmap = {
      [1] = { dest({ 1, 0, 0, 0 }, 0, 0, 0) },
      [2] = { dest({ 1, 1, 0, 0 }, 0, 0, 1) },
      [3] = { dest({ 0, 1, 0, 0 }, 0, 0, 2), dest({ 1, 0, 0, 0 }, 1, 0, 2) },
    }

    it("emits one event per active channel and destination, 1 µs apart within a step", function()
      local raster = lp.tensor({ { 1, 0, 3 }, { 0, 0, 0 }, { 0, 2, 1 } })
      local ev = E.encode_input(raster, cmap, { dt = 1e-3, start = 0.5 })
      local got = {}
      for i, e in ipairs(ev) do got[i] = { e.timestamp, e.destination.tag, e.destination.x_hop } end
      assert.same({
        { 500000, 0, 0 }, { 500001, 2, 0 }, { 500001, 2, 1 },    -- step 1: channels 1 and 3 (count 3 -> one event)
        { 502000, 1, 0 }, { 502001, 2, 0 }, { 502001, 2, 1 },    -- step 3: channels 2, 3
        { 502000, 2047, -7 }, { 502000, 2047, -7 }, { 502000, 2047, -7 },   -- control events at the last step
      }, got)
      assert.same({ 1, 1, 1, 1 }, ev[#ev].destination.core)
      assert.equal(-7, ev[#ev].destination.y_hop)
    end)

    it("skips channels without destinations and can leave out the control events", function()
      local ev = E.encode_input({ { 1, 1, 1, 1 } }, { [4] = { dest({ 0, 0, 0, 1 }, 0, 0, 9) } }, { control = false })
      assert.equal(1, #ev)
      assert.equal(9, ev[1].destination.tag)
      assert.equal(0, ev[1].timestamp)
      assert.equal(3, #E.encode_input(lp.zeros({ 5, 2 }), {}))
    end)

    it("copies destinations: changing an event leaves the map alone", function()
      local ev = E.encode_input({ { 1 } }, { [1] = { dest({ 1, 0, 0, 0 }, 0, 0, 5) } }, { control = false })
      ev[1].destination.core[2] = 1
      assert.equal(0, cmap[1][1].core[2])
    end)

    it("rejects bad rasters, maps and options", function()
      assert.has_error(function() E.encode_input(lp.zeros({ 3 }), cmap) end,
        "bad argument #1 to 'encode_input' (a (T, Nin) raster expected, got 1 dimensions)")
      assert.has_error(function() E.encode_input(lp.zeros({ 1, 1 }), { [0] = {} }) end,
        "bad argument #2 to 'encode_input' (channels are integers from 1, got 0)")
      assert.has_error(function() E.encode_input(lp.zeros({ 1, 1 }), { [1] = { dest({ 1, 0, 0, 0 }, 0, 0, -1) } }) end,
        "bad argument #2 to 'encode_input' (channel 1, destination 1: field 'tag' must be an integer in 0..2047, got -1)")
      assert.has_error(function() E.encode_input(lp.zeros({ 1, 1 }), {}, { dt = 0 }) end,
        "bad argument #3 to 'encode_input' (field 'dt' must be a positive number, got 0)")
      assert.has_error(function() E.encode_input(lp.zeros({ 1, 1 }), {}, { speed = 1 }) end,
        "bad argument #3 to 'encode_input' (unknown field 'speed')")
    end)
  end)

  describe("output", function()
    local function ev(tag, ts, x, y) return { destination = dest({ 1, 1, 1, 1 }, x or -7, y or -7, tag), timestamp = ts } end

    it("counts events per step and tag, dropping the returned control events", function()
      local events = {
        ev(3, 100000), ev(0, 100500), ev(3, 100999), ev(3, 101000), ev(0, 103999),
        ev(2047, 102000, -6, -7),                 -- a returned control event
        ev(0, 99999), ev(0, 104000),              -- before start, after the last step
      }
      local raster, tags = E.decode_output(events, 4, { start = 0.1 })
      assert.same({ 0, 3 }, tags)
      assert.same({ { 1, 2 }, { 0, 1 }, { 0, 0 }, { 1, 0 } }, raster:totable())
      assert.equal("int32", raster.dtype)
    end)

    it("uses the tags given as channels, in that order", function()
      local raster, tags = E.decode_output({ ev(5, 10), ev(1, 1010) }, 2, { tags = { 1, 2, 5 } })
      assert.same({ 1, 2, 5 }, tags)
      assert.same({ { 0, 0, 1 }, { 1, 0, 0 } }, raster:totable())
    end)

    it("round-trips an input raster through a board that echoes it", function()
      lp.seed(3)
      local T, N = 50, 6
      local raster = lp.bernoulli(0.2, T, N):astype("int32")
      local cm = {}
      for ch = 1, N do cm[ch] = { dest({ 1, 0, 0, 0 }, 0, 0, 100 + ch) } end
      local out, tags = E.decode_output(E.encode_input(raster, cm, { start = 0.25 }), T,
        { start = 0.25, tags = { 101, 102, 103, 104, 105, 106 } })
      assert.equal(6, #tags)
      assert.same(raster:totable(), out:totable())
    end)

    it("keeps a control event whose hops are not the returned ones", function()
      local raster = E.decode_output({ ev(2047, 0, -7, -7) }, 1)
      assert.same({ { 1 } }, raster:totable())
    end)
  end)

  describe("boards", function()
    local usb = require "limpet.usb"
    after_each(function() usb.inject(nil) end)

    it("finds none on an empty bus, without raising", function()
      usb.inject({})
      local list, note = E.find_boards()
      assert.same({}, list)
      assert.is_nil(note)
      assert.equal(E.find_boards, lp.dynapse2.find_boards)
    end)

    it("lists Dynap-SE2 boards (and unidentified kits) through the shared discovery", function()
      usb.inject({
        { vid = 0x151f, pid = 0x0130, bus = 1, address = 2, ports = { 1 }, product = "DYNAP-SE2 Stack" },
        { vid = 0x04b4, pid = 0x8a01, bus = 1, address = 3, ports = { 2 }, product = "XyloAudio3TestBoard" },
        { vid = 0x337d, pid = 0x0777, bus = 2, address = 9, ports = { 3 }, open = "access" },
      })
      local list = E.find_boards()
      assert.equal(2, #list)
      assert.equal("dynapse2", list[1].family)
      assert.equal("151f:0130", list[1].id)
      assert.is_false(list[2].identified)
      -- running on one says that no open transport exists
      local ok, err = pcall(E.DynapseSamna, list[1], {})
      assert.is_false(ok)
      assert.truthy(tostring(err):find("no open transport exists for Dynap-SE2 boards", 1, true))
      assert.truthy(tostring(err):find("cannot open the Dynap-SE2 board at 1-1 (151f:0130)", 1, true), tostring(err))
    end)

    it("looks at the real bus without failing", function()
      local list = E.find_boards()
      assert.equal("table", type(list))
    end)
  end)

  it("says that no open transport to a board exists", function()
    local ok, err = pcall(E.DynapseSamna, {}, {})
    assert.is_false(ok)
    assert.truthy(tostring(err):find("no open transport exists for Dynap-SE2 boards", 1, true))
    assert.equal(E.DynapseSamna, lp.dynapse2.DynapseSamna)
  end)
end)
