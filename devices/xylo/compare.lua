-- devices/xylo/compare.lua -- xylo.compare(float_net, sim, input): how closely a
-- deployed network (XyloSim) follows the float network it came from.
-- Owns: running both on the same input and reporting spike-count agreement per
-- neuron layer (a table, and a printable summary via tostring / report:summary()).
--
--   local report = xylo.compare(net, sim, input[, {reset = true}])
--   print(report)
--
-- input: event counts (T, Nin) or (B, T, Nin), any dtype holding non-negative integers;
-- the float network gets them as float32, the simulator as integers.
-- Layers: every neuron module of the float network (a module whose record has `spikes`),
-- in module order. The module feeding the network output is compared with the
-- simulator's output spikes; the others with its hidden spike counts (record `Spikes`),
-- at the hardware ids the mapper wrote back to the module (`hw_ids`, 1-based), or, when a
-- module carries none, at consecutive ids in module order (the Audio 2 allocation).
-- For each layer: counts per neuron summed over batch and time, then
--   float_spikes, sim_spikes   total spike counts
--   agreement                  1 - Σ|c_float - c_sim| / Σ(c_float + c_sim)  (1 when both silent)
--   correlation                Pearson correlation of the per-neuron counts (nil if constant)
--   exact                      neurons whose counts are identical
-- and for the output layer `class_agreement`: the fraction of batch rows whose argmax of
-- summed output spikes is the same in both (ties go to the lowest id).
-- Timing: XyloSim delays every hidden->hidden and hidden->output hop by one step (§3.5),
-- so counts, not spike times, are compared. reset (default true) resets both before running.
local lp = require "limpet"
local core = require "limpet.core"

local M = {}

local Report = {}
Report.__index = Report
Report.__name = "XyloCompareReport"

local function argerror(n, msg) error(("bad argument #%d to 'compare' (%s)"):format(n, msg), 3) end

