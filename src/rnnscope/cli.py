"""The ``rnnscope`` command line."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from . import __version__
from .tasks import TASKS, make_task
from .train import TrainConfig, TrainResult, make_grid, train_population

app = typer.Typer(
    help="Train populations of recurrent networks and reverse-engineer their dynamics.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()

#: the built-in small study: every architecture on the 3-bit flip-flop
DEFAULT_ARCHITECTURES = "vanilla,gru,lstm,ugrnn"


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


def _split(name: str, text: str, cast=str) -> list:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise typer.BadParameter(f"{name} is empty; give a comma-separated list.")
    try:
        return [cast(item) for item in items]
    except ValueError:
        raise typer.BadParameter(
            f"{name}: cannot read {text!r} as a list of {cast.__name__}."
        ) from None


@app.command()
def run(
    seeds: Annotated[int, typer.Option(min=1, help="Networks per architecture.")] = 3,
    hidden_size: Annotated[int, typer.Option(min=1, help="Units per network.")] = 64,
    max_steps: Annotated[int, typer.Option(min=1, help="Training-step budget per network.")] = 3000,
    out: Annotated[
        Path | None, typer.Option(help="Folder for networks.csv and history.csv.")
    ] = None,
) -> None:
    """Run the default study: vanilla, GRU, LSTM and UGRNN populations on the 3-bit flip-flop.

    Trains every network to the task's success criterion (99% correct output signs)
    with state noise σ = 0.1, so that memories become stable fixed points, and prints
    the summary table.
    """
    task = make_task("flipflop", bits=3)
    grid = make_grid(
        architectures=DEFAULT_ARCHITECTURES.split(","),
        hidden_sizes=[hidden_size],
        seeds=list(range(seeds)),
    )
    _train_and_report(task, grid, TrainConfig(max_steps=max_steps), out)


@app.command()
def train(
    task: Annotated[str, typer.Option(help=f"Task: {', '.join(TASKS)}.")] = "flipflop",
    architectures: Annotated[
        str, typer.Option(help="Comma-separated architectures.")
    ] = DEFAULT_ARCHITECTURES,
    hidden_sizes: Annotated[str, typer.Option(help="Comma-separated unit counts.")] = "64",
    activations: Annotated[str, typer.Option(help="For vanilla/ctrnn: tanh, relu.")] = "tanh",
    learning_rates: Annotated[
        str, typer.Option(help="Comma-separated Adam learning rates.")
    ] = "0.01",
    l2: Annotated[str, typer.Option(help="Comma-separated L2 coefficients.")] = "0",
    seeds: Annotated[int, typer.Option(min=1, help="Seeds per grid point (0, 1, ...).")] = 1,
    max_steps: Annotated[int, typer.Option(min=1, help="Training-step budget per network.")] = 3000,
    batch_size: Annotated[int, typer.Option(min=1, help="Trials per step.")] = 64,
    state_noise: Annotated[
        float, typer.Option(min=0.0, help="σ of hidden-state noise in training.")
    ] = 0.1,
    out: Annotated[
        Path | None, typer.Option(help="Folder for networks.csv and history.csv.")
    ] = None,
) -> None:
    """Train a hyperparameter grid on one task and print the summary table."""
    try:
        the_task = make_task(task)
        grid = make_grid(
            architectures=_split("architectures", architectures),
            hidden_sizes=_split("hidden-sizes", hidden_sizes, int),
            activations=_split("activations", activations),
            learning_rates=_split("learning-rates", learning_rates, float),
            l2=_split("l2", l2, float),
            seeds=list(range(seeds)),
        )
        config = TrainConfig(max_steps=max_steps, batch_size=batch_size, state_noise=state_noise)
    except (ValueError, TypeError) as err:
        raise typer.BadParameter(str(err)) from None
    _train_and_report(the_task, grid, config, out)


def _train_and_report(
    task, grid: pd.DataFrame, config: TrainConfig, out: Path | None
) -> TrainResult:
    console.print(f"[bold]{task!r}[/bold]: training {len(grid)} networks")
    start = time.perf_counter()
    result = train_population(task, grid, config, progress=True)
    wall = time.perf_counter() - start
    console.print(_summary_table(result))
    console.print(_network_table(result))
    counts = result.networks["status"].value_counts()
    console.print(
        f"{counts.get('solved', 0)} solved, {counts.get('unsolved', 0)} unsolved, "
        f"{counts.get('diverged', 0)} diverged, in {wall:.1f} s"
    )
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        result.networks.to_csv(out / "networks.csv", index=False)
        result.history.to_csv(out / "history.csv", index=False)
        console.print(f"wrote {out / 'networks.csv'} and {out / 'history.csv'}")
    return result


def _summary_table(result: TrainResult) -> Table:
    table = Table(title="Summary by architecture")
    for name in ("arch.", "nets", "solved", "diverged", "acc. (med)", "steps (med)", "wall s"):
        table.add_column(name, justify="left" if name == "arch." else "right", no_wrap=True)
    for row in result.summary().itertuples(index=False):
        table.add_row(
            row.architecture,
            str(row.networks),
            str(row.solved),
            str(row.diverged),
            f"{row.median_accuracy:.4f}",
            f"{row.median_steps:.0f}",
            f"{row.wall_time_s:.1f}",
        )
    return table


def _network_table(result: TrainResult) -> Table:
    table = Table(title="Networks")
    columns = {
        "network": ("id", str),
        "architecture": ("arch.", str),
        "activation": ("act.", lambda v: "-" if v is None or v != v else str(v)),
        "hidden_size": ("H", str),
        "learning_rate": ("lr", lambda v: f"{v:g}"),
        "l2": ("L2", lambda v: f"{v:g}"),
        "seed": ("seed", str),
        "status": ("status", str),
        "steps": ("steps", str),
        "eval_loss": ("MSE", lambda v: f"{v:.1e}"),
        "accuracy": ("acc.", lambda v: f"{v:.4f}"),
    }
    # hyperparameters that take one value across the grid add nothing per row
    frame = result.networks
    for col in ("activation", "hidden_size", "learning_rate", "l2"):
        if frame[col].astype(str).nunique() == 1:
            del columns[col]
    for col, (name, _) in columns.items():
        table.add_column(
            name, justify="left" if col in ("architecture", "status") else "right", no_wrap=True
        )
    for row in result.networks[list(columns)].itertuples(index=False):
        table.add_row(*(fmt(value) for (_, fmt), value in zip(columns.values(), row, strict=True)))
    return table


if __name__ == "__main__":
    app()
