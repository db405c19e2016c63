-- devices/dynapse2/biasgen.lua -- the Dynap-SE2 bias generator: currents <->
-- (coarse, fine) codes (reference/dynapse2.md §3.2).
-- Owns: limpet's own analytic DAC model, loading an exact table from a
-- user-supplied file (never shipped), the forward conversion
-- I = table[type][coarse][fine] × scale(bias), and the inverse search.
--
-- The DAC model (ours; Rockpool's measured table is AGPL and not public in
-- a compatible form). Per transistor type and coarse value C, a
-- binary-weighted DAC with an offset:
--   I(C, 0) = I0[C]                                  (the leakage floor)
--   I(C, F) = base[C] + w[C]·low(F mod 32) + v5[C]·b5 + v6[C]·b6 + v7[C]·b7   (F >= 1)
-- with b_k bit k of F and low(a) = a: the five low bits ideally binary, the
-- three high bits with weights of their own, which gives the drops of the
-- real DAC at F = 32, 64, 96, ... (e.g. I(32) < I(31)). At coarse 0 the
-- first codes rise more slowly than the average step (the real DAC's least
-- significant bits are weaker): low(a) = a^g·31^(1-g), g > 1 the smallest
-- value that keeps I(0, 2)/I(0, 1) <= 1.33, which the public §3.4
-- assertion implies (an analog-to-digital round trip never errs by 15 %).
-- The coefficients fit the public anchor values of §3.2 (F = 0, 1, 31, 32,
-- 63, 64, 127, 128, 255 of every row of both types): I0 is the F = 0
-- anchor; v5, v6, v7 reproduce the three measured drops I(32) - I(31),
-- I(64) - I(63), I(128) - I(127) exactly; base and w are then a relative
-- least-squares fit to the other anchors (within 2.2 % of every anchor).
-- All 1536 currents of a type are distinct, so every code converts to a
-- current and back to itself.
--
-- Stated error of the model (how far its current for a code lies from the
-- measured table's, checked against every code in the oracles of
-- spec/fixtures/dynapse2/, 597 codes): at coarse 0, <= 12 % for fine < 16
-- and <= 5 % above; at coarse >= 1, <= 4 % for fine < 32 and <= 2 % for
-- fine >= 32. biasgen.model_error(coarse, fine) gives this bound. The
-- inverse of a current may then pick a neighbouring code of the one
-- Rockpool picks; the current it restores lies within
-- biasgen.export_tolerance(ours, theirs) of the current Rockpool's code
-- restores: the model error of our code plus one step of the fine DAC at
-- each of the two codes (both quantise the same target).
--
-- An exact table: biasgen.load_table(path) reads Rockpool's
-- `lookup/paramgen.py` from a user's own installation, or any JSON / Python
-- text holding {"N": {0: [256 numbers], ..., 5: [...]}, "P": {...}} (lists
-- of 6 lists also accepted); biasgen.use_table(t) makes it the one used
-- (biasgen.use_table(nil): the model again). With it, codes match
-- Rockpool's exactly.
--
--   local bg = lp.dynapse2.biasgen
--   local I = bg.digital_to_analog(coarse, fine, scale, "P")      -- A
--   local c, f = bg.analog_to_digital(I, scale, "P")
--   local c, f = bg.analog_to_param("SOIF_LEAK_N", 5e-12)         -- the bias's scale and type
--   local c, f = bg.analog_to_digital(5e-12, "SOIF_LEAK_N")       -- the same
--   local I = bg.digital_to_analog(c, f, "SOIF_LEAK_N")
--   local I = bg.param_to_analog("SOIF_LEAK_N", c, f)
local K = require "limpet.dynapse2.constants"

local B = {}

