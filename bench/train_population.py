"""Population training throughput, measured side by side in one run.

64 networks (16 each of vanilla, GRU, LSTM, UGRNN; 64 units) on the 3-bit flip-flop,
batch 64 × 100 steps, Adam with gradient clipping, no state noise (the baseline
cannot add it):

(a) ``rnnscope.train_population`` — each architecture trains as one batched group;
(b) the same 64 networks one at a time, as a user would write it: ``torch.nn.RNN``,
    ``GRU``, ``LSTM`` (and a hand-written ``nn.Module`` cell looped over time for the
    UGRNN, which torch lacks) + ``nn.Linear`` + ``torch.optim.Adam``;
(c) the FLOP rate of (a) against this machine's float32 matmul peak.

FLOPs count the matmuls only (forward, input/state gradients, weight gradients):
per network and training step ``B·T·(6·H·G + 4·I·G + 6·H·O)`` with ``G`` the gate
width (H, 3H, 4H, 2H).

Run: ``python bench/train_population.py [--steps 40] [--baseline-steps 10] [--repeats 2]``

(a) and (b) run side by side per architecture (and alternate ``--repeats`` times) so
that a shared, noisy machine slows both alike; medians are reported.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

import rnnscope as rs

ARCHS = {"vanilla": 1, "gru": 3, "lstm": 4, "ugrnn": 2}
#: the clock every timing uses (``--clock cpu``: this process's CPU time, which a machine
#: shared with other processes inflates far less than wall time; use it with 1 thread)
CLOCK = time.perf_counter
H, IN, OUT, B, T = 64, 3, 3, 64, 100


def matmul_peak(size: int = 2048, repeats: int = 10) -> float:
    """Best float32 GFLOP/s of a square matmul on this machine."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t0 = CLOCK()
        a @ b
        best = min(best, CLOCK() - t0)
    return 2 * size**3 / best / 1e9


def flops_per_step(arch: str) -> float:
    g = ARCHS[arch] * H
    return B * T * (6 * H * g + 4 * IN * g + 6 * H * OUT)


