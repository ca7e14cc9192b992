"""Where a study's units of work run: in this process (default) or on Dask.

Units are training groups, per-network analyses and blocks of distance matrices.
Workers only compute and return results; the driver alone writes to the store, so a
worker that dies loses nothing: its unit is run again on another worker.

- :class:`InProcess`: no service to start; torch uses the machine's cores.
- :class:`DaskExecutor` ``("local")``: starts a ``distributed.LocalCluster`` here.
- :class:`DaskExecutor` ``("tcp://HOST:PORT")``: uses a running scheduler — start one
  with ``dask scheduler`` and workers with ``dask worker tcp://HOST:PORT --nthreads 1``.
- :class:`DaskExecutor` ``("slurm", cluster_options={...})``: submits workers as SLURM
  jobs through ``dask_jobqueue.SLURMCluster`` (see :func:`slurm_cluster`).

Every unit's result comes back as a :class:`Done` naming the process and host that
computed it, so callers (and tests) can see where the work ran. Torch intra-op threads
are set in the process that runs a unit: one per Dask worker thread (torch's default,
all cores per process, is many times slower when several workers share a machine), the
machine's cores in process unless ``threads=`` says otherwise.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import torch

_DASK_EXTRA = "pip install 'rnnscope[dask]'"
_ADDRESS_PREFIXES = ("tcp://", "tls://", "inproc://", "ucx://", "ws://", "wss://")


class Done(NamedTuple):
    """One finished unit: ``items[index]``'s result and where it was computed.

    ``seconds`` is the time ``fn`` took in the process that ran it (not queueing)."""

    index: int
    value: Any
    pid: int
    host: str
    seconds: float


def machine_cores() -> int:
    """CPU cores this process may use (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def set_threads(threads: int | None) -> None:
    """Set torch's intra-op threads for this process (``None``: leave as is)."""
    if threads is not None and threads != torch.get_num_threads():
        torch.set_num_threads(threads)


def run_unit(fn: Callable, args: tuple, threads: int | None) -> tuple[Any, int, str, float]:
    """Run one unit where this is called: ``(fn(*args), pid, host, seconds)``."""
    set_threads(threads)
    start = time.perf_counter()
    value = fn(*args)
    return value, os.getpid(), socket.gethostname(), time.perf_counter() - start


class InProcess:
    """Run units one after another in this process.

    Args:
        threads: torch intra-op threads while units run (default: the machine's cores).
            The previous setting is restored when :meth:`run` finishes.
    """

    def __init__(self, threads: int | None = None) -> None:
        if threads is not None and (isinstance(threads, bool) or threads < 1):
            raise ValueError(f"threads must be a positive integer, got {threads!r}.")
        self.threads = threads if threads is not None else machine_cores()

    def run(self, fn: Callable, items: Sequence[tuple]) -> Iterator[Done]:
        """Yield a :class:`Done` for each ``fn(*items[i])``, in order."""
        before = torch.get_num_threads()
        try:
            for i, args in enumerate(items):
                yield Done(i, *run_unit(fn, tuple(args), self.threads))
        finally:
            set_threads(before)

    def close(self) -> None:
        pass

    def __enter__(self) -> InProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"in-process ({self.threads} threads)"


class DaskExecutor:
    """Run units on a Dask cluster.

    Args:
        address: ``"local"`` to start a ``LocalCluster`` here, ``"slurm"`` to start a
            ``dask_jobqueue.SLURMCluster`` (options in ``cluster_options``, see
            :func:`slurm_cluster`), or a running scheduler's address (``tcp://host:8786``).
        n_workers, threads_per_worker: for ``"local"`` (default 2 workers × 1 thread).
        retries: how many more times a unit runs when the worker running it dies (its
            own exceptions are not retried: they are raised at once).
        cluster_options: for ``"slurm"``, see :func:`slurm_cluster`; for ``"local"``,
            extra ``LocalCluster`` arguments; for an address, ``{"timeout": "20s"}`` (how
            long to wait for the scheduler).

    Each unit runs with one torch intra-op thread (a worker with ``--nthreads 4`` runs
    four units at once, one thread each).
    """

    def __init__(
        self,
        address: str = "local",
        *,
        n_workers: int = 2,
        threads_per_worker: int = 1,
        retries: int = 3,
        cluster_options: dict | None = None,
    ):
        if not isinstance(address, str) or not (
            address in ("local", "slurm") or address.startswith(_ADDRESS_PREFIXES)
        ):
            raise ValueError(
                "--dask takes 'local', 'slurm' or a scheduler address like tcp://host:8786, "
                f"got {address!r}."
            )
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries!r}.")
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ImportError(f"the Dask executor needs the 'dask' extra: {_DASK_EXTRA}.") from None
        options = dict(cluster_options or {})
        self.cluster = None
        self.threads = 1  # torch threads per unit: one per Dask worker thread
        self.retries = retries
        if address == "local":
            self.cluster = LocalCluster(
                n_workers=n_workers,
                threads_per_worker=threads_per_worker,
                processes=True,
                dashboard_address=None,
                **options,
            )
            self.client = Client(self.cluster)
        elif address == "slurm":
            self.cluster = slurm_cluster(**options)
            self.cluster.scale(jobs=options.get("jobs", 1))
            self.client = Client(self.cluster)
        else:
            try:
                self.client = Client(address, timeout=options.get("timeout", "20s"))
            except OSError as err:
                raise ConnectionError(
                    f"no Dask scheduler answered at {address} ({err}); start one with "
                    f"`dask scheduler` and workers with `dask worker {address}`."
                ) from None

    def run(self, fn: Callable, items: Sequence[tuple]) -> Iterator[Done]:
        """Submit every unit, then yield a :class:`Done` for each as it finishes (any
        order). A unit whose worker died is submitted again (up to ``retries`` times);
        each index is yielded exactly once. Leaving the loop early cancels the rest."""
        from distributed import as_completed

        live: dict[str, tuple[int, Any]] = {}  # key -> (index, future) not yet yielded
        attempts = [0] * len(items)
        remaining = set(range(len(items)))

        def submit(i: int):
            future = self.client.submit(
                run_unit, fn, tuple(items[i]), self.threads, pure=False, key=_key(fn, i)
            )
            live[future.key] = (i, future)
            return future

        pending = as_completed([submit(i) for i in range(len(items))])
        try:
            for future in pending:
                i, _ = live.pop(future.key)
                try:
                    value, pid, host, seconds = future.result()
                except Exception as err:
                    if not _worker_lost(err) or attempts[i] >= self.retries:
                        raise
                    attempts[i] += 1
                    pending.add(submit(i))
                    continue
                if i not in remaining:  # pragma: no cover - never submitted twice at once
                    continue
                remaining.discard(i)
                yield Done(i, value, pid, host, seconds)
        finally:
            if live:
                self.client.cancel([f for _, f in live.values()])

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"dask ({self.client.scheduler.address})"


