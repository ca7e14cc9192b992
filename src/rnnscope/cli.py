"""The ``rnnscope`` command line."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from . import __version__
from .study import EXAMPLE, SpecError, StoreError, StudySpec, load, load_spec, run_study, status
from .study.executors import DaskExecutor, InProcess
from .study.stages import STAGES, STUDY_STAGES
from .study.store import Store

app = typer.Typer(
    help="Train populations of recurrent neural networks and reverse-engineer their dynamics.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
errors = Console(stderr=True)


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
    console.print(line, markup=False, highlight=False, soft_wrap=True)


def _fail(message: str) -> None:
    # escape: messages name extras like 'rnnscope[text]', which rich would take as markup
    errors.print(f"[red]error:[/red] {escape(str(message))}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def _resolve(study: Path | None, out: Path | None = None) -> tuple[StudySpec, Path]:
    """A study file, a study folder, or nothing (the built-in default study). A study
    file's folder is its ``output`` (default: its ``name``), relative to the current
    directory; ``--out`` overrides it."""
    if study is None:
        spec = StudySpec()
        return spec, out or Path(spec.folder)
    if study.is_dir():
        if out is not None:
            raise SpecError(f"--out applies to a study file; {study} is a study folder already.")
        if not (study / "store.json").exists():
            raise StoreError(
                f"{study}: not a study folder (no store.json); pass the study's TOML file."
            )
        with load(study) as existing:
            return existing.spec, study
    spec = load_spec(study)
    return spec, out or Path(spec.folder)


def _executor(dask: str | None, threads: int | None, spec: StudySpec):
    if dask is None:
        return InProcess(threads=threads or os.cpu_count() or 1)
    if dask == "slurm":
        if spec.cluster is None:
            raise SpecError(
                "--dask slurm needs a [cluster] section in the study file (see `rnnscope init`)."
            )
        return DaskExecutor("slurm", cluster_options=spec.cluster.cluster_options())
    return DaskExecutor(dask)


def _run(
    study: Path | None,
    stages: tuple[str, ...],
    force: str | None,
    out: Path | None = None,
    dask: str | None = None,
    threads: int | None = None,
    device: str | None = None,
) -> None:
    executor = None
    try:
        spec, root = _resolve(study, out)
        if force is not None and force not in STAGES:
            raise SpecError(f"--force {force!r}: choose one of {', '.join(STAGES)}.")
        if threads is not None and threads < 1:
            raise SpecError(f"--threads {threads}: give at least 1.")
        if device is not None:
            spec = spec.model_copy(update={"run": spec.run.model_copy(update={"device": device})})
        executor = _executor(dask, threads, spec)
        console.print(
            f"[bold]{escape(spec.name)}[/bold] → {escape(str(root))} ({executor!r})",
            highlight=False,
        )
        store = run_study(
            spec,
            root,
            stages=tuple(s for s in stages if s in STUDY_STAGES),
            force=force,
            executor=executor,
            progress=True,  # a bar on a terminal, plain lines in a log
            log=_log,
        )
        try:
            if "report" in stages:
                _report(store, rebuild=force == "report", executor=executor, log=_log)
        finally:
            store.close()
        _print_summary(root)
    except (SpecError, StoreError, RuntimeError, ValueError, ImportError, OSError) as err:
        _fail(str(err))
    except KeyboardInterrupt:
        _fail("interrupted; finished work is kept: rerun the same command to resume.")
    except MemoryError as err:
        _fail(
            f"out of memory ({err}); use fewer or smaller networks, trials or candidates. Finished work is kept."
        )
    finally:
        if executor is not None:
            executor.close()


def _report(store: Store, rebuild: bool, executor=None, log=_log) -> None:
    """Build the HTML report unless a current one exists."""
    from .report import build_report

    index = store.root / "report" / "index.html"
    if not rebuild and store.stage_done("report") and index.exists():
        log(f"report: {index} is current")
        return
    with load(store.root) as study:
        path, seconds = build_report(study, executor=executor, progress=True)
    store.finish_stage("report", {"path": str(path), "seconds": seconds})
    log(f"report: {path} ({seconds:.1f} s)")


def _print_summary(root: Path) -> None:
    from .study.summary import print_summary, summary_parts

    with Store(root, readonly=True) as store:
        parts = summary_parts(store)
    if sys.stdout.isatty():
        print_summary(parts, console)
    else:
        from .study.summary import plain_text

        sys.stdout.write(plain_text(parts))


StudyArg = Annotated[Path, typer.Argument(help="The study's TOML file, or its folder.")]
ForceOpt = Annotated[
    str | None, typer.Option("--force", help="Recompute this stage and the ones after it.")
]
DaskOpt = Annotated[
    str | None,
    typer.Option(
        "--dask",
        help="Run units on Dask: 'local' (a LocalCluster), a scheduler tcp://HOST:PORT, or 'slurm' "
        "(dask-jobqueue, from the study's \\[cluster] section).",
    ),
]
ThreadsOpt = Annotated[
    int | None,
    typer.Option(
        "--threads",
        help="torch threads in this process (default: the machine's cores; Dask workers: 1).",
    ),
]
DeviceOpt = Annotated[
    str | None,
    typer.Option("--device", help="torch device, e.g. cuda (default: the spec's [run] device)."),
]


@app.command()
def run(
    study: Annotated[
        Path | None,
        typer.Argument(help="Study TOML or folder (default: the built-in flip-flop study)."),
    ] = None,
    force: ForceOpt = None,
    out: Annotated[
        Path | None, typer.Option(help="Study folder (default: the spec's output, else its name).")
    ] = None,
    dask: DaskOpt = None,
    threads: ThreadsOpt = None,
    device: DeviceOpt = None,
) -> None:
    """Run every stage of a study: train, analyze, compare, report.

    With no file: the built-in study — 3-bit flip-flop; vanilla, GRU, LSTM and UGRNN;
    64 units; 4 seeds each — into ./rnnscope-study. Resumes whatever is already done.
    """
    _run(study, STAGES, force, out, dask, threads, device)


def _stage_command(stage: str, summary: str):
    def command(
        study: StudyArg,
        force: Annotated[
            bool, typer.Option("--force", help="Recompute it (and what follows).")
        ] = False,
        dask: DaskOpt = None,
        threads: ThreadsOpt = None,
        device: DeviceOpt = None,
    ):
        _run(study, (stage,), stage if force else None, dask=dask, threads=threads, device=device)

    command.__doc__ = summary
    command.__name__ = stage
    return command


app.command("train")(
    _stage_command("train", "Train the study's networks (skips those already trained).")
)
app.command("analyze")(
    _stage_command("analyze", "Fixed points, linearization and graphs of every network.")
)
app.command("compare")(_stage_command("compare", "Distance matrices, embeddings, silhouettes."))
app.command("report")(_stage_command("report", "Write the study's HTML report (if not current)."))


@app.command("status")
def status_command(study: StudyArg) -> None:
    """Show what each stage has done (reads the folder only)."""
    try:
        _, root = _resolve(study)
        with Store(root, readonly=True) as store:
            frame = status(store)
    except (SpecError, StoreError, ValueError, OSError) as err:
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
    if path.is_dir():
        _fail(f"{path} is a folder; name the study file to write, e.g. {path / 'study.toml'}.")
    if path.exists() and not overwrite:
        _fail(f"{path} exists; pass --overwrite to replace it.")
    if not path.parent.is_dir():
        _fail(f"{path.parent}: no such folder; create it first or write the file elsewhere.")
    try:
        path.write_text(EXAMPLE)
    except OSError as err:
        _fail(f"{path}: {err.strerror}.")
    console.print(f"wrote {path}; run it with `rnnscope run {path}`")


if __name__ == "__main__":
    app()
