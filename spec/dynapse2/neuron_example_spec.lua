-- spec/dynapse2/neuron_example_spec.lua -- examples/dynapse2_neuron.lua runs in
-- its quick mode: it prints every sweep, writes its PNGs, and each sweep
-- moves the spike counts the way the tutorial says.
local build = os.getenv("LIMPET_BUILD") or "build/release"
local root = os.getenv("PWD") or "."
local exe = build:sub(1, 1) == "/" and build .. "/limpet" or root .. "/" .. build .. "/limpet"

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

describe("examples/dynapse2_neuron.lua", function()
  it("runs --quick, writes its plots, and shows each parameter's effect", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. q(dir)))
    local p = io.popen(("cd %s && %s examples/dynapse2_neuron.lua --quick --out %s 2>&1 < /dev/null")
      :format(q(root), q(exe), q(dir)))
    local out = p:read("a")
    local ok = p:close()
    assert.is_true(ok, out)
    local function counts(sweep, which)
      local block = out:match("\n" .. sweep .. ":.-\n\n")
      local line = block and block:match("\n  " .. which .. "[^\n]*")
      assert.is_string(line, sweep .. " " .. which .. "\n" .. out)
      local c = {}
      for n in line:gmatch(": (%d+) spikes") do c[#c + 1] = tonumber(n) end
      assert.are.equal(4, #c)
      return c
    end
    local function decreasing(c) for i = 2, #c do assert.is_true(c[i] <= c[i - 1]) end assert.is_true(c[#c] < c[1]) end
    local function increasing(c) for i = 2, #c do assert.is_true(c[i] >= c[i - 1]) end assert.is_true(c[#c] > c[1]) end
    for _, which in ipairs { "step", "pulse" } do
      decreasing(counts("tau_mem", which))
      increasing(counts("r_gain_mem", which))
      decreasing(counts("t_ref", which))
      decreasing(counts("Iw_ahp", which))
      for _, sweep in ipairs { "tau_mem", "r_gain_mem", "t_ref", "Iw_ahp" } do
        for _, suffix in ipairs { ".png", "_raster.png" } do
          local f = io.open(("%s/dynapse2_neuron_%s_%s%s"):format(dir, sweep, which, suffix), "rb")
          assert.is_not_nil(f, sweep .. which .. suffix)
          assert.are.equal("\137PNG", f:read(4))
          f:close()
        end
      end
    end
    assert.is_truthy(out:find("mismatch: 10 neurons", 1, true))
    os.execute("rm -rf " .. q(dir))
  end)
end)
