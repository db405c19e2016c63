-- spec/cli_spec.lua -- the `limpet` command line (lua/main.c): lua5.4's
-- options and `arg`, stdin, exit statuses, LUA_INIT, module paths from any
-- folder with no environment variables.
local build = os.getenv("LIMPET_BUILD") or "build/release"
local root = os.getenv("PWD") or "."
local exe = build:sub(1, 1) == "/" and build .. "/limpet" or root .. "/" .. build .. "/limpet"

local function sh_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function tmpfile(content)
  local name = os.tmpname()
  local f = assert(io.open(name, "w"))
  f:write(content)
  f:close()
  return name
end

-- run(args, {input =, env =, cwd =, stderr = false}) -> output, exit code.
-- args is a list of words (quoted here) or a string used as is.
local function run(args, opts)
  opts = opts or {}
  if type(args) == "table" then
    local q = {}
    for i, a in ipairs(args) do q[i] = sh_quote(a) end
    args = table.concat(q, " ")
  end
  local input = opts.input and tmpfile(opts.input)
  local cmd = ("cd %s && %s %s %s < %s %s"):format(
    sh_quote(opts.cwd or root), opts.env or "", sh_quote(exe), args,
    input and sh_quote(input) or "/dev/null", opts.stderr == false and "2>/dev/null" or "2>&1")
  local p = io.popen(cmd)
  local out = p:read("a")
  local _, _, code = p:close()
  if input then os.remove(input) end
  return out, code
end

