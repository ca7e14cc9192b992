"""Population training on trial tasks: every network of a grid, trained in batched groups.

Networks that share ``(architecture, hidden_size, activation)`` have parameters of
the same shapes, so they train together as one population: one stacked parameter
set ``[n, ...]``, one batched forward/backward pass per step. Learning rate, L2
coefficient and seed are per-network vectors. Each network's loss depends only on
its own parameters, so summing the losses gives every network its own gradient.
The loop itself is the skeleton in :mod:`rnnscope.train._loop`; this module adds the
trial-task recipe: masked MSE, the success criterion and the statuses.

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
from dataclasses import asdict, dataclass, field

import pandas as pd
import torch

from ..cells import make_cell
from ..network import RNN
from ..tasks import Task
from ..tasks._base import Batch
from ._loop import ProgressCallback, Recipe, check_common, train_grid
from .result import TrainedGroup, TrainResult, architecture_summary

__all__ = [
    "ProgressCallback",
    "TrainConfig",
    "TrainResult",
    "TrainedGroup",
    "architecture_summary",
    "train_population",
]

#: offset that keeps the evaluation batch apart from the training stream
_EVAL_SEED_OFFSET = 1_000_000_007


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
        lr_schedule: ``"constant"`` (default) or ``"cosine"``: each network's learning
            rate times ``½(1 + cos(π t / max_steps))`` at step ``t``.
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
            malloc settings; see ``rnnscope._allocator``; CPU only). Default true: it
            saves 30–50% of a step's time on Linux.
        device: where the networks train (``"cpu"``, default; ``"cuda"``, ``"cuda:1"``).
            Parameters, batches and noise live there; the returned parameters are
            always CPU tensors, and CPU results do not depend on this field. What is
            CPU-specific stays on the CPU: the glibc allocator settings, the time
            chunking of the fused backward pass, and the LSTM's dispatch to torch's
            oneDNN kernel (``RNN.hidden_and_outputs``). Off the CPU every cell runs
            the population's fused pass (plain torch ops, so it runs unchanged on a
            GPU); a cell without one (GRU ``reset="before"``) trains through autograd
            there as here. ``bench/gpu_check.py`` measures fused against autograd on a GPU.
        backward: ``"fused"`` (default: the hand-written backward pass where the cell
            has one, and the oneDNN LSTM kernel where it applies) or ``"autograd"``
            (torch autograd through ``Cell.step`` for every cell, on any device; the
            same gradients to float rounding).
    """

    max_steps: int = 3000
    batch_size: int = 64
    state_noise: float = 0.1
    grad_clip: float = 1.0
    lr_schedule: str = "constant"
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
    device: str = "cpu"
    backward: str = "fused"

    def __post_init__(self) -> None:
        if (
            isinstance(self.max_steps, bool)
            or not isinstance(self.max_steps, int)
            or self.max_steps <= 0
        ):
            raise ValueError(
                f"TrainConfig.max_steps must be a positive integer, got {self.max_steps!r}."
            )
        check_common(self)
        if not self.divergence_loss > 0:
            raise ValueError("TrainConfig.divergence_loss must be positive.")

    def to_dict(self) -> dict:
        return asdict(self)


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
        config: training settings (default :class:`TrainConfig`); ``config.device``
            says where (parameters come back on the CPU).
        progress: ``True`` for a progress bar per group on stderr, or a callback
            ``f(group_label, steps_done, max_steps)``.

    Returns:
        A :class:`TrainResult`.
    """
    if not isinstance(task, Task):
        raise TypeError(f"task must be an rnnscope Task, got {type(task).__name__}.")
    return train_grid(grid, _TrialRecipe(task, config or TrainConfig()), task, progress)


class _TrialRecipe(Recipe):
    """Masked MSE on sampled trials; a network is done when it solves the task."""

    def __init__(self, task: Task, config: TrainConfig) -> None:
        self.task, self.config = task, config
        self.max_steps = config.max_steps
        self.divergence_loss = config.divergence_loss
        self.fused = None if config.backward == "fused" else False
        self.eval_batch = task.sample(
            config.eval_batch_size, seed=config.data_seed + _EVAL_SEED_OFFSET
        )

    def network(self, architecture, hidden_size, activation, embedding_size=None) -> RNN:
        if embedding_size is not None:
            raise ValueError(
                "the grid sets embedding_size, which only text classifiers have; "
                "drop embedding_sizes from the grid of a trial task."
            )
        options = dict(self.config.cell_options.get(architecture, {}))
        if activation is not None:
            options["activation"] = activation
        cell = make_cell(architecture, hidden_size, self.task.input_size, **options)
        return RNN(cell, self.task.output_size, learn_initial_state=self.config.learn_initial_state)

    def start(self, run, net, pop) -> None:
        self.accuracy = [math.nan] * run.n
        self.eval_loss = [math.nan] * run.n
        self.eval_on_device = _to(self.eval_batch, run.device)

    def batches(self, device):
        c = self.config
        for step in range(1, c.max_steps + 1):
            yield _to(self.task.sample(c.batch_size, seed=c.data_seed * 1_000_003 + step), device)

    def loss(self, net, work, batch, noise, active):
        e = noise.sample(active, batch.inputs.shape[0], batch.inputs.shape[1])
        _, outputs = net.hidden_and_outputs(work, batch.inputs, noise=e, fused=self.fused)
        return _masked_mse(outputs, batch)

    def evaluate(self, run, net, pop, ok, step):
        with torch.no_grad():
            _, out = net.hidden_and_outputs(pop.work, self.eval_on_device.inputs, fused=self.fused)
            eval_mse = _masked_mse(out, self.eval_on_device).tolist()
            accs = self.task.accuracy(out.cpu(), self.eval_batch).tolist()
        finished = []
        for j, i in enumerate(pop.active):
            if not ok[j]:
                continue
            self.accuracy[i], self.eval_loss[i] = accs[j], eval_mse[j]
            solved = accs[j] >= self.task.success_threshold
            if solved and self.config.stop_on_success:
                run.stop(i, step, "solved")
                finished.append(i)
            elif step == self.max_steps:
                run.status[i] = "solved" if solved else "unsolved"
        return accs, finished

    def finish(self, run, net, pop, last_step):
        end = run.elapsed()
        records = [
            {
                "network": run.ids[i],
                "status": run.status[i],
                "steps": run.steps[i],
                "loss": run.loss[i],
                "eval_loss": self.eval_loss[i],
                "accuracy": self.accuracy[i],
                "wall_time_s": run.wall_time(i, end),
            }
            for i in range(run.n)
        ]
        return pop.master, records


def _to(batch: Batch, device: torch.device) -> Batch:
    if batch.inputs.device == device:
        return batch
    return Batch(
        *(t.to(device, non_blocking=True) for t in (batch.inputs, batch.targets, batch.mask))
    )


def _masked_mse(outputs: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Mean squared error per network over scored entries: ``[N, B, T, O] -> [N]``."""
    mask = batch.mask[..., None]
    err = (outputs - batch.targets).pow(2) * mask
    return err.flatten(1).sum(1) / (mask.sum() * outputs.shape[-1])
