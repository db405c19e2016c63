-- spec/hostile_spec.lua -- the hostile-argument sweep (issue 16), part of
-- `make test` and, under ASan and UBSan, `make check`. Every public function
-- of `lp` and its sub-libraries, found at run time (functions added later are
-- swept without changing this file), called with wrong types, NaN and
-- infinities, negative, zero and huge sizes, empty and non-contiguous
-- tensors. Every call must end in a correct result or in a Lua error that
-- names the function (or its class) and is not an internal slip (`attempt
-- to index a nil value`, ...).
--
-- Aliases: a function published under two names (lp.arccos / lp.acos,
-- lp.transform.remove_T_net / remove_transform, xylo.open_hdk over
-- usb.open, ...) is a function of its own under each name, so its errors
-- name the one the user called; the sweep accepts only that name. (Lua
-- names a C function in an error by finding it among the loaded modules,
-- so one C function registered twice would be named after either.)
--
-- Arguments: the 26 values of hostile_values() alone, one tensor with each
-- of every second value, and the pairs PAIR_FIRST x PAIR_SECOND (one value
-- of each kind against a few second arguments): 85 calls per function. The
-- expanded view has 2^16 rows (3 elements of storage): large enough that a
-- per-element or per-step Lua loop shows as a hang, small enough that the
-- numeric kernels stay cheap. While sweeping, FashionMNIST's default folder
-- is the fixture's. LIMPET_SWEEP_TRACE=1 prints each function's CPU time and
-- the totals; LIMPET_SWEEP_ONLY=pat1,pat2 (Lua patterns) sweeps only the
-- paths they find (then no minimum call count is asserted).
--
-- What is swept: the functions of lp (lp.core's and the Lua ones), the
-- tensor methods, and every table reachable from a sub-library (lp.nn,
-- lp.optim, lp.loss, lp.train, lp.data, lp.plot, lp.autograd, lp.graph,
-- lp.xylo, lp.repl, lp.TSEvent, lp.TSContinuous, lp.format, and any chip or
-- library added later under lp); classes are constructed with hostile
-- arguments and, where a sample instance can be made, their methods are
-- called on it. Names starting with "_" are private and not swept; the
-- functions in EXCLUDED are left out for the reason given there. Strings
-- given as arguments are paths inside a temporary folder, and the sweep
-- checks that nothing appeared in the working directory.
local lp = require "limpet"

-- Functions left out on purpose, by the path the sweep reaches them under
-- (a Lua pattern, anchored), with the reason.
local EXCLUDED = {
  { "lp%.repl%.run", "interactive: reads commands from the terminal until end of input" },
  { "lp%.repl%.start", "interactive: installs the REPL and reads the terminal" },
  { "lp%.seed", "reseeds the global generator, which specs run after this one rely on" },
  { "lp%.core%.seed", "the same function as lp.seed" },
  { "lp%.optim%.[%w_]+:update", "an optimiser's per-parameter rule: step calls it with its own records" },
  { "lp%.optim%.[%w_]+:buffer", "an optimiser's state helper for update: step's records only" },
  { "lp%.nn%.[%w_]+:rebuild", "nn.load's hook that makes an empty chain: it takes the class, not an instance" },
  { "lp%.data%.Dataset:%*", "abstract base: its methods are swept on the SHD, SSC, NMNIST, DVSGesture and " ..
    "FashionMNIST samples" },
  { ".*[Ss]poken_?[Dd]igits.*", "synthesises the whole data set (about 18,000 files, minutes of espeak-ng and " ..
    "flite) into the working directory when its defaults are valid; its argument checks are in " ..
    "spec/data/spoken_digits_spec.lua" },
  { ".*%.sweep", "runs every configuration and appends to sweep.jsonl in the working directory by default; " ..
    "its argument checks are in spec/dist_spec.lua" },
}
local function excluded(path)
  for _, e in ipairs(EXCLUDED) do
    if path:match("^" .. e[1] .. "$") then return e[2] end
  end
end
-- Metamethods that are not operations a user calls.
local SKIP_META = { __index = true, __gc = true, __close = true, __mode = true, __name = true,
  __metatable = true }

local SUBLIBS = { "nn", "optim", "loss", "train", "data", "plot", "autograd", "graph", "xylo",
  "dynapse2", "nir", "repl", "TSContinuous", "TSEvent", "format" }

local scratch = os.tmpname()
os.remove(scratch)
assert(os.execute("mkdir -p '" .. scratch .. "'"))

-- ---- arguments ---------------------------------------------------------------

local function hostile_values()
  return {
    n = 26,
    nil, scratch .. "/x", scratch .. "/x.npz", "", {}, { 1, { 2 } }, true, function() end,
    0, -1, 0.5, 1 << 31, 1 << 62, math.mininteger, 0 / 0, math.huge, -math.huge,
    { 1000000, 1000000, 1000000 },
    lp.zeros(0, 3), lp.arange(24):reshape(2, 3, 4):transpose(1, 3),
    lp.tensor({ 0 / 0, 1 / 0, -1 / 0 }, "float64"), lp.tensor({ 1, 2 }, "int16"),
    lp.tensor { true, false }, lp.tensor(2.5), lp.zeros(1, 3):expand(1 << 16, 3), { -3, 2 },
  }
end
-- The pairs tried (first argument, second argument), by index into the
-- values above: one of each kind (nothing, a path, a table, zero, a huge
-- integer, NaN, an empty tensor, a view of an odd layout, an expanded view)
-- against nothing, a number, NaN, a non-contiguous and an expanded tensor.
local PAIR_FIRST = { 1, 2, 5, 9, 13, 15, 19, 20, 25 }
local PAIR_SECOND = { 1, 10, 15, 20, 25 }

-- ---- sample instances --------------------------------------------------------

local FX = "spec/fixtures/data/"

-- a sample of class C (by name), or nil: known recipes first, then generic tries
local RECIPES = {
  TSEvent = function() return lp.TSEvent({ 0.1, 0.2, 0.3 }, { 1, 2, 1 }, { t_stop = 1 }) end,
  TSContinuous = function() return lp.TSContinuous({ 0, 0.1, 0.2 }, lp.tensor { { 1, 2 }, { 3, 4 }, { 5, 6 } }) end,
  SHD = function() return lp.data.SHD { root = FX .. "shd" } end,
  SSC = function() return lp.data.SSC { root = FX .. "ssc", split = "valid" } end,
  NMNIST = function() return lp.data.NMNIST { root = FX .. "nmnist" } end,
  DVSGesture = function() return lp.data.DVSGesture { root = FX .. "dvs_gesture" } end,
  FashionMNIST = function() return lp.data.FashionMNIST { root = FX .. "fmnist" } end,
  Config = function() return lp.xylo.load_config("spec/fuzz/corpus/xylo_config/audio2.json") end,
  TensorLoader = function() return lp.train.TensorLoader(lp.ones(6, 2), lp.ones(6), { batch_size = 4 }) end,
  -- the networks at their smallest sizes (the same code paths, less arithmetic per call)
  WaveSenseNet = function()
    return lp.nn.WaveSenseNet({ 2, 3 }, { dilations = { 2 }, n_channels_res = 2, n_channels_skip = 2, n_hidden = 2 })
  end,
  WaveSenseBlock = function() return lp.nn.WaveSenseBlock({ 2, 2 }) end,
  SynNet = function() return lp.nn.SynNet({ 2, 3 }, { size_hidden_layers = { 2 } }) end,
  Conv1d = function() return lp.nn.Conv1d(2, 3, 3) end,
  Conv2d = function() return lp.nn.Conv2d(2, 3, 3) end,
  TimedModule = function() return lp.nn.LIF(3):timed() end,
  TimedModuleWrapper = function() return lp.nn.LIF(3):timed() end,
  TWrapper = function()
    local T, net = lp.transform, lp.nn.Linear({ 2, 3 })
    return T.make_param_T_network(net, T.make_param_T_config(net, T.int_quant(), "weights"))
  end,
  Transform = function() return lp.dynapse2.mismatch_transform(lp.nn.Linear({ 2, 3 }), { seed = 1 }) end,
  Dynapse2Config = function()
    local D = require "limpet.dynapse2.config"
    local q = { n_neuron = 2, n_cluster = 1, core_map = { 1, 1 }, Iscale = 1e-8, dt = 1e-3 }
    for _, k in ipairs(require("limpet.dynapse2.mapper").CURRENTS) do q[k] = lp.full({ 1 }, 1e-10, "float64") end
    for k = 0, 3 do q["Iw_" .. k] = lp.full({ 1 }, (1 << k) * 1e-9, "float64") end
    q.weights_in = lp.ones({ 2, 2 }, "int32")
    q.sign_in = lp.ones({ 2, 2 }, "int32")
    return D.from_specification(q)
  end,
  DiskCache = function()
    return lp.data.DiskCache { dataset = lp.data.NMNIST { root = FX .. "nmnist" }, path = scratch .. "/cache" }
  end,
}
for _, name in ipairs { "SGD", "Adam", "AdamW", "RMSprop" } do
  RECIPES[name] = function() return lp.optim[name](lp.nn.Linear({ 2, 3 }):parameters()) end
end

-- graph modules: the ones a small network's graph holds, else made on fresh nodes
local function graph_sample(C)
  local net = lp.nn.Sequential(lp.nn.Linear({ 2, 3 }), lp.nn.LIF(3, { has_rec = true }), lp.nn.Rate(3))
  local g, found = net:as_graph(), nil
  for m in lp.graph.walk(g) do
    if getmetatable(m) == C then found = m end
  end
  if getmetatable(g) == C then found = g end
  if found then return found end
  local ok, v = pcall(C.factory, C, 2, 2, "sample")
  if ok then return v end
end
local GENERIC_ARGS = {
  { 3 }, { { 2, 3 } }, { "tanh", 3 }, { { lp.zeros(2):requires_grad(true) } },
  { lp.ones(4, 2), lp.ones(4) }, {},
}

local function sample_of(C, name)
  if type(rawget(C, "from_config")) == "function" and rawget(C, "variant") then   -- a XyloSim class
    local ok, v = pcall(function()
      return C.from_config(lp.xylo.load_config(("spec/fuzz/corpus/xylo_config/%s.json"):format(C.variant)))
    end)
    if ok then return v end
  end
  if lp.graph and lp.graph.GraphModuleBase and type(C) == "table" and type(rawget(C, "super")) == "table"
     and C.factory == lp.graph.GraphModuleBase.factory then
    local v = graph_sample(C)
    if v then return v end
  end
  local r = RECIPES[name]
  if r then
    local ok, v = pcall(r)
    if ok and v ~= nil then return v end
  end
  if name == "Sequential" or name == "Residual" or name == "FFwdStack" then
    local ok, v = pcall(C, lp.nn.Linear({ 2, 3 }), lp.nn.LIF(3))
    if ok then return v end
  end
  if name == "DataLoader" then
    local ok, v = pcall(C, { dataset = RECIPES.NMNIST(), batch_size = 2 })
    if ok then return v end
  end
  for _, args in ipairs(GENERIC_ARGS) do
    local ok, v = pcall(C, table.unpack(args))
    if ok and (type(v) == "table" or type(v) == "userdata") then return v end
  end
  return nil
end

-- ---- discovery -----------------------------------------------------------------

local function is_class(t)
  local mt = getmetatable(t)
  return type(t) == "table" and type(mt) == "table" and mt.__call ~= nil
end

-- A callable module (lp.help: help(x), help.text(x)), not a class: no
-- instances, no init. Its call is swept as a function and its fields as
-- functions.
local function is_callable_module(t)
  return is_class(t) and rawget(t, "__index") == nil and rawget(t, "init") == nil and rawget(t, "new") == nil
    and rawget(t, "__name") == nil and rawget(t, "super") == nil
end

-- A class that cannot be called (an abstract base: lp.optim.Optimizer, ...):
-- its methods take an instance and are swept on the subclasses' samples.
local function is_abstract(t)
  return type(t) == "table" and not is_class(t) and (rawget(t, "__index") == t or
    (type(rawget(t, "new")) == "function" and type(rawget(t, "extend")) == "function"))
end

-- The names of limpet's Lua modules: stdlib/limpet/**.lua and devices/<chip>/*.lua.
local function modules()
  local out = {}
  local p = io.popen("cd stdlib && find limpet -name '*.lua' | sort; " ..
    "cd ../devices && for f in */*.lua; do echo \"limpet/$f\"; done")
  for line in p:lines() do
    local m = line:gsub("%.lua$", ""):gsub("/init$", ""):gsub("/", ".")
    out[#out + 1] = m
  end
  p:close()
  return out
end

-- Functions reachable from root: {path, fn, name, kind = "function"|"ctor"|"method", class}
local function discover()
  local found, seen, seenfn = {}, {}, {}
  local function add(entry)
    if excluded(entry.path) then return end
    local key = entry.kind == "method" and entry.class or entry.fn
    seenfn[key] = seenfn[key] or {}
    if seenfn[key][entry.name] then return end       -- reached twice: swept once
    seenfn[key][entry.name] = true
    found[#found + 1] = entry
  end
  -- every function of a class table and of the classes it extends
  local function class_methods(C)
    local out, c, hops = {}, C, 0
    while type(c) == "table" and hops < 8 do
      for k, v in pairs(c) do
        if type(k) == "string" and type(v) == "function" and out[k] == nil then out[k] = v end
      end
      local mt = getmetatable(c)
      c = rawget(c, "super") or (type(mt) == "table" and type(mt.__index) == "table" and mt.__index) or nil
      hops = hops + 1
    end
    return out
  end
  local function walk(t, path, depth)
    if seen[t] or depth > 4 then return end
    seen[t] = true
    local keys = {}
    for k in pairs(t) do if type(k) == "string" then keys[#keys + 1] = k end end
    table.sort(keys)
    for _, k in ipairs(keys) do
      local v = rawget(t, k)
      local p = path .. "." .. k
      if k:sub(1, 1) == "_" or k == "super" then
        -- private
      elseif is_callable_module(v) then
        add { path = p, fn = v, name = k, kind = "function" }
        walk(v, p, depth + 1)
      elseif is_class(v) then
        if not seen[v] then
          seen[v] = true
          add { path = p, fn = v, name = k, kind = "ctor", class = v }
          local ms = class_methods(v)
          local mk = {}
          for m in pairs(ms) do mk[#mk + 1] = m end
          table.sort(mk)
          for _, m in ipairs(mk) do
            if (m:sub(1, 1) ~= "_" or (m:sub(1, 2) == "__" and not SKIP_META[m])) and m ~= "new" and m ~= "extend" then
              add { path = p .. ":" .. m, fn = ms[m], name = m, kind = "method", class = v, cname = k }
            end
          end
          -- tables hanging off a class (lp.optim.schedule-like)
          for kk, vv in pairs(v) do
            if type(kk) == "string" and kk:sub(1, 1) ~= "_" and kk ~= "super" and type(vv) == "table"
               and not is_class(vv) then walk(vv, p .. "." .. kk, depth + 1) end
          end
        end
      elseif type(v) == "function" then
        add { path = p, fn = v, name = k, kind = "function" }
      elseif type(v) == "table" and v ~= lp.Tensor and not is_abstract(v) then
        walk(v, p, depth + 1)
      end
    end
  end
  -- Libraries load parts on first touch (lp.data.SHD, lp.xylo.audio2.XyloSim):
  -- every module on disk is loaded, and each name it could be published
  -- under is looked up in its library, which publishes what is public.
  for _, name in ipairs(SUBLIBS) do pcall(function() return lp[name] end) end
  for _, m in ipairs(modules()) do
    local ok, v = pcall(require, m)
    if not ok then found.broken = (found.broken or "") .. m .. ": " .. tostring(v) .. "\n" end
    local lib = m:match("^limpet%.([%w_]+)")
    local ok2, L = pcall(function() return lib and lp[lib] end)
    if ok and ok2 and type(L) == "table" then
      local names = { m:match("[^.]+$") }
      if type(v) == "table" then
        names[#names + 1] = rawget(v, "__name")
        for k in pairs(v) do names[#names + 1] = k end
      end
      for _, k in ipairs(names) do
        if type(k) == "string" then
          pcall(function() return L[k] end)
          -- and in the library's own sub-libraries (lp.xylo.imu.Quantizer)
          for _, sub in pairs(L) do
            if type(sub) == "table" and getmetatable(sub) and not is_class(sub) then
              pcall(function() return sub[k] end)
            end
          end
        end
      end
    end
  end
  for _, v in pairs { "audio2", "audio3", "imu" } do pcall(function() return lp.xylo[v].XyloSim end) end
  walk(lp, "lp", 0)
  -- tensor methods
  local mk = {}
  for k, v in pairs(lp.Tensor) do if type(v) == "function" and k:sub(1, 1) ~= "_" then mk[#mk + 1] = k end end
  table.sort(mk)
  for _, k in ipairs(mk) do
    if not excluded("lp.Tensor:" .. k) then
      found[#found + 1] = { path = "lp.Tensor:" .. k, fn = lp.Tensor[k], name = k, kind = "tensor" }
    end
  end
  return found
end

-- ---- judging -------------------------------------------------------------------

-- Messages that mean a check is missing, whatever function raised them.
local INTERNAL = {
  "attempt to index", "attempt to call", "attempt to perform arithmetic", "attempt to compare",
  "attempt to concatenate", "attempt to get length", "table index is nil", "table index is NaN",
  "invalid value (at index", "to '?'", "bad 'for'", "bad argument #%d+ to 'for iterator'",
  "C stack overflow", "stack overflow", "PANIC", "did not finish",
}
-- what an operator's metamethod is called in messages
local OPERATORS = { __add = "add", __sub = "sub", __mul = "mul", __div = "div", __idiv = "div",
  __mod = "mod", __pow = "pow", __unm = "neg", __call = "evolve", __len = "len", __tostring = "tostring",
  __newindex = "set" }

local function verdict(entry, err, key)
  if type(err) ~= "string" then return "error object is a " .. type(err) end
  if #err == 0 then return "empty message" end
  -- `obj[nil] = v` fails as it does on any table
  if entry.name == "__newindex" and (key == nil or key ~= key) and err:find("table index is", 1, true) then
    return nil
  end
  for _, p in ipairs(INTERNAL) do
    if err:find(p, 1, not p:find("%%")) then return "internal error: " .. err end
  end
  -- the size cap's refusals name the shape and the cap: clear wherever they come from
  if err:find("more than the cap of", 1, true) or err:find("shape %(.-%) is too large") then return nil end
  local names = { entry.name, OPERATORS[entry.name] }
  if entry.cname then names[#names + 1] = entry.cname end
  if entry.class then
    local n = rawget(entry.class, "__name")
    if type(n) == "string" then names[#names + 1] = n end
  end
  local lower = err:lower()
  for _, n in ipairs(names) do
    local short = n:gsub("^.*%.", ""):lower()
    if lower:find(short, 1, true) then return nil end
  end
  return "does not name '" .. entry.name .. "': " .. err
end

-- ---- the sweep -------------------------------------------------------------------

local LIMIT = 20000000          -- VM instructions per call before it counts as a hang

local function call(fn, ...)
  local count = 0
  debug.sethook(function()
    count = count + 1
    if count * 100000 > LIMIT then
      debug.sethook()
      error("sweep: call did not finish", 2)
    end
  end, "", 100000)
  local r = table.pack(pcall(fn, ...))
  debug.sethook()
  return r[1], r[2]
end

local function restore(cap)
  lp.config { max_bytes = cap, fail_alloc_after = 0 }
  lp.set_grad_enabled(true)
end

local function listing(dir)
  local names, p = {}, io.popen("ls -A '" .. dir .. "' 2>/dev/null")
  for line in p:lines() do names[#names + 1] = line end
  p:close()
  return table.concat(names, "\n")
end

describe("hostile arguments to every public function", function()
  it("end in a correct result or an error naming the function", function()
    local clock0 = os.clock()
    local cwd_before = listing(".")
    local cap = lp.config().max_bytes
    local entries = discover()
    -- set: Lua patterns separated by commas; only the paths one of them finds are swept
    local only = os.getenv("LIMPET_SWEEP_ONLY")
    if only then
      local kept = {}
      for _, e in ipairs(entries) do
        for pat in only:gmatch("[^,]+") do
          if e.path:find(pat) then kept[#kept + 1] = e; break end
        end
      end
      entries = kept
    end
    assert.is_nil(entries.broken)            -- every module loads
    local calls, failures, seenfail, unsampled = 0, {}, {}, {}
    local H = hostile_values()
    lp.config { max_bytes = 64 << 20 }
    -- FashionMNIST's default folder is the fixture's while sweeping: the
    -- calls whose arguments fall back to the defaults then parse the
    -- small fixture instead of Debian's 60,000 images (seconds per call)
    local FM = lp.data.FashionMNIST
    local fm_root = FM.default_root
    FM.default_root = FX .. "fmnist"
    -- what the swept functions print goes nowhere
    local stdout, print_ = io.stdout, print
    io.stdout = assert(io.open("/dev/null", "w"))
    _G.print = function() end
    local trace = os.getenv("LIMPET_SWEEP_TRACE")   -- set: one line per function, with its time
    for _, e in ipairs(entries) do
      if trace then io.stderr:write("start " .. e.path .. "\n") end
      local t0 = os.clock()
      local function try(...)
        local ok, err
        if e.kind == "method" then
          local obj = sample_of(e.class, e.cname)
          if obj == nil then unsampled[e.path:match("^[^:]+")] = true; return end
          ok, err = call(e.fn, obj, ...)
        elseif e.kind == "tensor" then
          ok, err = call(e.fn, lp.arange(6):reshape(2, 3):astype("float32"), ...)
        else
          ok, err = call(e.fn, ...)
        end
        calls = calls + 1
        restore(64 << 20)
        if not ok then
          local bad = verdict(e, err, (...))
          if bad and not seenfail[e.path] then
            seenfail[e.path] = true
            failures[#failures + 1] = e.path .. ": " .. bad
          end
        end
      end
      try()
      for i = 1, H.n do try(H[i]) end
      for _, i in ipairs(PAIR_FIRST) do
        for _, j in ipairs(PAIR_SECOND) do try(H[i], H[j]) end
      end
      local t = lp.ones(2, 3)
      for i = 1, H.n, 2 do try(t, H[i]) end
      if trace then io.stderr:write(("%8.3f s  %s\n"):format(os.clock() - t0, e.path)) end
    end
    restore(cap)
    FM.default_root = fm_root
    io.stdout:close()
    io.stdout, _G.print = stdout, print_
    collectgarbage(); collectgarbage()
    os.execute("rm -rf '" .. scratch .. "'")
    table.sort(failures)
    assert.are.same({}, failures)
    -- classes whose methods were not called, for want of a sample instance
    local missing = {}
    for c in pairs(unsampled) do if not excluded(c .. ":*") then missing[#missing + 1] = c end end
    table.sort(missing)
    assert.are.same({}, missing)
    if os.getenv("LIMPET_SWEEP_TRACE") then
      io.stderr:write(("swept %d functions, %d calls, %.1f s CPU\n"):format(#entries, calls, os.clock() - clock0))
    end
    if not only then assert.is_true(calls > 10000, "only " .. calls .. " calls") end
    assert.are.equal(cwd_before, listing("."))
  end)

  it("leave a usable engine behind", function()
    local t = lp.arange(6):reshape(2, 3)
    assert.are.equal(15, t:sum():item())
    assert.are.same({ 3 }, lp.nn.LIF(3)(lp.ones(1, 2, 3)).shape and { 3 })
  end)
end)
