-- stdlib/limpet/data/nmnist.lua -- lp.data.NMNIST: Neuromorphic MNIST in its
-- original binary layout, <root>/Train/<digit>/<id>.bin and <root>/Test/...
-- Owns: indexing the folders (sorted by digit, then file name), samples
-- {t = seconds float64, x = 1..34, y = 1..34 (int16), p = 1 (OFF) | 2 (ON)
-- (int8)}, label = digit + 1, meta {index, path}, first_saccade_only.
-- Not here: the 5-byte record decoding (core/src/gz.c, core.nmnist_read).
--   lp.data.NMNIST{split = "train" | "test", root = , transform = ,
--                  first_saccade_only = false}
-- root defaults to $LIMPET_DATA/NMNIST or data/NMNIST. A record outside the
-- 34 x 34 sensor or a truncated file raises naming the file and offset.
local core = require "limpet.core"
require "limpet.tensor"
local data = require "limpet.data"

local NMNIST = data.Dataset:extend("NMNIST")
NMNIST.sensor_size = { 34, 34, 2 }
NMNIST.classes = { "0", "1", "2", "3", "4", "5", "6", "7", "8", "9" }

local spec = {
  split = data._one_of("train", "test"),
  root = data._string,
  transform = data._callable,
  first_saccade_only = data._boolean,
}

function NMNIST:init(opts)
  opts = data._options("NMNIST", opts, spec, 4)
  self.split = opts.split or "train"
  self.root = opts.root or data._root("NMNIST")
  self.transform = opts.transform
  self.first_saccade_only = opts.first_saccade_only == true
  local dir = ("%s/%s"):format(self.root, self.split == "train" and "Train" or "Test")
  local digits = core.listdir(dir)
  if not digits then
    return nil, ("NMNIST: '%s' not found; download N-MNIST's train.zip and test.zip " ..
      "(Orchard et al. 2015, https://www.garrickorchard.com/datasets/n-mnist) and unzip them in root = '%s' " ..
      "(Train/<digit>/<id>.bin, Test/...)"):format(dir, self.root)
  end
  local files, labels = {}, {}
  for _, d in ipairs(digits) do
    if d:match("^%d$") then
      local names = core.listdir(dir .. "/" .. d) or {}
      for _, f in ipairs(names) do
        if f:sub(-4) == ".bin" then
          files[#files + 1] = dir .. "/" .. d .. "/" .. f
          labels[#labels + 1] = tonumber(d) + 1
        end
      end
    end
  end
  self.files, self.labels, self.n = files, labels, #files
end

function NMNIST:_get(i)
  local path = self.files[i]
  local ok, t, x, y, p = pcall(core.nmnist_read, path, { width = 34, height = 34 })
  if not ok then    -- malformed content (a format error naming the file and the offset)
    error(("NMNIST: %s"):format(tostring(t):gsub("^[^\n]-:%d+: ", ""):gsub("^nmnist_read: ", "")), 3)
  end
  if not t then error(("NMNIST: %s"):format(x), 3) end
  local s = { t = t, x = x, y = y, p = p }
  if self.first_saccade_only then
    local keep = t:lt(0.1)
    for k, v in pairs(s) do s[k] = v[keep] end
  end
  return s, self.labels[i], { index = i, path = path }
end

return NMNIST
