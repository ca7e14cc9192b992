"""Studies at population scale: wall time per stage, driver peak RSS, store size.

Three measurements (run alone on the machine; each prints its numbers and a JSON line):

``study``   a flip-flop study end to end — 4 architectures (vanilla with tanh and ReLU),
            2 hidden sizes, seeds to reach ``--networks`` — in process:
            wall time per stage, the driver's peak RSS, store bytes per network.

``compare`` the compare stage alone for ``--networks`` initialised networks (their states
            cost what trained ones cost): a store is filled with initial parameters and
            small synthetic fixed-point sets, then SVCCA (fixed ``keep``) and topology run
            through the study's compare stage; ``--kill-after S`` kills it after S seconds
            and resumes, reporting the blocks that were kept.

``dask``    train + analyze of the same study on a 2-worker LocalCluster against in
            process: wall-time ratio, the share of CPU time spent in workers, and
            whether the stored results are bitwise equal.

    python bench/study_scale.py study --networks 1024
    python bench/study_scale.py compare --networks 10000 --kill-after 600
    python bench/study_scale.py dask --networks 1024
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import rnnscope as rs
from rnnscope.study import DaskExecutor, InProcess, Store, StudySpec, run_study
from rnnscope.study.spec import stored_spec
from rnnscope.study.stages import analyze_stage, compare_stage, open_study, train_stage


def study_spec(networks: int, max_steps: int, compare: dict | None = None) -> StudySpec:
    # per seed: vanilla tanh + relu, gru, lstm, ugrnn = 5 networks × 2 hidden sizes
    seeds = max(1, round(networks / 10))
    return StudySpec.model_validate(
        {
            "name": f"scale-{networks}",
            "grid": {"architectures": ["vanilla", "gru", "lstm", "ugrnn"], "hidden_sizes": [32, 64],
                     "activations": ["tanh", "relu"], "seeds": seeds},
            "train": {"max_steps": max_steps},
            "compare": compare or {"geometry": ["svcca"], "topology": True},
            "run": {"train_chunk": 16, "compare_block": 128},
        }
    )  # fmt: skip


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def store_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and "report" not in p.parts)


def bench_study(args) -> dict:
    root = Path(args.root or tempfile.mkdtemp()) / "study"
    spec = study_spec(args.networks, args.max_steps)
    store = open_study(spec, root)
    executor = InProcess(threads=args.threads)
    times = {}
    for name, stage in (
        ("train", train_stage),
        ("analyze", analyze_stage),
        ("compare", compare_stage),
    ):
        started = time.perf_counter()
        stage(spec, store, executor=executor, progress=True)
        times[name] = time.perf_counter() - started
        print(f"{name}: {times[name]:.0f} s, driver peak RSS {peak_rss_mb():.0f} MB", flush=True)
    store.close()
    n = len(Store(root).networks())
    out = {"networks": n, "seconds": times, "total_s": sum(times.values()), "peak_rss_mb": peak_rss_mb(),
           "store_mb_per_network": store_bytes(root) / n / 2**20}  # fmt: skip
    print(f"{n} networks: {out['total_s'] / 60:.1f} min, peak RSS {out['peak_rss_mb']:.0f} MB, "
          f"store {out['store_mb_per_network']:.3f} MB per network")  # fmt: skip
    return out


def fill_initialised(root: Path, spec: StudySpec, seed: int = 0) -> None:
    """A store of initialised networks with small synthetic fixed-point sets, ready for
    the compare stage (what compare costs does not depend on training)."""
    store = open_study(spec, root)
    g = spec.grid
    grid = store.add_networks(rs.make_grid(g.architectures, g.hidden_sizes, g.activations, g.learning_rates, g.l2,
                                           list(range(g.seeds))))  # fmt: skip
    rng = np.random.default_rng(seed)
    task = rs.tasks.FlipFlop(bits=3)
    for (arch, hidden, act), rows in grid.groupby(
        ["architecture", "hidden_size", "activation"], dropna=False
    ):
        options = {"activation": act} if isinstance(act, str) else {}
        net = rs.RNN(
            rs.cells.make_cell(arch, int(hidden), task.input_size, **options), task.output_size
        )
        params = net.init(population=len(rows), seed=[int(s) for s in rows["seed"]])
        records = []
        for i, n in enumerate(rows["network"]):
            n = int(n)
            p = {k: v[i : i + 1].numpy() for k, v in params.items()}
            store.save_arrays(store.params_path(n), p)
            m, s = 26, net.state_size
            ev = rng.uniform(0.2, 1.2, size=(m, s))
            arrays = {"points": rng.normal(size=(m, s)), "q": np.full(m, 1e-20), "inputs": np.zeros((m, 3)),
                      "fixed": np.ones(m, bool), "eigenvalues_real": -np.sort(-ev, axis=1),
                      "eigenvalues_imag": np.zeros((m, s)), "graph_edges": rng.integers(0, m, size=(24, 2))}  # fmt: skip
            corners = rng.choice([-1, 1], size=(8, 3)).astype(np.int8)
            signature = rs.compare.TopologySignature(
                np.array([8, 12, 6]), attractors=corners, edges=rng.integers(0, 8, size=(12, 2))
            )
            arrays.update({f"topology_{k}": v for k, v in signature.to_arrays().items()})
            top = np.sort(ev, axis=1)[:, ::-1][:, :10].mean(axis=0)
            arrays.update(linear_spectrum=top, linear_log_tau=np.log10(1 / np.abs(np.log(top))))
            store.mark_analyzed(
                n,
                arrays,
                {"n_fixed": m, "n_stable": 8, "n_index1": 12, "n_index2": 6, "n_index3_plus": 0},
            )
            records.append({"network": n, "status": "solved", "steps": 0, "loss": 0.0, "eval_loss": 0.0,
                            "accuracy": 1.0, "wall_time_s": 0.0})  # fmt: skip
        store.mark_trained(records, {})
    store.close()


def bench_compare(args) -> dict:
    root = Path(args.root or tempfile.mkdtemp()) / "compare"
    spec = study_spec(args.networks, 1, {"geometry": ["svcca"], "topology": True})
    if not (root / "index.sqlite").exists():
        started = time.perf_counter()
        fill_initialised(root, spec)
        print(
            f"store of {args.networks} initialised networks: {time.perf_counter() - started:.0f} s",
            flush=True,
        )
    command = [sys.executable, __file__, "_compare", str(root), str(args.threads)]
    kept = None
    if args.kill_after:
        proc = subprocess.Popen(command)
        try:
            proc.wait(timeout=args.kill_after)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kept = len(Store(root).blocks())
            print(f"killed after {args.kill_after} s with {kept} blocks committed", flush=True)
    started = time.perf_counter()
    result = subprocess.run([*command, "--report"], stdout=subprocess.PIPE, text=True, check=True)
    stats = json.loads(result.stdout.strip().splitlines()[-1])
    stats.update(resumed_s=time.perf_counter() - started, blocks_kept=kept, networks=args.networks)
    print(json.dumps(stats))
    return stats


def _compare_child(root: str, threads: int, report: bool) -> None:
    """Runs in its own process so its peak RSS is the compare stage's alone."""
    store = Store(root)
    spec = stored_spec(store.spec_json())
    before = store.blocks()
    times = {}
    started = time.perf_counter()
    compare_stage(spec, store, executor=InProcess(threads=threads), progress=True,
                  log=lambda line: print(line, file=sys.stderr, flush=True))  # fmt: skip
    times["compare_s"] = time.perf_counter() - started
    blocks = store.blocks()
    recomputed = 0
    if len(before):
        merged = blocks.merge(before, on=["name", "row", "col"], suffixes=("", "_before"))
        recomputed = int((merged["pid"] != merged["pid_before"]).sum())
    if report:
        print(json.dumps({**times, "peak_rss_mb": peak_rss_mb(), "blocks": len(blocks),
                          "blocks_before": len(before), "kept_blocks_recomputed": recomputed}))  # fmt: skip


