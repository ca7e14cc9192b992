"""Population training: every network of a grid, trained in batched groups.

Networks that share ``(architecture, hidden_size, activation)`` have parameters of
the same shapes, so they train together as one population: one stacked parameter
set ``[n, ...]``, one batched forward/backward pass per step. Learning rate, L2
coefficient and seed are per-network vectors. Each network's loss depends only on
its own parameters, so summing the losses gives every network its own gradient.

A network leaves its group's working set when it solves the task (the task's
accuracy on a fixed evaluation batch reaches its success threshold), when its loss
turns NaN/inf or exceeds ``divergence_loss`` (status ``diverged``; its last finite
parameters are kept), or when the step budget runs out (``unsolved``). The rest of
the group trains on, faster.

Reproducibility: network ``n`` draws its initial weights and its state noise from
generators seeded by its own seed, and every network sees the same data stream
(``data_seed``), so its training does not depend on which other networks share its
group.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import pandas as pd
import torch

from .._allocator import retain_freed_memory
from .._progress import progress_bar
from ..cells import make_cell
from ..cells._base import Params
from ..network import RNN
from ..tasks import Task
from ..tasks._base import Batch
from ._population import Population
from .grid import check_grid

#: offsets that keep the data, evaluation and noise streams apart
_EVAL_SEED_OFFSET = 1_000_000_007
_NOISE_SEED_OFFSET = 2_000_000_011


@dataclass(frozen=True)
class TrainConfig:
    """How every network is trained.

    Attributes:
        max_steps: step budget per network (default 3000).
        batch_size: trials per step (default 64).
        state_noise: standard deviation σ of Gaussian noise added to the hidden
            state after every step during training (default 0.1). Without it a
            flip-flop network can reach 100% accuracy while holding its memories by
            slow drift; with σ = 0.1 the memories become stable fixed points.
        grad_clip: per-network gradient-norm clip (default 1.0; 0 disables).
        betas, eps: Adam's moment decay rates and epsilon.
        eval_every: steps between evaluations of the success criterion (default 50).
        eval_batch_size: trials in the fixed, noiseless evaluation batch (default 256).
        data_seed: seed of the training-batch stream and the evaluation batch.
        divergence_loss: a loss above this (or NaN/inf) marks a network diverged.
        stop_on_success: stop each network as soon as it solves the task (default).
        learn_initial_state: learn ``h0`` per network (default: start at zero).
        log_every: steps between entries of the loss history (default 10).
        cell_options: extra constructor options per architecture, e.g.
            ``{"gru": {"reset": "before"}, "lstm": {"forget_bias": 0.0}}``.
        retain_memory: keep freed memory in the process for the next step (glibc
            malloc settings; see ``rnnscope._allocator``). Default true: it saves
            30–50% of a step's time on Linux.
    """

    max_steps: int = 3000
    batch_size: int = 64
    state_noise: float = 0.1
    grad_clip: float = 1.0
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    eval_every: int = 50
    eval_batch_size: int = 256
    data_seed: int = 0
    divergence_loss: float = 1e6
    stop_on_success: bool = True
    learn_initial_state: bool = False
    log_every: int = 10
    cell_options: dict[str, dict] = field(default_factory=dict)
    retain_memory: bool = True

    def __post_init__(self) -> None:
        for name in ("max_steps", "batch_size", "eval_every", "eval_batch_size", "log_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"TrainConfig.{name} must be a positive integer, got {value!r}.")
        if not self.state_noise >= 0:
            raise ValueError(f"TrainConfig.state_noise must be >= 0, got {self.state_noise!r}.")
        if not self.grad_clip >= 0:
            raise ValueError(f"TrainConfig.grad_clip must be >= 0, got {self.grad_clip!r}.")
        if not all(0 <= b < 1 for b in self.betas) or len(self.betas) != 2:
            raise ValueError(
                f"TrainConfig.betas must be two numbers in [0, 1), got {self.betas!r}."
            )
        if not self.divergence_loss > 0:
            raise ValueError("TrainConfig.divergence_loss must be positive.")
        if self.data_seed < 0:
            raise ValueError("TrainConfig.data_seed must be >= 0.")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainedGroup:
    """Networks trained together: one :class:`RNN` and stacked parameters.

    Attributes:
        network: the shared architecture.
        ids: grid network ids, in the order of the population axis.
        params: parameters ``[len(ids), ...]``.
    """

    network: RNN
    ids: list[int]
    params: Params


@dataclass
class TrainResult:
    """What :func:`train_population` returns.

    Attributes:
        networks: one row per network: the grid's columns plus ``status``
            (``solved`` / ``unsolved`` / ``diverged``), ``steps``, ``loss`` (last
            training loss), ``eval_loss`` and ``accuracy`` (noiseless evaluation
            batch), ``wall_time_s`` (from its group's start until it stopped).
        history: ``network, step, loss, accuracy`` every ``log_every`` steps
            (accuracy where it was evaluated, else NaN).
        groups: the trained parameters, by group.
    """

    networks: pd.DataFrame
    history: pd.DataFrame
    groups: list[TrainedGroup]
    task: Task
    config: TrainConfig

    def network(self, network_id: int) -> tuple[RNN, Params]:
        """The architecture and parameters ``[1, ...]`` of one network."""
        for group in self.groups:
            if network_id in group.ids:
                i = group.ids.index(network_id)
                return group.network, {k: v[i : i + 1].clone() for k, v in group.params.items()}
        raise KeyError(f"no network with id {network_id}; ids run over result.networks['network'].")

    def summary(self) -> pd.DataFrame:
        """Per architecture: networks, solved, diverged, median accuracy and steps."""
        return architecture_summary(
            self.networks, median_steps=("steps", "median"), wall_time_s=("wall_time_s", "max")
        )


def architecture_summary(networks: pd.DataFrame, **extra) -> pd.DataFrame:
    """Per architecture: networks, solved, diverged, median accuracy, and any ``extra``
    pandas named aggregations (``name=(column, function)``)."""
    marked = networks.assign(
        solved=networks["status"].eq("solved"), diverged=networks["status"].eq("diverged")
    )
    return (
        marked.groupby("architecture", sort=False)
        .agg(
            networks=("network", "size"),
            solved=("solved", "sum"),
            diverged=("diverged", "sum"),
            median_accuracy=("accuracy", "median"),
            **extra,
        )
        .reset_index()
    )


ProgressCallback = Callable[[str, int, int], None]


def train_population(
    task: Task,
    grid: pd.DataFrame,
    config: TrainConfig | None = None,
    *,
    progress: bool | ProgressCallback = False,
) -> TrainResult:
    """Train every network of ``grid`` on ``task``.

    Args:
        task: the task to learn.
        grid: one row per network (see :func:`rnnscope.train.make_grid`).
        config: training settings (default :class:`TrainConfig`).
        progress: ``True`` for a progress bar per group on stderr, or a callback
            ``f(group_label, steps_done, max_steps)``.

    Returns:
        A :class:`TrainResult`.
    """
    if not isinstance(task, Task):
        raise TypeError(f"task must be an rnnscope Task, got {type(task).__name__}.")
    grid = check_grid(grid)
    config = config or TrainConfig()
    if config.retain_memory:
        retain_freed_memory()
    grouped = list(_groups(grid))
    eval_batch = task.sample(config.eval_batch_size, seed=config.data_seed + _EVAL_SEED_OFFSET)

    records, history, groups = [], [], []
    with _progress(progress, len(grouped)) as report:
        for arch, size, act, rows, label in grouped:
            options = dict(config.cell_options.get(arch, {}))
            if act is not None:
                options["activation"] = act
            cell = make_cell(arch, size, task.input_size, **options)
            net = RNN(cell, task.output_size, learn_initial_state=config.learn_initial_state)

            def group_report(done: int, final: bool = False, label: str = label) -> None:
                # a group that stops early ends its bar at the step it reached
                report(label, done, done if final else config.max_steps)

            params, recs, hist = _train_group(task, net, rows, config, eval_batch, group_report)
            groups.append(TrainedGroup(net, [int(i) for i in rows["network"]], params))
            records.extend(recs)
            history.extend(hist)
    return _result(grid, records, history, groups, task, config)


def _groups(grid: pd.DataFrame):
    """``(architecture, hidden_size, activation or None, rows, label)`` for each group of
    networks whose parameters share shapes."""
    keys = ["architecture", "hidden_size", "activation"]
    frame = grid.assign(activation=grid["activation"].astype(object))
    for (arch, size, activation), rows in frame.groupby(keys, sort=False, dropna=False):
        nan = isinstance(activation, float) and math.isnan(activation)
        act = None if activation is None or nan else activation
        yield arch, int(size), act, rows, f"{arch}-{size}" + (f"-{act}" if act else "")


def _result(grid, records, history, groups, task, config) -> TrainResult:
    results = pd.DataFrame(records).set_index("network")
    networks = grid.set_index("network").join(results).reset_index()
    hist_frame = pd.DataFrame(history, columns=["network", "step", "loss", "accuracy"])
    return TrainResult(networks, hist_frame, groups, task, config)


def _train_group(
    task, net: RNN, rows: pd.DataFrame, config: TrainConfig, eval_batch: Batch, report
):
    n = len(rows)
    ids = [int(i) for i in rows["network"]]
    seeds = [int(s) for s in rows["seed"]]
    pop = Population(
        net.init(n, seed=seeds),
        torch.tensor(rows["learning_rate"].to_numpy(), dtype=torch.float32),
        torch.tensor(rows["l2"].to_numpy(), dtype=torch.float32),
        betas=config.betas,
        eps=config.eps,
        grad_clip=config.grad_clip,
    )
    generators = [torch.Generator().manual_seed(s + _NOISE_SEED_OFFSET) for s in seeds]
    decay_keys = [k for k in pop.master if k.startswith("W_")]
    sigma = config.state_noise
    state_size = net.state_size

    status = ["unsolved"] * n
    steps_done = [config.max_steps] * n
    last_loss = [math.nan] * n
    accuracy = [math.nan] * n
    eval_loss = [math.nan] * n
    wall = [math.nan] * n
    history: list[tuple] = []

    start = time.perf_counter()
    for step in range(1, config.max_steps + 1):
        active, work = pop.active, pop.work
        batch = task.sample(config.batch_size, seed=config.data_seed * 1_000_003 + step)
        noise = None
        if sigma > 0:
            noise = torch.empty(len(active), config.batch_size, task.steps, state_size)
            for j, i in enumerate(active):
                torch.randn(noise.shape[1:], generator=generators[i], out=noise[j])
            noise.mul_(sigma)
        _, outputs = net.run(work, batch.inputs, noise=noise)
        mse = _masked_mse(outputs, batch)
        reg = sum(work[k].pow(2).flatten(1).sum(1) for k in decay_keys)
        loss = mse + pop.l2 * reg
        ok = pop.step(loss, step, limit=config.divergence_loss)

        loss_list = loss.detach().tolist()
        ok_list = ok.tolist()
        finished: list[int] = []
        for j, i in enumerate(active):
            last_loss[i] = loss_list[j]
            if not ok_list[j]:
                status[i], steps_done[i] = "diverged", step
                wall[i] = time.perf_counter() - start
                finished.append(i)

        evaluate = step % config.eval_every == 0 or step == config.max_steps
        accs = [math.nan] * len(active)
        if evaluate:
            with torch.no_grad():
                _, eval_out = net.run(work, eval_batch.inputs)
                accs = task.accuracy(eval_out, eval_batch).tolist()
                eval_mse = _masked_mse(eval_out, eval_batch).tolist()
            for j, i in enumerate(active):
                if not ok_list[j]:
                    continue
                accuracy[i], eval_loss[i] = accs[j], eval_mse[j]
                solved = accs[j] >= task.success_threshold
                if solved and config.stop_on_success:
                    status[i], steps_done[i] = "solved", step
                    wall[i] = time.perf_counter() - start
                    finished.append(i)
                elif step == config.max_steps:
                    status[i] = "solved" if solved else "unsolved"
        if step % config.log_every == 0 or evaluate or finished:
            history.extend((ids[i], step, loss_list[j], accs[j]) for j, i in enumerate(active))

        if finished or step == config.max_steps:
            pop.retire(finished)  # diverged networks did not move this step: last finite params
            if not pop.active:
                break
        report(step)

    report(step, final=True)
    end = time.perf_counter() - start
    records = [
        {
            "network": ids[i],
            "status": status[i],
            "steps": steps_done[i],
            "loss": last_loss[i],
            "eval_loss": eval_loss[i],
            "accuracy": accuracy[i],
            "wall_time_s": wall[i] if not math.isnan(wall[i]) else end,
        }
        for i in range(n)
    ]
    return pop.master, records, history


def _masked_mse(outputs: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Mean squared error per network over scored entries: ``[N, B, T, O] -> [N]``."""
    mask = batch.mask[..., None]
    err = (outputs - batch.targets).pow(2) * mask
    return err.flatten(1).sum(1) / (mask.sum() * outputs.shape[-1])


class _progress:
    """Context manager yielding ``report(label, done, total)``: rich bars or a callback."""

    def __init__(self, progress: bool | ProgressCallback, n_groups: int) -> None:
        self.progress = progress
        self.n_groups = n_groups
        self._bar = None
        self._tasks: dict[str, int] = {}

    def __enter__(self):
        if callable(self.progress):
            return self.progress
        if not self.progress:
            return lambda label, done, total: None
        self._bar = progress_bar()
        self._bar.__enter__()

        def report(label: str, done: int, total: int) -> None:
            if label not in self._tasks:
                self._tasks[label] = self._bar.add_task(f"train {label}", total=total)
            if done == total or done % 10 == 0:
                self._bar.update(self._tasks[label], completed=done, total=total)

        return report

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.__exit__(*exc)
        return False