-- { I0, base, w, v5, v6, v7, gamma } per coarse 0..5 (see the header)
local MODEL = {
  N = {
    { 4.9360e-13, 4.758759e-13, 2.899580e-13, 8.954698e-12, 1.759340e-11, 3.452679e-11, 1.140 },
    { 9.3510e-13, 3.120366e-13, 2.374925e-12, 7.339267e-11, 1.439153e-10, 2.818307e-10, 1 },
    { 1.0610e-12, 1.629971e-12, 1.916046e-11, 5.888742e-10, 1.148848e-09, 2.238697e-09, 1 },
    { 1.0780e-12, 1.558736e-11, 1.559125e-10, 4.733287e-09, 9.163574e-09, 1.770015e-08, 1 },
    { 1.0800e-12, 1.630252e-10, 1.254906e-09, 3.755208e-08, 7.259416e-08, 1.411483e-07, 1 },
    { 1.0810e-12, 1.415212e-09, 9.344885e-09, 2.850914e-07, 5.663829e-07, 1.138166e-06, 1 },
  },
  P = {
    { 3.7280e-13, 3.944649e-13, 2.705212e-13, 8.354156e-12, 1.641031e-11, 3.222062e-11, 1.208 },
    { 6.5910e-13, 2.376795e-13, 2.219074e-12, 6.857129e-11, 1.344626e-10, 2.634251e-10, 1 },
    { 7.4700e-13, 1.353636e-12, 1.798428e-11, 5.526126e-10, 1.079125e-09, 2.101250e-09, 1 },
    { 7.5880e-13, 1.304169e-11, 1.471391e-10, 4.467313e-09, 8.647625e-09, 1.670625e-08, 1 },
    { 7.6030e-13, 1.393514e-10, 1.191264e-09, 3.565919e-08, 6.890838e-08, 1.338968e-07, 1 },
    { 7.6070e-13, 1.090355e-09, 9.050897e-09, 2.760778e-07, 5.484556e-07, 1.101111e-06, 1 },
  },
}

B.COARSE_MAX, B.FINE_MAX = 5, 255

-- The model as a table {N = {[0] = {[0] = I, ..., [255] = I}, ...}, P = ...}
local function model_table()
  local t = {}
  for ty, rows in pairs(MODEL) do
    t[ty] = {}
    for c = 0, 5 do
      local r = rows[c + 1]
      local row = {}
      row[0] = r[1]
      local g = r[7]
      for f = 1, 255 do
        local a = f % 32
        local low = g == 1 and a or a ^ g * 31 ^ (1 - g)
        row[f] = r[2] + r[3] * low + r[4] * ((f >> 5) & 1) + r[5] * ((f >> 6) & 1) + r[6] * ((f >> 7) & 1)
      end
      t[ty][c] = row
    end
  end
  t.source = "model"
  return t
end

B.model = model_table()
local active = B.model

--- biasgen.table() -> the table in use ({N = {[c] = {[f] = I}}, P = ..., source = "model" | path})
function B.table() return active end

--- biasgen.use_table(t) -> the previous table: t from load_table (nil: the model)
function B.use_table(t)
  local old = active
  if t ~= nil then
    if type(t) ~= "table" or type(t.N) ~= "table" or type(t.P) ~= "table" then
      error("bad argument #1 to 'use_table' (a table from biasgen.load_table expected)", 2)
    end
  end
  active = t or B.model
  return old
end

local function check_code(fname, coarse, fine)
  if math.type(coarse) ~= "integer" or coarse < 0 or coarse > 5 then
    error(("bad argument #1 to '%s' (coarse must be an integer 0..5, got %s)"):format(fname, tostring(coarse)), 3)
  end
  if math.type(fine) ~= "integer" or fine < 0 or fine > 255 then
    error(("bad argument #2 to '%s' (fine must be an integer 0..255, got %s)"):format(fname, tostring(fine)), 3)
  end
end

--- biasgen.model_error(coarse, fine) -> the model's stated relative error for that code
function B.model_error(coarse, fine)
  check_code("model_error", coarse, fine)
  if coarse == 0 then return fine < 16 and 0.12 or 0.05 end
  return fine < 32 and 0.04 or 0.02
end

--- biasgen.export_tolerance(coarse, fine[, coarse2, fine2]) -> relative
-- distance allowed between the current our code (coarse, fine) restores and
-- the current another table's code (coarse2, fine2) for the same target
-- restores: our model error plus one fine step at each code.
function B.export_tolerance(coarse, fine, coarse2, fine2)
  check_code("export_tolerance", coarse, fine)
  if coarse2 ~= nil or fine2 ~= nil then
    if math.type(coarse2) ~= "integer" or coarse2 < 0 or coarse2 > 5 then
      error(("bad argument #3 to 'export_tolerance' (coarse2 must be nil or an integer 0..5, got %s)")
        :format(tostring(coarse2)), 2)
    end
    if math.type(fine2) ~= "integer" or fine2 < 0 or fine2 > 255 then
      error(("bad argument #4 to 'export_tolerance' (fine2 must be an integer 0..255, got %s)")
        :format(tostring(fine2)), 2)
    end
  end
  local tol = B.model_error(coarse, fine) + 1 / math.max(fine, 1)
  if fine2 ~= nil then tol = tol + 1 / math.max(fine2, 1) end
  return tol
