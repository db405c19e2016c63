-- spec/examples_spec.lua -- the training examples run end to end in their
-- quick modes: examples/fashion_mnist_snn.lua (on Debian's Fashion-MNIST
-- when installed; pending otherwise) and examples/shd_training.lua (on the
-- small SHD-layout fixture, and without data, where it must exit cleanly).
local build = os.getenv("LIMPET_BUILD") or "build/release"
local root = os.getenv("PWD") or "."
local exe = build:sub(1, 1) == "/" and build .. "/limpet" or root .. "/" .. build .. "/limpet"

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- run(words) -> stdout and stderr together, exit code
local function run(words)
  local parts = {}
  for i, w in ipairs(words) do parts[i] = q(w) end
  local p = io.popen(("cd %s && %s %s 2>&1 < /dev/null"):format(q(root), q(exe), table.concat(parts, " ")))
  local out = p:read("a")
  local _, _, code = p:close()
  return out, code
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- width, height of a PNG file (nil when it is not one)
local function png_size(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local head = f:read(24)
  f:close()
  if not head or #head < 24 or head:sub(1, 8) ~= "\137PNG\r\n\26\n" or head:sub(13, 16) ~= "IHDR" then return nil end
  return string.unpack(">I4", head, 17), string.unpack(">I4", head, 21)
end

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir -p " .. q(d)))
  return d
end

local function rmdir(d) os.execute("rm -rf " .. q(d)) end

describe("examples/shd_training.lua", function()
  it("trains end to end on the SHD-layout fixture", function()
    local out, code = run { "examples/shd_training.lua", "--root", "spec/fixtures/data/shd", "--quick" }
    assert.equals(0, code, out)
    assert.matches("SHD at spec/fixtures/data/shd: 5 training and 3 test samples", out, 1, true)
    assert.matches("epoch 2: train loss [%d.]+ acc [%d.]+%%  test loss [%d.]+ acc [%d.]+%%", out)
    assert.matches("final test accuracy: [%d.]+%% on 3 samples after 2 epochs", out)
    assert.not_matches("NaN", out)
  end)

  it("reads binned samples back from its disk cache on a second run", function()
    local d = tmpdir()
    local args = { "examples/shd_training.lua", "--root", "spec/fixtures/data/shd", "--quick", "--epochs", "1",
                   "--cache", d }
    local out, code = run(args)
    assert.equals(0, code, out)
    local again, code2 = run(args)
    assert.equals(0, code2, again)
    assert.matches("final test accuracy", again, 1, true)
    local p = io.popen("ls " .. q(d .. "/train") .. " | wc -l")
    local n = tonumber(p:read("a"))
    p:close()
    rmdir(d)
    assert.equals(5, n)
  end)

  it("says so and exits with status 0 when there is no SHD data", function()
    local d = tmpdir()
    local out, code = run { "examples/shd_training.lua", "--root", d }
    rmdir(d)
    assert.equals(0, code, out)
    assert.matches("no SHD data at '" .. d .. "'", out, 1, true)
    assert.matches("shd_train.h5' not found", out, 1, true)
    assert.not_matches("epoch", out)
    -- a folder with only the test split (the gzip'd fixture) is no training set either
    out, code = run { "examples/shd_training.lua", "--root", "spec/fixtures/data/shd_gz" }
    assert.equals(0, code, out)
    assert.matches("no SHD data at 'spec/fixtures/data/shd_gz'", out, 1, true)
  end)

  it("rejects an unknown argument with status 2", function()
    local out, code = run { "examples/shd_training.lua", "--bogus" }
    assert.equals(2, code)
    assert.matches("unknown argument '--bogus'", out, 1, true)
    out, code = run { "examples/shd_training.lua", "--readout", "median" }
    assert.equals(2, code)
    assert.matches("--readout takes mean or max, got 'median'", out, 1, true)
  end)

  it("trains with Cramer et al.'s max-over-time readout (--readout max)", function()
    local out, code = run { "examples/shd_training.lua", "--root", "spec/fixtures/data/shd", "--quick", "--readout", "max" }
    assert.equals(0, code, out)
    assert.matches("epoch 2: train loss [%d.]+ acc [%d.]+%%  test loss [%d.]+ acc [%d.]+%%", out)
    assert.not_matches("NaN", out)
  end)
end)

describe("examples/fashion_mnist_snn.lua", function()
  local have = exists("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
  local test = have and it or pending
  test("trains a quick spiking network, prints accuracy and time, writes two PNGs", function()
    local d = tmpdir()
    local out, code = run { "examples/fashion_mnist_snn.lua", "--quick", "--out", d }
    local cw, ch = png_size(d .. "/fashion_mnist_curve.png")
    local rw, rh = png_size(d .. "/fashion_mnist_raster.png")
    rmdir(d)
    assert.equals(0, code, out)
    assert.matches("Fashion%-MNIST: 2000 training and 500 test images, 16 time steps of latency%-coded", out)
    assert.matches("epoch 2: train loss [%d.]+ acc [%d.]+%%  test loss [%d.]+ acc [%d.]+%%", out)
    local acc = tonumber(out:match("final test accuracy: ([%d.]+)%% on 500 images after 2 epochs; wall time [%d.]+ s"))
    assert.is_truthy(acc, out)
    assert.is_true(acc > 30, out)                -- chance is 10 %; the quick run gets about 70 %
    -- the final figure averages each test image with its mirror (--tta flip, the default)
    local tta, plain = out:match("test with flip averaging: loss [%d.]+ acc ([%d.]+)%% %(without: ([%d.]+)%%%)")
    assert.is_truthy(tta, out)
    assert.equals(acc, tonumber(tta), out)
    assert.matches(("epoch 2: train loss [%%d.]+ acc [%%d.]+%%%%  test loss [%%d.]+ acc %s%%%%"):format((plain:gsub("%.", "%%."))), out)
    assert.matches("result: test 0%.%d%d%d%d cpu_s %d+", out)
    assert.is_truthy(cw, "no curve PNG")
    assert.is_true(cw > 100 and ch > 100)
    assert.is_truthy(rw, "no raster PNG")
    assert.is_true(rw > 100 and rh > 100)
  end)
  it("refuses unknown and malformed arguments with status 2, naming them", function()
    local cases = {
      { { "--bogus", "1" }, "fashion_mnist_snn: unknown argument '--bogus'" },
      { { "--steps", "x" }, "fashion_mnist_snn: argument '--steps' takes a positive integer, got 'x'" },
      { { "--lr", "-1" }, "fashion_mnist_snn: argument '--lr' takes a positive number, got '-1'" },
      { { "--encoding", "poisson" }, "fashion_mnist_snn: --encoding takes latency or rate, got 'poisson'" },
      { { "--dropout", "1" }, "fashion_mnist_snn: --dropout takes a number in [0, 1), got '1'" },
      { { "--epochs" }, "fashion_mnist_snn: argument '--epochs' needs a value" },
      { { "--shift", "5" }, "fashion_mnist_snn: --shift takes an integer in 0..4 (pixels), got '5'" },
      { { "--shift", "0.5" }, "fashion_mnist_snn: --shift takes an integer in 0..4 (pixels), got '0.5'" },
      { { "--wd", "-0.1" }, "fashion_mnist_snn: --wd takes a number >= 0, got '-0.1'" },
      { { "--smooth", "1" }, "fashion_mnist_snn: --smooth takes a number in [0, 1), got '1'" },
      { { "--tta", "shift" }, "fashion_mnist_snn: --tta takes flip or none, got 'shift'" },
      { { "--batch", "0" }, "fashion_mnist_snn: argument '--batch' takes a positive integer, got '0'" },
      { { "--seed", "x" }, "fashion_mnist_snn: argument '--seed' takes a positive integer, got 'x'" },
    }
    for _, c in ipairs(cases) do
      local a = { "examples/fashion_mnist_snn.lua" }
      for _, v in ipairs(c[1]) do a[#a + 1] = v end
      local out, code = run(a)
      assert.equals(2, code, out)
      assert.matches(c[2], out, 1, true)
    end
  end)
end)

describe("examples/xylo_audio_frontend.lua", function()
  it("runs a chirp (and the spoken word where espeak-ng is installed) through both front ends", function()
    local d = tmpdir()
    local out, code = run { "examples/xylo_audio_frontend.lua", "--quick", "--out", d }
    local pngs = { "chirp_a3_filterbank.png", "chirp_a3_raster.png", "chirp_a3_pdm_raster.png", "chirp_a2_filterbank.png",
      "chirp_a2_raster.png", "a3_frequency_response.png", "a2_frequency_response.png" }
    local sizes = {}
    for i, f in ipairs(pngs) do sizes[i] = { png_size(d .. "/" .. f) } end
    local word = exists(d .. "/word_a3_raster.png")
    rmdir(d)
    assert.equals(0, code, out)
    assert.matches("chirp  0%.40 s of audio: Audio 3 external %d+ spikes", out)
    assert.matches("Xylo Audio 3 filter bank: measured peak", out)
    assert.matches("filter 16 +%d+ +16822 +16611", out)
    for i, f in ipairs(pngs) do
      assert.is_truthy(sizes[i][1], "no " .. f)
      assert.is_true(sizes[i][1] > 100 and sizes[i][2] > 100)
    end
    if out:find("spoken word:", 1, true) then assert.is_true(word) end
  end)
end)

describe("examples/xylo_kws.lua", function()
  local have_espeak = os.execute("command -v espeak-ng >/dev/null 2>&1 && command -v flite >/dev/null 2>&1")
  local test = have_espeak and it or pending
  test("spots keywords end to end with --quick: features, float, QAT, the board with its front end, figures", function()
    local d, c = tmpdir(), tmpdir()
    local args = { "examples/xylo_kws.lua", "--quick", "--out", d, "--cache", c }
    local out, code = run(args)
    local pngs = { "kws_confusion.png", "kws_rasters.png", "kws_training.png" }
    local sizes = {}
    for i, f in ipairs(pngs) do sizes[i] = { png_size(d .. "/" .. f) } end
    -- a second run reads every raster back from the disk cache
    local again, code2 = run(args)
    rmdir(d); rmdir(c)
    assert.equals(0, code, out)
    assert.matches("train: 240 samples, raster %(129 steps x 16 bands%); 0 from the cache, 240 computed", out)
    assert.matches("float epoch 2/2  loss [%d.]+  train accuracy [%d.]+", out)
    assert.matches("QAT epoch 1/1  loss [%d.]+  train accuracy [%d.]+", out)
    assert.matches("front end in the loop (audio into the board): 180 test words, output identical to the raster path on 180, same answer on 180", out, 1, true)
    assert.matches("cycles model: %d+ cycles per step worst case, %d+ on test word 1; clock needed", out)
    assert.matches("result: english_float [01]%.%d%d%d english_deployed [01]%.%d%d%d all_float [01]%.%d%d%d " ..
      "all_deployed [01]%.%d%d%d\n$", out)
    assert.not_matches("nan", out:lower())
    -- the QAT forward pass is Xylo's integer step: the board agrees with it exactly
    local qe, qa = out:match("QAT forward test accuracy: english ([%d.]+), all ([%d.]+)")
    local de, da = out:match("deployed test accuracy: english ([%d.]+), all 20 classes ([%d.]+)")
    assert.equals(qe, de)
    assert.equals(qa, da)
    for i, f in ipairs(pngs) do
      assert.is_truthy(sizes[i][1], "no " .. f)
      assert.is_true(sizes[i][1] > 100 and sizes[i][2] > 100)
    end
    assert.equals(0, code2, again)
    assert.matches("train: 240 samples, raster %(129 steps x 16 bands%); 240 from the cache, 0 computed", again)
    assert.matches("test: 180 samples, raster %(129 steps x 16 bands%); 180 from the cache, 0 computed", again)
  end)

  it("rejects unknown arguments and bad values, naming them, with status 2", function()
    local out, code = run { "examples/xylo_kws.lua", "--bogus" }
    assert.equals(2, code)
    assert.matches("xylo_kws: unknown argument '--bogus'", out, 1, true)
    out, code = run { "examples/xylo_kws.lua", "--hidden", "129" }
    assert.equals(2, code)
    assert.matches("--hidden takes an integer in 1..128, got '129'", out, 1, true)
    out, code = run { "examples/xylo_kws.lua", "--front-end", "audio1" }
    assert.equals(2, code)
    assert.matches("--front-end takes audio3 or audio2, got 'audio1'", out, 1, true)
    out, code = run { "examples/xylo_kws.lua", "--lr", "-1" }
    assert.equals(2, code)
    assert.matches("--lr takes a positive number, got '-1'", out, 1, true)
    out, code = run { "examples/xylo_kws.lua", "--epochs" }
    assert.equals(2, code)
    assert.matches("argument '--epochs' needs a value", out, 1, true)
  end)
end)
