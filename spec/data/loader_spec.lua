-- spec/data/loader_spec.lua -- lp.data.DataLoader: batching, padding at
-- the end in time, labels, seeded shuffling, drop_last, options
-- (stdlib/limpet/data/loader.lua).
local lp = require "limpet"
local DataLoader = require("limpet.data.loader").DataLoader

-- sample i: (i, 2) filled with i, label i % 3 + 1
local function dataset(n, shape)
  return setmetatable({}, {
    __len = function() return n end,
    __index = {
      get = function(_, i)
        local s = shape and lp.full(shape(i), i) or lp.full({ i, 2 }, i)
        return s, i % 3 + 1, { index = i }
      end,
    },
  })
end

describe("limpet.data.DataLoader", function()
  it("batches in order, pads at the end in time and gives int64 labels", function()
    local loader = DataLoader { dataset = dataset(5), batch_size = 2 }
    assert.equal(3, #loader)
    local xs, ys, idx = {}, {}, {}
    for x, y, i in loader:iter() do xs[#xs + 1], ys[#ys + 1], idx[#idx + 1] = x, y, i end
    assert.equal(3, #xs)
    assert.same({ 2, 2, 2 }, xs[1].shape)
    assert.same({ { { 1, 1 }, { 0, 0 } }, { { 2, 2 }, { 2, 2 } } }, xs[1]:totable())
    assert.same({ 2, 4, 2 }, xs[2].shape)
    assert.same({ { 3, 3 }, { 3, 3 }, { 3, 3 }, { 0, 0 } }, xs[2][1]:totable())
    assert.same({ 1, 5, 2 }, xs[3].shape)
    assert.equal("int64", ys[1].dtype)
    assert.same({ 2, 3 }, ys[1]:totable())
    assert.same({ 1, 2 }, ys[2]:totable())
    assert.same({ { 1, 2 }, { 3, 4 }, { 5 } }, idx)
  end)

  it("drops the last incomplete batch on request", function()
    local loader = DataLoader { dataset = dataset(5), batch_size = 2, drop_last = true }
    assert.equal(2, #loader)
    local n = 0
    for x in loader:iter() do n = n + 1; assert.equal(2, x.shape[1]) end
    assert.equal(2, n)
    assert.equal(0, #DataLoader { dataset = dataset(1), batch_size = 2, drop_last = true })
  end)

  it("flattens frames (T, ...) to (T, N) and takes (T) as (T, 1)", function()
    local frames = DataLoader { dataset = dataset(2, function(i) return { i, 2, 3, 4 } end), batch_size = 2 }
    for x in frames:iter() do assert.same({ 2, 2, 24 }, x.shape) end
    local seq = DataLoader { dataset = dataset(3, function(i) return { i } end), batch_size = 3 }
    for x in seq:iter() do assert.same({ 3, 3, 1 }, x.shape); assert.same({ 2, 2, 0 }, x[2]:reshape(-1):totable()) end
  end)

  it("shuffles reproducibly: a seed fixes every epoch, each epoch differs", function()
    local function epochs(loader, k)
      local out = {}
      for e = 1, k do
        local o = {}
        for _, _, idx in loader:iter() do for _, i in ipairs(idx) do o[#o + 1] = i end end
        out[e] = o
      end
      return out
    end
    local a = epochs(DataLoader { dataset = dataset(20), batch_size = 3, shuffle = true, seed = 4 }, 2)
    local b = epochs(DataLoader { dataset = dataset(20), batch_size = 3, shuffle = true, seed = 4 }, 2)
    assert.same(a, b)
    assert.are_not.same(a[1], a[2])
    local sorted = {}
    for i, v in ipairs(a[1]) do sorted[i] = v end
    table.sort(sorted)
    for i = 1, 20 do assert.equal(i, sorted[i]) end            -- a permutation
    local inorder = true
    for i = 1, 20 do if a[1][i] ~= i then inorder = false end end
    assert.is_false(inorder)
    lp.seed(9); local c = epochs(DataLoader { dataset = dataset(20), shuffle = true }, 1)
    lp.seed(9); assert.same(c, epochs(DataLoader { dataset = dataset(20), shuffle = true }, 1))
  end)

  it("uses a custom collate", function()
    local loader = DataLoader { dataset = dataset(4), batch_size = 2,
      collate = function(samples, labels, metas, idx) return #samples, metas[1].index + idx[2] end }
    local got = {}
    for x, y in loader:iter() do got[#got + 1] = { x, y } end
    assert.same({ { 2, 3 }, { 2, 7 } }, got)
  end)

  it("rejects bad options and samples by name", function()
    assert.has_error(function() DataLoader { dataset = dataset(2), batchsize = 2 } end,
      "bad argument #1 to 'DataLoader' (unknown field 'batchsize')")
    assert.has_error(function() DataLoader { batch_size = 2 } end,
      "bad argument #1 to 'DataLoader' (field 'dataset' is required)")
    assert.has_error(function() DataLoader { dataset = {} } end,
      "bad argument #1 to 'DataLoader' (field 'dataset' must have #ds and ds:get(i))")
    assert.has_error(function() DataLoader { dataset = dataset(2), batch_size = 0 } end,
      "bad argument #1 to 'DataLoader' (field 'batch_size' must be a positive integer, got 0)")
    assert.has_error(function() DataLoader { dataset = dataset(2), shuffle = 1 } end,
      "bad argument #1 to 'DataLoader' (field 'shuffle' must be a boolean, got number)")
    local events = setmetatable({}, { __len = function() return 1 end, __index = {
      get = function() return { t = lp.zeros(3, "float64"), x = lp.ones(3) }, 1 end } })
    assert.has_error(function() for _ in DataLoader { dataset = events }:iter() do end end,
      "DataLoader: sample 1 is an event table (give the data set a ToFrame transform), expected a (T, N) tensor")
    local mixed = dataset(2, function(i) return { 2, i } end)
    assert.has_error(function() for _ in DataLoader { dataset = mixed, batch_size = 2 }:iter() do end end,
      "DataLoader: sample 2 has 2 channels, sample 1 has 1")
  end)
end)
