"""Population training of text classifiers, with validation early stopping.

Networks that share ``(architecture, hidden_size, activation)`` train together as
one population (see :mod:`rnnscope.train.trainer`): every step all of them read the
same batch of texts, each through its own embedding, cell and readout, and each takes
its own Adam step (its own learning rate and L2). The loss is the binary
cross-entropy of the logit read from the state after each text's last token.

Every ``eval_every`` steps each network is scored on the whole validation split. Its
best parameters so far (by validation accuracy) are kept; a network stops after
``patience`` evaluations without improvement, or when the epochs run out, and returns
its best parameters. Test accuracy is then measured once, on those.

Statuses: ``solved`` (best validation accuracy ≥ ``success_accuracy``), ``unsolved``
or ``diverged`` (NaN/inf loss or gradient; its best finite parameters are kept).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import pandas as pd
import torch
import torch.nn.functional as F

from .._allocator import retain_freed_memory
from ..cells import make_cell
from ..cells._base import Params
from ..network import TextRNN
from ..tasks.text.dataset import TextDataset
from ._population import Population
from .grid import check_grid
from .trainer import (
    ProgressCallback,
    TrainedGroup,
    TrainResult,
    _groups,
    _progress,
    _result,
)

_NOISE_SEED_OFFSET = 2_000_000_011


@dataclass(frozen=True)
class TextTrainConfig:
    """How every text classifier is trained.

    Attributes:
        embedding_size: ``D``, the embedding width and the cell's input size (default 64).
        embedding_scale: standard deviation of the initial embeddings (default 0.05;
            see :class:`rnnscope.TextRNN`).
        max_epochs: passes over the training split at most (default 4).
        batch_size: texts per step (default 64); batches group texts of similar length.
        eval_every: steps between validation evaluations (default 100).
        patience: evaluations without a better validation accuracy before a network
            stops (default 4).
        eval_batch_size: texts per batch when evaluating (default 256).
        success_accuracy: best validation accuracy at which a network counts as
            ``solved`` (default 0.8).
        state_noise: σ of Gaussian noise added to the state each step (default 0).
        grad_clip: per-network gradient-norm clip (default 1.0; 0 disables).
        betas, eps: Adam's.
        data_seed: seeds the order of training batches.
        log_every: steps between loss-history entries (default 10).
        cell_options: extra constructor options per architecture.
        retain_memory: see :class:`rnnscope.train.TrainConfig`.
    """

    embedding_size: int = 64
    embedding_scale: float = 0.05
    max_epochs: int = 4
    batch_size: int = 64
    eval_every: int = 100
    patience: int = 4
    eval_batch_size: int = 256
    success_accuracy: float = 0.8
    state_noise: float = 0.0
    grad_clip: float = 1.0
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    data_seed: int = 0
    log_every: int = 10
    cell_options: dict[str, dict] = field(default_factory=dict)
    retain_memory: bool = True

    def __post_init__(self) -> None:
        for name in (
            "embedding_size",
            "max_epochs",
            "batch_size",
            "eval_every",
            "patience",
            "eval_batch_size",
            "log_every",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(
                    f"TextTrainConfig.{name} must be a positive integer, got {value!r}."
                )
        if not self.embedding_scale > 0:
            raise ValueError("TextTrainConfig.embedding_scale must be positive.")
        if not 0 <= self.success_accuracy <= 1:
            raise ValueError("TextTrainConfig.success_accuracy must lie in [0, 1].")
        if not self.state_noise >= 0 or not self.grad_clip >= 0:
            raise ValueError("TextTrainConfig.state_noise and grad_clip must be >= 0.")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(
                f"TextTrainConfig.betas must be two numbers in [0, 1), got {self.betas!r}."
            )

    def to_dict(self) -> dict:
        return asdict(self)


def text_network(
    architecture: str, hidden_size: int, data: TextDataset, config: TextTrainConfig, activation=None
) -> TextRNN:
    """The :class:`TextRNN` a grid row describes."""
    options = dict(config.cell_options.get(architecture, {}))
    if activation is not None:
        options["activation"] = activation
    cell = make_cell(architecture, int(hidden_size), config.embedding_size, **options)
    return TextRNN(cell, data.vocab_size, embedding_scale=config.embedding_scale)


def evaluate_text(
    net: TextRNN, params: Params, data: TextDataset, split: str, batch_size: int = 256
) -> tuple[torch.Tensor, torch.Tensor]:
    """Accuracy and mean cross-entropy per network on a whole split: ``[N]``, ``[N]``."""
    n = net.check_params(params)
    correct = torch.zeros(n, dtype=torch.float64)
    loss = torch.zeros(n, dtype=torch.float64)
    count = 0
    with torch.no_grad():
        for tokens, lengths, labels in data.batches(split, batch_size, bucket=True):
            logit = net.logits(params, tokens, lengths)[..., 0]  # [N, B]
            target = labels.to(logit.dtype).expand_as(logit)
            loss += (
                F.binary_cross_entropy_with_logits(logit, target, reduction="none").sum(1).double()
            )
            correct += ((logit > 0) == labels.bool()).sum(1).double()
            count += len(labels)
    if count == 0:
        raise ValueError(f"the {split!r} split is empty.")
    return correct / count, loss / count


def train_text_population(
    data: TextDataset,
    grid: pd.DataFrame,
    config: TextTrainConfig | None = None,
    *,
    progress: bool | ProgressCallback = False,
) -> TrainResult:
    """Train every network of ``grid`` to classify ``data``'s texts.

    Args:
        data: a :class:`rnnscope.tasks.text.TextDataset` (see ``prepare_text``).
        grid: one row per network (:func:`rnnscope.train.make_grid`).
        config: :class:`TextTrainConfig`.
        progress: ``True`` for a progress bar per group, or a callback
            ``f(group_label, steps_done, max_steps)``.

    Returns:
        A :class:`TrainResult` whose ``task`` is ``data``; ``networks`` has
        ``accuracy`` (best validation accuracy), ``test_accuracy``, ``eval_loss``
        (validation cross-entropy at the best evaluation), ``best_step``, ``steps``,
        ``status``, ``wall_time_s``; ``history`` has the training loss and the
        validation accuracy where it was evaluated.
    """
    if not isinstance(data, TextDataset):
        raise TypeError(
            f"data must be a TextDataset (rnnscope.tasks.text.prepare_text), got {type(data).__name__}."
        )
    if len(data.train) == 0 or len(data.validation) == 0:
        raise ValueError("the training and validation splits must not be empty.")
    grid = check_grid(grid)
    config = config or TextTrainConfig()
    if config.retain_memory:
        retain_freed_memory()
    grouped = list(_groups(grid))
    steps_per_epoch = math.ceil(len(data.train) / config.batch_size)
    max_steps = steps_per_epoch * config.max_epochs
    records, history, groups = [], [], []
    with _progress(progress, len(grouped)) as report:
        for arch, size, act, rows, label in grouped:
            net = text_network(arch, size, data, config, act)

            def group_report(done: int, final: bool = False, label: str = label) -> None:
                report(label, done, done if final else max_steps)

            params, recs, hist = _train_text_group(net, rows, data, config, max_steps, group_report)
            groups.append(TrainedGroup(net, [int(i) for i in rows["network"]], params))
            records.extend(recs)
            history.extend(hist)
    return _result(grid, records, history, groups, data, config)


def _train_text_group(
    net: TextRNN, rows, data: TextDataset, config: TextTrainConfig, max_steps, report
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
    best = {k: v.clone() for k, v in pop.master.items()}
    generators = [torch.Generator().manual_seed(s + _NOISE_SEED_OFFSET) for s in seeds]
    decay_keys = [k for k in pop.master if k.startswith("W_") or k == "embedding"]

    status = ["unsolved"] * n
    steps_done = [max_steps] * n
    best_acc = [-1.0] * n
    best_loss = [math.nan] * n
    best_step = [0] * n
    since_best = [0] * n
    last_loss = [math.nan] * n
    wall = [math.nan] * n
    history: list[tuple] = []
    start = time.perf_counter()

    def stream():
        for epoch in range(config.max_epochs):
            yield from data.batches(
                "train", config.batch_size, seed=config.data_seed * 1_000_003 + epoch
            )

    step = 0
    for step, (tokens, lengths, labels) in enumerate(stream(), start=1):
        active, work = pop.active, pop.work
        noise = None
        if config.state_noise > 0:
            noise = torch.empty(len(active), *tokens.shape, net.state_size)
            for j, i in enumerate(active):
                torch.randn(noise.shape[1:], generator=generators[i], out=noise[j])
            noise.mul_(config.state_noise)
        x = net.embed(work, tokens)
        states, _ = net.rnn.run(work, x, noise=noise)
        logit = net.rnn.readout(work, net.final_states(states, lengths))[..., 0]
        target = labels.to(logit.dtype).expand_as(logit)
        xent = F.binary_cross_entropy_with_logits(logit, target, reduction="none").mean(1)
        reg = sum(work[k].pow(2).flatten(1).sum(1) for k in decay_keys)
        loss = xent + pop.l2 * reg
        ok = pop.step(loss, step)

        loss_list, ok_list = loss.detach().tolist(), ok.tolist()
        finished: list[int] = []
        for j, i in enumerate(active):
            last_loss[i] = loss_list[j]
            if not ok_list[j]:
                status[i], steps_done[i] = "diverged", step
                wall[i] = time.perf_counter() - start
                finished.append(i)

        evaluate = step % config.eval_every == 0 or step == max_steps
        accs = [math.nan] * len(active)
        if evaluate:
            acc, val_loss = evaluate_text(
                net,
                {k: v.detach() for k, v in work.items()},
                data,
                "validation",
                config.eval_batch_size,
            )
            accs = acc.tolist()
            for j, i in enumerate(active):
                if not ok_list[j]:
                    continue
                if accs[j] > best_acc[i]:
                    best_acc[i], best_loss[i], best_step[i], since_best[i] = (
                        accs[j],
                        float(val_loss[j]),
                        step,
                        0,
                    )
                    with torch.no_grad():
                        for k in best:
                            best[k][i] = work[k][j].detach()
                else:
                    since_best[i] += 1
                    if since_best[i] >= config.patience:
                        steps_done[i] = step
                        wall[i] = time.perf_counter() - start
                        finished.append(i)
        if step % config.log_every == 0 or evaluate or finished:
            history.extend((ids[i], step, loss_list[j], accs[j]) for j, i in enumerate(active))
        if finished:
            pop.retire(finished)
            if not pop.active:
                break
        report(step)
    report(step, final=True)

    end = time.perf_counter() - start
    never = [i for i in range(n) if best_acc[i] < 0]  # diverged before any evaluation
    test_acc, _ = (
        evaluate_text(net, best, data, "test", config.eval_batch_size)
        if len(data.test)
        else (
            torch.full((n,), math.nan),
            None,
        )
    )
    records = []
    for i in range(n):
        if status[i] != "diverged":
            status[i] = "solved" if best_acc[i] >= config.success_accuracy else "unsolved"
        records.append(
            {
                "network": ids[i],
                "status": status[i],
                "steps": steps_done[i] if steps_done[i] < max_steps else step,
                "best_step": best_step[i],
                "loss": last_loss[i],
                "eval_loss": best_loss[i],
                "accuracy": best_acc[i] if i not in never else math.nan,
                "test_accuracy": float(test_acc[i]) if i not in never else math.nan,
                "wall_time_s": wall[i] if not math.isnan(wall[i]) else end,
            }
        )
    return best, records, history
