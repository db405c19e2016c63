-- spec/fuzz/make_corpus.lua -- writes the seed corpora that are made by
-- limpet itself rather than copied from spec/fixtures/: model trees
-- (corpus/model/, from model_seeds.lua), Xylo configurations
-- (corpus/xylo_config/), PNG images (corpus/png/), sound files
-- (corpus/audio/), JSON texts (corpus/json/), Dynap-SE2 configurations
-- (corpus/dynapse2_config/), NIR files written by limpet (corpus/nir/; the
-- public ones there are copies of ../shared/oracles/nir), Xylo memory
-- images (corpus/xylo_image/), bias-generator tables (corpus/biasgen/),
-- time series files (corpus/timeseries/) and DiskCache entries
-- (corpus/disk_cache/). Run from the source root when a format changes:
--   build/release/limpet spec/fuzz/make_corpus.lua [reader ...]
-- (no reader: all of them). The other corpora are copies of small fixtures
-- (see README.md).
local lp = require "limpet"
local json = require "limpet.json"
local ROOT = "spec/fuzz/corpus/"

local function spit(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local function tmp(name)
  local base = os.tmpname()
  os.remove(base)
  return base .. "_" .. name
end

local only = {}
for _, r in ipairs(arg or {}) do only[r] = true end
local function want(reader)
  if next(only) and not only[reader] then return false end
  os.execute("mkdir -p " .. ROOT .. reader)
  return true
end

-- model trees: the "__module_tree__" bytes of each saved seed network
if want("model") then
for i, net in ipairs(dofile("spec/fuzz/model_seeds.lua")(lp)) do
  local p = tmp("seed.npz")
  assert(net:save(p))
  local t = assert(lp.load(p)).__module_tree__
  os.remove(p)
  local bytes = t:totable()
  local s = {}
  for k = 1, #bytes do s[k] = string.char(bytes[k]) end
  spit(("%s/model/seed%d.json"):format(ROOT, i), table.concat(s))
end
end

-- Xylo configurations: one per variant, with aliases, biases, monitors, dt
local spec = {
  weights_in = { { 1, 2, 0, 0 }, { 0, 3, 4, 0 }, { 5, 0, 0, 6 } },
  weights_rec = { { 0, 1, 0, 0 }, { 0, 0, 1, 0 }, { 0, 0, 0, 1 }, { 1, 0, 0, 0 } },
  weights_out = { { 1, 0 }, { 0, 1 }, { 2, 0 }, { 0, 2 } },
  dash_mem = { 2, 2, 3, 3 }, dash_syn = { 1, 1, 2, 2 }, dash_mem_out = { 4, 4 }, dash_syn_out = { 1, 1 },
  threshold = { 100, 100, 200, 200 }, threshold_out = { 50, 60 },
  bias = { 1, 0, -2, 0 }, aliases = { { 2 }, {}, {}, { 1 } }, dt = 1e-3,
}
if want("xylo_config") or want("xylo_image") then
for _, v in ipairs { "audio2", "audio3", "imu" } do
  local c, ok, msg = lp.xylo[v].config_from_specification(spec)
  assert(ok, msg)
  c.debug.monitor_neuron_v_mem = { 1, c.n_hidden }
  if want("xylo_config") then assert(lp.xylo.save_config(c, ("%s/xylo_config/%s.json"):format(ROOT, v))) end
  if want("xylo_image") then
    -- the variant byte, then each write as a 24-bit address and a 32-bit word
    local out = { string.char(({ audio2 = 0, audio3 = 1, imu = 2 })[v]) }
    for a, w in lp.xylo[v].config_to_image(c):writes() do out[#out + 1] = string.pack("<I3I4", a, w) end
    spit(("%s/xylo_image/%s.bin"):format(ROOT, v), table.concat(out))
  end
end
end
if want("xylo_config") then   -- two synapses (Audio 2 keeps dash_syn_2)
  local s2 = {}
  for k, v in pairs(spec) do s2[k] = v end
  s2.weights_rec = lp.zeros({ 4, 4, 2 }, "int8")
  s2.weights_rec:set(1, 2, 2, 3)
  s2.dash_syn_2 = { 1, 2, 3, 4 }
  local c, ok, msg = lp.xylo.audio2.config_from_specification(s2)
  assert(ok, msg)
  assert(lp.xylo.save_config(c, ROOT .. "xylo_config/audio2_syn2.json"))
end

-- PNG: gray, gray+alpha, RGB, RGBA, written by the encoder
if want("png") then
for c = 1, 4 do
  local img = (lp.arange(0, 4 * 5 * c):reshape(4, 5, c) * 7):astype("uint8")
  assert(lp.core.png_write(("%s/png/c%d.png"):format(ROOT, c), img))
end
end

-- sound files: mono PCM 16 WAV, stereo float WAV, AIFF, FLAC (32 frames each)
if want("audio") then
  local t = lp.arange(0, 32, "float64") / 32
  local mono, stereo = (t * 6.28 * 3):sin() * 0.5, lp.stack({ (t * 6.28):sin() * 0.9, (t * 20):cos() * 0.3 }, 2)
  assert(lp.audio.save(ROOT .. "audio/mono16.wav", mono, 16000, { encoding = "PCM_16" }))
  assert(lp.audio.save(ROOT .. "audio/stereo_float.wav", stereo, 8000, { encoding = "FLOAT" }))
  assert(lp.audio.save(ROOT .. "audio/mono24.aiff", mono, 22050, { encoding = "PCM_24" }))
  assert(lp.audio.save(ROOT .. "audio/stereo16.flac", stereo, 44100, { encoding = "PCM_16" }))
end

-- JSON texts: every kind of value, escapes, numbers near the limits, and
-- numeric arrays the tensors option turns into tensors
if want("json") then
  spit(ROOT .. "json/object.json", json.encode({ a = 1, b = -2.5, c = "x\n\"y\" \u{e9}\u{1F600}", d = true,
    e = false, f = json.null, g = json.array(), h = {}, i = { 1, 2, { 3, { 4 } } } }, { indent = 2 }))
  spit(ROOT .. "json/numbers.json", '[0, -0, 1e308, -1e-308, 9223372036854775807, -9223372036854775808, ' ..
    '1.5e-7, 123456789012345678901234567890, 0.1, 2.2250738585072014e-308]')
  spit(ROOT .. "json/tensors.json", '{"w": [[1, 2, 3], [4, 5, 6]], "v": [1.5, -2, 3e2], "e": [], ' ..
    '"ragged": [[1], [2, 3]], "deep": [[[1, 2]], [[3, 4]]], "s": "text"}')
  spit(ROOT .. "json/escapes.json", '"\\u0041\\ud83d\\ude00\\t\\/\\b\\f\\r"')
end

-- Dynap-SE2 configurations: a hand-made quantised specification, one
-- cluster and two, with input and recurrent weights
if want("dynapse2_config") then
  local function hand_spec(N, Nin, nc)
    local q = { n_neuron = N, n_cluster = nc, core_map = {}, Iscale = 1e-8, dt = 1e-3 }
    for j = 1, N do q.core_map[j] = (j - 1) % nc + 1 end
    for _, k in ipairs(require("limpet.dynapse2.constants").current_names) do
      q[k] = lp.full({ nc }, 1e-10, "float64")
    end
    for k = 0, 3 do q["Iw_" .. k] = lp.full({ nc }, (1 << k) * 1e-9, "float64") end
    q.weights_in = (lp.arange(0, Nin * N):reshape(Nin, N) % 4):astype("int32")
    q.sign_in = q.weights_in:gt(0):astype("int32")
    q.weights_rec = (lp.arange(0, N * N):reshape(N, N) % 3):astype("int32")
    q.sign_rec = q.weights_rec:gt(0):astype("int32") * 2 - 1
    return q
  end
  for i, c in ipairs { { 3, 2, 1 }, { 4, 3, 2 } } do
    local cfg = lp.dynapse2.config_from_specification(hand_spec(c[1], c[2], c[3]))
    assert(lp.dynapse2.save_config(cfg, ("%s/dynapse2_config/seed%d.json"):format(ROOT, i)))
  end
end

-- NIR files written by limpet (the current layout and the legacy one)
if want("nir") then
  local net = lp.nn.Sequential(lp.nn.Linear({ 3, 2 }, { has_bias = true }), lp.nn.ExpSyn(2, { tau = 5e-3 }),
    lp.nn.Linear({ 2, 2 }), lp.nn.LIF(2, { tau_mem = 30e-3, tau_syn = 8e-3 }))
  assert(lp.nir.save(net, ROOT .. "nir/limpet_linear_lif.nir", {}))
  assert(lp.nir.save(net, ROOT .. "nir/limpet_legacy.nir", { legacy = true }))
end

-- bias-generator tables: the model's, as JSON and as Python text with a
-- list of six lists per type
if want("biasgen") then
  local B = lp.dynapse2.biasgen
  local function rows(ty, c)
    local r = {}
    for f = 0, 255 do r[#r + 1] = ("%.6g"):format(B.model[ty][c][f]) end
    return "[" .. table.concat(r, ", ") .. "]"
  end
  local js, py = {}, {}
  for _, ty in ipairs { "N", "P" } do
    local m, l = {}, {}
    for c = 0, 5 do m[#m + 1] = ('"%d": %s'):format(c, rows(ty, c)); l[#l + 1] = rows(ty, c) end
    js[#js + 1] = ('"%s": {%s}'):format(ty, table.concat(m, ", "))
    py[#py + 1] = ("'%s': [%s]"):format(ty, table.concat(l, ",\n  "))
  end
  spit(ROOT .. "biasgen/model.json", "{" .. table.concat(js, ",\n") .. "}\n")
  spit(ROOT .. "biasgen/model.py", "# measured table\n{" .. table.concat(py, ",\n") .. "}\n")
end

-- time series files: continuous (named, periodic, two channels) and events
if want("timeseries") then
  local c = lp.TSContinuous(lp.tensor { 0, 0.1, 0.2, 0.3 }, lp.tensor { { 1, 2 }, { 3, 4 }, { 5, 6 }, { 7, 8 } },
    { name = "trace", periodic = true, t_stop = 0.4 })
  assert(c:save(ROOT .. "timeseries/continuous.npz"))
  local e = lp.TSEvent(lp.tensor { 0.01, 0.02, 0.05 }, lp.tensor { 1, 3, 2 }, { t_stop = 0.1, num_channels = 3 })
  assert(e:save(ROOT .. "timeseries/event.npz"))
  assert(lp.TSContinuous(lp.tensor { 0.5 }, lp.tensor { { 2 } }, { t_stop = 1 }):save(ROOT .. "timeseries/one.npz"))
end

-- DiskCache entries: the one fuzz_disk_cache's cache writes for its sample
if want("disk_cache") then
  local dir = tmp("cache")
  local ds = { sample = lp.tensor({ { 1, 2, 3 }, { 4, 5, 6 } }, "float32") }
  function ds:get() return self.sample, 7, { name = "seed", n = 3, ok = true } end
  setmetatable(ds, { __len = function() return 1 end })
  local cache = assert(lp.data.DiskCache { dataset = ds, path = dir, transform_key = "fuzz" })
  cache:get(1)
  local f = assert(io.open(cache:file(1), "rb"))
  spit(ROOT .. "disk_cache/entry.npz", f:read("a"))
  f:close()
  os.remove(cache:file(1))
  os.remove(dir)
end
print("corpora written")
