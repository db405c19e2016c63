-- stdlib/limpet/dist.lua -- lp.dist: data-parallel training and sweeps over
-- MPI (Open MPI from Debian), launched as cluster users launch everything:
--   mpirun -np 4 limpet train.lua        (or srun under Slurm)
-- Owns: detecting an MPI launch, loading the `limpet.mpi` C module only then
-- (lua/mpi/mpi.c; a plain limpet never loads MPI), 1-based ranks, the
-- collectives on tensors (checked here: contiguous, a dtype MPI can sum),
-- object broadcast (JSON), averaging gradients in one bucket, and checks on
-- every argument.
-- Without MPI (no launcher in the environment) every call works on one
-- process: init() is a no-op, size() == 1, rank() == 1, collectives leave
-- their tensors as they are.
-- Deadlines: every collective waits at most `timeout` seconds (init option,
-- default 300) for the other ranks; past it the job is aborted with a
-- message naming the call, so a dead or stuck rank never hangs the others.
local core = require "limpet.core"

local D = {}

local mpi, rank0, nranks = nil, 0, 1

local function argerror(fn, k, msg) error(("bad argument #%d to '%s' (%s)"):format(k, fn, msg), 3) end

--- lp.dist.launched() -> true when this process was started by mpirun / srun.
function D.launched()
  return os.getenv("OMPI_COMM_WORLD_SIZE") ~= nil or os.getenv("PMIX_RANK") ~= nil
      or os.getenv("PMI_SIZE") ~= nil or os.getenv("PMI_RANK") ~= nil
end

--- lp.dist.init([{timeout = 300}]) -> rank, size. Idempotent; without a launcher: 1, 1.
function D.init(opts)
  if opts ~= nil and type(opts) ~= "table" then argerror("init", 1, "expected an options table, got " .. type(opts)) end
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= "timeout" then argerror("init", 1, ("unknown option '%s'"):format(tostring(k))) end
  end
  local timeout = opts.timeout or 300
  if type(timeout) ~= "number" or not (timeout > 0) or timeout == math.huge then
    argerror("init", 1, "field 'timeout' must be a positive number of seconds")
  end
  if D.launched() then
    if not mpi then
      local ok, m = pcall(require, "limpet.mpi")
      if not ok then
        error("lp.dist.init: launched by MPI, but limpet's MPI module is not available (" .. tostring(m)
          .. "); build limpet with Open MPI installed (libopenmpi-dev)", 2)
      end
      mpi = m
    end
    rank0, nranks = mpi.init(timeout)
  end
  return rank0 + 1, nranks
end

