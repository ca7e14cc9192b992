"""Studies on a real Dask cluster (``dask scheduler`` + two ``dask worker`` processes on
127.0.0.1): every unit runs in a worker, never in the driver; the stored results are
bitwise those of an in-process run; a worker killed while it computes a unit loses and
duplicates nothing."""

import os
import threading
import time

import numpy as np
import pytest

from rnnscope.study import DaskExecutor, InProcess, Store, StudySpec, load, run_study

from ._tiny import spec_dict
from .conftest import start_dask_processes

pytest.importorskip("distributed")

SPEC = spec_dict(grid={"architectures": ["gru", "vanilla", "ugrnn"]}, train={"max_steps": 150}, fixed_points={"candidates": 64},
                 run={"train_chunk": 1, "compare_block": 2})  # fmt: skip


def contents(root):
    """Every stored array of a study, by file (compare: the distance matrices)."""
    out = {}
    with load(root) as study:
        for n in study.networks["network"]:
            out[f"params {n}"] = study.params(n)
            out[f"analysis {n}"] = study.analysis(n)
        for name in study.comparisons:
            out[f"distances {name}"] = {"d": study.distances(name).to_numpy()}
    return out


def assert_same(a, b):
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].keys() == b[name].keys(), name
        for key in a[name]:
            x, y = np.asarray(a[name][key]), np.asarray(b[name][key])
            floats = np.issubdtype(x.dtype, np.inexact)
            assert np.array_equal(x, y, equal_nan=floats), (name, key)


@pytest.fixture(scope="module")
def in_process(tmp_path_factory):
    root = tmp_path_factory.mktemp("local") / "s"
    run_study(StudySpec.model_validate(SPEC), root, executor=InProcess(threads=1)).close()
    return root


def test_every_unit_runs_in_a_worker_and_the_results_are_bitwise_in_process(
    dask_cluster, in_process, tmp_path
):
    executor = DaskExecutor(dask_cluster.address)
    try:
        run_study(StudySpec.model_validate(SPEC), tmp_path / "s", executor=executor).close()
    finally:
        executor.close()
    workers = set(dask_cluster.worker_pids)
    frame = Store(tmp_path / "s").networks()
    assert frame["trained"].all() and frame["analyzed"].all()
    # where the work ran: the workers' processes, never this one
    assert set(frame["train_pid"]) <= workers and set(frame["analyze_pid"]) <= workers
    assert os.getpid() not in set(frame["train_pid"]) | set(frame["analyze_pid"])
    assert len(set(frame["train_pid"]) | set(frame["analyze_pid"])) == 2  # both workers took units
    blocks = Store(tmp_path / "s").blocks()
    assert (
        len(blocks) == 3 * 6 and set(blocks["pid"]) <= workers
    )  # 3×3 blocks of 6 networks, ×3 matrices (svcca, topology, linear dynamics)
    assert_same(contents(in_process), contents(tmp_path / "s"))


def test_a_worker_killed_while_computing_a_unit_loses_and_duplicates_nothing(in_process, tmp_path):
    spec = StudySpec.model_validate(SPEC)
    with start_dask_processes(tmp_path) as cluster:
        executor = DaskExecutor(cluster.address)
        pids = executor.client.run(os.getpid)  # worker address -> pid
        killed = []

        def kill_a_worker_inside_a_unit():
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not killed:
                busy = executor.client.run(_executing)
                for address, keys in busy.items():
                    if any(k.startswith("train_unit") for k in keys):
                        cluster.kill_worker(pids[address])  # it is inside train_unit now
                        killed.append((pids[address], keys))
                        return
                time.sleep(0.05)

        killer = threading.Thread(target=kill_a_worker_inside_a_unit)
        killer.start()
        try:
            run_study(spec, tmp_path / "s", executor=executor).close()
        finally:
            killer.join()
            executor.close()
    assert killed, "no worker was caught computing a unit"
    frame = Store(tmp_path / "s").networks()
    assert len(frame) == 6 and frame["network"].is_unique
    assert frame["trained"].all() and frame["analyzed"].all()
    assert_same(contents(in_process), contents(tmp_path / "s"))  # the rerun unit gave the same


def _executing(dask_worker) -> list[str]:
    return [str(ts.key) for ts in dask_worker.state.executing]


class Unshared(InProcess):
    """In process, but as if the workers did not see the study folder: every input of
    a compare block must travel with the unit."""

    shared_filesystem = False

    def __init__(self):
        super().__init__(threads=1)
        self.inputs = []

    def run(self, fn, items):
        if fn.__name__ == "block_unit":  # (metric, side a, side b)
            self.inputs += [side for args in items for side in args[1:]]
        return super().run(fn, items)


def test_blocks_carry_their_inputs_when_workers_do_not_share_the_folder(in_process, tmp_path):
    executor = Unshared()
    run_study(StudySpec.model_validate(SPEC), tmp_path / "s", executor=executor).close()
    assert executor.inputs and all(isinstance(x, dict) for side in executor.inputs for x in side)
    assert_same(contents(in_process), contents(tmp_path / "s"))


def test_a_local_cluster_runs_the_study_in_its_workers(in_process, tmp_path):
    executor = DaskExecutor("local", n_workers=2, threads_per_worker=1)
    try:
        workers = set(executor.client.run(os.getpid).values())
        run_study(StudySpec.model_validate(SPEC), tmp_path / "s", executor=executor).close()
    finally:
        executor.close()
    frame = Store(tmp_path / "s").networks()
    assert set(frame["train_pid"]) <= workers and set(frame["analyze_pid"]) <= workers
    assert_same(contents(in_process), contents(tmp_path / "s"))


def test_sentiment_study_on_a_local_cluster(tmp_path):
    """Text units (training chunks, per-network analyses) run on workers as they do here."""
    spec = StudySpec.model_validate(
        {"task": {"name": "sentiment", "options": {"corpus": "synthetic", "synthetic_size": 600}},
         "grid": {"architectures": ["gru", "vanilla"], "hidden_sizes": [8], "seeds": 1},
         "train": {"max_epochs": 2, "batch_size": 32, "eval_every": 10, "embedding_size": 8},
         "fixed_points": {"candidates": 32}, "probe": {"batch_size": 16}}
    )  # fmt: skip
    run_study(spec, tmp_path / "local", executor=InProcess(threads=1)).close()
    executor = DaskExecutor("local", n_workers=2, threads_per_worker=1)
    try:
        workers = set(executor.client.run(os.getpid).values())
        run_study(spec, tmp_path / "dask", executor=executor).close()
    finally:
        executor.close()
    frame = Store(tmp_path / "dask").networks()
    assert set(frame["train_pid"]) <= workers and frame["analyzed"].all()
    assert_same(contents(tmp_path / "local"), contents(tmp_path / "dask"))
