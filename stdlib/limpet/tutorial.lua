-- stdlib/limpet/tutorial.lua -- literate tutorials: their options, their
-- figures, and rendering a tutorial script to Markdown.
-- Owns: options(arg) (--quick, --out DIR), figure(name) (where a figure
-- goes, recorded for the renderer), render(path, outdir) (run a tutorial
-- and write outdir/NN_name.md: prose from its comments, its code, the
-- output each part printed and its figures), index(outdir, names) (the
-- index page), main(args) (what `make tutorials` calls).
-- Not here: the tutorials themselves (examples/tutorials/NN_name.lua), plots
-- (limpet.plot).
--
-- A tutorial is a plain Lua script. Prose is a run of comment lines that
-- start at column 0 with "-- " (or are "--" alone) and stand at the top
-- level of the script, between statements: each such run starts a new part
-- ("cell"). Comments inside functions or tables are indented, and so stay
-- code. The first comment block is the header; its first line is
-- "-- examples/tutorials/NN_name.lua -- Title".
local M = {}

local function argerror(fname, k, msg) error(("bad argument #%d to '%s' (%s)"):format(k, fname, msg), 3) end

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function mkdir(path)
  local ok = os.execute("mkdir -p " .. shell_quote(path) .. " 2>/dev/null")
  if not ok then return nil, "cannot create folder " .. path end
  return true
end

local function basename(path) return (path:match "([^/]+)$" or path):gsub("%.lua$", "") end

-- What the renderer is doing now (nil when a tutorial runs on its own).
local rendering = nil

--- tutorial.options(arg) -> {quick = bool, out = folder, name = "NN_name"}:
--- the command line of a tutorial (`--quick`, `--out DIR`; default
--- build/tutorials). Unknown arguments are errors.
function M.options(args)
  if rendering then return { quick = rendering.quick, out = rendering.out, name = rendering.name } end
  if type(args) ~= "table" then argerror("options", 1, "the script's arg table expected") end
  local o = { quick = false, out = "build/tutorials", name = basename(args[0] or "tutorial") }
  local i = 1
  while args[i] ~= nil do
    local a = args[i]
    if a == "--quick" then o.quick = true
    elseif a == "--out" and args[i + 1] then o.out = args[i + 1]; i = i + 1
    else error(("%s: unknown argument '%s' (expected --quick, --out DIR)"):format(o.name, tostring(a)), 2) end
    i = i + 1
  end
  assert(mkdir(o.out))
  M._standalone = o
  return o
end

