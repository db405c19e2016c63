-- examples/lib/fmnist.lua -- what the Fashion-MNIST image examples
-- (fashion_mnist_snn.lua, the MLP, and fashion_mnist_cnn.lua, the CNN) share.
-- Owns: their command line (flags with a value, "--quick", "--help", every
-- unknown or malformed flag an error naming it, the checks of a flag's range
-- and choices), a loader mapped batch by batch, loading the images and labels with an
-- optional first-n subset, the batch-wide random left-right flip and
-- random shift, the fixed move of the test-time views, the
-- CPU-second budget check between epochs, and the closing result line
-- "result: test 0.xxxx cpu_s N" where cpu_s is lp.cpu_time(): the process's
-- CPU seconds (getrusage: user + system, all threads) for the whole run,
-- data loading and test included.
local lp = require "limpet"

local M = {}

local function fail(name, msg, code)
  io.stderr:write(name, ": ", msg, "\n")
  os.exit(code or 2)
end

-- the "-- Usage:" block of the running script's header comment (the line
-- and the "--    [" lines after it), or nil
local function usage()
  local f = arg and arg[0] and io.open(arg[0])
  if not f then return nil end
  local out, on = {}, false
  for line in f:lines() do
    if line:match("^%-%- Usage:") then on = true
    elseif on and not line:match("^%-%-%s+%[") then break end
    if on then out[#out + 1] = line:sub(4) end
  end
  f:close()
  return #out > 0 and table.concat(out, "\n") or nil
end

--- M.args(name, spec) -> opts
-- spec: { flag = kind } with kind "int", "number" or "string"; "--quick" is
-- always accepted (opts.quick = true); "--help" prints the script's usage
-- lines and exits 0. Values are converted and checked; integer flags must
-- be >= 1, numbers > 0.
function M.args(name, spec)
  local opts = { quick = false }
  local a, i = arg or {}, 1
  while i <= #a do
    local k = a[i]
    if k == "--quick" then
      opts.quick = true
    elseif k == "--help" or k == "-h" then
      print(usage() or (name .. ": see the header of " .. tostring(arg and arg[0])))
      os.exit(0)
    else
      local key = k:match("^%-%-([%a][%w%-]*)$")
      local kind = key and spec[key]
      if not kind then fail(name, ("unknown argument '%s'"):format(k)) end
      local v = a[i + 1]
      if v == nil then fail(name, ("argument '%s' needs a value"):format(k)) end
      if kind == "int" then
        local n = math.tointeger(tonumber(v))
        if not n or n < 1 then fail(name, ("argument '%s' takes a positive integer, got '%s'"):format(k, v)) end
        v = n
      elseif kind == "number" then
        local n = tonumber(v)
        if not n or not (n > 0) then fail(name, ("argument '%s' takes a positive number, got '%s'"):format(k, v)) end
        v = n
      end
      opts[key] = v
      i = i + 1
    end
    i = i + 1
  end
  return opts
end

--- M.checker(name, opts) -> check(flag, v, ok, what) -> v
-- v: the value of --flag converted by the caller (nil: malformed); when v is
-- nil or ok(v) is false, exits 2 with "name: --flag takes WHAT, got 'RAW'"
-- (RAW: opts[flag] as given).
function M.checker(name, opts)
  return function(flag, v, ok, what)
    if v == nil or not ok(v) then
      fail(name, ("--%s takes %s, got '%s'"):format(flag, what, tostring(opts[flag])))
    end
    return v
  end
end

--- M.choice(name, flag, v, allowed) -> v when v is one of the strings in
-- allowed, else exits 2 with "name: --flag takes a, b or c, got 'v'"
function M.choice(name, flag, v, allowed)
  for _, a in ipairs(allowed) do if v == a then return v end end
  local list = table.concat(allowed, ", ", 1, #allowed - 1) .. " or " .. allowed[#allowed]
  fail(name, ("--%s takes %s, got '%s'"):format(flag, list, tostring(v)))
end

--- M.map_loader(loader, f[, on_end]) -> a loader (#, :iter()) over loader's
-- batches, each (x, y) passed through f (nil: unchanged; f returns the new
-- x, y); on_end(cpu_s), when given, is called as each pass ends with the
-- process CPU-seconds the pass took (loading, f and the consumer's work).
function M.map_loader(loader, f, on_end)
  return setmetatable({}, {
    __len = function() return #loader end,
    __index = { iter = function()
      local it, c0 = loader:iter(), lp.cpu_time()
      return function()
        local x, y = it()
        if x == nil then
          if on_end then on_end(lp.cpu_time() - c0) end
          return nil
        end
        if f then return f(x, y) end
        return x, y
      end
    end },
  })
end

--- M.load(name, split, n, root) -> images (N, 28, 28) float32 in [0, 1], labels (N) int64 1..10
-- n: keep the first n (nil: all). Exits with a message when the data set is missing.
function M.load(name, split, n, root)
  local ds, err = lp.data.FashionMNIST { split = split, root = root }
  if not ds then fail(name, err, 1) end
  local x, y = ds:tensors()
  x = x:reshape(-1, 28, 28)
  if n and n < x.shape[1] then x, y = x:slice(1, 1, n), y:slice(1, 1, n) end
  return x:astype("float32"):contiguous(), y:contiguous()
end

--- M.flip(x) -> x with each image (last two dims H, W) mirrored left-right with probability 1/2
-- (one draw per sample from limpet's stream, lp.seed).
function M.flip(x)
  local B = x.shape[1]
  local shape = { B }
  for d = 2, x:dim() do shape[d] = 1 end
  local m = lp.rand(B):lt(0.5):astype(x.dtype):reshape(table.unpack(shape))
  return x + m * (x:flip(-1) - x)
end

-- one-hot row and column shift matrices for per-sample offsets dy, dx (B, 1, 1):
-- R[b, i, k] = [k = i - dy_b], C[b, l, j] = [l = j - dx_b]; out = R x C
local function moved(x, dy, dx)
  local H, W = x.shape[2], x.shape[3]
  local ih = lp.arange(1, H + 1):astype(dy.dtype)
  local iw = lp.arange(1, W + 1):astype(dx.dtype)
  local R = ih:reshape(1, 1, H):eq(ih:reshape(1, H, 1) - dy):astype(x.dtype)
  local C = iw:reshape(1, W, 1):eq(iw:reshape(1, 1, W) - dx):astype(x.dtype)
  return lp.matmul(lp.matmul(R, x), C)
end

--- M.shift(x, max) -> x (B, H, W) with each image moved by its own (dy, dx), both drawn
-- uniformly from -max..max (one pair per sample from limpet's stream, lp.seed); pixels
-- moved in from outside are 0. Batched: out = R x C with per-sample one-hot shift
-- matrices.
function M.shift(x, max)
  if math.type(max) ~= "integer" or max < 0 then
    error(("bad argument #2 to 'shift' (max must be a non-negative integer, got %s)"):format(tostring(max)), 2)
  end
  if not lp.is_tensor(x) or x:dim() ~= 3 then error("bad argument #1 to 'shift' (expected (B, H, W) images)", 2) end
  if max == 0 then return x end
  local B = x.shape[1]
  local d = (lp.rand(B, 2) * (2 * max + 1)):floor() - max
  return moved(x, d:slice(2, 1, 1):reshape(B, 1, 1), d:slice(2, 2, 2):reshape(B, 1, 1))
end

--- M.move(x, dy, dx) -> x (B, H, W) with every image moved by the same (dy, dx) pixels
-- (down and right for positive values), zeros coming in: the test-time views.
function M.move(x, dy, dx)
  if not lp.is_tensor(x) or x:dim() ~= 3 then error("bad argument #1 to 'move' (expected (B, H, W) images)", 2) end
  for i, name in ipairs { "dy", "dx" } do
    local v = i == 1 and dy or dx
    if math.type(v) ~= "integer" then
      error(("bad argument #%d to 'move' (%s must be an integer, got %s)"):format(i + 1, name, tostring(v)), 2)
    end
  end
  if dy == 0 and dx == 0 then return x end
  return moved(x, lp.full({ 1, 1, 1 }, dy), lp.full({ 1, 1, 1 }, dx))
end

--- M.budget_check(budget, e, epochs, epoch_cpu) -> false (stop) when another epoch would end past budget CPU-s
--- M.plan(budget, epochs, guess) -> plan {epochs =, cap =, after_epoch = f(e, epoch_cpu)}:
--- how many epochs to run and where the learning-rate schedule ends. With
--- epochs given the plan is fixed (after_epoch stops early only when another
--- epoch would end past the budget, as budget_check). Without (nil), the run
--- fits itself to the CPU budget: after each epoch, plan.epochs = e + the
--- number of epochs of the slowest so far (+3 %) that still fit, so that a
--- schedule read from plan.epochs ends with the last epoch, however fast or
--- loaded the machine (guess: the plan before the first epoch is measured;
--- cap: the most epochs fit may run). plan.reserve (CPU-s, 0 unless the
--- caller sets it, e.g. from the measured cost of its final test) is kept
--- free of epochs for what runs after them.
function M.plan(budget, epochs, guess)
  local p = { epochs = epochs or guess, cap = epochs or 200, slowest = 0, reserve = 0 }
  function p.after_epoch(e, epoch_cpu)
    if epochs then return M.budget_check(budget - p.reserve, e, epochs, epoch_cpu) end
    p.slowest = math.max(p.slowest, epoch_cpu)
    local left = math.floor((budget - p.reserve - lp.cpu_time()) / (1.03 * p.slowest))
    local n = math.min(p.cap, e + math.max(0, left))
    if n ~= p.epochs then
      print(("plan: %d epochs fit the %g CPU-s budget (slowest epoch so far %.1f CPU-s)"):format(n, budget, p.slowest))
    end
    p.epochs = n
    if e >= n then return false end
  end
  return p
end

--- M.smoothed_ce(logits, y, smooth): cross-entropy with label smoothing: the
--- target puts 1 - smooth on the label and smooth / 10 on every class
function M.smoothed_ce(logits, y, smooth)
  local ce = lp.loss.cross_entropy(logits, y)
  if smooth == 0 then return ce end
  return ce * (1 - smooth) - lp.loss.log_softmax(logits, 2):mean() * smooth
end

function M.budget_check(budget, e, epochs, epoch_cpu)
  if budget and e < epochs and lp.cpu_time() + epoch_cpu > budget then
    print(("stopping after epoch %d: another would end past the %g CPU-s budget"):format(e, budget))
    return false
  end
end

--- M.result(acc, n_test, epochs, t_wall0): the closing lines
function M.result(acc, n_test, epochs, t_wall0)
  local cpu = lp.cpu_time()
  print(("final test accuracy: %.2f%% on %d images after %d epochs; wall time %.1f s")
    :format(100 * acc, n_test, epochs, lp.clock() - t_wall0))
  print(("result: test %.4f cpu_s %d"):format(acc, math.floor(cpu + 0.5)))
end

return M
