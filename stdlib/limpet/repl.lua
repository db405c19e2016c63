-- stdlib/limpet/repl.lua -- the REPL's Lua side: what a line means, how
-- results print, what Tab offers.
-- Owns: start (the `lp` and `help` globals and the banner), compile (expressions print
-- without `=`; incomplete chunks ask for more), print (tensors and tables
-- pretty-printed through limpet.format; module tables summarised), complete
-- (globals, fields, methods, through metatables, and the names a table
-- loads on first use, listed in its metatable's __complete), run (a
-- plain-Lua REPL for hosts without main.c).
-- Not here: the terminal (readline, history, Ctrl-C: lua/main.c), the text
-- of tensors and tables (format.lua).
local format = require "limpet.format"

local M = {}

M.prompt = "limpet> "
M.prompt2 = ">> "

--- repl.start([lua_release]) -> banner: sets the globals `lp` (the limpet
--- module) and `help` (limpet.help). lua_release: "Lua 5.4.6" (main.c
--- passes LUA_RELEASE).
function M.start(lua_release)
  local lp = require "limpet"
  _G.lp = lp
  _G.help = function(...) return require("limpet.help").help(...) end   -- loaded on first use
  return ("limpet %s (%s) -- `lp` is the limpet module; Ctrl-D exits")
    :format(lp.version or "?", lua_release or _VERSION)
end

--- repl.compile(src) -> fn | nil, "incomplete" | nil, message
--- `src` first as an expression (`return src`), then as statements.
function M.compile(src, chunkname)
  if type(src) ~= "string" then error(("bad argument #1 to 'compile' (string expected, got %s)"):format(type(src)), 2) end
  if chunkname ~= nil and type(chunkname) ~= "string" then
    error(("bad argument #2 to 'compile' (string expected, got %s)"):format(type(chunkname)), 2)
  end
  chunkname = chunkname or "=stdin"
  local fn, experr = load("return " .. src .. "\n", chunkname, "t")
  if fn then return fn end
  local err
  fn, err = load(src, chunkname, "t")
  if fn then return fn end
  -- unfinished as statements, or as an expression (`1 +`): ask for more
  if err:sub(-5) == "<eof>" or experr:sub(-5) == "<eof>" then return nil, "incomplete" end
  return nil, err
end

--- repl.text(n, ...) -> string | nil: the results as the REPL shows them
--- (top-level strings raw, as lua does; several results on one line when
--- each fits on one, else one per line).
function M.text(n, ...)
  if math.type(n) ~= "integer" or n < 0 or n > select("#", ...) then
    error(("bad argument #1 to 'text' (the number of values that follow expected, got %s)"):format(tostring(n)), 2)
  end
  if n == 0 then return nil end
  local parts, multiline = {}, false
  for i = 1, n do
    local v = select(i, ...)
    local s = type(v) == "string" and v or format.format(v)
    if s:find "\n" then multiline = true end
    parts[i] = s
  end
  return table.concat(parts, multiline and "\n" or "\t")
end

--- repl.print(n, ...): print the n results of a chunk.
function M.print(n, ...)
  if math.type(n) ~= "integer" or n < 0 or n > select("#", ...) then
    error(("bad argument #1 to 'print' (the number of values that follow expected, got %s)"):format(tostring(n)), 2)
  end
  local s = M.text(n, ...)
  if s then
    io.stdout:write(s, "\n")
    io.stdout:flush()
  end
end

---------------------------------------------------------------------------
-- completion

local keywords = {
  "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if",
  "in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
}

-- Index without running metamethods that could have side effects, except
-- the lookups that completion needs (tables, __index tables, tensors).
local function lookup(v, k)
  if type(v) == "table" then
    local r = rawget(v, k)
    if r ~= nil then return r end
  end
  local ok, r = pcall(function() return v[k] end)
  if ok then return r end
  return nil
end

local function mt_name(v)
  local mt = getmetatable(v)
  return type(mt) == "table" and mt.__name or nil
end

-- The table holding the methods of userdata v (its metatable's __index
-- table, or for limpet tensors the method table limpet.core.Tensor).
local function method_table(v)
  local mt = getmetatable(v)
  if type(mt) ~= "table" then return nil end
  if type(mt.__index) == "table" then return mt.__index end
  if mt.__name == "limpet.Tensor" then
    local ok, core = pcall(require, "limpet.core")
    if ok then return core.Tensor end
  end
  return nil