--- tutorial.figure(label) -> path: where the tutorial's figure `label` goes
--- (<out>/<NN_name>-<label>.png); the renderer links it below the part that
--- made it. label: letters, digits, '_' and '-'.
function M.figure(label)
  if type(label) ~= "string" or not label:match "^[%w_%-]+$" then
    argerror("figure", 1, "label of letters, digits, '_' and '-' expected")
  end
  local o = rendering or M._standalone
  if not o then error("tutorial.figure: call tutorial.options(arg) first", 2) end
  local file = o.name .. "-" .. label .. ".png"
  if rendering then rendering.figures[#rendering.figures + 1] = file end
  return o.out .. "/" .. file
end

-- Split source lines into the header and cells: {prose = {lines}, code =
-- {lines}, first = line number of the cell's first line}.
local function is_prose(line) return line == "--" or (line:sub(1, 3) == "-- " and line:sub(1, 4) ~= "-- -") end

local function parse(lines)
  local header, i = {}, 1
  while lines[i] and lines[i]:sub(1, 2) == "--" do
    header[#header + 1] = lines[i]:gsub("^%-%- ?", "")
    i = i + 1
  end
  local cells = { { prose = {}, code = {}, first = i } }
  local prev_prose = false
  for n = i, #lines do
    local line = lines[n]
    if is_prose(line) then
      local cell = cells[#cells]
      if not prev_prose then
        cell = { prose = {}, code = {}, first = n }
        cells[#cells + 1] = cell
      end
      cell.prose[#cell.prose + 1] = line:gsub("^%-%- ?", "")
      prev_prose = true
    else
      local cell = cells[#cells]
      cell.code[#cell.code + 1] = line
      prev_prose = false
    end
  end
  return header, cells
end

local function trim_blank(list)
  while list[1] and list[1]:match "^%s*$" do table.remove(list, 1) end
  while list[#list] and list[#list]:match "^%s*$" do table.remove(list) end
  return list
end

--- tutorial.render(path, outdir[, {quick = true}]) -> true, {seconds =, cells =,
--- figures =} | nil, msg: run the tutorial at `path` (with --quick unless
--- quick = false) and write outdir/<NN_name>.md with its figures beside it.
--- An error in the tutorial is raised, naming the tutorial and line.
function M.render(path, outdir, opts)
  if type(path) ~= "string" then argerror("render", 1, "path expected") end
  if type(outdir) ~= "string" then argerror("render", 2, "folder expected") end
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= "quick" then argerror("render", 3, ("unknown field '%s'"):format(tostring(k))) end
  end
  local f, msg = io.open(path, "r")
  if not f then return nil, msg end
  local src = f:read "a"
  f:close()
  local ok, err = mkdir(outdir)
  if not ok then return nil, err end
  local lines = {}
  for line in (src .. (src:sub(-1) == "\n" and "" or "\n")):gmatch "(.-)\n" do lines[#lines + 1] = line end
  local header, cells = parse(lines)
  -- the script with a cell marker on the first line of every cell: line
  -- numbers stay those of the file
  local marked = {}
  for n, line in ipairs(lines) do marked[n] = line end
  for k, cell in ipairs(cells) do
    if k > 1 then marked[cell.first] = "__tutorial_cell(" .. k .. ") " .. marked[cell.first] end
  end
  for k = 1, #cells do cells[k].out, cells[k].figs = {}, {} end
  local name = basename(path)
  local current = 1
  local state = { quick = opts.quick ~= false, out = outdir, name = name, figures = {} }
  local function flush_figures()
    for _, fig in ipairs(state.figures) do table.insert(cells[current].figs, fig) end
    state.figures = {}
  end
  local function capture(...)
    local n, parts = select("#", ...), {}
    for j = 1, n do parts[j] = tostring((select(j, ...))) end
    table.insert(cells[current].out, table.concat(parts, "\t") .. "\n")
  end
  local function capture_write(...)
    for j = 1, select("#", ...) do table.insert(cells[current].out, tostring((select(j, ...)))) end
    return io.stdout
  end
  local env = setmetatable({
    __tutorial_cell = function(k) flush_figures(); current = k end,
    print = capture,
    arg = { [0] = path, "--quick", "--out", outdir },
  }, { __index = _G })
  local chunk, lerr = load(table.concat(marked, "\n") .. "\n", "@" .. path, "t", env)
  if not chunk then error(("tutorial %s: %s"):format(name, lerr), 0) end
  local saved_print, saved_write = _G.print, io.write
  _G.print, io.write = capture, capture_write
  rendering = state
  local t0 = os.time()
  local c0 = os.clock()
  local run_ok, run_err = xpcall(chunk, debug.traceback)
  rendering = nil
  _G.print, io.write = saved_print, saved_write
  flush_figures()
  if not run_ok then error(("tutorial %s failed: %s"):format(name, tostring(run_err)), 0) end
  -- the page
  local md = {}
  local title = (header[1] or ""):match "^%S+%s+%-%-%s+(.+)$" or name
  md[#md + 1] = "# " .. title .. "\n\n"
  local intro = {}
  for j = 2, #header do intro[#intro + 1] = header[j] end
  trim_blank(intro)
  if #intro > 0 then md[#md + 1] = table.concat(intro, "\n") .. "\n\n" end
  md[#md + 1] = ("*Rendered from `%s` (run with `--quick`).*\n\n"):format(path)
  local nfig = 0
  for _, cell in ipairs(cells) do
    trim_blank(cell.prose)
    trim_blank(cell.code)
    if #cell.prose > 0 then md[#md + 1] = table.concat(cell.prose, "\n") .. "\n\n" end
    if #cell.code > 0 then md[#md + 1] = "```lua\n" .. table.concat(cell.code, "\n") .. "\n```\n\n" end
    local out = table.concat(cell.out)
    if out ~= "" then
      out = out:gsub("\n$", ""):gsub("```", "'''")
      md[#md + 1] = "```text\n" .. out .. "\n```\n\n"
    end
    for _, fig in ipairs(cell.figs) do
      md[#md + 1] = ("![%s](%s)\n\n"):format(fig:gsub("%.png$", ""), fig)
      nfig = nfig + 1
    end
  end
  local text = table.concat(md):gsub("\n\n$", "\n")
  local target = outdir .. "/" .. name .. ".md"
  local tmp = target .. ".tmp"
  local w, werr = io.open(tmp, "w")
  if not w then return nil, werr end
  w:write(text)
  w:close()
  local rok, rerr = os.rename(tmp, target)
  if not rok then os.remove(tmp); return nil, rerr end
  return true, { seconds = os.time() - t0, cpu = os.clock() - c0, cells = #cells, figures = nfig,
                 path = target, title = title }
end

--- tutorial.index(outdir, entries) -> true | nil, msg: outdir/index.md, one
--- link per tutorial. entries: {{name = "NN_name", title = "..."}, ...}.
function M.index(outdir, entries)
  local md = { "# limpet tutorials\n\n" }
  for _, e in ipairs(entries) do
    md[#md + 1] = ("- [%s](%s.md)\n"):format(e.title, e.name)
  end
  local target = outdir .. "/index.md"
  local w, err = io.open(target .. ".tmp", "w")
  if not w then return nil, err end
  w:write(table.concat(md))
  w:close()
  return os.rename(target .. ".tmp", target)
end

--- tutorial.title(path) -> the title from a tutorial's first line.
function M.title(path)
  local f = io.open(path, "r")
  if not f then return basename(path) end
  local first = f:read "l" or ""
  f:close()
  return first:match "^%-%-%s+%S+%s+%-%-%s+(.+)$" or basename(path)
end

--- tutorial.main{outdir, paths...}: render each tutorial (each in its own
--- call; an error stops with a message naming it), then the index of all
--- `paths` given. `make tutorials` runs one process per tutorial with
--- index = false, then one for the index.
function M.main(args)
  local outdir = args.outdir or "build/tutorials"
  local entries = {}
  for _, p in ipairs(args) do
    if args.index ~= "only" then
      local ok, info = M.render(p, outdir)
      if not ok then io.stderr:write(("tutorial %s: %s\n"):format(p, tostring(info))); os.exit(1) end
      io.stderr:write(("%-44s %2d parts, %d figures, %.1f s cpu\n"):format(info.path, info.cells, info.figures, info.cpu))
    end
    entries[#entries + 1] = { name = basename(p), title = M.title(p) }
  end
  if args.index ~= false then
    local ok, err = M.index(outdir, entries)
    if not ok then io.stderr:write(tostring(err), "\n"); os.exit(1) end
  end
end

return M
