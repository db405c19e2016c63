-- spec/xylo/cycles_spec.lua -- the cycles model (devices/xylo/cycles.lua,
-- reference/xylo.md §10): the Audio 2 tutorial's figures (562 cycles with
-- every weight nonzero, 555 with one recurrent weight zero, 0.07 MHz at
-- dt = 10 ms), probabilities from rasters, per-variant terms, and errors.
local lp = require "limpet"
local cycles = require "limpet.xylo.cycles"

-- 2 inputs -> 4 hidden -> Residual(4 recurrent hidden) -> 2 outputs: hidden
-- ids 1..4 and 5..8, the residual alias from 1..4 to 5..8
local function tutorial()
  local win, wrec, wout, al = {}, {}, {}, {}
  for c = 1, 2 do win[c] = {} for j = 1, 8 do win[c][j] = j <= 4 and 3 or 0 end end
  for i = 1, 8 do
    wrec[i] = {}
    for j = 1, 8 do wrec[i][j] = j > 4 and -2 or 0 end
    wout[i] = { i > 4 and 5 or 0, i > 4 and 7 or 0 }
    al[i] = i <= 4 and { i + 4 } or {}
  end
  return { weights_in = win, weights_rec = wrec, weights_out = wout, aliases = al, variant = "audio2" }
end

describe("cycles_model", function()
  it("gives the tutorial's figures", function()
    local cfg = tutorial()
    local c, b = cycles.cycles_model(cfg, "audio2")
    assert.are.equal(562, c)
    assert.are.equal(30, b.input)
    assert.are.equal(248, b.hidden_synapses)
    assert.are.equal(68, b.output_synapses)
    assert.are.equal(192, b.hidden_spikes)
    assert.are.equal(24, b.output_spikes)
    assert.are.equal(0, b.isyn2_ops)
    cfg.weights_rec[6][6] = 0
    assert.are.equal(555, (cycles.cycles_model(cfg)))      -- variant from the config
    assert.is_true(math.abs(cycles.est_clock_freq(cfg, 0.01, "audio2") - 66600) < 1e-6)
    assert.is_true(math.abs(cycles.est_clock_freq(cfg, 0.01, "audio2", 0) - 55500) < 1e-6)
  end)

  it("takes probabilities or rasters", function()
    local cfg = tutorial()
    local raster = lp.zeros({ 10, 8 }, "int32")
    for t = 1, 10 do if t % 4 == 0 then raster:set(t, 1, 3) end end   -- 2 of 80 bins nonzero
    local c1 = cycles.cycles_model(cfg, "audio2", { input = 0.5, hidden = 0.025, output = 0 })
    local c2 = cycles.cycles_model(cfg, "audio2", { input = { { 1, 0 }, { 0, 1 } }, hidden = raster })
    assert.is_true(math.abs(c1 - c2) < 1e-9)
    -- C_in = 2 (0.5 * 4 * 3.5 + 1); C_hid_syn = 8 (4 * 7 * 0.025 + 3); C_out_syn = 4 * 0.025 * 17
    -- V = 2 * 0.25 + 3 * 0.25 + 0.025 + 0.5 * 0.5
    local want = 2 * (0.5 * 4 * 3.5 + 1) + 8 * (4 * 7 * 0.025 + 3) + 4 * 0.025 * 17 + 8 * (19 + 0.5 + 0.75 + 0.025 + 0.25) + 24
    assert.is_true(math.abs(c1 - want) < 1e-9)
  end)

  it("counts synapse-2 operations on Audio 2 only", function()
    local cfg = tutorial()
    for c = 1, 2 do for j = 1, 8 do cfg.weights_in[c][j] = { cfg.weights_in[c][j], cfg.weights_in[c][j] } end end
    local _, b = cycles.cycles_model(cfg, "audio2")
    assert.are.equal(1.5 * 2 * 4 + 5 * 4 * 8 + 8, b.isyn2_ops)
    local c3, b3 = cycles.cycles_model(cfg, "imu")
    assert.are.equal(562, c3)
    assert.is_nil(b3.isyn2_ops)
  end)

  it("names bad arguments", function()
    assert.has_error(function() cycles.cycles_model(tutorial(), "audio9") end,
      "bad argument #2 to 'cycles_model' (unknown Xylo variant 'audio9'; expected audio2, audio3 or imu)")
    assert.has_error(function() cycles.cycles_model(tutorial(), "audio2", { hiden = 1 }) end,
      "bad argument #3 to 'cycles_model' (unknown field 'hiden')")
    assert.has_error(function() cycles.cycles_model(tutorial(), "audio2", { input = 2 }) end,
      "bad argument #3 to 'cycles_model' (field 'input': a probability must be in [0, 1], got 2)")
    assert.has_error(function() cycles.cycles_model({ weights_out = { { 1 } } }, "imu") end,
      "bad argument #1 to 'cycles_model' (field 'weights_in' is required)")
    assert.has_error(function() cycles.est_clock_freq(tutorial(), 0, "audio2") end,
      "bad argument #2 to 'est_clock_freq' (dt must be a positive number of seconds, got 0)")
  end)
end)
