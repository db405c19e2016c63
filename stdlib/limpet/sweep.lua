-- stdlib/limpet/sweep.lua -- lp.sweep(configs, fn[, opts]): a parameter sweep
-- over the ranks of an MPI job (or over one process without MPI).
-- Owns: dynamic assignment (a shared counter on rank 1, taken with one-sided
-- MPI: a rank that finishes early takes the next configuration), collecting
-- results on rank 1, the JSON Lines file ({"config": ..., "result": ...,
-- "rank": r, "seconds": s} one per line, appended and flushed as results
-- arrive) and resuming (configurations already in the file are skipped).
-- A configuration is a table of numbers, strings and booleans (JSON); its
-- identity for resuming is its canonical JSON text (sorted keys). fn(config)
-- returns a JSON-able result (a number, string, boolean or table).
local json = require "limpet.json"
local dist = require "limpet.dist"

local TAG = 7177

local function argerror(k, msg) error(("bad argument #%d to 'sweep' (%s)"):format(k, msg), 3) end

local function read_done(path)
  local done, n = {}, 0
  local f = io.open(path, "rb")
  if not f then return done, n end
  local lineno = 0
  for line in f:lines() do
    lineno = lineno + 1
    if line:find("%S") then
      local ok, rec = pcall(json.decode, line)
      if not ok or type(rec) ~= "table" or rec.config == nil then
        f:close()
        error(("sweep: '%s' line %d is not a sweep record (%s)"):format(path, lineno,
          ok and "no 'config' field" or tostring(rec)), 0)
      end
      done[json.encode(rec.config)] = true
      n = n + 1
    end
  end
  f:close()
  return done, n
end

--- lp.sweep(configs, fn[, {path = "sweep.jsonl", timeout = 300}]) -> results, path
--- configs: a list of tables. On rank 1, results holds every record of the file
--- (earlier runs included), in the file's order; other ranks get nil.
local function sweep(configs, fn, opts)
  if type(configs) ~= "table" then argerror(1, "expected a list of configurations, got " .. type(configs)) end
  if type(fn) ~= "function" then argerror(2, "expected a function config -> result, got " .. type(fn)) end
  opts = opts or {}
  if type(opts) ~= "table" then argerror(3, "expected an options table, got " .. type(opts)) end
  for k in pairs(opts) do
    if k ~= "path" and k ~= "timeout" then argerror(3, ("unknown option '%s'"):format(tostring(k))) end
  end
  local path = opts.path or "sweep.jsonl"
  if type(path) ~= "string" then argerror(3, "field 'path' must be a string") end
  local keys = {}
  for i, c in ipairs(configs) do
    if type(c) ~= "table" then argerror(1, ("configuration %d is a %s, expected a table"):format(i, type(c))) end
    local ok, k = pcall(json.encode, c)
    if not ok then argerror(1, ("configuration %d cannot be written as JSON: %s"):format(i, tostring(k):match("%((.*)%)") or k)) end
    keys[i] = k
  end
  dist.init(opts.timeout and { timeout = opts.timeout } or nil)
  local main, size = dist.is_main(), dist.size()
  -- rank 1 decides what is left; every rank gets the same list
  local pending
  if main then
    local done = read_done(path)
    pending = {}
    for i, k in ipairs(keys) do if not done[k] then pending[#pending + 1] = i end end
  end
  pending = dist.broadcast_object(pending or {}, 1)
  local out
  if main then
    local err
    out, err = io.open(path, "ab")
    if not out then error(("sweep: cannot open '%s' for appending: %s"):format(path, tostring(err)), 0) end
  end
  local function record(rec_text)
    out:write(rec_text, "\n")
    out:flush()
  end
  local function run(i)
    local t0 = require("limpet.core").clock()
    local result = fn(configs[i])
    local ok, text = pcall(json.encode, { config = configs[i], result = result, rank = dist.rank(),
      seconds = require("limpet.core").clock() - t0 })
    if not ok then
      error(("sweep: the result for configuration %d cannot be written as JSON: %s"):format(i, tostring(text)), 0)
    end
    return text
  end
  local received = 0
  if size == 1 then
    for _, i in ipairs(pending) do record(run(i)); received = received + 1 end
  else
    local mpi = require "limpet.mpi"
    local counter = mpi.counter(0)
    while true do
      local k = counter:next() + 1
      if k > #pending then break end
      local text = run(pending[k])
      if main then record(text); received = received + 1
      else mpi.send_string(text, 0, TAG) end
      if main then        -- take in what others finished meanwhile
        while true do
          local got = mpi.recv_string(TAG, false)
          if not got then break end
          record(got); received = received + 1
        end
      end
    end
    if main then
      while received < #pending do record(mpi.recv_string(TAG, true)); received = received + 1 end
    end
    dist.barrier()
    counter:close()
  end
  if not main then return nil, path end
  out:close()
  local results = {}
  local f = assert(io.open(path, "rb"))
  for line in f:lines() do if line:find("%S") then results[#results + 1] = json.decode(line) end end
  f:close()
  return results, path
end

return { sweep = sweep }
