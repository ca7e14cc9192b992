"""Studies end to end, resumed after SIGKILL without losing or repeating work."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rnnscope.cli import app
from rnnscope.study import Store, StudySpec, load, run_study, status

from ._tiny import spec_dict, tiny


def test_tiny_study_end_to_end(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a study's output is relative to where it runs
    result = CliRunner().invoke(app, ["run", str(tiny(tmp_path))])
    assert result.exit_code == 0, result.output
    store = Store(tmp_path / "tiny-study")
    frame = store.networks()
    assert len(frame) == 4 and frame["trained"].all() and frame["analyzed"].all()
    assert (frame["n_stable"] >= 1).all()
    with load(tmp_path / "tiny-study") as study:
        for name in ("svcca", "topology"):
            d = study.distances(name)
            assert d.shape == (4, 4) and list(d.index) == list(frame["network"])
            assert study.embedding(name)[["x", "y"]].shape == (4, 2)
    summary = (tmp_path / "tiny-study" / "report" / "summary.txt").read_text()
    assert summary.startswith("study 'tiny': FlipFlop(bits=2, steps=30, pulse_prob=0.05")
    index = (tmp_path / "tiny-study" / "report" / "index.html").read_text()
    for arch in ("gru", "vanilla"):  # each representative in PC1–PC2 and in PC1–PC3
        assert f"state_space_{arch}" in index and f"state_space_3d_{arch}" in index
    assert status(store)["finished"].all()
    shown = CliRunner().invoke(app, ["status", str(tmp_path / "tiny-study")])
    assert shown.exit_code == 0 and "analyze" in shown.output


def test_stages_skip_done_work_and_force_redoes_it(tmp_path):
    spec = StudySpec.model_validate(
        {"grid": {"architectures": ["gru"], "hidden_sizes": [8], "seeds": 2}, "train": {"max_steps": 50},
         "task": {"options": {"bits": 2, "steps": 20}}, "fixed_points": {"candidates": 32}}
    )  # fmt: skip
    root = tmp_path / "s"
    run_study(spec, root, stages=("train",)).close()
    stamp = Store(root).params_path(0).stat().st_mtime_ns
    run_study(spec, root).close()
    assert Store(root).params_path(0).stat().st_mtime_ns == stamp  # not retrained
    assert Store(root).stage_done("analyze") and Store(root).stage_done("compare")
    run_study(spec, root, force="train").close()
    assert Store(root).params_path(0).stat().st_mtime_ns != stamp


def counts(root: Path) -> tuple[int, int]:
    db = root / "index.sqlite"
    if not db.exists():
        return 0, 0
    try:
        with sqlite3.connect(db, timeout=1) as con:
            return con.execute("SELECT SUM(trained), SUM(analyzed) FROM networks").fetchone() or (
                0,
                0,
            )
    except sqlite3.Error:
        return 0, 0


def run_until_killed(spec_path: Path, root: Path, ready) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "rnnscope.cli", "run", str(spec_path), "--out", str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        trained, analyzed = (v or 0 for v in counts(root))
        if ready(trained, analyzed):
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"


@pytest.mark.parametrize("phase", ["train", "analyze"])
def test_killed_run_resumes_without_losing_or_repeating_work(tmp_path, phase):
    spec_path = tiny(tmp_path, archs='["gru", "vanilla", "ugrnn", "lstm"]', steps=400)
    # enough candidates that analysing 8 networks takes long enough to be caught mid-way
    spec_path.write_text(spec_path.read_text().replace("candidates = 64", "candidates = 2048"))
    root = tmp_path / "tiny-study"
    if phase == "train":
        run_until_killed(spec_path, root, lambda trained, analyzed: 0 < trained < 8)
    else:
        run_until_killed(
            spec_path, root, lambda trained, analyzed: trained == 8 and 0 < analyzed < 8
        )
    store = Store(root)
    before = store.networks()
    done_col = "trained" if phase == "train" else "analyzed"
    done = before.loc[before[done_col], "network"].tolist()
    path = store.params_path if phase == "train" else store.analysis_path
    stamps = {n: path(n).stat().st_mtime_ns for n in done}
    assert 0 < len(done) < 8
    store.close()

    result = CliRunner().invoke(app, ["run", str(spec_path), "--out", str(root)])
    assert result.exit_code == 0, result.output
    after = Store(root).networks()
    assert len(after) == 8 and after["network"].is_unique  # no duplicate rows
    assert after["trained"].all() and after["analyzed"].all()
    for n, stamp in stamps.items():  # finished work was not redone
        assert path(n).stat().st_mtime_ns == stamp


def test_cli_errors_are_one_line_with_nonzero_exit(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "bad.toml"
    bad.write_text("[grid]\nseeds = 0\n")
    result = CliRunner().invoke(app, ["run", str(bad)])
    assert result.exit_code == 1
    assert "grid.seeds" in result.output
    result = CliRunner().invoke(app, ["analyze", str(tmp_path)])
    assert result.exit_code == 1 and "not a study folder" in result.output
    result = CliRunner().invoke(app, ["run", str(tiny(tmp_path)), "--force", "everything"])
    assert result.exit_code == 1 and "--force 'everything'" in result.output


def test_init_writes_a_loadable_example(tmp_path):
    path = tmp_path / "s.toml"
    assert CliRunner().invoke(app, ["init", str(path)]).exit_code == 0
    assert CliRunner().invoke(app, ["init", str(path)]).exit_code == 1  # no silent overwrite
    from rnnscope.study import load_spec

    assert load_spec(path).name == "flipflop-universality"


def test_bundled_examples_load():
    from rnnscope.study import load_spec

    examples = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.toml"))
    assert [p.stem for p in examples] == ["context", "flipflop", "sentiment_imdb", "sine", "universality",
                                          "universality_context", "universality_sine"]  # fmt: skip
    tasks = {
        "universality": "flipflop",
        "universality_context": "context",
        "universality_sine": "sine",
    }
    for path in examples:
        spec = load_spec(path)
        assert spec.task.name == tasks.get(path.stem, path.stem.split("_")[0])
        if path.stem.startswith("universality"):  # paper scale
            assert spec.grid.size() >= (1000 if path.stem == "universality" else 200)


@pytest.mark.parametrize(
    "task, expect",
    [
        ("sine", "solved"),
        ("context", "per context, fixed-point set dimension"),
    ],
)
def test_task_readouts_reach_the_report(tmp_path, task, expect):
    options = {"sine": {"n_frequencies": 5, "steps": 40}, "context": {"steps": 30}}[task]
    spec = StudySpec.model_validate(
        {"task": {"name": task, "options": options},
         "grid": {"architectures": ["gru"], "hidden_sizes": [8], "seeds": 1},
         "train": {"max_steps": 40, "batch_size": 16}, "fixed_points": {"candidates": 32, "graph": False},
         "probe": {"batch_size": 8}}
    )  # fmt: skip
    run_study(spec, tmp_path / "s").close()
    text = (tmp_path / "s" / "report" / "summary.txt").read_text()
    assert "read-out:" in text and expect in text


@pytest.mark.parametrize("rule", ["auto", 2, 100, "variance"])
def test_distance_blocks_assemble_the_pairwise_matrix(tmp_path, rule):
    """Blocks of 3 networks (ragged edge) give exactly the pairwise matrix of the probe
    states the workers rebuilt from the parameters; a network's representation is
    computed once, not once per block. SVCCA keeps the study's one ``keep`` for every
    pair: "auto" = study_keep of all the networks' states (hidden 6 and 10 here)."""
    from rnnscope import compare
    from rnnscope.study import stages

    spec = StudySpec.model_validate(
        {"grid": {"architectures": ["gru", "vanilla"], "hidden_sizes": [6, 10], "seeds": 2}, "train": {"max_steps": 30},
         "task": {"options": {"bits": 2, "steps": 20}}, "fixed_points": {"candidates": 16}, "probe": {"batch_size": 8},
         "compare": {"geometry": ["cca", "svcca"], "topology": False, "svcca_keep": rule},
         "run": {"compare_block": 3}}
    )  # fmt: skip
    calls = []
    real = stages.prepare_unit

    def counted(*args):
        calls.extend(row["network"] for row in args[1])
        return real(*args)

    stages.prepare_unit = counted
    try:
        run_study(spec, tmp_path / "s").close()
    finally:
        stages.prepare_unit = real
    assert sorted(calls) == list(range(8))  # once per network
    with load(tmp_path / "s") as study:
        states = [study.probe_states(n) for n in range(8)]
        states = [x.reshape(-1, x.shape[-1]).astype(float) for x in states]
        assert sorted({x.shape[1] for x in states}) == [6, 10]
        keep = {"auto": compare.study_keep(states), 2: 2, 100: 6, "variance": None}[
            rule
        ]  # 100: clamped
        assert study.stage("compare")["svcca_keep"]["keep"] == keep
        for metric in ("cca", "svcca"):
            options = {"keep": keep} if metric == "svcca" and keep is not None else {}
            got = study.distances(metric).to_numpy()
            want = compare.pairwise(metric, states, **options)
            np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)
        blocks = study.store.blocks()
    assert len(blocks[blocks["name"] == "cca"]) == 6  # 3 block rows: 3 + 2 + 1 committed blocks


