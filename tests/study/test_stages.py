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
from rnnscope.study import Store, StudySpec, load_distances, run_study, status

TINY = """
name = "tiny"
output = "tiny-study"
[grid]
architectures = {archs}
hidden_sizes = [8]
seeds = 2
[train]
max_steps = {steps}
batch_size = 16
eval_every = 25
[task]
options = {{ bits = 2, steps = 30 }}
[fixed_points]
candidates = 64
[probe]
batch_size = 16
"""


def tiny(tmp_path, archs='["gru", "vanilla"]', steps=200):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY.format(archs=archs, steps=steps))
    return path


def test_tiny_study_end_to_end(tmp_path):
    result = CliRunner().invoke(app, ["run", str(tiny(tmp_path))])
    assert result.exit_code == 0, result.output
    store = Store(tmp_path / "tiny-study")
    frame = store.networks()
    assert len(frame) == 4 and frame["trained"].all() and frame["analyzed"].all()
    assert (frame["n_stable"] >= 1).all()
    for name in ("svcca", "topology"):
        d = load_distances(store, name)
        assert d["distances"].shape == (4, 4) and d["embedding"].shape == (4, 2)
    assert (
        (tmp_path / "tiny-study" / "report" / "summary.txt").read_text().startswith("study 'tiny'")
    )
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
        [sys.executable, "-m", "rnnscope.cli", "run", str(spec_path)],
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

    result = CliRunner().invoke(app, ["run", str(spec_path)])
    assert result.exit_code == 0, result.output
    after = Store(root).networks()
    assert len(after) == 8 and after["network"].is_unique  # no duplicate rows
    assert after["trained"].all() and after["analyzed"].all()
    for n, stamp in stamps.items():  # finished work was not redone
        assert path(n).stat().st_mtime_ns == stamp


def test_cli_errors_are_one_line_with_nonzero_exit(tmp_path):
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
    assert [p.stem for p in examples] == ["context", "flipflop", "sentiment_imdb", "sine"]
    for path in examples:
        spec = load_spec(path)
        assert spec.task.name == path.stem.split("_")[0]


@pytest.mark.parametrize(
    "task, expect",
    [
        ("sine", "linearized vs target frequency"),
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


def test_distance_blocks_assemble_the_pairwise_matrix():
    from rnnscope import compare
    from rnnscope.study.executors import InProcess
    from rnnscope.study.stages import _geometry

    rng = np.random.default_rng(0)
    states = [rng.normal(size=(200, 6)) @ rng.normal(size=(6, 8)) for _ in range(7)]
    got = _geometry("cca", states, InProcess(), block=3)  # 3 x 3 blocks, ragged edge
    np.testing.assert_allclose(got, compare.pairwise("cca", states), atol=1e-12, rtol=0)


def test_sentiment_study_finds_line_attractors(tmp_path):
    """A text study end to end on the synthetic valence language: trained, baseline,
    line attractors with readout alignment, valence separation, report."""
    spec = StudySpec.model_validate(
        {"name": "valence", "task": {"name": "sentiment", "options": {"corpus": "synthetic", "synthetic_size": 2000}},
         "grid": {"architectures": ["gru", "ugrnn"], "hidden_sizes": [16], "seeds": 1},
         "train": {"max_epochs": 4, "batch_size": 32, "eval_every": 25, "embedding_size": 8},
         "fixed_points": {"candidates": 128, "graph": False},
         "probe": {"batch_size": 32}}
    )  # fmt: skip
    store = run_study(spec, tmp_path / "s")
    frame = store.networks()
    assert frame["trained"].all() and frame["analyzed"].all()
    assert (frame["test_accuracy"] > 0.9).all()
    from rnnscope.study import _text

    arrays = {int(n): store.load_arrays(store.analysis_path(int(n))) for n in frame["network"]}
    table = _text.summary_table(frame, list(arrays.values())).set_index("architecture")
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
    return load_distances(store, "svcca")["distances"].shape
