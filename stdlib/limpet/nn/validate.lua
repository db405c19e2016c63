-- stdlib/limpet/nn/validate.lua -- the valid ranges of module parameters and
-- the one check that enforces them.
-- Owns: the range of each attribute (from its declaration: `range =`, else
-- its family: "taus" > 0, "decays" in [0, 1], "bitshifts" >= 0; every other
-- parameter or tensor simulation parameter: finite), the check of one value
-- and of a module (own attributes, or the whole tree), and the wording of
-- the errors. Module construction, set_attributes, assignment and every
-- forward call (the built-in modules' evolve; Module.__call for the others)
-- run it; nn.load and lp.train.fit call it too. The scan itself is one C
-- pass per tensor without allocation (core.first_outside), cheap enough to
-- run on every call.
-- Not here: which family an attribute has (its module), re-parametrising
-- time constants for stable training (the hardware-aware training code).
local core = require "limpet.core"

local V = {}
local first_outside, is_tensor = core.first_outside, core.is_tensor

--- Ranges by name: {lo, hi, lo_open, text}.
V.RANGES = {
  positive = { 0, math.huge, true, "> 0" },
  unit = { 0, 1, false, "in [0, 1]" },
  nonnegative = { 0, math.huge, false, ">= 0" },
  finite = { -math.huge, math.huge, false, "finite" },
}

--- The range a family implies (families not listed: finite).
V.FAMILY_RANGES = { taus = "positive", decays = "unit", bitshifts = "nonnegative" }

--- V.range_for(kind, family[, declared]) -> range name or false (no check).
-- States are never checked (they are results, not settings).
function V.range_for(kind, family, declared)
  if kind == "state" then return false end
  if declared ~= nil then return declared end
  return V.FAMILY_RANGES[family] or "finite"
end

local function fmt_num(x)
  if x ~= x then return "nan" end
  if x == math.huge then return "inf" end
  if x == -math.huge then return "-inf" end
  return ("%.6g"):format(x)
end

-- 1-based flat index -> "" (one element), " at element i" (1-D) or " at (i, j)".
local function where_in(t, i)
  local shape = t.shape
  if t:numel() == 1 then return "" end
  if #shape == 1 then return (" at element %d"):format(i) end
  local idx, r = {}, i - 1
  for d = #shape, 1, -1 do
    idx[d] = r % shape[d] + 1
    r = r // shape[d]
  end
  return " at (" .. table.concat(idx, ", ") .. ")"
end

--- V.problem(value, range) -> nil, or "must be > 0, got -0.002 at element 3".
-- value: a tensor (float; other dtypes pass) or a number.
function V.problem(value, range)
  local r = V.RANGES[range]
  if not r then return nil end
  if type(value) == "number" then
    local ok = value == value and value > -math.huge and value < math.huge
      and (r[3] and value > r[1] or not r[3] and value >= r[1]) and value <= r[2]
    if ok then return nil end
    return ("must be %s, got %s"):format(r[4], fmt_num(value))
  end
  if not core.is_tensor(value) then return nil end
  local i, x = first_outside(value, r[1], r[2], r[3])
  if not i then return nil end
  return ("must be %s, got %s%s"):format(r[4], fmt_num(x), where_in(value, i))
end

--- V.attribute_problem(mod, name) -> nil or the problem text of attribute `name`.
function V.attribute_problem(mod, name)
  local meta = rawget(mod, "_attrs")[name]
  if not meta or not meta.range then return nil end
  return V.problem(rawget(mod, "_values")[name], meta.range)
end

--- V.first_violation(mod[, recurse = true]) -> name path ("2_LIF.tau_mem"),
-- the module holding it, the attribute name, the problem text; nil when
-- every checked attribute is in range.
function V.first_violation(mod, recurse, prefix)
  local attrs, vals = rawget(mod, "_attrs"), rawget(mod, "_values")
  if not attrs then return nil end
  for _, n in ipairs(rawget(mod, "_order")) do
    local meta = attrs[n]
    if meta.range then
      local p = V.problem(vals[n], meta.range)
      if p then return (prefix or "") .. n, mod, n, p end
    end
  end
  if recurse ~= false then
    local mods = rawget(mod, "_mods")
    for _, n in ipairs(rawget(mod, "_mod_order")) do
      local path, m, a, p = V.first_violation(mods[n], true, (prefix or "") .. n .. ".")
      if path then return path, m, a, p end
    end
  end
  return nil
end

local function kind_word(mod, name)
  local meta = rawget(mod, "_attrs")[name]
  return meta and meta.kind == "simulation" and "simulation parameter" or "parameter"
end

--- V.message(mod, name, problem) -> "LIF '2_LIF': parameter 'tau_mem' must be > 0, got ..."
function V.message(mod, name, problem)
  return ("%s: %s '%s' %s"):format(mod.full_name, kind_word(mod, name), name, problem)
end

--- V.check(mod[, recurse = false, level = 1, suffix]): raise when an attribute
-- of mod (and of its sub-modules with recurse) is outside its range. The
-- message names the module and the attribute; `suffix` is appended.
function V.check(mod, recurse, level, suffix)
  local _, m, name, p = V.first_violation(mod, recurse or false)
  if m then error(V.message(m, name, p) .. (suffix or ""), (level or 1) + 1) end
end

--- The per-forward check of the built-in modules (own attributes): an
-- attribute that left its range since construction (an optimiser step, an
-- in-place change) is an error before any dynamics run on it. The loop is
-- the hot path (every call of every module): one C scan per checked tensor.
local FORWARD_HINT = " (was an optimiser step too large, or the value set by hand?)"
local RANGES = V.RANGES
function V.check_forward(mod, level)
  local attrs, vals, order = rawget(mod, "_attrs"), rawget(mod, "_values"), rawget(mod, "_order")
  for i = 1, #order do
    local n = order[i]
    local range = attrs[n].range
    if range then
      local v = vals[n]
      local bad
      if is_tensor(v) then
        local r = RANGES[range]
        bad = first_outside(v, r[1], r[2], r[3])
      elseif type(v) == "number" then
        bad = V.problem(v, range)
      end
      if bad then
        error(V.message(mod, n, V.problem(v, range)) .. FORWARD_HINT, (level or 1) + 1)
      end
    end
  end
end

return V