def bench_dask(args) -> dict:
    base = Path(args.root or tempfile.mkdtemp())
    spec = study_spec(args.networks, args.max_steps)
    out = {}
    for name in ("inprocess", "dask"):
        root = base / name
        shutil.rmtree(root, ignore_errors=True)
        executor = (
            InProcess(threads=1) if name == "inprocess" else DaskExecutor("local", n_workers=2)
        )
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        try:
            worker_cpu = 0.0
            run_study(
                spec, root, stages=("train", "analyze"), executor=executor, progress=True
            ).close()
            if name == "dask":
                worker_cpu = sum(executor.client.run(lambda: time.process_time()).values())
        finally:
            executor.close()
        wall = time.perf_counter() - started
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        driver_cpu = cpu.ru_utime + cpu.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime
        out[name] = {"wall_s": wall, "driver_cpu_s": driver_cpu, "worker_cpu_s": worker_cpu}
        print(
            f"{name}: {wall:.0f} s wall, driver CPU {driver_cpu:.0f} s, workers' CPU {worker_cpu:.0f} s",
            flush=True,
        )
    a, b = Store(base / "inprocess"), Store(base / "dask")

    def same(x, y) -> bool:
        x, y = np.asarray(x), np.asarray(y)
        return np.array_equal(x, y, equal_nan=bool(np.issubdtype(x.dtype, np.inexact)))

    files = sorted(
        p.relative_to(a.root) for d in ("params", "analysis") for p in (a.root / d).glob("*.npz")
    )
    equal = len(files) > 0 and all(
        (b.root / f).exists()
        and all(same(x, y) for x, y in zip(a.load_arrays(a.root / f).values(), b.load_arrays(b.root / f).values(), strict=True))
        for f in files
    )  # fmt: skip
    d = out["dask"]
    out["ratio_wall"] = d["wall_s"] / out["inprocess"]["wall_s"]
    out["worker_share"] = d["worker_cpu_s"] / max(1e-9, d["worker_cpu_s"] + d["driver_cpu_s"])
    out["bitwise_equal"] = bool(equal)
    print(json.dumps(out))
    return out


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_compare":
        _compare_child(sys.argv[2], int(sys.argv[3]), "--report" in sys.argv)
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mode", choices=["study", "compare", "dask"])
    parser.add_argument("--networks", type=int, default=1024)
    parser.add_argument("--max-steps", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--kill-after", type=float, default=0.0, help="compare: kill after S seconds, then resume"
    )
    parser.add_argument(
        "--root", default=None, help="where the stores go (default: a temporary folder)"
    )
    args = parser.parse_args()
    {"study": bench_study, "compare": bench_compare, "dask": bench_dask}[args.mode](args)


if __name__ == "__main__":
    main()
