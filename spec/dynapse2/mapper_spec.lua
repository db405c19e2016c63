-- spec/dynapse2/mapper_spec.lua -- limpet.dynapse2.mapper: Rockpool's mapped and refused
-- oracle networks (spec/fixtures/dynapse_mapper), the assertions of Rockpool's
-- test_mapping.py (reference/dynapse2.md §12), clustering and option errors.
local lp = require "limpet"
local json = require "limpet.json"
local nn, G = lp.nn, lp.graph
local D = require "limpet.dynapse2.mapper"
local C = require "support.dynapse_cases"

local CURRENTS = D.CURRENTS

-- max relative difference between a nested table / tensor and a tensor
local function max_rel(want, got)
  local a = lp.tensor(want, "float64"):reshape(-1):totable()
  local b = got:reshape(-1):totable()
  assert.equal(#a, #b)
  local worst = 0
  for i = 1, #a do
    if a[i] ~= b[i] then worst = math.max(worst, math.abs(a[i] - b[i]) / math.abs(a[i])) end
  end
  return worst
end

local function refusal(f)
  local ok, err = pcall(f)
  assert.is_false(ok, "expected a refusal")
  return tostring(err)
end

-- nn.DynapSim(N) with default currents, as a graph (with w_rec if given)
local function dynapsim(N, w_rec)
  return nn.DynapSim(N, { dtype = "float64", has_rec = w_rec and true or nil, w_rec = w_rec }):as_graph()
end
local function chain(list)
  for i = 2, #list do G.connect_modules(list[i - 1], list[i]) end
  return G.GraphHolder(list[1].input_nodes, list[#list].output_nodes, "net", nil)
end
local function linear(a, b, v)
  return G.LinearWeights:factory(a, b, "lin", nil, { weights = v or lp.randn(a, b, "float64") })
end
local function lif(N, rec)
  return nn.LIF(N, { tau_mem = 0.02, tau_syn = 0.01, has_rec = rec or nil,
    w_rec = rec and lp.randn(N, N) or nil }):as_graph()
end

describe("dynapse2 mapper", function()
  describe("Rockpool's oracle networks", function()
    for _, case in ipairs(C.load()) do
      if case.spec then
        it("maps '" .. case.name .. "' to the same spec", function()
          local spec = D.mapper(C.graph(case.layers), C.opts(case))
          local e = case.spec
          for _, k in ipairs { "weights_in", "weights_rec" } do
            if e[k] == json.null then
              assert.is_nil(spec[k])
            else
              assert.equal("float64", spec[k].dtype)
              assert.equal(0, max_rel(e[k], spec[k]))            -- exactly
            end
          end
          assert.equal(e.Iscale, spec.Iscale)
          assert.equal(e.n_neuron, spec.n_neuron)
          assert.equal(e.n_cluster, spec.n_cluster)
          -- LIF layers: Rockpool divides in float32 (README: <= 1e-7 relative); DynapSim: exact
          local lif_net = case.layers[#case.layers].kind == "LIF"
          local tol = lif_net and 1e-7 or 0
          -- cluster ids are 1-based; Rockpool's out-of-range tail ids (>= n_cluster) are
          -- replaced by ours (mapper.lua header): every in-range id is Rockpool's
          local same = {}
          for c = 1, e.n_cluster do same[c] = true end
          for i, id in ipairs(e.core_map) do
            local got = spec.core_map[i]
            assert.is_true(got >= 1 and got <= e.n_cluster)
            if id < e.n_cluster then
              assert.equal(id + 1, got)
            else
              same[got] = false                                  -- this cluster gained a tail neuron
            end
          end
          for _, k in ipairs(CURRENTS) do
            assert.is_true(max_rel(e.unclustered[k], spec.unclustered[k]) <= tol, k)
            for c = 1, e.n_cluster do
              if same[c] then
                local want, got = e.clustered[k][c], spec[k]:get(c)
                assert.is_true(want == got or math.abs(want - got) <= 1e-12 * math.abs(want) + tol * math.abs(want), k)
              end
            end
          end
          assert.is_true(G.is_a(spec.mapped_graph, G.GraphHolder))
        end)
      end
    end

      it("gets the same spec from hand-built DynapSim graphs", function()
      for _, name in ipairs { "dynapsim_alone_rec", "linear_dynapsim_rec_2clusters" } do
        local case = C.by_name(name)
        local a = D.mapper(C.graph(case.layers), C.opts(case))
        local gs = {}
        for i, L in ipairs(case.layers) do
          gs[i] = L.kind == "DynapSim" and C.dynapsim_graph(L) or nn.Linear(L.shape, { weight = L.weight }):as_graph()
        end
        local b = D.mapper(#gs == 1 and gs[1] or (function()
          G.connect_modules(gs[1], gs[2])
          return G.GraphHolder(gs[1].input_nodes, gs[2].output_nodes, "net", nil)
        end)(), C.opts(case))
        if a.weights_in then assert.tensor_near(a.weights_in, b.weights_in, 0) end
        assert.tensor_near(a.weights_rec, b.weights_rec, 0)
        for _, k in ipairs(CURRENTS) do assert.tensor_near(a.unclustered[k], b.unclustered[k], 0) end
        assert.same(a.core_map, b.core_map)
      end
    end)

  it("differs from Rockpool's core_map only on its out-of-range ids", function()
      local spec = D.mapper(C.graph(C.by_name("linear_dynapsim_rec_3clusters").layers), { n_cluster = 3 })
      assert.same({ 1, 1, 1, 2, 2, 2, 3, 3, 3, 3 }, spec.core_map)   -- Rockpool: ... 2, 2, 2, 3 (0-based)
      spec = D.mapper(C.graph(C.by_name("lif_4layer_max_neuron_per_cluster_8").layers), { max_neuron_per_cluster = 8 })
      local count = { 0, 0, 0, 0 }
      for _, c in ipairs(spec.core_map) do count[c] = count[c] + 1 end
      assert.same({ 7, 7, 8, 8 }, count)                             -- Rockpool: 7, 7, 7, 7 and 2 in cluster 5
    end)

    for _, case in ipairs(C.load()) do
      if case.raises then
        it("refuses '" .. case.name .. "' with Rockpool's message", function()
          local err = refusal(function() return D.mapper(C.graph(case.layers), C.opts(case)) end)
          assert.equal("ValueError", case.raises.type)
          assert.truthy(err:find("dynapse2.mapper: " .. case.raises.message, 1, true), err)
        end)
      end
    end

    it("says what is wrong, where", function()
      local err = refusal(function()
        local c = C.by_name("refuse_consecutive_linear")
        return D.mapper(C.graph(c.layers))
      end)
      assert.truthy(err:find("are (8, 6); their place is (8, 4): rows 1..8, columns 1..4", 1, true), err)
      err = refusal(function() return D.mapper(C.graph(C.by_name("refuse_negative_current").layers)) end)
      assert.truthy(err:find("(Idc[2] = -2e-09 A)", 1, true), err)
    end)
  end)

  describe("Rockpool's test_mapping.py", function()
    it("refuses a DynapSim with no neurons", function()
      local err = refusal(function() return D.mapper(dynapsim(0)) end)
      assert.truthy(err:find("No LIF layers found!", 1, true), err)
    end)

    it("maps DynapSim(10) alone: no weights, 13 currents of 10, Iscale kept", function()
      local spec = D.mapper(dynapsim(10))
      assert.is_nil(spec.weights_in)
      assert.is_nil(spec.weights_rec)
      for _, k in ipairs(CURRENTS) do assert.equal(10, spec.unclustered[k]:numel()) end
      assert.equal(1e-8, spec.Iscale)
      assert.equal(10, spec.n_neuron)
    end)

    it("maps a recurrent DynapSim(10): a (10, 10) recurrent matrix", function()
      local w = lp.randn(10, 10, "float64")
      local spec = D.mapper(dynapsim(10, w))
      assert.same({ 10, 10 }, spec.weights_rec.shape)
      assert.tensor_near(w, spec.weights_rec, 0)
      assert.is_nil(spec.weights_in)
    end)

    it("maps Linear(10 -> 5) + DynapSim(5): w_in (10, 5)", function()
      local w = lp.randn(10, 5, "float64")
      local spec = D.mapper(chain { linear(10, 5, w), dynapsim(5) })
      assert.same({ 10, 5 }, spec.weights_in.shape)
      assert.tensor_near(w, spec.weights_in, 0)
      assert.is_nil(spec.weights_rec)
      local net = nn.Sequential { nn.Linear({ 10, 5 }, { weight = w }), nn.DynapSim(5, { has_rec = true }) }
      spec = D.mapper(net:as_graph())
      assert.tensor_near(net[1].weight, spec.weights_in, 0)
      assert.tensor_near(net[2].w_rec, spec.weights_rec, 0)
    end)

    it("maps Linear + LIF: an all-zero (5, 5) recurrent matrix without has_rec", function()
      for _, g in ipairs {
        chain { linear(10, 5), lif(5) },
        nn.Sequential { nn.Linear({ 10, 5 }), nn.LIF(5) }:as_graph(),
      } do
        local spec = D.mapper(g)
        assert.same({ 10, 5 }, spec.weights_in.shape)
        assert.tensor_near(lp.zeros({ 5, 5 }, "float64"), spec.weights_rec, 0)
      end
    end)

    local function four_layer(layer)
      local sizes = { 32, 16, 8, 4, 2 }
      local W, R, list = {}, {}, {}
      for i = 1, 4 do
        W[i] = lp.randn(sizes[i], sizes[i + 1], "float64")
        R[i] = lp.randn(sizes[i + 1], sizes[i + 1], "float64")
        list[#list + 1] = linear(sizes[i], sizes[i + 1], W[i])
        list[#list + 1] = layer(sizes[i + 1], R[i])
      end
      return chain(list), W, R
    end

    local function check_blocks(spec, W, R)
      assert.same({ 32, 30 }, spec.weights_in.shape)
      assert.same({ 30, 30 }, spec.weights_rec.shape)
      assert.tensor_near(W[1], spec.weights_in:slice(2, 1, 16), 0)
      assert.tensor_near(lp.zeros({ 32, 14 }, "float64"), spec.weights_in:slice(2, 17, 30), 0)
      local off = { 0, 16, 24, 28, 30 }
      local want = lp.zeros({ 30, 30 }, "float64")
      for j = 1, 4 do
        want:slice(1, off[j] + 1, off[j + 1]):slice(2, off[j] + 1, off[j + 1]):copy_(R[j])
        if j < 4 then want:slice(1, off[j] + 1, off[j + 1]):slice(2, off[j + 1] + 1, off[j + 2]):copy_(W[j + 1]) end
      end
      assert.tensor_near(want, spec.weights_rec, 0)
    end

    it("collapses a 4-layer DynapSim net 32-16-8-4-2 with the exact block placement", function()
      local g, W, R = four_layer(function(n, r) return dynapsim(n, r) end)
      local spec = D.mapper(g)
      check_blocks(spec, W, R)
      assert.equal(30, spec.n_neuron)
      assert.equal(30, spec.unclustered.Itau_mem:numel())
    end)

    it("collapses a 4-layer LIF net 32-16-8-4-2 with the exact block placement", function()
      local g, W, R = four_layer(function(n, r)
        return nn.LIF(n, { tau_mem = 0.02, tau_syn = 0.02, has_rec = true, w_rec = r:astype("float32") }):as_graph()
      end)
      for i = 1, 4 do R[i] = R[i]:astype("float32"):astype("float64") end
      check_blocks(D.mapper(g), W, R)
    end)

    it("refuses two consecutive LIF layers and two consecutive linear layers", function()
      local err = refusal(function() return D.mapper(chain { linear(4, 3), lif(3), lif(3) }) end)
      assert.truthy(err:find("LIF is at unexpected position! Reshape your network!", 1, true), err)
      err = refusal(function() return D.mapper(chain { linear(4, 3), linear(3, 3), lif(3) }) end)
      assert.truthy(err:find("Linear weights are at unexpected position! Reshape your network!", 1, true), err)
    end)
  end)

  describe("conversion of LIF layers (§4.2)", function()
    it("converts tau, threshold and bias with the layout defaults", function()
      local net = nn.Sequential { nn.Linear({ 3, 2 }), nn.LIF(2, { tau_mem = 0.02, tau_syn = 0.005, threshold = 1.5,
        bias = 0.25, dt = 1e-3 }) }
      local spec = D.mapper(net:as_graph())
      local k = 0.025 / 0.705
      local u = spec.unclustered
      assert.tensor_near(lp.full({ 2 }, k * 3e-12 / 0.02, "float64"), u.Itau_mem, 1e-7)
      assert.tensor_near(lp.full({ 2 }, 4 * k * 3e-12 / 0.02, "float64"), u.Igain_mem, 1e-7)
      assert.tensor_near(lp.full({ 2 }, k * 25e-12 / 0.005, "float64"), u.Itau_syn, 1e-7)
      assert.tensor_near(lp.full({ 2 }, 100 * k * 25e-12 / 0.005, "float64"), u.Igain_syn, 1e-7)
      assert.tensor_near(lp.full({ 2 }, 1.5e-8, "float64"), u.Ispkthr, 1e-12)
      assert.tensor_near(lp.full({ 2 }, 0.25e-8, "float64"), u.Idc, 1e-12)
      assert.tensor_near(lp.full({ 2 }, 3.5e-8, "float64"), u.Ipulse, 1e-12)
      assert.tensor_near(lp.full({ 2 }, 1.05e-9, "float64"), u.Iref, 1e-12)
      for _, z in ipairs { "Itau_ahp", "If_nmda", "Igain_ahp", "Ipulse_ahp", "Iw_ahp" } do
        assert.tensor_near(lp.zeros({ 2 }, "float64"), u[z], 0)
      end
      assert.equal(1e-3, spec.dt)
    end)

    it("leaves the graph it is given unchanged and returns a new one", function()
      local net = nn.Sequential { nn.Linear({ 3, 2 }), nn.LIF(2) }
      local g = net:as_graph()
      local spec = D.mapper(g)
      assert.equal(1, #G.find_modules_of_subclass(g, G.LIFNeuronWithSynsRealValue))
      local mg = spec.mapped_graph
      assert.equal(1, #G.find_modules_of_subclass(mg, D.DynapseNeurons))
      assert.equal(0, #G.find_modules_of_subclass(mg, G.LIFNeuronWithSynsRealValue))
      -- and the mapped graph maps to the same spec
      local again = D.mapper(mg)
      assert.tensor_near(spec.weights_in, again.weights_in, 0)
      assert.tensor_near(spec.weights_rec, again.weights_rec, 0)
    end)

    it("refuses weights after the last layer, other neuron kinds and unreached modules", function()
      local err = refusal(function() return D.mapper(chain { linear(4, 3), lif(3), linear(3, 2) }) end)
      assert.truthy(err:find("Dynap-SE2 networks end with neurons", 1, true), err)
      err = refusal(function()
        return D.mapper(nn.Sequential { nn.Linear({ 2, 2 }), nn.LIF(2), nn.Linear({ 2, 2 }), nn.LIF(2), nn.Rate(2) }:as_graph())
      end)
      assert.truthy(err:find("The graph module is not recognized! (RateNeuronWithSynsRealValue", 1, true), err)
      err = refusal(function() return D.mapper(nn.Sequential { nn.Linear({ 2, 2 }), nn.Rate(2) }:as_graph()) end)
      assert.truthy(err:find("No LIF layers found!", 1, true), err)
    end)
  end)

  describe("clustering (§4.4)", function()
    it("needs one cluster for 256 neurons and two for 257", function()
      assert.equal(1, D.mapper(dynapsim(256)).n_cluster)
      local spec = D.mapper(dynapsim(257))
      assert.equal(2, spec.n_cluster)
      assert.equal(1, spec.core_map[128])
      assert.equal(2, spec.core_map[257])
    end)

    it("never gives an out-of-range cluster id", function()
      for N = 1, 23 do
        for n = 1, math.min(N, 6) do
          local spec = D.mapper(dynapsim(N), { n_cluster = n })
          local count = {}
          for c = 1, n do count[c] = 0 end
          for _, c in ipairs(spec.core_map) do
            assert.is_true(c >= 1 and c <= n)
            count[c] = count[c] + 1
          end
          for c = 1, n do assert.is_true(count[c] >= N // n and count[c] <= (N + n - 1) // n) end
        end
      end
    end)

    it("averages each cluster's currents", function()
      local N = 6
      local L = { shape = { N, N }, Iscale = 1e-8, dt = 1e-3, currents = {}, w_rec = {} }
      for _, k in ipairs(CURRENTS) do
        L.currents[k] = {}
        for i = 1, N do L.currents[k][i] = i * 1e-12 end
      end
      local spec = D.mapper(C.dynapsim_graph(L), { n_cluster = 2 })
      assert.same({ 1, 1, 1, 2, 2, 2 }, spec.core_map)
      assert.tensor_near(lp.tensor({ 2e-12, 5e-12 }, "float64"), spec.Itau_mem, 1e-12)
    end)

    it("clusters at random, seeded", function()
      local a = D.mapper(dynapsim(20), { n_cluster = 4, clustering_method = "random", seed = 3 })
      local b = D.mapper(dynapsim(20), { n_cluster = 4, clustering_method = "random", seed = 3 })
      assert.same(a.core_map, b.core_map)
      local count = { 0, 0, 0, 0 }
      for _, c in ipairs(a.core_map) do count[c] = count[c] + 1 end
      assert.same({ 5, 5, 5, 5 }, count)
      local c = D.mapper(dynapsim(20), { n_cluster = 4, clustering_method = "random", seed = 4 })
      assert.are_not.same(a.core_map, c.core_map)
    end)
  end)

  describe("arguments", function()
    it("rejects a non-graph and bad options by name", function()
      assert.has_error(function() D.mapper(42) end,
        "bad argument #1 to 'mapper' (graph module expected (use net:as_graph()), got number)")
      local g = dynapsim(4)
      assert.has_error(function() D.mapper(g, { in_place = true }) end,
        "bad argument #2 to 'mapper' (unknown field 'in_place')")
      assert.has_error(function() D.mapper(g, { max_neuron_per_cluster = 300 }) end,
        "bad argument #2 to 'mapper' (field 'max_neuron_per_cluster' must be an integer in 1..256 (the neurons of a core), got 300)")
      assert.has_error(function() D.mapper(g, { n_cluster = 0 }) end,
        "bad argument #2 to 'mapper' (field 'n_cluster' must be a positive integer, got 0)")
    end)

    it("is reachable as lp.dynapse2.mapper", function()
      assert.equal(D.mapper, lp.dynapse2.mapper)
      assert.equal(D.DynapseNeurons, lp.dynapse2.DynapseNeurons)
    end)
  end)
end)
