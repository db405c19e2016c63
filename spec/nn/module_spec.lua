-- spec/nn/module_spec.lua -- nn.Module semantics (ports the behaviour of
-- Rockpool's test_modules.py and test_parameters.py).
local lp = require "limpet"
local nn = lp.nn

local function have_grad()
  local w = lp.ones(2):requires_grad(true)
  local ok = pcall(function() lp.matmul(lp.ones(1, 2), w:reshape(2, 1)):sum():backward() end)
  return ok and w.grad ~= nil
end

-- Rockpool's my_module: v_mem += (x + bias) / tau * dt, output clip(v_mem, 0, inf)
local My = nn.Module:extend("My")
function My:init(n)
  nn.Module.init(self, n)
  self:parameter("tau", nil, { shape = n, family = "taus", init = function(s) return lp.full(s, 100e-3) end })
  self:parameter("bias", nil, { shape = n, family = "bias", init = function(s) return lp.zeros(s) end })
  self:state("v_mem", 0, { shape = n })
  self:simulation_parameter("dt", 1e-3)
end
function My:evolve(x, record)
  x = self:_auto_batch(x)
  local v = self.v_mem
  local rec_v = {}
  for t = 1, x.shape[2] do
    v = v + (x:slice(2, t, t):reshape(-1) + self.bias) / self.tau * self.dt
    rec_v[t] = v
  end
  self.v_mem = v:detach()
  local rec = {}
  if record then rec.v_mem = lp.stack(rec_v, 1) end
  return x + self.bias, self:state(), rec
end

describe("nn.Module", function()
  it("declares parameters, states and simulation parameters by kind", function()
    local m = My(5)
    assert.same({ 5 }, m.shape)
    assert.equals(5, m.size_in); assert.equals(5, m.size_out)
    assert.is_true(m.tau:requires_grad())
    assert.tensor_near(lp.full({ 5 }, 0.1), m.tau, 1e-7)
    local p = m:parameters()
    assert.equals(m.tau, p.tau)        -- the very tensor the module computes with
    assert.equals(m.bias, p.bias)
    assert.same({ "tau" }, (function() local k = {} for n in pairs(m:parameters("taus")) do k[#k + 1] = n end return k end)())
    assert.equals(m.v_mem, m:state().v_mem)
    assert.same({ dt = 1e-3 }, m:simulation_parameters())
    assert.equals("parameter", m:attribute_kind("tau"))
    assert.equals("taus", m:attribute_family("tau"))
  end)

  it("evolves, keeps state between calls and records", function()
    local m = My(5)
    local x = lp.ones(10, 5)
    local out, st = m(x)
    assert.same({ 1, 10, 5 }, out.shape)
    assert.tensor_near(lp.full({ 5 }, 0.1), st.v_mem, 1e-5)
    m:evolve(x)                         -- no implicit reset
    assert.tensor_near(lp.full({ 5 }, 0.2), m.v_mem, 1e-5)
    m:set_attributes(st)
    assert.tensor_near(lp.full({ 5 }, 0.1), m.v_mem, 1e-5)
    local _, _, rec = m(x, true)
    assert.same({ 10, 5 }, rec.v_mem.shape)
    m:reset_state()
    assert.tensor_near(lp.zeros(5), m.v_mem)
  end)

  it("set_attributes copies parameters in place and checks shapes", function()
    local m = My(3)
    local tau = m.tau
    m:set_attributes { tau = lp.tensor { 1, 2, 3 } }
    assert.equals(tau, m.tau)
    assert.tensor_near(lp.tensor { 1, 2, 3 }, tau)
    m.bias = 2
    assert.tensor_near(lp.full({ 3 }, 2.0), m.bias)
    assert.is_true(m.bias:requires_grad())
    assert.has_error(function() m:set_attributes { tau = lp.zeros(4) } end,
      "bad argument #1 to 'set_attributes' (tau: expected shape (3,), got (4,))")
    assert.has_error(function() m:set_attributes { foo = 1 } end,
      "bad argument #1 to 'set_attributes' (no attribute 'foo')")
    assert.has_error(function() m:set_attributes(3) end,
      "bad argument #1 to 'set_attributes' (table expected, got number)")
    m:reset_parameters()
    assert.tensor_near(lp.full({ 3 }, 0.1), tau, 1e-7)
  end)

  it("nests sub-modules and selects by family", function()
    local Net = nn.Module:extend("Net")
    function Net:init(sizes)
      nn.Module.init(self, sizes)
      for i = 1, #sizes - 1 do
        self["weight_" .. i] = nn.Parameter(lp.rand(sizes[i], sizes[i + 1]), { family = "weights" })
        self["iaf_" .. i] = My(sizes[i + 1])
      end
    end
    function Net:evolve(x, record)
      local st, rec = {}, {}
      for i = 1, #self.shape - 1 do
        local s, r
        x, s, r = self["iaf_" .. i](lp.matmul(x, self["weight_" .. i]), record)
        st["iaf_" .. i], rec["iaf_" .. i] = s, r
      end
      return x, st, rec
    end
    local net = Net { 2, 3, 2 }
    local w = net:parameters("weights")
    assert.same({ "weight_1", "weight_2" }, (function() local k = {} for n in pairs(w) do k[#k + 1] = n end table.sort(k) return k end)())
    local p = net:parameters()
    assert.equals(net.iaf_1.tau, p.iaf_1.tau)
    assert.equals(2, #net:modules())
    assert.equals("iaf_1", net:modules()[1].name)
    assert.equals("My 'iaf_1'", net.iaf_1.full_name)
    assert.equals(3 * 2 + 2 * 2 + 3 * 2 + 2 * 2 * 2 - 2, net:count_parameters())
    local st = net:state()
    assert.same({ 3 }, st.iaf_1.v_mem.shape)
    net:set_attributes { iaf_2 = { tau = 0.5 } }
    assert.tensor_near(lp.full({ 2 }, 0.5), net.iaf_2.tau)
    assert.has_error(function() net:set_attributes { iaf_2 = { tau = lp.zeros(3) } } end,
      "bad argument #1 to 'set_attributes' (iaf_2.tau: expected shape (2,), got (3,))")
    assert.has_error(function() net:set_attributes { iaf_3 = {} } end,
      "bad argument #1 to 'set_attributes' (no attribute 'iaf_3')")
    local out = net(lp.rand(4, 2))
    assert.same({ 1, 4, 2 }, out.shape)
    assert.equals(
      "Net with shape (2, 3, 2), 22 parameters {\n    My 'iaf_1' with shape (3,), 6 parameters\n    My 'iaf_2' with shape (2,), 4 parameters\n}",
      tostring(net))
  end)

  it("freezes nn.Constant values as simulation parameters", function()
    local C = nn.Module:extend("C")
    function C:init(v) nn.Module.init(self, nil); self.param = nn.Parameter(v) end
    local m = C(nn.Constant(3))
    assert.is_nil(m:parameters().param)
    assert.equals(3, m:simulation_parameters().param)
    local m2 = C(lp.tensor { 1, 2 })
    assert.is_true(m2:parameters().param:requires_grad())
    assert.has_error(function() nn.Parameter() end,
      "bad argument #1 to 'Parameter' (a value or an init function is required)")
    assert.has_error(function() nn.Parameter(1, { famly = "x" }) end,
      "bad argument #2 to 'Parameter' (unknown field 'famly')")
    local d = nn.Parameter(nil, { shape = { 2 }, init = function(s) return lp.randn(s) end })
    local m3 = C(1); m3.other = d
    assert.same({ 2 }, m3.other.shape)
  end)

  it("switches training mode recursively", function()
    local net = nn.Sequential(My(2), My(2))
    assert.is_true(net.training)
    assert.equals(net, net:eval())
    assert.is_false(net[1].training); assert.is_false(net[2].training)
    net:train()
    assert.is_true(net[2].training)
    assert.has_error(function() net:train("yes") end, "bad argument #1 to 'train' (boolean expected, got string)")
  end)

  it("auto-batches (T, N) input and checks its shape", function()
    local m = nn.Linear({ 3, 2 })
    assert.same({ 1, 4, 2 }, m(lp.rand(4, 3)).shape)
    assert.same({ 5, 4, 2 }, m(lp.rand(5, 4, 3)).shape)
    assert.has_error(function() m(lp.rand(4, 5)) end,
      "bad argument #1 to 'evolve' (Linear expects 3 input channels, got (1, 4, 5))")
    assert.same({ 1, 4, 2 }, m(lp.rand(4)).shape)          -- (T) is (1, T, 1), broadcast (Rockpool)
    assert.has_error(function() m(lp.rand(2, 4, 3, 1)) end,
      "bad argument #1 to 'evolve' (Linear expects input of shape (T), (T, N) or (B, T, N), got (2, 4, 3, 1))")
    assert.has_error(function() m(3) end, "bad argument #1 to 'evolve' (Linear expects a tensor, got number)")
  end)

  it("refuses attribute names that shadow methods", function()
    local Bad = nn.Module:extend("Bad")
    function Bad:init() nn.Module.init(self); self:parameter("state", 1) end
    assert.has_error(function() Bad() end, "bad argument #2 to 'Bad' ('state' cannot be an attribute name)")
  end)

  it("reports a module without evolve", function()
    local E = nn.Module:extend("E")
    assert.has_error(function() E(2)(lp.zeros(1, 2)) end, "E does not implement evolve")
  end)

  it("puts gradients on the parameter tensors", function()
    if not have_grad() then pending("autodiff of matmul not built in yet") return end
    local m = nn.Linear({ 3, 2 })
    local p = m:parameters()
    local out = m(lp.ones(4, 3))
    out:sum():backward()
    assert.tensor_near(lp.full({ 3, 2 }, 4.0), p.weight.grad)
  end)
end)
