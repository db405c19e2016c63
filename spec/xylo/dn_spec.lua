-- spec/xylo/dn_spec.lua -- Xylo Audio 2 divisive normalisation against the dn
-- oracle (spec/fixtures/dn, Rockpool's DivisiveNormalisation and
-- DivisiveNormalisationNoLFSR): every case bit for bit; state, options, errors.
local lp = require "limpet"
local json = require "limpet.json"

local f = assert(io.open("spec/fixtures/dn/dn_1.json", "rb"))
local cases = json.decode(f:read("a"))
f:close()
local a2 = lp.xylo.audio2

local function make(c)
  local cls = c.lfsr and a2.DivisiveNormalisation or a2.DivisiveNormalisationNoLFSR
  return cls(c.shape, { dt = c.dt, frame_dt = c.frame_dt, bits_counter = c.bits_counter, bits_lowpass = c.bits_lowpass,
    bits_shift_lowpass = c.bits_shift_lowpass, p_local = c.p_local, bits_lfsr = c.bits_lfsr })
end

describe("lp.xylo.audio2 divisive normalisation", function()
  for i, c in ipairs(cases) do
    it(("matches oracle case %d (%s, p_local %d) bit for bit"):format(i, c.lfsr and "LFSR" or "no LFSR", c.p_local), function()
      local dn = make(c)
      local out, state, rec = dn(lp.tensor(c.input, "int64"), true)
      local e = lp.tensor(c.expected, "int64")
      assert.are.same({ 1, e.shape[1], c.shape }, out.shape)
      assert.are.equal(0, out:reshape(-1):astype("int64"):ne(e:reshape(-1)):sum():item())
      assert.are.equal(math.floor((1 + c.p_local) / 2) * 2, dn.p_local)
      assert.are.same({ 1, math.ceil(#c.input * c.dt / c.frame_dt - 1e-9), c.shape }, rec.M.shape)
      assert.are.same(rec.M:slice(2, -1, -1):reshape(-1):totable(), state.M_lowpass_state:totable())
    end)
  end

  it("carries M, the IAF counter and the LFSR index from call to call", function()
    local c = cases[1]
    local x = lp.tensor(c.input, "int64")
    local half = math.floor(x.shape[1] / 1000) * 500     -- whole frames
    local dn = make(c)
    local out1 = dn(x:slice(1, 1, half))
    local s = dn:state()
    assert.is_true(s.lfsr_index > 0)
    local out2 = dn(x:slice(1, half + 1, -1))
    local one = make(c)(x)
    local joined = lp.cat({ out1, out2 }, 2)
    -- the same events up to the float rounding of event times at bin edges (the
    -- reference's time arithmetic counts from each call's start)
    local total = one:sum():item()
    assert.is_true(math.abs(joined:sum():item() - total) <= 2)
    assert.is_true(joined:slice(2, 1, one.shape[2]):ne(one):sum():item() <= 0.01 * total)
    dn:reset_state()
    assert.are.equal(0, dn:state().lfsr_index)
  end)

  it("runs batch rows from the same state", function()
    local c = cases[2]
    local x = lp.tensor(c.input, "int64")
    local dn = make(c)
    local out = dn(lp.stack({ x, x }, 1))
    assert.are.equal(0, out:slice(1, 1, 1):ne(out:slice(1, 2, 2)):sum():item())
  end)

  it("checks options and input by name", function()
    assert.has_error(function() a2.DivisiveNormalisation(4, { p_locl = 12 }) end,
      "bad argument #2 to 'DivisiveNormalisation' (unknown field 'p_locl')")
    assert.has_error(function() a2.DivisiveNormalisation(4, { bits_lfsr = 8 }) end,
      "bad argument #2 to 'DivisiveNormalisation' (field 'code_lfsr': a 8-bit LFSR has 255 states, got 1023)")
    assert.has_error(function() a2.DivisiveNormalisationNoLFSR(4, { low_pass_mode = "FAST" }) end,
      "bad argument #2 to 'DivisiveNormalisationNoLFSR' (field 'low_pass_mode' must be 'UNDERFLOW_PROTECT' or 'OVERFLOW_PROTECT', got 'FAST')")
    local dn = a2.DivisiveNormalisationNoLFSR(4, { bits_lfsr = 10 })
    assert.has_error(function() dn(lp.zeros({ 10, 3 }, "int64")) end,
      "bad argument #1 to 'evolve' (expected input counts (T, 4) or (B, T, 4))")
    assert.has_error(function() dn(lp.full({ 10, 4 }, -1, "int64")) end,
      "bad argument #1 to 'evolve' (input counts must be >= 0)")
  end)

  it("follows the chip's LFSR: XNOR of bits 9 and 6 from 0", function()
    local code = require("limpet.core")._afe.lfsr10():totable()
    assert.are.same({ 0, 1, 3, 7, 15, 31 }, { table.unpack(code, 1, 6) })
    local seen = {}
    for _, v in ipairs(code) do assert.is_nil(seen[v]); seen[v] = true end
    assert.are.equal(1023, #code)
  end)
end)
