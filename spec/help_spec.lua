-- spec/help_spec.lua -- help(x) (stdlib/limpet/help.lua): the text for
-- classes, functions, modules, names and C functions, the list of areas,
-- refusals; and help in the interactive REPL on a pseudo terminal.
local build = os.getenv("LIMPET_BUILD") or "build/release"
local root = os.getenv("PWD") or "."
local exe = build:sub(1, 1) == "/" and build .. "/limpet" or root .. "/" .. build .. "/limpet"
local lp = require "limpet"
local help = require "limpet.help"

local function sh_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
local function have(cmd)
  local ok = os.execute("command -v " .. cmd .. " >/dev/null 2>&1")
  return ok == true or ok == 0
end
local pty_it = (have("script") and have("timeout")) and it or pending

-- `limpet -i` on a pty, typing `lines`; returns the screen text.
local function session(lines)
  local steps = { "sleep 1" }
  for _, s in ipairs(lines) do steps[#steps + 1] = "printf '%s\\n' " .. sh_quote(s) .. "; sleep 1" end
  steps[#steps + 1] = "printf '\\004'; sleep 0.5"
  local feeder = os.tmpname()
  local f = assert(io.open(feeder, "w"))
  f:write(table.concat(steps, "\n"), "\n")
  f:close()
  local hist = os.tmpname()
  local p = io.popen(("sh %s | LIMPET_HISTORY=%s timeout 30 script -qfec %s /dev/null 2>&1"):format(
    sh_quote(feeder), sh_quote(hist), sh_quote(sh_quote(exe) .. " -i")))
  local out = p:read "a"
  p:close()
  os.remove(feeder)
  os.remove(hist)
  return (out:gsub("\27%[[%d;?]*[%a]", ""):gsub("[\r\7]", ""))
end

describe("help", function()
  it("documents a class from its constructor's doc comment and its file header", function()
    local s = help.text(lp.nn.LIF)
    assert.matches("^lp%.nn%.LIF %(class LIF%)\n", s)
    assert.matches("nn%.LIF%(shape, {tau_mem, tau_syn | alpha, beta | dash_mem, dash_syn,\n    bias, threshold, has_rec", s)
    assert.matches("LIF layers %(Rockpool's LIFTorch family%)", s)
    assert.matches("Methods:\n  [^\n]*evolve", s)
    assert.matches("\nSource: stdlib/limpet/nn/lif%.lua:%d+\n", s)
    assert.matches("\nTutorial: examples/tutorials/01_spiking_neurons%.lua %(A simple introduction to spiking neurons%)", s)
  end)

  it("documents a wrapper function with what it wraps", function()
    local s = help.text(lp.xylo.audio2.mapper)
    assert.matches("^lp%.xylo%.audio2%.mapper\n", s)
    assert.matches("M%.mapper%(graph, variant, opts%) %-> spec, warnings", s)
    assert.matches("design", s:lower() .. " design")
    assert.matches("%(devices/xylo/mapper%.lua:%d+%)", s)
    assert.matches("Tutorial: examples/tutorials/14_graph_mapping%.lua %(Graph mapping%)", s)
  end)

  it("looks names up", function()
    local s = help.text("TSEvent")
    assert.matches("^lp%.TSEvent %(class TSEvent%)", s)
    assert.matches("discrete events on\n  numbered channels %(Rockpool's TSEvent%)", s)
    assert.matches("Methods:\n  append_c, append_t, clip", s)
    assert.matches("Tutorial: examples/tutorials/02_time_series%.lua %(Working with time series%)", s)
    assert.equals(help.text(lp.nn.LIF), help.text("nn.LIF"))
    assert.equals(help.text(lp.nn.LIF), help.text("lp.nn.LIF"))
    assert.equals(help.text(lp.train.fit), help.text("train.fit"))
    assert.equals(help.text(lp.nn.LIF), help.text(lp.nn.LIF(3)))       -- an instance: its class
    assert.matches("^lp%.Tensor ", help.text(lp.zeros(2)))
  end)

  it("documents modules, plain functions and C functions", function()
    local s = help.text(lp.nn)
    assert.matches("^lp%.nn %(module%)\n\n  stdlib/limpet/nn/init%.lua %-%- lp%.nn", s)
    assert.matches("Classes and tables:\n  %u", s)                       -- sorted; the list grows and wraps
    for _, name in ipairs { "ExpSyn", "FFwdStack", "LIF", "LIFBitshift", "Sequential" } do
      assert.truthy(s:find("[ \n]" .. name .. "[,\n]"), name)
    end
    s = help.text(lp.train.fit)
    assert.matches("^lp%.train%.fit\n\n  lp%.train%.fit{net =, loss = ", s)
    assert.matches("Source: stdlib/limpet/train%.lua:%d+", s)
    s = help.text(lp.plot.raster)                         -- a generated function: its doc line by name
    assert.matches("^lp%.plot%.raster\n\n  raster%(spikes %(T, N%) tensor or TSEvent", s)
    assert.matches("Source: stdlib/limpet/plot/init%.lua:%d+", s)
    s = help.text(lp.zeros)
    assert.matches("^lp%.zeros %(C function%)", s)
    assert.matches("Source: lua/l_tensor%.c:%d+", s)
  end)

  it("lists the areas without an argument", function()
    local s = help.text()
    assert.matches("^limpet: help%(x%) documents", s)
    for _, area in ipairs { "lp.nn", "lp.train", "lp.data", "lp.xylo", "lp.plot", "lp.TSContinuous, lp.TSEvent" } do
      assert.matches("\n  " .. area:gsub("%p", "%%%0") .. " ", s)
    end
  end)

  it("says what it does not know, and refuses extra arguments", function()
    assert.same({ nil, "help: no limpet function, class or module named 'nosuch'" }, { help.text("nosuch") })
    assert.same({ nil, "help: 42 is a number value, not a limpet function, class or module" }, { help.text(42) })
    assert.has_error(function() help.text(lp.nn, 2) end, "bad argument #2 to 'text' (one argument expected)")
    assert.has_error(function() help(lp.nn, 2) end, "bad argument #2 to 'help' (one argument expected)")
    assert.equals(help, lp.help)
  end)

  pty_it("works in the REPL: help(lp.nn.LIF), help(lp.xylo.audio2.mapper), help('TSEvent'), help()", function()
    local out = session { "help(lp.nn.LIF)", "help(lp.xylo.audio2.mapper)", 'help("TSEvent")', "help()" }
    assert.matches("limpet> help%(lp%.nn%.LIF%)\nlp%.nn%.LIF %(class LIF%)\n", out)
    assert.matches("Tutorial: examples/tutorials/01_spiking_neurons%.lua", out)
    assert.matches("limpet> help%(lp%.xylo%.audio2%.mapper%)\nlp%.xylo%.audio2%.mapper\n", out)
    assert.matches("M%.mapper%(graph, variant, opts%) %-> spec, warnings", out)
    assert.matches('limpet> help%("TSEvent"%)\nlp%.TSEvent %(class TSEvent%)\n', out)
    assert.matches("limpet> help%(%)\nlimpet: help%(x%) documents", out)
  end)
end)
