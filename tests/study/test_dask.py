"""Studies on a Dask LocalCluster: the same results; a killed worker loses nothing."""

import os
import signal
import sqlite3
import threading
import time

import numpy as np
import pytest

from rnnscope.study import DaskExecutor, InProcess, Store, StudySpec, run_study

pytest.importorskip("distributed")

SPEC = {
    "grid": {"architectures": ["gru", "vanilla", "ugrnn"], "hidden_sizes": [8], "seeds": 2},
    "train": {"max_steps": 150, "batch_size": 16, "eval_every": 25},
    "task": {"options": {"bits": 2, "steps": 30}},
    "fixed_points": {"candidates": 64},
    "probe": {"batch_size": 16},
}


def trained(root) -> int:
    try:
        with sqlite3.connect(root / "index.sqlite", timeout=1) as con:
            return con.execute("SELECT COALESCE(SUM(trained), 0) FROM networks").fetchone()[0]
    except sqlite3.Error:
        return 0


def stored_params(root):
    store = Store(root)
    out = {n: store.load_arrays(store.params_path(n)) for n in store.networks()["network"]}
    frame = store.networks()
    store.close()
    return out, frame


def in_process_and_on_dask(spec, tmp_path):
    """Run ``spec`` in process and on a 2-worker LocalCluster; check the stored
    parameters are identical (same seeds); return both network tables."""
    run_study(spec, tmp_path / "local", executor=InProcess(threads=1)).close()
    dask = DaskExecutor("local", n_workers=2, threads_per_worker=1)
    try:
        run_study(spec, tmp_path / "dask", executor=dask).close()
    finally:
        dask.close()
    a, frame_a = stored_params(tmp_path / "local")
    b, frame_b = stored_params(tmp_path / "dask")
    assert a.keys() == b.keys()
    for n in a:
        for key in a[n]:
            assert np.array_equal(a[n][key], b[n][key]), (n, key)
    return frame_a, frame_b


def test_local_cluster_gives_the_same_study_as_in_process(tmp_path):
    spec = StudySpec.model_validate(SPEC)
    frame_a, frame_b = in_process_and_on_dask(spec, tmp_path)
    assert frame_a["n_stable"].tolist() == frame_b["n_stable"].tolist()
    # distance blocks computed on the workers: the same matrix as pairwise on the driver
    from rnnscope import compare
    from rnnscope.study import load_distances

    for root in (tmp_path / "local", tmp_path / "dask"):
        store = Store(root)
        states = [store.load_arrays(store.analysis_path(n))["probe_states"] for n in range(6)]
        got = load_distances(store, "svcca")["distances"]
        store.close()
        np.testing.assert_allclose(got, compare.pairwise("svcca", states), atol=1e-12, rtol=0)


def test_study_completes_when_a_worker_dies(tmp_path):
    spec = StudySpec.model_validate({**SPEC, "train": {**SPEC["train"], "max_steps": 600}})
    dask = DaskExecutor("local", n_workers=2, threads_per_worker=1)
    pids = list(dask.client.run(os.getpid).values())
    killed_at = []

    def kill_one():
        # once the first group is committed, the others are running on the workers
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and trained(tmp_path / "s") == 0:
            time.sleep(0.01)
        os.kill(pids[0], signal.SIGKILL)
        killed_at.append(time.monotonic())

    killer = threading.Thread(target=kill_one)
    killer.start()
    try:
        run_study(spec, tmp_path / "s", executor=dask).close()
        finished_at = time.monotonic()
    finally:
        killer.join()
        dask.close()
    assert killed_at and killed_at[0] < finished_at  # the worker died while the study ran
    _, frame = stored_params(tmp_path / "s")
    assert len(frame) == 6 and frame["network"].is_unique
    assert frame["trained"].all() and frame["analyzed"].all()


def test_bad_dask_address_is_named():
    with pytest.raises(ValueError, match="--dask takes 'local' or a scheduler address"):
        DaskExecutor("my-cluster")


def test_running_scheduler_by_address(tmp_path):
    from distributed import LocalCluster

    spec = StudySpec.model_validate({**SPEC, "grid": {**SPEC["grid"], "architectures": ["gru"]}})
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        assert cluster.scheduler_address.startswith("tcp://")
        executor = DaskExecutor(cluster.scheduler_address)
        try:
            run_study(spec, tmp_path / "s", executor=executor).close()
        finally:
            executor.close()
    _, frame = stored_params(tmp_path / "s")
    assert frame["trained"].all() and frame["analyzed"].all()


def test_sentiment_study_on_a_local_cluster(tmp_path):
    """Text units (training groups, per-network analyses) run on workers as they do here."""
    spec = StudySpec.model_validate(
        {"task": {"name": "sentiment", "options": {"corpus": "synthetic", "synthetic_size": 600}},
         "grid": {"architectures": ["gru", "vanilla"], "hidden_sizes": [8], "seeds": 1},
         "train": {"max_epochs": 2, "batch_size": 32, "eval_every": 10, "embedding_size": 8},
         "fixed_points": {"candidates": 32, "graph": False}, "probe": {"batch_size": 16}}
    )  # fmt: skip
    frame_a, frame_b = in_process_and_on_dask(spec, tmp_path)
    assert frame_a["test_accuracy"].tolist() == frame_b["test_accuracy"].tolist()
    assert frame_b["analyzed"].all()
