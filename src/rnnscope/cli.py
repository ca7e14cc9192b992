"""The ``rnnscope`` command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from . import __version__
from .study import EXAMPLE, SpecError, StoreError, StudySpec, load_spec, run_study, status
from .study.executors import DaskExecutor, InProcess
from .study.stages import STAGES
from .study.store import Store

app = typer.Typer(
    help="Train populations of recurrent networks and reverse-engineer their dynamics.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
errors = Console(stderr=True)

#: where the built-in default study goes when no folder is named
DEFAULT_OUTPUT = Path("rnnscope-study")


def _version(value: bool) -> None:
    if value:
        console.print(f"rnnscope {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """rnnscope: tasks -> training -> fixed points -> comparison, over populations."""


def _log(line: str) -> None:
    # stage output is plain text: brackets in it are data, not rich markup
    console.print(line, markup=False, highlight=False)


def _fail(message: str) -> None:
    # escape: messages name extras like 'rnnscope[text]', which rich would take as markup
    errors.print(f"[red]error:[/red] {escape(str(message))}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def _resolve(study: Path | None, out: Path | None = None) -> tuple[StudySpec, Path]:
    """A study file, a study folder, or nothing (the built-in default study)."""
    if study is None:
        return StudySpec(), out or DEFAULT_OUTPUT
    if study.is_dir():
        spec_file = study / "spec.json"
        if not spec_file.exists():
            raise StoreError(
                f"{study}: not a study folder (no spec.json); pass the study's TOML file."
            )
        return StudySpec.model_validate_json(spec_file.read_text()), study
    spec = load_spec(study)
    return spec, out or (study.parent / spec.output)


def _run(
    study: Path | None,
    stages: tuple[str, ...],
    force: str | None,
    out: Path | None = None,
    dask: str | None = None,
) -> None:
    executor = None
    try:
        spec, root = _resolve(study, out)
        if force is not None and force not in STAGES:
            raise SpecError(f"--force {force!r}: choose one of {', '.join(STAGES)}.")
        executor = DaskExecutor(dask) if dask else InProcess()
        console.print(f"[bold]{spec.name}[/bold] → {root} ({executor!r})")
        store = run_study(
            spec,
            root,
            stages=stages,
            force=force,
            executor=executor,
            progress=sys.stderr.isatty(),
            log=_log,
        )
        store.close()
    except (SpecError, StoreError, RuntimeError, ValueError, ImportError, OSError) as err:
        _fail(str(err))
    finally:
        if executor is not None:
            executor.close()


StudyArg = Annotated[Path, typer.Argument(help="The study's TOML file, or its folder.")]
ForceOpt = Annotated[
    str | None, typer.Option("--force", help="Recompute this stage and the ones after it.")
]
DaskOpt = Annotated[
    str | None,
    typer.Option(
        "--dask", help="Run units on Dask: 'local' (a LocalCluster) or a scheduler tcp://HOST:PORT."
    ),
]


@app.command()
def run(
    study: Annotated[
        Path | None, typer.Argument(help="Study TOML (default: the built-in flip-flop study).")
    ] = None,
    force: ForceOpt = None,
    out: Annotated[
        Path | None, typer.Option(help="Study folder (default: the spec's `output`).")
    ] = None,
    dask: DaskOpt = None,
) -> None:
    """Run every stage of a study: train, analyze, compare, report.

    With no file: the built-in study — 3-bit flip-flop; vanilla, GRU, LSTM and UGRNN;
    64 units; 4 seeds each — into ./rnnscope-study. Resumes whatever is already done.
    """
    _run(study, STAGES, force, out, dask)


def _stage_command(stage: str, summary: str):
    def command(
        study: StudyArg,
        force: Annotated[bool, typer.Option("--force", help="Recompute it.")] = False,
        dask: DaskOpt = None,
    ):
        _run(study, (stage,), stage if force else None, dask=dask)

    command.__doc__ = summary
    command.__name__ = stage
    return command


app.command("train")(
    _stage_command("train", "Train the study's networks (skips those already trained).")
)
app.command("analyze")(
    _stage_command("analyze", "Fixed points, linearization and graphs of every network.")
)
app.command("compare")(
    _stage_command("compare", "Geometry and topology distance matrices, embeddings, silhouettes.")
)
app.command("report")(_stage_command("report", "Write the study's summary report."))


@app.command("status")
def status_command(study: StudyArg) -> None:
    """Show what each stage has done."""
    try:
        _, root = _resolve(study)
        store = Store(root)
        frame = status(store)
        store.close()
    except (SpecError, StoreError, ValueError) as err:
        _fail(str(err))
    table = Table(title=str(root))
    for col in frame.columns:
        table.add_column(col)
    for row in frame.itertuples(index=False):
        table.add_row(*(str(v) for v in row))
    console.print(table)


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the example study.")] = Path(
        "study.toml"
    ),
    overwrite: Annotated[bool, typer.Option(help="Replace an existing file.")] = False,
) -> None:
    """Write a commented example study file."""
    if path.exists() and not overwrite:
        _fail(f"{path} exists; pass --overwrite to replace it.")
    path.write_text(EXAMPLE)
    console.print(f"wrote {path}; run it with `rnnscope run {path}`")


if __name__ == "__main__":
    app()
