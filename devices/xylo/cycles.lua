-- devices/xylo/cycles.lua -- the Xylo cycles model (reference/xylo.md §10;
-- Rockpool's power_cycles_model for Audio 2, Audio 3 and IMU): how many
-- SNN-core clock cycles one time step needs, and the clock frequency that
-- a network needs to run in real time.
--
-- API:
--   cycles.cycles_model(config, variant, {input =, hidden =, output =})
--     -> cycles, breakdown   (input_sp, hidden_sp, output_sp: Rockpool's names)
--   cycles.est_clock_freq(config, dt, variant[, margin = 0.2]) -> Hz
-- Units: `cycles` is core clock cycles per time step (a float: it is an
-- expectation over spiking probabilities); est_clock_freq returns Hz
-- (cycles per second) for a time step of dt seconds.
-- `config`: a table with weights_in (Nin, Nhid[, S]), weights_rec (Nhid,
-- Nhid[, S]) (optional), weights_out (N_OEN, Nout), aliases (Nhid lists,
-- 1-based ids; optional), and optionally synapse2_enable — a config from
-- limpet.xylo.config or a specification; values nested tables or tensors.
-- `variant`: "audio2" | "audio3" | "imu" (default config.variant).
-- input / hidden / output: firing probabilities per neuron and step in
-- [0, 1] (default 1, the worst case), or spike rasters (tensors or tables of
-- any shape), whose fraction of nonzero entries is used (several events in
-- one bin cost as much as one). The output probability does not enter.
--
-- Model (per time step):
--   C_in      = Nin * (p_in * N_IEN * 3.5 + 1)
--   C_hid_syn = Nhid * (F * 7 * p_hid + 3)
--   C_out_syn = N_OEN * p_hid * (1 + 8 * Nout)
--   V_hid     = 2 max(p_hid, Pt Ps) + 3 max(p_hid Pt, Pt Ps) + p_hid + max(p_hid, Pt) Ps
--   C_hid_spk = Nhid * (19 + V_hid);   C_out_spk = Nout * 12
-- F: mean over hidden neurons of their nonzero synapse-1 recurrent weights;
-- Pt = mean over neurons of how many aliases target them, Ps = fraction of
-- neurons with an alias. N_IEN: hidden neurons with a nonzero input weight;
-- N_OEN: readout rows with a nonzero weight. (Rockpool counts these from
-- the samna config's matrices; for Audio 2 §10 says N_IEN = N_OEN = Nhid,
-- but the Audio 2 tutorial's figure — 555 cycles for 2 -> 4 -> 4 (aliased,
-- recurrent) -> 2 — is only reproduced by counting, so we count for every
-- variant.) Audio 2 adds breakdown.isyn2_ops = syn2 * (1.5 p_in Nin N_IEN +
-- 5 F p_hid Nhid + Nhid): parallel operations of synapse 2, no extra cycles.
local lp = require "limpet"
local limits = require "limpet.xylo.limits"

local M = {}

local function argerror(fname, argno, msg)
  error(("bad argument #%d to '%s' (%s)"):format(argno, fname, msg), 3)
end

local function tensor_of(fname, field, v)
  if lp.is_tensor(v) then return v end
  if type(v) == "table" then
    local ok, t = pcall(lp.tensor, v, "float64")
    if ok then return t end
  end
  argerror(fname, 1, ("field '%s': expected a tensor or a nested table of numbers"):format(field))
end

-- A probability from a number or a raster.
local function prob(fname, field, v)
  if v == nil then return 1.0 end
  if type(v) == "number" then
    if not (v >= 0 and v <= 1) then
      argerror(fname, 3, ("field '%s': a probability must be in [0, 1], got %s"):format(field, tostring(v)))
    end
    return v
  end
  local t
  if lp.is_tensor(v) then t = v
  elseif type(v) == "table" then
    local ok, r = pcall(lp.tensor, v, "float64")
    if not ok then argerror(fname, 3, ("field '%s': expected a probability or a spike raster"):format(field)) end
    t = r
  else
    argerror(fname, 3, ("field '%s': expected a probability or a spike raster, got %s"):format(field, type(v)))
  end
  local n = t:numel()
  if n == 0 then return 0.0 end
  return t:ne(0):sum():item() / n
end

local function variant_of(fname, config, variant)
  variant = variant or config.variant
  if not limits.is_variant(variant) then
    argerror(fname, 2, ("unknown Xylo variant '%s'; expected audio2, audio3 or imu"):format(tostring(variant)))
  end
  return variant
end

-- The network statistics the model needs.
local function stats(fname, config)
  if type(config) ~= "table" then argerror(fname, 1, ("expected a Xylo configuration, got %s"):format(type(config))) end
  if config.weights_in == nil then argerror(fname, 1, "field 'weights_in' is required") end
  if config.weights_out == nil then argerror(fname, 1, "field 'weights_out' is required") end
  local w_in = tensor_of(fname, "weights_in", config.weights_in)
  local w_out = tensor_of(fname, "weights_out", config.weights_out)
  if (w_in:dim() ~= 2 and w_in:dim() ~= 3) then argerror(fname, 1, "field 'weights_in': expected 2 or 3 dims") end
  if w_out:dim() ~= 2 then argerror(fname, 1, "field 'weights_out': expected 2 dims") end
  local w_rec = config.weights_rec ~= nil and tensor_of(fname, "weights_rec", config.weights_rec) or nil
  if w_rec and w_rec:dim() ~= 2 and w_rec:dim() ~= 3 then
    argerror(fname, 1, "field 'weights_rec': expected 2 or 3 dims")
  end
  local nin = w_in.shape[1]
  local nhid = w_rec and w_rec.shape[1] or nil
  if not nhid then
    for _, f in ipairs { "threshold", "dash_mem", "aliases" } do
      if type(config[f]) == "table" and not lp.is_tensor(config[f]) then nhid = #config[f]; break end
      if lp.is_tensor(config[f]) then nhid = config[f]:numel(); break end
    end
  end
  nhid = nhid or math.max(w_in.shape[2], w_out.shape[1])
  local nout = w_out.shape[2]
  -- hidden neurons receiving input, readout rows in use
  local win = w_in:ne(0)
  if w_in:dim() == 3 then win = win:sum(3):ne(0) end
  local n_ien = win:sum(1):ne(0):sum():item()
  local n_oen = w_out:ne(0):sum(2):ne(0):sum():item()
  -- mean synapse-1 fan-out
  local F = 0
  local syn2 = false
  if w_rec then
    local r1 = w_rec:dim() == 3 and w_rec:slice(3, 1, 1) or w_rec
    F = r1:ne(0):sum():item() / nhid
    if w_rec:dim() == 3 and w_rec.shape[3] > 1 then syn2 = syn2 or w_rec:slice(3, 2, 2):ne(0):sum():item() > 0 end
  end
  if w_in:dim() == 3 and w_in.shape[3] > 1 then syn2 = syn2 or w_in:slice(3, 2, 2):ne(0):sum():item() > 0 end
  if config.synapse2_enable ~= nil then syn2 = config.synapse2_enable and true or false end
  -- aliases
  local Pt, Ps = 0, 0
  if type(config.aliases) == "table" then
    local tgt, nsrc, ntgt = {}, 0, 0
    for i = 1, #config.aliases do
      local a = config.aliases[i]
      if type(a) == "table" and #a > 0 then
        nsrc = nsrc + 1
        tgt[a[1]] = (tgt[a[1]] or 0) + 1
        ntgt = ntgt + 1
      end
    end
    Pt, Ps = ntgt / nhid, nsrc / nhid
  end
  return { n_in = nin, n_hidden = nhid, n_out = nout, n_ien = n_ien, n_oen = n_oen, fanout = F,
           alias_targets = Pt, alias_sources = Ps, syn2 = syn2 }
end

local function model(s, variant, p_in, p_hid)
  local Pt, Ps = s.alias_targets, s.alias_sources
  local b = {}
  b.input = s.n_in * (p_in * s.n_ien * 3.5 + 1)
  b.hidden_synapses = s.n_hidden * (s.fanout * 7 * p_hid + 3)
  b.output_synapses = s.n_oen * p_hid * (1 + 8 * s.n_out)
  local v = 2 * math.max(p_hid, Pt * Ps) + 3 * math.max(p_hid * Pt, Pt * Ps) + p_hid + math.max(p_hid, Pt) * Ps
  b.hidden_spikes = s.n_hidden * (19 + v)
  b.output_spikes = s.n_out * 12
  local cycles = b.input + b.hidden_synapses + b.output_synapses + b.hidden_spikes + b.output_spikes
  if variant == "audio2" then
    b.isyn2_ops = (s.syn2 and 1 or 0) * (1.5 * p_in * s.n_in * s.n_ien + 5 * s.fanout * p_hid * s.n_hidden + s.n_hidden)
  end
  b.cycles = cycles
  b.stats = s
  return cycles, b
end

-- Rockpool's names of the probabilities
local ALIASES = { input_sp = "input", hidden_sp = "hidden", output_sp = "output" }

--- cycles_model(config, variant, {input =, hidden =, output =}) -> cycles per step, breakdown
-- (input_sp, hidden_sp, output_sp are Rockpool's names of the same fields)
function M.cycles_model(config, variant, probs)
  local fname = "cycles_model"
  local s = stats(fname, config)
  variant = variant_of(fname, config, variant)
  if probs ~= nil and type(probs) ~= "table" then
    argerror(fname, 3, ("expected a table {input =, hidden =, output =}, got %s"):format(type(probs)))
  end
  local given = probs or {}
  probs = {}
  for k, v in pairs(given) do
    local name = ALIASES[k] or k
    if name ~= "input" and name ~= "hidden" and name ~= "output" then
      argerror(fname, 3, ("unknown field '%s'"):format(tostring(k)))
    end
    if probs[name] ~= nil then
      argerror(fname, 3, ("field '%s' is given twice (as %s and %s_sp)"):format(name, name, name))
    end
    probs[name] = v
  end
  local p_in, p_hid = prob(fname, "input", probs.input), prob(fname, "hidden", probs.hidden)
  prob(fname, "output", probs.output)
  return model(s, variant, p_in, p_hid)
end

--- est_clock_freq(config, dt, variant[, margin = 0.2]) -> Hz: worst-case cycles * (1 + margin) / dt
function M.est_clock_freq(config, dt, variant, margin)
  local fname = "est_clock_freq"
  if type(dt) ~= "number" or not (dt > 0) then
    argerror(fname, 2, ("dt must be a positive number of seconds, got %s"):format(tostring(dt)))
  end
  margin = margin == nil and 0.2 or margin
  if type(margin) ~= "number" or not (margin >= 0) then
    argerror(fname, 4, ("margin must be a non-negative number, got %s"):format(tostring(margin)))
  end
  local s = stats(fname, config)
  variant = variant_of(fname, config, variant)
  local cycles = model(s, variant, 1.0, 1.0)
  return cycles * (1 + margin) / dt
end

return M
