"""The command line: help and version (studies are tested in tests/study)."""

from typer.testing import CliRunner

from rnnscope.cli import app

runner = CliRunner()


def test_help_lists_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("run", "train", "analyze", "compare", "report", "status", "init"):
        assert command in result.output


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and "rnnscope" in result.output