end

local function check_type(fname, argn, ty)
  ty = ty or "N"
  if ty ~= "N" and ty ~= "P" then
    error(("bad argument #%d to '%s' (transistor type must be 'N' or 'P', got %s)"):format(argn, fname, tostring(ty)), 3)
  end
  return ty
end

local bias_info

--- biasgen.digital_to_analog(coarse, fine[, scale = 1[, type = "N"[, tbl]]]) -> current (A);
-- biasgen.digital_to_analog(coarse, fine, bias_name[, tbl]): that bias's scale and type
function B.digital_to_analog(coarse, fine, scale, ty, tbl)
  check_code("digital_to_analog", coarse, fine)
  if type(scale) == "string" then
    tbl = ty
    scale, ty = bias_info("digital_to_analog", scale, 3)
  end
  ty = check_type("digital_to_analog", 4, ty)
  if scale ~= nil and (type(scale) ~= "number" or scale ~= scale) then
    error(("bad argument #3 to 'digital_to_analog' (scale must be a number or a bias name, got %s)")
      :format(type(scale)), 2)
  end
  if tbl ~= nil and (type(tbl) ~= "table" or type(tbl.N) ~= "table" or type(tbl.P) ~= "table") then
    error("bad argument #5 to 'digital_to_analog' (a table from biasgen.load_table expected)", 2)
  end
  return (tbl or active)[ty][coarse][fine] * (scale or 1)
end

--- biasgen.analog_to_digital(current[, scale = 1[, type = "N"[, tbl]]]) -> coarse, fine.
-- For each coarse value the fine value whose scaled current is nearest (the
-- first on ties), then the coarse value with the smallest error (the lowest
-- on ties): Rockpool's search.
-- biasgen.analog_to_digital(current, bias_name[, tbl]): that bias's scale and type.
function B.analog_to_digital(current, scale, ty, tbl)
  if type(current) ~= "number" or current ~= current then
    error("bad argument #1 to 'analog_to_digital' (a current in A expected)", 2)
  end
  if type(scale) == "string" then
    tbl = ty
    scale, ty = bias_info("analog_to_digital", scale, 2)
  end
  ty = check_type("analog_to_digital", 3, ty)
  scale = scale or 1
  if type(scale) ~= "number" or scale ~= scale then
    error(("bad argument #2 to 'analog_to_digital' (scale must be a number or a bias name, got %s)")
      :format(type(scale)), 2)
  end
  if tbl ~= nil and (type(tbl) ~= "table" or type(tbl.N) ~= "table" or type(tbl.P) ~= "table") then
    error("bad argument #4 to 'analog_to_digital' (a table from biasgen.load_table expected)", 2)
  end
  local t = (tbl or active)[ty]
  local best_c, best_f, best_e
  for c = 0, 5 do
    local row = t[c]
    local bf, be = 0, math.abs(row[0] * scale - current)
    for f = 1, 255 do
      local e = math.abs(row[f] * scale - current)
      if e < be then bf, be = f, e end
    end
    if best_e == nil or be < best_e then best_c, best_f, best_e = c, bf, be end
  end
  return best_c, best_f
end

function bias_info(fname, name, argn)
  local s = K.scale[name]
  if not s then
    error(("bad argument #%d to '%s' (unknown device bias '%s')"):format(argn or 1, fname, tostring(name)), 3)
  end
  return s, K.bias_type(name)
end

--- biasgen.param_to_analog(bias_name, coarse, fine[, tbl]) -> current with the bias's scale and type
function B.param_to_analog(name, coarse, fine, tbl)
  local s, ty = bias_info("param_to_analog", name)
  check_code("param_to_analog", coarse, fine)
  return (tbl or active)[ty][coarse][fine] * s
end

--- biasgen.analog_to_param(bias_name, current[, tbl]) -> coarse, fine
function B.analog_to_param(name, current, tbl)
  local s, ty = bias_info("analog_to_param", name)
  return B.analog_to_digital(current, s, ty, tbl)
