-- spec/tutorials_spec.lua -- the literate tutorials (examples/tutorials/)
-- and their renderer (stdlib/limpet/tutorial.lua): every tutorial runs
-- with --quick and renders to Markdown with its figures; the renderer puts
-- prose, code, printed output and figures in order, and refuses what it
-- does not understand.
local build = os.getenv("LIMPET_BUILD") or "build/release"
local root = os.getenv("PWD") or "."
local exe = build:sub(1, 1) == "/" and build .. "/limpet" or root .. "/" .. build .. "/limpet"
local tutorial = require "limpet.tutorial"
local lp = require "limpet"

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir -p " .. q(d)))
  return d
end

local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read "a"
  f:close()
  return s
end

local function is_png(path)
  local s = slurp(path)
  return s ~= nil and #s > 1000 and s:sub(1, 8) == "\137PNG\r\n\26\n"
end

local names = {}
for _, f in ipairs(lp.core.listdir(root .. "/examples/tutorials")) do
  if f:match "^%d%d_[%w_]+%.lua$" then names[#names + 1] = f end
end
table.sort(names)

describe("examples/tutorials", function()
  it("are there, numbered without gaps or duplicates", function()
    assert.is_true(#names >= 1)
    for i, f in ipairs(names) do
      assert.equals(("%02d"):format(i), f:sub(1, 2))
      local first = slurp(root .. "/examples/tutorials/" .. f):match "^[^\n]*"
      assert.matches("^%-%- examples/tutorials/" .. f:gsub("%p", "%%%0") .. " %-%- %S", first)
    end
  end)

  for _, f in ipairs(names) do
    it("renders " .. f .. " with --quick: prose, code, output and its figures", function()
      local out = tmpdir()
      local p = io.popen(("cd %s && %s -e %s 2>&1"):format(q(root), q(exe),
        q(("require('limpet.tutorial').main{outdir = %q, index = false, %q}"):format(out, "examples/tutorials/" .. f))))
      local log = p:read "a"
      local ok = p:close()
      assert(ok, log)
      local md = slurp(out .. "/" .. f:gsub("%.lua$", ".md"))
      assert.is_string(md)
      assert.matches("^# %S", md)
      assert.matches("```lua\n", md)
      assert.matches("```text\n", md)           -- every tutorial prints results
      local nfig = 0
      for file in md:gmatch "!%[[^%]]*%]%(([^)]+)%)" do
        assert.is_true(is_png(out .. "/" .. file), file)
        nfig = nfig + 1
      end
      assert.is_true(nfig >= 1, "no figure")
      os.execute("rm -rf " .. q(out))
    end)
  end
end)

describe("limpet.tutorial", function()
  local src = table.concat({
    "-- examples/tutorials/99_demo.lua -- A demo",
    "-- Intro line.",
    "local lp = require 'limpet'",
    "local tut = require 'limpet.tutorial'",
    "local opt = tut.options(arg)",
    "",
    "-- ## Part one",
    "-- Prose of part one.",
    "local function f(x)",
    "  -- indented: stays code",
    "  return x * 2",
    "end",
    "print('quick', opt.quick, f(21))",
    "",
    "-- Part two makes a figure.",
    "assert(lp.plot.histogram({1, 2, 2, 3}, tut.figure('hist')))",
    "io.write('written\\n')",
  }, "\n") .. "\n"

  it("renders prose, code, output and figures in order", function()
    local dir = tmpdir()
    local path = dir .. "/99_demo.lua"
    local f = assert(io.open(path, "w")); f:write(src); f:close()
    local ok, info = tutorial.render(path, dir .. "/out")
    assert.is_true(ok)
    assert.equals(3, info.cells)
    assert.equals(1, info.figures)
    assert.equals("A demo", info.title)
    local md = slurp(dir .. "/out/99_demo.md")
    local expect = table.concat({
      "# A demo", "", "Intro line.", "",
      "*Rendered from `" .. path .. "` (run with `--quick`).*", "",
      "```lua", "local lp = require 'limpet'", "local tut = require 'limpet.tutorial'", "local opt = tut.options(arg)", "```", "",
      "## Part one", "Prose of part one.", "",
      "```lua", "local function f(x)", "  -- indented: stays code", "  return x * 2", "end",
      "print('quick', opt.quick, f(21))", "```", "",
      "```text", "quick\ttrue\t42", "```", "",
      "Part two makes a figure.", "",
      "```lua", "assert(lp.plot.histogram({1, 2, 2, 3}, tut.figure('hist')))", "io.write('written\\n')", "```", "",
      "```text", "written", "```", "",
      "![99_demo-hist](99_demo-hist.png)", "",
    }, "\n")
    assert.equals(expect, md)
    assert.is_true(is_png(dir .. "/out/99_demo-hist.png"))
    assert.is_true(tutorial.index(dir .. "/out", { { name = "99_demo", title = "A demo" } }))
    assert.equals("# limpet tutorials\n\n- [A demo](99_demo.md)\n", slurp(dir .. "/out/index.md"))
    os.execute("rm -rf " .. q(dir))
  end)

  it("names the tutorial and line of an error, and restores print", function()
    local dir = tmpdir()
    local path = dir .. "/98_bad.lua"
    local f = assert(io.open(path, "w"))
    f:write("-- examples/tutorials/98_bad.lua -- Bad\nprint('a')\n\n-- Part\nerror('boom')\n")
    f:close()
    local saved = print
    assert.has_error(function() tutorial.render(path, dir) end)
    local ok, err = pcall(tutorial.render, path, dir)
    assert.is_false(ok)
    assert.matches("^tutorial 98_bad failed: " .. path:gsub("%p", "%%%0") .. ":5: boom", err)
    assert.equals(saved, print)
    os.execute("rm -rf " .. q(dir))
  end)

  it("refuses what it does not understand", function()
    assert.has_error(function() tutorial.render("x.lua", "d", { quik = true }) end,
      "bad argument #3 to 'render' (unknown field 'quik')")
    assert.has_error(function() tutorial.render(1, "d") end, "bad argument #1 to 'render' (path expected)")
    assert.has_error(function() tutorial.options({ [0] = "t.lua", "--fast" }) end,
      "t: unknown argument '--fast' (expected --quick, --out DIR)")
    assert.has_error(function() tutorial.figure("a b") end,
      "bad argument #1 to 'figure' (label of letters, digits, '_' and '-' expected)")
    local ok, msg = tutorial.render("/nonexistent/t.lua", "d")
    assert.is_nil(ok)
    assert.matches("nonexistent", msg)
  end)
end)
