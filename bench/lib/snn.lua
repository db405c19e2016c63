-- bench/lib/snn.lua -- the W1 family of workloads (issue 6), built from the
-- real lp.nn modules: batch 32, T = 100, dt = 1 ms, 700 Bernoulli(0.02)
-- input channels (seeded), Linear 700->N, LIF(N, tau_syn 5 ms, tau_mem
-- 20 ms, threshold 1, subtractive reset, optional 256x256-style w_rec),
-- Linear N->20, LIF(20); loss = cross-entropy of the time-summed output
-- membrane against random labels; Adam (lp.optim) over all parameters.
-- Also: the GEMM shapes of the same network, for the dense-GEMM limit.
local lp = require "limpet"
local H = require "harness"

local S = {}
S.B, S.T, S.NIN, S.NOUT, S.P = 32, 100, 700, 20, 0.02

function S.build(N, rec)
  local nn = lp.nn
  lp.seed(1)
  local lif = { tau_syn = 5e-3, tau_mem = 20e-3, threshold = 1, dt = 1e-3 }
  local hid = {}
  for k, v in pairs(lif) do hid[k] = v end
  hid.has_rec = rec or false
  if rec then      -- Linear's init scaled by 0.1: the default bound sqrt(6/N) runs away (counts ~1e4 per step)
    hid.w_rec = (lp.rand({ N, N }) * 2 - 1) * (0.1 * math.sqrt(6 / N))
  end
  local net = nn.Sequential {
    nn.Linear({ S.NIN, N }),
    nn.LIF(N, hid),
    nn.Linear({ N, S.NOUT }),
    nn.LIF(S.NOUT, lif),
  }
  -- spikes held as bytes (uint8): the fused input projection indexes them
  -- as they are, a quarter of the float32 bytes to scan
  local x = H.spikes({ S.B, S.T, S.NIN }, S.P):astype("uint8")
  local y = lp.randint(1, S.NOUT + 1, { S.B })
  -- lr = 0: the Adam step costs the same, but the network stays in the
  -- regime the workload defines (at lr 1e-3 the hidden activity of W1r
  -- collapses within ten steps, and the timed steps would drift with it)
  local opt = lp.optim.Adam(net:parameters(), { lr = 0 })
  local w = { net = net, x = x, y = y, opt = opt, N = N, rec = rec }
  local last = net[#net]

  -- forward: the whole chain recording membranes only ({"vmem"}: each
  -- Linear is fused into the LIF after it, no isyn records); the loss reads
  -- the readout LIF's membrane
  local last_name = last.name
  function w.forward()
    net:reset_state()
    local out, _, r = net(x, { "vmem" })
    return lp.loss.cross_entropy(r[last_name].vmem:sum(2), y), out
  end
  function w.train_step()
    opt:zero_grad()
    local loss = w.forward()
    loss:backward()
    opt:step()
    return loss
  end
  function w.hidden_rate()
    local _, h = lp.no_grad(w.forward)
    local s = net[2]((net[1](x)))
    return s:mean():item(), h
  end
  return w
end

-- W1 as users write it (issue 17): float32 spikes straight from
-- lp.rand(...):lt(p):astype("float32"), the loss on the output spike counts
-- (cross-entropy of out:sum(2)), Adam at lr 1e-3, nothing recorded,
-- net:reset_state() each step. The data keep the network in its regime
-- (the same batch every step; the rate is reported, not forced).
function S.build_user(N)
  local nn = lp.nn
  lp.seed(1)
  local lif = { tau_syn = 5e-3, tau_mem = 20e-3, dt = 1e-3 }
  local net = nn.Sequential {
    nn.Linear({ S.NIN, N }),
    nn.LIF(N, lif),
    nn.Linear({ N, S.NOUT }),
    nn.LIF(S.NOUT, lif),
  }
  local x = lp.rand({ S.B, S.T, S.NIN }):lt(S.P):astype("float32")
  local y = lp.randint(1, S.NOUT + 1, { S.B })
  -- Adam over the weights: the taus are trainable too (Rockpool's families),
  -- but in seconds (5e-3) a step of lr 1e-3 takes tau_syn below zero within
  -- five steps, which the LIF then refuses; users train the weights at this
  -- rate, and so does the PyTorch loop
  local opt = lp.optim.Adam(net:parameters("weights"), { lr = 1e-3 })
  local w = { net = net, x = x, y = y, opt = opt, N = N }
  function w.forward()
    net:reset_state()
    local out = net(x)
    return lp.loss.cross_entropy(out:sum(2), y), out
  end
  function w.train_step()
    opt:zero_grad()
    local loss = w.forward()
    loss:backward()
    opt:step()
    return loss
  end
  -- the hidden layer's spike rate (spikes per neuron per step) on the batch
  function w.hidden_rate()
    net:reset_state()
    local h = lp.no_grad(function() return net[2](net[1](x)) end)
    net:reset_state()
    return h:mean():item()
  end
  return w
end

-- GEMM shapes {m, k, n, count} of the network computed densely: forward
-- x.W1, the recurrent s.w_rec per step, s.W2; backward dW2 = s^T g, ds = g W2^T,
-- dW1 = x^T g, the recurrent W.dc per step and dW_rec = s^T dc.
function S.gemm_shapes(N, rec, with_bwd)
  local M = S.B * S.T
  local sh = { { M, S.NIN, N }, { M, N, S.NOUT } }
  if rec then sh[#sh + 1] = { S.B, N, N, S.T } end
  if with_bwd then
    sh[#sh + 1] = { N, M, S.NOUT }
    sh[#sh + 1] = { M, S.NOUT, N }
    sh[#sh + 1] = { S.NIN, M, N }
    if rec then
      sh[#sh + 1] = { S.B, N, N, S.T }
      sh[#sh + 1] = { N, M, N }
    end
  end
  return sh
end

-- The sparse limit (issue 17) of the non-recurrent network at hidden size N
-- and hidden spike rate `rate`: the step's products with every spike
-- operand taken as sparse, through lp.matmul (whose event-driven path
-- gathers rows over the nonzeros, the index scan included), in the same
-- run: forward x.W1 (x Bernoulli(0.02), float32) and s.W2 (s Bernoulli(rate)),
-- backward dW1 = x^T g1, dW2 = s^T g2 (scatter-adds over the spikes) and
-- ds = g2 W2^T (dense, K = 20). Not in it: the LIF time loops, the loss,
-- Adam: what the step does beyond the products is what its ratio shows.
function S.sparse_limit(N, rate, reps)
  local M = S.B * S.T
  lp.seed(2)
  local x = lp.rand({ M, S.NIN }):lt(S.P):astype("float32")
  local s = lp.rand({ M, N }):lt(rate):astype("float32")
  local W1, W2 = lp.rand({ S.NIN, N }), lp.rand({ N, S.NOUT })
  local g1, g2 = lp.rand({ M, N }), lp.rand({ M, S.NOUT })
  local xt, st, W2t = x:transpose(1, 2), s:transpose(1, 2), W2:transpose(1, 2)
  return (H.time(function()
    local _ = lp.matmul(x, W1)
    _ = lp.matmul(s, W2)
    _ = lp.matmul(xt, g1)
    _ = lp.matmul(st, g2)
    _ = lp.matmul(g2, W2t)
  end, reps))
end

return S
