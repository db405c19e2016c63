-- spec/nn/serialize_spec.lua -- net:save / nn.load: round trips of every
-- module kind, user classes via nn.register, corrupt and missing files.
local lp = require "limpet"
local core = require "limpet.core"
local nn = lp.nn

local dir = os.tmpname(); os.remove(dir)
local function path(name) return dir .. "_" .. name end

local function same_outputs(a, b, x)
  a:reset_state(); b:reset_state()
  a:eval(); b:eval()
  local ya = a(x); local yb = b(x)
  assert.tensor_near(ya, yb, 0)
end

local function all_params_equal(a, b)
  local function walk(pa, pb)
    for k, v in pairs(pa) do
      if lp.is_tensor(v) then assert.tensor_near(v, pb[k], 0)
      elseif type(v) == "table" then walk(v, pb[k])
      else assert.equals(v, pb[k]) end
    end
  end
  walk(a:parameters(), b:parameters())
  walk(a:simulation_parameters(), b:simulation_parameters())
end

describe("nn save / load", function()
  it("round-trips a chain of every module kind", function()
    lp.seed(7)
    local net = nn.Sequential {
      nn.Linear({ 4, 6 }, { has_bias = true }),
      nn.Instant("tanh"),
      nn.Linear({ 6, 8 }),
      nn.UnitDropout(8, { p = 0.2 }),
      nn.TimeStepDropout(8),
    }
    if core.lif then
      net:append(nn.LIF({ 8, 4 }, { has_rec = true, tau_mem = nn.Constant(0.03), spike_generation_fn = "ATan", surrogate_scale = 3 }))
      net:append(nn.Residual(nn.Linear({ 4, 4 }), nn.LIFBitshift(4)))
      net:append(nn.FFwdStack(nn.aLIF(4), nn.LIFNeuron(3)))
      net:append(nn.ExpSyn(3, { tau = 0.02 }))
      net:append(nn.Linear({ 3, 2 }))
      net:append(nn.Rate(2, { has_rec = true, activation = "sigmoid" }))
      net:append(nn.LIF(2, { leak_mode = "bitshifts" }))
    end
    net:set_attributes { ["1_Linear"] = { bias = lp.tensor { 1, 2, 3, 4, 5, 6 } } }
    local f = path("net.npz")
    assert.is_true(net:save(f))
    local again = nn.load(f)
    assert.equals(tostring(net), tostring(again))
    all_params_equal(net, again)
    assert.equals("ATan", core.lif and again["6_LIF"].spike_generation_fn or "ATan")
    if core.lif then assert.equals("simulation", again["6_LIF"]:attribute_kind("tau_mem")) end
    same_outputs(net, again, lp.rand(2, 12, 4))
    os.remove(f)
  end)

  it("keeps states and the training flag", function()
    if not core.lif then pending("core.lif not built in") return end
    local l = nn.LIF(3)
    l(lp.rand(5, 3) * 3)
    l:eval()
    local f = path("lif.npz")
    assert.is_true(l:save(f))
    local b = nn.load(f)
    assert.tensor_near(l.vmem, b.vmem, 0)
    assert.is_false(b.training)
    os.remove(f)
  end)

  it("writes arrays NumPy can name", function()
    local net = nn.Sequential(nn.Linear({ 2, 3 }), nn.Linear({ 3, 1 }, { has_bias = true }))
    local f = path("names.npz")
    net:save(f)
    local arrays = lp.load(f)
    assert.tensor_near(net[1].weight, arrays["1_Linear.weight"], 0)
    assert.tensor_near(net[2].bias, arrays["2_Linear.bias"], 0)
    assert.equals("uint8", arrays.__module_tree__.dtype)
    os.remove(f)
  end)

  it("rebuilds registered user classes", function()
    local Scale = nn.Module:extend("SpecScale")
    function Scale:init(n, opts)
      nn.Module.init(self, n)
      self:parameter("gain", opts.gain, { shape = n, family = "weights" })
      self.inner = nn.Linear({ n, n })
    end
    function Scale:evolve(x) local y = self.inner(x); return y * self.gain, {}, {} end
    local m = Scale(3, { gain = 2 })
    local f = path("user.npz")
    assert.has_error(function() m:save(f) end,
      "nn.save: cannot save SpecScale: class 'SpecScale' is not registered (nn.register)")
    nn.register(Scale)
    m:set_attributes { gain = lp.tensor { 1, 2, 3 } }
    assert.is_true(m:save(f))
    local b = nn.load(f)
    assert.tensor_near(lp.tensor { 1, 2, 3 }, b.gain, 0)
    same_outputs(m, b, lp.rand(4, 3))
    os.remove(f)
  end)

  it("reports what cannot be saved", function()
    local net = nn.Sequential(nn.Instant(function(z) return z end))
    assert.has_error(function() net:save(path("fn.npz")) end,
      "nn.save: cannot save Instant '1_Instant': constructor argument #1 is a function")
    assert.has_error(function() net:save(path("x.json")) end,
      ("bad argument #2 to 'save' (expected a path ending in .npz, got '%s')"):format(path("x.json")))
  end)

  it("returns nil and a message for a missing file", function()
    local m, msg = nn.load(path("missing.npz"))
    assert.is_nil(m)
    assert.matches("cannot open", msg)
  end)

  it("names the file and the problem when it is not a model", function()
    local f = path("plain.npz")
    lp.save(f, { a = lp.ones(2) })
    assert.has_error(function() nn.load(f) end,
      ("nn.load: '%s': not a model file (no '__module_tree__' entry)"):format(f))
    local json = require "limpet.json"
    local function bytes(s) local t = {} for i = 1, #s do t[i] = s:byte(i) end return lp.tensor(t, "uint8") end
    lp.save(f, { __module_tree__ = bytes("{not json") })
    assert.has_error(function() nn.load(f) end,
      ("nn.load: '%s': corrupt module tree (string or '}' expected near 'not' at position 5)"):format(f))
    lp.save(f, { __module_tree__ = bytes(json.encode { format = "limpet.nn/1",
      root = { class = "Nope", args = json.array(), attrs = {} } }) })
    assert.has_error(function() nn.load(f) end,
      ("nn.load: '%s': unknown module class 'Nope' (register it with nn.register)"):format(f))
    lp.save(f, { __module_tree__ = bytes(json.encode { format = "limpet.nn/1",
      root = { class = "Linear", args = { { 2, 3 } }, nargs = 1, attrs = {} } }) })
    assert.has_error(function() nn.load(f) end, ("nn.load: '%s': missing array 'weight'"):format(f))
    lp.save(f, { weight = lp.ones(3, 3), __module_tree__ = bytes(json.encode { format = "limpet.nn/1",
      root = { class = "Linear", args = { { 2, 3 } }, nargs = 1, attrs = {} } }) })
    assert.has_error(function() nn.load(f) end,
      ("nn.load: '%s': array 'weight' does not fit: weight: expected shape (2, 3), got (3, 3)"):format(f))
    local fh = io.open(f, "wb"); fh:write("PK\3\4garbage"); fh:close()
    local ok, err = pcall(nn.load, f)
    assert.is_false(ok)
    assert.matches("^nn.load: '" .. f:gsub("%p", "%%%0") .. "': ", err)
    os.remove(f)
  end)
end)