class UGRNNModule(nn.Module):
    """A UGRNN as a user would write it in plain PyTorch."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(IN + H, 2 * H)

    def forward(self, x):
        h = x.new_zeros(x.shape[0], H)
        out = []
        for x_t in x.unbind(1):
            c, g = self.lin(torch.cat([x_t, h], -1)).chunk(2, -1)
            c, g = torch.tanh(c), torch.sigmoid(g)
            h = g * h + (1 - g) * c
            out.append(h)
        return torch.stack(out, 1), h


def make_module(arch: str) -> nn.Module:
    if arch == "vanilla":
        return nn.RNN(IN, H, batch_first=True)
    if arch == "gru":
        return nn.GRU(IN, H, batch_first=True)
    if arch == "lstm":
        return nn.LSTM(IN, H, batch_first=True)
    return UGRNNModule()


def train_step(task, rnn, lin, opt, params, k: int) -> None:
    """One plain-PyTorch training step: forward, MSE, backward, clip, Adam."""
    batch = task.sample(B, seed=k + 1)
    out, _ = rnn(batch.inputs)
    loss = ((lin(out) - batch.targets) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()


def baseline(task, arch: str, networks: int, steps: int) -> float:
    """Seconds to train ``networks`` networks of ``arch`` one at a time for ``steps`` steps."""
    total = 0.0
    for seed in range(networks):
        torch.manual_seed(seed)
        rnn, lin = make_module(arch), nn.Linear(H, OUT)
        params = [*rnn.parameters(), *lin.parameters()]
        opt = torch.optim.Adam(params, lr=1e-2)

        train_step(task, rnn, lin, opt, params, 0)  # warm-up
        t0 = CLOCK()
        for k in range(steps):
            train_step(task, rnn, lin, opt, params, k + 1)
        total += CLOCK() - t0
    return total


def population(task, arch: str, networks: int, steps: int) -> float:
    """Seconds for ``train_population`` to train one group of ``networks`` of ``arch``."""
    grid = rs.make_grid(architectures=[arch], hidden_sizes=[H], seeds=list(range(networks)))
    config = rs.TrainConfig(
        max_steps=steps, state_noise=0.0, stop_on_success=False, eval_every=steps, batch_size=B
    )
    warm = rs.TrainConfig(max_steps=2, state_noise=0.0, stop_on_success=False, batch_size=B)
    rs.train_population(task, grid, warm)
    t0 = CLOCK()
    rs.train_population(task, grid, config)
    return CLOCK() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-arch", type=int, default=16, help="networks per architecture")
    parser.add_argument("--steps", type=int, default=40, help="training steps for (a)")
    parser.add_argument("--baseline-steps", type=int, default=10, help="training steps for (b)")
    parser.add_argument(
        "--repeats", type=int, default=1, help="alternate (a) and (b) this often; medians"
    )
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    args = parser.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    task = rs.tasks.FlipFlop(bits=3, steps=T)
    n = args.per_arch * len(ARCHS)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; {n} networks, H={H}, "
        f"batch {B}×{T}; (a) and (b) alternate per architecture, {args.repeats} time(s); "
        f"{args.clock} clock"
    )

    peaks = [matmul_peak()]
    secs_a: dict[str, list[float]] = {a: [] for a in ARCHS}
    secs_b: dict[str, list[float]] = {a: [] for a in ARCHS}
    for _ in range(args.repeats):
        for arch in ARCHS:  # side by side: (a) then (b) for the same architecture
            secs_a[arch].append(population(task, arch, args.per_arch, args.steps))
            secs_b[arch].append(baseline(task, arch, args.per_arch, args.baseline_steps))
        peaks.append(matmul_peak())
    peak = max(peaks)
    med_a = {a: statistics.median(v) for a, v in secs_a.items()}
    med_b = {a: statistics.median(v) for a, v in secs_b.items()}
    wall_a, wall_b = sum(med_a.values()), sum(med_b.values())

    rate_a = n * args.steps / wall_a
    rate_b = n * args.baseline_steps / wall_b
    flops = sum(flops_per_step(a) for a in ARCHS) * args.per_arch * args.steps
    gflops_a = flops / wall_a / 1e9
    print(
        f"matmul peak (float32, 2048²): {peak:8.1f} GFLOP/s (readings {', '.join(f'{p:.0f}' for p in peaks)})"
    )
    print(f"(a) population trainer:      {rate_a:8.1f} networks·steps/s   ({wall_a:.1f} s)")
    print(f"(b) one at a time, torch.nn: {rate_b:8.1f} networks·steps/s   ({wall_b:.1f} s)")
    print(
        "    per architecture          (a) ms/net-step  GFLOP/s  %peak   (b) ms/step  GFLOP/s   (a)/(b)"
    )
    for arch in ARCHS:
        ms_a = 1e3 * med_a[arch] / (args.per_arch * args.steps)
        ms_b = 1e3 * med_b[arch] / (args.per_arch * args.baseline_steps)
        g_a = flops_per_step(arch) / ms_a / 1e6
        g_b = flops_per_step(arch) / ms_b / 1e6
        spread = ""
        if args.repeats > 1:
            ratios = [
                (b / (args.per_arch * args.baseline_steps)) / (a / (args.per_arch * args.steps))
                for a, b in zip(secs_a[arch], secs_b[arch], strict=True)
            ]
            spread = f"   (runs: {', '.join(f'{r:.2f}' for r in ratios)})"
        print(
            f"      {arch:8s}                 {ms_a:7.2f}     {g_a:6.1f}  {100 * g_a / peak:5.1f}%"
            f"      {ms_b:7.2f}     {g_b:6.1f}    {ms_b / ms_a:5.2f}×{spread}"
        )
    gflops_b = flops / args.steps * args.baseline_steps / wall_b / 1e9
    print(f"(a)/(b) = {rate_a / rate_b:.2f}×   (targets: ≥ 1× for every architecture)")
    print(
        f"    ceiling: (b) already runs at {gflops_b:.1f} GFLOP/s, so (a)/(b) ≤ "
        f"{peak / gflops_b:.2f}× even at 100% of matmul peak"
    )
    print(
        f"(c) {gflops_a:.1f} GFLOP/s = {100 * gflops_a / peak:.1f}% of matmul peak   (target ≥ 40%)"
    )


if __name__ == "__main__":
    main()
