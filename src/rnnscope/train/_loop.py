"""The training skeleton both trainers share.

A grid is split into groups of networks whose parameters share shapes; each group
trains as one population (:class:`~rnnscope.train._population.Population`). Per step:
a batch, each network's own state noise, the loss (the recipe's data term plus each
network's L2), one optimiser step, divergence quarantine; every ``eval_every`` steps
the recipe evaluates and says which networks are done; finished networks leave the
working set. A *recipe* supplies what is specific to a trainer (trial tasks:
:mod:`.trainer`, text classification: :mod:`.text`).

Devices: parameters, batches and noise live on ``config.device``; what a trainer
returns (parameters, tables) is on the CPU. Per-network noise generators live on the
device too, so CPU runs are reproduced exactly and GPU runs are reproducible on the
same GPU (CUDA draws differ from CPU draws).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
import torch

from .._allocator import retain_freed_memory
from .._progress import progress_bar
from ..cells._base import Params
from . import optim
from ._population import Population
from .grid import check_grid, is_missing
from .result import TrainedGroup, TrainResult

#: offset that keeps each network's noise stream apart from its initialisation stream
NOISE_SEED_OFFSET = 2_000_000_011

ProgressCallback = Callable[[str, int, int], None]


def check_common(config: Any) -> None:
    """Checks of the fields every trainer config has; messages name the class."""
    name = type(config).__name__
    for field in ("batch_size", "eval_every", "eval_batch_size", "log_every"):
        value = getattr(config, field)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name}.{field} must be a positive integer, got {value!r}.")
    if not config.state_noise >= 0:
        raise ValueError(f"{name}.state_noise must be >= 0, got {config.state_noise!r}.")
    if not config.grad_clip >= 0:
        raise ValueError(f"{name}.grad_clip must be >= 0, got {config.grad_clip!r}.")
    if len(config.betas) != 2 or not all(0 <= b < 1 for b in config.betas):
        raise ValueError(f"{name}.betas must be two numbers in [0, 1), got {config.betas!r}.")
    if config.data_seed < 0:
        raise ValueError(f"{name}.data_seed must be >= 0.")
    if config.lr_schedule not in optim.SCHEDULES:
        raise ValueError(
            f"{name}.lr_schedule must be one of {', '.join(map(repr, optim.SCHEDULES))}, "
            f"got {config.lr_schedule!r}."
        )
    if config.backward not in ("fused", "autograd"):
        raise ValueError(f"{name}.backward must be 'fused' or 'autograd', got {config.backward!r}.")
    try:
        device = torch.device(config.device)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"{name}.device {config.device!r} is not a torch device; use 'cpu', 'cuda' or 'cuda:1'."
        ) from None
    object.__setattr__(config, "device", str(device))  # frozen dataclass: normalise once


def resolve_device(config: Any) -> torch.device:
    """``config.device`` as a usable device, or one clear error."""
    device = torch.device(config.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"{type(config).__name__}.device is {config.device!r} but this torch has no usable "
            "CUDA device; use device='cpu' or run where a GPU and a CUDA build of torch are."
        )
    return device


class GroupRun:
    """Per-network bookkeeping of one group: status, steps, last loss, wall time, history."""

    def __init__(self, rows: pd.DataFrame, max_steps: int, device: torch.device) -> None:
        self.ids = [int(i) for i in rows["network"]]
        self.seeds = [int(s) for s in rows["seed"]]
        self.n = len(self.ids)
        self.device = device
        self.max_steps = max_steps
        self.status = ["unsolved"] * self.n
        self.steps = [max_steps] * self.n
        self.loss = [math.nan] * self.n
        self.wall = [math.nan] * self.n
        self.history: list[tuple] = []
        self.start = time.perf_counter()

    def stop(self, i: int, step: int, status: str | None = None) -> None:
        """Network ``i`` (index in the group) stops at ``step``."""
        self.steps[i] = step
        self.wall[i] = time.perf_counter() - self.start
        if status is not None:
            self.status[i] = status

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def wall_time(self, i: int, end: float) -> float:
        return self.wall[i] if not math.isnan(self.wall[i]) else end


class NoiseStreams:
    """Each network's own Gaussian state noise, ``σ·ε`` with ``ε ~ N(0, 1)``, drawn from a
    generator seeded by its seed (so it does not depend on its group-mates)."""

    def __init__(self, seeds: list[int], sigma: float, state_size: int, device: torch.device):
        self.sigma, self.state_size, self.device = sigma, state_size, device
        self.generators = [
            torch.Generator(device=device).manual_seed(s + NOISE_SEED_OFFSET) for s in seeds
        ]

    def sample(self, active: list[int], batch: int, steps: int) -> torch.Tensor | None:
        """``[len(active), batch, steps, S]`` on the device, or ``None`` when σ = 0."""
        if self.sigma <= 0:
            return None
        noise = torch.empty(len(active), batch, steps, self.state_size, device=self.device)
        for j, i in enumerate(active):
            torch.randn(noise.shape[1:], generator=self.generators[i], out=noise[j])
        return noise.mul_(self.sigma)


class Recipe:
    """What a trainer adds to the skeleton (one recipe object serves all groups of a
    grid; groups train one after another, so per-group state may live on it).

    Attributes:
        config: the trainer's config (fields checked by :func:`check_common`, plus
            ``betas``, ``eps``, ``cell_options``, ``retain_memory``).
        max_steps: the step budget of every group.
        divergence_loss: a loss above this marks a network diverged.
    """

    config: Any
    max_steps: int
    divergence_loss: float = math.inf

    def network(
        self,
        architecture: str,
        hidden_size: int,
        activation: str | None,
        embedding_size: int | None = None,
    ):
        """The network object of a group (``embedding_size``: a grid's per-row value,
        ``None`` for the config's; only text classifiers have one)."""
        raise NotImplementedError

    def decay_keys(self, params: Params) -> list[str]:
        """Parameters the L2 penalty acts on."""
        return [k for k in params if k.startswith("W_")]

    def start(self, run: GroupRun, net, pop: Population) -> None:
        """Set up per-group state before the first step."""

    def batches(self, device: torch.device) -> Iterator:
        """The training batches on ``device``, at most ``max_steps`` of them."""
        raise NotImplementedError

    def loss(self, net, work: Params, batch, noise: NoiseStreams, active: list[int]):
        """Each working network's data loss ``[len(active)]``."""
        raise NotImplementedError

    def evaluate(self, run: GroupRun, net, pop: Population, ok: list[bool], step: int):
        """Evaluate the working networks; return ``(scores per active network, finished
        indices)`` and :meth:`GroupRun.stop` those that finish."""
        raise NotImplementedError

    def finish(self, run: GroupRun, net, pop: Population, last_step: int):
        """``(params [n, ...] to return, one record dict per network)``."""
        raise NotImplementedError


def train_grid(
    grid: pd.DataFrame, recipe: Recipe, task: object, progress: bool | ProgressCallback
) -> TrainResult:
    """Train every group of ``grid`` with ``recipe``; assemble the :class:`TrainResult`."""
    grid = check_grid(grid)
    config = recipe.config
    device = resolve_device(config)
    if config.retain_memory and device.type == "cpu":
        retain_freed_memory()
    grouped = list(groups(grid))
    records, history, trained = [], [], []
    with _Progress(progress) as report:
        for arch, size, act, emb, rows, label in grouped:
            net = recipe.network(arch, size, act, emb)

            def group_report(done: int, final: bool = False, label: str = label) -> None:
                # a group that stops early ends its bar at the step it reached
                report(label, done, done if final else recipe.max_steps)

            params, recs, hist = train_group(recipe, net, rows, device, group_report)
            trained.append(TrainedGroup(net, [int(i) for i in rows["network"]], params))
            records.extend(recs)
            history.extend(hist)
    results = pd.DataFrame(records).set_index("network")
    networks = grid.set_index("network").join(results).reset_index()
    hist_frame = pd.DataFrame(history, columns=["network", "step", "loss", "accuracy"])
    return TrainResult(networks, hist_frame, trained, task, config)


#: grid columns whose values set parameter shapes (or the cell): one group per combination
GROUP_KEYS = ["architecture", "hidden_size", "activation", "embedding_size"]


def group_frame(grid: pd.DataFrame) -> pd.DataFrame:
    """``grid`` with its group keys as plain objects, missing values ``None``, ready for
    ``groupby(GROUP_KEYS, sort=False, dropna=False)``."""
    if "embedding_size" not in grid:  # a grid built by hand before the column existed
        grid = grid.assign(embedding_size=None)
    keys = grid[GROUP_KEYS[2:]].astype(object)
    return grid.assign(**keys.where(keys.notna(), None))


def groups(grid: pd.DataFrame):
    """``(architecture, hidden_size, activation or None, embedding_size or None, rows,
    label)`` for each group of networks whose parameters share shapes."""
    frame = group_frame(check_grid(grid))
    for (arch, size, act, emb), rows in frame.groupby(GROUP_KEYS, sort=False, dropna=False):
        act = None if is_missing(act) else act
        emb = None if is_missing(emb) else int(emb)
        label = f"{arch}-{size}" + (f"-{act}" if act else "") + (f"-e{emb}" if emb else "")
        yield arch, int(size), act, emb, rows, label


def grad_clips(rows: pd.DataFrame, default: float) -> torch.Tensor | float:
    """Each row's gradient clip (the config's where the grid does not set one): ``[n]``,
    or the config's number when no row sets its own."""
    clips = rows["grad_clip"].astype(float) if "grad_clip" in rows else None
    if clips is None or clips.isna().all():
        return default
    return torch.tensor(clips.fillna(default).to_numpy(), dtype=torch.float32)


def train_group(recipe: Recipe, net, rows: pd.DataFrame, device: torch.device, report):
    """Train one group; return ``(params on the CPU, records, history rows)``."""
    config = recipe.config
    run = GroupRun(rows, recipe.max_steps, device)
    params = {k: v.to(device) for k, v in net.init(run.n, seed=run.seeds).items()}
    learning_rate = torch.tensor(rows["learning_rate"].to_numpy(), dtype=torch.float32)
    optimiser = optim.adam(
        learning_rate, *config.betas, config.eps, grad_clips(rows, config.grad_clip)
    )
    if config.lr_schedule != "constant":
        schedule = optim.schedule(config.lr_schedule, recipe.max_steps)
        optimiser = optim.chain(optimiser, optim.scale_by_schedule(schedule))
    pop = Population(params, optimiser, torch.tensor(rows["l2"].to_numpy(), dtype=torch.float32))
    noise = NoiseStreams(run.seeds, config.state_noise, net.state_size, device)
    decay = recipe.decay_keys(params)
    recipe.start(run, net, pop)

    step = 0
    for step, batch in enumerate(recipe.batches(device), start=1):
        active, work = pop.active, pop.work
        reg = sum(work[k].pow(2).flatten(1).sum(1) for k in decay)
        loss = recipe.loss(net, work, batch, noise, active) + pop.l2 * reg
        ok = pop.step(loss, step, limit=recipe.divergence_loss)

        loss_list, ok_list = loss.detach().tolist(), ok.tolist()
        finished: list[int] = []
        for j, i in enumerate(active):
            run.loss[i] = loss_list[j]
            if not ok_list[j]:
                run.stop(i, step, "diverged")
                finished.append(i)

        evaluate = step % config.eval_every == 0 or step == recipe.max_steps
        scores = [math.nan] * len(active)
        if evaluate:
            scores, done = recipe.evaluate(run, net, pop, ok_list, step)
            finished.extend(done)
        if step % config.log_every == 0 or evaluate or finished:
            run.history.extend(
                (run.ids[i], step, loss_list[j], scores[j]) for j, i in enumerate(active)
            )
        if finished or step == recipe.max_steps:
            pop.retire(finished)  # diverged networks did not move this step: last finite params
            if not pop.active:
                break
        report(step)
    report(step, final=True)
    params, records = recipe.finish(run, net, pop, step)
    return {k: v.detach().cpu() for k, v in params.items()}, records, run.history


class _Progress:
    """Context manager yielding ``report(label, done, total)``: rich bars or a callback."""

    def __init__(self, progress: bool | ProgressCallback) -> None:
        self.progress = progress
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
