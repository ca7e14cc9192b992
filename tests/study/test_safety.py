"""A study folder never mixes results: spec fingerprints, grid growth, one writer,
recovery of lost files, escaped and current reports, bounded specs, one-line errors."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from rnnscope.cli import app
from rnnscope.report import build_report
from rnnscope.study import (
    SpecError,
    SpecMismatch,
    Store,
    StoreError,
    StudySpec,
    load,
    load_spec,
    run_study,
)
from rnnscope.study.spec import stored_spec

from ._tiny import spec_dict, tiny

runner = CliRunner()


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished tiny study (CLI run, report built), copied fresh by each test."""
    root = tmp_path_factory.mktemp("finished")
    spec = tiny(root)
    result = runner.invoke(app, ["run", str(spec), "--out", str(root / "study")])
    assert result.exit_code == 0, result.output
    return root / "study", spec


def copy_of(finished, tmp_path):
    root, spec = finished
    shutil.copytree(root, tmp_path / "study")
    return tmp_path / "study", spec


# ------------------------------------------------------------------ spec vs store
def test_grid_growth_extends_the_study(tmp_path):
    root = tmp_path / "s"
    run_study(StudySpec.model_validate(spec_dict()), root).close()
    store = Store(root)
    before = store.networks().set_index("key")["network"].to_dict()
    stamps = {n: store.params_path(n).stat().st_mtime_ns for n in before.values()}
    grown = StudySpec.model_validate(spec_dict(grid={"seeds": 3}))
    run_study(grown, root).close()
    after = Store(root).networks()
    assert len(after) == 6 and after["trained"].all() and after["analyzed"].all()
    assert after.set_index("key").loc[list(before), "network"].to_dict() == before  # ids kept
    for n, stamp in stamps.items():  # old networks not retrained
        assert store.params_path(n).stat().st_mtime_ns == stamp
    assert sorted(after.groupby("architecture")["seed"].apply(sorted).sum()) == [0, 0, 1, 1, 2, 2]
    with load(root) as study:
        assert study.distances("svcca").shape == (6, 6)
        history = study.spec_history
    assert (
        history["reason"].tolist()[0] == "created"
        and "grid grown: grid.seeds" in history["reason"].iloc[-1]
    )
    assert (
        StudySpec.model_validate_json(history["spec"].iloc[0]).grid.seeds == 2
    )  # the original is kept


@pytest.mark.parametrize(
    "update, key, stage",
    [
        ({"grid": {"hidden_sizes": [16]}}, "grid.hidden_sizes", "train"),
        ({"train": {"max_steps": 50}}, "train.max_steps", "train"),
        ({"task": {"options": {"bits": 3, "steps": 30}}}, "task.options.bits", "train"),
        ({"fixed_points": {"candidates": 64}}, "fixed_points.candidates", "analyze"),
        ({"compare": {"geometry": ["cka"]}}, "compare.geometry", "compare"),
    ],
)
def test_a_changed_spec_is_refused_before_anything_is_written(tmp_path, update, key, stage):
    root = tmp_path / "s"
    run_study(StudySpec.model_validate(spec_dict()), root).close()
    spec_file = (root / "spec.json").read_text()
    params = Store(root).params_path(0).read_bytes()
    changed = StudySpec.model_validate(spec_dict(**update))
    with pytest.raises(SpecMismatch, match=rf"{key} .* → .*--force {stage}"):
        run_study(changed, root)
    assert (root / "spec.json").read_text() == spec_file  # the original spec is not lost
    assert Store(root).params_path(0).read_bytes() == params
    assert not (root / "study.lock").exists()


def test_a_store_written_before_a_key_existed_reads_as_what_it_ran_with(tmp_path):
    """A spec recorded before ``compare.svcca_keep`` existed ran SVCCA with each
    network's 99% count: it reads as "variance", so today's default ("auto") is a
    change of the compare stage, refused on a finished compare, not silently mixed."""
    spec = StudySpec.model_validate(spec_dict())
    data = json.loads(spec.model_dump_json())
    del data["compare"]["svcca_keep"]
    assert stored_spec(json.dumps(data)).compare.svcca_keep == "variance"
    store = Store(tmp_path / "s", create=True)
    store.acquire()
    store.record_spec(json.dumps(data), "created")
    store.finish_stage("compare", {})
    store.close()
    with pytest.raises(
        SpecMismatch, match=r"compare.svcca_keep 'variance' → 'auto'.*--force compare"
    ):
        run_study(spec, tmp_path / "s")
    with load(tmp_path / "s") as study:
        assert study.spec.compare.svcca_keep == "variance"


