-- stdlib/limpet/data/shd.lua -- lp.data.SHD and lp.data.SSC: the Heidelberg
-- spiking data sets (HDF5, one file per split: shd_train.h5, ssc_valid.h5...).
-- Owns: finding `<root>/<name>_<split>.h5` (or `.h5.gz`), checking the
-- layout (/spikes/times, /spikes/units, /labels, /extra/speaker,
-- /extra/keys), and samples {t = seconds float64, x = channel 1..700 int32},
-- label 1..20 (SSC 1..35), meta {index, speaker, class_name}. The file stays
-- open (one handle per data set); spikes are read one row at a time.
-- Not here: HDF5 (core/src/h5.c through core.h5_open).
--   lp.data.SHD{split = "train" | "test", root = , transform = }
--   lp.data.SSC{split = "train" | "valid" | "test", root = , transform = }
-- root defaults to $LIMPET_DATA/SHD (SSC) or data/SHD (data/SSC).
-- Also: ds.classes (from /extra/keys), ds.num_channels = 700,
-- ds.num_classes, ds.speakers (stored ids, int tensor), ds:close().
local core = require "limpet.core"
require "limpet.tensor"
local data = require "limpet.data"

local M = {}

local CHANNELS = 700

local function make(name, file_prefix, splits, nclasses)
  local C = data.Dataset:extend(name)
  local spec = {
    split = data._one_of(table.unpack(splits)),
    root = data._string,
    transform = data._callable,
  }

  function C:init(opts)
    opts = data._options(name, opts, spec, 4)
    self.split = opts.split or "train"
    self.root = opts.root or data._root(name)
    self.transform = opts.transform
    local base = ("%s/%s_%s.h5"):format(self.root, file_prefix, self.split)
    local path = base
    if not data._exists(path) then path = base .. ".gz" end
    if not data._exists(path) then
      return nil, ("%s: '%s' not found (nor '%s.gz'); download %s_%s.h5.gz from " ..
        "https://zenkelab.org/datasets/ (the Heidelberg spiking data sets, CC BY 4.0) and " ..
        "put it in root = '%s' (gunzipped or not)"):format(name, base, base, file_prefix, self.split, self.root)
    end
    local h, err = core.h5_open(path)
    if not h then return nil, name .. ": " .. err end
    local function need(obj, kind)
      local info = h:info(obj)
      if not info or info.kind ~= kind then
        h:close()
        error(("%s: '%s' is not in the SHD layout (%s)"):format(name, path,
          info and ("'%s' is %s, expected %s"):format(obj, info.kind, kind) or ("no '" .. obj .. "'")), 5)
      end
      return info
    end
    local li = need("labels", "numeric")
    local ti = need("spikes/times", "vlen")
    local ui = need("spikes/units", "vlen")
    local n = li.shape[1] or 1
    if ti.shape[1] ~= n or ui.shape[1] ~= n then
      h:close()
      error(("%s: '%s' has %d labels but %d spike-time and %d unit rows"):format(
        name, path, n, ti.shape[1], ui.shape[1]), 4)
    end
    local labels = h:read("labels"):astype("int64")
    if n > 0 then
      local lo, hi = labels:min():item(), labels:max():item()
      if lo < 0 or hi >= nclasses then
        h:close()
        error(("%s: '%s' holds label %d (0..%d expected)"):format(name, path, lo < 0 and lo or hi, nclasses - 1), 4)
      end
    end
    self.labels = labels + 1
    if h:info("extra/speaker") then self.speakers = h:read("extra/speaker") end
    local keys = h:info("extra/keys")
    self.classes = keys and keys.kind == "string" and h:read("extra/keys") or nil
    self.h, self.path, self.n = h, path, n
    self.num_channels, self.num_classes = CHANNELS, nclasses
  end

  function C:_get(i)
    if not self.h then error(("%s: the data set was closed"):format(name), 3) end
    local t = self.h:read("spikes/times", i)
    local x = self.h:read("spikes/units", i)
    if t:numel() ~= x:numel() then
      error(("%s: '%s' sample %d has %d spike times but %d units"):format(name, self.path, i, t:numel(), x:numel()), 3)
    end
    if x:numel() > 0 and x:max():item() >= CHANNELS then
      error(("%s: '%s' sample %d has unit %d (0..%d expected)"):format(name, self.path, i, x:max():item(),
        CHANNELS - 1), 3)
    end
    local label = self.labels[i]
    local meta = { index = i }
    if self.speakers then meta.speaker = self.speakers[i] end
    if self.classes then meta.class_name = self.classes[label] end
    return { t = t:astype("float64"), x = x:astype("int32") + 1 }, label, meta
  end

  function C:close()
    if self.h then self.h:close() end
    self.h = nil
  end

  return C
end

M.SHD = make("SHD", "shd", { "train", "test" }, 20)
M.SSC = make("SSC", "ssc", { "train", "valid", "test" }, 35)

return M
