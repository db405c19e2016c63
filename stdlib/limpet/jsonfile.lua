-- stdlib/limpet/jsonfile.lua -- JSON files on disk, for the readers and
-- writers of limpet's file formats (devices/xylo/config.lua,
-- devices/dynapse2/config.lua, nn/serialize.lua): writing a text
-- atomically, reading and decoding a JSON file, and telling a memory error
-- from an error about a file's content. Errors name the calling function
-- and the file. Not here: JSON itself (limpet.json), what a format holds.
--
--   local ok, msg = jsonfile.write_atomic("save_config", path, text)
--   local doc, msg = jsonfile.read("load_config", path[, {tensors = true}])
local json = require "limpet.json"

local M = {}

local function check(name, k, v, what)
  if type(v) ~= "string" then
    error(("bad argument #%d to '%s' (%s expected, got %s)"):format(k, name, what, type(v)), 3)
  end
end

-- An io library message without its leading "<path>: ".
local function why(err) return (tostring(err):gsub("^[^:]*: ", "")) end

--- write_atomic(fname, path, text) -> true | nil, "<fname>: '<path>': <why>".
-- The text goes to "<path>.tmp<random>", renamed over path only when all of
-- it was written; a failed write leaves path as it was and no temporary file.
function M.write_atomic(fname, path, text)
  check("write_atomic", 1, fname, "a function name")
  check("write_atomic", 2, path, "a file path")
  check("write_atomic", 3, text, "a string")
  local tmp = ("%s.tmp%d"):format(path, math.random(0, 0x7fffffff))
  local f, err = io.open(tmp, "wb")
  if not f then return nil, ("%s: '%s': %s"):format(fname, path, why(err)) end
  local wok, werr = f:write(text)
  local cok, cerr = f:close()
  if not wok or not cok then
    os.remove(tmp)
    return nil, ("%s: '%s': %s"):format(fname, path, tostring(werr or cerr))
  end
  local rok, rerr = os.rename(tmp, path)
  if not rok then
    os.remove(tmp)
    return nil, ("%s: '%s': %s"):format(fname, path, why(rerr))
  end
  return true
end

--- is_oom(e) -> whether error e says memory ran out. Lua's own error is "not
-- enough memory"; the engine's reads "<function>: not enough memory ..."
-- (after a source position when raised in Lua code). Messages about a
-- file's content never start so, even when they quote the file (which may
-- say anything).
function M.is_oom(e)
  e = tostring(e):gsub("^[^\n]-:%d+: ", "")
  return e == "not enough memory" or e:match("^[%w_.]+: not enough memory") ~= nil
end

--- read(fname, path[, decode_opts]) -> the decoded document | nil,
-- "<fname>: '<path>': <why>" when the file cannot be read. Raises
-- "<fname>: '<path>' is not valid JSON (<decoder's message>)" for text that
-- does not decode, and a memory error as it is (is_oom).
function M.read(fname, path, decode_opts)
  check("read", 1, fname, "a function name")
  check("read", 2, path, "a file path")
  local f, err = io.open(path, "rb")
  if not f then return nil, ("%s: '%s': %s"):format(fname, path, why(err)) end
  local text, rerr = f:read("a")
  f:close()
  if not text then return nil, ("%s: '%s': %s"):format(fname, path, tostring(rerr)) end
  local ok, doc = pcall(json.decode, text, decode_opts)
  if not ok and M.is_oom(doc) then error(doc, 0) end
  if not ok then
    error(("%s: '%s' is not valid JSON (%s)"):format(fname, path, tostring(doc):match("%((.*)%)$") or tostring(doc)), 0)
  end
  return doc
end

return M