def test_a_change_to_a_stage_that_has_not_run_is_taken(tmp_path):
    root = tmp_path / "s"
    run_study(StudySpec.model_validate(spec_dict()), root, stages=("train",)).close()
    changed = StudySpec.model_validate(spec_dict(fixed_points={"candidates": 64}))
    run_study(changed, root).close()  # nothing was analysed yet: nothing to mix
    with load(root) as study:
        assert study.spec.fixed_points.candidates == 64
        assert study.spec_history["reason"].iloc[-1].startswith("changed before analyze ran")


def test_a_change_drops_the_partial_caches_of_the_stage_it_affects(tmp_path):
    """A compare killed while preparing leaves representations but no block: a change
    of [compare] is taken (nothing committed), and those representations, made under
    the old spec, are dropped rather than reused."""
    root = tmp_path / "s"
    run_study(StudySpec.model_validate(spec_dict()), root, stages=("train", "analyze")).close()
    stale = root / "compare" / "prepared" / "svcca" / "network-00000.npz"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"made under the old spec")
    changed = StudySpec.model_validate(spec_dict(compare={"svcca_keep": 2}))
    run_study(changed, root, stages=("train",)).close()
    assert not stale.exists()
    assert Store(root).networks()["analyzed"].all()  # earlier stages untouched


def test_a_reset_compare_is_never_read_as_current(finished, tmp_path):
    """After ``--force compare`` (or grid growth) the previous matrices, embeddings and
    verdict are gone; a stopped compare is refused by the read API, not served."""
    root, _ = copy_of(finished, tmp_path)
    with load(root) as study:
        assert study.distances("svcca").shape == (4, 4) and study.verdict() is not None
    store = Store(root)
    store.reset("compare")
    store.close()
    assert not (root / "compare").exists()
    with load(root) as study:
        assert study.verdict() is None and study.comparisons == []
        with pytest.raises(StoreError, match="compare stage has not finished"):
            study.distances("svcca")


def test_force_accepts_the_change_and_keeps_the_history(tmp_path):
    root = tmp_path / "s"
    run_study(StudySpec.model_validate(spec_dict()), root, stages=("train",)).close()
    changed = StudySpec.model_validate(spec_dict(train={"max_steps": 50}))
    with pytest.raises(SpecMismatch):
        run_study(changed, root, stages=("train",), force="analyze")  # too late a stage
    run_study(changed, root, stages=("train",), force="train").close()
    frame = Store(root).networks()
    assert frame["trained"].all() and (frame["steps"] <= 50).all()
    with load(root) as study:
        assert len(study.spec_history) == 2 and study.spec.train.max_steps == 50


