-- stdlib/limpet/data/dvs_gesture.lua -- lp.data.DVSGesture: IBM's DVS128
-- Gesture set in Tonic's preprocessed layout:
-- <root>/ibmGestureTrain/userNN_<lighting>/<label>.npy (and ibmGestureTest),
-- each an (N, 4) integer array with columns x, y, p, t (t in milliseconds),
-- label 0..10 in the file name.
-- Owns: indexing (folders sorted, then labels in numeric order), samples
-- {t = seconds float64, x = 1..128, y = 1..128 (int16), p = 1 (OFF) | 2 (ON)
-- (int8)}, label 1..11, meta {index, user, lighting, path}, range checks.
-- Not here: .npy decoding (core/src/npy.c through core.load).
--   lp.data.DVSGesture{split = "train" | "test", root = , transform = }
-- root defaults to $LIMPET_DATA/DVSGesture or data/DVSGesture.
local core = require "limpet.core"
require "limpet.tensor"
local data = require "limpet.data"

local DVSGesture = data.Dataset:extend("DVSGesture")
DVSGesture.sensor_size = { 128, 128, 2 }
DVSGesture.classes = { "Hand clapping", "Right hand wave", "Left hand wave", "Right arm cw",
  "Right arm ccw", "Left arm cw", "Left arm ccw", "Arm roll", "Air drums", "Air guitar", "Other gestures" }

local spec = {
  split = data._one_of("train", "test"),
  root = data._string,
  transform = data._callable,
}

function DVSGesture:init(opts)
  opts = data._options("DVSGesture", opts, spec, 4)
  self.split = opts.split or "train"
  self.root = opts.root or data._root("DVSGesture")
  self.transform = opts.transform
  local dir = ("%s/%s"):format(self.root, self.split == "train" and "ibmGestureTrain" or "ibmGestureTest")
  local folders = core.listdir(dir)
  if not folders then
    return nil, ("DVSGesture: '%s' not found; download Tonic's preprocessed ibmGestureTrain.tar.gz and " ..
      "ibmGestureTest.tar.gz (figshare, as tonic.datasets.DVSGesture does) and unpack them in root = '%s'"):format(
      dir, self.root)
  end
  local items = {}
  for _, folder in ipairs(folders) do
    local user, lighting = folder:match("^user(%d+)_(.+)$")
    if user then
      local names = core.listdir(dir .. "/" .. folder) or {}
      local here = {}
      for _, f in ipairs(names) do
        local lab = f:match("^(%d+)%.npy$")
        if lab and tonumber(lab) <= 10 then
          here[#here + 1] = { path = dir .. "/" .. folder .. "/" .. f, label = tonumber(lab) + 1,
            user = tonumber(user), lighting = lighting }
        end
      end
      table.sort(here, function(a, b) return a.label < b.label end)
      for _, it in ipairs(here) do items[#items + 1] = it end
    end
  end
  self.items, self.n = items, #items
end

function DVSGesture:_get(i)
  local it = self.items[i]
  local ok, a, err = pcall(core.load, it.path)
  if not ok then    -- malformed content (a format error naming the file and the offset)
    error("DVSGesture: " .. tostring(a):gsub("^[^\n]-:%d+: ", ""):gsub("^load: ", ""), 3)
  end
  if not a then error("DVSGesture: " .. err, 3) end
  if not core.is_tensor(a) then
    error(("DVSGesture: '%s' holds an archive, expected one (N, 4) array"):format(it.path), 3)
  end
  if a:dim() ~= 2 or a.shape[2] ~= 4 then
    error(("DVSGesture: '%s' holds an array of shape (%s), expected (N, 4) with columns x, y, p, t"):format(
      it.path, table.concat(a.shape, ", ")), 3)
  end
  if (a.dtype == "float32" or a.dtype == "float64") and a:numel() > 0 then
    -- NaN passes every range check and a NaN or infinite time falls out of every bin
    local bad = a:isnan():logical_or(a:isinf()):reshape(-1)
    if bad:sum():item() > 0 then
      local k = bad:astype("int8"):argmax():item()
      local names = { "x", "y", "p", "t" }
      error(("DVSGesture: '%s' has %s = %s at event %d (values must be finite)"):format(it.path,
        names[(k - 1) % 4 + 1], tostring(a:reshape(-1)[k]), (k - 1) // 4 + 1), 3)
    end
  end
  local cols = { x = 1, y = 2, p = 3 }
  local limits = { x = 127, y = 127, p = 1 }
  local s = {}
  for name, c in pairs(cols) do
    local v = a:slice(2, c, c):reshape(-1)
    if v:numel() > 0 then
      local lo, hi = v:min():item(), v:max():item()
      if lo < 0 or hi > limits[name] then
        error(("DVSGesture: '%s' has %s = %s (0..%d expected)"):format(it.path, name,
          tostring(lo < 0 and lo or hi), limits[name]), 3)
      end
    end
    s[name] = v:astype(name == "p" and "int8" or "int16") + 1
  end
  s.t = a:slice(2, 4, 4):reshape(-1):astype("float64") / 1000
  return s, it.label, { index = i, user = it.user, lighting = it.lighting, path = it.path }
end

return DVSGesture
