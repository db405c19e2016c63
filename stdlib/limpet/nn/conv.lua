-- stdlib/limpet/nn/conv.lua -- convolution, pooling and flattening layers
-- for image and event networks: nn.Conv2d, nn.Conv1d, nn.SumPool2d,
-- nn.AvgPool2d, nn.Flatten. Input (B, T, C, H, W) (Conv1d: (B, T, C, N)),
-- channels first within a step as in NIR and PyTorch; every step of every
-- sample is one image of the kernel (lp.conv2d, lp.sum_pool2d: C kernels
-- with autodiff, core/src/conv.c).
-- Owns: options (PyTorch's names: stride, padding, dilation, groups;
-- has_bias as Rockpool's Linear), PyTorch's default initialisation
-- (kaiming-uniform, bound 1/sqrt(fan_in), for weight and bias), folding
-- (B, T) into the batch of the kernel and back, output-shape arithmetic.
-- Not here: the kernels (core/src/conv.c), NIR export (nir/write.lua).
local lp = require "limpet"
local Module = require "limpet.nn.module"
local U = require "limpet.nn.util"

local M = {}

local function pos_int(fname, argno, v, what, lo)
  lo = lo or 1
  if math.type(v) ~= "integer" or v < lo then
    U.argerror(fname, argno, ("%s must be an integer >= %d, got %s"):format(what, lo, tostring(v)), 4)
  end
  return v
end

-- int or {a, b} -> {a, b} (n = 2) or {a} (n = 1)
local function tuple(fname, argno, v, what, n, lo)
  if math.type(v) == "integer" then
    local t = {}
    for i = 1, n do t[i] = v end
    v = t
  end
  if type(v) ~= "table" or lp.is_tensor(v) or #v ~= n then
    U.argerror(fname, argno, ("field '%s' must be an integer or %d integers"):format(what, n), 4)
  end
  for i = 1, n do
    if math.type(v[i]) ~= "integer" or v[i] < lo then
      U.argerror(fname, argno, ("field '%s' must be >= %d"):format(what, lo), 4)
    end
  end
  return { table.unpack(v) }
end

local function fold(fname, x, nsp, self)
  if not lp.is_tensor(x) then U.argerror("evolve", 1, ("%s expects a tensor, got %s"):format(fname, type(x)), 4) end
  if x:dim() == nsp + 2 then x = x:unsqueeze(1) end
  if x:dim() ~= nsp + 3 then
    U.argerror("evolve", 1, ("%s expects input (B, T, C, %s), got %s")
      :format(self.full_name, nsp == 2 and "H, W" or "N", U.fmt_shape(x.shape)), 4)
  end
  local s = x.shape
  if self.in_channels and s[3] ~= self.in_channels then
    U.argerror("evolve", 1, ("%s expects %d input channels, got %s")
      :format(self.full_name, self.in_channels, U.fmt_shape(s)), 4)
  end
  local flat = { s[1] * s[2] }
  for i = 3, #s do flat[#flat + 1] = s[i] end
  return x:contiguous():reshape(flat), s[1], s[2]
end

local function unfold(y, B, T)
  local s = { B, T }
  for i = 2, y:dim() do s[#s + 1] = y.shape[i] end
  return y:reshape(s)
end

-- Conv2d / Conv1d ----------------------------------------------------------------
local CONV_DEFAULTS = { stride = 1, padding = 0, dilation = 1, groups = 1, has_bias = true,
  weight = U.NONE, bias = U.NONE }

local function conv_init(self, fname, nsp, cin, cout, k, opts)
  pos_int(fname, 1, cin, "in_channels")
  pos_int(fname, 2, cout, "out_channels")
  opts = U.options(fname, 4, opts, CONV_DEFAULTS, 4)
  local ks = tuple(fname, 3, k, "kernel_size", nsp, 1)
  local g = opts.groups
  if math.type(g) ~= "integer" or g < 1 or cin % g ~= 0 or cout % g ~= 0 then
    U.argerror(fname, 4, ("field 'groups' must divide in_channels %d and out_channels %d"):format(cin, cout), 4)
  end
  Module.init(self, nil)
  rawset(self, "in_channels", cin)
  rawset(self, "out_channels", cout)
  rawset(self, "kernel_size", ks)
  rawset(self, "stride", tuple(fname, 4, opts.stride, "stride", nsp, 1))
  rawset(self, "padding", tuple(fname, 4, opts.padding, "padding", nsp, 0))
  rawset(self, "dilation", tuple(fname, 4, opts.dilation, "dilation", nsp, 1))
  rawset(self, "groups", g)
  local wshape = { cout, cin // g, table.unpack(ks) }
  local fan_in = (cin // g) * U.numel(ks)
  local bound = 1 / math.sqrt(fan_in)
  local function uniform(s) return lp.rand(s) * (2 * bound) - bound end
  self:parameter("weight", opts.weight, { shape = wshape, family = "weights", init = uniform })
  if opts.has_bias or opts.bias ~= nil then
    self:parameter("bias", opts.bias, { shape = { cout }, family = "biases", init = uniform })
  end
  rawset(self, "has_bias", self.bias ~= nil)
end

local function pad2(t) return #t == 1 and { t[1], 1 } or t end
local function pad0(t) return #t == 1 and { t[1], 0 } or t end

local function conv_opts(self)
  return { stride = pad2(self.stride), padding = pad0(self.padding), dilation = pad2(self.dilation),
    groups = self.groups }
end

--- nn.Conv2d(in_channels, out_channels, kernel_size, {stride = 1, padding = 0,
--   dilation = 1, groups = 1, has_bias = true, weight =, bias =}); weight (O, C/groups, KH, KW)
local Conv2d = Module:extend("Conv2d")
M.Conv2d = Conv2d
function Conv2d:init(cin, cout, k, opts) conv_init(self, "Conv2d", 2, cin, cout, k, opts) end

function Conv2d:evolve(x, record)
  local xf, B, T = fold("Conv2d", x, 2, self)
  local y = lp.conv2d(xf, self.weight, self.bias, conv_opts(self))
  return unfold(y, B, T), {}, {}
end

--- nn.Conv1d(in_channels, out_channels, kernel_size, {...}); input (B, T, C, N)
local Conv1d = Module:extend("Conv1d")
M.Conv1d = Conv1d
function Conv1d:init(cin, cout, k, opts) conv_init(self, "Conv1d", 1, cin, cout, k, opts) end

function Conv1d:evolve(x, record)
  local xf, B, T = fold("Conv1d", x, 1, self)
  local y = lp.conv2d(xf:unsqueeze(4), self.weight:unsqueeze(4), self.bias, conv_opts(self))
  return unfold(y:squeeze(4), B, T), {}, {}
end

--- out_shape of a conv for an input (C, H, W) / (C, N)
-- output_shape_for's argument: a per-sample shape {C, d1, ...} of positive
-- integers, with n entries when n is given
local function sample_shape(s, n)
  if type(s) ~= "table" or lp.is_tensor(s) then
    U.argerror("output_shape_for", 1, "a shape table expected, got " .. (lp.is_tensor(s) and "tensor" or type(s)), 3)
  end
  if n and #s ~= n then U.argerror("output_shape_for", 1, ("a shape of %d entries expected, got %d"):format(n, #s), 3) end
  if #s == 0 or #s > 8 then U.argerror("output_shape_for", 1, "a shape of 1 to 8 entries expected", 3) end
  for i = 1, #s do
    if math.type(s[i]) ~= "integer" or s[i] < 1 or s[i] > (1 << 40) then
      U.argerror("output_shape_for", 1, ("shape entry %d must be a positive integer, got %s"):format(i, tostring(s[i])), 3)
    end
  end
end
local function positive_out(out)
  for i = 2, #out do
    if out[i] < 1 then
      U.argerror("output_shape_for", 1, "the input is smaller than the kernel (an empty output)", 3)
    end
  end
  return out
end

function Conv2d:output_shape_for(s)
  sample_shape(s, 1 + #self.kernel_size)
  local out = { self.out_channels }
  for i = 1, #self.kernel_size do
    out[i + 1] = (s[i + 1] + 2 * self.padding[i] - self.dilation[i] * (self.kernel_size[i] - 1) - 1)
      // self.stride[i] + 1
  end
  return positive_out(out)
end
Conv1d.output_shape_for = Conv2d.output_shape_for

-- pooling -------------------------------------------------------------------------
local POOL_DEFAULTS = { stride = U.NONE, padding = 0 }

local function pool_init(self, fname, k, opts)
  opts = U.options(fname, 2, opts, POOL_DEFAULTS, 4)
  Module.init(self, nil)
  local ks = tuple(fname, 1, k, "kernel_size", 2, 1)
  rawset(self, "kernel_size", ks)
  rawset(self, "stride", opts.stride ~= nil and tuple(fname, 2, opts.stride, "stride", 2, 1) or ks)
  local p = tuple(fname, 2, opts.padding, "padding", 2, 0)
  if 2 * p[1] > ks[1] or 2 * p[2] > ks[2] then
    U.argerror(fname, 2, "field 'padding' must be at most half the kernel", 4)
  end
  rawset(self, "padding", p)
end

--- nn.SumPool2d(kernel_size, {stride = kernel_size, padding = 0}): window sums
local SumPool2d = Module:extend("SumPool2d")
M.SumPool2d = SumPool2d
function SumPool2d:init(k, opts) pool_init(self, "SumPool2d", k, opts) end
function SumPool2d:evolve(x, record)
  local xf, B, T = fold("SumPool2d", x, 2, self)
  local y = lp.sum_pool2d(xf, { kernel_size = self.kernel_size, stride = self.stride, padding = self.padding })
  return unfold(y, B, T), {}, {}
end
function SumPool2d:output_shape_for(s)
  sample_shape(s, 3)
  local out = { s[1] }
  for i = 1, 2 do out[i + 1] = (s[i + 1] + 2 * self.padding[i] - self.kernel_size[i]) // self.stride[i] + 1 end
  return positive_out(out)
end

--- nn.AvgPool2d(kernel_size, {stride = kernel_size, padding = 0}): window
-- means, padding counted (PyTorch's count_include_pad, NIR's SumPool·1/k²)
local AvgPool2d = Module:extend("AvgPool2d")
M.AvgPool2d = AvgPool2d
function AvgPool2d:init(k, opts) pool_init(self, "AvgPool2d", k, opts) end
function AvgPool2d:evolve(x, record)
  local y = SumPool2d.evolve(self, x, record)
  return y * (1 / (self.kernel_size[1] * self.kernel_size[2])), {}, {}
end
AvgPool2d.output_shape_for = SumPool2d.output_shape_for

--- nn.Flatten(): (B, T, d1, d2, ...) -> (B, T, d1·d2·...)
local Flatten = Module:extend("Flatten")
M.Flatten = Flatten
function Flatten:init(opts)
  U.options("Flatten", 1, opts, {}, 3)
  Module.init(self, nil)
end
function Flatten:evolve(x, record)
  if not lp.is_tensor(x) or x:dim() < 3 then
    U.argerror("evolve", 1, "Flatten expects input (B, T, ...)", 3)
  end
  local s = x.shape
  return x:contiguous():reshape({ s[1], s[2], -1 }), {}, {}
end
function Flatten:output_shape_for(s)
  sample_shape(s)
  return { U.numel(s) }
end

return M
