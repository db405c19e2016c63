-- spec/dynapse2/config_spec.lua -- limpet.dynapse2.config: allocation of quantised
-- specifications against Rockpool's allocations (spec/fixtures/dynapse_mapper), the limits
-- of §1 with errors naming neuron, core and number, and the JSON file (exact round trip,
-- atomic write, corrupt files).
local lp = require "limpet"
local json = require "limpet.json"
local D = require "limpet.dynapse2.mapper"
local Cfg = require "limpet.dynapse2.config"
local C = require "support.dynapse_cases"

local tmpdir = os.getenv("TMPDIR") or "/tmp"
local function tmpname(tag) return ("%s/limpet_d2cfg_%s_%d.json"):format(tmpdir, tag, math.random(1, 1e9)) end
local function write(path, text) local f = assert(io.open(path, "wb")); f:write(text); f:close() end
local function read(path) local f = assert(io.open(path, "rb")); local t = f:read("a"); f:close(); return t end

-- the oracle's mapped spec plus its quantised stand-in (Rockpool's per-cluster lists)
local function oracle_qspec(case)
  local spec = D.mapper(C.graph(case.layers), C.opts(case))
  local q = {}
  for k, v in pairs(spec) do q[k] = v end
  for k, v in pairs(case.quantized_stand_in) do
    if k:match("^weights") or k:match("^sign") then
      if v == json.null or v[1] == json.null then
        q[k] = nil
      else
        local list = {}
        for c, m in ipairs(v) do list[c] = lp.tensor(m, "float64") end
        q[k] = list
      end
    else
      q[k] = v
    end
  end
  return spec, q
end

local function neuron_of(cfg, j)
  local a = cfg.neurons[j]
  return cfg.chips[a.chip].cores[a.core].neurons[a.neuron], a
end

local function dest_list(list)
  local out = {}
  for i, d in ipairs(list) do out[i] = { d.core, d.x_hop, d.y_hop, d.tag } end
  return out
end