end

--- biasgen.scale(bias_name) -> scale factor, type
function B.scale(name) return bias_info("scale", name) end

-- loading an exact table ----------------------------------------------------

--- biasgen.parse_table(text[, source]) -> table | nil, message. Reads the
-- numbers of {"N": {0: [...256], ..., 5: [...]}, "P": {...}} from JSON or
-- Python text (keys quoted or not; a list of six lists in place of the
-- coarse map also accepted). Every value must be a finite current >= 0 and
-- every coarse value in 0..5; the message names the first that is not.
function B.parse_table(text, source)
  if type(text) ~= "string" then return nil, "text expected" end
  local out = { N = {}, P = {} }
  local pos, n = 1, #text
  local cur_type, cur_coarse, auto_coarse = nil, nil, 0
  local depth_at_type
  local depth = 0
  local function skip_ws()
    while pos <= n do
      local ch = text:sub(pos, pos)
      if ch == "#" then                    -- Python comment
        local e = text:find("\n", pos, true)
        pos = e and e + 1 or n + 1
      elseif ch:match("%s") or ch == "," then pos = pos + 1
      else break end
    end
  end
  while pos <= n do
    skip_ws()
    if pos > n then break end
    local ch = text:sub(pos, pos)
    if ch == "{" then depth = depth + 1; pos = pos + 1
    elseif ch == "}" then
      depth = depth - 1; pos = pos + 1
      if depth_at_type and depth < depth_at_type then cur_type, depth_at_type = nil, nil end
    elseif ch == "'" or ch == '"' then
      local e = text:find(ch, pos + 1, true)
      if not e then return nil, "unterminated string" end
      local s = text:sub(pos + 1, e - 1)
      pos = e + 1
      skip_ws()
      if text:sub(pos, pos) == ":" then
        pos = pos + 1
        if s == "N" or s == "P" then cur_type, depth_at_type, auto_coarse = s, depth + 1, 0
        elseif s:match("^%d$") then cur_coarse = tonumber(s) end
      end
    elseif ch:match("%d") and not cur_coarse then
      local num, e = text:match("^(%d+)%s*:()", pos)
      if num then cur_coarse, pos = tonumber(num), e
      else pos = pos + 1 end
    elseif ch == "[" then
      pos = pos + 1
      skip_ws()
      if text:sub(pos, pos) == "[" then
        -- a list of lists: coarse values in order
        cur_coarse = nil
      else
        local close = text:find("]", pos, true)
        if not close then return nil, "unterminated list" end
        local vals = {}
        for num in text:sub(pos, close - 1):gmatch("[^,%s]+") do
          local v = tonumber(num)
          if not v then return nil, ("not a number in a list: '%s'"):format(num) end
          vals[#vals + 1] = v
        end
        pos = close + 1
        if cur_type and #vals == 256 then
          local c = cur_coarse or auto_coarse
          if c > 5 then return nil, ("type %s: coarse %d outside 0..5"):format(cur_type, c) end
          local row = {}
          for f = 0, 255 do
            local v = vals[f + 1]
            if not (v >= 0 and v < math.huge) then
              return nil, ("type %s, coarse %d, fine %d: %s is not a current (a finite number >= 0)"):format(
                cur_type, c, f, tostring(v))
            end
            row[f] = v
          end
          out[cur_type][c] = row
          auto_coarse = c + 1
          cur_coarse = nil
        end
      end
    else
      pos = pos + 1
    end
  end
  for _, ty in ipairs { "N", "P" } do
    for c = 0, 5 do
      if not out[ty][c] then
        return nil, ("no 256 values for type %s, coarse %d"):format(ty, c)
      end
    end
  end
  out.source = source or "text"
  return out
end

--- biasgen.load_table(path) -> table | nil, message (see parse_table); the
-- table is not put in use: biasgen.use_table(t) does that.
function B.load_table(path)
  if type(path) ~= "string" then
    error(("bad argument #1 to 'load_table' (a file path expected, got %s)"):format(type(path)), 2)
  end
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local text = f:read("a")
  f:close()
  local t, msg = B.parse_table(text, path)
  if not t then return nil, ("%s: %s"):format(path, msg) end
  return t
end

return B
