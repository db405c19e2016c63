-- stdlib/limpet/help.lua -- help(x) in the REPL: the documentation of any
-- function, class or module of limpet, read from the doc comments in its
-- source, and the tutorials that show it.
-- Owns: help(x) / help("name") / help() (print), text(x) (the same as a
-- string), resolving values and names to their place in `lp`, reading the
-- comment block above a definition and a file's header, finding the
-- tutorials (examples/tutorials/) that use a name.
-- Not here: the REPL (repl.lua, lua/main.c), the documentation itself (the
-- `---` and `--` comments beside each definition).
--
-- What is shown, by kind:
-- - a Lua function: the comment block directly above its definition (its
--   `---` signature line and the `--` lines that follow), or else the doc
--   line naming it in the sources (`--- M.mapper(...)`);
-- - a class (a table with `__name`, e.g. nn.LIF, TSEvent): the doc block of
--   its constructor (`init`) and the header of its file;
-- - a module table (lp.nn, lp.xylo.audio2): its file header and its members;
-- - a C function: the doc line naming it in lua/*.c, if any;
-- then, for all, "Tutorial:" and the tutorials whose code uses the name.
local M = {}

local AREAS = {
  { "lp (tensors)", "n-d tensors, NumPy-style ops, autodiff: lp.zeros, lp.tensor, t:backward()" },
  { "lp.nn", "modules with Rockpool's API: Linear, LIF, LIFBitshift, aLIF, ExpSyn, Rate, Sequential, ..." },
  { "lp.optim", "optimisers (SGD, Adam, AdamW, RMSprop) and learning-rate schedules" },
  { "lp.loss", "losses: mse, cross_entropy, nll, peak_loss, ..." },
  { "lp.train", "the training loop (fit), TensorLoader, accuracy" },
  { "lp.autograd", "value_and_grad, grad, gradcheck, no_grad" },
  { "lp.data", "data sets (Fashion-MNIST, SHD/SSC, N-MNIST, DVS Gesture), Tonic's transforms, DataLoader, DiskCache" },
  { "lp.TSContinuous, lp.TSEvent", "Rockpool's time series; mod:timed{} for the TimedModule API" },
  { "lp.graph", "computational graphs (mod:as_graph()), as Rockpool's rockpool.graph" },
  { "lp.xylo", "Xylo: mapper, quantisers, configuration, XyloSim, cycles model, IMU interface, chip images" },
  { "lp.plot", "figures through PLplot: raster, traces, histogram, curve, matrix, confusion, figure{rows, cols}" },
  { "lp.devices", "SynSense kits on USB" },
}

-- Areas loaded on first touch (limpet/init.lua); touching them lets the
-- walk see them.
local LAZY = { "nn", "optim", "loss", "train", "data", "plot", "autograd", "graph", "xylo", "TSContinuous",
               "TSEvent" }

local function read_lines(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local lines = {}
  for line in f:lines() do lines[#lines + 1] = line end
  f:close()
  return lines
end

local file_cache = {}
local function lines_of(path)
  local l = file_cache[path]
  if l == nil then
    l = read_lines(path) or false
    file_cache[path] = l
  end
  return l or nil
end

-- The source tree's root (the folder holding stdlib/), or nil when limpet
-- is installed without it.
local function root()
  local p = package.searchpath("limpet.help", package.path)
  if not p then return nil end
  if p:match "^%.?/?stdlib/limpet/help%.lua$" then                  -- a relative path (busted)
    local pwd = os.getenv("PWD")
    return (pwd and pwd:sub(1, 1) == "/") and pwd or "."
  end
  return p:match "^(.*)/stdlib/limpet/help%.lua$"
end

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function list_dir(dir, pattern)
  local ok, core = pcall(require, "limpet.core")
  local names = {}
  if ok and core.listdir then
    local ok2, got = pcall(core.listdir, dir)
    if ok2 and type(got) == "table" then
      for _, n in ipairs(got) do if n:match(pattern) then names[#names + 1] = n end end
    end
  else
    local p = io.popen("ls " .. shell_quote(dir) .. " 2>/dev/null")
    if p then
      for n in p:lines() do if n:match(pattern) then names[#names + 1] = n end end
      p:close()
    end
  end
  table.sort(names)
  return names
end

-- Comment text: "--- x" / "-- x" / "--" -> "x".
local function uncomment(line) return (line:gsub("^%s*%-%-%-? ?", "")) end

-- The comment block ending just above line n (1-based) of `lines`.
local function block_above(lines, n)
  local out = {}
  local i = n - 1
  while i >= 1 and lines[i]:match "^%s*%-%-" and not lines[i]:match "^%s*%-%-%-%-%-%-" do
    table.insert(out, 1, uncomment(lines[i]))
    i = i - 1
  end
  return out
end

-- A file's header: its first comment block (C files: the /* ** */ block).
local function header(path)
  local lines = lines_of(path)
  if not lines then return {} end
  local out = {}
  if path:match "%.c$" then
    for i = 2, #lines do
      if lines[i]:match "^%*/" or not lines[i]:match "^%*%*" then break end
      out[#out + 1] = (lines[i]:gsub("^%*%* ?", ""))
    end
    return out
  end
  for i = 1, #lines do
    if not lines[i]:match "^%-%-" then break end
    out[#out + 1] = uncomment(lines[i])
  end
  return out
end

local function relative(path)
  local r = root()
  if r and path:sub(1, #r + 1) == r .. "/" then return path:sub(#r + 2) end
  return (path:gsub("^%./", ""))
end

local function source_of(f)
  if type(f) ~= "function" then return nil end
  local info = debug.getinfo(f, "S")
  if not info or info.what == "C" or info.source:sub(1, 1) ~= "@" then return nil end
  return info.source:sub(2), info.linedefined
end

---------------------------------------------------------------------------
-- names: every table and function reachable from lp, by path

local index -- {by_value = {[v] = "lp.a.b"}, paths = {["lp.a.b"] = v}}

local function is_ident(k) return type(k) == "string" and k:match "^[%a][%w_]*$" ~= nil end

local function build_index()
  if index then return index end
  local lp = require "limpet"
  for _, k in ipairs(LAZY) do pcall(function() return lp[k] end) end
  index = { by_value = {}, paths = {} }
  local function walk(t, path, depth)
    local keys = {}
    for k in next, t do if is_ident(k) then keys[#keys + 1] = k end end
    table.sort(keys)
    for _, k in ipairs(keys) do
      local v = rawget(t, k)
      local tv = type(v)
      if tv == "function" or tv == "table" then
        local p = path .. "." .. k
        if index.paths[p] == nil then index.paths[p] = v end
        local known = index.by_value[v]
        if known == nil or #p < #known then index.by_value[v] = p end
        if tv == "table" and depth < 3 and not (known and #known <= #p) then walk(v, p, depth + 1) end
      end
    end
  end
  index.by_value[lp] = "lp"
  walk(lp, "lp", 1)
  -- per-variant Xylo tables are filled in on first use
  local ok, xylo = pcall(function() return lp.xylo end)
  if ok and type(xylo) == "table" then
    for _, v in ipairs { "audio2", "audio3", "imu" } do
      local ok2, vt = pcall(function() return xylo[v] end)
      if ok2 and type(vt) == "table" then
        local base = "lp.xylo." .. v
        index.paths[base] = vt
        index.by_value[vt] = index.by_value[vt] or base
        for _, k in ipairs { "mapper", "config_from_specification", "XyloSim", "cycles_model", "est_clock_freq",
                             "limits", "IMUIFSim", "Quantizer", "config_to_image", "VirtualHDK" } do
          local ok3, m = pcall(function() return vt[k] end)
          if ok3 and m ~= nil and (type(m) == "function" or type(m) == "table") then
            index.paths[base .. "." .. k] = m
            index.by_value[m] = index.by_value[m] or (base .. "." .. k)
          end
        end
      end
    end
  end
  return index
end

-- "nn.LIF", "lp.nn.LIF", "TSEvent", "audio2.mapper" -> value, path
local function resolve(name)
  local idx = build_index()
  local full = name:match "^lp%." and name or ("lp." .. name)
  if idx.paths[full] ~= nil then return idx.paths[full], full end
  local best
  for p in pairs(idx.paths) do
    if p:sub(-#name - 1) == "." .. name and (not best or #p < #best or (#p == #best and p < best)) then best = p end
  end
  if best then return idx.paths[best], best end
  return nil
end

---------------------------------------------------------------------------
-- doc lines named in the sources: `--- name(...)` (Lua) and `name(` in the
-- comments of lua/*.c

local function doc_files()
  local r = root()
  if not r then return {} end
  local files = {}
  local p = io.popen("find " .. shell_quote(r .. "/stdlib/limpet") .. " " .. shell_quote(r .. "/devices")
    .. " " .. shell_quote(r .. "/lua") .. " -name '*.lua' -o -name 'l_*.c' 2>/dev/null")
  if p then
    for f in p:lines() do files[#files + 1] = f end
    p:close()
  end
  table.sort(files)
  return files
end

-- The doc block of a definition named `short` (its last name), found by
-- the `--- ...short(` line that documents it.
-- hint: the area of the name's path ("plot" for lp.plot.raster): files of
-- that area are searched first.
local function doc_by_name(short, skip_file, skip_line, hint)
  local esc = short:gsub("%p", "%%%0")
  local pat, pat0 = "[%.:%s]" .. esc .. "[%(%{]", "^" .. esc .. "[%(%{]"
  local first, rest = {}, {}
  for _, f in ipairs(doc_files()) do
    local r = relative(f)
    if hint and (r:find("/" .. hint .. "/", 1, true) or r:find("/" .. hint .. ".lua", 1, true)) then
      first[#first + 1] = f
    else
      rest[#rest + 1] = f
    end
  end
  -- per group: pass 1, `--- name(` doc lines (and C comments); pass 2,
  -- `-- name(` at column 0
  for _, group in ipairs { first, rest } do
  for pass = 1, 2 do
    for _, f in ipairs(group) do
      local lua = f:match "%.lua$" ~= nil
      local lines = lines_of(f) or {}
      for i, line in ipairs(lines) do
        local text
        if lua and pass == 1 and line:match "^%s*%-%-%-" then text = uncomment(line)
        elseif lua and pass == 2 and line:match "^%-%- " then text = uncomment(line)
        elseif not lua and pass == 1 and (line:match "^%*%*" or line:match "^%s*/%*") then
          text = line:gsub("^%s*/?%*+ ?", ""):gsub("%s*%*/%s*$", "")
        end
        if text and (text:match(pat0) or (pass == 1 and text:match(pat)))
            and not (skip_file and relative(f) == relative(skip_file) and i == skip_line) then
          local out = { text }
          for j = i + 1, #lines do
            local nxt = lines[j]
            if lua and nxt:match "^%s*%-%-" and not nxt:match "^%s*%-%-%-" and not nxt:match "^%-%- %-%-" then
              out[#out + 1] = uncomment(nxt)
            else break end
          end
          return out, f, i
        end
      end
    end
  end
  end
  return nil
end

local function area_of(path) return path and path:match "^lp%.([%w_]+)%." end

---------------------------------------------------------------------------
-- tutorials

local function tutorials_using(path)
  local r = root()
  if not r or not path then return {} end
  local parts = {}
  for p in path:gmatch "[^%.]+" do parts[#parts + 1] = p end
  local needle
  if #parts >= 3 then needle = parts[#parts - 1] .. "." .. parts[#parts]
  else needle = parts[#parts] end
  local dir = r .. "/examples/tutorials"
  local out = {}
  for _, n in ipairs(list_dir(dir, "^%d%d_[%w_]+%.lua$")) do
    local lines = lines_of(dir .. "/" .. n) or {}
    local hit = false
    for i = 2, #lines do
      local l = lines[i]
      if not l:match "^%s*%-%-" and l:find(needle, 1, true) then hit = true; break end
    end
    if hit then
      local title = (lines[1] or ""):match "^%-%-%s+%S+%s+%-%-%s+(.+)$" or n
      out[#out + 1] = ("examples/tutorials/%s (%s)"):format(n, title)
    end
  end
  return out
end

---------------------------------------------------------------------------
-- the text

local function trim(list)
  while list[1] and list[1]:match "^%s*$" do table.remove(list, 1) end
  while list[#list] and list[#list]:match "^%s*$" do table.remove(list) end
  return list
end


local function function_doc(f, path)
  local file, line = source_of(f)
  if file then
    local lines = lines_of(file)
    if lines then
      local doc = trim(block_above(lines, line))
      if #doc > 0 then
        -- a short note on a wrapper: add the documentation of what it wraps
        local short = path and path:match "([%w_]+)$"
        if #doc <= 2 and short then
          local more, where, at = doc_by_name(short, file, line - #doc, area_of(path))
          if more then
            doc[#doc + 1] = ""
            for _, l in ipairs(more) do doc[#doc + 1] = l end
            doc[#doc + 1] = ("(%s:%d)"):format(relative(where), at)
          end
        end
        return doc, ("%s:%d"):format(relative(file), line)
      end
    end
  end
  local short = path and path:match "([%w_]+)$"
  if short then
    local doc, where, at = doc_by_name(short, nil, nil, area_of(path))
    if doc then return doc, ("%s:%d"):format(relative(where), at) end
  end
  if file then return {}, ("%s:%d"):format(relative(file), line) end
  return {}, nil
end

local function members(t)
  local fns, tabs = {}, {}
  for k, v in pairs(t) do
    if is_ident(k) and not k:match "^_" then
      if type(v) == "function" then fns[#fns + 1] = k elseif type(v) == "table" then tabs[#tabs + 1] = k end
    end
  end
  table.sort(fns)
  table.sort(tabs)
  return fns, tabs
end

-- The file most of a table's functions come from.
local function home_file(t)
  local count, best = {}, nil
  for _, v in pairs(t) do
    local f = source_of(v)
    if f then
      count[f] = (count[f] or 0) + 1
      if not best or count[f] > count[best] then best = f end
    end
  end
  return best
end

local function wrap(words, width)
  local lines, cur = {}, ""
  for _, w in ipairs(words) do
    if #cur > 0 and #cur + 2 + #w > width then lines[#lines + 1] = cur; cur = w
    else cur = #cur > 0 and (cur .. ", " .. w) or w end
  end
  if #cur > 0 then lines[#lines + 1] = cur end
  return lines
end

local function areas_text()
  local out = { "limpet: help(x) documents any function, class or module (help(lp.nn.LIF),",
                "help(lp.xylo.audio2.mapper)); help(\"name\") looks a name up (help(\"TSEvent\")).", "", "Areas:" }
  for _, a in ipairs(AREAS) do out[#out + 1] = ("  %-28s %s"):format(a[1], a[2]) end
  out[#out + 1] = ""
  out[#out + 1] = "Tutorials: examples/tutorials/ (`make tutorials` renders them to build/tutorials/)."
  return table.concat(out, "\n")
end

-- help.text and help(x) share this; errors name fname
local function text(fname, x, ...)
  if select("#", ...) > 0 then error(("bad argument #2 to '%s' (one argument expected)"):format(fname), 3) end
  if x == nil then return areas_text() end
  local idx = build_index()
  local path
  if type(x) == "string" then
    local v, p = resolve(x)
    if v == nil then
      local doc, where, at = doc_by_name(x:match "([%w_]+)$" or x)
      if doc then
        return table.concat(doc, "\n") .. ("\n\nSource: %s:%d"):format(relative(where), at)
      end
      return nil, ("help: no limpet function, class or module named '%s'"):format(x)
    end
    x, path = v, p
  else
    path = idx.by_value[x]
    -- an instance (a module, a series, a tensor): its class
    if path == nil then
      local mt = getmetatable(x)
      if type(x) == "userdata" and type(mt) == "table" and mt.__name == "limpet.Tensor" then
        local ok, core = pcall(require, "limpet.core")
        if ok then x, path = core.Tensor, "lp.Tensor" end
      elseif type(x) == "table" and type(mt) == "table" and type(rawget(mt, "__name")) == "string"
          and idx.by_value[mt] then
        x, path = mt, idx.by_value[mt]
      end
    end
  end
  local out = {}
  local where
  if type(x) == "function" then
    local doc
    doc, where = function_doc(x, path)
    out[#out + 1] = (path or "function") .. (source_of(x) and "" or " (C function)")
    if #doc > 0 then out[#out + 1] = ""; for _, l in ipairs(doc) do out[#out + 1] = "  " .. l end
    else out[#out + 1] = "  (no documentation comment)" end
  elseif type(x) == "table" then
    local name = rawget(x, "__name")
    local init = rawget(x, "init") or (getmetatable(x) and type(getmetatable(x).__call) == "function"
      and not name and nil)
    if type(name) == "string" or type(init) == "function" then
      out[#out + 1] = ("%s (class %s)"):format(path or name or "class", tostring(name or "?"))
      local doc, at = {}, nil
      local short = path and path:match "([%w_]+)$" or tostring(name)
      if type(init) == "function" then
        doc, at = function_doc(init, nil)
        if not (doc[1] and doc[1]:find(short, 1, true)) then doc, at = {}, nil end
      end
      if #doc == 0 and path then
        local d, f, i = doc_by_name(path:match "([%w_]+)$", nil, nil, area_of(path))
        if d then doc, at = d, ("%s:%d"):format(relative(f), i) end
      end
      for _, l in ipairs(doc) do out[#out + 1] = "  " .. l end
      local file = (type(init) == "function" and source_of(init)) or home_file(x)
      if file then
        local h = trim(header(file))
        if #h > 0 then
          out[#out + 1] = ""
          for _, l in ipairs(h) do out[#out + 1] = "  " .. l end
        end
        where = at or relative(file)
      else
        where = at
      end
      local fns = members(x)
      if #fns > 0 then
        out[#out + 1] = ""
        out[#out + 1] = "Methods:"
        for _, l in ipairs(wrap(fns, 74)) do out[#out + 1] = "  " .. l end
      end
    else
      out[#out + 1] = (path or "table") .. " (module)"
      local file = path and package.searchpath("limpet" .. path:sub(3), package.path)
      file = file or home_file(x)
      if file then
        local h = trim(header(file))
        out[#out + 1] = ""
        for _, l in ipairs(h) do out[#out + 1] = "  " .. l end
        where = relative(file)
      end
      local fns, tabs = members(x)
      if #fns > 0 then
        out[#out + 1] = ""
        out[#out + 1] = "Functions:"
        for _, l in ipairs(wrap(fns, 74)) do out[#out + 1] = "  " .. l end
      end
      if #tabs > 0 then
        out[#out + 1] = ""
        out[#out + 1] = "Classes and tables:"
        for _, l in ipairs(wrap(tabs, 74)) do out[#out + 1] = "  " .. l end
      end
    end
  else
    return nil, ("help: %s is a %s value, not a limpet function, class or module"):format(tostring(x), type(x))
  end
  if where then out[#out + 1] = ""; out[#out + 1] = "Source: " .. where end
  local tuts = tutorials_using(path)
  if #tuts > 3 then
    local more = #tuts - 3
    tuts = { tuts[1], tuts[2], tuts[3] }
    tuts[3] = tuts[3] .. (" and %d more"):format(more)
  end
  if #tuts == 0 then out[#out + 1] = "Tutorial: none shows it yet"
  else
    out[#out + 1] = "Tutorial: " .. tuts[1]
    for i = 2, #tuts do out[#out + 1] = "          " .. tuts[i] end
  end
  return table.concat(out, "\n")
end
--- help.text([x]) -> the help text of x (a value of limpet, or a name such
--- as "TSEvent" or "nn.LIF"); the list of areas without x. Unknown things
--- give nil, message.
function M.text(x, ...) return text("text", x, ...) end

--- help([x]): print the documentation of x (see help.text), or the list
--- of areas.
function M.help(...)
  local s, err = text("help", ...)
  io.stdout:write((s or err), "\n")
  io.stdout:flush()
end

return setmetatable(M, { __call = function(_, ...) return M.help(...) end })
