-- spec/robustness_spec.lua -- drives every tensor function with hostile
-- arguments: wrong types, wrong shapes, out-of-range positions, NaN/Inf,
-- empty tensors, sizes beyond the engine's cap, and failing allocations.
-- Each call must either succeed or raise a Lua error that names the
-- function (never crash, never corrupt state); `make check` runs this under
-- AddressSanitizer and UndefinedBehaviorSanitizer.
local lp = require "limpet"

local function samples()
  return {
    lp.zeros(2, 3), lp.arange(6):reshape(2, 3), lp.tensor { true, false }, lp.zeros(0, 3),
    lp.tensor(2.5), lp.tensor({ 0 / 0, 1 / 0, -1 / 0 }, "float64"), lp.arange(24):reshape(2, 3, 4):transpose(1, 3),
    lp.ones(3, "uint8"), lp.ones(1, 1, "int8"),
  }
end

local hostile = {
  n = 18,
  function() return nil end, function() return "x" end, function() return {} end,
  function() return { 1, { 2 } } end, function() return 0 end, function() return -1 end,
  function() return 100 end, function() return 2 ^ 62 end, function() return 0.5 end,
  function() return 0 / 0 end, function() return 1 / 0 end, function() return true end,
  function() return lp.zeros(5, 7) end, function() return lp.zeros(0) end,
  function() return lp.tensor({ 1, 2 }, "int16") end, function() return print end,
  function() return -9 end, function() return { 1000000, 1000000, 1000000 } end,
}

-- every method of the tensor method table and every function of the module
local function all_functions()
  local fs = {}
  for name, f in pairs(lp.Tensor) do
    if type(f) == "function" and name ~= "release" and name ~= "show" then fs[#fs + 1] = { "method", name, f } end
  end
  for name, f in pairs(lp.core) do
    if type(f) == "function" and name ~= "seed" and name ~= "config" and name ~= "save" then fs[#fs + 1] = { "module", name, f } end
  end
  table.sort(fs, function(a, b) return a[1] .. a[2] < b[1] .. b[2] end)
  return fs
end

local function is_clean_error(err)
  return type(err) == "string" and #err > 0 and not err:find("PANIC", 1, true)
end

describe("hostile arguments", function()
  it("never crash any function and always give a message", function()
    local calls, failures = 0, {}
    for _, entry in ipairs(all_functions()) do
      local kind, name, f = entry[1], entry[2], entry[3]
      for _, t in ipairs(samples()) do
        for i = 1, hostile.n - 1 do
          for j = i, hostile.n - 1, 5 do
            local a, b = hostile[i](), hostile[j]()
            local ok, err
            if kind == "method" then ok, err = pcall(f, t, a, b) else ok, err = pcall(f, a, b, t) end
            calls = calls + 1
            if not ok and not is_clean_error(err) then failures[#failures + 1] = name .. ": " .. tostring(err) end
          end
        end
      end
    end
    assert.are.same({}, failures)
    assert.is_true(calls > 1000)
  end)

  it("leave a usable engine behind", function()
    local t = lp.arange(6):reshape(2, 3)
    assert.are.same({ 2, 3 }, t.shape)
    assert.are.equal(15, t:sum():item())
  end)
end)

describe("sizes beyond the cap", function()
  it("are refused before allocating, by every constructor", function()
    local big = { 1000000, 1000000, 100000 }
    for _, f in ipairs {
      function() return lp.zeros(big) end, function() return lp.ones(big) end,
      function() return lp.full(big, 1) end, function() return lp.rand(big) end,
      function() return lp.randn(big) end, function() return lp.randint(0, 2, big) end,
      function() return lp.bernoulli(0.5, big) end, function() return lp.eye(10000000, 10000000) end,
      function() return lp.arange(0, 1e18) end, function() return lp.linspace(0, 1, 1e15) end,
      function() return lp.zeros(2):expand(1000000, 1000000, 2):contiguous() end,
    } do
      local ok, err = pcall(f)
      assert.is_false(ok)
      assert.truthy(err:find("more than the cap", 1, true) or err:find("too large", 1, true), err)
    end
  end)
end)

describe("failing allocations", function()
  it("raise 'not enough memory' from every function and leak nothing", function()
    local a, m = lp.randn(4, 5), lp.tensor { true, false, true, true }
    local cases = {
      function() return lp.zeros(3, 3) end, function() return a:clone() end,
      function() return a:transpose():reshape(20) end, function() return a:astype "float64" end,
      function() return lp.cat({ a, a }, 1) end, function() return lp.stack { a, a } end,
      function() return a[m] end, function() return a[lp.tensor { 1, 3 }] end,
      function() return lp.tensor { { 1, 2 }, { 3, 4 } } end, function() return lp.randn(3) end,
      function() return a + a end, function() return a * 2 end, function() return a:exp() end,
      function() return a:sum(1) end, function() return a:mean() end, function() return a:argmax(2) end,
      function() return lp.matmul(a, a:transpose()) end, function() return lp.where(a:gt(0), a, 0) end,
      function() return a:var(1) end, function() return a:clamp(0, 1) end,
    }
    collectgarbage(); collectgarbage()
    local live = lp.config().bytes_live
    for k, f in ipairs(cases) do
      local succeeded = false
      for n = 1, 40 do
        lp.config { fail_alloc_after = n }
        local ok, err = pcall(f)
        lp.config { fail_alloc_after = 0 }
        if ok then succeeded = true; break end
        assert.truthy(tostring(err):find("not enough memory", 1, true), ("case %d, n=%d: %s"):format(k, n, tostring(err)))
      end
      assert.is_true(succeeded, "case " .. k .. " never succeeded")
    end
    collectgarbage(); collectgarbage()
    assert.are.equal(live, lp.config().bytes_live)
  end)
end)

describe("NaN, Inf and empty tensors", function()
  it("flow through arithmetic and reductions like NumPy", function()
    local x = lp.tensor({ 1, 0 / 0, 1 / 0 }, "float64")
    local y = (x * 2):totable()
    assert.are.equal(2, y[1]); assert.is_true(y[2] ~= y[2]); assert.are.equal(math.huge, y[3])
    local s = x:sum():item()
    assert.is_true(s ~= s)
    local e = lp.zeros(0, 3)
    assert.are.same({ 0, 3 }, (e + 1).shape)
    assert.are.same({ 3 }, e:sum(1).shape)
    assert.are.equal(0, e:sum():item())
    assert.are.same({ 0 }, e:reshape(0).shape)
  end)
end)
