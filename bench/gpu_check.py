"""GPU checks and benchmark for issue #17, as one prepared script (a few minutes on a GPU).

Checks (each prints PASS/FAIL and goes on):
  1. the fused recurrence on the device equals autograd through ``cell.step`` on the
     device (values and gradients, float64, every fused cell) and the CPU's values;
  2. ``train_population`` / ``train_text_population`` with ``device=`` train there and
     return CPU parameters close to a CPU run of the same networks (no state noise);
  3. ``find_fixed_points`` on a step whose tensors live on the device, and
     ``compare.pairwise("svcca", ...)`` on device tensors (the script moves the
     tensors there itself; it passes ``device=`` only where the function takes it).

Benchmark (the issue's): 1,024 networks (256 each of vanilla, GRU, LSTM, UGRNN; 64
units), 3-bit flip-flop, batch 64 × 100, Adam + clipping, no state noise:
  (a) networks·steps/s of ``train_population`` on the device (and with
      ``backward="autograd"``);
  (b) the same networks one at a time with ``torch.nn`` on the device (a sample of
      networks per architecture; the rate is per network, so the sample gives it);
  (c) ``train_population`` on this machine's CPU (a sample of networks);
  (d) the fused pass against autograd on the device (which default fits a GPU);
  (e) fixed points of a 1,024-network population (64 candidates per network);
  (f) an SVCCA distance matrix of 10,000 networks (synthetic 500 × 64 state
      matrices), run only if a 1,000-network matrix says it fits the time left,
      otherwise extrapolated and reported as such.

Run: ``python bench/gpu_check.py`` (``--device cuda:1``; ``--json PATH`` writes the
numbers). ``--smoke`` runs every section on the CPU at tiny sizes (the test suite
does this, so the script stays runnable where no GPU is).
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import sys
import time
import traceback

import numpy as np
import torch
from torch import nn

import rnnscope as rs

ARCHS = ("vanilla", "gru", "lstm", "ugrnn")
RESULTS: dict[str, object] = {}


def log(msg: str) -> None:
    print(msg, flush=True)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def section(name: str):
    """Run a section; record its failure instead of stopping the script."""

    def wrap(fn):
        def run(*args, **kw):
            t0 = time.perf_counter()
            log(f"\n== {name}")
            try:
                fn(*args, **kw)
            except Exception as exc:  # keep going: the other numbers still matter
                RESULTS[f"{name}: error"] = f"{type(exc).__name__}: {exc}"
                log(f"FAIL {name}: {type(exc).__name__}: {exc}")
                traceback.print_exc(limit=3)
            log(f"   ({time.perf_counter() - t0:.1f} s)")

        return run

    return wrap


def check(name: str, ok: bool, detail: str = "") -> None:
    RESULTS[f"check: {name}"] = bool(ok)
    log(f"{'PASS' if ok else 'FAIL'} {name} {detail}")


# ---------------------------------------------------------------- checks
@section("1. fused recurrence on the device")
def check_recurrence(device):
    cells = [
        rs.cells.VanillaRNN(6, 3),
        rs.cells.CTRNN(6, 3),
        rs.cells.GRU(6, 3),
        rs.cells.LSTM(6, 3),
        rs.cells.UGRNN(6, 3),
    ]
    for cell in cells:
        net = rs.RNN(cell, 2, learn_initial_state=True)
        cpu = net.init(3, seed=1, dtype=torch.float64)
        x = torch.randn(4, 9, 3, dtype=torch.float64)
        noise = 0.1 * torch.randn(3, 4, 9, cell.state_size, dtype=torch.float64)
        grads = {}
        for fused in (True, False):
            p = {k: v.to(device, copy=True).requires_grad_() for k, v in cpu.items()}
            states, out = net.run(p, x.to(device), noise=noise.to(device), fused=fused)
            (out.pow(2).sum() + states.sum()).backward()
            grads[fused] = (states.detach(), {k: v.grad for k, v in p.items()})
        ref_states, _ = net.run(cpu, x, noise=noise)
        (s_f, g_f), (s_a, g_a) = grads[True], grads[False]
        err = max((g_f[k] - g_a[k]).abs().max().item() for k in g_f)
        ok = (
            s_f.device.type == device.type
            and torch.allclose(s_f, s_a, atol=1e-10)
            and torch.allclose(s_f.cpu(), ref_states, atol=1e-10)
            and err < 1e-8
        )
        check(f"{cell.name}: fused = autograd = CPU", ok, f"(max grad diff {err:.1e})")


@section("2. trainers with device=")
def check_trainers(device, smoke):
    task = rs.tasks.FlipFlop(bits=2, steps=20)
    grid = rs.make_grid(architectures=list(ARCHS), hidden_sizes=[8], seeds=[0, 1])
    kw = dict(max_steps=10, batch_size=16, eval_every=5, eval_batch_size=32, state_noise=0.0)
    on_dev = rs.train_population(task, grid, rs.TrainConfig(device=str(device), **kw))
    on_cpu = rs.train_population(task, grid, rs.TrainConfig(**kw))
    all_cpu = all(v.device.type == "cpu" for g in on_dev.groups for v in g.params.values())
    err = max(
        (a.params[k] - b.params[k]).abs().max().item()
        for a, b in zip(on_dev.groups, on_cpu.groups, strict=True)
        for k in a.params
    )
    check("train_population: CPU parameters back", all_cpu)
    check("train_population: device run ≈ CPU run", err < 1e-3, f"(max param diff {err:.1e})")
    noisy = rs.train_population(
        task, grid.iloc[:2], rs.TrainConfig(device=str(device), **{**kw, "state_noise": 0.1})
    )
    check("train_population with state noise on the device", len(noisy.networks) == 2)

    from rnnscope.tasks.text import prepare_text, valence_language

    data = prepare_text(valence_language(300, length=(5, 12), seed=0), max_length=None, min_count=1)
    tgrid = rs.make_grid(list(ARCHS), [8], learning_rates=[3e-2], seeds=[0])
    cfg = dict(embedding_size=8, max_epochs=1, eval_every=5, patience=2)
    t_dev = rs.train_text_population(data, tgrid, rs.TextTrainConfig(device=str(device), **cfg))
    t_cpu = rs.train_text_population(data, tgrid, rs.TextTrainConfig(**cfg))
    diff = np.nanmax(
        np.abs(t_dev.networks["accuracy"].to_numpy() - t_cpu.networks["accuracy"].to_numpy())
    )
    check(
        "train_text_population on the device ≈ CPU", diff <= 0.05, f"(max accuracy diff {diff:.3f})"
    )


# ---------------------------------------------------------------- benchmark
def flops_per_step(arch: str, h: int, i: int, o: int, b: int, t: int) -> float:
    g = {"vanilla": 1, "gru": 3, "lstm": 4, "ugrnn": 2}[arch] * h
    return b * t * (6 * h * g + 4 * i * g + 6 * h * o)


def population_rate(
    task, per_arch, steps, h, batch, device, backward="fused"
) -> tuple[float, dict, object]:
    grid = rs.make_grid(architectures=list(ARCHS), hidden_sizes=[h], seeds=list(range(per_arch)))
    cfg = dict(
        state_noise=0.0,
        stop_on_success=False,
        batch_size=batch,
        device=str(device),
        backward=backward,
    )
    rs.train_population(task, grid.iloc[:: max(1, per_arch)], rs.TrainConfig(max_steps=2, **cfg))
    sync(device)
    t0 = time.perf_counter()
    result = rs.train_population(
        task, grid, rs.TrainConfig(max_steps=steps, eval_every=steps, **cfg)
    )
    sync(device)
    wall = time.perf_counter() - t0
    per_arch_s = result.networks.groupby("architecture")["wall_time_s"].max().to_dict()
    return len(grid) * steps / wall, per_arch_s, result


def make_module(arch: str, h: int, i: int) -> nn.Module:
    if arch == "ugrnn":
        return _UGRNN(i, h)
    return {"vanilla": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[arch](i, h, batch_first=True)


class _UGRNN(nn.Module):
    def __init__(self, i: int, h: int) -> None:
        super().__init__()
        self.h = h
        self.lin = nn.Linear(i + h, 2 * h)

    def forward(self, x):
        h = x.new_zeros(x.shape[0], self.h)
        out = []
        for x_t in x.unbind(1):
            c, g = self.lin(torch.cat([x_t, h], -1)).chunk(2, -1)
            g = torch.sigmoid(g)
            h = g * h + (1 - g) * torch.tanh(c)
            out.append(h)
        return torch.stack(out, 1), h


def torch_nn_rate(task, networks, steps, h, batch, device) -> dict[str, float]:
    """networks·steps/s per architecture, one network at a time."""
    rates = {}
    for arch in ARCHS:
        total = 0.0
        for seed in range(networks):
            torch.manual_seed(seed)
            rnn, lin = (
                make_module(arch, h, task.input_size).to(device),
                nn.Linear(h, task.output_size).to(device),
            )
            params = [*rnn.parameters(), *lin.parameters()]
            opt = torch.optim.Adam(params, lr=1e-2)
            batches = [task.sample(batch, seed=k) for k in range(steps + 1)]
            batches = [(b.inputs.to(device), b.targets.to(device)) for b in batches]

            def train_step(x, y, rnn=rnn, lin=lin, opt=opt, params=params):
                out, _ = rnn(x)
                loss = ((lin(out) - y) ** 2).mean()
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(params, 1.0)
                opt.step()

            train_step(*batches[0])
            sync(device)
            t0 = time.perf_counter()
            for x, y in batches[1:]:
                train_step(x, y)
            sync(device)
            total += time.perf_counter() - t0
        rates[arch] = networks * steps / total
    return rates


@section("3. benchmark: training")
def bench_training(device, sizes):
    h, batch, t = sizes["hidden"], sizes["batch"], sizes["time"]
    task = rs.tasks.FlipFlop(bits=3, steps=t)
    n_pop = 4 * sizes["per_arch"]
    rate_a, per_arch_a, result = population_rate(
        task, sizes["per_arch"], sizes["steps"], h, batch, device
    )
    RESULTS["trained_groups"] = result.groups
    log(f"(a) population trainer on {device}: {n_pop} networks, {rate_a:,.0f} networks·steps/s")
    for arch, secs in per_arch_a.items():
        flops = flops_per_step(arch, h, 3, 3, batch, t) * sizes["per_arch"] * sizes["steps"]
        log(f"      {arch:8s} group {secs:7.2f} s  {flops / secs / 1e12:6.2f} TFLOP/s (matmuls)")
    rate_auto, _, _ = population_rate(
        task, sizes["per_arch"], sizes["steps"], h, batch, device, backward="autograd"
    )
    log(f"(a') the same with backward='autograd': {rate_auto:,.0f} networks·steps/s")
    RESULTS["rate_population_autograd"] = rate_auto
    rates_b = torch_nn_rate(task, sizes["nn_networks"], sizes["nn_steps"], h, batch, device)
    rate_b = len(ARCHS) / sum(1 / r for r in rates_b.values())  # same number of networks each
    log(
        f"(b) torch.nn one at a time on {device}: {rate_b:,.1f} networks·steps/s  "
        + ", ".join(f"{a} {r:.1f}" for a, r in rates_b.items())
    )
    cpu_threads = torch.get_num_threads()
    rate_c, _, _ = population_rate(
        task, sizes["cpu_per_arch"], sizes["cpu_steps"], h, batch, torch.device("cpu")
    )
    log(
        f"(c) population trainer on the CPU ({cpu_threads} threads, {4 * sizes['cpu_per_arch']} networks): {rate_c:,.1f} networks·steps/s"
    )
    log(f"(a)/(b) = {rate_a / rate_b:,.1f}×   (a)/(c) = {rate_a / rate_c:,.1f}×")
    for arch in ARCHS:
        a_arch = sizes["per_arch"] * sizes["steps"] / per_arch_a[arch]
        log(f"      {arch:8s} population / torch.nn: {a_arch / rates_b[arch]:,.1f}×")
    RESULTS.update(
        rate_population=rate_a,
        rate_torch_nn=rate_b,
        rate_cpu_population=rate_c,
        rates_torch_nn=rates_b,
    )


@section("4. benchmark: fused pass vs autograd on the device")
def bench_fused(device, sizes):
    task = rs.tasks.FlipFlop(bits=3, steps=sizes["time"])
    b = task.sample(sizes["batch"], seed=0)
    x, y = b.inputs.to(device), b.targets.to(device)
    for arch in ARCHS:
        net = rs.RNN(rs.cells.make_cell(arch, sizes["hidden"], 3), 3)
        p = {
            k: v.to(device).requires_grad_() for k, v in net.init(sizes["per_arch"], seed=0).items()
        }
        times = {}
        for fused in (True, False):
            for rep in range(3):
                sync(device)
                t0 = time.perf_counter()
                _, out = net.run(p, x, fused=fused)
                torch.autograd.grad((out - y).pow(2).mean(), list(p.values()))
                sync(device)
                if rep:  # the first is a warm-up
                    times[fused] = min(times.get(fused, math.inf), time.perf_counter() - t0)
        log(
            f"   {arch:8s} forward+backward of {sizes['per_arch']} networks: fused {1e3 * times[True]:7.1f} ms, autograd {1e3 * times[False]:7.1f} ms"
        )
        RESULTS[f"fused_vs_autograd_{arch}"] = times[False] / times[True]


@section("5. benchmark: fixed points of the population")
def bench_fixed_points(device, sizes):
    groups = RESULTS.get("trained_groups") or []
    total, points, t_all = 0, 0, 0.0
    for group in groups:
        cell = group.network.cell
        params = {k: v.to(device) for k, v in group.params.items() if k in cell.param_shapes()}
        n = params["W_hh"].shape[0]
        gen = torch.Generator().manual_seed(0)
        cand = (0.5 * torch.randn(n, sizes["candidates"], cell.state_size, generator=gen)).to(
            device
        )
        sync(device)
        t0 = time.perf_counter()
        try:
            fps = rs.find_fixed_points(cell.bind(params), cand, torch.zeros(3, device=device))
            ran_on = str(device)
        except Exception as exc:  # dynamics without device support: say so, run on the CPU
            log(
                f"   find_fixed_points on {device} failed ({type(exc).__name__}: {exc}); on the CPU:"
            )
            RESULTS[f"fixed_points_{cell.name}_device_error"] = f"{type(exc).__name__}: {exc}"
            cpu_params = {k: v.cpu() for k, v in params.items()}
            t0 = time.perf_counter()
            fps = rs.find_fixed_points(cell.bind(cpu_params), cand.cpu(), torch.zeros(3))
            ran_on = "cpu"
        sync(device)
        dt = time.perf_counter() - t0
        t_all += dt
        total += n
        points += len(fps)
        where = getattr(fps.points, "device", "numpy")
        log(
            f"   {cell.name:8s} {n} networks × {sizes['candidates']} candidates on {ran_on}: {dt:6.1f} s, {len(fps)} points (results on {where})"
        )
    log(f"fixed points of {total} networks: {t_all:.1f} s")
    RESULTS.update(fixed_points_networks=total, fixed_points_s=t_all, fixed_points_found=points)


@section("6. benchmark: SVCCA distance matrix")
def bench_svcca(device, sizes, budget_s):
    gen = torch.Generator().manual_seed(0)
    samples, units = sizes["svcca_samples"], sizes["svcca_units"]
    latent = torch.randn(samples, 10, generator=gen)

    def matrices(n):
        mix = torch.randn(n, 10, units, generator=gen)
        gain = 0.5 + torch.rand(n, 1, 1, generator=gen)
        x = torch.tanh(gain * (latent @ mix)) + 0.1 * torch.randn(n, samples, units, generator=gen)
        return list(x.to(device))

    kw = {"device": device} if "device" in inspect.signature(rs.compare.pairwise).parameters else {}
    log(f"   pairwise(..., device=) supported: {bool(kw)}")
    small = sizes["svcca_probe"]
    mats = matrices(small)
    sync(device)
    t0 = time.perf_counter()
    try:
        d = rs.compare.pairwise("svcca", mats, **kw)
    except Exception as exc:  # compare without device support: say so, run on the CPU
        log(f"   pairwise on {device} tensors failed ({type(exc).__name__}: {exc}); on the CPU:")
        RESULTS["svcca_device_error"] = f"{type(exc).__name__}: {exc}"
        device, kw = torch.device("cpu"), {}
        mats = [m.cpu() for m in mats]
        t0 = time.perf_counter()
        d = rs.compare.pairwise("svcca", mats)
    sync(device)
    t_small = time.perf_counter() - t0
    RESULTS["svcca_ran_on"] = str(device)
    ok = np.allclose(d, d.T) and np.allclose(np.diag(d), 0)
    check(f"svcca {small} networks: symmetric, zero diagonal", ok)
    big = sizes["svcca_networks"]
    estimate = t_small * (big / small) ** 2
    log(f"   {small} networks: {t_small:.1f} s -> {big} networks estimated {estimate:.0f} s")
    RESULTS.update(svcca_probe_networks=small, svcca_probe_s=t_small, svcca_estimate_s=estimate)
    if estimate > budget_s:
        log(
            f"   not run: the estimate exceeds the {budget_s:.0f} s left for it (reported as an extrapolation)"
        )
        return
    del mats
    mats = matrices(big)
    sync(device)
    t0 = time.perf_counter()
    d = rs.compare.pairwise("svcca", mats, **kw)
    sync(device)
    dt = time.perf_counter() - t0
    log(
        f"SVCCA matrix of {big} networks: {dt:.1f} s ({big * (big - 1) // 2:,} pairs), median distance {np.median(d[np.triu_indices(big, 1)]):.3f}"
    )
    RESULTS.update(svcca_networks=big, svcca_s=dt)


SIZES = {
    "full": dict(
        per_arch=256,
        steps=20,
        hidden=64,
        batch=64,
        time=100,
        nn_networks=3,
        nn_steps=10,
        cpu_per_arch=16,
        cpu_steps=5,
        candidates=64,
        svcca_samples=500,
        svcca_units=64,
        svcca_probe=1000,
        svcca_networks=10_000,
    ),
    "smoke": dict(
        per_arch=2,
        steps=2,
        hidden=8,
        batch=4,
        time=10,
        nn_networks=1,
        nn_steps=2,
        cpu_per_arch=1,
        cpu_steps=2,
        candidates=8,
        svcca_samples=40,
        svcca_units=8,
        svcca_probe=6,
        svcca_networks=10,
    ),
}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU (for tests)")
    parser.add_argument(
        "--budget", type=float, default=420.0, help="seconds the whole run may take"
    )
    parser.add_argument("--json", default=None, help="write the numbers here")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    RESULTS.clear()
    device = torch.device("cpu" if args.smoke else args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        log("no CUDA device: nothing to check here (use --smoke for the CPU run)")
        return {"error": "no CUDA device"}
    sizes = SIZES["smoke" if args.smoke else "full"]
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    log(
        f"torch {torch.__version__}, device {device} ({name}), {os.cpu_count()} CPU cores, {torch.get_num_threads()} threads"
    )
    RESULTS.update(device=str(device), device_name=name, torch=torch.__version__)

    check_recurrence(device)
    check_trainers(device, args.smoke)
    bench_training(device, sizes)
    bench_fused(device, sizes)
    bench_fixed_points(device, sizes)
    left = args.budget - (time.perf_counter() - start)
    bench_svcca(device, sizes, max(0.0, left - 10))
    RESULTS.pop("trained_groups", None)
    RESULTS["total_s"] = time.perf_counter() - start
    log(f"\ntotal {RESULTS['total_s']:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(RESULTS, f, indent=1, default=str)
    return dict(RESULTS)


if __name__ == "__main__":
    main(sys.argv[1:])
