-- spec/xylo/quantize_spec.lua -- limpet.xylo.quantize: global_quantize and
-- channel_quantize reproduce Rockpool's integers on the oracle networks;
-- rounding, clipping, overflow, the report, carried fields, errors.
local lp = require "limpet"
local nn = lp.nn
local M = require "limpet.xylo.mapper"
local Q = require "limpet.xylo.quantize"

local cases_lib = require "support.mapper_cases"
local load_cases, build = cases_lib.load, cases_lib.build

local function ints(t) return t:reshape(-1):totable() end

-- a small float spec: 2 inputs, 3 hidden (1 synapse), 2 outputs
local function small(over)
  local s = {
    weights_in = { { 1.0, 0.5, 0.0 }, { -0.25, 0.0, 0.0 } },
    weights_rec = { { 0, 0.5, 0 }, { 0, 0, 0.2 }, { 0, 0, 0 } },
    weights_out = { { 0.1, 0 }, { 0, 0 }, { 0.2, -0.4 } },
    threshold = { 1.0, 2.0, 3.0 }, threshold_out = { 0.5, 1.0 },
    dash_mem = { 4.4, 4.5, 5.5 }, dash_syn = { 1, 2, 3 }, dash_mem_out = { 2.5, 3.5 }, dash_syn_out = { 0.2, 16.7 },
    weight_shift_in = 0, weight_shift_rec = 0, weight_shift_out = 0,
    aliases = { {}, {}, {} }, dt = 1e-3,
  }
  for k, v in pairs(over or {}) do s[k] = v end
  return s
end