def test_sentiment_study_finds_line_attractors(tmp_path):
    """A text study end to end on the synthetic valence language: trained, baseline,
    line attractors with readout alignment, valence separation, report."""
    spec = StudySpec.model_validate(
        {"name": "valence", "task": {"name": "sentiment", "options": {"corpus": "synthetic", "synthetic_size": 2000}},
         "grid": {"architectures": ["gru", "ugrnn"], "hidden_sizes": [16], "seeds": 1},
         "train": {"max_epochs": 4, "batch_size": 32, "eval_every": 25, "embedding_size": 8},
         "fixed_points": {"candidates": 128},
         "probe": {"batch_size": 32}}
    )  # fmt: skip
    store = run_study(spec, tmp_path / "s")
    frame = store.networks()
    assert frame["trained"].all() and frame["analyzed"].all()
    assert (frame["test_accuracy"] > 0.9).all()
    from rnnscope.report import build_report

    with load(tmp_path / "s") as study:
        table = study.readout_table().set_index("architecture")
        assert study.fixed_points(0).linearization is not None  # Jacobians recomputed
        build_report(study)
    gru = table.loc["gru"]
    assert gru["fixed_points"] >= 2 and gru["line_variance_pc1"] > 0.85
    assert gru["readout_alignment"] > gru["null_alignment_95"]
    assert gru["valence_auc"] > 0.9
    assert d_shape(store) == (2, 2)
    text = (tmp_path / "s" / "report" / "summary.txt").read_text()
    assert "bag-of-words baseline: test accuracy" in text and "valence_auc" in text
    html = (tmp_path / "s" / "report" / "index.html").read_text()
    assert "Bag-of-words logistic regression" in html and "valence_drive" in html


