"""Executors: units run where they say, with the threads they say; a worker killed in
the middle of a unit loses nothing and duplicates nothing.

The Dask tests run against real ``dask scheduler`` / ``dask worker`` processes (the
``dask_cluster`` fixture) and check the pid each unit reports against the workers' pids:
an executor that ran ``fn`` in the driver fails them.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import rnnscope as rs
from rnnscope.study.executors import DaskExecutor, Done, InProcess, machine_cores, slurm_cluster

pytest.importorskip("distributed")


# ------------------------------------------------------------------ units (run on workers)
def where_and_threads(i: int) -> tuple[int, int, int]:
    return i, os.getpid(), torch.get_num_threads()


def flipflop_states(seed: int) -> np.ndarray:
    """A deterministic torch computation: an initialised GRU population's states."""
    net = rs.RNN(rs.cells.GRU(hidden_size=16, input_size=3), output_size=3)
    params = net.init(population=2, seed=seed)
    batch = rs.tasks.FlipFlop(bits=3, steps=40).sample(8, seed=seed)
    with torch.no_grad():
        states, _ = net.run(params, batch.inputs)
    return states.numpy()


def hold_until_released(i: int, markers: str, release: str) -> tuple[int, int]:
    """Announce that unit ``i`` started in this process, then wait for ``release``."""
    Path(markers, f"{i}-{os.getpid()}-{time.monotonic_ns()}").touch()
    deadline = time.monotonic() + 60
    while not Path(release).exists():
        if time.monotonic() > deadline:
            raise TimeoutError("never released")
        time.sleep(0.01)
    return i, os.getpid()


def kill_own_worker_first_time(i: int, markers: str) -> tuple[int, int]:
    """The first run of unit ``i`` anywhere kills the process running it (SIGKILL)."""
    first = Path(markers, f"{i}-{os.getpid()}-{time.monotonic_ns()}")
    if not any(p.name.startswith(f"{i}-") for p in Path(markers).iterdir()):
        first.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return i, os.getpid()


def fail_once_counted(i: int, markers: str) -> int:
    Path(markers, f"{i}-{os.getpid()}-{time.monotonic_ns()}").touch()
    raise ValueError(f"unit {i} is broken")


# ----------------------------------------------------------------------------- in process
def test_in_process_reports_this_process_and_the_machines_cores():
    before = torch.get_num_threads()
    done = list(InProcess().run(where_and_threads, [(0,), (1,)]))
    assert [d.index for d in done] == [0, 1]
    assert all(isinstance(d, Done) and d.pid == os.getpid() and d.seconds >= 0 for d in done)
    assert [d.value for d in done] == [(i, os.getpid(), machine_cores()) for i in (0, 1)]
    assert [d.value[2] for d in InProcess(threads=1).run(where_and_threads, [(0,)])] == [1]
    assert torch.get_num_threads() == before  # restored after the run


def test_in_process_rejects_bad_threads():
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        InProcess(threads=0)


# ---------------------------------------------------------------------- on a real cluster
def test_units_run_in_worker_processes_and_match_in_process_bitwise(dask_cluster):
    items = [(seed,) for seed in range(6)]
    with DaskExecutor(dask_cluster.address) as dask:
        done = list(dask.run(flipflop_states, items))
        placed = list(dask.run(where_and_threads, [(i,) for i in range(8)]))
    assert sorted(d.index for d in done) == list(range(6))
    workers = set(dask_cluster.worker_pids)
    assert os.getpid() not in workers
    assert {d.pid for d in done} <= workers  # every unit ran in a worker, not here
    assert all(d.value[1] in workers and d.value[1] == d.pid for d in placed)
    assert all(d.value[2] == 1 for d in placed)  # one torch thread per worker thread
    reference = {d.index: d.value for d in InProcess().run(flipflop_states, items)}
    for d in done:
        assert d.value.dtype == reference[d.index].dtype
        assert np.array_equal(d.value, reference[d.index]), d.index  # bitwise


def test_a_worker_killed_mid_unit_loses_and_duplicates_nothing(dask_cluster, tmp_path):
    markers, release = tmp_path / "markers", tmp_path / "release"
    markers.mkdir()
    workers = set(dask_cluster.worker_pids)
    killed: list[int] = []
    problems: list[str] = []

    def kill_a_busy_worker():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            started = sorted(markers.iterdir(), key=lambda p: int(p.name.split("-")[2]))
            if started:
                unit, pid, _ = started[0].name.split("-")
                if int(pid) not in workers:
                    problems.append(f"unit {unit} started in pid {pid}, not in a worker")
                else:
                    dask_cluster.kill_worker(int(pid))  # it is inside hold_until_released
                    killed.append(int(pid))
                release.touch()
                return
            time.sleep(0.01)
        problems.append("no unit started")
        release.touch()

    killer = threading.Thread(target=kill_a_busy_worker)
    killer.start()
    try:
        with DaskExecutor(dask_cluster.address) as dask:
            done = list(
                dask.run(hold_until_released, [(i, str(markers), str(release)) for i in range(4)])
            )
    finally:
        killer.join()
    assert not problems, problems
    assert len(killed) == 1
    assert sorted(d.index for d in done) == [0, 1, 2, 3]  # every unit exactly once
    assert all(d.value == (d.index, d.pid) for d in done)
    survivors = workers - set(killed)
    assert {d.pid for d in done} <= survivors  # the interrupted unit was rerun elsewhere
    starts = [p.name.split("-") for p in markers.iterdir()]
    interrupted = [u for u, pid, _ in starts if int(pid) == killed[0]]
    assert interrupted, "the killed worker was not computing a unit"
    assert any(u == interrupted[0] and int(pid) in survivors for u, pid, _ in starts)


