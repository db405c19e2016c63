-- spec/tsevent_spec.lua -- lp.TSEvent (stdlib/limpet/timeseries/event.lua
-- over core/src/tseries.c): Rockpool's oracle rasters (spec/fixtures/ts/,
-- channels 0-based in the file), raster edges and rounding, from_raster
-- round trips, clip, remap_channels, merge, append_c, append_t, delay,
-- start_at, and the errors a user can hit.
local lp = require "limpet"
local json = require "dkjson"

local function cases()
  local f = assert(io.open("spec/fixtures/ts/raster_1.json"))
  local c = json.decode(f:read("a"))
  f:close()
  return c
end

local function tbl(t) return t:reshape(-1):totable() end

describe("TSEvent", function()
  it("reproduces every oracle raster, boolean and counts", function()
    for i, c in ipairs(cases()) do
      local ch = {}
      for j, v in ipairs(c.channels) do ch[j] = v + 1 end
      local ts = lp.TSEvent(c.times, ch, { t_start = c.t_start, t_stop = c.t_stop, num_channels = c.num_channels })
      local r = ts:raster(c.dt)
      assert.are.equal("bool", r.dtype)
      assert.are.same({ #c.raster, c.num_channels }, r.shape, "case " .. i)
      assert.tensor_near(lp.tensor(c.raster, "int64"), r:astype "int64")
      local rc = ts:raster(c.dt, { add_events = true })
      assert.are.equal("int32", rc.dtype)
      assert.tensor_near(lp.tensor(c.raster_counts, "int64"), rc:astype "int64")
    end
  end)

  it("sorts events by time, stably, and sets Rockpool's defaults", function()
    local ts = lp.TSEvent({ 0.3, 0.1, 0.2, 0.1 }, { 1, 2, 3, 4 }, { t_stop = 0.4 })
    assert.are.same({ 0.1, 0.1, 0.2, 0.3 }, ts.times:totable())
    assert.are.same({ 2, 4, 3, 1 }, ts.channels:totable())
    assert.are.equal(0.1, ts.t_start)
    assert.are.equal(0.4, ts.t_stop)
    assert.are.equal(4, ts.num_channels)
    assert.are.equal(4, #ts)
    local r = ts:raster(0.1)
    assert.are.same({ 3, 4 }, r.shape)
    assert.is_true(r[3][1])
    assert.are.equal("TSEvent from t=0.1 to 0.4: 4 events, 4 channels", tostring(ts))
  end)

  it("accepts tensors, a single channel number and no events", function()
    local ts = lp.TSEvent(lp.tensor({ 0.5, 1.5 }, "float64"), lp.tensor({ 2, 2 }, "int32"), { t_start = 0, t_stop = 2 })
    assert.are.same({ 2, 2 }, ts.channels:totable())
    local one = lp.TSEvent({ 0.1, 0.2 }, 3, { t_stop = 0.3 })
    assert.are.same({ 3, 3 }, one.channels:totable())
    local e = lp.TSEvent(nil, nil, { t_start = 0, t_stop = 1, num_channels = 2 })
    assert.are.same({ 10, 2 }, e:raster(0.1).shape)
    assert.are.equal(0, e:raster(0.1):astype("int64"):sum():item())
  end)

  it("bins [t, t+dt), excludes t_stop and tolerates float rounding", function()
    local ts = lp.TSEvent({ 0.0, 0.1, 0.2, 0.3 }, { 1, 1, 1, 1 }, { t_start = 0, t_stop = 0.35 })
    local r = ts:raster(0.1, { t_stop = 0.3 })        -- 0.3/0.1 = 2.9999999999999996
    assert.are.same({ 3, 1 }, r.shape)
    assert.are.same({ true, true, true }, tbl(r))     -- 0.3 at the raster's end left out
    -- clocked times a*dt land in bin a even when a*dt/dt rounds below a
    local times, ch = {}, {}
    for k = 0, 99 do times[#times + 1] = k * 0.001; ch[#ch + 1] = 1 end
    local c = lp.TSEvent(times, ch, { t_start = 0, t_stop = 0.1 }):raster(0.001, { add_events = true })
    assert.are.same({ 100, 1 }, c.shape)
    assert.are.equal(100, c:sum():item())
    assert.are.equal(1, c:max():item())
  end)

  it("honours t_start, t_stop, num_timesteps and channels in raster", function()
    local ts = lp.TSEvent({ 0.05, 0.15, 0.25, 0.25 }, { 1, 2, 3, 3 }, { t_start = 0, t_stop = 0.3 })
    local r = ts:raster(0.1, { t_start = 0.1, t_stop = 0.3, add_events = true })
    assert.are.same({ 2, 3 }, r.shape)
    assert.are.same({ 0, 1, 0, 0, 0, 2 }, tbl(r))
    local n = ts:raster(0.1, { num_timesteps = 5 })
    assert.are.same({ 5, 3 }, n.shape)
    local sel = ts:raster(0.1, { channels = { 3, 1 }, add_events = true })
    assert.are.same({ 3, 2 }, sel.shape)
    assert.are.same({ 0, 1, 0, 0, 2, 0 }, tbl(sel))
  end)

  it("round-trips through from_raster, with counts and bin placement", function()
    local raster = lp.tensor({ { 0, 1, 0 }, { 2, 0, 0 }, { 0, 0, 1 }, { 0, 0, 0 } }, "int32")
    local ts = lp.TSEvent.from_raster(raster, 0.01)
    assert.are.equal(0, ts.t_start)
    assert.is_true(math.abs(ts.t_stop - 0.04) < 1e-12)
    assert.are.equal(3, ts.num_channels)
    assert.are.same({ 2, 1, 1, 3 }, ts.channels:totable())
    assert.tensor_near({ 0.005, 0.015, 0.015, 0.025 }, ts.times, 1e-12)
    assert.tensor_near(raster:astype "int64", ts:raster(0.01, { add_events = true }):astype "int64")
    local s = lp.TSEvent.from_raster(raster:gt(0), 0.01, { t_start = 1, spikes_at_bin_start = true })
    assert.tensor_near({ 1.0, 1.01, 1.02 }, s.times, 1e-12)
    assert.tensor_near(raster:gt(0):astype "int64", s:raster(0.01):astype "int64")
  end)

  it("rasterises a million events fast enough to use", function()
    local n = 1000000
    local times = lp.rand(n):astype("float64") * 10
    local ch = lp.randint(1, 101, { n })
    local ts = lp.TSEvent(times, ch, { t_start = 0, t_stop = 10, num_channels = 100 })
    local r = ts:raster(1e-3, { add_events = true })
    assert.are.same({ 10000, 100 }, r.shape)
    assert.are.equal(n, r:astype("int64"):sum():item())
  end)

  it("clips in [t_start, t_stop), selects and remaps channels", function()
    local ts = lp.TSEvent({ 0.1, 0.2, 0.3, 0.4 }, { 1, 2, 3, 1 }, { t_start = 0, t_stop = 0.5 })
    local c = ts:clip(0.2, 0.4)
    assert.are.same({ 0.2, 0.3 }, c.times:totable())
    assert.are.equal(0.2, c.t_start); assert.are.equal(0.4, c.t_stop)
    assert.are.equal(3, c.num_channels)
    local k = ts:clip(0, 0.5, { channels = { 3, 1 }, remap_channels = true })
    assert.are.same({ 1, 2, 1 }, k.channels:totable())   -- Rockpool: remaining channels in ascending order
    assert.are.equal(2, k.num_channels)
    local r = ts:remap_channels({ 3, 1, 2 })
    assert.are.same({ 3, 1, 2, 3 }, r.channels:totable())
    assert.are.equal(3, r.num_channels)
  end)

  it("merges, appends channels and appends in time", function()
    local a = lp.TSEvent({ 0.1, 0.3 }, { 1, 2 }, { t_start = 0, t_stop = 0.5 })
    local b = lp.TSEvent({ 0.2 }, { 1 }, { t_start = 0, t_stop = 1, num_channels = 1 })
    local m = a:merge(b)
    assert.are.same({ 0.1, 0.2, 0.3 }, m.times:totable())
    assert.are.same({ 1, 1, 2 }, m.channels:totable())
    assert.are.equal(1, m.t_stop); assert.are.equal(2, m.num_channels)
    local c = a:append_c(b)
    assert.are.same({ 1, 3, 2 }, c.channels:totable())
    assert.are.equal(3, c.num_channels)
    local t = a:append_t(b)
    assert.tensor_near({ 0.1, 0.3, 0.7 }, t.times, 1e-12)
    assert.are.equal(1.5, t.t_stop)
    local o = a:append_t(b, { offset = 0.5 })
    assert.tensor_near({ 0.1, 0.3, 1.2 }, o.times, 1e-12)
  end)

  it("delays and starts at a given time", function()
    local a = lp.TSEvent({ 0.1, 0.3 }, { 1, 2 }, { t_start = 0.1, t_stop = 0.5 })
    local d = a:delay(1)
    assert.tensor_near({ 1.1, 1.3 }, d.times, 1e-12)
    assert.are.equal(1.1, d.t_start); assert.are.equal(1.5, d.t_stop)
    local s = a:start_at(0)
    assert.tensor_near({ 0, 0.2 }, s.times, 1e-12)
    assert.is_true(math.abs(s.t_stop - 0.4) < 1e-12)
  end)

  it("rejects bad arguments with exact messages", function()
    local function msg(f, ...) local ok, e = pcall(f, ...); assert.is_false(ok); return (e:gsub("^.-:%d+: ", "")) end
    assert.are.equal("bad argument #3 to 'TSEvent' (unknown field 'tstop')",
      msg(lp.TSEvent, { 0.1 }, { 1 }, { tstop = 1 }))
    assert.are.equal("bad argument #2 to 'TSEvent' (expected 2 channels (one per event), got 1)",
      msg(lp.TSEvent, { 0.1, 0.2 }, { 1 }))
    assert.are.equal("bad argument #2 to 'TSEvent' (channels must be >= 1, got 0)",
      msg(lp.TSEvent, { 0.1 }, { 0 }, { t_stop = 1 }))
    assert.are.equal("bad argument #3 to 'TSEvent' (t_stop 0.1 must be after the last event time 0.2)",
      msg(lp.TSEvent, { 0.1, 0.2 }, { 1, 1 }, { t_stop = 0.1 }))
    assert.are.equal("bad argument #3 to 'TSEvent' (t_start 0.15 is after the first event time 0.1)",
      msg(lp.TSEvent, { 0.1, 0.2 }, { 1, 1 }, { t_start = 0.15, t_stop = 1 }))
    assert.are.equal("bad argument #3 to 'TSEvent' (field 'num_channels' is 1 but channel 2 occurs)",
      msg(lp.TSEvent, { 0.1 }, { 2 }, { num_channels = 1, t_stop = 1 }))
    local ts = lp.TSEvent({ 0.1 }, { 1 }, { t_stop = 0.2 })
    assert.are.equal("bad argument #1 to 'raster' (dt must be a positive number)", msg(ts.raster, ts, 0))
    assert.are.equal("bad argument #2 to 'raster' (unknown field 'add_event')",
      msg(ts.raster, ts, 0.1, { add_event = true }))
    assert.are.equal("bad argument #1 to 'from_raster' (expected a raster (T, C), got 3 dims)",
      msg(lp.TSEvent.from_raster, lp.zeros { 2, 2, 2 }, 0.1))
    assert.are.equal("bad argument #1 to 'from_raster' (raster entries must be >= 0)",
      msg(lp.TSEvent.from_raster, lp.tensor { { -1 } }, 0.1))
    assert.are.equal("bad argument #1 to 'merge' (item 1 is not a TSEvent)", msg(ts.merge, ts, { 1 }))
    assert.are.equal("bad argument #1 to 'remap_channels' (expected a map of at least 1 channels, got 0)",
      msg(ts.remap_channels, ts, {}))
  end)
end)
