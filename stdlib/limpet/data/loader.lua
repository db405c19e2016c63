-- stdlib/limpet/data/loader.lua -- lp.data.DataLoader: batches from a data set.
-- Owns: batching, seeded shuffling, padding variable-length samples at the
-- end in time, collating labels. Not here: data sets (data/init.lua),
-- transforms (data/transforms.lua), caching (data/cache.lua).
--
--   local loader = lp.data.DataLoader{dataset = ds, batch_size = 32,
--     shuffle = true, drop_last = false, collate = nil, seed = nil}
--   for x, y, idx in loader:iter() do ... end   -- x (B, T, N), y int64 (B)
--   shard = {rank, size}: this rank's part of each global batch (data/shard.lua)
--   #loader                                      -- number of batches
--
-- A sample (ds:get(i) -> sample, label, meta) is a (T, N) tensor, a frame
-- tensor (T, ...) flattened to (T, N), or a (T) tensor taken as (T, 1);
-- x pads shorter samples with zeros at the end in time and keeps the first
-- sample's dtype. Labels are numbers (y: int64 (B)) or equal-shaped tensors
-- (stacked). `collate(samples, labels, metas, indices) -> x, y` replaces
-- this. Shuffling draws a permutation per epoch from the loader's own
-- stream when `seed` is given (epoch e of two loaders with the same seed
-- match), else from limpet's stream (lp.seed).
local core = require "limpet.core"
require "limpet.tensor"
local K = core._events
local shard = require "limpet.data.shard"

local DataLoader = {}
DataLoader.__index = DataLoader
DataLoader.__name = "DataLoader"

local function argerr(msg, level)
  error(("bad argument #1 to 'DataLoader' (%s)"):format(msg), level + 1)
end

local fields = {
  dataset = true, batch_size = true, shuffle = true, drop_last = true, collate = true, seed = true,
  shard = true,
}

local function new(_, opts)
  if type(opts) ~= "table" then argerr("table expected, got " .. type(opts), 2) end
  for k in pairs(opts) do
    if not fields[k] then argerr(("unknown field '%s'"):format(tostring(k)), 2) end
  end
  local ds = opts.dataset
  if ds == nil then argerr("field 'dataset' is required", 2) end
  local ok, len = pcall(function() return #ds end)
  if not ok or math.type(len) ~= "integer" or (type(ds) ~= "table" and type(ds) ~= "userdata")
      or type(ds.get) ~= "function" then
    argerr("field 'dataset' must have #ds and ds:get(i)", 2)
  end
  local bs = opts.batch_size == nil and 1 or opts.batch_size
  if math.type(bs) ~= "integer" or bs < 1 then
    argerr("field 'batch_size' must be a positive integer, got " .. tostring(bs), 2)
  end
  for _, k in ipairs { "shuffle", "drop_last" } do
    if opts[k] ~= nil and type(opts[k]) ~= "boolean" then
      argerr(("field '%s' must be a boolean, got %s"):format(k, type(opts[k])), 2)
    end
  end
  if opts.collate ~= nil and type(opts.collate) ~= "function" then
    argerr("field 'collate' must be a function, got " .. type(opts.collate), 2)
  end
  if opts.seed ~= nil and math.type(opts.seed) ~= "integer" then
    argerr("field 'seed' must be an integer, got " .. tostring(opts.seed), 2)
  end
  local srank, ssize = shard.check(opts.shard, "DataLoader", 1)
  if srank and opts.shuffle and opts.seed == nil then
    argerr("field 'shard' with shuffle needs a 'seed' (every rank must draw the same order)", 2)
  end
  return setmetatable({
    dataset = ds, batch_size = bs, shuffle = opts.shuffle or false,
    drop_last = opts.drop_last or false, collate = opts.collate, seed = opts.seed, epoch = 0,
    shard_rank = srank, shard_size = ssize,
  }, DataLoader)
end

function DataLoader:__len()
  local n = #self.dataset
  if self.shard_rank then return #shard.ranges(n, self.batch_size, self.shard_rank, self.shard_size, self.drop_last) end
  if self.drop_last then return n // self.batch_size end
  return (n + self.batch_size - 1) // self.batch_size
end

-- The order of one epoch: nil for 1..n (walked without a table), or a
-- permutation (a table of n entries, refused beyond the size cap).
local function order(self)
  local n = #self.dataset
  self.epoch = self.epoch + 1
  if not self.shuffle or n == 0 then return nil end
  core._check_table("DataLoader", "a shuffled order", n)
  local u
  if self.seed ~= nil then
    u = K.uniform(n, self.seed, (self.epoch - 1) << 32)
  else
    u = K.uniform(n)
  end
  local o = K.argsort(u):totable()
  for i = 1, n do o[i] = o[i] + 1 end
  return o
end

local function as_2d(x, i)
  if not core.is_tensor(x) then
    local what = type(x) == "table" and core.is_tensor(x.t) and
      "an event table (give the data set a ToFrame transform)" or type(x)
    error(("DataLoader: sample %d is %s, expected a (T, N) tensor"):format(i, what), 0)
  end
  local d = x:dim()
  if d == 0 then error(("DataLoader: sample %d is a 0-d tensor, expected a (T, N) tensor"):format(i), 0) end
  if d == 1 then return x:reshape(x.shape[1], 1) end
  if d == 2 then return x end
  return x:reshape(x.shape[1], -1)
end

-- Default collate: pad at the end in time, stack; labels to int64.
local function collate(samples, labels, _, indices)
  local B = #samples
  local xs, T, N = {}, 0, nil
  for b = 1, B do
    local x = as_2d(samples[b], indices[b])
    xs[b] = x
    if x.shape[1] > T then T = x.shape[1] end
    if N == nil then
      N = x.shape[2]
    elseif x.shape[2] ~= N then
      error(("DataLoader: sample %d has %d channels, sample %d has %d"):format(
        indices[b], x.shape[2], indices[1], N), 0)
    end
  end
  local out = core.zeros({ B, T, N }, xs[1].dtype)
  for b = 1, B do
    local tb = xs[b].shape[1]
    if tb > 0 then out[b]:slice(1, 1, tb):copy_(xs[b]) end
  end
  local y
  if labels[1] == nil then
    y = nil
  elseif core.is_tensor(labels[1]) then
    y = core.stack(labels, 1)
  else
    for b = 1, B do
      if math.type(labels[b]) ~= "integer" then
        error(("DataLoader: label of sample %d is %s, expected an integer"):format(
          indices[b], tostring(labels[b])), 0)
      end
    end
    y = core.tensor(labels, "int64")
  end
  return out, y
end

--- loader:iter() -> iterator of x, y, indices (the data set positions of the batch)
function DataLoader:iter()
  local o = order(self)
  local n, bs = #self.dataset, self.batch_size
  local nb = #self
  local ds, coll = self.dataset, self.collate or collate
  local spans = self.shard_rank and shard.ranges(n, bs, self.shard_rank, self.shard_size, self.drop_last)
  local b = 0
  return function()
    b = b + 1
    if b > nb then return nil end
    local samples, labels, metas, idx = {}, {}, {}, {}
    local first, count = (b - 1) * bs, math.min(bs, n - (b - 1) * bs)
    if spans then first, count = spans[b][1] - 1, spans[b][2] - spans[b][1] + 1 end
    for k = 1, count do
      local i = o and o[first + k] or first + k
      idx[k] = i
      samples[k], labels[k], metas[k] = ds:get(i)
    end
    local x, y = coll(samples, labels, metas, idx)
    return x, y, idx
  end
end

return { DataLoader = setmetatable(DataLoader, { __call = new }) }
