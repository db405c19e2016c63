-- spec/xylo/imu_example_spec.lua -- examples/xylo_imu.lua runs end to end in its quick
-- mode: IMU interface, training, mapping to Xylo IMU, XyloSim, and the virtual board
-- on raw samples agreeing with XyloSim; it writes its three figures.
local build = os.getenv("LIMPET_BUILD") or "build/release"
local root = os.getenv("PWD") or "."
local exe = build:sub(1, 1) == "/" and build .. "/limpet" or root .. "/" .. build .. "/limpet"

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

describe("examples/xylo_imu.lua", function()
  it("trains, maps and runs on the virtual board in its quick mode", function()
    local d = os.tmpname()
    os.remove(d)
    assert(os.execute("mkdir -p " .. q(d)))
    local p = io.popen(("cd %s && %s examples/xylo_imu.lua --quick --out %s 2>&1 < /dev/null"):format(q(root), q(exe), q(d)))
    local out = p:read("a")
    local _, _, code = p:close()
    assert.are.equal(0, code, out)
    assert.matches("IMU interface: 144 recordings", out, 1, true)
    assert.matches("virtual board on raw IMU samples == XyloSim on IMU IF events: true", out, 1, true)
    local acc = tonumber(out:match("XyloSim test accuracy: ([%d.]+)"))
    assert.is_true(acc ~= nil and acc >= 0.8, out)
    for _, f in ipairs { "xylo_imu_samples.png", "xylo_imu_events.png", "xylo_imu_training.png" } do
      local fh = io.open(d .. "/" .. f, "rb")
      assert.is_not_nil(fh, f .. " missing")
      assert.are.equal("\137PNG", fh:read(4))
      fh:close()
    end
    os.execute("rm -rf " .. q(d))
  end)
end)