describe("xylo quantisers", function()
  describe("Rockpool's oracle networks", function()
    for _, case in ipairs(load_cases()) do
      for _, name in ipairs { "global_quantize", "channel_quantize" } do
        it(name .. " of '" .. case.name .. "' gives the same integers", function()
          local spec = M.mapper(nn.Sequential(build(case.layers)):as_graph(), "audio2")
          local q, report = Q[name](spec)
          for k, v in pairs(case[name]) do
            local want = lp.tensor(v, "int64")
            assert.equal("int32", q[k].dtype)
            assert.same(want.shape, q[k].shape)
            assert.same(ints(want), ints(q[k]))
          end
          assert.equal(0, report.clipped)
          assert.equal(spec.mapped_graph, q.mapped_graph)   -- carried over
          assert.equal(spec.aliases, q.aliases)
          assert.equal(spec.dt, q.dt)
          assert.equal("float64", spec.weights_in.dtype)     -- the input is untouched
        end)
      end
    end
  end)

  it("rounds half to even", function()
    assert.same({ 0, 2, 2, -0.0, -2, 4, -4 }, {
      Q.round_half_even(0.5), Q.round_half_even(1.5), Q.round_half_even(2.5), Q.round_half_even(-0.5),
      Q.round_half_even(-1.5), Q.round_half_even(3.7), Q.round_half_even(-3.7) })
    -- scale 1: max |w| is 127
    local q = Q.global_quantize(small {
      weights_in = { { 127, 0.5, 1.5 }, { 2.5, -0.5, -1.5 } }, weights_rec = lp.zeros({ 3, 3 }),
      threshold = { 2.5, 3.5, -2.5 } })
    assert.same({ 127, 0, 2, 2, 0, -2 }, ints(q.weights_in))
    assert.same({ 2, 4, -2 }, ints(q.threshold))
    assert.same({ 4, 4, 6 }, ints(q.dash_mem))
  end)

  it("global_quantize: one scale for input and recurrent weights, one for the readout", function()
    local q, r = Q.global_quantize(small())
    assert.equal(127, r.scale)
    assert.near(127 / 0.4, r.scale_out, 1e-12)
    assert.same({ 2, 3, 1 }, q.weights_in.shape)
    assert.same({ 127, 64, 0, -32, 0, 0 }, ints(q.weights_in))
    assert.same({ 0, 64, 0, 0, 0, 25, 0, 0, 0 }, ints(q.weights_rec))
    assert.same({ 32, 0, 0, 0, 64, -127 }, ints(q.weights_out))
    assert.same({ 127, 254, 381 }, ints(q.threshold))
    assert.same({ 159, 318 }, ints(q.threshold_out))
    assert.same({ 2, 4 }, ints(q.dash_mem_out))
    assert.same({ 0, 15 }, ints(q.dash_syn_out))      -- 16.7 is clipped to 15
    assert.equal(1, r.clipped_dashes)
    assert.is_false(r.threshold_rescaled)
  end)

  it("global_quantize scales biases with the scale of their layer", function()
    local q = Q.global_quantize(small { bias = { 0.5, 0, 0 }, bias_out = { 0.2, 0 } })
    assert.same({ 64, 0, 0 }, ints(q.bias))
    assert.same({ 64, 0 }, ints(q.bias_out))           -- with the readout scale 127 / 0.4
  end)

  it("global_quantize shrinks a scale that would overflow the thresholds", function()
    local q, r = Q.global_quantize(small { threshold = { 1, 2, 1000 } })
    assert.is_true(r.threshold_rescaled)
    assert.near(32.767, r.scale, 1e-12)
    assert.same({ 33, 66, 32767 }, ints(q.threshold))
    assert.same({ 33, 16, 0, -8, 0, 0 }, ints(q.weights_in))
    assert.same({ 32, 0, 0, 0, 64, -127 }, ints(q.weights_out))   -- the readout keeps its scale
  end)

  it("global_quantize with fuzzy scaling clips the weights beyond the scale", function()
    local q, r = Q.global_quantize(small { weights_in = { { 1, 1, 1 }, { 1, 1, 10 } }, weights_rec = lp.zeros({ 3, 3 }) },
      { fuzzy_scaling = true })
    -- nonzero entries 1,1,1,1,1,10: mean 2.5, std sqrt(11.25)
    local m = 2.5 + 2 * math.sqrt(11.25)
    assert.near(127 / m, r.scale, 1e-12)
    local w = Q.round_half_even(127 / m)
    assert.same({ w, w, w, w, w, 127 }, ints(q.weights_in))
    assert.equal(1, r.clipped)
  end)

  it("honours bits_per_weight and bits_per_threshold", function()
    local q = Q.global_quantize(small(), { bits_per_weight = 4, bits_per_threshold = 8 })
    assert.same({ 7, 4, 0, -2, 0, 0 }, ints(q.weights_in))
    assert.same({ 7, 14, 21 }, ints(q.threshold))
  end)

  it("channel_quantize: one scale per target neuron", function()
    local q, r = Q.channel_quantize(small { bias = { 1, 1, 1 } })
    -- hidden 1: max 1 -> 127; hidden 2: max 0.5 -> 254; hidden 3: max 0.2 -> 635
    assert.tensor_near(lp.tensor({ 127, 254, 635 }, "float64"), r.scale, 1e-12)
    assert.same({ 127, 127, 0, -32, 0, 0 }, ints(q.weights_in))
    assert.same({ 0, 127, 0, 0, 0, 127, 0, 0, 0 }, ints(q.weights_rec))
    assert.same({ 127, 508, 1905 }, ints(q.threshold))
    assert.same({ 127, 254, 635 }, ints(q.bias))       -- every bias, one synapse or two
    assert.tensor_near(lp.tensor({ 635, 317.5 }, "float64"), r.scale_out, 1e-12)
    assert.same({ 64, 0, 0, 0, 127, -127 }, ints(q.weights_out))
    assert.same({ 318, 318 }, ints(q.threshold_out))
  end)

  it("channel_quantize keeps the threshold unscaled for a neuron without weights", function()
    local q, r = Q.channel_quantize(small { weights_in = { { 1, 0.5, 0 }, { 0, 0, 0 } },
      weights_rec = lp.zeros({ 3, 3 }), threshold = { 1, 2, 2.5 } })
    assert.equal(1, r.scale:get(3))
    assert.equal(2, q.threshold:get(3))
  end)

  it("channel_quantize handles input weights to the first neurons only (IMU / Audio 3 layout)", function()
    local q = Q.channel_quantize(small { weights_in = { { { 1 } }, { { -0.5 } } },
      weights_rec = { { { 0 }, { 0.5 }, { 0 } }, { { 0 }, { 0 }, { 0.2 } }, { { 0 }, { 0 }, { 0 } } } })
    assert.same({ 2, 1, 1 }, q.weights_in.shape)
    assert.same({ 127, -64 }, ints(q.weights_in))
    assert.same({ 0, 127, 0, 0, 0, 127, 0, 0, 0 }, ints(q.weights_rec))
  end)

  it("channel_quantize shrinks a neuron's scale that would overflow its threshold", function()
    local q = Q.channel_quantize(small { threshold = { 1, 2, 1000 } })
    assert.equal(32767, q.threshold:get(3))
    assert.equal(Q.round_half_even(0.2 * 32.767), q.weights_rec:get(2, 3, 1))
  end)

  it("carries every other field over", function()
    local s = small { note = "mine" }
    local q = Q.channel_quantize(s)
    assert.equal("mine", q.note)
    assert.equal(s.aliases, q.aliases)
    assert.equal(0, q.weight_shift_rec)
    assert.is_nil(q.bias)
  end)

  it("rejects bad specs and options by name", function()
    assert.has_error(function() Q.global_quantize(5) end,
      "bad argument #1 to 'global_quantize' (specification table expected, got number)")
    assert.has_error(function() Q.global_quantize(small { threshold_out = false }) end,
      "bad argument #1 to 'global_quantize' (field 'threshold_out': tensor or table expected, got boolean)")
    local s = small(); s.weights_out = nil
    assert.has_error(function() Q.channel_quantize(s) end,
      "bad argument #1 to 'channel_quantize' (field 'weights_out' is required)")
    assert.has_error(function() Q.global_quantize(small { weights_rec = lp.zeros({ 2, 3 }) }) end,
      "bad argument #1 to 'global_quantize' (field 'weights_rec': expected shape (3, 3[, S]) for 3 hidden neurons, got (2, 3))")
    assert.has_error(function() Q.global_quantize(small { weights_out = lp.zeros({ 3, 3 }) }) end,
      "bad argument #1 to 'global_quantize' (field 'weights_out': expected shape (<= 3, 2), got (3, 3))")
    assert.has_error(function() Q.global_quantize(small { threshold = { 1, 0 / 0, 1 } }) end,
      "bad argument #1 to 'global_quantize' (field 'threshold': element 2 is not finite)")
    assert.has_error(function() Q.global_quantize(small(), { fuzzy = true }) end,
      "bad argument #2 to 'global_quantize' (unknown field 'fuzzy')")
    assert.has_error(function() Q.channel_quantize(small(), { fuzzy_scaling = true }) end,
      "bad argument #2 to 'channel_quantize' (unknown field 'fuzzy_scaling')")
    assert.has_error(function() Q.global_quantize(small(), { bits_per_weight = 1 }) end,
      "bad argument #2 to 'global_quantize' (field 'bits_per_weight' must be an integer in 2..32, got 1)")
  end)
end)