end

-- Every key of v: own keys of tables and the __index chain (depth-limited),
-- method tables of userdata and strings.
local function collect(v, out, seen)
  seen = seen or {}
  if v == nil or seen[v] then return end
  local tv = type(v)
  if tv == "table" then
    seen[v] = true
    for k, x in next, v do if type(k) == "string" then out[k] = x end end
    local mt = getmetatable(v)
    -- names a table loads on first use (lp.nn, lp.xylo, ...): its metatable's
    -- __complete list (or a function returning one)
    local more = type(mt) == "table" and rawget(mt, "__complete")
    if type(more) == "function" then more = more(v) end
    if type(more) == "table" then
      for _, k in ipairs(more) do if type(k) == "string" and out[k] == nil then out[k] = true end end
    end
    if type(mt) == "table" and type(mt.__index) == "table" then collect(mt.__index, out, seen) end
  elseif tv == "userdata" then
    seen[v] = true
    local methods = method_table(v)
    if methods then collect(methods, out, seen) end
    if methods and mt_name(v) == "limpet.Tensor" then
      out.shape, out.dtype = true, true
    end
  elseif tv == "string" then
    collect(string, out, seen)
  end
end

--- repl.complete(text, env) -> sorted list of completions of `text`
--- (`lp.ze` -> {"lp.zeros", "lp.zeros_like"}, `t:res` -> {"t:reshape"}).
function M.complete(text, env)
  if type(text) ~= "string" then error(("bad argument #1 to 'complete' (string expected, got %s)"):format(type(text)), 2) end
  if env ~= nil and type(env) ~= "table" then
    error(("bad argument #2 to 'complete' (table expected, got %s)"):format(type(env)), 2)
  end
  env = env or _G
  local prefix, sep, partial = text:match "^(.-)([%.:])([%a_]?[%w_]*)$"
  local candidates, out = {}, {}
  if prefix == nil then
    -- a bare name: globals and keywords
    partial = text:match "^[%a_][%w_]*$" or (text == "" and "" or nil)
    if not partial then return {} end
    collect(env, candidates)
    for _, k in ipairs(keywords) do candidates[k] = candidates[k] or true end
    prefix, sep = "", ""
  else
    if not prefix:match "^[%a_][%w_]*$" and not prefix:match "^[%a_][%w_]*[%.%w_]*[%w_]$" then
      return {}
    end
    local v = env
    for name in prefix:gmatch "[^%.]+" do
      v = lookup(v, name)
      if v == nil then return {} end
    end
    collect(v, candidates)
  end
  for k, x in pairs(candidates) do
    if k:match "^[%a_][%w_]*$" and k:sub(1, #partial) == partial
        and (sep ~= ":" or type(x) == "function") then
      out[#out + 1] = prefix .. sep .. k
    end
  end
  table.sort(out)
  return out
end

---------------------------------------------------------------------------
-- a plain-Lua REPL (no readline), for `lua5.4 -e 'require "limpet.repl".run()'`

-- The traceback of an error in a chunk, without run's own frames.
local function traceback(e)
  local tb = debug.traceback(e, 2)
  if type(tb) ~= "string" then return tb end
  local cut = tb:find("\n\t%[C%]: in function 'xpcall'")
  return cut and tb:sub(1, cut - 1) or tb
end

function M.run(input, output)
  input, output = input or io.stdin, output or io.stdout
  output:write(M.start(), "\n")
  local pending
  while true do
    output:write(pending and M.prompt2 or M.prompt)
    output:flush()
    local line = input:read "l"
    if line == nil then output:write "\n"; return end
    local src = pending and (pending .. "\n" .. line) or line
    local fn, err = M.compile(src)
    pending = nil
    if err == "incomplete" then
      pending = src
    elseif not fn then
      output:write(err, "\n")
    else
      local res = table.pack(xpcall(fn, traceback))
      if not res[1] then
        output:write(tostring(res[2]), "\n")
      else
        local s = M.text(res.n - 1, table.unpack(res, 2, res.n))
        if s then output:write(s, "\n") end
      end
    end
  end
end

return M
