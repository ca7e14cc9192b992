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

Run: ``python bench/train_population.py [--steps 20] [--baseline-steps 10]``
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

import rnnscope as rs

ARCHS = {"vanilla": 1, "gru": 3, "lstm": 4, "ugrnn": 2}
H, IN, OUT, B, T = 64, 3, 3, 64, 100


def matmul_peak(size: int = 2048, repeats: int = 10) -> float:
    """Best float32 GFLOP/s of a square matmul on this machine."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
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


def baseline(task, per_arch: int, steps: int) -> dict[str, float]:
    """Seconds, per architecture, to train its networks one at a time for ``steps`` steps."""
    seconds = {}
    for arch in ARCHS:
        total = 0.0
        for seed in range(per_arch):
            torch.manual_seed(seed)
            rnn, lin = make_module(arch), nn.Linear(H, OUT)
            params = [*rnn.parameters(), *lin.parameters()]
            opt = torch.optim.Adam(params, lr=1e-2)

            train_step(task, rnn, lin, opt, params, 0)  # warm-up
            t0 = time.perf_counter()
            for k in range(steps):
                train_step(task, rnn, lin, opt, params, k + 1)
            total += time.perf_counter() - t0
        seconds[arch] = total
    return seconds


def population(task, per_arch: int, steps: int) -> tuple[float, dict[str, float]]:
    grid = rs.make_grid(architectures=list(ARCHS), hidden_sizes=[H], seeds=list(range(per_arch)))
    config = rs.TrainConfig(
        max_steps=steps, state_noise=0.0, stop_on_success=False, eval_every=steps, batch_size=B
    )
    rs.train_population(
        task, grid, rs.TrainConfig(max_steps=2, state_noise=0.0, stop_on_success=False)
    )
    t0 = time.perf_counter()
    result = rs.train_population(task, grid, config)
    wall = time.perf_counter() - t0
    per_arch = result.networks.groupby("architecture")["wall_time_s"].max().to_dict()
    return wall, per_arch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-arch", type=int, default=16, help="networks per architecture")
    parser.add_argument("--steps", type=int, default=40, help="training steps for (a)")
    parser.add_argument("--baseline-steps", type=int, default=10, help="training steps for (b)")
    args = parser.parse_args()

    torch.manual_seed(0)
    task = rs.tasks.FlipFlop(bits=3, steps=T)
    n = args.per_arch * len(ARCHS)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; {n} networks, H={H}, batch {B}×{T}"
    )

    peak = matmul_peak()
    wall_a, per_arch = population(task, args.per_arch, args.steps)
    per_arch_b = baseline(task, args.per_arch, args.baseline_steps)
    wall_b = sum(per_arch_b.values())
    peak_after = matmul_peak()

    rate_a = n * args.steps / wall_a
    rate_b = n * args.baseline_steps / wall_b
    flops = sum(flops_per_step(a) for a in ARCHS) * args.per_arch * args.steps
    gflops_a = flops / wall_a / 1e9
    peak = max(peak, peak_after)
    print(f"matmul peak (float32, 2048²): {peak:8.1f} GFLOP/s")
    print(f"(a) population trainer:      {rate_a:8.1f} networks·steps/s   ({wall_a:.1f} s)")
    for arch, seconds in per_arch.items():
        g = flops_per_step(arch) * args.per_arch * args.steps / seconds / 1e9
        print(f"      {arch:8s} group: {seconds:6.2f} s, {g:6.1f} GFLOP/s")
    print(f"(b) one at a time, torch.nn: {rate_b:8.1f} networks·steps/s   ({wall_b:.1f} s)")
    for arch, seconds in per_arch_b.items():
        ms = 1e3 * seconds / (args.per_arch * args.baseline_steps)
        g = flops_per_step(arch) * args.per_arch * args.baseline_steps / seconds / 1e9
        print(f"      {arch:8s} alone: {ms:6.1f} ms/step, {g:6.1f} GFLOP/s")
    gflops_b = flops / args.steps * args.baseline_steps / wall_b / 1e9
    print(f"(a)/(b) = {rate_a / rate_b:.2f}×   (target ≥ 5×)")
    print(
        f"    ceiling: (b) already runs at {gflops_b:.1f} GFLOP/s, so (a)/(b) ≤ "
        f"{peak / gflops_b:.2f}× even at 100% of matmul peak"
    )
    print(
        f"(c) {gflops_a:.1f} GFLOP/s = {100 * gflops_a / peak:.1f}% of matmul peak   (target ≥ 30%)"
    )


if __name__ == "__main__":
    main()
