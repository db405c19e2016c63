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
    local function bad(msg, level)
      h:close()
      error(("%s: '%s' %s"):format(name, path, msg), level + 1)
    end
    local function need(obj, kind)
      local info = h:info(obj)
      if not info or info.kind ~= kind then
        bad(("is not in the SHD layout (%s)"):format(
          info and ("'%s' is %s, expected %s"):format(obj, info.kind, kind) or ("no '" .. obj .. "'")), 5)
      end
      if #info.shape ~= 1 then
        bad(("is not in the SHD layout ('%s' has %d dims, expected 1)"):format(obj, #info.shape), 5)
      end
      return info
    end
    local li = need("labels", "numeric")
    local ti = need("spikes/times", "vlen")
    local ui = need("spikes/units", "vlen")
    local n = li.shape[1]
    if ti.shape[1] ~= n or ui.shape[1] ~= n then
      bad(("has %d labels but %d spike-time and %d unit rows"):format(n, ti.shape[1], ui.shape[1]), 4)
    end
    local ok, labels = pcall(h.read, h, "labels")
    if not ok then bad(("cannot read 'labels' (%s)"):format(tostring(labels)), 4) end
    if labels.dtype == "float32" or labels.dtype == "float64" then
      if n > 0 and labels:ne(labels:floor()):sum():item() > 0 then bad("holds a label that is not an integer", 4) end
    end
    labels = labels:astype("int64")
    if n > 0 then
      local lo, hi = labels:min():item(), labels:max():item()
      if lo < 0 or hi >= nclasses then
        bad(("holds label %d (0..%d expected)"):format(lo < 0 and lo or hi, nclasses - 1), 4)
      end
    end
    self.labels = labels + 1
    local si = h:info("extra/speaker")
    if si and si.kind == "numeric" then
      local sok, sp = pcall(h.read, h, "extra/speaker")
      if not sok then bad(("cannot read 'extra/speaker' (%s)"):format(tostring(sp)), 4) end
      self.speakers = sp
    end
    local keys = h:info("extra/keys")
    if keys and keys.kind == "string" then
      local kok, kv = pcall(h.read, h, "extra/keys")
      if not kok then bad(("cannot read 'extra/keys' (%s)"):format(tostring(kv)), 4) end
      self.classes = kv
    end
    self.h, self.path, self.n = h, path, n
    self.num_channels, self.num_classes = CHANNELS, nclasses
  end

  function C:_get(i)
    if not self.h then error(("%s: the data set was closed"):format(name), 3) end
    local function bad(msg) error(("%s: '%s' sample %d %s"):format(name, self.path, i, msg), 4) end
    local ok, t = pcall(self.h.read, self.h, "spikes/times", i)
    if not ok then bad(("cannot be read (%s)"):format(tostring(t))) end
    local ok2, x = pcall(self.h.read, self.h, "spikes/units", i)
    if not ok2 then bad(("cannot be read (%s)"):format(tostring(x))) end
    if t:numel() ~= x:numel() then
      bad(("has %d spike times but %d units"):format(t:numel(), x:numel()))
    end
    t = t:astype("float64")
    if t:numel() > 0 then
      -- a NaN or infinite time would silently fall out of every bin (ToFrame, raster)
      local nonfinite = t:isnan():logical_or(t:isinf())
      if nonfinite:sum():item() > 0 then
        local k = nonfinite:astype("int8"):argmax():item()
        bad(("has spike time %s at event %d (times must be finite)"):format(tostring(t[k]), k))
      end
    end
    x = x:astype("int64")
    if x:numel() > 0 then
      local lo, hi = x:min():item(), x:max():item()
      if lo < 0 or hi >= CHANNELS then
        bad(("has unit %d (0..%d expected)"):format(lo < 0 and lo or hi, CHANNELS - 1))
      end
    end
    local label = self.labels[i]
    local meta = { index = i }
    if self.speakers and self.speakers:dim() == 1 and i <= self.speakers.shape[1] then meta.speaker = self.speakers[i] end
    if self.classes then meta.class_name = self.classes[label] end
    return { t = t, x = x:astype("int32") + 1 }, label, meta
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
