-- spec/dynapse2/quickstart_spec.lua -- examples/dynapse2_quickstart.lua runs end to end in
-- its quick mode: Rockpool's frozen-noise data reproduced (its trained weights answer both
-- samples), training, mapping, quantisation, configuration round trip, simulation of the
-- deployed configuration and the plots.
local build = os.getenv("LIMPET_BUILD") or "build/release"
local root = os.getenv("PWD") or "."
local exe = build:sub(1, 1) == "/" and build .. "/limpet" or root .. "/" .. build .. "/limpet"

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

describe("examples/dynapse2_quickstart.lua", function()
  it("runs the whole workflow in quick mode", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. q(dir)))
    local p = io.popen(("cd %s && %s examples/dynapse2_quickstart.lua --quick --out %s 2>&1 < /dev/null")
      :format(q(root), q(exe), q(dir)))
    local out = p:read("a")
    local _, _, code = p:close()
    assert.equal(0, code, out)
    -- NumPy's rasters: Rockpool's trained network answers both samples (FRR 49 and 6.1)
    assert.matches("frozen noise: 2 samples, 60 channels, 500 steps, 3096 input events", out, 1, true)
    assert.matches("Rockpool's trained network%s+FRR  49%.00   6%.12", out)
    assert.matches("Dynapse2Config: 1 chip, 2 neurons, 60 input channels", out, 1, true)
    assert.matches("saved and reloaded " .. dir .. "/dynapse2_quickstart.json", out, 1, true)
    for _, name in ipairs { "float %(trained%)", "deployed configuration", "deployed, 10 %% mismatch" } do
      assert.matches(name .. "%s+FRR%s+[%d.]+%s+[%d.]+", out)
    end
    assert.matches("firing%-rate ratios %(sample 1, sample 2%): float [%d.]+ [%d.]+ | quantised [%d.]+ [%d.]+ | mismatched", out)
    assert.matches("float %(trained%)[^\n]*right neuron wins 2/2", out)
    for _, f in ipairs { "imem", "input", "output" } do
      local fh = io.open(("%s/dynapse2_quickstart_%s.png"):format(dir, f), "rb")
      assert.is_not_nil(fh, f)
      assert.equal("\137PNG", fh:read(4))
      fh:close()
    end
    os.execute("rm -rf " .. q(dir))
  end)
end)