def d_shape(store):
    with load(store.root) as study:
        return study.distances("svcca").shape


def test_a_killed_compare_resumes_with_the_missing_blocks_only(tmp_path):
    spec_path = tiny(tmp_path, archs='["gru", "vanilla", "ugrnn", "lstm"]', steps=60)
    text = spec_path.read_text().replace("[probe]", "[run]\ncompare_block = 1\n[probe]")
    spec_path.write_text(text)
    root = tmp_path / "s"
    run_study(load_spec_file(spec_path), root, stages=("train", "analyze")).close()

    def blocks() -> int:
        try:
            with sqlite3.connect(root / "index.sqlite", timeout=1) as con:
                return con.execute("SELECT COUNT(*) FROM blocks").fetchone()[0]
        except sqlite3.Error:
            return 0

    proc = subprocess.Popen([sys.executable, "-m", "rnnscope.cli", "compare", str(root)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and blocks() < 5:
        time.sleep(0.01)
    proc.kill()
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "compare finished before it could be killed"
    store = Store(root)
    before = store.blocks()
    assert 0 < len(before) < 3 * 36  # 8 networks, blocks of 1: 36 per matrix, 3 matrices
    result = CliRunner().invoke(app, ["compare", str(root)])
    assert result.exit_code == 0, result.output
    after = Store(root).blocks()
    assert len(after) == 3 * 36  # svcca, topology, linear dynamics
    kept = after.merge(before, on=["name", "row", "col"], suffixes=("", "_before"))
    assert len(kept) == len(before) and (kept["pid"] == kept["pid_before"]).all()  # not recomputed
    assert not (root / "compare" / "prepared").exists()  # the cache goes when the stage ends
    with load(root) as study:
        d = study.distances("svcca").to_numpy()
    assert np.allclose(d, d.T) and (np.diag(d) == 0).all() and (d[~np.eye(8, dtype=bool)] > 0).all()


def load_spec_file(path):
    from rnnscope.study import load_spec

    return load_spec(path)


def test_the_run_device_reaches_the_trainer_and_a_missing_gpu_is_one_line(tmp_path, monkeypatch):
    import torch

    from rnnscope.study import families

    seen = []
    real = families.train_population

    def spy(task, rows, config):
        seen.append(config.device)
        return real(task, rows, config)

    monkeypatch.setattr(families, "train_population", spy)
    spec = StudySpec.model_validate(
        {"grid": {"architectures": ["gru"], "hidden_sizes": [8], "seeds": 1}, "train": {"max_steps": 20},
         "task": {"options": {"bits": 2, "steps": 20}}, "fixed_points": {"candidates": 16}, "probe": {"batch_size": 8},
         "run": {"device": "cpu:0"}}
    )  # fmt: skip
    run_study(spec, tmp_path / "s", stages=("train",)).close()
    assert seen == ["cpu:0"]  # the spec's device, not a default
    if not torch.cuda.is_available():
        gpu = spec.model_copy(update={"run": spec.run.model_copy(update={"device": "cuda"})})
        result = CliRunner().invoke(app, ["train", str(tmp_path / "s"), "--device", "cuda"])
        assert result.exit_code == 1 and "no usable CUDA device" in result.output
        assert gpu.run.device == "cuda"


def test_the_chunk_a_network_trains_in_does_not_change_it(tmp_path):
    """``[run] train_chunk`` says how work is split, not what it computes (it is not
    part of the fingerprint): a network trained alone or with its group is bitwise the
    same."""
    params = {}
    for chunk in (4, 1):
        spec = StudySpec.model_validate(
            spec_dict(
                grid={"architectures": ["lstm", "vanilla"], "seeds": 2}, run={"train_chunk": chunk}
            )
        )
        run_study(spec, tmp_path / str(chunk), stages=("train",)).close()
        store = Store(tmp_path / str(chunk))
        params[chunk] = {
            int(n): store.load_arrays(store.params_path(int(n)))
            for n in store.networks()["network"]
        }
    assert sorted(params[4]) == sorted(params[1]) == [0, 1, 2, 3]
    for n, arrays in params[4].items():
        for k, v in arrays.items():
            assert np.array_equal(v, params[1][n][k]), (n, k)
