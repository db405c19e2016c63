-- spec/parity/repl_parity_spec.lua -- issue 14 item 14, REPL side: Tab sees
-- lp.nn, lp.xylo, lp.plot ... before their first use; printing a module
-- table (lp.nn, lp) gives a short summary instead of every class's
-- internals; a class prints as its methods; print(t) in a script shows a
-- tensor's values. Sessions run on a pseudo terminal (util-linux `script`),
-- as in spec/repl_spec.lua. Code: stdlib/limpet/repl.lua (completion),
-- stdlib/limpet/format.lua (summaries), stdlib/limpet/init.lua
-- (the __complete list of lp's lazily loaded names).
local build = os.getenv("LIMPET_BUILD") or "build/release"
local root = os.getenv("PWD") or "."
local exe = build:sub(1, 1) == "/" and build .. "/limpet" or root .. "/" .. build .. "/limpet"
local repl = require "limpet.repl"
local format = require "limpet.format"
local lp = require "limpet"

local function sh_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
local function have(cmd)
  local ok = os.execute("command -v " .. cmd .. " >/dev/null 2>&1")
  return ok == true or ok == 0
end
local pty_it = (have("script") and have("timeout")) and it or pending

-- Type `steps` (strings; numbers are pauses) into a fresh `limpet -i` on a
-- pty; returns the screen text without escape sequences and CRs.
local function session(steps)
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
  local hist = os.tmpname()
  local p = io.popen(("sh %s | LIMPET_HISTORY=%s timeout 20 script -qfec %s /dev/null 2>&1"):format(
    sh_quote(feeder), sh_quote(hist), sh_quote(sh_quote(exe) .. " -i")))
  local out = p:read("a")
  p:close()
  os.remove(feeder); os.remove(hist)
  return (out:gsub("\27%[[%d;?]*[%a]", ""):gsub("[\r\7]", ""))
end

describe("item 14: the REPL and lp's lazily loaded parts", function()
  pty_it("completes lp.xylo, lp.plot and lp.nn with Tab before their first use", function()
    local out = session { "lp.xyl\t.limits ~= nil\n", "lp.plo\t.curve ~= nil\n", "lp.n\t\t" , "\3" }
    assert.matches("limpet> lp.xylo.limits ~= nil\ntrue\n", out, 1, true)
    assert.matches("limpet> lp.plot.curve ~= nil\ntrue\n", out, 1, true)
    -- two Tabs list the candidates, lp.nn among them
    assert.matches("lp.nn", out, 1, true)
  end)

  pty_it("prints lp.nn as a short summary", function()
    local out = session { "lp.nn\n", "'after'\n" }
    local summary = out:match("limpet> lp%.nn\n(.-)limpet> 'after'")
    assert.is_not_nil(summary, out)
    assert.matches("^module 'limpet.nn': %d+ entries\n  classes: ", summary)
    assert.matches("LIF", summary, 1, true)
    local lines = select(2, summary:gsub("\n", ""))
    assert.is_true(lines <= 12, ("%d lines:\n%s"):format(lines, summary))
  end)

  it("offers lp's lazy names to completion without loading them", function()
    local all = repl.complete("lp.", { lp = lp })
    local set = {}
    for _, c in ipairs(all) do set[c] = true end
    for _, name in ipairs { "nn", "xylo", "plot", "data", "optim", "loss", "train", "autograd", "graph",
                            "TSContinuous", "TSEvent", "dynapse2" } do
      assert.is_true(set["lp." .. name], "lp." .. name .. " missing")
    end
    assert.same({ "lp.dynapse2" }, repl.complete("lp.dyn", { lp = lp }))
  end)

  it("summarises module tables and classes, also inside tables", function()
    local s = format.format(lp.nn)
    assert.matches("^module 'limpet.nn': %d+ entries\n", s)
    assert.is_true(select(2, s:gsub("\n", "")) <= 12)
    assert.is_nil(s:find("function: 0x", 1, true))
    local whole = format.format(lp)
    assert.matches("^module 'limpet': %d+ entries\n", whole)
    assert.matches("loaded on first use: ", whole, 1, true)
    assert.is_true(select(2, whole:gsub("\n", "")) <= 60)
    assert.matches("^class 'LIF' %(a subclass of 'Module'%)\n  methods: ", format.format(lp.nn.LIF))
    assert.are.equal("{c = <class 'LIF'>, m = <module 'limpet.nn'>, x = 1}",
      format.format({ m = lp.nn, c = lp.nn.LIF, x = 1 }))
  end)

  it("prints a tensor's values with print(t) in a script", function()
    local p = io.popen(("%s -e %s 2>&1"):format(sh_quote(exe),
      sh_quote("local lp = require 'limpet' print(lp.tensor{1, 2, 3}) print(lp.arange(0, 100000))")))
    local out = p:read("a")
    p:close()
    assert.matches("^tensor%(%[1, 2, 3%], dtype=int64, shape=%(3,%)%)\n", out)
    assert.matches("tensor%(%[    0,     1,     2, ..., 99997, 99998, 99999%], dtype=int64, shape=%(100000,%)%)\n", out)
  end)
end)
