-- spec/xylo/sim_paths_spec.lua -- XyloSim's kernel paths (devices/xylo/xylosim.c,
-- sim:kernel_path): the fast path ("auto": P/N recurrent sums with the
-- ordered replay, input rows fused into the integration pass, the CPU's
-- vector kernels) and the portable one ("generic") give the same bits as
-- the plain reference loop ("reference": every event one saturating add in
-- xylosim's order) on random networks made to saturate: Audio 2 sized fan-out
-- (64 recurrent weights per neuron), targets shared by both synapses (P/N
-- sums per pair) or drawn independently (per synapse), large weight shifts,
-- input counts up to 15 and hidden counts up to 31, dense and sparse input
-- rows, one and two synapses, aliases, binary input (the 16-bit pass) with
-- and without dashes of 0; outputs and all six records compared
-- at every step. Also the errors of kernel_path.
local lp = require "limpet"
local xs = require "limpet.xylo.xylosim"

local A2 = xs.for_variant("audio2")

local function rnd_int(lo, hi, shape)
  return lp.randint(lo, hi + 1, shape):astype("int32")
end

-- A random network: nh hidden neurons, fan-out `fan` recurrent weights per
-- neuron; shared: the same targets on both synapses.
local function random_spec(seed, o)
  lp.seed(seed)
  math.randomseed(seed)
  local nin, nh, no, nsyn, fan = 16, o.nh, 8, o.nsyn, o.fan
  local w_rec = lp.zeros(nsyn == 2 and { nh, nh, 2 } or { nh, nh }, "int32")
  for i = 1, nh do
    for s = 1, nsyn do
      if s == 1 or not o.shared then
        local chosen, n = {}, 0
        while n < fan // nsyn do
          local j = math.random(1, nh)
          if not chosen[j] then
            chosen[j] = true
            n = n + 1
            local w = 0
            while w == 0 do w = math.random(-128, 127) end
            if nsyn == 2 then
              w_rec:set(i, j, s, w)
              if o.shared then w_rec:set(i, j, 2, math.random(-128, 127)) end
            else
              w_rec:set(i, j, w)
            end
          end
        end
      end
    end
  end
  local w_in = rnd_int(-128, 127, nsyn == 2 and { nin, nh, 2 } or { nin, nh })
  if o.sparse_in then                   -- some channels below the dense-row fraction
    local keep = lp.rand(w_in.shape):lt(0.05):astype("int32")
    for c = 1, nin, 3 do w_in:slice(1, c, c):copy_((w_in * keep):slice(1, c, c)) end
  end
  local aliases
  if o.aliases then
    aliases = {}
    for i = 1, nh do aliases[i] = {} end
    for _ = 1, nh // 10 do aliases[math.random(1, nh)] = { math.random(1, nh) } end
  end
  return {
    weights_in = w_in, weights_rec = w_rec, weights_out = rnd_int(-128, 127, { nh, no }),
    dash_mem = rnd_int(o.nodash0 and 1 or 0, 6, { nh }), dash_syn = rnd_int(o.nodash0 and 1 or 0, 15, { nh }),
    dash_syn_2 = rnd_int(2, 15, { nh }),
    dash_mem_out = rnd_int(1, 5, { no }), dash_syn_out = rnd_int(1, 5, { no }),
    threshold = rnd_int(o.th_lo or 200, o.th_hi or 4000, { nh }), threshold_out = rnd_int(500, 4000, { no }),
    bias = rnd_int(-200, 200, { nh }), bias_out = rnd_int(-20, 20, { no }),
    weight_shift_in = o.shift_in, weight_shift_rec = o.shift_rec, weight_shift_out = 3, aliases = aliases,
  }
end

local function equal(a, b) return a:ne(b):sum():item() == 0 end

-- first (batch, step, neuron) where a and b differ, as text
local function where(a, b)
  local d = a:ne(b)
  local idx = d:reshape(-1):argmax():item()
  local B, T, N = a.shape[1], a.shape[2], a.shape[3]
  local i = idx - 1
  return ("batch %d step %d neuron %d: %d vs %d"):format(i // (T * N) + 1, (i // N) % T + 1, i % N + 1,
    a:reshape(-1)[idx], b:reshape(-1)[idx])
end

local function run(spec, path, x)
  local sim = A2.from_specification(spec)
  assert.are.equal(path, (sim:kernel_path(path)))
  return sim(x, true)
end

local CASES = {
  { name = "shared targets, two synapses (P/N per pair)", nh = 200, nsyn = 2, fan = 64, shared = true,
    shift_in = 5, shift_rec = 6 },
  { name = "independent targets, two synapses (P/N per synapse)", nh = 200, nsyn = 2, fan = 64,
    shift_in = 4, shift_rec = 7 },
  { name = "one synapse, sparse input rows", nh = 136, nsyn = 1, fan = 64, sparse_in = true,
    shift_in = 6, shift_rec = 5 },
  { name = "two synapses, sparse input rows, aliases", nh = 203, nsyn = 2, fan = 48, sparse_in = true,
    aliases = true, shift_in = 5, shift_rec = 6 },
  { name = "low thresholds: up to 31 spikes per neuron and step", nh = 97, nsyn = 2, fan = 64, shared = true,
    shift_in = 7, shift_rec = 7, th_lo = 1, th_hi = 300 },
  -- input counts 0/1 only: every step through the AVX2 kernels' 16-bit pass
  { name = "binary input, no dash 0, Audio 2 size, independent targets", nh = 1000, nsyn = 2, fan = 64,
    shift_in = 4, shift_rec = 7, binary = true, nodash0 = true },
  { name = "binary input, dashes 0 in places, shared targets, 203 neurons", nh = 203, nsyn = 2, fan = 64,
    shared = true, shift_in = 5, shift_rec = 7, binary = true },
  { name = "binary input, one synapse, low thresholds", nh = 77, nsyn = 1, fan = 64, shift_in = 7, shift_rec = 7,
    th_lo = 1, th_hi = 300, binary = true, nodash0 = true },
}

describe("XyloSim kernel paths", function()
  for k, c in ipairs(CASES) do
    it("auto and generic equal the reference bit for bit: " .. c.name, function()
      local spec = random_spec(100 + k, c)
      local x = rnd_int(0, 2, { 2, 120, 16 })
      x = x * lp.rand(x.shape):lt(0.3):astype("int32")        -- mostly 0/1, a few 2s
      if c.binary then
        x = x:gt(0):astype("int32")
      else
        x:slice(2, 40, 41):fill_(15)                          -- bursts of 15 (and clipping: 20)
        x:slice(2, 80, 80):fill_(20)
      end
      local ro, rs, rr = run(spec, "reference", x)
      -- what the case is for: saturated synaptic states (a dash of 15 takes
      -- one off a limit: 32766, -32767) and multi-spike steps
      local function near(t) return t:ge(32766):sum():item() + t:le(-32767):sum():item() end
      local sat = near(rr.Isyn) + (c.nsyn == 2 and near(rr.Isyn2) or 0)
      assert.is_true(sat > 0, "no saturated Isyn")
      assert.is_true(rr.Spikes:gt(1):sum():item() > 0, "no multi-spike step")
      if c.th_hi then assert.is_true(rr.Spikes:max():item() == 31, "no step at the 31 cap") end
      for _, path in ipairs { "auto", "generic" } do
        local o, s, r = run(spec, path, x)
        assert.is_true(equal(ro, o), path .. " output: " .. (equal(ro, o) and "" or where(ro, o)))
        for name, v in pairs(rr) do
          assert.is_true(equal(v, r[name]), path .. " " .. name .. ": " .. (equal(v, r[name]) and "" or where(v, r[name])))
        end
        for name, v in pairs(rs) do assert.is_true(equal(v, s[name]), path .. " state " .. name) end
      end
    end)
  end

  it("reports and sets the path, and names the instruction set of auto", function()
    local sim = A2.from_specification(random_spec(1, CASES[1]))
    local path, isa = sim:kernel_path()
    assert.are.equal("auto", path)
    assert.is_truthy(({ avx512 = true, avx2 = true, generic = true })[isa])
    assert.are.equal("reference", (sim:kernel_path("reference")))
    assert.are.equal("reference", (sim:kernel_path()))
  end)

  it("refuses an unknown path, naming the function and argument", function()
    local sim = A2.from_specification(random_spec(1, CASES[1]))
    assert.has_error(function() sim:kernel_path("fast") end,
      "bad argument #1 to 'kernel_path' (expected 'auto', 'generic' or 'reference', got 'fast')")
    assert.has_error(function() sim:kernel_path(3) end,
      "bad argument #1 to 'kernel_path' (expected 'auto', 'generic' or 'reference', got number)")
  end)
end)
