-- spec/dynapse2/quantize_spec.lua -- limpet.dynapse2.quantize: the autoencoder weight
-- quantisation (reference/dynapse2.md §5) on the §12 trained network (Rockpool's
-- test_deployment_steps.py tolerances), determinism, clusters, options.
local lp = require "limpet"
local D = require "limpet.dynapse2.mapper"
local Q = require "limpet.dynapse2.quantize"
local C = require "support.dynapse_cases"

-- the §12 frozen-noise network: Linear(60 -> 2) + recurrent DynapSim(2), default currents
local function frozen_noise_spec()
  local win = lp.load("spec/fixtures/dynapse2/w_in_optimized.npy")
  local wrec = lp.load("spec/fixtures/dynapse2/w_rec_optimized.npy")
  local net = lp.nn.Sequential { lp.nn.Linear({ 60, 2 }, { weight = win }),
    lp.nn.DynapSim(2, { has_rec = true, w_rec = wrec }) }
  -- weights survive the construction exactly (test_deployment_steps.py)
  assert.tensor_near(win, net[1].weight, 0)
  assert.tensor_near(wrec, net[2].w_rec, 0)
  return D.mapper(net:as_graph())
end

local function max_abs(a, b) return (a - b):abs():max():item() end

describe("dynapse2 weight quantisation", function()
  local spec = frozen_noise_spec()

  describe("the §12 network", function()
    local q, report = Q.autoencoder_quantization(spec)

    it("reconstructs the weights within atol 5 (input) and 3 (recurrent)", function()
      local w_in, w_rec = Q.reconstruct_weights(q)
      assert.is_true(max_abs(w_in, spec.weights_in) <= 5)
      assert.is_true(max_abs(w_rec, spec.weights_rec) <= 3)
      -- the binary start does much better than the tolerance
      assert.is_true(max_abs(w_in, spec.weights_in) <= 1)
      assert.is_true(max_abs(w_rec, spec.weights_rec) <= 1)
    end)

    it("does so from Rockpool's random (kaiming) start too", function()
      local qk = Q.autoencoder_quantization(spec, { init = "kaiming", seed = 1 })
      local w_in, w_rec = Q.reconstruct_weights(qk)
      assert.is_true(max_abs(w_in, spec.weights_in) <= 5)
      assert.is_true(max_abs(w_rec, spec.weights_rec) <= 3)
    end)

    it("returns 4-bit masks, signs and non-negative base currents", function()
      assert.equal("int32", q.weights_in.dtype)
      assert.same({ 60, 2 }, q.weights_in.shape)
      assert.same({ 2, 2 }, q.weights_rec.shape)
      assert.is_true(q.weights_in:min():item() >= 0 and q.weights_in:max():item() <= 15)
      assert.tensor_near(spec.weights_in:sign():astype("int32"), q.sign_in, 0)
      assert.tensor_near(spec.weights_rec:sign():astype("int32"), q.sign_rec, 0)
      for k = 0, 3 do
        assert.equal(1, q["Iw_" .. k]:numel())
        assert.is_true(q["Iw_" .. k]:get(1) >= 0)
      end
      -- base currents in amperes: the largest weight (15.03) is about Σ Iw / Iscale
      local sum = q.Iw_0:get(1) + q.Iw_1:get(1) + q.Iw_2:get(1) + q.Iw_3:get(1)
      assert.is_true(math.abs(sum / 1e-8 - 15.03) < 1.5)
      assert.equal(report.loss, q.quantization_loss)
      assert.is_true(report.steps[1] >= 6000)          -- at least 6 blocks before it stops
      -- everything else is carried over
      assert.equal(spec.core_map, q.core_map)
      assert.equal(spec.Itau_mem, q.Itau_mem)
    end)

    it("is deterministic", function()
      local q2 = Q.autoencoder_quantization(spec)
      assert.tensor_near(q.weights_in, q2.weights_in, 0)
      for k = 0, 3 do assert.equal(q["Iw_" .. k]:get(1), q2["Iw_" .. k]:get(1)) end
      local a = Q.autoencoder_quantization(spec, { init = "kaiming", seed = 5, fixed_epoch = true, num_epoch = 300 })
      local b = Q.autoencoder_quantization(spec, { init = "kaiming", seed = 5, fixed_epoch = true, num_epoch = 300 })
      local c = Q.autoencoder_quantization(spec, { init = "kaiming", seed = 6, fixed_epoch = true, num_epoch = 300 })
      assert.equal(a.Iw_2:get(1), b.Iw_2:get(1))
      assert.tensor_near(a.weights_in, b.weights_in, 0)
      assert.are_not.equal(a.Iw_2:get(1), c.Iw_2:get(1))
    end)
  end)

  it("runs exactly num_epoch steps with fixed_epoch and records the loss", function()
    local _, rep = Q.autoencoder_quantization(spec, { fixed_epoch = true, num_epoch = 250, record_loss = true,
      optimizer = "sgd", step_size = 1e-3 })
    assert.equal(250, rep.steps[1])
    assert.equal(250, #rep.history[1])
  end)

  it("quantises each cluster on its own", function()
    local case = C.by_name("linear_dynapsim_rec_2clusters")
    local s = D.mapper(C.graph(case.layers), { n_cluster = 2 })
    local q = Q.autoencoder_quantization(s)
    assert.equal(2, q.Iw_3:numel())
    assert.are_not.equal(q.Iw_3:get(1), q.Iw_3:get(2))
    local w_in, w_rec = Q.reconstruct_weights(q)
    -- uniform 4-bit steps of max|w| / 15 per cluster at worst
    assert.is_true(max_abs(w_in, s.weights_in) <= 0.5)
    assert.is_true(max_abs(w_rec, s.weights_rec) <= 0.5)
    -- zero weights stay zero, with sign 0
    local zero = s.weights_rec:eq(0)
    assert.equal(0, q.weights_rec:astype("float64"):mul(zero:astype("float64")):sum():item())
    assert.equal(0, q.sign_rec:abs():astype("float64"):mul(zero:astype("float64")):sum():item())
  end)

  it("gives zero base currents to a network without weights", function()
    local s = D.mapper(C.graph(C.by_name("dynapsim_alone").layers))
    local q, rep = Q.autoencoder_quantization(s)
    assert.is_nil(q.weights_in)
    assert.is_nil(q.weights_rec)
    for k = 0, 3 do assert.equal(0, q["Iw_" .. k]:get(1)) end
    assert.equal(0, rep.steps[1])
  end)

  it("rejects bad arguments by name", function()
    assert.has_error(function() Q.autoencoder_quantization(spec, { optimizer = "sm3" }) end,
      "bad argument #2 to 'autoencoder_quantization' (The optimizer : sm3 is not available! Try one of adam, adamw, sgd, momentum, nesterov, rmsprop, rmsprop_momentum)")
    local s = {}
    for k, v in pairs(spec) do s[k] = v end
    s.Iscale = nil
    assert.has_error(function() Q.autoencoder_quantization(s) end,
      "bad argument #1 to 'autoencoder_quantization' (Iscale should be float! (field 'Iscale' is nil))")
    assert.has_error(function() Q.autoencoder_quantization(spec, { n_bits = 5 }) end,
      "bad argument #2 to 'autoencoder_quantization' (field 'n_bits' must be an integer in 1..4, got 5)")
    assert.has_error(function() Q.autoencoder_quantization(spec, { lr = 1 }) end,
      "bad argument #2 to 'autoencoder_quantization' (unknown field 'lr')")
  end)
end)