def test_two_study_files_in_one_folder_do_not_share_results(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = tmp_path / "a.toml"
    second = tmp_path / "b.toml"
    base = '[grid]\narchitectures = ["gru"]\nhidden_sizes = [8]\nseeds = 1\n[train]\nmax_steps = 30\n' \
           '[task]\noptions = { bits = 2, steps = 20 }\n[fixed_points]\ncandidates = 16\n'  # fmt: skip
    first.write_text(base)
    second.write_text(base.replace("bits = 2", "bits = 3"))
    assert cli("run", first).exit_code == 0
    result = cli("run", second)  # same default folder (the default name), another task
    assert result.exit_code == 1
    assert (
        "rnnscope-study holds results of a different study (task.options.bits 2 → 3)"
        in result.output
    )
    with load(tmp_path / "rnnscope-study") as study:
        assert study.spec.task.options == {"bits": 2, "steps": 20}


def test_output_defaults_to_the_name_relative_to_where_it_runs(tmp_path, monkeypatch):
    (tmp_path / "examples").mkdir()
    path = tmp_path / "examples" / "s.toml"
    path.write_text(tiny(tmp_path).read_text().replace('output = "tiny-study"\n', ""))
    monkeypatch.chdir(tmp_path)
    assert load_spec(path).folder == "tiny"
    result = cli("run", path, "--out", tmp_path / "elsewhere", "--force", "nothing")
    assert result.exit_code == 1 and not (tmp_path / "examples" / "tiny").exists()


# ------------------------------------------------------------------ one writer
def test_a_second_run_on_the_same_folder_fails_at_once(tmp_path):
    spec = tiny(tmp_path, archs='["gru", "vanilla", "lstm", "ugrnn"]', steps=2000)
    root = tmp_path / "s"
    proc = subprocess.Popen([sys.executable, "-m", "rnnscope.cli", "run", str(spec), "--out", str(root)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (root / "study.lock").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (root / "study.lock").exists()
        started = time.monotonic()
        result = cli("run", spec, "--out", root)
        assert result.exit_code == 1 and time.monotonic() - started < 30
        assert f"another rnnscope run (pid {proc.pid}) is writing this study" in result.output
    finally:
        proc.kill()
        proc.wait()
    # the killed run's lock is stale: the next run takes it over and finishes
    assert (root / "study.lock").exists()
    store = Store(root)
    store.acquire()
    assert json.loads((root / "study.lock").read_text())["pid"] == os.getpid()
    store.close()
    assert not (root / "study.lock").exists()


# ------------------------------------------------------------------ recovery
def test_a_lost_params_file_is_retrained_alone(finished, tmp_path):
    root, _spec = copy_of(finished, tmp_path)
    store = Store(root)
    stamps = {n: store.params_path(n).stat().st_mtime_ns for n in range(4)}
    store.params_path(1).unlink()
    truncated = store.analysis_path(2).read_bytes()
    store.analysis_path(2).write_bytes(truncated[: len(truncated) // 2])
    result = cli("analyze", root, "--force")  # analysis needs the lost parameters
    assert result.exit_code == 1 and "network(s) 1 are missing or corrupt" in result.output
    assert "rerun `rnnscope run STUDY`" in result.output
    result = cli("run", root)
    assert result.exit_code == 0, result.output
    frame = Store(root).networks()
    assert frame["trained"].all() and frame["analyzed"].all()
    assert store.params_path(1).exists()
    for n in (0, 2, 3):
        assert store.params_path(n).stat().st_mtime_ns == stamps[n]
    assert store.readable(store.analysis_path(2))


# ------------------------------------------------------------------ the report
def test_report_escapes_store_strings(finished, tmp_path):
    root, _ = copy_of(finished, tmp_path)
    evil = "solved<img src=x onerror=alert(1)>"
    with sqlite3.connect(root / "index.sqlite") as db:
        db.execute("UPDATE networks SET status=? WHERE network=0", (evil,))
        ((version, text),) = db.execute(
            "SELECT version, spec FROM specs ORDER BY version DESC LIMIT 1"
        )
        spec = json.loads(text)
        spec["name"] = "tiny<script>x</script>"
        db.execute("UPDATE specs SET spec=? WHERE version=?", (json.dumps(spec), version))
    with load(root) as study:
        path, _ = build_report(study)
    page = path.read_text()
    assert "<img src=x" not in page and "<script>x</script>" not in page
    assert "solved&lt;img src=x onerror=alert(1)&gt;" in page
    assert not [
        p for p in (root / "report" / "figures").iterdir() if p.name.startswith(".")
    ]  # no temporaries
    assert all(p.stat().st_size > 0 for p in (root / "report" / "figures").iterdir())


def test_report_is_rebuilt_only_when_out_of_date(finished, tmp_path):
    root, _ = copy_of(finished, tmp_path)
    index = root / "report" / "index.html"
    stamp = index.stat().st_mtime_ns
    result = cli("run", root)
    assert result.exit_code == 0 and "is current" in result.output
    assert index.stat().st_mtime_ns == stamp
    result = cli("analyze", root, "--force")
    assert result.exit_code == 0 and not index.exists()  # never an old report that looks current
    assert cli("run", root).exit_code == 0 and index.exists()


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    "text, match",
    [
        ("", "empty; a study names at least"),
        (
            "[grid]\nseeds = 1000000000\n",
            "grid.seeds: Input should be less than or equal to 100000",
        ),
        (
            '[grid]\narchitectures = ["gru"]\nhidden_sizes = [1000000]\n',
            "hidden sizes must lie in 1 … 4096",
        ),
        (
            "[grid]\nlearning_rates = [inf]\n",
            "grid.learning_rates.0: Input should be a finite number",
        ),
        ("[grid]\nl2 = [nan]\n", "grid.l2.0: Input should be a finite number"),
        ("[task]\noptions = { steps = 100000000 }\n", "steps = 1e\\+08 is too large"),
        (
            "[fixed_points]\ncandidates = 100000000\n",
            "fixed_points.candidates: Input should be less than",
        ),
        ("[grid]\nseeds = 30000\nhidden_sizes = [8, 16]\n", "the grid holds 240,000 networks"),
        ("[probe]\nbatch_size = 60000\n", "probe: 60000 trials × 100 steps"),
        (
            "[train]\nmax_epochs = 3\n",
            "train.max_epochs: unknown key for trial tasks like 'flipflop'",
        ),
        (
            '[task]\nname = "sentiment"\noptions = { corpus = "synthetic" }\n[fixed_points]\ngraph = true\n',
            "fixed_points.graph: unknown key for text tasks like 'sentiment'",
        ),
        ('output = ""\n', "output: must name a folder"),
    ],
)
def test_bad_values_are_refused_before_anything_is_allocated(tmp_path, text, match):
    path = tmp_path / "study.toml"
    path.write_text(text)
    started = time.monotonic()
    with pytest.raises(SpecError, match=match):
        load_spec(path)
    result = cli("run", path)
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert time.monotonic() - started < 20


def test_a_study_whose_networks_all_diverged_says_so(tmp_path):
    spec = StudySpec.model_validate(
        spec_dict(grid={"learning_rates": [1e9]}, train={"grad_clip": 0.0, "max_steps": 30})
    )
    run_study(spec, tmp_path / "s").close()
    summary = (tmp_path / "s" / "report" / "summary.txt").read_text()
    assert "every network diverged (4 of 4)" in summary
    with load(tmp_path / "s") as study:
        assert study.stage("compare")["skipped"].startswith("0 of 4 networks")
        path, _ = build_report(study)
    assert "Every network diverged (4 of 4)" in path.read_text()


# ------------------------------------------------------------------ store errors
@pytest.mark.parametrize(
    "damage, match",
    [
        (
            lambda r: (r / "index.sqlite").write_bytes(b"garbage" * 100),
            "index.sqlite: not a readable SQLite index",
        ),
        (
            lambda r: (r / "index.sqlite").write_bytes((r / "index.sqlite").read_bytes()[:100]),
            "index.sqlite",
        ),
        (lambda r: (r / "store.json").write_text("[1, 2]"), "store.json: not an rnnscope store"),
        (
            lambda r: (r / "store.json").write_text('{"format": "rnnscope-store", "version": 1}'),
            "version 1 was written by an older",
        ),
    ],
)
def test_a_damaged_store_is_one_line_through_the_cli(finished, tmp_path, damage, match):
    root, _ = copy_of(finished, tmp_path)
    for suffix in ("-wal", "-shm"):
        (root / f"index.sqlite{suffix}").unlink(missing_ok=True)
    damage(root)
    for command in (["status", root], ["run", root], ["report", root]):
        result = cli(*command)
        assert result.exit_code == 1, (command, result.output)
        assert match in result.output and "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1, result.output


def test_status_reads_a_read_only_folder(finished, tmp_path):
    root, _ = copy_of(finished, tmp_path)
    public = Path(tempfile.mkdtemp()) / "public"  # under /tmp: other users may enter it
    os.chmod(public.parent, 0o755)
    shutil.move(root, public)
    stamps = {p: p.stat().st_mtime_ns for p in public.rglob("*")}
    for path in [public, *public.rglob("*")]:
        os.chmod(path, 0o555 if path.is_dir() else 0o444)
    before = sorted(p.name for p in public.rglob("*"))
    command = [sys.executable, "-m", "rnnscope.cli", "status", str(public)]
    # as root the modes do not stop writes: then what shows it is that nothing was written
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    finally:
        for path in [public, *public.rglob("*")]:
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
    assert result.returncode == 0, result.stderr
    assert "analyze" in result.stdout and "train" in result.stdout
    assert sorted(p.name for p in public.rglob("*")) == before  # nothing written
    assert {p: p.stat().st_mtime_ns for p in public.rglob("*")} == stamps
    shutil.rmtree(public.parent)


def test_folder_argument_with_out_and_init_errors(finished, tmp_path):
    root, _spec = copy_of(finished, tmp_path)
    result = cli("run", root, "--out", tmp_path / "other")
    assert result.exit_code == 1 and "--out applies to a study file" in result.output
    result = cli("init", tmp_path / "missing" / "study.toml")
    assert result.exit_code == 1 and "no such folder" in result.output
    assert np.isfinite(Store(root).networks()["accuracy"]).all()


def test_force_train_on_a_changed_grid_finishes_without_the_old_networks(tmp_path):
    root = tmp_path / "s"
    run_study(StudySpec.model_validate(spec_dict()), root).close()
    changed = StudySpec.model_validate(spec_dict(grid={"hidden_sizes": [4]}))
    run_study(changed, root, force="train").close()
    frame = Store(root).networks()
    assert len(frame) == 4 and (frame["hidden_size"] == 4).all()
    assert frame["trained"].all() and frame["analyzed"].all()
    assert not Store(root).params_path(0).exists()  # the hidden-8 networks' files are gone


def test_the_same_grid_in_another_order_is_the_same_study(tmp_path):
    root = tmp_path / "s"
    run_study(StudySpec.model_validate(spec_dict()), root).close()
    reordered = StudySpec.model_validate(spec_dict(grid={"architectures": ["vanilla", "gru"]}))
    lines = []
    run_study(reordered, root, log=lines.append).close()
    assert not [line for line in lines if "grid grown" in line]
    assert len(Store(root).spec_history()) == 1 and Store(root).stage_done("compare")


@pytest.mark.parametrize(
    "name, text, match",
    [
        ("study.lock", "[1, 2]", None),  # not a lock rnnscope wrote: taken over
        (
            "store.json",
            '{"format": "rnnscope-store", "version": "2"}',
            "version '2' is not an integer",
        ),
    ],
)
def test_foreign_lock_and_manifest_contents(tmp_path, name, text, match):
    root = tmp_path / "s"
    Store(root, create=True).close()
    (root / name).write_text(text)
    if match is None:
        store = Store(root)
        store.acquire()
        assert json.loads((root / "study.lock").read_text())["pid"] == os.getpid()
        store.close()
    else:
        with pytest.raises(StoreError, match=match):
            Store(root)


def test_a_task_too_wide_to_allocate_is_refused(tmp_path):
    path = tmp_path / "study.toml"
    path.write_text("[task]\noptions = { bits = 1000000 }\n")
    with pytest.raises(SpecError, match="1,000,000 input or output channels; at most 100,000"):
        load_spec(path)


def test_the_store_keeps_what_cannot_be_recomputed_only(finished):
    """No probe states and no Jacobians on disk; the read API recomputes them exactly."""
    root, _ = finished
    with load(root) as study:
        stored = study.analysis(0)
        assert not {"probe_states", "jacobians", "input_jacobians"} & set(stored)
        fps = study.fixed_points(0)
        net, params = study.network(0)
        step = net.cell.bind(params)
        h = fps.points[:1]
        j = torch.func.jacrev(lambda x: step(x, fps.inputs[:1]))(h)[0, :, 0]
        assert torch.allclose(fps.linearization.jacobian[0], j, atol=1e-10)
        assert np.allclose(
            np.abs(fps.eigenvalues.numpy()),
            np.hypot(stored["eigenvalues_real"], stored["eigenvalues_imag"]),
            atol=1e-8,
        )
    per_network = sum(p.stat().st_size for p in root.rglob("*.npz") if "report" not in p.parts) / 4
    assert per_network < 0.3 * 2**20
