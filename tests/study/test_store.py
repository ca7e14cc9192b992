"""The store: atomic, pickle-free, versioned; bad files are named."""

import json
import zipfile

import numpy as np
import pytest

from rnnscope.study import Store, StoreError
from rnnscope.train import make_grid


def test_round_trip_and_no_temporary_files(tmp_path):
    store = Store(tmp_path / "s", create=True)
    store.add_networks(make_grid(architectures=["gru"], seeds=[0, 1]))
    arrays = {"a": np.arange(6.0).reshape(2, 3), "b": np.array([True, False])}
    store.save_arrays(store.analysis_path(1), arrays)
    back = store.load_arrays(store.analysis_path(1))
    assert set(back) == {"a", "b"} and np.array_equal(back["a"], arrays["a"])
    assert not list((tmp_path / "s" / "analysis").glob(".*"))  # temporaries renamed away
    frame = store.networks()
    assert list(frame["network"]) == [0, 1] and not frame["trained"].any()
    store.add_networks(make_grid(architectures=["gru"], seeds=[0, 1]))  # again: no duplicates
    assert len(store.networks()) == 2


def test_truncated_and_corrupted_files_are_named(tmp_path):
    store = Store(tmp_path, create=True)
    path = store.analysis_path(0)
    store.save_arrays(path, {"a": np.zeros(1000)})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(StoreError, match=rf"{path}: truncated or corrupted"):
        store.load_arrays(path)
    path.write_bytes(b"not a zip at all")
    with pytest.raises(StoreError, match=str(path)):
        store.load_arrays(path)
    with pytest.raises(StoreError, match="missing"):
        store.load_arrays(store.analysis_path(5))


def test_pickle_payload_is_refused_not_run(tmp_path):
    store = Store(tmp_path, create=True)
    path = store.params_path(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    # an object array is stored as a pickle inside the .npz
    np.savez(path, evil=np.array([{"x": 1}], dtype=object))
    with zipfile.ZipFile(path) as z:
        assert any(name.endswith(".npy") for name in z.namelist())
    with pytest.raises(StoreError, match="pickled object; refused"):
        store.load_arrays(path)


def test_newer_format_and_foreign_folders(tmp_path):
    Store(tmp_path / "s", create=True).close()
    manifest = tmp_path / "s" / "store.json"
    manifest.write_text(json.dumps({"format": "rnnscope-store", "version": 99}))
    with pytest.raises(StoreError, match="version 99 is newer"):
        Store(tmp_path / "s")
    with pytest.raises(StoreError, match="not an rnnscope study folder"):
        Store(tmp_path / "elsewhere")
    manifest.write_text("{not json")
    with pytest.raises(StoreError, match="unreadable"):
        Store(tmp_path / "s")


@pytest.mark.parametrize(
    "error, match",
    [
        (
            OSError(28, "No space left on device"),
            "no space left on the device; free some space and rerun",
        ),
        (
            PermissionError(13, "Permission denied"),
            "permission denied .*give another output folder",
        ),
    ],
)
def test_write_failures_are_one_line_naming_the_file(tmp_path, monkeypatch, error, match):
    store = Store(tmp_path / "s", create=True)
    path = store.params_path(3)

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr("rnnscope.study.store.np.savez_compressed", fail)
    with pytest.raises(StoreError, match=match) as info:
        store.save_arrays(path, {"a": np.zeros(3)})
    assert str(path) in str(info.value) and not list(path.parent.glob(".*"))  # no temporary left
    monkeypatch.setattr("rnnscope.study.store.os.replace", fail)
    with pytest.raises(StoreError, match=match):
        store.write_text("spec.json", "{}")


def test_ids_follow_hyperparameters_not_rows(tmp_path):
    store = Store(tmp_path / "s", create=True)
    first = store.add_networks(make_grid(architectures=["gru", "vanilla"], seeds=[0, 1]))
    grown = store.add_networks(make_grid(architectures=["gru", "lstm", "vanilla"], seeds=[0, 1, 2]))
    ids = dict(
        zip(first["architecture"] + first["seed"].astype(str), first["network"], strict=True)
    )
    again = dict(
        zip(grown["architecture"] + grown["seed"].astype(str), grown["network"], strict=True)
    )
    assert all(again[k] == v for k, v in ids.items())  # same network, same id, whatever its row
    assert sorted(again.values()) == list(range(9)) and len(store.networks()) == 9


def test_readonly_store_writes_nothing(tmp_path):
    store = Store(tmp_path / "s", create=True)
    store.add_networks(make_grid(architectures=["gru"], seeds=[0]))
    store.close()
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "s").iterdir()}
    reader = Store(tmp_path / "s", readonly=True)
    assert len(reader.networks()) == 1
    with pytest.raises(StoreError, match="opened read-only"):
        reader.finish_stage("train", {})
    reader.close()
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "s").iterdir()} == before


def test_stores_without_the_search_columns_open_and_keep_their_keys(tmp_path):
    import sqlite3

    store = Store(tmp_path / "s", create=True)
    store.add_networks(make_grid(architectures=["gru"], learning_rates=[0.01], seeds=[0]))
    store.close()
    db = sqlite3.connect(tmp_path / "s" / "index.sqlite")
    ((key,),) = db.execute("SELECT key FROM networks").fetchall()
    assert key == "gru|64|-|0.01|0.0|0"  # the key earlier versions gave this network
    db.execute("ALTER TABLE networks DROP COLUMN grad_clip")  # as an earlier version wrote it
    db.execute("ALTER TABLE networks DROP COLUMN embedding_size")
    db.commit()
    db.close()
    frame = Store(tmp_path / "s", readonly=True).networks()
    assert frame["grad_clip"].isna().all()
    store = Store(tmp_path / "s")
    again = store.add_networks(make_grid(architectures=["gru"], learning_rates=[0.01], seeds=[0]))
    assert list(again["network"]) == [0] and len(store.networks()) == 1
    clipped = store.add_networks(
        make_grid(architectures=["gru"], learning_rates=[0.01], seeds=[0], grad_clips=[0.5])
    )
    assert list(clipped["network"]) == [1]  # another clip: another network
    assert store.networks().set_index("network").loc[1, "grad_clip"] == 0.5
