"""Where a study's units of work run: in this process (default) or on Dask.

Units are training groups, per-network analyses and blocks of distance matrices.
Workers only compute and return results; the driver alone writes to the store, so a
worker that dies loses nothing: Dask reruns its task elsewhere (``retries``).

- :class:`InProcess`: no service to start.
- :class:`DaskExecutor` ``("local")``: starts a ``distributed.LocalCluster``.
- :class:`DaskExecutor` ``("tcp://HOST:PORT")``: uses a running scheduler — start one
  with ``dask scheduler`` and workers with ``dask worker tcp://HOST:PORT``; on SLURM,
  ``dask_jobqueue.SLURMCluster`` gives the address (``cluster.scheduler_address``).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch


@dataclass
class Done:
    """A finished unit: its position in the items, its value, and where it ran."""

    index: int
    value: object
    pid: int
    host: str
    seconds: float


def _call(fn: Callable, args: tuple, threads: int | None):
    set_threads(threads)
    started = time.perf_counter()
    value = fn(*args)
    return value, os.getpid(), socket.gethostname(), time.perf_counter() - started


class InProcess:
    """Run units one after another in this process.

    Args:
        threads: torch intra-op threads while a unit runs (default: leave as is).
    """

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads
        self.workers = 1

    def run(self, fn: Callable, items: Sequence[tuple]) -> Iterator[Done]:
        """Yield a :class:`Done` per unit, in order."""
        for i, args in enumerate(items):
            yield Done(i, *_call(fn, args, self.threads))

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return "in-process"


class DaskExecutor:
    """Run units on a Dask cluster.

    Args:
        address: ``"local"`` to start a ``LocalCluster`` here, or a scheduler address.
        n_workers, threads_per_worker: for ``"local"`` (default 2 workers × 1 thread).
        retries: how often a unit whose worker died is run again.
    """

    def __init__(
        self,
        address: str = "local",
        *,
        n_workers: int = 2,
        threads_per_worker: int = 1,
        retries: int = 3,
    ):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ImportError(
                "the Dask executor needs the 'dask' extra: pip install 'rnnscope[dask]'."
            ) from None
        self.cluster = None
        if address == "local":
            self.cluster = LocalCluster(
                n_workers=n_workers,
                threads_per_worker=threads_per_worker,
                processes=True,
                dashboard_address=None,
            )
            self.client = Client(self.cluster)
        elif address.startswith(("tcp://", "tls://", "inproc://", "ucx://")):
            self.client = Client(address)
        else:
            raise ValueError(
                f"--dask takes 'local' or a scheduler address like tcp://host:8786, got {address!r}."
            )
        self.threads = threads_per_worker
        self.retries = retries
        self.workers = max(1, len(self.client.scheduler_info().get("workers", {})))

    def run(self, fn: Callable, items: Sequence[tuple]) -> Iterator[Done]:
        from distributed import as_completed

        futures = [
            self.client.submit(_call, fn, args, self.threads, pure=False, retries=self.retries)
            for args in items
        ]
        index = {f.key: i for i, f in enumerate(futures)}
        for future in as_completed(futures):
            yield Done(index[future.key], *future.result())

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def __repr__(self) -> str:
        return f"dask ({self.client.scheduler.address})"


def set_threads(threads: int | None) -> None:
    if threads is not None and threads != torch.get_num_threads():
        torch.set_num_threads(threads)
