-- stdlib/limpet/nir/init.lua -- lp.nir: NIR (Neuromorphic Intermediate
-- Representation) graphs in and out.
-- Owns: the public entry points and their option checks:
--   lp.nir.load(path[, {dt = 1e-3, discretisation = "exact"|"euler",
--     dtype = "float32"|"float64", executor = "auto"|"step"}]) -> NIRGraph
--     module, version string ("auto": acyclic graphs run node by node over
--     the whole sequence, neurons as one fused op with BPTT, so imported
--     nets train; graphs with cycles, or "step", run step by step)
--     (dt and discretisation default to the graph metadata's `dt` and
--     `discretisation` when the file has them, as limpet's exporter writes)
--   lp.nir.read(path) -> graph description, version (no module built)
--   lp.nir.save(net, path[, {legacy = false, input_shape =}]) -> true | nil, msg
--   lp.nir.to_nn(net) -> nn.Sequential (Linear / LIF chains, for lp.xylo)
-- Not here: the file walk (nir/read.lua), the executor (nir/graph.lua),
-- the exporter (nir/write.lua).
local lp = require "limpet"
local U = require "limpet.nn.util"

local nir = {}

local LOAD_DEFAULTS = { dt = 1e-3, discretisation = "exact", dtype = "float32", executor = "auto" }

--- nir.read(path) -> description, version | nil, msg
function nir.read(path)
  if type(path) ~= "string" then U.argerror("read", 1, "string expected, got " .. type(path), 2) end
  return require("limpet.nir.read").read(path, "nir.read")
end

--- nir.load(path[, opts]) -> module (see graph.lua for the discretisation)
function nir.load(path, opts)
  if type(path) ~= "string" then U.argerror("load", 1, "string expected, got " .. type(path), 2) end
  local given = type(opts) == "table" and opts or {}
  opts = U.options("load", 2, opts, LOAD_DEFAULTS, 2)
  if type(opts.dt) ~= "number" or not (opts.dt > 0) then
    U.argerror("load", 2, "field 'dt' must be a positive number", 2)
  end
  if opts.discretisation ~= "exact" and opts.discretisation ~= "euler" then
    U.argerror("load", 2, ("field 'discretisation' must be 'exact' or 'euler', got '%s'")
      :format(tostring(opts.discretisation)), 2)
  end
  if opts.dtype ~= "float32" and opts.dtype ~= "float64" then
    U.argerror("load", 2, ("field 'dtype' must be 'float32' or 'float64', got '%s'")
      :format(tostring(opts.dtype)), 2)
  end
  if opts.executor ~= "auto" and opts.executor ~= "step" then
    U.argerror("load", 2, ("field 'executor' must be 'auto' or 'step', got '%s'"):format(tostring(opts.executor)), 2)
  end
  local desc, version = require("limpet.nir.read").read(path)
  if not desc then return nil, version end
  -- a file written by limpet says at which dt / scheme it reproduces the net
  local meta = desc.metadata or {}
  if given.dt == nil and lp.is_tensor(meta.dt) and meta.dt:numel() == 1 then opts.dt = meta.dt:item() end
  if given.discretisation == nil and (meta.discretisation == "exact" or meta.discretisation == "euler") then
    opts.discretisation = meta.discretisation
  end
  opts.path = path
  local ok, net = pcall(require("limpet.nir.graph").build, desc, opts)
  if not ok then         -- what the graph's content makes fail names the file
    local e = tostring(net)
    if not e:find("nir.load: '", 1, true) then e = ("nir.load: '%s': %s"):format(path, (e:gsub("^[^\n]-:%d+: ", ""))) end
    error(e, 0)
  end
  rawset(net, "nir_version", version)
  return net, version
end

--- nir.to_nn(net) -> nn.Sequential of Linear and LIF (nir/to_nn.lua)
function nir.to_nn(net) return require("limpet.nir.to_nn").to_nn(net) end

--- nir.save(net, path[, {legacy = false}]) -> true | nil, msg
function nir.save(net, path, opts)
  return require("limpet.nir.write").save(net, path, opts)
end

return nir