-- Walk the module tree with its record: the neuron layers, in order.
local function neuron_layers(mod, rec, prefix, out)
  if type(rec) ~= "table" then return out end
  if lp.is_tensor(rec.spikes) then
    out[#out + 1] = { module = mod, name = prefix, spikes = rec.spikes }
    return out
  end
  local subs = mod.modules and mod:modules() or {}
  for _, sub in ipairs(subs) do
    local name = sub.name
    neuron_layers(sub, rec[name], prefix == "" and name or (prefix .. "." .. name), out)
  end
  return out
end

-- Per-neuron counts (N) as a Lua list of numbers from (B, T, N) spikes.
local function counts(spikes)
  return spikes:astype("float64"):sum(1):sum(1):totable()
end

local function stats(cf, cs)
  local n = #cf
  local sf, ss, diff, exact = 0, 0, 0, 0
  for i = 1, n do
    sf, ss = sf + cf[i], ss + cs[i]
    diff = diff + math.abs(cf[i] - cs[i])
    if cf[i] == cs[i] then exact = exact + 1 end
  end
  local agreement = (sf + ss) > 0 and 1 - diff / (sf + ss) or 1
  local corr
  if n > 1 then
    local mf, ms = sf / n, ss / n
    local cov, vf, vs = 0, 0, 0
    for i = 1, n do
      local a, b = cf[i] - mf, cs[i] - ms
      cov, vf, vs = cov + a * b, vf + a * a, vs + b * b
    end
    if vf > 0 and vs > 0 then corr = cov / math.sqrt(vf * vs) end
  end
  return { float_spikes = sf, sim_spikes = ss, agreement = agreement, correlation = corr, exact = exact,
           n = n, counts_float = cf, counts_sim = cs }
end

local function argmax_rows(spikes)   -- (B, T, N) -> list of B 1-based ids
  local s = spikes:astype("float64"):sum(2):totable()   -- (B, N)
  local out = {}
  for b = 1, #s do
    local best, id = -math.huge, 0
    for j = 1, #s[b] do if s[b][j] > best then best, id = s[b][j], j end end
    out[b] = id
  end
  return out
end

--- compare(float_net, sim, input[, opts]) -> report
function M.compare(net, sim, input, opts)
  if type(net) ~= "table" or type(net.evolve) ~= "function" then argerror(1, "expected a limpet module") end
  if type(sim) ~= "table" or type(sim.evolve) ~= "function" then argerror(2, "expected a XyloSim") end
  if not lp.is_tensor(input) then argerror(3, "expected a tensor of event counts") end
  if input:dim() ~= 2 and input:dim() ~= 3 then
    argerror(3, ("expected (T, Nin) or (B, T, Nin) event counts, got %d dims"):format(input:dim()))
  end
  opts = opts or {}
  if type(opts) ~= "table" then argerror(4, "expected an options table") end
  for k in pairs(opts) do
    if k ~= "reset" then argerror(4, ("unknown field '%s'"):format(tostring(k))) end
  end
  if sim.output_mode ~= nil and sim.output_mode ~= "Spike" then
    argerror(2, ("the simulator's output_mode must be 'Spike', got '%s'"):format(tostring(sim.output_mode)))
  end
  if input:dim() == 2 then input = input:reshape({ 1, input.shape[1], input.shape[2] }) end
  if opts.reset ~= false then
    net:reset_state()
    sim:reset_state()
  end

  local _, _, frec = core.no_grad(function() return net(input:astype("float32"), true) end)
  local sout, _, srec = sim(input:astype("int32"), true)

  local layers = neuron_layers(net, frec, "", {})
  if #layers == 0 then argerror(1, "the network has no spiking layers to compare") end
  local hidden_counts = counts(srec.Spikes)
  local n_hidden = #hidden_counts
  local next_id = 1
  local report = setmetatable({ layers = {}, samples = input.shape[1], steps = input.shape[2] }, Report)
  for i, layer in ipairs(layers) do
    local cf = counts(layer.spikes)
    local entry
    if i == #layers then
      local cs = counts(sout)
      if #cs ~= #cf then
        argerror(2, ("the float output layer has %d neurons, the simulator %d outputs"):format(#cf, #cs))
      end
      entry = stats(cf, cs)
      entry.kind = "output"
      local af, as = argmax_rows(layer.spikes), argmax_rows(sout)
      local same = 0
      for b = 1, #af do if af[b] == as[b] then same = same + 1 end end
      report.class_agreement = same / #af
    else
      local ids = layer.module.hw_ids or layer.module._hw_ids
      if type(ids) ~= "table" or #ids ~= #cf then
        ids = {}
        for j = 1, #cf do ids[j] = next_id + j - 1 end
      end
      local cs = {}
      for j, id in ipairs(ids) do
        if id < 1 or id > n_hidden then
          argerror(2, ("layer '%s' maps to hidden id %d, the simulator has %d"):format(layer.name, id, n_hidden))
        end
        cs[j] = hidden_counts[id]
      end
      next_id = next_id + #cf
      entry = stats(cf, cs)
      entry.kind = "hidden"
      entry.hw_ids = ids
    end
    entry.name = layer.name
    report.layers[i] = entry
  end
  return report
end

--- report:summary() -> printable table (also tostring(report))
function Report:summary()
  local lines = {
    ("float network vs XyloSim: %d sample%s x %d steps"):format(self.samples, self.samples == 1 and "" or "s", self.steps),
    ("%-24s %-6s %7s %12s %12s %9s %7s %7s"):format("layer", "kind", "neurons", "float spikes", "sim spikes",
      "agreement", "corr", "exact"),
  }
  for _, l in ipairs(self.layers) do
    lines[#lines + 1] = ("%-24s %-6s %7d %12d %12d %9.3f %7s %7d"):format(l.name, l.kind, l.n,
      l.float_spikes, l.sim_spikes, l.agreement, l.correlation and ("%.3f"):format(l.correlation) or "-", l.exact)
  end
  if self.class_agreement then
    lines[#lines + 1] = ("output argmax agreement: %.1f %%"):format(100 * self.class_agreement)
  end
  return table.concat(lines, "\n")
end
Report.__tostring = Report.summary

M.Report = Report
return M
