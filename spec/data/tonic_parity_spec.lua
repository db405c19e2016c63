-- spec/data/tonic_parity_spec.lua -- limpet's event transforms give Tonic's
-- frames and events: each case of spec/fixtures/tonic/cases.json applies
-- limpet's transforms to a fixture sample and compares with what Tonic's
-- algorithms give for it (arrays.npz; written once by make_fixtures.py, our
-- own NumPy transcription of Tonic's algorithms). Samples: N-MNIST and DVS
-- Gesture sensors with most times on a whole-millisecond grid (events lying
-- exactly on window bounds), 1-d 700-channel audio, SHD's float16 seconds.
-- Random transforms are compared on their deterministic parts.
local lp = require "limpet"
local tf = require "limpet.data.transforms"
local json = require "limpet.json"
local K = require("limpet.core")._events

local FX = "spec/fixtures/tonic/"
local fixture = json.decode(assert(io.open(FX .. "cases.json")):read("a"))
local A = assert(lp.load(FX .. "arrays.npz"))

-- A fixture sample as limpet's readers give it: t in seconds, 1-based ids.
local function sample(name)
  local s = {}
  s.t = A[name .. "_ts"] or A[name .. "_t"]:astype("float64") / 1e6
  for _, k in ipairs { "x", "y", "p" } do
    if A[name .. "_" .. k] then s[k] = A[name .. "_" .. k] + 1 end
  end
  return s
end

local function pipeline(steps)
  local fs = {}
  for i, st in ipairs(steps) do fs[i] = tf[st.name](st.opts) end
  return #fs == 1 and fs[1] or tf.Compose(fs)
end

local function same_frames(expected, f, what)
  assert.same(expected.shape, f.shape, what .. ": frame shape")
  if expected:numel() == 0 then return end
  local d = (f - expected:astype("float32")):abs()
  if d:max():item() ~= 0 then
    local per = d:reshape(f.shape[1], -1):sum(2):totable()
    for k, v in ipairs(per) do
      if v ~= 0 then error(("%s: frame %d differs from Tonic's (%d events)"):format(what, k, v)) end
    end
  end
end

local function same_events(name, r)
  local exp_t = A[name .. "_t"]
  assert.equal(exp_t.shape[1], r.t.shape[1], name .. ": number of events")
  if exp_t.shape[1] == 0 then return end
  assert.same(exp_t:totable(), K.micros(r.t):totable(), name .. ": t (whole us)")
  for _, k in ipairs { "x", "y", "p" } do
    local e = A[name .. "_" .. k]
    if e then assert.same(e:totable(), (r[k] - 1):totable(), name .. ": " .. k) end
  end
end

describe("limpet.data.transforms against Tonic's algorithms", function()
  for _, c in ipairs(fixture.cases) do
    it(c.name .. (c.note ~= "" and (": " .. c.note) or ""), function()
      local r = pipeline(c.steps)(sample(c.sample))
      if c.expect == "frames" then
        same_frames(A[c.name .. "_frames"], r, c.name)
      else
        same_events(c.name, r)
      end
    end)
  end

  it("gives the same counts as (T, W) frames for a 1-d sensor {W}", function()
    local n = 0
    for _, c in ipairs(fixture.cases) do
      local last = c.steps[#c.steps]
      if c.expect == "frames" and fixture.samples[c.sample].kind == "1d" and last.name == "ToFrame" then
        local opts = {}
        for k, v in pairs(last.opts) do opts[k] = v end
        opts.sensor_size = { opts.sensor_size[1] }
        local steps = { table.unpack(c.steps) }
        steps[#steps] = { name = "ToFrame", opts = opts }
        local e = A[c.name .. "_frames"]
        same_frames(e:reshape(e.shape[1], e.shape[3]), pipeline(steps)(sample(c.sample)), c.name .. " {W}")
        n = n + 1
      end
    end
    assert.is_true(n >= 17)
  end)

  it("DropEvent drops round(p N) events and keeps the others in order (the set semantics)", function()
    local s = sample("nmnist")
    local n = s.t.shape[1]
    for _, p in ipairs { 0.1, 0.25, 0.5, 0.999 } do
      local r = tf.DropEvent { p = p, seed = 3 }(s)
      assert.equal(n - math.floor(p * n + 0.5), r.t.shape[1])   -- Tonic: int(p n + 0.5)
      -- a subsequence: walk the input once
      local t, x, rt, rx = s.t:totable(), s.x:totable(), r.t:totable(), r.x:totable()
      local i = 1
      for j = 1, #rt do
        while i <= n and not (t[i] == rt[j] and x[i] == rx[j]) do i = i + 1 end
        assert.is_true(i <= n, "kept events are a subsequence of the input")
        i = i + 1
      end
    end
  end)
end)

describe("the microsecond grid (core._events.micros)", function()
  it("reads microseconds / 1e6 back exactly and truncates finer times", function()
    local us = { 0, 1, 9000, 12000, 999999, 8388607, 3600000000, -2000 }
    local t = {}
    for i, v in ipairs(us) do t[i] = v / 1e6 end
    assert.same(us, K.micros(lp.tensor(t, "float64")):totable())
    -- 9 * 0.001 is 0.0090000000000000011, still 9000 us
    assert.same({ 9000, 10009, 10009, -1 }, K.micros(lp.tensor({ 9 * 0.001, 0.010009765625, 0.0100099, -0.0000005 },
      "float64")):totable())
    assert.has_error(function() K.micros(lp.tensor({ 0 / 0 }, "float64")) end)
  end)
end)
