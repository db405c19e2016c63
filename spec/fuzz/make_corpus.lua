-- spec/fuzz/make_corpus.lua -- writes the seed corpora that are made by
-- limpet itself rather than copied from spec/fixtures/: model trees
-- (corpus/model/, from model_seeds.lua), Xylo configurations
-- (corpus/xylo_config/) and PNG images (corpus/png/). Run from the source
-- root when a format changes:  build/release/limpet spec/fuzz/make_corpus.lua
-- The other corpora are copies of small fixtures (see README.md).
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

-- model trees: the "__module_tree__" bytes of each saved seed network
os.execute("mkdir -p " .. ROOT .. "model " .. ROOT .. "xylo_config " .. ROOT .. "png")
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

-- Xylo configurations: one per variant, with aliases, biases, monitors, dt
local spec = {
  weights_in = { { 1, 2, 0, 0 }, { 0, 3, 4, 0 }, { 5, 0, 0, 6 } },
  weights_rec = { { 0, 1, 0, 0 }, { 0, 0, 1, 0 }, { 0, 0, 0, 1 }, { 1, 0, 0, 0 } },
  weights_out = { { 1, 0 }, { 0, 1 }, { 2, 0 }, { 0, 2 } },
  dash_mem = { 2, 2, 3, 3 }, dash_syn = { 1, 1, 2, 2 }, dash_mem_out = { 4, 4 }, dash_syn_out = { 1, 1 },
  threshold = { 100, 100, 200, 200 }, threshold_out = { 50, 60 },
  bias = { 1, 0, -2, 0 }, aliases = { { 2 }, {}, {}, { 1 } }, dt = 1e-3,
}
for _, v in ipairs { "audio2", "audio3", "imu" } do
  local c, ok, msg = lp.xylo[v].config_from_specification(spec)
  assert(ok, msg)
  c.debug.monitor_neuron_v_mem = { 1, c.n_hidden }
  local path = ("%s/xylo_config/%s.json"):format(ROOT, v)
  assert(lp.xylo.save_config(c, path))
end
do   -- two synapses (Audio 2 keeps dash_syn_2)
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
for c = 1, 4 do
  local img = (lp.arange(0, 4 * 5 * c):reshape(4, 5, c) * 7):astype("uint8")
  assert(lp.core.png_write(("%s/png/c%d.png"):format(ROOT, c), img))
end
print("corpora written")
