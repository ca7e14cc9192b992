"""The command line: help, a tiny training run, and clear errors."""

import pandas as pd
from typer.testing import CliRunner

from rnnscope.cli import app

runner = CliRunner()


def test_help_lists_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "run" in result.output and "train" in result.output


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and "rnnscope" in result.output


def test_train_writes_tables(tmp_path):
    result = runner.invoke(
        app,
        ["train", "--task", "flipflop", "--architectures", "gru,vanilla", "--hidden-sizes", "8",
         "--max-steps", "20", "--batch-size", "8", "--out", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Summary by architecture" in result.output
    networks = pd.read_csv(tmp_path / "networks.csv")
    assert list(networks["architecture"]) == ["gru", "vanilla"]
    assert set(networks["status"]) <= {"solved", "unsolved", "diverged"}
    history = pd.read_csv(tmp_path / "history.csv")
    assert set(history["network"]) == {0, 1}


def test_run_trains_the_default_study_population(tmp_path):
    result = runner.invoke(app, ["run", "--seeds", "1", "--hidden-size", "8", "--max-steps", "10",
                                 "--out", str(tmp_path)])  # fmt: skip
    assert result.exit_code == 0, result.output
    networks = pd.read_csv(tmp_path / "networks.csv")
    assert list(networks["architecture"]) == ["vanilla", "gru", "lstm", "ugrnn"]


def test_bad_options_exit_with_a_reason():
    result = runner.invoke(app, ["train", "--architectures", "gru,transformer"])
    assert result.exit_code == 2
    assert "unknown architecture 'transformer'" in result.output
    result = runner.invoke(app, ["train", "--task", "maze"])
    assert result.exit_code == 2 and "unknown task 'maze'" in result.output
    result = runner.invoke(app, ["train", "--learning-rates", "fast"])
    assert result.exit_code == 2 and "cannot read 'fast'" in result.output
