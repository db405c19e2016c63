#!/usr/bin/python3
"""bench/peers/w1_torch.py -- the hand-written PyTorch loop that W1 in the
user form (bench/w1.lua, issue 17) is compared with in the same run.

Owns: the same workload as limpet's headline W1 line written the way a
PyTorch user writes it: B = 32, T = 100, dt = 1 ms, float32 input spikes
Bernoulli(0.02) over 700 channels, Linear 700->256 (no bias, weights
uniform in +-sqrt(6 / Nin) as limpet's Linear), LIF(256) with tau_syn 5 ms
and tau_mem 20 ms as tensor ops per time step (synaptic and membrane
decays, threshold 1, subtractive reset, a straight-through surrogate in a
torch.autograd.Function: gradient 1/threshold within 0.5 below threshold,
limpet's StepPWL), Linear 256->20, LIF(20); cross-entropy of the output
spike counts against random labels; Adam lr 1e-3 over the weights;
torch.set_num_threads(2) (or --threads=N), OMP_WAIT_POLICY=passive (set
before torch loads). Median of 15 steps after 3 warm-up steps.

Run by bench/w1.lua (make bench) when /usr/bin/python3 can import torch
(Debian's python3-torch); limpet itself never needs Python.
Prints one line:  w1_torch median_ms=<m> min_ms=<m> cpu_median_ms=<m> hidden_rate=<r> threads=<n>
(median_ms and min_ms: wall clock, time.perf_counter; cpu_median_ms: the
process's CPU time per step, all threads, time.process_time, which the
bench compares with limpet's CPU time under --cpu: on a shared machine it
is the figure that does not depend on what else runs.)
"""
import math
import os
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import torch  # noqa: E402  (after the environment is set)

B, T, NIN, NH, NOUT, P = 32, 100, 700, 256, 20, 0.02
DT, TAU_SYN, TAU_MEM, TH, WINDOW = 1e-3, 5e-3, 20e-3, 1.0, 0.5


class Spike(torch.autograd.Function):
    """Heaviside(u - th) forward; straight-through 1/th near threshold backward."""

    @staticmethod
    def forward(ctx, u):
        ctx.save_for_backward(u)
        return (u >= TH).to(u.dtype)

    @staticmethod
    def backward(ctx, g):
        (u,) = ctx.saved_tensors
        return g * (u >= TH - WINDOW).to(g.dtype) / TH


def lif(x, alpha, beta):
    """x (B, T, N) input currents -> spikes (B, T, N), per time step."""
    b, t_len, n = x.shape
    isyn = x.new_zeros(b, n)
    v = x.new_zeros(b, n)
    out = []
    for t in range(t_len):
        isyn = beta * (isyn + x[:, t])
        u = alpha * v + isyn
        s = Spike.apply(u)
        v = u - s * TH
        out.append(s)
    return torch.stack(out, 1)


def main():
    threads = 2
    for a in sys.argv[1:]:
        if a.startswith("--threads="):
            threads = int(a.split("=", 1)[1])
    reps = 5 if "--quick" in sys.argv[1:] else 15
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    alpha = math.exp(-DT / TAU_MEM)
    beta = math.exp(-DT / TAU_SYN)
    w1 = ((torch.rand(NIN, NH) * 2 - 1) * math.sqrt(6 / NIN)).requires_grad_()
    w2 = ((torch.rand(NH, NOUT) * 2 - 1) * math.sqrt(6 / NH)).requires_grad_()
    x = (torch.rand(B, T, NIN) < P).float()
    y = torch.randint(0, NOUT, (B,))
    opt = torch.optim.Adam([w1, w2], lr=1e-3)

    def step():
        opt.zero_grad()
        h = lif(x @ w1, alpha, beta)
        o = lif(h @ w2, alpha, beta)
        loss = torch.nn.functional.cross_entropy(o.sum(1), y)
        loss.backward()
        opt.step()
        return h

    for _ in range(3):
        step()
    ts, cs = [], []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        h = step()
        ts.append((time.perf_counter() - t0) * 1e3)
        cs.append((time.process_time() - c0) * 1e3)

    def median(v):
        v = sorted(v)
        n = len(v)
        return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2

    print("w1_torch median_ms=%.3f min_ms=%.3f cpu_median_ms=%.3f hidden_rate=%.4f threads=%d"
          % (median(ts), min(ts), median(cs), h.detach().mean().item(), threads))


if __name__ == "__main__":
    main()