--- lp.dist.rank() -> 1..size (MPI's rank + 1).
function D.rank() return rank0 + 1 end
--- lp.dist.size() -> number of processes.
function D.size() return nranks end
--- lp.dist.is_main() -> rank() == 1.
function D.is_main() return rank0 == 0 end

local SUMMABLE = { float32 = true, float64 = true, int8 = true, int16 = true, int32 = true, int64 = true, uint8 = true }

local function memory(t, fn, k)
  if not core.is_tensor(t) then argerror(fn, k, "expected a tensor, got " .. type(t)) end
  local ok, p, n, dt = pcall(core._memory, t)
  if not ok then argerror(fn, k, "expected a contiguous tensor (use t:contiguous())") end
  return p, n, dt
end

local function check_root(root, fn, k)
  root = root or 1
  if math.type(root) ~= "integer" or root < 1 or root > nranks then
    argerror(fn, k, ("root must be a rank in 1..%d"):format(nranks))
  end
  return root
end

--- lp.dist.all_reduce(t[, op]) -> t: in place over all ranks; op "sum" (default),
--- "mean", "max" or "min". t: contiguous, a numeric dtype ("mean": a float dtype).
function D.all_reduce(t, op)
  op = op or "sum"
  local p, bytes, dt = memory(t, "all_reduce", 1)
  if op ~= "sum" and op ~= "mean" and op ~= "max" and op ~= "min" then
    argerror("all_reduce", 2, ("op must be 'sum', 'mean', 'max' or 'min', got '%s'"):format(tostring(op)))
  end
  if not SUMMABLE[dt] then argerror("all_reduce", 1, ("cannot reduce a %s tensor"):format(dt)) end
  if op == "mean" and dt ~= "float32" and dt ~= "float64" then
    argerror("all_reduce", 1, ("op 'mean' needs a float tensor, got %s"):format(dt))
  end
  if nranks > 1 then
    mpi.all_reduce(p, t:numel(), dt, op == "mean" and "sum" or op)
    if op == "mean" then t:div_(nranks) end
  end
  return t
end

--- lp.dist.broadcast(t[, root = 1]) -> t, overwritten on every rank with root's values.
function D.broadcast(t, root)
  local p, bytes = memory(t, "broadcast", 1)
  root = check_root(root, "broadcast", 2)
  if nranks > 1 then mpi.broadcast(p, bytes, root - 1) end
  return t
end

--- lp.dist.all_gather(t) -> a new tensor (size, ...) holding every rank's t
--- (the same shape and dtype on every rank).
function D.all_gather(t)
  local p, bytes = memory(t, "all_gather", 1)
  local shape = { nranks }
  for i, s in ipairs(t.shape) do shape[i + 1] = s end
  local out = core.zeros(shape, t.dtype)
  local q = core._memory(out)
  if nranks > 1 then mpi.all_gather(p, bytes, q) else out[1] = t end
  return out
end

--- lp.dist.barrier(): wait until every rank is here.
function D.barrier() if nranks > 1 then mpi.barrier() end end

--- lp.dist.broadcast_object(value[, root = 1]) -> root's value on every rank (a
--- small Lua table of numbers, strings, booleans: a configuration), through JSON.
function D.broadcast_object(v, root)
  root = check_root(root, "broadcast_object", 2)
  if nranks == 1 then return v end
  local json = require "limpet.json"
  local text = rank0 == root - 1 and json.encode(v) or nil
  return json.decode(mpi.bcast_string(text, root - 1))
end

-- the leaves of a nested parameter table, in a fixed (sorted-key) order
local function leaves(tree, out)
  out = out or {}
  if core.is_tensor(tree) then out[#out + 1] = tree; return out end
  local keys = {}
  for k in pairs(tree) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(keys) do leaves(tree[k], out) end
  return out
end
D._leaves = leaves

--- lp.dist.broadcast_parameters(params[, root = 1]): every parameter tensor of a
--- nested table (net:parameters()) set to root's values (before training).
function D.broadcast_parameters(params, root)
  root = check_root(root, "broadcast_parameters", 2)
  if nranks == 1 then return end
  for _, t in ipairs(leaves(params)) do
    core.no_grad(function() D.broadcast(t, root) end)
  end
end

--- lp.dist.average_gradients(params[, n]): the .grad of every parameter averaged over
--- the ranks, in one all_reduce of one flat buffer (a bucket): call after backward,
--- before the optimiser step. n (default 1): this rank's samples in the step, the
--- weight of its gradient (exact when ranks hold unequal batches and the loss is a
--- mean over the batch). Parameters without a gradient count as zeros.
function D.average_gradients(params, n)
  if n ~= nil and (type(n) ~= "number" or n < 0) then argerror("average_gradients", 2, "expected a sample count >= 0") end
  if nranks == 1 then return end
  n = n or 1
  local ps = leaves(params)
  local sizes, total = {}, 0
  for i, p in ipairs(ps) do sizes[i] = p:numel(); total = total + sizes[i] end
  if total == 0 then return end
  local dtype = ps[1].dtype == "float64" and "float64" or "float32"
  local bucket = core.zeros({ total + 1 }, dtype)
  local off = 0
  core.no_grad(function()
    for i, p in ipairs(ps) do
      local g = p.grad
      if g then bucket:slice(1, off + 1, off + sizes[i]):copy_(g:reshape(-1)) end
      off = off + sizes[i]
    end
    if n ~= 1 then bucket:mul_(n) end
  end)
  bucket[total + 1] = n
  D.all_reduce(bucket, "sum")
  local weight = bucket[total + 1]
  if weight <= 0 then return end
  off = 0
  core.no_grad(function()
    bucket:div_(weight)
    for i, p in ipairs(ps) do      -- views of the bucket, cast only where dtypes differ
      local g = bucket:slice(1, off + 1, off + sizes[i]):reshape(p.shape)
      p.grad = p.dtype == dtype and g or g:astype(p.dtype)
      off = off + sizes[i]
    end
  end)
end

return D
