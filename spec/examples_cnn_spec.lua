-- spec/examples_cnn_spec.lua -- examples/fashion_mnist_cnn.lua in its
-- quick mode (Debian's Fashion-MNIST; pending when it is not installed):
-- trains, scores, exports its tail to NIR and re-imports it unchanged.
local build = os.getenv("LIMPET_BUILD") or "build/release"

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

describe("examples/fashion_mnist_cnn.lua", function()
  local have = exists("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
  local test = have and it or pending
  test("trains a quick spiking CNN and ends with the result line", function()
    local d = os.tmpname()
    os.remove(d)
    assert(os.execute("mkdir -p " .. d))
    local p = io.popen(("%s/limpet examples/fashion_mnist_cnn.lua --quick --out %s 2>&1"):format(build, d))
    local out = p:read("a")
    local ok = p:close()
    assert.is_true(ok, out)
    local acc, cpu = out:match "result: test (%S+) cpu_s (%d+)"
    assert.is_truthy(acc, out)
    assert.is_true(tonumber(acc) > 0.3, out)    -- chance is 0.1; the quick run gets about 0.7
    assert.is_truthy(out:find("re-imported, max |diff| 0 ", 1, true), out)
    os.execute("rm -rf " .. d)
  end)
  it("refuses unknown and malformed arguments with status 2, naming them", function()
    for _, c in ipairs {
      { "--bogus 1", "fashion_mnist_cnn: unknown argument '--bogus'" },
      { "--epochs 0", "fashion_mnist_cnn: argument '--epochs' takes a positive integer, got '0'" },
      { "--flip 2", "fashion_mnist_cnn: --flip takes 0 or 1, got '2'" },
    } do
      local p = io.popen(("%s/limpet examples/fashion_mnist_cnn.lua %s 2>&1; echo \"rc=$?\""):format(build, c[1]))
      local out = p:read("a")
      p:close()
      assert.is_truthy(out:find("rc=2", 1, true), out)
      assert.is_truthy(out:find(c[2], 1, true), out)
    end
  end)
end)
