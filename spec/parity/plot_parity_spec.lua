-- spec/parity/plot_parity_spec.lua -- issue 14 item 12: lp.plot.curve (and
-- traces, histogram) return when a value is +-inf or huge: a diverged run
-- must not hang at its plot. Each plot runs in a child limpet under
-- `timeout`, so a hang fails the spec instead of stopping the suite.
-- Code: stdlib/limpet/plot/init.lua.
local lp = require "limpet"
local build = os.getenv("LIMPET_BUILD") or "build/release"
local root = os.getenv("PWD") or "."
local exe = build:sub(1, 1) == "/" and build .. "/limpet" or root .. "/" .. build .. "/limpet"

local function sh_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- Run `code` in a child limpet (at most 30 s); returns its exit code and output.
local function child(code)
  local p = io.popen(("cd %s && timeout 30 %s -e %s 2>&1"):format(sh_quote(root), sh_quote(exe), sh_quote(code)))
  local out = p:read("a")
  local _, _, rc = p:close()
  return rc, out
end

describe("item 12: plots of diverged values return", function()
  local dir
  setup(function() dir = os.tmpname(); os.remove(dir); os.execute("mkdir -p " .. dir) end)
  teardown(function() os.execute("rm -rf " .. sh_quote(dir)) end)

  it("curve with +inf, -inf, NaN and huge values, PNG and SVG", function()
    for _, ext in ipairs { "png", "svg" } do
      local path = dir .. "/curve." .. ext
      local rc, out = child(([[
        local lp = require "limpet"
        assert(lp.plot.curve({ loss = { 1.0, 0.5, 2.0, math.huge, 0/0 }, acc = { 0.1, -math.huge, 0.3 },
                               big = { 1e308, -1e308 } }, %q))
        assert(lp.plot.curve({ { loss = 1 }, { loss = math.huge } }, %q))
        print("done")]]):format(path, path))
      assert.are.equal(0, rc, out)
      assert.are.equal("done\n", out)
      assert.is_not_nil(io.open(path))
    end
  end)

  it("curve whose every value is infinite", function()
    local rc, out = child(([[assert(require("limpet").plot.curve({ loss = { math.huge, math.huge } }, %q)) print("done")]])
      :format(dir .. "/inf.png"))
    assert.are.equal(0, rc, out)
  end)

  it("traces and histogram with infinities", function()
    local rc, out = child(([[
      local lp = require "limpet"
      local x = lp.tensor({ { 0, 1 }, { math.huge, 2 }, { 3, -math.huge } }, "float32")
      assert(lp.plot.traces(x, %q))
      local ok, info = lp.plot.histogram(lp.tensor { 1, 2, math.huge, -math.huge, 0/0, 2 }, %q, { bins = 2 })
      assert(ok and info.counts[1] + info.counts[2] == 3)
      print("done")]]):format(dir .. "/tr.png", dir .. "/h.svg"))
    assert.are.equal(0, rc, out)
    assert.are.equal("done\n", out)
  end)

  it("refuses a histogram range that is not finite", function()
    assert.has_error(function() lp.plot.histogram({ 1, 2 }, dir .. "/x.png", { range = { 0, math.huge } }) end,
      "bad argument #3 to 'histogram' (field 'range' must be two finite numbers)")
  end)
end)
