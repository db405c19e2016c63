-- spec/dynapse2/simulate_spec.lua -- limpet.dynapse2.simulate: the network a specification
-- (from_spec) or a configuration (from_config) stands for; Rockpool's
-- test_deployment_steps.py assertions on the §12 network (reference/dynapse2.md §12).
local lp = require "limpet"
local nn = lp.nn
local D = require "limpet.dynapse2.mapper"
local Q = require "limpet.dynapse2.quantize"
local Cfg = require "limpet.dynapse2.config"
local S = require "limpet.dynapse2.simulate"
local C = require "support.dynapse_cases"

local CURRENTS = D.CURRENTS

local function frozen_noise_net(opts)
  local o = { has_rec = true, w_rec = lp.load("spec/fixtures/dynapse2/w_rec_optimized.npy") }
  for k, v in pairs(opts or {}) do o[k] = v end
  return nn.Sequential { nn.Linear({ 60, 2 }, { weight = lp.load("spec/fixtures/dynapse2/w_in_optimized.npy") }),
    nn.DynapSim(2, o) }
end

local function max_rel(a, b) return ((a - b):abs() / b:abs()):max():item() end
local function max_abs(a, b) return (a:astype("float64") - b:astype("float64")):abs():max():item() end

describe("dynapse2 simulation of specifications and configurations", function()
  describe("Rockpool's test_deployment_steps.py", function()
    local net = frozen_noise_net()
    local spec = D.mapper(net:as_graph())

    it("mapper + from_spec gives back the weights, Iscale and every current exactly", function()
      local back = S.from_spec(spec)
      assert.tensor_near(net[1].weight, back[1].weight, 0)
      assert.tensor_near(net[2].w_rec, back[2].w_rec, 0)
      assert.equal(net[2].Iscale, back[2].Iscale)
      for _, k in ipairs(CURRENTS) do assert.tensor_near(net[2][k], back[2][k], 0) end
    end)

    it("stays within rtol 0.05 of a network with 5 % construction mismatch", function()
      local mnet = frozen_noise_net { percent_mismatch = 0.05, seed = 2021 }
      local back = S.from_spec(D.mapper(mnet:as_graph()))
      for _, k in ipairs(CURRENTS) do
        assert.is_true(max_rel(back[2][k]:astype("float64"), mnet[2][k]:astype("float64")) <= 0.05, k)
      end
    end)

    it("after the configuration round trip: weights within atol 5 / 3, currents within rtol 0.2", function()
      local q = Q.autoencoder_quantization(spec)
      local cfg = Cfg.from_specification(q)
      local back = S.from_config(cfg)
      assert.is_true(max_abs(back[1].weight, net[1].weight) <= 5)
      assert.is_true(max_abs(back[2].w_rec, net[2].w_rec) <= 3)
      for _, k in ipairs(CURRENTS) do
        assert.is_true(max_rel(back[2][k]:astype("float64"), net[2][k]:astype("float64")) <= 0.2, k)
      end
      assert.equal(net[2].Iscale, back[2].Iscale)
      assert.equal(net[2].dt, back[2].dt)
    end)
  end)

  describe("from_config", function()
    local case = C.by_name("linear_dynapsim_rec_2clusters")
    local spec = D.mapper(C.graph(case.layers), { n_cluster = 2 })
    local q = Q.autoencoder_quantization(spec)
    local cfg = Cfg.from_specification(q)
    local B = require "limpet.dynapse2.biasgen"

    it("rebuilds the quantised weights, across clusters, through the base currents' codes", function()
      local net = S.from_config(cfg, { dtype = "float64" })
      local w_in, w_rec = Q.reconstruct_weights(q)
      -- each weight is a sum of base currents restored from their codes: within the DAC's
      -- error of the currents (a few per cent at most) of the quantised weights
      local function close(got, want)
        local err = (got - want):abs()
        local bound = want:abs() * 0.05 + 1e-9
        assert.equal(0, err:gt(bound):astype("float64"):sum():item())
        assert.tensor_near(want:ne(0):astype("float64"), got:ne(0):astype("float64"), 0)
      end
      close(net[1].weight, w_in)
      close(net[2].w_rec, w_rec)
      -- neuron 1 (core 1) reaches the neurons of core 2 as well
      assert.is_true(net[2].w_rec:slice(1, 1, 1):slice(2, 7, 12):ne(0):astype("float64"):sum():item() > 0)
    end)

    it("takes each neuron's currents from its core's bias codes", function()
      local net = S.from_config(cfg, { dtype = "float64" })
      for j = 1, 12 do
        local a = cfg.neurons[j]
        local p = cfg.chips[a.chip].cores[a.core].parameters
        local code = p.SOIF_LEAK_N
        assert.equal(B.digital_to_analog(code[1], code[2], "SOIF_LEAK_N"), net[2].Itau_mem:get(j))
        code = p.SOIF_SPKTHR_P
        assert.equal(B.digital_to_analog(code[1], code[2], "SOIF_SPKTHR_P"), net[2].Ispkthr:get(j))
        -- every synapse type got the same combined current, so the weighted mean is it
        code = p.DEAM_ETAU_P
        local want = B.digital_to_analog(code[1], code[2], "DEAM_ETAU_P")
        assert.is_true(math.abs(net[2].Itau_syn:get(j) - want) <= 1e-12 * want)
      end
      -- the two clusters have their own parameter groups
      assert.are_not.equal(net[2].Ispkthr:get(1), net[2].Ispkthr:get(12))
    end)

    it("is the same network after a JSON round trip", function()
      local path = (os.getenv("TMPDIR") or "/tmp") .. ("/limpet_d2sim_%d.json"):format(math.random(1, 1e9))
      assert.is_true(Cfg.save(cfg, path))
      local a = S.from_config(cfg, { dtype = "float64" })
      local b = S.from_config(Cfg.load(path), { dtype = "float64" })
      os.remove(path)
      assert.tensor_near(a[1].weight, b[1].weight, 0)
      assert.tensor_near(a[2].w_rec, b[2].w_rec, 0)
      for _, k in ipairs(CURRENTS) do assert.tensor_near(a[2][k], b[2][k], 0) end
    end)

    it("applies seeded frozen mismatch when asked", function()
      local plain = S.from_config(cfg, { dtype = "float64" })
      local m1 = S.from_config(cfg, { dtype = "float64", percent_mismatch = 0.1, seed = 3 })
      local m2 = S.from_config(cfg, { dtype = "float64", percent_mismatch = 0.1, seed = 3 })
      assert.tensor_near(m1[2].Itau_mem, m2[2].Itau_mem, 0)
      assert.is_true(max_abs(m1[2].Itau_mem, plain[2].Itau_mem) > 0)
      assert.is_true(max_rel(m1[2].Itau_mem, plain[2].Itau_mem) < 0.3)
    end)

    it("switches the DC current off where the latch is off, and ignores entries no sender reaches", function()
      local c2 = cfg
      local x = c2.chips[1].cores[1].neurons[1]
      local before = S.from_config(c2, { dtype = "float64" })
      x.latch_so_dc = false
      x.synapses[#x.synapses + 1] = { dendrite = "ampa", weight = { 1, 1, 1, 1 }, tag = 1500 }
      local after = S.from_config(c2, { dtype = "float64" })
      x.latch_so_dc = true
      x.synapses[#x.synapses] = nil
      assert.equal(0, after[2].Idc:get(1))
      assert.is_true(before[2].Idc:get(1) > 0)
      assert.tensor_near(before[1].weight, after[1].weight, 0)
      assert.tensor_near(before[2].w_rec, after[2].w_rec, 0)
    end)

    it("runs and spikes", function()
      lp.seed(2023)
      local net = S.from_config(cfg)
      local x = lp.bernoulli(0.1, 1, 200, 8)
      local out = net(x)
      assert.same({ 1, 200, 12 }, out.shape)
      assert.is_true(out:sum():item() > 0)
    end)

    it("rejects what is not a configuration", function()
      assert.has_error(function() S.from_config({}) end,
        "bad argument #1 to 'from_config' (Dynapse2Config expected (config_from_specification or load_config), got table)")
      assert.has_error(function() S.from_config(cfg, { mismatch = 1 }) end,
        "bad argument #2 to 'from_config' (unknown field 'mismatch')")
      assert.equal(S.from_config, lp.dynapse2.from_config)
      assert.equal(S.from_spec, lp.dynapse2.from_spec)
    end)
  end)
end)
