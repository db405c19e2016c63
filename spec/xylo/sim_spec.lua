-- spec/xylo/sim_spec.lua -- XyloSim (devices/xylo/xylosim.lua + xylosim.c):
-- every oracle of spec/fixtures/xylo/ bit for bit (output and the six
-- recordings at every step), randomised self-consistency (batch = looped
-- single rows from the same state; T/2 + T/2 = T; reset), how
-- specifications are read (defaults, shapes, dtypes, padding of IEN/OEN
-- blocks, from_config), and the exact messages of the limit errors.
local lp = require "limpet"
local json = require "limpet.json"
local xs = require "limpet.xylo.xylosim"

local A2 = xs.for_variant("audio2")
local IMU = xs.for_variant("imu")
local A3 = xs.for_variant("audio3")

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- a fixture's spec with alias ids made 1-based (files count from 0)
local function lua_spec(s)
  local out = {}
  for k, v in pairs(s) do out[k] = v end
  local al = {}
  for i, a in ipairs(s.aliases) do
    al[i] = {}
    for j, t in ipairs(a) do al[i][j] = t + 1 end
  end
  out.aliases = al
  return out
end

-- (1, T, N) tensor equals the (T, N) table, element by element
local function same_steps(name, got, exp)
  assert.are.same({ 1, #exp, #exp[1] }, got.shape, name .. ": shape")
  local g = got:reshape(#exp, #exp[1]):totable()
  for t = 1, #exp do
    for n = 1, #exp[t] do
      if g[t][n] ~= exp[t][n] then
        error(("%s differs at step %d, neuron %d: expected %d, got %d"):format(name, t, n, exp[t][n], g[t][n]), 2)
      end
    end
  end
end

local function equal(a, b) return a:ne(b):sum():item() == 0 end

local cases = { "small", "small1", "hwtest", "saturate", "aliases", "manyspikes", "dash_extremes", "imu" }

describe("XyloSim oracles", function()
  for _, name in ipairs(cases) do
    it("reproduces " .. name .. " bit for bit", function()
      local c = json.decode(read("spec/fixtures/xylo/xylo_" .. name .. "_1.json"))
      local X = c.kind == "imu" and IMU or A2
      local sim = X.from_specification(lua_spec(c.spec), { dt = c.dt })
      assert.are.equal(c.synapses, sim.n_synapses)
      local out, state, rec = sim(c.input, true)
      same_steps("output", out, c.expected.Spikes_out)
      for _, k in ipairs { "Vmem", "Isyn", "Isyn2", "Spikes", "Vmem_out", "Isyn_out" } do
        if c.expected[k] then same_steps(k, rec[k], c.expected[k]) else assert.is_nil(rec[k]) end
      end
      -- the state is the last step
      local T = #c.input
      assert.are.same(c.expected.Vmem[T], state.Vmem:totable())
      assert.are.same(c.expected.Spikes[T], state.Spikes:totable())
      -- the other output modes are the output recordings
      for mode, key in pairs { Vmem = "Vmem_out", Isyn = "Isyn_out" } do
        local s2 = X.from_specification(lua_spec(c.spec), { dt = c.dt, output_mode = mode })
        same_steps(mode .. " output", (s2(c.input)), c.expected[key])
      end
    end)
  end

  it("reproduces an oracle through a configuration (config_from_specification, from_config)", function()
    local xylo = require "limpet.xylo"
    local c = json.decode(read("spec/fixtures/xylo/xylo_aliases_1.json"))
    local cfg, ok, msg = xylo.audio2.config_from_specification(lua_spec(c.spec))
    assert.is_true(ok, msg)
    local out, _, rec = xylo.audio2.XyloSim.from_config(cfg, { dt = c.dt })(c.input, true)
    same_steps("output", out, c.expected.Spikes_out)
    for _, k in ipairs { "Vmem", "Isyn", "Isyn2", "Spikes", "Vmem_out", "Isyn_out" } do same_steps(k, rec[k], c.expected[k]) end
  end)

  it("exercises what the cases are for", function()
    local sat = json.decode(read("spec/fixtures/xylo/xylo_saturate_1.json")).expected
    local hit = false
    for _, row in ipairs(sat.Vmem) do for _, v in ipairs(row) do hit = hit or v == 32767 or v == -32768 end end
    assert.is_true(hit)
    local many = json.decode(read("spec/fixtures/xylo/xylo_manyspikes_1.json")).expected
    hit = false
    for _, row in ipairs(many.Spikes) do for _, v in ipairs(row) do hit = hit or v == 31 end end
    assert.is_true(hit)
  end)
end)

-- ---- random networks --------------------------------------------------------

local function rnd_int(lo, hi, shape)
  return lp.randint(lo, hi + 1, shape):astype("int32")
end

-- a random Audio 2 network with two synapses and aliases, active enough
local function random_spec(seed, nsyn)
  lp.seed(seed)
  local nin, nh, no = 5, 20, 3
  local w_in = rnd_int(-40, 127, nsyn == 2 and { nin, nh, 2 } or { nin, nh })
  local w_rec = rnd_int(-128, 100, nsyn == 2 and { nh, nh, 2 } or { nh, nh })
  w_rec = w_rec * lp.lt(lp.rand({ nh, nh, nsyn }):reshape(w_rec.shape), 0.1):astype("int32")
  local aliases = {}
  for i = 1, nh do aliases[i] = {} end
  aliases[3], aliases[10], aliases[15] = { 12 }, { 2 }, { 15 - 1 }
  return {
    weights_in = w_in, weights_rec = w_rec, weights_out = rnd_int(-128, 127, { nh, no }),
    dash_mem = rnd_int(1, 6, { nh }), dash_syn = rnd_int(0, 7, { nh }), dash_syn_2 = rnd_int(1, 7, { nh }),
    dash_mem_out = rnd_int(1, 5, { no }), dash_syn_out = rnd_int(1, 5, { no }),
    threshold = rnd_int(100, 3000, { nh }), threshold_out = rnd_int(500, 4000, { no }),
    bias = rnd_int(-20, 20, { nh }), bias_out = rnd_int(-20, 20, { no }),
    weight_shift_in = 3, weight_shift_rec = 2, weight_shift_out = 3, aliases = aliases,
  }
end

local function random_input(B, T, nin, hi)
  return rnd_int(0, hi or 3, { B, T, nin })
end

local function same_state(a, b)
  for k, v in pairs(a) do assert.is_true(equal(v, b[k]), "state " .. k) end
end

describe("XyloSim self-consistency", function()
  for _, nsyn in ipairs { 1, 2 } do
    it(("a batch equals single rows from the same state (%d synapse%s)"):format(nsyn, nsyn == 1 and "" or "s"), function()
      local spec = random_spec(7 + nsyn, nsyn)
      local sim = A2.from_specification(spec)
      sim(random_input(1, 25, 5))                     -- warm up: a nonzero state
      local s0 = sim:state()
      local x = random_input(4, 30, 5)
      local out, s_batch, rec = sim(x, true)
      assert.are.same({ 4, 30, 3 }, out.shape)
      local total = rec.Spikes:sum():item()
      assert.is_true(total > 0)
      for b = 1, 4 do
        sim:set_state(s0)
        local o1, s1, r1 = sim(x:slice(1, b, b), true)
        assert.is_true(equal(out:slice(1, b, b), o1), "output row " .. b)
        for k, v in pairs(rec) do assert.is_true(equal(v:slice(1, b, b), r1[k]), k .. " row " .. b) end
        if b == 1 then same_state(s_batch, s1) end   -- row 1's final state is kept
      end
    end)

    it(("two calls of T/2 equal one call of T (%d synapse%s)"):format(nsyn, nsyn == 1 and "" or "s"), function()
      local spec = random_spec(20 + nsyn, nsyn)
      local x = random_input(1, 40, 5, 4)
      local a = A2.from_specification(spec)
      local out, sa, rec = a(x, true)
      local b = A2.from_specification(spec)
      local o1, _, r1 = b(x:slice(2, 1, 20), true)
      local o2, sb, r2 = b(x:slice(2, 21, 40), true)
      assert.is_true(equal(out, lp.cat({ o1, o2 }, 2)))
      for k, v in pairs(rec) do assert.is_true(equal(v, lp.cat({ r1[k], r2[k] }, 2)), k) end
      same_state(sa, sb)
      -- reset_state gives a fresh simulator
      b:reset_state()
      local o3 = b(x)
      assert.is_true(equal(out, o3))
    end)
  end

  it("clips input counts above 15 and accepts any integer dtype or a table", function()
    local spec = random_spec(3, 2)
    local x = random_input(1, 20, 5, 40)
    local clipped = lp.minimum(x, 15)
    local o1 = A2.from_specification(spec)(x)
    local o2 = A2.from_specification(spec)(clipped)
    assert.is_true(equal(o1, o2))
    assert.is_true(equal(o1, A2.from_specification(spec)(x:astype("int8"))))
    assert.is_true(equal(o1, A2.from_specification(spec)(x:astype("float32"))))
    local t2 = x:reshape(20, 5)
    assert.is_true(equal(o1, A2.from_specification(spec)(t2:totable())))
  end)

  it("takes spec values as tables or tensors of any integer dtype", function()
    local spec = random_spec(11, 2)
    local x = random_input(1, 30, 5)
    local ref = A2.from_specification(spec)(x)
    local tables, i16, f64 = {}, {}, {}
    for k, v in pairs(spec) do
      tables[k] = lp.is_tensor(v) and v:totable() or v
      i16[k] = lp.is_tensor(v) and v:astype("int16") or v
      f64[k] = lp.is_tensor(v) and v:astype("float64") or v
    end
    assert.is_true(equal(ref, A2.from_specification(tables)(x)))
    assert.is_true(equal(ref, A2.from_specification(i16)(x)))
    assert.is_true(equal(ref, A2.from_specification(f64)(x)))
    -- what the mapper returns on top is ignored
    tables.mapped_graph, tables.dt = {}, 1e-3
    assert.is_true(equal(ref, A2.from_specification(tables)(x)))
  end)
end)

describe("XyloSim specifications", function()
  local function base()
    return {
      weights_in = { { 100, 0 }, { 0, 90 } }, weights_out = { { 60 }, { 70 } },
      threshold = { 50, 50 }, threshold_out = { 100 }, dash_mem = { 2, 2 }, dash_syn = { 1, 1 },
      dash_mem_out = { 2 }, dash_syn_out = { 1 },
    }
  end
  local x = lp.tensor({ { 1, 0 }, { 0, 1 }, { 1, 1 }, { 0, 0 }, { 2, 3 }, { 0, 0 } }, "int32")

  it("a 2-D weight equals a 3-D one with one synapse", function()
    local s2 = base()
    local s3 = base()
    s3.weights_in = { { { 100 }, { 0 } }, { { 0 }, { 90 } } }
    local _, _, r2 = A2.from_specification(s2)(x, true)
    local _, _, r3 = A2.from_specification(s3)(x, true)
    for k, v in pairs(r2) do assert.is_true(equal(v, r3[k]), k) end
    assert.is_nil(r2.Isyn2)
  end)

  it("defaults missing fields as Rockpool (dashes 0, thresholds 0, no bias, shifts 0)", function()
    local s = { weights_in = { { 1 } }, weights_out = { { 1 } } }
    local sim = A2.from_specification(s)
    local out, _, rec = sim({ { 0 }, { 0 } }, true)
    -- threshold 0 and Vmem 0: the neuron fires its 31 spikes every step
    assert.are.same({ { 31 }, { 31 } }, rec.Spikes:reshape(2, 1):totable())
    assert.are.same({ { 1 }, { 1 } }, out:reshape(2, 1):totable())
    assert.are.equal("Spike", sim.output_mode)
    assert.are.equal(1e-3, sim.dt)
  end)

  it("maps a smaller weights_in to the first and weights_out to the last hidden neurons", function()
    local full = base()
    full.weights_in = { { 100, 0, 0 }, { 0, 90, 0 } }
    full.weights_out = { { 0 }, { 0 }, { 70 } }
    full.weights_rec = { { 0, 0, 80 }, { 0, 0, 80 }, { 0, 0, 0 } }
    full.threshold, full.dash_mem, full.dash_syn = { 50, 50, 50 }, { 2, 2, 2 }, { 1, 1, 1 }
    local part = {}
    for k, v in pairs(full) do part[k] = v end
    part.weights_in = { { 100, 0 }, { 0, 90 } }
    part.weights_out = { { 70 } }
    local _, _, r1 = A2.from_specification(full)(x, true)
    local _, _, r2 = A2.from_specification(part)(x, true)
    for k, v in pairs(r1) do assert.is_true(equal(v, r2[k]), k) end
    assert.is_true(r1.Vmem_out:ne(0):sum():item() > 0)
  end)

  it("from_config reads the same fields and checks the variant", function()
    local cfg = base()
    cfg.variant = "audio2"
    cfg.bias_hidden = { 1, 2 }
    cfg.some_config_field = true
    local spec = base()
    spec.bias = { 1, 2 }
    local _, _, r1 = A2.from_config(cfg)(x, true)
    local _, _, r2 = A2.from_specification(spec)(x, true)
    for k, v in pairs(r1) do assert.is_true(equal(v, r2[k]), k) end
    assert.has_error(function() IMU.from_config(cfg) end,
      "bad argument #1 to 'from_config' (configuration for Xylo Audio 2 given to the Xylo IMU simulator)")
  end)

  it("state() and set_state() round trip, with checks", function()
    local sim = A2.from_specification(random_spec(5, 2))
    sim(random_input(1, 10, 5))
    local s = sim:state()
    assert.are.same({ 20 }, s.Isyn2.shape)
    local out1 = sim(random_input(1, 5, 5, 0))
    sim:set_state(s)
    local out2 = sim(random_input(1, 5, 5, 0))
    assert.is_true(equal(out1, out2))
    assert.has_error(function() sim:set_state { Vmem = s.Vmem } end, "bad argument #1 to 'set_state' (field 'Isyn' missing)")
    s.Spikes = lp.full({ 20 }, 32, "int32")
    assert.has_error(function() sim:set_state(s) end,
      "bad argument #1 to 'set_state' (state 'Spikes': values must be integers in 0..31)")
  end)

  it("prints itself", function()
    assert.are.equal("XyloSim(audio2: 2 in, 2 hidden, 1 out, 1 synapse, dt 0.001, output_mode Spike)",
      tostring(A2.from_specification(base())))
  end)
end)

describe("XyloSim errors", function()
  local function base()
    return {
      weights_in = { { 100, 0 }, { 0, 90 } }, weights_out = { { 60 }, { 70 } },
      threshold = { 50, 50 }, threshold_out = { 100 },
    }
  end
  local function with(k, v)
    local s = base()
    s[k] = v
    return s
  end
  local function err(X, spec, msg, opts)
    assert.has_error(function() X.from_specification(spec, opts) end, "bad argument #1 to 'from_specification' (" .. msg .. ")")
  end

  it("names the field for values out of range", function()
    err(A2, with("weights_in", { { 128, 0 }, { 0, 1 } }), "field 'weights_in': values must be in -128..127, got 128")
    err(A2, with("weights_rec", { { 0, -129 }, { 0, 1 } }), "field 'weights_rec': values must be in -128..127, got -129")
    err(A2, with("dash_mem", { 16, 0 }), "field 'dash_mem': values must be in 0..15, got 16")
    err(A2, with("dash_syn_out", { -1 }), "field 'dash_syn_out': values must be in 0..15, got -1")
    err(A2, with("threshold", { 32768, 1 }), "field 'threshold': values must be in -32768..32767, got 32768")
    err(A2, with("bias_out", { -40000 }), "field 'bias_out': values must be in -32768..32767, got -40000")
    err(A2, with("weight_shift_rec", 8), "field 'weight_shift_rec': values must be in 0..7, got 8")
    err(A2, with("threshold", { 1.5, 2 }), "field 'threshold': values must be integers, got 1.5")
    err(A2, with("dash_syn", "x"), "field 'dash_syn': expected a tensor or a table of integers, got string")
  end)

  it("checks shapes and names", function()
    err(A2, with("weights_in", nil), "field 'weights_in' is required")
    err(A2, with("treshold", { 1, 2 }), "unknown field 'treshold'")
    err(A2, with("dash_mem", { 1, 2, 3 }), "field 'dash_mem': expected 2 values (one per hidden neuron), got shape (3,)")
    err(A2, with("threshold_out", { 1, 2 }), "field 'threshold_out': expected 1 values (one per output neuron), got shape (2,)")
    err(A2, with("weights_in", { 1, 2 }), "field 'weights_in': expected 2 or 3 dims, got shape (2,)")
    err(A2, with("weights_rec", { { 1, 2, 3 }, { 1, 2, 3 } }), "field 'weights_rec': expected shape (Nhid, Nhid[, S]), got (2, 3)")
    err(A2, with("weights_in", lp.zeros({ 2, 2, 3 }, "int32")),
      "field 'weights_in': the synapse axis must have size 1 or 2, got shape (2, 2, 3)")
    err(A2, with("aliases", { {}, { 3 } }), "field 'aliases': neuron 2: target 3 is not a hidden neuron (1..2)")
    err(A2, with("aliases", { {}, { 1, 2 } }), "field 'aliases': neuron 2 has 2 targets, Xylo Audio 2 allows one")
    err(A2, with("aliases", { {} }), "field 'aliases': expected 2 lists (one per hidden neuron), got 1")
    assert.has_error(function() A2.from_specification(base(), { output_mode = "spikes" }) end,
      "bad argument #2 to 'from_specification' (field 'output_mode' must be one of Spike, Vmem, Isyn, got 'spikes')")
    assert.has_error(function() A2.from_specification(base(), { dtt = 1 }) end,
      "bad argument #2 to 'from_specification' (unknown field 'dtt')")
    assert.has_error(function() xs.for_variant("audio9") end,
      "bad argument #1 to 'for_variant' (unknown Xylo variant 'audio9'; expected audio2, audio3 or imu)")
  end)

  it("checks the variant's sizes", function()
    err(A2, with("weights_in", lp.zeros({ 17, 2 }, "int32")), "field 'weights_in': 17 input channels, Xylo Audio 2 has at most 16")
    err(A2, with("weights_out", lp.zeros({ 2, 9 }, "int32")), "field 'weights_out': 9 output neurons, Xylo Audio 2 has at most 8")
    local big = { weights_in = lp.zeros({ 2, 1001 }, "int32"), weights_out = lp.zeros({ 1001, 1 }, "int32") }
    err(A2, big, "1001 hidden neurons, Xylo Audio 2 has at most 1000")
    err(IMU, with("weights_in", lp.zeros({ 2, 2, 2 }, "int32")), "field 'weights_in': 2 synapses per neuron, Xylo IMU has 1")
    local w_in = lp.zeros({ 2, 200 }, "int32")
    w_in:set(1, 150, 3)
    err(A3, { weights_in = w_in, weights_out = lp.zeros({ 200, 1 }, "int32") },
      "field 'weights_in': hidden neuron 150 receives input, Xylo Audio 3 allows input only to the first 128")
    local w_out = lp.zeros({ 200, 1 }, "int32")
    w_out:set(5, 1, 3)
    err(IMU, { weights_in = lp.zeros({ 2, 200 }, "int32"), weights_out = w_out },
      "field 'weights_out': hidden neuron 5 drives the readout, Xylo IMU reads out only the last 128")
  end)

  it("checks fan-out and the recurrent weight total", function()
    local w = lp.zeros({ 100, 100, 2 }, "int32")
    for j = 1, 33 do w:set(7, j, 1, 1); w:set(7, j, 2, 1) end
    err(A2, { weights_in = lp.zeros({ 1, 100 }, "int32"), weights_out = lp.zeros({ 100, 1 }, "int32"), weights_rec = w },
      "field 'weights_rec': hidden neuron 7 has 66 recurrent weights, Xylo Audio 2 allows at most 64")
    local r = lp.zeros({ 1000, 1000 }, "int32")
    for i = 1, 1000 do for j = 1, 33 do r:set(i, (i + j) % 1000 + 1, 1) end end
    err(A2, { weights_in = lp.zeros({ 1, 1000 }, "int32"), weights_out = lp.zeros({ 1000, 1 }, "int32"), weights_rec = r },
      "field 'weights_rec': 33000 recurrent weights on synapse 1, Xylo Audio 2 allows at most 32000")
  end)

  it("checks the input", function()
    local sim = A2.from_specification(base())
    assert.has_error(function() sim({ { 1, 2, 3 } }) end,
      "bad argument #1 to 'evolve' (expected input counts (T, 2) or (B, T, 2), got shape (1, 3))")
    assert.has_error(function() sim(lp.tensor({ { 1, -1 } })) end,
      "bad argument #1 to 'evolve' (input counts must be non-negative (got -1))")
    assert.has_error(function() sim(lp.tensor({ { 1, 0.5 } })) end,
      "bad argument #1 to 'evolve' (input counts must be non-negative integers (got 0.5))")
    -- the contiguous int32 and float32 inputs are read without a per-value call: same checks
    assert.has_error(function() sim(lp.tensor({ { 1, -3 } }, "int32")) end,
      "bad argument #1 to 'evolve' (input counts must be non-negative (got -3))")
    assert.has_error(function() sim(lp.tensor({ { 1, -1 } }, "float32")) end,
      "bad argument #1 to 'evolve' (input counts must be non-negative integers (got -1))")
    local okn, msgn = pcall(sim, lp.tensor({ { 0 / 0, 1 } }, "float32"))
    assert.is_false(okn)
    assert.is_truthy(msgn:find("input counts must be non-negative integers (got ", 1, true) and msgn:find("nan", 1, true))
    assert.has_error(function() sim(lp.tensor({ { 2.5, 1 } }, "float32")) end,
      "bad argument #1 to 'evolve' (input counts must be non-negative integers (got 2.5))")
    local ok_in = lp.tensor({ { 1, 0 }, { 20, 3 } })
    local function fresh(x) sim:reset_state() return (sim(x, true)) end
    assert.is_true(equal(fresh(ok_in), fresh(ok_in:astype("int32"))))
    assert.is_true(equal(fresh(ok_in), fresh(ok_in:astype("float32"))))
    assert.has_error(function() sim("x") end,
      "bad argument #1 to 'evolve' (expected input counts (T, 2) or (B, T, 2), got string)")
  end)
end)
