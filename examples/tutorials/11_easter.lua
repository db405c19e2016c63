-- examples/tutorials/11_easter.lua -- Easter: a spiking network that draws
-- A network's output need not be a class: here two output channels are
-- the pen's x and y coordinates, and a spiking network is trained to move
-- the pen so that it draws an Easter egg — the outline, then a zig-zag
-- band across it — from a frozen random spike pattern. It is the same
-- regression as in the spiking-network tutorial, in two dimensions.
local lp = require "limpet"
local nn = lp.nn
local tut = require "limpet.tutorial"
local opt = tut.options(arg)
lp.seed(11)

-- ## The drawing
--
-- The pen first runs once round the egg (an ellipse, wider at the
-- bottom), then draws a zig-zag band from left to right across its middle.
local dt = 1e-3
local T = opt.quick and 300 or 1200
local T1 = math.floor(T * 0.7)
local tl = {}
for k = 1, T do
  local x, y
  if k <= T1 then
    local th = 2 * math.pi * (k - 1) / (T1 - 1)
    y = math.cos(th)
    x = 0.75 * math.sin(th) * (1 - 0.12 * y)
  else
    local u = (k - T1 - 1) / (T - T1 - 1)          -- 0 .. 1 along the band
    x = -0.7 + 1.4 * u
    local zig = math.abs(((u * 6) % 1) - 0.5) * 2     -- a triangle wave, 6 teeth
    y = -0.15 + 0.3 * zig
  end
  tl[k] = { x, y }
end
local target = lp.tensor({ tl })

-- A picture of a pen path: the path's positions counted on a grid (the
-- image is a matrix, row 1 at the top).
local function picture(path, n)
  n = n or 48
  local img = lp.zeros(n, n)
  local pts = path:totable()
  for k = 1, #pts do
    local px = math.floor((pts[k][1] + 1) / 2 * (n - 1) + 1.5)
    local py = math.floor((1 - pts[k][2]) / 2 * (n - 1) + 1.5)
    if px >= 1 and px <= n and py >= 1 and py <= n then img:set(py, px, img:get(py, px) + 1) end
  end
  return img
end

-- ## Network and training
--
-- 100 frozen Poisson inputs, a spiking hidden layer, and two synaptic
-- read-outs (x and y). Mean squared error against the pen path.
local Nin, H = 100, opt.quick and 96 or 200
local input = lp.bernoulli(25 * dt, 1, T, Nin)
local net = nn.Sequential {
  nn.Linear({ Nin, H }, { weight = lp.randn(Nin, H) * 0.01 }),
  nn.LIF(H, { tau_mem = nn.Constant(20e-3), tau_syn = nn.Constant(10e-3), dt = dt }),
  nn.Linear({ H, 2 }, { weight = lp.randn(H, 2) * 0.05 }),
  nn.ExpSyn(2, { tau = nn.Constant(10e-3), dt = dt }),
}
local iters = opt.quick and 80 or 600
local optimizer = lp.optim.Adam(net:parameters(), { lr = 1e-2 })
local hist = lp.train.fit {
  net = net,
  loss = function(out, y) return lp.loss.mse(out, y) end,
  data = lp.train.TensorLoader(input, target, { batch_size = 1 }),
  epochs = iters,
  optimizer = optimizer,
  schedule = lp.optim.schedule.cosine(optimizer, { T_max = iters, eta_min = 1e-3 }),
  progress = false,
}
print(("mse: first iteration %.4f, last %.4f"):format(hist.train_loss[1], hist.train_loss[hist.epochs]))

-- ## The picture
--
-- Target and network drawing side by side, and the two coordinates as
-- time series:
net:reset_state()
local out = lp.no_grad(function() return net(input) end)
local fig = lp.plot.figure { rows = 1, cols = 2, width = 1000, height = 520 }
fig:matrix(1, picture(target[1]), { cmap = "sequential", title = "target drawing", xlabel = "x", ylabel = "y" })
fig:matrix(2, picture(out[1]), { cmap = "sequential", title = "drawn by the network", xlabel = "x", ylabel = "y" })
assert(fig:save(tut.figure("drawing")))
assert(lp.plot.traces(lp.cat({ out[1], target[1] }, 2), tut.figure("coordinates"),
  { dt = dt, stagger = 2.5, labels = { "x", "y", "target x", "target y" }, xlabel = "time (s)" }))
