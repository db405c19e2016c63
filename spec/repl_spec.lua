-- spec/repl_spec.lua -- the interactive REPL (lua/main.c + limpet/repl.lua),
-- driven through a pseudo terminal with util-linux `script`: expressions,
-- multi-line chunks, pretty-printing, errors, history, Tab, Ctrl-C.
-- Each session is bounded by `timeout`. Also the REPL's Lua side directly.
local build = os.getenv("LIMPET_BUILD") or "build/release"
local root = os.getenv("PWD") or "."
local exe = build:sub(1, 1) == "/" and build .. "/limpet" or root .. "/" .. build .. "/limpet"
local repl = require "limpet.repl"
local lp = require "limpet"

local function sh_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function have(cmd)
  local ok = os.execute("command -v " .. cmd .. " >/dev/null 2>&1")
  return ok == true or ok == 0
end
local has_pty = have("script") and have("timeout")

-- Feed `steps` (strings typed into the terminal, numbers are pauses in
-- seconds) to `limpet <args>` on a pty; returns the screen text (escape
-- sequences and CRs removed) and the history file's content.
local function session(steps, args)
  local hist = os.tmpname()
  os.remove(hist)
  local lines = { "sleep 1" }
  for _, s in ipairs(steps) do
    if type(s) == "number" then lines[#lines + 1] = "sleep " .. s
    else lines[#lines + 1] = "printf '%s' " .. sh_quote(s) .. "; sleep 0.3" end
  end
  lines[#lines + 1] = "printf '\\004'; sleep 0.5"
  local feeder = os.tmpname()
  local f = assert(io.open(feeder, "w"))
  f:write(table.concat(lines, "\n"), "\n")
  f:close()
  local cmd = ("sh %s | LIMPET_HISTORY=%s timeout 20 script -qfec %s /dev/null 2>&1"):format(
    sh_quote(feeder), sh_quote(hist), sh_quote(sh_quote(exe) .. " " .. (args or "-i")))
  local p = io.popen(cmd)
  local out = p:read("a")
  local _, _, code = p:close()
  os.remove(feeder)
  local hf = io.open(hist)
  local history = hf and hf:read("a") or nil
  if hf then hf:close() end
  os.remove(hist)
  out = out:gsub("\27%[[%d;?]*[%a]", ""):gsub("[\r\7]", "")
  return out, history, code
end

local pty_it = has_pty and it or pending

describe("limpet REPL on a terminal", function()
  pty_it("prints a banner, then expression values without =", function()
    local out, _, code = session { "1 + 2\n", "'a', 2, nil\n", "x = 5\n", "x * 2\n" }
    assert.equals(0, code)
    assert.matches("^limpet %d+%.%d+%.%d+ %(Lua 5%.4%.%d+%)", out)
    assert.matches("limpet> 1 %+ 2\n3\n", out)
    assert.matches("limpet> 'a', 2, nil\na\t2\tnil\n", out)
    assert.matches("limpet> x = 5\nlimpet> x %* 2\n10\n", out)
  end)

  pty_it("starts with lp = require 'limpet'", function()
    local out = session { "lp == require 'limpet'\n" }
    assert.matches("\ntrue\n", out)
  end)

  pty_it("continues incomplete chunks with a >> prompt", function()
    local out = session { "for i = 1, 2 do\n", "print(i * 10)\n", "end\n", "1 +\n", "1\n" }
    assert.matches("limpet> for i = 1, 2 do\n>> print%(i %* 10%)\n>> end\n10\n20\n", out)
    assert.matches("limpet> 1 %+\n>> 1\n2\n", out)
  end)

  pty_it("pretty-prints tensors and tables", function()
    local out = session { "lp.arange(0, 4):reshape(2, 2)\n", "{b = 2, a = {1, 2}}\n" }
    assert.matches("tensor%(%[%[0, 1%],\n        %[2, 3%]%], dtype=int64, shape=%(2, 2%)%)\n", out)
    assert.matches("\n{a = {1, 2}, b = 2}\n", out)
  end)

  pty_it("shows an error with its traceback and stays usable", function()
    local out = session { "local function f() error('boom') end f()\n", "x = nil + 1\n", "40 + 2\n" }
    assert.matches("stdin:1: boom\nstack traceback:\n.*in local 'f'.*\nlimpet> x = nil %+ 1\n" ..
                   "stdin:1: attempt to perform arithmetic on a nil value\nstack traceback:", out)
    assert.matches("limpet> 40 %+ 2\n42\n", out)
  end)

  pty_it("reports syntax errors", function()
    local out = session { "x = = 1\n", "7\n" }
    assert.matches("limpet> x = = 1\nstdin:1: unexpected symbol near '='\nlimpet> 7\n7\n", out)
  end)

  pty_it("writes the history file", function()
    local _, history = session { "a = 1\n", "for i = 1, 2 do\n", "end\n", "\n" }
    assert.is_not_nil(history)
    assert.matches("a = 1\n", history, 1, true)
    assert.matches("for i = 1, 2 do", history, 1, true)
  end)

  pty_it("reads the history file back", function()
    -- the second session recalls the first one's line with Up (ESC [ A)
    local hist = os.tmpname()
    local f = assert(io.open(hist, "w"))
    f:write("print('from history')\n")
    f:close()
    local p = io.popen(("(sleep 1; printf '\\033[A\\n'; sleep 0.5; printf '\\004') | LIMPET_HISTORY=%s " ..
                        "timeout 20 script -qfec %s /dev/null 2>&1"):format(sh_quote(hist),
                        sh_quote(sh_quote(exe) .. " -i")))
    local out = p:read("a"):gsub("\27%[[%d;?]*[%a]", ""):gsub("\r", "")
    p:close()
    os.remove(hist)
    assert.matches("\nfrom history\n", out, 1, true)
  end)

  pty_it("completes globals, fields and methods with Tab", function()
    local out = session { "lp.zer\t\n", "t = lp.arange(0, 6)\n", "t:res\t(2, 3)\n", "pri\t('x')\n" }
    assert.matches("limpet> lp.zeros\nfunction: ", out)
    assert.matches("limpet> t:reshape%(2, 3%)\ntensor%(%[%[0, 1, 2%],", out)
    assert.matches("limpet> print%('x'%)\nx\n", out)
  end)

  pty_it("interrupts a Lua loop with Ctrl-C and returns to the prompt", function()
    local out = session { "while true do end\n", 1, "\3", 0.5, "print('alive')\n" }
    assert.matches("interrupted!\nstack traceback:", out)
    assert.matches("limpet> print%('alive'%)\nalive\n", out)
  end)

  pty_it("interrupts a long C kernel with Ctrl-C", function()
    -- a batched matmul over a broadcast view: many seconds of work, tiny memory
    local started = os.time()
    local out = session { "c = lp.matmul(lp.ones(1, 1, 100000):expand(5000000, 1, 100000), " ..
                          "lp.ones(100000, 1))\n", 1.5, "\3", 0.5, "print('alive', c)\n" }
    assert.matches("interrupted!", out, 1, true)
    assert.matches("limpet> print%('alive', c%)\nalive\tnil\n", out)
    assert.is_true(os.time() - started < 15)
  end)

  pty_it("drops the line and a pending chunk on Ctrl-C at the prompt", function()
    local out = session { "for i = 1, 3 do\n", "\3", "\3", "'fresh'\n" }
    assert.matches(">> \nlimpet> \nlimpet> 'fresh'\nfresh\n", out)
  end)

  pty_it("exits on Ctrl-D with status 0", function()
    local _, _, code = session {}
    assert.equals(0, code)
  end)

  pty_it("runs -e and the script before the REPL with -i", function()
    local out = session({ "y\n" }, "-e 'y = 7' -i")
    assert.matches("limpet> y\n7\n", out)
  end)

  pty_it("enters the REPL with no arguments on a terminal", function()
    local out = session({ "6 * 7\n" }, "")
    assert.matches("limpet> 6 %* 7\n42\n", out)
  end)
end)

describe("limpet.repl", function()
  it("compiles expressions and statements", function()
    local fn = assert(repl.compile("1 + 2"))
    assert.equals(3, fn())
    fn = assert(repl.compile("local x = 2; return x * 3"))
    assert.equals(6, fn())
    fn = assert(repl.compile("1 -- a comment"))
    assert.equals(1, fn())
  end)

  it("asks for more on incomplete chunks", function()
    assert.same({ nil, "incomplete" }, { repl.compile("for i = 1, 2 do") })
    assert.same({ nil, "incomplete" }, { repl.compile("x = {") })
    assert.same({ nil, "incomplete" }, { repl.compile("1 +") })
    assert.same({ nil, "incomplete" }, { repl.compile("s = [[abc") })
  end)

  it("reports syntax errors", function()
    assert.same({ nil, "stdin:1: unexpected symbol near '='" }, { repl.compile("x = = 1") })
    assert.same({ nil, "stdin:1: 'end' expected near 'until'" },
                { repl.compile("do until") })
  end)

  it("shows results as lua does, pretty-printing tensors and tables", function()
    assert.is_nil(repl.text(0))
    assert.equals("1\tabc\tnil", repl.text(3, 1, "abc", nil))
    assert.equals("{1, 2, x = \"y\"}", repl.text(1, { 1, 2, x = "y" }))
    assert.equals("tensor([1, 2], dtype=int64, shape=(2,))\t2",
                  repl.text(2, lp.tensor { 1, 2 }, 2))
    assert.equals("tensor([[1],\n        [2]], dtype=int64, shape=(2, 1))\n2",
                  repl.text(2, lp.tensor { { 1 }, { 2 } }, 2))
    assert.equals("tensor([[1, 2],\n        [3, 4]], dtype=int64, shape=(2, 2))",
                  repl.text(1, lp.tensor { { 1, 2 }, { 3, 4 } }))
  end)

  it("completes globals and keywords", function()
    local env = { print = print, pairs = pairs, prime = 7 }
    assert.same({ "prime", "print" }, repl.complete("pri", env))
    assert.same({ "repeat", "return" }, repl.complete("re", env))
  end)

  it("completes fields of tables through __index tables", function()
    local base = { alpha = 1, beta = 2 }
    local env = { obj = setmetatable({ own = 1 }, { __index = base }), lp = lp }
    assert.same({ "obj.alpha" }, repl.complete("obj.al", env))
    assert.same({ "obj.alpha", "obj.beta", "obj.own" }, repl.complete("obj.", env))
    assert.same({ "lp.zeros", "lp.zeros_like" }, repl.complete("lp.ze", env))
    assert.same({}, repl.complete("nothing.x", env))
  end)

  it("completes tensor methods and fields", function()
    local env = { t = lp.zeros(2, 3) }
    assert.same({ "t:reshape" }, repl.complete("t:res", env))
    assert.same({ "t.shape", "t.show" }, repl.complete("t.sh", env))
    assert.same({ "t:diff", "t:dim", "t:div", "t:div_" }, repl.complete("t:di", env))
  end)

  it("completes only functions after ':'", function()
    local env = { o = { f = function() end, field = 1 } }
    assert.same({ "o:f" }, repl.complete("o:f", env))
    assert.same({ "o.f", "o.field" }, repl.complete("o.f", env))
  end)

  it("completes string methods", function()
    assert.same({ "s:upper" }, repl.complete("s:up", { s = "abc" }))
  end)

  it("runs a plain-Lua REPL over any file handles", function()
    local input = assert(io.tmpfile())
    input:write("1 + 1\nx = 0\nfor i = 1, 2 do\nx = x + i\nend\nx\nerror('x')\nlp.tensor{1.5}\n")
    input:seek("set")
    local output = assert(io.tmpfile())
    repl.run(input, output)
    output:seek("set")
    local text = output:read("a")
    assert.matches("limpet> 2\n", text, 1, true)
    assert.matches("limpet> limpet> >> >> limpet> 3\n", text, 1, true)
    assert.matches("limpet> stdin:1: x\nstack traceback:\n\t[C]: in function 'error'\n" ..
                   "\tstdin:1: in main chunk\nlimpet> ", text, 1, true)
    assert.matches("tensor([1.5], dtype=float32, shape=(1,))\n", text, 1, true)
  end)
end)
