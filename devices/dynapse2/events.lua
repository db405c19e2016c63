-- devices/dynapse2/events.lua -- `limpet.dynapse2.events`: the grid events a Dynap-SE2
-- board exchanges with its host (reference/dynapse2.md §1.2, §8), as plain Lua data.
-- Owns: the destination code, turning an input raster into timed input events and output
-- events back into a raster, the control events that mark the end of a run, finding boards
-- (through the shared USB discovery, devices/usb) and the stand-in for running on one.
-- Not here: the configuration (config.lua), USB itself (limpet.usb).
--
-- A destination is { core = {c1, c2, c3, c4} (0/1: the cores of the target chip),
-- x_hop = -7..7, y_hop = -7..7 (chip hops), tag = 0..2047 }. An event (samna's
-- NormalGridEvent) is { destination = <destination>, timestamp = <integer> } with the
-- timestamp in FPGA ticks of dt_fpga = 1 µs.
--
-- Destination code (Rockpool's 24-bit hash, used as a key and on the wire here), most
-- significant bits first:
--    bits 23..20  core mask, core 1 in bit 20 ... core 4 in bit 23
--    bits 19..16  x_hop + 7
--    bits 15..12  y_hop + 7
--    bits 11..0   tag
--
-- Input (encode_input): for every time step t (1-based) with active channels, one event
-- per active channel and destination of input_channel_map[channel] (counts above 1 count
-- once: the chip sees an event, not a number), at tick round((start + (t-1)·dt) / dt_fpga)
-- + k, k = 0, 1, ... the channel's rank among the step's active channels, so that events
-- of one step are 1 µs apart. Then, unless control = false, 3 control events
-- (core mask 1111, hops (control_hop, control_hop), tag control_tag) at the last step's
-- tick: the board sends them back when it has played everything before them.
--
-- Output (decode_output): events whose tag is the control tag with hops (control_hop + 1,
-- control_hop) are the returned control events and are dropped; the others are counted
-- into a (T, channels) raster. Channels are opts.tags (a list of tags) or else the
-- distinct tags of the events, ascending (the monitor tags of config_from_specification
-- are network neuron ids - 1, so channel j is neuron j when all neurons fire or when
-- opts.tags is given). Event time = timestamp · dt_fpga; row floor((time - start) / dt) + 1;
-- events before start or from start + T·dt on are dropped.
--
-- Where we differ from Rockpool: Rockpool bins output events with a left-sided search
-- over the bin starts, so an event strictly inside step t lands in row t + 1; we bin by
-- floor, the step the event happened in (what a simulation of the same input reports).
local lp = require "limpet"
local limits = require "limpet.dynapse2.limits"

local M = {}

local function argerror(fn, n, msg, level)
  error(("bad argument #%d to '%s' (%s)"):format(n, fn, msg), (level or 2) + 1)
end

-- destinations ---------------------------------------------------------------------

-- nil when d is a valid destination, else what is wrong
local function dest_problem(d)
  if type(d) ~= "table" then return "destination table expected, got " .. type(d) end
  local c = d.core
  if type(c) ~= "table" or #c ~= limits.NUM_CORES then return "field 'core' must be a list of 4 bits (0 or 1)" end
  for i = 1, limits.NUM_CORES do
    if c[i] ~= 0 and c[i] ~= 1 then return ("field 'core': element %d is %s, not 0 or 1"):format(i, tostring(c[i])) end
  end
  for _, k in ipairs { "x_hop", "y_hop" } do
    local v = d[k]
    if math.type(v) ~= "integer" or v < -limits.MAX_HOP or v > limits.MAX_HOP then
      return ("field '%s' must be an integer in -%d..%d, got %s"):format(k, limits.MAX_HOP, limits.MAX_HOP, tostring(v))
    end
  end
  if math.type(d.tag) ~= "integer" or d.tag < 0 or d.tag > limits.MAX_TAG then
    return ("field 'tag' must be an integer in 0..%d, got %s"):format(limits.MAX_TAG, tostring(d.tag))
  end
end
M.destination_problem = dest_problem

--- M.encode_destination(dest) -> integer (the 24-bit code above)
function M.encode_destination(d)
  local why = dest_problem(d)
  if why then argerror("encode_destination", 1, why) end
  local mask = 0
  for i = 1, limits.NUM_CORES do if d.core[i] == 1 then mask = mask | (1 << (i - 1)) end end
  return (mask << 20) | ((d.x_hop + limits.MAX_HOP) << 16) | ((d.y_hop + limits.MAX_HOP) << 12) | d.tag
end

--- M.decode_destination(code) -> destination
function M.decode_destination(code)
  if math.type(code) ~= "integer" or code < 0 or code >= (1 << 24) then
    argerror("decode_destination", 1, ("a 24-bit destination code expected, got %s"):format(tostring(code)))
  end
  local mask = code >> 20
  local x, y = ((code >> 16) & 15) - limits.MAX_HOP, ((code >> 12) & 15) - limits.MAX_HOP
  if x > limits.MAX_HOP or y > limits.MAX_HOP then
    argerror("decode_destination", 1, ("code 0x%06x has a hop of 8 (hops are -7..7)"):format(code))
  end
  local tag = code & 0xfff
  if tag > limits.MAX_TAG then
    argerror("decode_destination", 1, ("code 0x%06x has tag %d (tags are 0..%d)"):format(code, tag, limits.MAX_TAG))
  end
  local core = {}
  for i = 1, limits.NUM_CORES do core[i] = (mask >> (i - 1)) & 1 end
  return { core = core, x_hop = x, y_hop = y, tag = tag }
end

--- M.control_event(timestamp[, opts]) -> the control event (tag control_tag, hops
-- (control_hop, control_hop), all cores) the host sends to mark a time.
local CONTROL_OPTS = { control_hop = true, control_tag = true }
local function control_opts(fn, n, opts)
  if opts == nil then return limits.CONTROL_HOP, limits.CONTROL_TAG end
  if type(opts) ~= "table" then argerror(fn, n, "table of options expected, got " .. type(opts), 3) end
  for k in pairs(opts) do
    if not CONTROL_OPTS[k] then argerror(fn, n, ("unknown field '%s'"):format(tostring(k)), 3) end
  end
  local hop, tag = opts.control_hop or limits.CONTROL_HOP, opts.control_tag or limits.CONTROL_TAG
  if math.type(hop) ~= "integer" or hop < -limits.MAX_HOP or hop > limits.MAX_HOP then
    argerror(fn, n, ("field 'control_hop' must be an integer in -%d..%d"):format(limits.MAX_HOP, limits.MAX_HOP), 3)
  end
  if math.type(tag) ~= "integer" or tag < 0 or tag > limits.MAX_TAG then
    argerror(fn, n, ("field 'control_tag' must be an integer in 0..%d"):format(limits.MAX_TAG), 3)
  end
  return hop, tag
end

function M.control_event(timestamp, opts)
  if type(timestamp) ~= "number" or timestamp ~= timestamp or math.abs(timestamp) == math.huge then
    argerror("control_event", 1, "a finite timestamp expected, got " .. tostring(timestamp))
  end
  local hop, tag = control_opts("control_event", 2, opts)
  return { destination = { core = { 1, 1, 1, 1 }, x_hop = hop, y_hop = hop, tag = tag },
           timestamp = timestamp }
end

--- M.is_control(event[, opts]) -> true for a control event as the board returns it
-- (tag control_tag, x_hop = control_hop + 1, y_hop = control_hop).
function M.is_control(ev, opts)
  if type(ev) ~= "table" or type(ev.destination) ~= "table" then
    argerror("is_control", 1, "an event {destination = {...}, timestamp = t} expected, got " .. type(ev))
  end
  local hop, tag = control_opts("is_control", 2, opts)
  local d = ev.destination
  return d.tag == tag and d.x_hop == hop + 1 and d.y_hop == hop
end

-- options --------------------------------------------------------------------------

local function options(fn, n, opts, known)
  local o = { dt = 1e-3, start = 0.0, dt_fpga = limits.DT_FPGA, control = true,
              control_tag = limits.CONTROL_TAG, control_hop = limits.CONTROL_HOP }
  if opts == nil then return o end
  if type(opts) ~= "table" then argerror(fn, n, "table of options expected, got " .. type(opts), 3) end
  for k, v in pairs(opts) do
    if not known[k] then argerror(fn, n, ("unknown field '%s'"):format(tostring(k)), 3) end
    o[k] = v
  end
  for _, k in ipairs { "dt", "dt_fpga" } do
    if type(o[k]) ~= "number" or not (o[k] > 0) then
      argerror(fn, n, ("field '%s' must be a positive number, got %s"):format(k, tostring(o[k])), 3)
    end
  end
  if type(o.start) ~= "number" or o.start < 0 then
    argerror(fn, n, ("field 'start' must be a non-negative number of seconds, got %s"):format(tostring(o.start)), 3)
  end
  if math.type(o.control_tag) ~= "integer" or o.control_tag < 0 or o.control_tag > limits.MAX_TAG then
    argerror(fn, n, "field 'control_tag' must be a tag (0..2047)", 3)
  end
  if math.type(o.control_hop) ~= "integer" or o.control_hop < -limits.MAX_HOP or o.control_hop > limits.MAX_HOP - 1 then
    argerror(fn, n, "field 'control_hop' must be an integer in -7..6", 3)
  end
  return o
end

local function ticks(t, o) return math.floor(t / o.dt_fpga + 0.5) end

-- input ----------------------------------------------------------------------------

--- M.encode_input(raster, input_channel_map[, opts]) -> events
-- raster: (T, Nin) counts (tensor or nested table); input_channel_map: channel (1-based)
-- -> list of destinations (config.input_channel_map). opts: dt = 1e-3 s, start = 0 s,
-- dt_fpga = 1e-6 s, control = true, control_tag = 2047, control_hop = -7.
function M.encode_input(raster, cmap, opts)
  local fn = "encode_input"
  local o = options(fn, 3, opts, { dt = true, start = true, dt_fpga = true, control = true, control_tag = true,
                                   control_hop = true })
  local r
  if lp.is_tensor(raster) then r = raster
  elseif type(raster) == "table" then
    local ok, t = pcall(lp.tensor, raster, "float64")
    if not ok then argerror(fn, 1, "a (T, Nin) raster of counts expected") end
    r = t
  else
    argerror(fn, 1, "a (T, Nin) raster of counts expected, got " .. type(raster))
  end
  if r:dim() ~= 2 then argerror(fn, 1, ("a (T, Nin) raster expected, got %d dimensions"):format(r:dim())) end
  if type(cmap) ~= "table" then argerror(fn, 2, "input channel map (channel -> destinations) expected, got " .. type(cmap)) end
  local T, Nin = r.shape[1], r.shape[2]
  for ch, list in pairs(cmap) do
    if math.type(ch) ~= "integer" or ch < 1 then
      argerror(fn, 2, ("channels are integers from 1, got %s"):format(tostring(ch)))
    end
    if type(list) ~= "table" then argerror(fn, 2, ("channel %d: list of destinations expected"):format(ch)) end
    for i, d in ipairs(list) do
      local why = dest_problem(d)
      if why then argerror(fn, 2, ("channel %d, destination %d: %s"):format(ch, i, why)) end
    end
  end
  local events = {}
  local rows = T > 0 and Nin > 0 and r:ne(0):astype("int8"):totable() or {}
  for t = 1, T do
    local base, k = ticks(o.start + (t - 1) * o.dt, o), 0
    local row = rows[t]
    for ch = 1, Nin do
      if row[ch] ~= 0 then
        local list = cmap[ch]
        if list and #list > 0 then
          for _, d in ipairs(list) do
            events[#events + 1] = { destination = { core = { d.core[1], d.core[2], d.core[3], d.core[4] },
              x_hop = d.x_hop, y_hop = d.y_hop, tag = d.tag }, timestamp = base + k }
          end
          k = k + 1
        end
      end
    end
  end
  if o.control then
    local last = ticks(o.start + math.max(T - 1, 0) * o.dt, o)
    local copts = { control_hop = o.control_hop, control_tag = o.control_tag }
    for _ = 1, 3 do events[#events + 1] = M.control_event(last, copts) end
  end
  return events
end

-- output ---------------------------------------------------------------------------

--- M.decode_output(events, T[, opts]) -> raster (T, channels) int32, tags
-- opts: dt = 1e-3 s, start = 0 s, dt_fpga = 1e-6 s, tags (list: channel j counts the
-- events of tag tags[j]; default: the events' distinct tags, ascending), control_tag,
-- control_hop. `tags` is returned (the channel -> tag list used).
function M.decode_output(events, T, opts)
  local fn = "decode_output"
  if type(events) ~= "table" then argerror(fn, 1, "list of events expected, got " .. type(events)) end
  if math.type(T) ~= "integer" or T < 0 then argerror(fn, 2, "number of time steps expected, got " .. tostring(T)) end
  local o = options(fn, 3, opts, { dt = true, start = true, dt_fpga = true, tags = true, control_tag = true,
                                   control_hop = true })
  local data = {}
  local copts = { control_hop = o.control_hop, control_tag = o.control_tag }
  for i, ev in ipairs(events) do
    if type(ev) ~= "table" or math.type(ev.timestamp) ~= "integer" then
      argerror(fn, 1, ("event %d: { destination = , timestamp = <integer> } expected"):format(i))
    end
    local why = dest_problem(ev.destination)
    if why then argerror(fn, 1, ("event %d: %s"):format(i, why)) end
    if not M.is_control(ev, copts) then data[#data + 1] = ev end
  end
  local tags = o.tags
  if tags == nil then
    local seen = {}
    tags = {}
    for _, ev in ipairs(data) do
      local t = ev.destination.tag
      if not seen[t] then seen[t] = true; tags[#tags + 1] = t end
    end
    table.sort(tags)
  elseif type(tags) ~= "table" then
    argerror(fn, 3, "field 'tags' must be a list of tags")
  end
  local col = {}
  for j, t in ipairs(tags) do col[t] = col[t] or j end
  local raster = lp.zeros({ T, #tags }, "int32")
  if T == 0 or #tags == 0 then return raster, tags end
  -- in ticks; whole numbers of ticks (the usual case) are counted exactly
  local function whole(x)
    local r = math.floor(x + 0.5)
    if math.abs(x - r) <= 1e-9 * math.max(1, math.abs(x)) then return r end
    return x
  end
  local step, first = whole(o.dt / o.dt_fpga), whole(o.start / o.dt_fpga)
  local counts = {}
  for _, ev in ipairs(data) do
    local j = col[ev.destination.tag]
    if j then
      local rel = ev.timestamp - first
      local row
      if math.type(step) == "integer" and math.type(first) == "integer" then row = rel // step + 1
      else row = math.floor(rel / step) + 1 end
      if rel >= 0 and row >= 1 and row <= T then
        local key = (row - 1) * #tags + j
        counts[key] = (counts[key] or 0) + 1
      end
    end
  end
  for key, n in pairs(counts) do
    raster:set((key - 1) // #tags + 1, (key - 1) % #tags + 1, n)
  end
  return raster, tags
end

-- hardware ------------------------------------------------------------------------

--- M.find_boards() -> list of Dynap-SE2 boards on USB, note: the device tables of the shared
-- discovery (limpet.usb: vid, pid, bus, port, product, access, note, ...) whose family is
-- "dynapse2" or a SynSense kit not yet identified; an empty list when none is attached
-- (Rockpool raises ConnectionError there). note is a string when libusb could not look at
-- the bus. Never needs root; never raises for the environment.
function M.find_boards()
  local ok, usb = pcall(require, "limpet.usb")
  if not ok then return {}, "USB discovery is not available: " .. tostring(usb) end
  return usb.find { family = "dynapse2" }
end

--- M.DynapseSamna(board, config, ...): running on a board. limpet has no transport to a
-- Dynap-SE2 board (Rockpool drives it through samna, a closed library); this raises an
-- error that says so. Simulate the configuration instead (from_config).
function M.DynapseSamna(board)
  local why
  if type(board) == "table" and board.vid ~= nil then
    local ok, usb = pcall(require, "limpet.usb")
    if ok then
      local _, msg = usb.open(board, "dynapse2")
      why = msg
    end
  end
  error("DynapseSamna: no open transport exists for Dynap-SE2 boards (Rockpool drives them through samna, a "
    .. "closed library); limpet can map, quantise, configure and save a network for the chip and simulate the "
    .. "configuration (lp.dynapse2.from_config), not run it on a board" .. (why and ("; " .. why) or ""), 2)
end

return M