describe("limpet command line", function()
  it("prints its version with -v", function()
    local out, code = run { "-v" }
    assert.equals(0, code)
    assert.matches("^limpet %d+%.%d+%.%d+ %(Lua 5%.4%.%d+%)\n$", out)
  end)

  it("prints help with --help and its version with --version, then exits 0", function()
    local out, code = run { "--help" }
    assert.are.equal(0, code)
    assert.truthy(out:find("usage: limpet [options] [script [args]]", 1, true))
    assert.truthy(out:find("--version", 1, true))
    assert.truthy(out:find("OMP_NUM_THREADS", 1, true))
    local v, vcode = run { "--version", "-e", "print('not run')" }
    assert.are.equal(0, vcode)
    assert.matches("^limpet %d+%.%d+%.%d+ %(Lua 5%.4%.%d+%)\n$", v)
    local bad, bcode = run { "--hepl" }
    assert.are_not.equal(0, bcode)
    assert.truthy(bad:find("unrecognized option '--hepl'", 1, true))
  end)

  it("runs -e chunks in order", function()
    local out, code = run { "-e", "x = 20", "-e", "print(x + 1)" }
    assert.equals(0, code)
    assert.equals("21\n", out)
  end)

  it("accepts -e with its chunk attached", function()
    assert.equals("3\n", (run { "-eprint(1 + 2)" }))
  end)

  it("runs a script with arg and ... as lua does", function()
    local script = tmpfile("print(arg[0] == SCRIPT, arg[1], arg[2], #arg, select('#', ...), ...)\n" ..
                           "print(arg[-1] ~= nil, arg[-2])\n")
    local out, code = run(("-e %s %s a b"):format(sh_quote("SCRIPT = " .. ("%q"):format(script)),
                                                  sh_quote(script)))
    os.remove(script)
    assert.equals(0, code)
    assert.equals("true\ta\tb\t2\t2\ta\tb\ntrue\t-e\n", out)
  end)

  it("gives arg[-1] the interpreter when there is no script option", function()
    local script = tmpfile("print(arg[-1] == EXE, arg[0] == SCRIPT)\n")
    local out = run(("-e %s %s"):format(sh_quote(("EXE, SCRIPT = %q, %q"):format(exe, script)),
                                        sh_quote(script)))
    os.remove(script)
    assert.equals("false\ttrue\n", out)  -- arg[-1] is the -e chunk, arg[-3] the interpreter
  end)

  it("reads the script from stdin with -", function()
    local out, code = run({ "-", "x", "y" }, { input = "print('from stdin', ...)\n" })
    assert.equals(0, code)
    assert.equals("from stdin\tx\ty\n", out)
  end)

  it("reads stdin when it is not a terminal and there are no arguments", function()
    local out, code = run({}, { input = "print(6 * 7)\n" })
    assert.equals(0, code)
    assert.equals("42\n", out)
  end)

  it("stops handling options after --", function()
    local script = tmpfile("print('script', ...)\n")
    local out = run { "--", script, "-v" }
    os.remove(script)
    assert.equals("script\t-v\n", out)
  end)

  it("exits with status 1 and a traceback on an error", function()
    local out, code = run { "-e", "local function f() error('boom') end f()" }
    assert.equals(1, code)
    assert.matches(": %(command line%):1: boom\nstack traceback:\n", out)
    assert.matches("in local 'f'", out)
  end)

  it("exits with status 1 on a syntax error in a script", function()
    local script = tmpfile("x = = 1\n")
    local out, code = run { script }
    os.remove(script)
    assert.equals(1, code)
    assert.matches("unexpected symbol near '='", out)
  end)

  it("reports a missing script", function()
    local out, code = run { "/nonexistent/script.lua" }
    assert.equals(1, code)
    assert.matches("cannot open /nonexistent/script.lua", out, 1, true)
  end)

  it("passes os.exit's status through", function()
    local _, code = run { "-e", "os.exit(3)" }
    assert.equals(3, code)
  end)

  it("rejects unknown options with the usage", function()
    local out, code = run { "-x" }
    assert.equals(1, code)
    assert.matches("unrecognized option '-x'\nusage: ", out, 1, true)
    out, code = run { "-e" }
    assert.equals(1, code)
    assert.matches("'-e' needs argument", out, 1, true)
    out, code = run { "-vx" }
    assert.equals(1, code)
    assert.matches("unrecognized option '-vx'", out, 1, true)
  end)

  it("requires libraries with -l mod and -l g=mod", function()
    local out, code = run { "-l", "limpet.format", "-l", "F=limpet.format", "-e",
                            "print(type(F.format), rawequal(F, _G['limpet.format']))" }
    assert.equals(0, code)
    assert.equals("function\ttrue\n", out)
  end)

  it("runs LUA_INIT first, and ignores it with -E", function()
    assert.equals("5\n", (run({ "-e", "print(x)" }, { env = "LUA_INIT='x = 5'" })))
    assert.equals("6\n", (run({ "-e", "print(x)" }, { env = "LUA_INIT_5_4='x = 6' LUA_INIT='x = 5'" })))
    assert.equals("nil\n", (run({ "-E", "-e", "print(x)" }, { env = "LUA_INIT='x = 5'" })))
    local init = tmpfile("y = 'from file'\n")
    assert.equals("from file\n", (run({ "-e", "print(y)" }, { env = "LUA_INIT=@" .. init })))
    os.remove(init)
  end)

  it("turns warnings on with -W", function()
    local out = run { "-W", "-e", "warn('careful')" }
    assert.equals("Lua warning: careful\n", out)
    assert.equals("", (run { "-e", "warn('careful')" }))
  end)

  it("finds limpet from another folder with no environment variables", function()
    local out, code = run({ "-e", "local lp = require 'limpet'; print(lp.version, " ..
                            "package.searchpath('limpet', package.path))" },
                          { cwd = "/tmp", env = "env -i" })
    assert.equals(0, code)
    assert.equals(("%s\t%s/stdlib/limpet/init.lua\n"):format(
      (run { "-e", "print(require('limpet.core').version)" }):gsub("\n$", ""), root), out)
  end)

  it("has limpet.core preloaded", function()
    local out = run({ "-e", "print(package.preload['limpet.core'] ~= nil, " ..
                      "require('limpet.core') == require('limpet').core)" }, { cwd = "/tmp" })
    assert.equals("true\ttrue\n", out)
  end)

  it("looks for limpet.<chip> under devices/ of the source tree", function()
    local out, code = run({ "-e", "require 'limpet.nosuchchip'" }, { cwd = "/tmp", env = "env -i" })
    assert.equals(1, code)
    assert.matches("no file '" .. root .. "/devices/nosuchchip/init.lua'", out, 1, true)
    assert.matches("no file '" .. root .. "/devices/nosuchchip.lua'", out, 1, true)
  end)

  it("honours LIMPET_ROOT unless -E is given", function()
    local out = run({ "-e", "print(package.path:match('^[^;]*'))" },
                    { cwd = "/tmp", env = "LIMPET_ROOT=/nonexistent" })
    assert.equals(root .. "/stdlib/?.lua\n", out)  -- a root without limpet is skipped
  end)

  it("interrupts a running script on SIGINT with status 1", function()
    local script = tmpfile("io.stdout:write('started\\n'); io.stdout:flush(); while true do end\n")
    local p = io.popen(("%s %s 2>&1 & pid=$!; sleep 1; kill -INT $pid; wait $pid; echo \"status $?\"")
                       :format(sh_quote(exe), sh_quote(script)))
    local out = p:read("a")
    p:close()
    os.remove(script)
    assert.matches("^started\n.*interrupted!\nstack traceback:\n.*status 1\n$", out)
  end)

  it("raises one catchable error when SIGINT stops a kernel", function()
    local script = tmpfile([[
local lp = require "limpet"
io.stdout:write("started\n"); io.stdout:flush()
local a, b = lp.ones(1, 1, 100000):expand(5000000, 1, 100000), lp.ones(100000, 1)
print("caught", pcall(lp.matmul, a, b))
for _ = 1, 1000 do end
print("after")
]])
    local p = io.popen(("%s %s 2>&1 & pid=$!; sleep 1.5; kill -INT $pid; wait $pid; echo \"status $?\"")
                       :format(sh_quote(exe), sh_quote(script)))
    local out = p:read("a")
    p:close()
    os.remove(script)
    assert.equals("started\ncaught\tfalse\tinterrupted!\nafter\nstatus 0\n", out)
  end)

  it("makes idle OpenMP threads sleep unless the user chose a policy", function()
    local p = io.popen(("env -u OMP_WAIT_POLICY %s -e 'io.write(os.getenv(\"OMP_WAIT_POLICY\"))' 2>&1"):format(sh_quote(exe)))
    assert.equals("passive", p:read("a"))
    p:close()
    p = io.popen(("env OMP_WAIT_POLICY=active %s -e 'io.write(os.getenv(\"OMP_WAIT_POLICY\"))' 2>&1"):format(sh_quote(exe)))
    assert.equals("active", p:read("a"))
    p:close()
  end)

  it("loads libhdf5 on the first HDF5 file, not at start-up", function()
    local fx = "spec/fixtures/data/shd/shd_train.h5"
    local code = [[
local function loaded()
  return io.open("/proc/self/maps"):read("a"):find("libhdf5", 1, true) ~= nil
end
local before = loaded()
local h = assert(require("limpet.core").h5_open("]] .. fx .. [["))
h:close()
io.write(tostring(before), " ", tostring(loaded()))]]
    local p = io.popen(("%s -e %s 2>&1"):format(sh_quote(exe), sh_quote(code)))
    local out = p:read("a")
    p:close()
    assert.equals("false true", out)
  end)

  it("sets the wait policy before libgomp reads it, in one process (no re-exec)", function()
    -- libgomp prints the policy it took at load time under OMP_DISPLAY_ENV
    local p = io.popen(("env -u OMP_WAIT_POLICY OMP_DISPLAY_ENV=true %s -e '' 2>&1"):format(sh_quote(exe)))
    local out = p:read("a")
    p:close()
    assert.truthy(out:find("OMP_WAIT_POLICY = 'PASSIVE'", 1, true), out)
    -- libgomp loaded once: a re-exec of the executable would print it twice
    local _, loads = out:gsub("OPENMP DISPLAY ENVIRONMENT BEGIN", "")
    assert.equals(1, loads)
    p = io.popen(("env OMP_WAIT_POLICY=active OMP_DISPLAY_ENV=true %s -e '' 2>&1"):format(sh_quote(exe)))
    out = p:read("a")
    p:close()
    assert.truthy(out:find("OMP_WAIT_POLICY = 'ACTIVE'", 1, true), out)
  end)
end)
