-- stdlib/limpet/data/fashion_mnist.lua -- lp.data.FashionMNIST: the gzip'd
-- IDX files of Debian's dataset-fashion-mnist.
-- Owns: finding the four files, checking that images and labels agree,
-- samples as (28, 28) float32 in [0, 1] (or uint8 with dtype = "uint8"),
-- labels 1..10, the `encoder` option. Not here: gzip and IDX decoding
-- (core/src/gz.c via core.idx_read), encoders (encoders.lua).
--   lp.data.FashionMNIST{split = "train" | "test", root = , transform = ,
--                        encoder = , dtype = "float32" | "uint8"}
-- encoder(image, i) runs before transform (the image, then its spikes).
-- Also: ds.images (N, 28, 28) uint8, ds.labels (N) int64 in 1..10,
-- ds.classes (names), ds:tensors() -> all images float32 (N, 28, 28), labels.
local core = require "limpet.core"
require "limpet.tensor"
local data = require "limpet.data"

local FashionMNIST = data.Dataset:extend("FashionMNIST")

FashionMNIST.default_root = "/usr/share/datasets/fashion-mnist"
FashionMNIST.classes = { "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
  "Sneaker", "Bag", "Ankle boot" }

local spec = {
  split = data._one_of("train", "test"),
  root = data._string,
  transform = data._callable,
  encoder = data._callable,
  dtype = data._one_of("float32", "uint8"),
}

function FashionMNIST:init(opts)
  opts = data._options("FashionMNIST", opts, spec, 4)
  self.split = opts.split or "train"
  self.root = opts.root or FashionMNIST.default_root
  self.transform, self.encoder = opts.transform, opts.encoder
  self.dtype = opts.dtype or "float32"
  local prefix = self.split == "train" and "train" or "t10k"
  local ipath = ("%s/%s-images-idx3-ubyte.gz"):format(self.root, prefix)
  local lpath = ("%s/%s-labels-idx1-ubyte.gz"):format(self.root, prefix)
  for _, p in ipairs { ipath, lpath } do
    if not data._exists(p) then
      return nil, ("FashionMNIST: '%s' not found; install Debian's dataset-fashion-mnist " ..
        "(apt-get install dataset-fashion-mnist) or pass root = the folder holding the IDX files"):format(p)
    end
  end
  local images, err = core.idx_read(ipath)
  if not images then return nil, "FashionMNIST: " .. err end
  local labels, lerr = core.idx_read(lpath)
  if not labels then return nil, "FashionMNIST: " .. lerr end
  if images:dim() ~= 3 or images.dtype ~= "uint8" then
    error(("FashionMNIST: '%s' holds %s %s, expected uint8 images (N, H, W)"):format(
      ipath, images.dtype, table.concat(images.shape, "x")), 4)
  end
  if labels:dim() ~= 1 or labels.shape[1] ~= images.shape[1] then
    error(("FashionMNIST: '%s' holds %d labels for %d images in '%s'"):format(
      lpath, labels:dim() == 1 and labels.shape[1] or labels:numel(), images.shape[1], ipath), 4)
  end
  if labels:numel() > 0 and labels:max():item() > 9 then
    error(("FashionMNIST: '%s' holds label %d (0..9 expected)"):format(lpath, labels:max():item()), 4)
  end
  self.images = images
  self.labels = labels:astype("int64") + 1
  self.n = images.shape[1]
  self.files = { images = ipath, labels = lpath }
end

function FashionMNIST:_get(i)
  local img = self.images[i]
  if self.dtype == "float32" then img = img:astype("float32") / 255 end
  local label = self.labels[i]
  local sample = img
  if self.encoder then sample = self.encoder(img, i) end
  return sample, label, { index = i, class_name = FashionMNIST.classes[label] }
end

--- ds:tensors() -> images (N, 28, 28) float32 in [0, 1], labels (N) int64 1..10
function FashionMNIST:tensors()
  return self.images:astype("float32") / 255, self.labels
end

return FashionMNIST