def _key(fn: Callable, i: int) -> str:
    import uuid

    return f"{getattr(fn, '__name__', 'unit')}-{i}-{uuid.uuid4().hex}"


def _worker_lost(err: BaseException) -> bool:
    """Whether ``err`` says the unit's worker went away (rather than ``fn`` failing)."""
    from distributed import KilledWorker
    from distributed.comm.core import CommClosedError

    return isinstance(err, KilledWorker | CommClosedError)


#: options of :func:`slurm_cluster` that are not ``SLURMCluster`` arguments
_SLURM_OWN = {"jobs", "partition", "timeout"}


def slurm_cluster(**options):
    """A ``dask_jobqueue.SLURMCluster`` for rnnscope's units (no jobs submitted yet).

    Options (all optional except where SLURM requires them):
        cores: CPU cores per job (default 1); each becomes one Dask worker thread with
            one torch thread.
        memory: memory per job, e.g. ``"4GB"`` (default ``"4GB"``).
        walltime: ``"HH:MM:SS"`` (default ``"01:00:00"``).
        queue or partition: the SLURM partition (``#SBATCH -p``).
        account: the account to charge (``#SBATCH -A``).
        job_extra_directives: extra ``#SBATCH`` lines, e.g. ``["--qos=short"]``.
        jobs: how many jobs :class:`DaskExecutor` scales to (default 1).
        any other ``SLURMCluster`` argument (``processes``, ``python``,
        ``job_script_prologue``, ``local_directory``, ...).

    Each job's script sets ``OMP_NUM_THREADS=1`` before the worker starts. Inspect it with
    ``slurm_cluster(...).job_script()``.
    """
    try:
        from dask_jobqueue import SLURMCluster
    except ImportError:
        raise ImportError(
            f"--dask slurm needs dask-jobqueue: {_DASK_EXTRA} (or pip install dask-jobqueue)."
        ) from None
    options = dict(options)
    if "partition" in options:
        if "queue" in options and options["queue"] != options["partition"]:
            raise ValueError("give the SLURM partition once: 'queue' or 'partition', not both.")
        options["queue"] = options.pop("partition")
    for own in _SLURM_OWN:
        options.pop(own, None)
    options.setdefault("cores", 1)
    options.setdefault("memory", "4GB")
    options.setdefault("walltime", "01:00:00")
    options.setdefault("processes", 1)
    prologue = list(options.pop("job_script_prologue", []) or [])
    options["job_script_prologue"] = ["export OMP_NUM_THREADS=1", *prologue]
    try:
        return SLURMCluster(**options)
    except TypeError as err:
        raise TypeError(f"bad SLURM cluster option: {err}.") from None
