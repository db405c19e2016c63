-- spec/dynapse2/translate_spec.lua -- parameter translation (devices/dynapse2/
-- translate.lua, biasgen.lua): every case of spec/fixtures/dynapse2/
-- dynapse_translate_1.json (currents, DynapSimTime, DynapSimGain to 1e-12;
-- bias codes: the current our code restores within the DAC model's stated
-- error of the current Rockpool's code restores), every bias generator case
-- of bias_1.json, the §3.3 default export vector, the §3.4 round trips,
-- loading an exact table, and the refusals.
local lp = require "limpet"
local json = require "limpet.json"
local d2 = require "limpet.dynapse2"
local bg = d2.biasgen
local K = require "limpet.dynapse2.constants"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local CASES = json.decode(read("spec/fixtures/dynapse2/dynapse_translate_1.json"))
local BIAS = json.decode(read("spec/fixtures/dynapse2/bias_1.json"))

local function rel(a, b) return math.abs(a - b) / math.abs(b) end

describe("DynapSimCore translation oracles", function()
  for _, c in ipairs(CASES) do
    it("reproduces " .. c.name, function()
      local core = d2.DynapSimCore.from_specification(c.spec)
      for k, v in pairs(c.currents) do
        assert.is_true(rel(core[k], v) <= 1e-12, ("current %s: %.17g vs %.17g"):format(k, core[k], v))
      end
      local t = d2.DynapSimTime.from_DynapSimCore(core)
      for k, v in pairs(c.time) do assert.is_true(rel(t[k], v) <= 1e-12, "time " .. k) end
      local g = d2.DynapSimGain.from_DynapSimCore(core)
      for k, v in pairs(c.gain) do assert.is_true(rel(g[k], v) <= 1e-12, "gain " .. k) end
      local codes = core:export_Dynapse2Parameters()
      local n = 0
      for dev, theirs in pairs(c.device_codes) do
        n = n + 1
        assert.are.equal(c.device_scale[dev], K.scale[dev], "scale of " .. dev)
        local ours = codes[dev]
        assert.is_table(ours, dev)
        local I = bg.param_to_analog(dev, ours[1], ours[2])
        local tol = bg.export_tolerance(ours[1], ours[2], theirs[1], theirs[2])
        assert.is_true(rel(I, c.restored_currents[dev]) <= tol,
          ("%s: ours (%d, %d) restores %.4g, Rockpool's (%d, %d) %.4g (tolerance %.3f)"):format(dev, ours[1],
            ours[2], I, theirs[1], theirs[2], c.restored_currents[dev], tol))
      end
      assert.are.equal(#K.sim2device, n)
    end)
  end

  it("chooses Rockpool's code for most biases", function()
    local same, total = 0, 0
    for _, c in ipairs(CASES) do
      local codes = d2.DynapSimCore.from_specification(c.spec):export_Dynapse2Parameters()
      for dev, theirs in pairs(c.device_codes) do
        total = total + 1
        if codes[dev][1] == theirs[1] and codes[dev][2] == theirs[2] then same = same + 1 end
      end
    end
    assert.is_true(same / total > 0.6, ("%d of %d"):format(same, total))
  end)
end)

describe("bias generator", function()
  it("restores every bias_1 case within the model's error of Rockpool's current", function()
    for i, c in ipairs(BIAS) do
      local s, ty = bg.scale(c.bias)
      assert.are.equal(c.scale, s)
      assert.are.equal(c.type, ty)
      local C, F = bg.analog_to_param(c.bias, c.current)
      local C2, F2 = bg.analog_to_digital(c.current, c.scale, c.type)
      assert.are.same({ C, F }, { C2, F2 })
      local I = bg.digital_to_analog(C, F, c.scale, c.type)
      assert.is_true(rel(I, c.restored) <= bg.export_tolerance(C, F, c.coarse, c.fine), "case " .. i)
    end
  end)

  -- §3.3: DynapSimCore() defaults -> export_Dynapse2Parameters(), Rockpool's codes and currents
  local DEFAULT_EXPORT = {
    SOIF_DC_P = { 0, 4, 4.6567e-13 }, DENM_NMREV_N = { 0, 0, 5.1829e-13 }, SOAD_GAIN_P = { 0, 161, 2.8453e-11 },
    DEAM_EGAIN_P = { 3, 92, 8.6761e-09 }, DEGA_IGAIN_P = { 3, 94, 8.8881e-09 }, DENM_EGAIN_P = { 3, 94, 8.8881e-09 },
    DESC_IGAIN_P = { 3, 92, 8.6761e-09 }, SOIF_GAIN_N = { 0, 71, 2.1246e-11 }, SOAD_PWTAU_N = { 5, 42, 3.5116e-07 },
    SYPD_EXT_N = { 4, 32, 3.4669e-08 }, SOIF_REFR_N = { 2, 53, 1.0406e-09 }, SOIF_SPKTHR_P = { 4, 243, 9.9808e-08 },
    SOAD_TAU_P = { 1, 67, 2.8339e-11 }, DEAM_ETAU_P = { 1, 208, 8.6729e-11 }, DEGA_ITAU_P = { 1, 212, 8.8579e-11 },
    DENM_ETAU_P = { 1, 212, 8.8579e-11 }, DESC_ITAU_P = { 1, 208, 8.6729e-11 }, SOIF_LEAK_N = { 0, 29, 5.2703e-12 },
    SYAM_W0_P = { 3, 31, 1.0043e-09 }, SYAM_W1_P = { 3, 67, 2.0092e-09 }, SYAM_W2_P = { 3, 138, 4.0111e-09 },
    SYAM_W3_P = { 4, 31, 8.1226e-09 }, SOAD_W_N = { 0, 0, 4.5412e-13 },
  }

  it("reproduces the §3.3 default export vector within the model's stated error", function()
    local codes = d2.DynapSimCore.defaults():export_Dynapse2Parameters()
    local n = 0
    for dev, want in pairs(DEFAULT_EXPORT) do
      n = n + 1
      local ours = codes[dev]
      local I = bg.param_to_analog(dev, ours[1], ours[2])
      -- the listed currents have 5 digits
      assert.is_true(rel(I, want[3]) <= bg.export_tolerance(ours[1], ours[2], want[1], want[2]) + 1e-4, dev)
    end
    assert.are.equal(23, n)
  end)

  it("converts every code to a current and back to itself (§3.4, scale 1, type N)", function()
    for C = 0, 5 do
      for F = 0, 255 do
        local c2, f2 = bg.analog_to_digital(bg.digital_to_analog(C, F, 1, "N"), 1, "N")
        assert.are.same({ C, F }, { c2, f2 })
      end
    end
    for _, ty in ipairs { "N", "P" } do             -- all currents of a type are distinct
      local seen = {}
      for C = 0, 5 do
        for F = 0, 255 do
          local I = bg.digital_to_analog(C, F, 1, ty)
          assert.is_nil(seen[I], ("%s (%d, %d)"):format(ty, C, F))
          seen[I] = true
        end
      end
    end
  end)

  it("quantises 1000 log-spaced currents within 1 % on average, 15 % at most (§3.4)", function()
    local sum, n, worst = 0, 0, 0
    for i = 0, 999 do
      local I = 10 ^ (-13 + 8 * i / 999)
      local C, F = bg.analog_to_digital(I)
      if not ((C == 0 and F == 0) or (C == 5 and F == 255)) then
        local e = rel(bg.digital_to_analog(C, F), I)
        sum, n, worst = sum + e, n + 1, math.max(worst, e)
      end
    end
    assert.is_true(n > 700)
    assert.is_true(sum / n < 0.01, "mean " .. sum / n)
    assert.is_true(worst < 0.15, "max " .. worst)
  end)

  it("has the structure of the measured table: drops at multiples of 32, the §3.2 anchors", function()
    for _, ty in ipairs { "N", "P" } do
      for C = 0, 5 do
        for _, F in ipairs { 32, 64, 96, 128, 160, 192, 224 } do
          assert.is_true(bg.digital_to_analog(C, F, 1, ty) < bg.digital_to_analog(C, F - 1, 1, ty), ty .. C .. F)
        end
        for F = 1, 31 do
          assert.is_true(bg.digital_to_analog(C, F, 1, ty) > bg.digital_to_analog(C, F - 1, 1, ty))
        end
      end
    end
    local anchors = { N = { 7.177e-11, 5.728e-10, 4.568e-09, 3.642e-08, 2.904e-07, 2.276e-06 },
                      P = { 6.691e-11, 5.363e-10, 4.3e-09, 3.445e-08, 2.774e-07, 2.245e-06 } }
    for ty, full in pairs(anchors) do
      for C = 0, 5 do assert.is_true(rel(bg.digital_to_analog(C, 255, 1, ty), full[C + 1]) < 0.022) end
    end
  end)

  it("refuses bad codes, types and bias names", function()
    assert.has_error(function() bg.digital_to_analog(6, 0) end,
      "bad argument #1 to 'digital_to_analog' (coarse must be an integer 0..5, got 6)")
    assert.has_error(function() bg.digital_to_analog(0, 256) end,
      "bad argument #2 to 'digital_to_analog' (fine must be an integer 0..255, got 256)")
    assert.has_error(function() bg.analog_to_digital(1e-9, 1, "X") end,
      "bad argument #3 to 'analog_to_digital' (transistor type must be 'N' or 'P', got X)")
    assert.has_error(function() bg.analog_to_param("NO_SUCH_P", 1e-9) end,
      "bad argument #1 to 'analog_to_param' (unknown device bias 'NO_SUCH_P')")
  end)
end)

describe("an exact bias generator table from a file", function()
  -- a made-up table (not Rockpool's): the model with a per-code wobble
  local function fake()
    local t = { N = {}, P = {} }
    for _, ty in ipairs { "N", "P" } do
      for C = 0, 5 do
        local row = {}
        for F = 0, 255 do row[F] = bg.model[ty][C][F] * (1 + 0.01 * math.sin(F * 1.7 + C)) end
        t[ty][C] = row
      end
    end
    return t
  end

  local function python_text(t)
    local out = { "# generated\nparamgen_table = {\n" }
    for _, ty in ipairs { "N", "P" } do
      out[#out + 1] = ('    "%s": {\n'):format(ty)
      for C = 0, 5 do
        local vals = {}
        for F = 0, 255 do vals[#vals + 1] = ("%.17g"):format(t[ty][C][F]) end
        out[#out + 1] = ("        %d: [%s],\n"):format(C, table.concat(vals, ", "))
      end
      out[#out + 1] = "    },\n"
    end
    out[#out + 1] = "}\n"
    return table.concat(out)
  end

  local function json_text(t)
    local o = {}
    for _, ty in ipairs { "N", "P" } do
      o[ty] = {}
      for C = 0, 5 do
        local vals = {}
        for F = 0, 255 do vals[F + 1] = t[ty][C][F] end
        o[ty][tostring(C)] = vals
      end
    end
    return json.encode(o)
  end

  local function tmpfile(text)
    local path = os.tmpname()
    local f = assert(io.open(path, "wb"))
    f:write(text)
    f:close()
    return path
  end

  for _, fmt in ipairs { "python", "json" } do
    it("loads a " .. fmt .. " table and exports with it", function()
      local t = fake()
      local path = tmpfile(fmt == "python" and python_text(t) or json_text(t))
      local loaded = assert(bg.load_table(path))
      os.remove(path)
      assert.are.equal(path, loaded.source)
      for _, ty in ipairs { "N", "P" } do
        for C = 0, 5 do
          for F = 0, 255, 17 do assert.is_true(rel(loaded[ty][C][F], t[ty][C][F]) < 1e-15) end
        end
      end
      local old = bg.use_table(loaded)
      local ok, err = pcall(function()
        assert.are.equal(loaded, bg.table())
        local codes = d2.DynapSimCore.defaults():export_Dynapse2Parameters()
        -- brute force over the loaded table
        for _, pair in ipairs(K.sim2device) do
          local cur, dev = pair[1], pair[2]
          local s, ty = bg.scale(dev)
          local target = d2.DynapSimCore.defaults()[cur]
          local bc, bf, be
          for C = 0, 5 do
            local fbest, ebest = 0, math.abs(t[ty][C][0] * s - target)
            for F = 1, 255 do
              local e = math.abs(loaded[ty][C][F] * s - target)
              if e < ebest then fbest, ebest = F, e end
            end
            if be == nil or ebest < be then bc, bf, be = C, fbest, ebest end
          end
          assert.are.same({ bc, bf }, codes[dev], dev)
        end
      end)
      bg.use_table(old)
      assert(ok, err)
      assert.are.equal("model", bg.table().source)
    end)
  end

  it("reports a file that lacks rows", function()
    local path = tmpfile('{"N": {"0": [1, 2, 3]}}')
    local t, msg = bg.load_table(path)
    os.remove(path)
    assert.is_nil(t)
    assert.are.equal(path .. ": no 256 values for type N, coarse 0", msg)
    local t2, msg2 = bg.load_table("/nonexistent/paramgen.py")
    assert.is_nil(t2)
    assert.is_string(msg2)
    assert.has_error(function() bg.use_table({}) end,
      "bad argument #1 to 'use_table' (a table from biasgen.load_table expected)")
  end)

  it("refuses currents that are not finite and >= 0, and coarse values past 5", function()
    local t = fake()
    local function refused(edit, want)
      local text = json_text(t)
      local bad = edit(text)
      assert.are_not.equal(text, bad)
      local path = tmpfile(bad)
      local loaded, msg = bg.load_table(path)
      os.remove(path)
      assert.is_nil(loaded)
      assert.are.equal(path .. ": " .. want, msg)
    end
    local first = function(v) return function(s) return (s:gsub("%[[^,%]]+", "[" .. v, 1)) end end
    refused(first("1e999"), "type N, coarse 0, fine 0: inf is not a current (a finite number >= 0)")
    refused(first("-1e-9"), "type N, coarse 0, fine 0: -1e-09 is not a current (a finite number >= 0)")
    local row = {}
    for F = 0, 255 do row[F + 1] = t.N[0][F] end
    refused(function(s) return (s:gsub('"N":{', '"N":{"6":' .. json.encode(row) .. ',', 1)) end,
      "type N: coarse 6 outside 0..5")
  end)
end)

describe("DynapSimCore", function()
  it("imports the codes it exports: currents within the model's quantisation", function()
    local core = d2.DynapSimCore.from_specification({ tau_mem = 30e-3, r_gain_mem = 3, Ispkthr = 2e-8, Idc = 4e-11 })
    local codes = core:export_Dynapse2Parameters()
    local back = d2.DynapSimCore.from_Dynapse2Parameters(codes)
    for _, pair in ipairs(K.sim2device) do
      local cur, dev = pair[1], pair[2]
      local c = codes[dev]
      local tol = 1 / math.max(c[2], 1) + 0.01
      if not (c[1] == 0 and c[2] == 0) then
        assert.is_true(rel(back[cur], core[cur]) <= tol, cur)
      end
    end
    -- and a code map of {coarse =, fine =} tables
    local named = {}
    for k, v in pairs(codes) do named[k] = { coarse = v[1], fine = v[2] } end
    assert.are.equal(back.Itau_mem, d2.DynapSimCore.from_Dynapse2Parameters(named).Itau_mem)
  end)

  it("updates copies and gives the DynapSim currents", function()
    local core = d2.DynapSimCore.defaults()
    local c2 = core:update_time_constant("tau_mem", 40e-3)
    assert.is_true(rel(d2.DynapSimTime.from_DynapSimCore(c2).tau_mem, 40e-3) < 1e-14)
    assert.is_true(rel(d2.DynapSimTime.from_DynapSimCore(core).tau_mem, 20e-3) < 1e-14)
    local c3 = core:update_gain_ratio("r_gain_ampa", 50)
    assert.is_true(rel(d2.DynapSimGain.from_DynapSimCore(c3).r_gain_ampa, 50) < 1e-14)
    local sim = c3:to_simulation()
    assert.are.equal(c3.Igain_ampa, sim.Igain_syn)
    local c4 = d2.DynapSimCore.from_simulation(sim, { Iw_0 = 3e-9 })
    assert.are.equal(c3.Igain_ampa, c4.Igain_shunt)
    assert.are.equal(3e-9, c4.Iw_0)
    assert.are.equal(2e-9, c4.Iw_1)
    -- the defaults give DynapSim's default currents
    local m = lp.nn.DynapSim(1, { dtype = "float64" })
    for k, v in pairs(d2.DynapSimCore.defaults():to_simulation()) do
      if k ~= "Igain_syn" and k ~= "Itau_syn" then assert.is_true(rel(m[k]:item(), v) < 1e-15, k) end
    end
    assert.is_true(rel(m.Itau_syn:item(), d2.DynapSimCore.defaults().Itau_ampa) < 1e-15)
  end)

  it("refuses unknown fields and non-positive time constants", function()
    assert.has_error(function() d2.DynapSimCore.from_specification({ tau_syn = 1 }) end,
      "bad argument #1 to 'from_specification' (unknown field 'tau_syn')")
    assert.has_error(function() d2.DynapSimCore.from_specification({ tau_mem = 0 }) end,
      "bad argument #1 to 'from_specification' (field 'tau_mem' must be positive, got 0)")
    assert.has_error(function() d2.DynapSimCore.from_specification({ t_ref = -1e-3 }) end,
      "bad argument #1 to 'from_specification' (field 't_ref' must be positive, got -0.001)")
    assert.has_error(function() d2.DynapSimCore.from_specification({ Idc = -1e-12 }) end,
      "bad argument #1 to 'from_specification' (field 'Idc' must be a non-negative current)")
    assert.has_error(function() d2.DynapSimCore.from_Dynapse2Parameters({}) end,
      "bad argument #1 to 'from_Dynapse2Parameters' (no code for device bias 'SOIF_DC_P')")
  end)
end)

describe("bias generator by bias name", function()
  it("takes a device bias name in place of scale and type", function()
    local c, f = bg.analog_to_digital(5e-12, "SOIF_LEAK_N")
    assert.are.same({ c, f }, { bg.analog_to_param("SOIF_LEAK_N", 5e-12) })
    assert.are.same({ c, f }, { bg.analog_to_digital(5e-12, 0.61, "N") })
    assert.are.equal(bg.param_to_analog("SOAD_TAU_P", 2, 100), bg.digital_to_analog(2, 100, "SOAD_TAU_P"))
    assert.are.equal(bg.digital_to_analog(2, 100, 0.2, "P"), bg.digital_to_analog(2, 100, "SOAD_TAU_P"))
    assert.has_error(function() bg.analog_to_digital(1e-9, "NOPE_N") end,
      "bad argument #2 to 'analog_to_digital' (unknown device bias 'NOPE_N')")
  end)
end)
