-- spec/dist_spec.lua -- lp.dist and lp.sweep over Open MPI: each case runs a
-- script of spec/dist/ under `mpirun --oversubscribe -np 2` (plus
-- --allow-run-as-root as root, as CI runs), and the single-process paths in
-- this process. Skipped with a message when Open MPI (mpirun, limpet's MPI
-- module) is absent, and under the sanitizers (Open MPI's own allocations
-- would fill LeakSanitizer's report).
local lp = require "limpet"
local build = os.getenv("LIMPET_BUILD") or "build/release"
local root = os.getenv("PWD") or "."
local exe = build:sub(1, 1) == "/" and build .. "/limpet" or root .. "/" .. build .. "/limpet"
local function sh(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
local function run(cmd)
  local f = io.popen(cmd .. " 2>&1")
  local out = f:read("a")
  local ok, _, code = f:close()
  return out, ok and 0 or code
end

describe("lp.dist without MPI", function()
  it("is one process: init, rank, size and collectives leave tensors as they are", function()
    local r, n = lp.dist.init()
    assert.are.same({ 1, 1 }, { r, n })
    assert.are.equal(1, lp.dist.rank())
    local t = lp.tensor({ 1, 2 }, "float32")
    assert.are.same({ 1, 2 }, lp.dist.all_reduce(t, "mean"):totable())
    assert.are.same({ { 1, 2 } }, lp.dist.all_gather(t):totable())
    assert.are.same({ a = 1 }, lp.dist.broadcast_object({ a = 1 }))
    assert.has_error(function() lp.dist.all_reduce(t, "avg") end,
      "bad argument #2 to 'all_reduce' (op must be 'sum', 'mean', 'max' or 'min', got 'avg')")
    assert.has_error(function() lp.dist.init { timeot = 1 } end, "bad argument #1 to 'init' (unknown option 'timeot')")
    assert.has_error(function() lp.train.TensorLoader(lp.zeros(4, 2), nil, { shard = { 3, 2 } }) end,
      "bad argument #3 to 'TensorLoader' (field 'shard' must be {rank, size} with 1 <= rank <= size)")
  end)

  it("splits each global batch between ranks exactly (shard)", function()
    local S = require "limpet.data.shard"
    -- 10 samples, 2 ranks, batch 2 per rank: global batches of 4, then 2 left
    assert.are.same({ { 1, 2 }, { 5, 6 }, { 9, 9 } }, S.ranges(10, 2, 1, 2, false))
    assert.are.same({ { 3, 4 }, { 7, 8 }, { 10, 10 } }, S.ranges(10, 2, 2, 2, false))
    assert.are.same({ { 1, 2 }, { 5, 6 } }, S.ranges(10, 2, 1, 2, true))
    assert.are.same({ { 1, 2 } }, S.ranges(5, 2, 1, 4, false))   -- one sample left for 4 ranks: dropped
  end)

  it("runs a sweep in one process and resumes it", function()
    local path = os.tmpname()
    os.remove(path)
    local calls = 0
    local function fn(c) calls = calls + 1; return c.x * 2 end
    local res = lp.sweep({ { x = 1 }, { x = 2 } }, fn, { path = path })
    assert.are.equal(2, #res)
    res = lp.sweep({ { x = 1 }, { x = 2 }, { x = 3 } }, fn, { path = path })
    assert.are.equal(3, calls)
    assert.are.equal(3, #res)
    assert.are.same({ x = 3 }, res[3].config)
    assert.are.equal(6, res[3].result)
    os.remove(path)
  end)
end)

describe("examples/xylo_sweep.lua", function()
  it("sweeps Xylo quantisers in one process and resumes from its file", function()
    local path = os.tmpname() .. ".jsonl"
    local cmd = ("cd %s && %s examples/xylo_sweep.lua --quick --out %s"):format(sh(root), sh(exe), sh(path))
    local out, code = run(cmd)
    assert.are.equal(0, code, out)
    assert.truthy(out:find("(4 records)", 1, true), out)
    local n = 0
    for _ in io.lines(path) do n = n + 1 end
    assert.are.equal(4, n)
    out, code = run(cmd)                                      -- everything done: nothing re-run
    assert.are.equal(0, code, out)
    n = 0
    for _ in io.lines(path) do n = n + 1 end
    assert.are.equal(4, n)
    os.remove(path)
  end)
end)

describe("lp.dist under mpirun -np 2", function()
  local sanitized = os.getenv("LIMPET_SANITIZED") == "1"
  local _, has_mpirun = run("command -v mpirun")
  local mpimod = io.open(build .. "/lib/lua/5.4/limpet/mpi.so")
  if mpimod then mpimod:close() end
  if sanitized or has_mpirun ~= 0 or not mpimod then
    pending(sanitized and "skipped under sanitizers" or "skipped: Open MPI is not installed (`make deps` installs it)")
    return
  end
  local asroot = run("id -u"):match("^0") and " --allow-run-as-root" or ""
  local function mpirun(script, args)
    return run(("cd %s && OMP_NUM_THREADS=1 timeout 120 mpirun --oversubscribe%s -np 2 %s %s %s"):format(
      sh(root), asroot, sh(exe), sh("spec/dist/" .. script), args or ""))
  end

  it("reduces, broadcasts and gathers tensors and objects", function()
    local out, code = mpirun("collectives.lua")
    assert.are.equal(0, code, out)
    assert.truthy(out:find("size\t2\trank\t1", 1, true), out)
    assert.truthy(out:find("sum\tfloat32\t3.0\t30.0\t-3.0\tmax\t2.0\t-1.0\tmin\t1.0\t-2.0", 1, true), out)
    assert.truthy(out:find("sum\tint64\t3\t30\t-3\tmax\t2\t-1\tmin\t1\t-2", 1, true), out)
    assert.truthy(out:find("mean\t1.5\t3.0", 1, true), out)
    assert.truthy(out:find("broadcast\t2.0\t2.0", 1, true), out)
    assert.truthy(out:find("gather\t2x1x2\t1.0\t2.5", 1, true), out)
    assert.truthy(out:find("object\t0.001\tnet\t4", 1, true), out)
    assert.truthy(out:find("bad argument #1 to 'all_reduce' (expected a contiguous tensor (use t:contiguous()))", 1, true), out)
    assert.truthy(out:find("bad argument #1 to 'all_reduce' (op 'mean' needs a float tensor, got int32)", 1, true), out)
    assert.truthy(out:find("bad argument #2 to 'broadcast' (root must be a rank in 1..2)", 1, true), out)
    assert.truthy(out:find("done", 1, true), out)
  end)

  it("trains to the same parameters as one process with the global batch (20 Adam steps)", function()
    local a, b = os.tmpname() .. ".npz", os.tmpname() .. ".npz"
    local out, code = run(("cd %s && OMP_NUM_THREADS=1 %s spec/dist/train.lua single %s"):format(sh(root), sh(exe), sh(a)))
    assert.are.equal(0, code, out)
    out, code = mpirun("train.lua", "dist " .. sh(b))
    assert.are.equal(0, code, out)
    local p, q = lp.load(a), lp.load(b)
    local n = 0
    for k, t in pairs(p) do
      n = n + 1
      local u = q[k]
      assert.is_not_nil(u, k)
      local diff = (t:astype("float64") - u:astype("float64")):abs()
      local tol = u:astype("float64"):abs() * 1e-4 + 1e-5                 -- NumPy's allclose
      assert.are.equal(0, diff:gt(tol):astype("int64"):sum():item(), k)
    end
    assert.is_true(n >= 2)
    os.remove(a); os.remove(b)
  end)

  it("sweeps with dynamic assignment, writes JSON Lines, and resumes", function()
    local path = os.tmpname() .. ".jsonl"
    local out, code = mpirun("sweep.lua", sh(path) .. " 6")
    assert.are.equal(0, code, out)
    assert.truthy(out:find("records\t6", 1, true), out)
    out, code = mpirun("sweep.lua", sh(path) .. " 9")
    assert.are.equal(0, code, out)
    assert.truthy(out:find("records\t9", 1, true), out)
    local json = require "limpet.json"
    local seen, lines = {}, 0
    for line in io.lines(path) do
      local rec = json.decode(line)
      lines = lines + 1
      assert.is_nil(seen[rec.config.i], "configuration run twice")
      seen[rec.config.i] = true
      assert.are.equal(rec.config.i * rec.config.i, rec.result.square)
      assert.truthy(rec.rank == 1 or rec.rank == 2)
    end
    assert.are.equal(9, lines)
    os.remove(path)
  end)

  it("ends the job with a message when a rank dies, instead of hanging", function()
    local t0 = os.time()
    local out, code = mpirun("dead.lua")
    assert.are_not.equal(0, code)
    assert.is_true(os.time() - t0 < 100, "took too long")
    assert.is_nil(out:find("should never get here", 1, true))
    assert.truthy(out:find("rank 2 fails on purpose", 1, true), out)
  end)
end)
