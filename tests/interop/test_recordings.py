"""Recorded activity: loaders, a ranking of models, and the study report's ranking."""

from datetime import UTC

import numpy as np
import pandas as pd
import pytest

from rnnscope.interop import load_recording, rank_models
from rnnscope.report import build_report
from rnnscope.study import StudySpec, load, load_spec, run_study


def test_loaders(tmp_path):
    data = np.random.default_rng(0).normal(size=(50, 4))
    np.save(tmp_path / "a.npy", data)
    np.savez(tmp_path / "b.npz", activity=data)
    np.savez(tmp_path / "two.npz", x=data, y=data)
    pd.DataFrame(data, columns=list("abcd")).to_csv(tmp_path / "c.csv", index=False)
    np.savetxt(tmp_path / "d.tsv", data, delimiter="\t")
    for name in ("a.npy", "b.npz", "c.csv", "d.tsv"):
        np.testing.assert_allclose(load_recording(tmp_path / name), data, atol=1e-12)
    np.testing.assert_allclose(load_recording(tmp_path / "two.npz", key="y"), data)
    with pytest.raises(ValueError, match="pass key= to choose one"):
        load_recording(tmp_path / "two.npz")
    np.save(tmp_path / "bad.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="pickled object; refused"):
        load_recording(tmp_path / "bad.npy")
    with pytest.raises(FileNotFoundError, match="no such recording"):
        load_recording(tmp_path / "missing.npy")
    np.save(tmp_path / "flat.npy", data[:, 0])
    with pytest.raises(ValueError, match="must be \\[samples, units\\]"):
        load_recording(tmp_path / "flat.npy")


def test_the_model_a_recording_came_from_ranks_first():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(800, 5))
    models = [np.tanh(z @ rng.normal(size=(5, 16)) * g) for g in (0.5, 1.5, 3.0)]
    recording = models[1] @ rng.normal(size=(16, 30)) + 0.01 * rng.normal(
        size=(800, 30)
    )  # "neurons"
    ranking = rank_models(models, recording, metric="svcca", names=["a", "b", "c"])
    assert ranking["model"].iloc[0] == "b"
    assert ranking["distance"].is_monotonic_increasing


def test_study_report_ranks_networks_against_a_recording(tmp_path):
    spec = StudySpec.model_validate(
        {"grid": {"architectures": ["gru", "vanilla"], "hidden_sizes": [8], "seeds": 1},
         "train": {"max_steps": 100, "batch_size": 16}, "task": {"options": {"bits": 2, "steps": 20}},
         "fixed_points": {"candidates": 32}, "probe": {"batch_size": 8}}
    )  # fmt: skip
    run_study(spec, tmp_path / "s", stages=("train", "analyze")).close()
    # a "recording": network 1's probe states seen through 20 mixed neurons
    with load(tmp_path / "s") as study:
        probe = study.probe_states(1).reshape(-1, 8)
    np.save(tmp_path / "rec.npy", probe @ np.random.default_rng(2).normal(size=(8, 20)))
    toml = tmp_path / "study.toml"
    toml.write_text('[grid]\narchitectures = ["gru", "vanilla"]\nhidden_sizes = [8]\nseeds = 1\n'
                    '[train]\nmax_steps = 100\nbatch_size = 16\n[task]\noptions = { bits = 2, steps = 20 }\n'
                    '[fixed_points]\ncandidates = 32\n[probe]\nbatch_size = 8\n'
                    '[compare]\nrecording = "rec.npy"\n')  # fmt: skip
    loaded = load_spec(toml)
    assert loaded.compare.recording == str((tmp_path / "rec.npy").resolve())
    run_study(loaded, tmp_path / "s").close()
    ranking = np.load(tmp_path / "s" / "compare" / "recording_svcca.npz")
    # the source network first, well ahead of the other (SVCCA's 99% cut makes it not exactly 0)
    assert (
        int(ranking["networks"][0]) == 1 and ranking["distances"][0] < 0.5 * ranking["distances"][1]
    )
    with load(tmp_path / "s") as study:
        page = build_report(study)[0].read_text()
    assert "Networks against the recording" in page and "is not the same computation" in page


def test_nwb_time_series(tmp_path):
    pynwb = pytest.importorskip("pynwb")
    from datetime import datetime

    data = np.random.default_rng(3).normal(size=(120, 7))
    nwb = pynwb.NWBFile("rnnscope test", "id-1", datetime(2026, 1, 1, tzinfo=UTC))
    nwb.add_acquisition(pynwb.TimeSeries(name="rates", data=data, unit="Hz", rate=100.0))
    path = tmp_path / "session.nwb"
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    np.testing.assert_allclose(load_recording(path), data)
    np.testing.assert_allclose(load_recording(path, key="rates"), data)
    with pytest.raises(ValueError, match="no acquisition series 'spikes'"):
        load_recording(path, key="spikes")