def test_the_executor_resubmits_a_unit_the_scheduler_gave_up_on(tmp_path):
    """With ``allowed-failures: 0`` the scheduler reports the first worker death as
    ``KilledWorker``: with ``retries=0`` the caller gets it; with ``retries=1`` ``run``
    submits the unit again and it completes on a surviving worker."""
    from distributed import KilledWorker

    from tests.study.conftest import start_dask_processes

    markers = tmp_path / "markers"
    markers.mkdir()
    config = {"allowed-failures": 0}
    with start_dask_processes(tmp_path / "c", n_workers=3, scheduler_config=config) as cluster:
        with DaskExecutor(cluster.address, retries=0) as dask:
            with pytest.raises(KilledWorker):
                list(dask.run(kill_own_worker_first_time, [(0, str(markers))]))
        with DaskExecutor(cluster.address, retries=1) as dask:
            done = list(dask.run(kill_own_worker_first_time, [(1, str(markers))]))
        workers = set(cluster.worker_pids)
    killed = {int(p.name.split("-")[1]) for p in markers.iterdir()}
    assert len(killed) == 2 and killed <= workers  # units 0 and 1 each killed a worker
    assert [d.index for d in done] == [0] and done[0].value == (1, done[0].pid)
    assert done[0].pid in workers - killed  # rerun on the third


def test_a_units_own_error_is_raised_once_not_retried(dask_cluster, tmp_path):
    with DaskExecutor(dask_cluster.address, retries=3) as dask:
        with pytest.raises(ValueError, match="unit 0 is broken"):
            list(dask.run(fail_once_counted, [(0, str(tmp_path))]))
    assert len([p for p in tmp_path.iterdir() if p.name.startswith("0-")]) == 1


def test_local_cluster_runs_units_in_its_worker_processes_one_torch_thread_each():
    with DaskExecutor("local", n_workers=2, threads_per_worker=2) as dask:
        pids = set(dask.client.run(os.getpid).values())
        done = list(dask.run(where_and_threads, [(i,) for i in range(4)]))
    assert len(pids) == 2 and os.getpid() not in pids
    assert {d.pid for d in done} <= pids and sorted(d.index for d in done) == [0, 1, 2, 3]
    assert all(d.value[2] == 1 for d in done)  # 2 worker threads: 1 torch thread per unit


# ------------------------------------------------------------------------ errors, SLURM
def test_bad_address_is_one_clear_line():
    with pytest.raises(ValueError, match="--dask takes 'local', 'slurm' or a scheduler address"):
        DaskExecutor("my-cluster")


def test_unreachable_scheduler_is_named():
    with pytest.raises(
        ConnectionError, match=r"no Dask scheduler answered at tcp://127\.0\.0\.1:9"
    ):
        DaskExecutor("tcp://127.0.0.1:9", cluster_options={"timeout": "1s"})


def test_missing_extra_names_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r"pip install 'rnnscope\[dask\]'"):
        DaskExecutor("local")
    monkeypatch.setitem(sys.modules, "dask_jobqueue", None)
    with pytest.raises(ImportError, match=r"pip install 'rnnscope\[dask\]'"):
        slurm_cluster()


def test_slurm_job_script_carries_the_options():
    pytest.importorskip("dask_jobqueue")
    cluster = slurm_cluster(
        cores=4,
        memory="8GB",
        walltime="02:30:00",
        partition="compute",
        account="neurolab",
        job_extra_directives=["--qos=short"],
        jobs=3,
    )
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    lines = script.splitlines()
    assert lines[0].startswith("#!")
    for expected in (
        "#SBATCH -p compute",
        "#SBATCH -A neurolab",
        "#SBATCH -n 1",
        "#SBATCH --cpus-per-task=4",
        "#SBATCH --mem=8G",
        "#SBATCH -t 02:30:00",
        "#SBATCH --qos=short",
        "export OMP_NUM_THREADS=1",
    ):
        assert expected in lines, (expected, script)
    assert "--nthreads 4" in script and "distributed.cli.dask_worker" in script
    assert lines.index("export OMP_NUM_THREADS=1") < next(
        i for i, line in enumerate(lines) if "dask_worker" in line
    )


def test_slurm_partition_given_twice_is_refused():
    pytest.importorskip("dask_jobqueue")
    with pytest.raises(ValueError, match="'queue' or 'partition', not both"):
        slurm_cluster(queue="a", partition="b")


def test_dask_slurm_mode_builds_the_cluster_and_connects_to_it():
    pytest.importorskip("dask_jobqueue")
    from dask_jobqueue import SLURMCluster

    # jobs=0: nothing is submitted (there is no SLURM here); the wiring is what is tested
    options = {"cores": 2, "memory": "2GB", "queue": "short", "jobs": 0}
    with DaskExecutor("slurm", cluster_options=options) as dask:
        assert isinstance(dask.cluster, SLURMCluster)
        assert dask.client.scheduler.address == dask.cluster.scheduler_address
        script = dask.cluster.job_script()
        assert dask.threads == 1  # one torch thread per Dask worker thread
    assert "#SBATCH -p short" in script and "--nthreads 2" in script
