-- stdlib/limpet/nir/read.lua -- NIR files (HDF5) -> graph descriptions.
-- Owns: walking the `/node` group of every NIR layout in the wild (0.1.x,
-- 0.2.0, 1.0.x, HEAD with gzip'd datasets: libhdf5 inflates them), the
-- legacy defaults (missing v_reset -> zeros like v_threshold, missing w_in
-- -> ones, missing metadata -> {}), field type checks naming node and field.
-- Not here: HDF5 itself (core/src/h5.c through core.h5_open), running the
-- graph (nir/graph.lua), writing (nir/write.lua).
-- Description: a node is {type =, fields = {name -> tensor | string |
-- table}, metadata = {}}; an NIRGraph node also has nodes = {name -> node},
-- edges = {{src, dst}, ...} (file order), names = sorted node names.
local lp = require "limpet"
local core = require "limpet.core"

local R = {}

-- Fields each node type must have (numeric), and the optional ones.
R.REQUIRED = {
  Input = { "shape" }, Output = { "shape" },
  Affine = { "weight", "bias" }, Linear = { "weight" }, Scale = { "scale" },
  Threshold = { "threshold" }, Delay = { "delay" },
  I = { "r" }, IF = { "r", "v_threshold" }, LI = { "tau", "r", "v_leak" },
  LIF = { "tau", "r", "v_leak", "v_threshold" },
  CubaLI = { "tau_syn", "tau_mem", "r", "v_leak" },
  CubaLIF = { "tau_syn", "tau_mem", "r", "v_leak", "v_threshold" },
  Conv1d = { "weight" }, Conv2d = { "weight" },
  SumPool2d = { "kernel_size", "stride", "padding" },
  AvgPool2d = { "kernel_size", "stride", "padding" },
  Flatten = {},
  NIRGraph = {},
}

-- the public function reading (nir.load or nir.read), for the messages
local FNAME = "nir.load"

local function fail(path, where, msg)
  error(("%s: '%s': %s: %s"):format(FNAME, path, where, msg), 0)
end

-- Groups nest at most this deep (HDF5 links can make a group its own member).
local MAX_DEPTH = 64

-- Read one dataset or group (recursively) into Lua values.
local function read_any(h, p, path, depth)
  depth = (depth or 0) + 1
  if depth > MAX_DEPTH then fail(path, "'" .. p .. "'", ("groups nested deeper than %d levels"):format(MAX_DEPTH)) end
  local info = h:info(p)
  if not info then fail(path, "'" .. p .. "'", "is listed but cannot be opened (a broken link?)") end
  if info.kind == "group" then
    local out = {}
    for _, n in ipairs(h:list(p)) do out[n] = read_any(h, p .. "/" .. n, path, depth) end
    return out
  elseif info.kind == "numeric" or info.kind == "string" then
    local ok, v = pcall(h.read, h, p)
    if not ok then fail(path, "'" .. p .. "'", (tostring(v):gsub("^%?: ", ""))) end
    return v
  end
  fail(path, "'" .. p .. "'", ("unsupported HDF5 object of kind %s"):format(info.kind))
end

local function where_of(gpath, name)
  if gpath == nil then return "top-level graph" end
  return ("node '%s'"):format(gpath == "" and name or gpath .. "/" .. name)
end

-- string-or-tensor check for the 'type' dataset etc.
local function as_string(v, path, where, field)
  if type(v) ~= "string" then fail(path, where, ("field '%s' must be a string"):format(field)) end
  return v
end

local function read_node(h, grp, path, gpath, name, depth)
  local where = where_of(gpath, name)
  depth = (depth or 0) + 1
  if depth > MAX_DEPTH then fail(path, where, ("graphs nested deeper than %d levels"):format(MAX_DEPTH)) end
  local info = h:info(grp)
  if not info or info.kind ~= "group" then fail(path, where, "is not an HDF5 group") end
  local members = h:list(grp)
  local has = {}
  for _, m in ipairs(members) do has[m] = true end
  if not has.type then fail(path, where, "has no 'type' dataset") end
  local ty = as_string(read_any(h, grp .. "/type", path), path, where, "type")
  if not R.REQUIRED[ty] then
    fail(path, where, ("unknown node type '%s'"):format(ty))
  end
  local node = { type = ty, name = name, fields = {}, metadata = {} }
  if ty == "NIRGraph" then
    local sub = gpath == nil and "" or gpath == "" and name or gpath .. "/" .. name
    if not has.nodes then fail(path, where, "NIRGraph without a 'nodes' group") end
    node.nodes, node.names = {}, h:list(grp .. "/nodes")
    for _, n in ipairs(node.names) do
      node.nodes[n] = read_node(h, grp .. "/nodes/" .. n, path, sub, n, depth)
    end
    node.edges = {}
    if has.edges then
      local e = read_any(h, grp .. "/edges", path)
      local ei = h:info(grp .. "/edges")
      if type(e) ~= "table" or (#e > 0 and (not ei or not ei.shape or #ei.shape ~= 2 or ei.shape[2] ~= 2)) then
        fail(path, where, "'edges' must be an (n, 2) dataset of strings")
      end
      for i = 1, #e, 2 do node.edges[#node.edges + 1] = { e[i], e[i + 1] } end
    end
  end
  for _, m in ipairs(members) do
    if m == "metadata" then
      node.metadata = read_any(h, grp .. "/metadata", path)
      if type(node.metadata) ~= "table" then node.metadata = { value = node.metadata } end
    elseif m ~= "type" and m ~= "nodes" and m ~= "edges" then
      node.fields[m] = read_any(h, grp .. "/" .. m, path)
    end
  end
  local f = node.fields
  for _, req in ipairs(R.REQUIRED[ty]) do
    local v = f[req]
    if v == nil then fail(path, where, ("%s without field '%s'"):format(ty, req)) end
    if not lp.is_tensor(v) then
      fail(path, where, ("field '%s' must be numeric, got %s"):format(req, type(v)))
    end
    if ty ~= "Input" and ty ~= "Output" and not (ty:match "Pool") and req ~= "shape"
      and v.dtype ~= "float32" and v.dtype ~= "float64" and not (ty == "Delay") then
      fail(path, where, ("field '%s' must be floating point, got %s"):format(req, v.dtype))
    end
  end
  -- legacy defaults (NIR < 1.0.6 has no v_reset; w_in is optional)
  if (ty == "IF" or ty == "LIF" or ty == "CubaLIF") and f.v_reset == nil then
    f.v_reset = lp.zeros_like(f.v_threshold)
  end
  if (ty == "CubaLIF" or ty == "CubaLI") and f.w_in == nil then
    f.w_in = lp.ones_like(f.v_leak)
  end
  return node
end

--- R.read(path) -> description of the top-level graph, version string
-- A missing or unreadable file returns nil, message.
function R.read(path, fname)
  FNAME = fname or "nir.load"
  local okh, h, err = pcall(core.h5_open, path)
  if not okh then   -- content that is not HDF5: h5_open's message, in the caller's name
    error(("%s: %s"):format(FNAME, (tostring(h):gsub("^h5_open: ", ""))), 0)
  end
  if not h then return nil, err end
  local ok, res, ver = pcall(function()
    local version
    local vi, ni = h:info("version"), h:info("node")
    if vi and vi.kind == "string" then version = h:read("version") end
    if not ni or ni.kind ~= "group" then
      error(("%s: '%s': no '/node' group (not a NIR file)"):format(FNAME, path), 0)
    end
    local top = read_node(h, "node", path, nil, "node")
    if top.type ~= "NIRGraph" then
      -- a file holding a single node: wrap it as NIR does not (kept simple)
      error(("%s: '%s': top-level node is a %s, not an NIRGraph"):format(FNAME, path, top.type), 0)
    end
    return top, version
  end)
  h:close()
  if not ok then
    -- the HDF5 layer's own complaints (and any other) name the file too
    local e = tostring(res)
    if e:sub(1, 11) ~= "nir.load: '" then e = ("nir.load: '%s': %s"):format(path, (e:gsub("^[^\n]-:%d+: ", ""))) end
    error(e, 0)
  end
  return res, ver
end

return R
