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
    local p = io.popen(("%s/limpet examples/fashion_mnist_cnn.lua --quick --out %s --save %s/cnn.npz 2>&1")
      :format(build, d, d))
    local out = p:read("a")
    local ok = p:close()
    assert.is_true(ok, out)
    local acc, cpu = out:match "result: test (%S+) cpu_s (%d+)"
    assert.is_truthy(acc, out)
    -- chance is 0.1; the quick run (10 batches) gets about 0.31: eval mode's
    -- batch-norm statistics have seen 10 batches (0.45 without batch norm)
    assert.is_true(tonumber(acc) > 0.2, out)
    -- the result is the ten-view figure (--tta shift, the default); plain and flip-averaged printed too
    local plain, avg, n, all = out:match "test: acc (%S+)%%; with flip averaging: acc (%S+)%%; over (%d+) views %(flips and one%-pixel moves%): acc (%S+)%%"
    assert.is_truthy(all, out)
    assert.equal("10", n)
    assert.is_true(tonumber(plain) > 20 and tonumber(avg) > 20, out)
    assert.are.equal(("%.4f"):format(tonumber(all) / 100), acc)
    assert.is_truthy(out:find("re-imported, max |diff| 0 ", 1, true), out)
    -- the per-epoch test runs on the first --val images (all 250 of the quick run's)
    assert.is_truthy(out:find("test[1..250] loss", 1, true), out)
    -- --save: the trained parameters by name, the shapes of the net
    local lp = require "limpet"
    local saved = assert(lp.load(d .. "/cnn.npz"))
    assert.are.same({ 16, 1, 5, 5 }, saved["conv1/weight"].shape)
    assert.are.same({ 32, 16, 5, 5 }, saved["conv2/weight"].shape)
    assert.are.same({ 1568, 10 }, saved["readout/weight"].shape)
    os.execute("rm -rf " .. d)
  end)
  test("with batch norm, a hidden layer, shifts and dropout: folds bn2 into the exported conv2 and keeps the trained neurons", function()
    local d = os.tmpname()
    os.remove(d)
    assert(os.execute("mkdir -p " .. d))
    local p = io.popen(("%s/limpet examples/fashion_mnist_cnn.lua --quick --train 320 --bn 1 --hidden 24 --kernel2 3"
      .. " --shift 2 --dropout 0.2 --tta flip --out %s --save %s/bn.npz 2>&1"):format(build, d, d))
    local out = p:read("a")
    local ok = p:close()
    assert.is_true(ok, out)
    local acc = out:match "result: test (%S+) cpu_s (%d+)"
    assert.is_truthy(acc, out)
    -- --tta flip: the flip-averaged figure is the result
    local avg = out:match "test: acc %S+%%; with flip averaging: acc (%S+)%%\n"
    assert.is_truthy(avg, out)
    assert.are.equal(("%.4f"):format(tonumber(avg) / 100), acc)
    -- NIR re-import exact; the folded conv2 against conv2 -> bn2 in eval mode (float rounding only)
    local d_nir, d_fold = out:match "re%-imported, max |diff| (%S+) on a random spike input %(conv2 folded: (%S+)%)"
    assert.equal("0", d_nir, out)
    assert.is_true(tonumber(d_fold) < 1e-3, out)
    -- --save keeps the running statistics eval mode needs
    local saved = assert(require("limpet").load(d .. "/bn.npz"))
    assert.are.same({ 32 }, saved["bn2/running_var"].shape)
    assert.are.same({ 16 }, saved["bn1/running_mean"].shape)
    os.execute("rm -rf " .. d)
  end)
  test("without batch norm, shifts or test views: the plain figure is the result", function()
    local p = io.popen(("%s/limpet examples/fashion_mnist_cnn.lua --quick --train 320 --bn 0 --shift 0 --tta none --out %s 2>&1")
      :format(build, os.getenv("TMPDIR") or "/tmp"))
    local out = p:read("a")
    assert.is_true(p:close(), out)
    local plain = out:match "\ntest: acc (%S+)%%\n"
    assert.is_truthy(plain, out)
    assert.is_falsy(out:find("bn2", 1, true), out)
    assert.are.equal(("%.4f"):format(tonumber(plain) / 100), out:match "result: test (%S+) cpu_s")
  end)
  it("refuses unknown and malformed arguments with status 2, naming them", function()
    for _, c in ipairs {
      { "--bogus 1", "fashion_mnist_cnn: unknown argument '--bogus'" },
      { "--epochs 0", "fashion_mnist_cnn: argument '--epochs' takes a positive integer, got '0'" },
      { "--flip 2", "fashion_mnist_cnn: --flip takes 0 or 1, got '2'" },
      { "--bn yes", "fashion_mnist_cnn: --bn takes 0, 1 or 2, got 'yes'" },
      { "--tta both", "fashion_mnist_cnn: --tta takes shift, flip or none, got 'both'" },
      { "--smooth 1", "fashion_mnist_cnn: --smooth takes a number in [0, 1), got '1'" },
      { "--kernel 4", "fashion_mnist_cnn: --kernel takes an odd size, got '4'" },
      { "--hidden -3", "fashion_mnist_cnn: --hidden takes a non-negative integer, got '-3'" },
      { "--warmup 1", "fashion_mnist_cnn: --warmup takes a fraction in [0, 1), got '1'" },
      { "--lr -1", "fashion_mnist_cnn: argument '--lr' takes a positive number, got '-1'" },
      { "--kernel2 2", "fashion_mnist_cnn: --kernel2 takes an odd size, got '2'" },
      { "--shift 5", "fashion_mnist_cnn: --shift takes an integer in 0..4 (pixels), got '5'" },
      { "--dropout 1", "fashion_mnist_cnn: --dropout takes a number in [0, 1), got '1'" },
      { "--val 0", "fashion_mnist_cnn: argument '--val' takes a positive integer, got '0'" },
      { "--seed x", "fashion_mnist_cnn: argument '--seed' takes a positive integer, got 'x'" },
    } do
      local p = io.popen(("%s/limpet examples/fashion_mnist_cnn.lua %s 2>&1; echo \"rc=$?\""):format(build, c[1]))
      local out = p:read("a")
      p:close()
      assert.is_truthy(out:find("rc=2", 1, true), out)
      assert.is_truthy(out:find(c[2], 1, true), out)
    end
  end)
  test("--seed N reproduces a run and changes it from another seed's", function()
    local d = os.tmpname()
    os.remove(d)
    assert(os.execute("mkdir -p " .. d))
    local function loss(seed)
      local p = io.popen(("%s/limpet examples/fashion_mnist_cnn.lua --quick --tta none --out %s%s 2>&1")
        :format(build, d, seed and (" --seed " .. seed) or ""))
      local out = p:read("a")
      assert.is_true(p:close(), out)
      return assert(out:match "epoch 1: train loss (%S+ acc %S+)", out)
    end
    local a = loss(3)
    assert.are.equal(a, loss(3))
    assert.are_not.equal(a, loss(nil))
    os.execute("rm -rf " .. d)
  end)
  it("prints its usage lines with --help (and the MLP example its own), status 0", function()
    for _, c in ipairs { { "fashion_mnist_cnn", "--help", "[--bn 0|1|2]" }, { "fashion_mnist_snn", "-h", "[--seed N]" } } do
      local p = io.popen(("%s/limpet examples/%s.lua %s 2>&1; echo \"rc=$?\""):format(build, c[1], c[2]))
      local out = p:read("a")
      p:close()
      assert.is_truthy(out:find("^Usage: limpet examples/" .. c[1] .. "%.lua %[%-%-quick%]"), out)
      assert.is_truthy(out:find(c[3], 1, true), out)
      assert.is_truthy(out:find("\nrc=0\n$"), out)
      assert.is_falsy(out:find("\n%-%-"), out)       -- the comment marks stripped, nothing past the block
    end
  end)
end)
