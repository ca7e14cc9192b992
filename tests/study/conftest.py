"""A real Dask cluster for tests: ``dask scheduler`` and ``dask worker`` subprocesses.

``dask_cluster`` yields a :class:`DaskProcesses` with ``.address`` (``tcp://127.0.0.1:PORT``)
and ``.worker_pids`` (the processes that compute: workers run without a nanny, so the
pid a unit reports is one of these). Everything is bounded in time and torn down even
when a test fails. Workers import this checkout's ``rnnscope`` and the ``tests`` package.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import rnnscope

STARTUP_S = 60.0  # a shared 2-core machine can be slow to import torch in 3 processes


class DaskProcesses:
    """A scheduler and workers on 127.0.0.1, each its own process (started by
    :func:`start_dask_processes`)."""

    def __init__(self, address: str, scheduler, workers: list, log_dir: Path) -> None:
        self.address = address
        self.scheduler = scheduler
        self.workers = workers
        self.log_dir = log_dir

    @property
    def worker_pids(self) -> list[int]:
        return [w.pid for w in self.workers]

    def kill_worker(self, pid: int) -> None:
        """SIGKILL one of this cluster's workers (by pid) and reap it."""
        worker = next(w for w in self.workers if w.pid == pid)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in sorted(self.log_dir.glob("*.log"))
        )


def _env() -> dict:
    src = str(Path(rnnscope.__file__).resolve().parents[1])  # the rnnscope under test
    root = str(Path(__file__).resolve().parents[2])  # so workers can import tests.*
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([src, root, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["OMP_NUM_THREADS"] = "1"
    env.setdefault("DASK_DISTRIBUTED__WORKER__DAEMON", "False")
    return env


@contextlib.contextmanager
def start_dask_processes(
    tmp_path: Path, n_workers: int = 2, nthreads: int = 1, scheduler_config: dict | None = None
):
    """Start ``dask scheduler`` + ``n_workers`` × ``dask worker`` on 127.0.0.1; yield a
    :class:`DaskProcesses` once every worker has joined; always stop them all.

    ``scheduler_config``: Dask settings for the scheduler process only, e.g.
    ``{"allowed-failures": 0}`` (as ``DASK_DISTRIBUTED__SCHEDULER__...`` variables)."""
    pytest.importorskip("distributed")
    from distributed import Client

    log_dir = tmp_path / "dask-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    scheduler_file = tmp_path / "scheduler.json"
    env = _env()
    procs: list[subprocess.Popen] = []

    def spawn(name: str, args: list[str], extra_env: dict | None = None) -> subprocess.Popen:
        log = open(log_dir / f"{name}.log", "w")  # the child keeps its own copy
        proc = subprocess.Popen(
            [sys.executable, "-m", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**env, **(extra_env or {})},
            cwd=tmp_path,
            start_new_session=True,
        )
        log.close()
        procs.append(proc)
        return proc

    try:
        scheduler = spawn(
            "scheduler",
            [
                *("distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0"),
                *("--no-dashboard", "--scheduler-file", str(scheduler_file)),
            ],
            {
                "DASK_DISTRIBUTED__SCHEDULER__" + key.upper().replace("-", "_"): str(value)
                for key, value in (scheduler_config or {}).items()
            },
        )
        deadline = time.monotonic() + STARTUP_S
        while not scheduler_file.exists():
            if scheduler.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dask scheduler did not start:\n{_tail(log_dir)}")
            time.sleep(0.05)
        address = json.loads(scheduler_file.read_text())["address"]
        workers = [
            spawn(
                f"worker{k}",
                [
                    *("distributed.cli.dask_worker", address, "--no-nanny"),
                    *("--nthreads", str(nthreads), "--host", "127.0.0.1", "--no-dashboard"),
                    *("--name", f"w{k}", "--local-directory", str(tmp_path / f"worker{k}")),
                ],
            )
            for k in range(n_workers)
        ]
        with Client(address, timeout=STARTUP_S) as client:
            client.wait_for_workers(n_workers, timeout=max(1.0, deadline - time.monotonic()))
        yield DaskProcesses(address, scheduler, workers, log_dir)
    finally:
        for proc in (
            procs[1:] + procs[:1]
        ):  # workers first: a worker outliving its scheduler lingers
            _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the process group we started for ``proc``, SIGKILL it after 5 s."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue
    proc.wait(timeout=10)


def _tail(log_dir: Path) -> str:
    return "\n".join(p.read_text(errors="replace")[-2000:] for p in sorted(log_dir.glob("*.log")))


@pytest.fixture
def dask_cluster(tmp_path):
    """A fresh scheduler and two single-threaded workers (own processes) on 127.0.0.1."""
    with start_dask_processes(tmp_path / "cluster", n_workers=2) as cluster:
        yield cluster
