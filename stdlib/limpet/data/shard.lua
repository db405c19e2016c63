-- stdlib/limpet/data/shard.lua -- which samples of an epoch each rank reads
-- in data-parallel training (the `shard = {rank, size}` option of
-- DataLoader and TensorLoader).
-- Owns: the split. The epoch order (the same on every rank: seed the
-- shuffle) is cut into global batches of size·B samples (B = the loader's
-- batch_size, per rank); rank r reads the r-th of the size equal parts of
-- each global batch, so the ranks together see exactly what one process
-- with batch size·B sees, step for step. A final global batch shorter than
-- that is split as evenly as possible (parts differ by at most one sample;
-- the gradient average weights each rank by its samples); one with fewer
-- samples than ranks is dropped (every rank must take every step), as is
-- any incomplete global batch under drop_last.
local S = {}

--- check(opts_shard, fname, k): validates {rank, size} (1-based rank) -> rank, size
function S.check(sh, fname, k)
  if sh == nil then return nil end
  if type(sh) ~= "table" or math.type(sh[1]) ~= "integer" or math.type(sh[2]) ~= "integer"
      or sh[2] < 1 or sh[1] < 1 or sh[1] > sh[2] then
    error(("bad argument #%d to '%s' (field 'shard' must be {rank, size} with 1 <= rank <= size)"):format(k, fname), 3)
  end
  return sh[1], sh[2]
end

--- ranges(n, B, rank, size, drop_last) -> list of {first, last} positions (1-based,
--- inclusive) in the epoch order, one per step.
function S.ranges(n, B, rank, size, drop_last)
  local G = B * size
  require("limpet.core")._check_table("shard", "a list of steps", n // G + 1)   -- the size cap
  local out = {}
  local start = 1
  while start <= n do
    local m = math.min(G, n - start + 1)
    if m < G and (drop_last or m < size) then break end
    local base, extra = m // size, m % size
    local first = start + (rank - 1) * base + math.min(rank - 1, extra)
    local len = base + (rank <= extra and 1 or 0)
    out[#out + 1] = { first, first + len - 1 }
    start = start + m
  end
  return out
end

return S