describe("dynapse2 configuration", function()
  describe("Rockpool's allocations", function()
    for _, case in ipairs(C.load()) do
      if case.allocation then
        it("allocates '" .. case.name .. "' as Rockpool (one allocation for all clusters)", function()
          local spec, q = oracle_qspec(case)
          local cfg = Cfg.from_specification(q)
          assert.is_true((Cfg.validate(cfg)))
          local N = spec.n_neuron
          local rec_mask, in_mask, latch = {}, {}, {}
          for _, al in ipairs(case.allocation) do
            local cl = al.cluster + 1
            assert.equal(al.chip, cfg.neurons[1].chip - 1 + (cl - 1) // 4)
            -- CAM of the cluster's neurons: Rockpool's entries in use, in order
            for key, cam in pairs(al.cam) do
              local j = tonumber(key) + 1
              if spec.core_map[j] == cl then
                local want = {}
                for _, e in ipairs(cam) do if e[1] ~= "none" then want[#want + 1] = e end end
                local got = {}
                for i, s in ipairs((neuron_of(cfg, j)).synapses) do got[i] = { s.dendrite, s.weight, s.tag } end
                assert.same(want, got)
                local _, a = neuron_of(cfg, j)
                assert.equal(al.core + 1, a.core)
              end
            end
            -- SRAM: the monitor entry, then the recurrent entry; Rockpool's per-cluster masks
            -- united (each cluster's allocation sees the targets in that cluster only)
            for key, sram in pairs(al.sram) do
              local j = tonumber(key) + 1
              if j <= N then
                assert.same({ { 1, 1, 1, 1 }, -7, -7, j - 1 }, sram[1])
                local r = sram[2]
                if r[4] ~= 0 or r[1][1] + r[1][2] + r[1][3] + r[1][4] > 0 then
                  local m = rec_mask[j] or { mask = { 0, 0, 0, 0 }, tag = r[4] }
                  for k = 1, 4 do m.mask[k] = math.max(m.mask[k], r[1][k]) end
                  assert.equal(m.tag, r[4])
                  assert.same({ 0, 0 }, { r[2], r[3] })
                  rec_mask[j] = m
                end
              end
            end
            for key, list in pairs(al.input_channel_map) do
              local ch = tonumber(key) + 1
              local m = in_mask[ch] or { mask = { 0, 0, 0, 0 }, tag = list[1][4] }
              for k = 1, 4 do m.mask[k] = math.max(m.mask[k], list[1][1][k]) end
              in_mask[ch] = m
            end
            for _, n in ipairs(al.latch_so_dc) do
              if spec.core_map[n + 1] == cl then latch[n + 1] = true end
            end
          end
          for j = 1, N do
            local x = neuron_of(cfg, j)
            local want = { { { 1, 1, 1, 1 }, -7, -7, j - 1 } }
            if rec_mask[j] then want[2] = { rec_mask[j].mask, 0, 0, rec_mask[j].tag } end
            assert.same(want, dest_list(x.destinations))
            assert.equal(latch[j] == true, x.latch_so_dc)
          end
          local n_ch = 0
          for ch, m in pairs(in_mask) do
            n_ch = n_ch + 1
            assert.same({ { m.mask, 0, 0, m.tag } }, dest_list(cfg.input_channel_map[ch]))
          end
          local count = 0
          for _ in pairs(cfg.input_channel_map) do count = count + 1 end
          assert.equal(n_ch, count)
          -- tags of the plan
          local al = case.allocation[1]
          if #al.virtual_tags > 0 and q.weights_in then assert.equal(cfg.n_in, #al.virtual_tags) end
        end)
      end
    end

    it("writes every cluster's parameter group: Rockpool's bias codes or ones within the DAC model's error", function()
      local bg = require "limpet.dynapse2.biasgen"
      local K = require "limpet.dynapse2.constants"
      local dev2sim = {}
      for _, e in ipairs(K.sim2device) do dev2sim[e[2]] = e[1] end
      local same, total = 0, 0
      for _, case in ipairs(C.load()) do
        if case.allocation then
          local _, q = oracle_qspec(case)
          local cfg = Cfg.from_specification(q)
          for _, al in ipairs(case.allocation) do
            local cl = al.cluster + 1
            local p = cfg.chips[al.chip + 1].cores[al.core + 1].parameters
            for dev, theirs in pairs(al.device_codes) do
              local ours = p[dev]
              total = total + 1
              if ours[1] == theirs[1] and ours[2] == theirs[2] then same = same + 1 end
              -- the current our code restores is the target within the model's error and a DAC step
              local sim = dev2sim[dev]
              local kind, syn = sim:match("^(I%a+)_(%a+)$")
              local target
              if sim:match("^Iw_%d$") then target = q[sim][cl]
              elseif (kind == "Igain" or kind == "Itau") and (syn == "ampa" or syn == "gaba" or syn == "nmda" or syn == "shunt") then
                target = q[kind .. "_syn"]:get(cl)
              else target = q[sim]:get(cl) end
              local I = bg.param_to_analog(dev, ours[1], ours[2])
              local step = bg.param_to_analog(dev, 0, 1) - bg.param_to_analog(dev, 0, 0)
              local tol = bg.model_error(ours[1], ours[2]) + 1 / math.max(ours[2], 1)
              if target <= bg.param_to_analog(dev, 0, 0) then
                assert.same({ 0, 0 }, ours)                  -- below the DAC's floor: its lowest code
              else
                assert.is_true(math.abs(I - target) <= tol * target + step,
                  ("%s cluster %d %s: (%d, %d) restores %.4g for %.4g"):format(case.name, cl, dev, ours[1], ours[2], I, target))
              end
            end
          end
        end
      end
      assert.is_true(same >= total * 0.5, ("%d of %d codes are Rockpool's"):format(same, total))
    end)

    it("places the neurons of each cluster in their own core, from slot 1", function()
      local _, q = oracle_qspec(C.by_name("linear_dynapsim_rec_2clusters"))
      local cfg = Cfg.from_specification(q)
      for j = 1, 12 do
        local a = cfg.neurons[j]
        assert.same({ 1, j <= 6 and 1 or 2, j <= 6 and j or j - 6 }, { a.chip, a.core, a.neuron })
      end
      assert.equal(1, #cfg.chips)
      -- neuron 1 (core 1) projects into both cores: Rockpool's config loses its core-2 targets
      local x = neuron_of(cfg, 1)
      assert.same({ 1, 1, 0, 0 }, x.destinations[2].core)
      for _, co in ipairs { 3, 4 } do
        assert.is_nil(next(cfg.chips[1].cores[co].neurons))
        assert.is_nil(next(cfg.chips[1].cores[co].parameters))
      end
    end)
  end)

  -- a quantised spec made by hand: N neurons in clusters, integer weights
  local function hand_spec(o)
    local N, Nin = o.N, o.Nin
    local q = { n_neuron = N, n_cluster = o.n_cluster or 1, core_map = o.core_map, Iscale = 1e-8, dt = 1e-3 }
    if not q.core_map then
      q.core_map = {}
      for j = 1, N do q.core_map[j] = 1 end
    end
    for _, k in ipairs(D.CURRENTS) do q[k] = lp.full({ q.n_cluster }, 1e-10, "float64") end
    for k = 0, 3 do q["Iw_" .. k] = lp.full({ q.n_cluster }, (1 << k) * 1e-9, "float64") end
    q.weights_in = o.w_in or lp.zeros({ Nin, N }, "int32")
    q.sign_in = q.weights_in:gt(0):astype("int32")
    if o.w_rec then q.weights_rec, q.sign_rec = o.w_rec, o.w_rec:gt(0):astype("int32") end
    return q
  end

  local function refusal(f)
    local ok, err = pcall(f)
    assert.is_false(ok, "expected an error")
    return tostring(err)
  end

  describe("limits (§1)", function()
    it("refuses a neuron with more than 64 CAM entries, naming it", function()
      local w = lp.zeros({ 70, 3 }, "int32")
      w:slice(2, 2, 2):fill_(1)
      local err = refusal(function() Cfg.from_specification(hand_spec { N = 3, Nin = 70, w_in = w }) end)
      assert.equal("dynapse2.config: Maximum synapse limit per neuron reached! (neuron 2 (chip 1, core 1, neuron 2) "
        .. "needs 70 CAM entries (70 input, 0 recurrent); a Dynap-SE2 neuron has 64)", err)
      w = lp.zeros({ 64, 3 }, "int32")
      w:fill_(3)
      assert.is_true((Cfg.validate(Cfg.from_specification(hand_spec { N = 3, Nin = 64, w_in = w }))))
    end)

    it("refuses a neuron that needs more than 4 SRAM entries", function()
      -- 13 clusters on 4 chips; neuron 1 projects to one neuron on every chip: monitor + 4
      local N, cmap = 13, {}
      for j = 1, N do cmap[j] = j end
      local w = lp.zeros({ N, N }, "int32")
      for _, p in ipairs { 2, 5, 9, 13 } do w:set(1, p, 1) end
      local err = refusal(function()
        Cfg.from_specification(hand_spec { N = N, Nin = 1, n_cluster = N, core_map = cmap, w_rec = w })
      end)
      assert.equal("dynapse2.config: Maximum SRAM capacity exceeded! (neuron 1 (chip 1, core 1, neuron 1) needs 5 SRAM "
        .. "destinations; a Dynap-SE2 neuron has 4)", err)
      -- without the monitor entry it fits: one entry per chip, hops to each chip
      local cfg = Cfg.from_specification(hand_spec { N = N, Nin = 1, n_cluster = N, core_map = cmap, w_rec = w },
        { monitor = false })
      local x = neuron_of(cfg, 1)
      assert.same({ { { 0, 1, 0, 0 }, 0, 0, 1 }, { { 1, 0, 0, 0 }, 1, 0, 1 }, { { 1, 0, 0, 0 }, 2, 0, 1 },
        { { 1, 0, 0, 0 }, 3, 0, 1 } }, dest_list(x.destinations))
      assert.equal(4, #cfg.chips)
      assert.same({ chip = 4, core = 1, neuron = 1 }, cfg.neurons[13])
    end)

    it("refuses more tags than 2048, more neurons than a core and more clusters than a board", function()
      local err = refusal(function() Cfg.from_specification(hand_spec { N = 30, Nin = 1990 }) end)
      assert.truthy(err:find("There are not enough tags to support network implementation! (1990 input channels + 30 "
        .. "recurrent + 30 reserved output tags = 2050; the chip has 2048)", 1, true), err)
      err = refusal(function() Cfg.from_specification(hand_spec { N = 300, Nin = 1 }) end)
      assert.equal("dynapse2.config: cluster 1 (chip 1, core 1) holds 300 neurons; a core has 256", err)
      local cmap = {}
      for j = 1, 17 do cmap[j] = j end
      err = refusal(function() Cfg.from_specification(hand_spec { N = 17, Nin = 1, n_cluster = 17, core_map = cmap }) end)
      assert.equal("dynapse2.config: 17 clusters need 17 cores; a board has 16 (4 chips of 4 cores)", err)
    end)

    it("refuses specifications that are not quantised", function()
      local q = hand_spec { N = 2, Nin = 2 }
      q.weights_in = lp.tensor({ { 0.5, 0 }, { 0, 0 } }, "float64")
      assert.has_error(function() Cfg.from_specification(q) end,
        "bad argument #1 to 'config_from_specification' (field 'weights_in': 0.5 at [1, 1] is not a 4-bit weight (0..15); quantise the specification first)")
      q = hand_spec { N = 2, Nin = 2 }
      q.Iw_2 = nil
      assert.has_error(function() Cfg.from_specification(q) end,
        "bad argument #1 to 'config_from_specification' (field 'Iw_2' is missing; quantise the specification first)")
      q = hand_spec { N = 2, Nin = 2, w_in = lp.tensor({ { 1, 0 }, { 0, 0 } }, "int32") }
      q.sign_in = lp.zeros({ 2, 2 }, "int32")
      assert.has_error(function() Cfg.from_specification(q) end,
        "bad argument #1 to 'config_from_specification' (field 'weights_in': weight 1 at [1, 1] has sign 0)")
    end)

    it("validate names chip, core, neuron and the number", function()
      local w = lp.ones({ 2, 2 }, "int32")
      local cfg = Cfg.from_specification(hand_spec { N = 2, Nin = 2, w_in = w, w_rec = w })
      assert.is_true((Cfg.validate(cfg)))
      local x = neuron_of(cfg, 2)
      x.synapses[1].tag = 2048
      assert.same({ false, "chip 1, core 1, neuron 2, synapse 1: tag 2048 outside 0..2047" }, { Cfg.validate(cfg) })
      x.synapses[1].tag = 3
      for i = #x.synapses + 1, 65 do x.synapses[i] = { dendrite = "ampa", weight = { 1, 0, 0, 0 }, tag = 1 } end
      assert.same({ false, "chip 1, core 1, neuron 2: 65 CAM entries; a Dynap-SE2 neuron has 64" }, { Cfg.validate(cfg) })
      for i = 3, 65 do x.synapses[i] = nil end
      x.destinations[2].x_hop = 9
      assert.same({ false, "chip 1, core 1, neuron 2, destination 2: field 'x_hop' must be an integer in -7..7, got 9" },
        { Cfg.validate(cfg) })
      x.destinations[2].x_hop = 0
      cfg.chips[1].cores[1].parameters.SOIF_LEAK_N = { 6, 10 }
      assert.same({ false, "chip 1, core 1, SOIF_LEAK_N: coarse value 6 outside 0..5" }, { Cfg.validate(cfg) })
      cfg.chips[1].cores[1].parameters.SOIF_LEAK_N = { 1, 10 }
      cfg.chips[1].cores[2].neurons[257] = { synapses = {}, destinations = {}, latch_so_dc = false }
      assert.same({ false, "chip 1, core 2: neuron 257 outside 1..256 (256 neurons per core)" }, { Cfg.validate(cfg) })
      cfg.chips[1].cores[2].neurons[257] = nil
      assert.is_true((Cfg.validate(cfg)))
    end)
  end)

  describe("JSON files", function()
    local function config()
      local _, q = oracle_qspec(C.by_name("linear_dynapsim_rec_2clusters"))
      return Cfg.from_specification(q)
    end

    it("round-trip exactly, 0-based in the file", function()
      local cfg = config()
      local path = tmpname("rt")
      assert.is_true(Cfg.save(cfg, path))
      local back = Cfg.load(path)
      assert.same(cfg, back)
      assert.equal(getmetatable(cfg), getmetatable(back))
      -- save(load(file)) is the same text
      local path2 = tmpname("rt2")
      assert.is_true(Cfg.save(back, path2))
      assert.equal(read(path), read(path2))
      -- ids are 0-based in the file
      local doc = json.decode(read(path))
      assert.same({ 0, 0, 0 }, doc.neurons[1])
      assert.same({ 0, 1, 5 }, doc.neurons[12])
      assert.equal(0, doc.chips[1].cores[2].neurons[1].neuron)
      assert.equal(0, doc.input_channel_map[1][1])
      os.remove(path); os.remove(path2)
    end)

    it("are written atomically: a failed save leaves the old file and no temporary", function()
      local cfg = config()
      local path = tmpname("atomic")
      assert.is_true(Cfg.save(cfg, path))
      local before = read(path)
      local ok, msg = Cfg.save(cfg, tmpdir .. "/no_such_dir_limpet/x.json")
      assert.is_nil(ok)
      assert.truthy(msg:find("save_config: ", 1, true))
      assert.equal(before, read(path))
      local p = io.popen("ls " .. tmpdir .. " | grep -c 'limpet_d2cfg_atomic.*tmp' || true")
      assert.equal("0", p:read("l"))
      p:close()
      os.remove(path)
    end)

    it("refuses to save an invalid configuration", function()
      local cfg = config()
      cfg.neurons[1].neuron = 200
      assert.has_error(function() Cfg.save(cfg, tmpname("bad")) end,
        "bad argument #1 to 'save_config' (invalid configuration: neurons: network neuron 1 is at chip 1, core 1, neuron 200, which is not configured)")
    end)

    it("load reports a missing file and raises on corrupt ones, naming the field", function()
      local ok, msg = Cfg.load(tmpdir .. "/limpet_no_such_config.json")
      assert.is_nil(ok)
      assert.truthy(msg:find("No such file", 1, true))
      local cfg = config()
      local path = tmpname("corrupt")
      assert.is_true(Cfg.save(cfg, path))
      local good = read(path)
      local function corrupt(text, want)
        write(path, text)
        local okl, err = pcall(Cfg.load, path)
        assert.is_false(okl)
        assert.truthy(tostring(err):find(want, 1, true), tostring(err))
      end
      corrupt(good:sub(1, #good // 2), "is not valid JSON")
      corrupt("", "is not valid JSON")
      corrupt('{"format": "limpet.xylo.config", "version": 1}', "is not a limpet Dynap-SE2 configuration")
      corrupt(good:gsub('"version": 1', '"version": 2'), "field 'version': unsupported version 2 (expected 1)")
      corrupt(good:gsub('"n_in": 8,', '"n_in": 8, "extra": 1,'), "top level: unknown field 'extra'")
      corrupt(good:gsub('"ampa"', '"kainate"', 1), 'neurons[0].synapses[1]: ["ampa" | "gaba" | "nmda" | "shunt" | "none"')
      corrupt(good:gsub('%[%[1,1,1,1%],%-7,%-7,0%]', '[[1,1,1,1],-8,-7,0]', 1),
        "chips[0].cores[0].neurons[0].destinations[0]: field 'x_hop' must be an integer in -7..7, got -8")
      corrupt(good:gsub('"neuron": 5,', '"neuron": 256,', 1), "chips[0].cores[0].neurons[5].neuron: 256 is not an integer in 0..255")
      corrupt(good:gsub('"neuron": 5,', '"neuron": 4,', 1), "chips[0].cores[0]: neuron 4 is listed twice")
      corrupt(good:gsub('"SOIF_LEAK_N": %[%d+,%d+%]', '"SOIF_LEAK_N": [0,300]', 1),
        "chips[0].cores[0].parameters.SOIF_LEAK_N fine: 300 is not an integer in 0..255")
      corrupt(good:gsub('"Iscale": [^,]+,', '"Iscale": "big",', 1), "field 'Iscale': a positive number expected")
      corrupt(good:gsub('%[0,1,5%]%]', '[0,3,5]]', 1), "holds an invalid configuration: neurons: network neuron 12 is at chip 1, core 4, neuron 6, which is not configured")
      -- the good text still loads
      write(path, good)
      assert.same(cfg, Cfg.load(path))
      os.remove(path)
    end)
  end)

  it("is reachable from lp.dynapse2 and prints a summary", function()
    assert.equal(Cfg.from_specification, lp.dynapse2.config_from_specification)
    assert.equal(Cfg.save, lp.dynapse2.save_config)
    assert.equal(Cfg.load, lp.dynapse2.load_config)
    assert.equal(Cfg.validate, lp.dynapse2.validate_config)
    local _, q = oracle_qspec(C.by_name("linear_dynapsim_rec"))
    assert.equal("Dynapse2Config: 1 chip, 8 neurons, 8 input channels, 81 CAM entries; Iscale 1e-08 A, dt 0.001 s",
      tostring(Cfg.from_specification(q)))
  end)
end)
