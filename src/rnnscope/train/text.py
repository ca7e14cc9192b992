"""Population training of text classifiers, with validation early stopping.

Networks that share ``(architecture, hidden_size, activation)`` train together as
one population (the skeleton in :mod:`rnnscope.train._loop`): every step all of them
read the same batch of texts, each through its own embedding, cell and readout, and
each takes its own Adam step (its own learning rate and L2). The loss is the
cross-entropy of the logits read from the state after each text's last token: binary
(one logit) for two classes, softmax over ``C`` logits for ``C`` classes.

Every ``eval_every`` steps each network is scored on the whole validation split. Its
best parameters so far (by validation accuracy) are kept; a network stops after
``patience`` evaluations without improvement, or when the epochs run out, and returns
its best parameters. Test accuracy is then measured once, on those.

Statuses: ``solved`` (best validation accuracy ≥ ``success_accuracy``), ``unsolved``
or ``diverged`` (NaN/inf loss or gradient; its best finite parameters are kept).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import pandas as pd
import torch
import torch.nn.functional as F

from ..cells import make_cell
from ..cells._base import Params
from ..network import TextRNN
from ..tasks.text.dataset import TextDataset
from ._loop import ProgressCallback, Recipe, check_common, train_grid
from .result import TrainResult


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
        lr_schedule: ``"constant"`` (default) or ``"cosine"``: each network's learning
            rate decays over the step budget of ``max_epochs`` passes (see
            :class:`rnnscope.train.TrainConfig`). On IMDB the cosine schedule raised a
            vanilla RNN's validation accuracy by 0.3–3 points
            (``bench/sentiment_vanilla_recipe.py``; ``examples/sentiment_imdb.toml``
            uses it); on the synthetic languages it left accuracy at 1.0 but made the
            line less clean (top-mode valence AUC 0.80 instead of 1.0 in
            ``docs/sentiment.md``'s GRU).
        betas, eps: Adam's.
        data_seed: seeds the order of training batches.
        log_every: steps between loss-history entries (default 10).
        recurrent_init: the recurrent-weight initialiser per architecture (default
            ``{"vanilla": "orthogonal"}``: on IMDB a fan-in vanilla RNN reached 0.875
            validation accuracy, an orthogonal one 0.879, with the cosine schedule
            0.887; the others ``"fan_in"``, see :meth:`rnnscope.cells.Cell.init`).
            ``cell_options`` overrides it.
        cell_options: extra constructor options per architecture.
        retain_memory: see :class:`rnnscope.train.TrainConfig`.
        device: where the networks train (default ``"cpu"``; see
            :class:`rnnscope.train.TrainConfig`). Parameters come back on the CPU.
        backward: ``"fused"`` (default) or ``"autograd"``, see
            :class:`rnnscope.train.TrainConfig`.
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
    lr_schedule: str = "constant"
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    data_seed: int = 0
    log_every: int = 10
    recurrent_init: dict[str, str] = field(default_factory=lambda: {"vanilla": "orthogonal"})
    cell_options: dict[str, dict] = field(default_factory=dict)
    retain_memory: bool = True
    device: str = "cpu"
    backward: str = "fused"

    def __post_init__(self) -> None:
        for name in ("embedding_size", "max_epochs", "patience"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(
                    f"TextTrainConfig.{name} must be a positive integer, got {value!r}."
                )
        check_common(self)
        if not self.embedding_scale > 0:
            raise ValueError("TextTrainConfig.embedding_scale must be positive.")
        if not 0 <= self.success_accuracy <= 1:
            raise ValueError("TextTrainConfig.success_accuracy must lie in [0, 1].")

    def to_dict(self) -> dict:
        return asdict(self)


def text_network(
    architecture: str,
    hidden_size: int,
    data: TextDataset,
    config: TextTrainConfig,
    activation=None,
    embedding_size: int | None = None,
) -> TextRNN:
    """The :class:`TextRNN` a grid row describes (``embedding_size``: the row's, or
    ``None`` for the config's)."""
    options = dict(config.cell_options.get(architecture, {}))
    if architecture in config.recurrent_init:
        options.setdefault("recurrent_init", config.recurrent_init[architecture])
    if activation is not None:
        options["activation"] = activation
    width = config.embedding_size if embedding_size is None else int(embedding_size)
    cell = make_cell(architecture, int(hidden_size), width, **options)
    return TextRNN(cell, data.vocab_size, data.output_size, embedding_scale=config.embedding_scale)


def text_loss(logit: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy per network and text, ``[N, B]``, of logits ``[N, B, O]``: binary
    for ``O = 1`` (the logit of class 1), softmax over ``O`` classes otherwise."""
    if logit.shape[-1] == 1:
        target = labels.to(logit.dtype).expand_as(logit[..., 0])
        return F.binary_cross_entropy_with_logits(logit[..., 0], target, reduction="none")
    n, b, o = logit.shape
    target = labels.long().expand(n, b).reshape(-1)
    return F.cross_entropy(logit.reshape(-1, o), target, reduction="none").reshape(n, b)


def predicted_class(logit: torch.Tensor) -> torch.Tensor:
    """Class ids ``[N, B]`` from logits ``[N, B, O]`` (``O = 1``: logit > 0 is class 1)."""
    return (logit[..., 0] > 0).long() if logit.shape[-1] == 1 else logit.argmax(-1)


def evaluate_text(
    net: TextRNN, params: Params, data: TextDataset, split: str, batch_size: int = 256
) -> tuple[torch.Tensor, torch.Tensor]:
    """Accuracy and mean cross-entropy per network on a whole split: CPU ``[N]``, ``[N]``
    (the texts go to the parameters' device)."""
    n = net.check_params(params)
    device = params["embedding"].device
    correct = torch.zeros(n, dtype=torch.float64, device=device)
    loss = torch.zeros(n, dtype=torch.float64, device=device)
    count = 0
    with torch.no_grad():
        for tokens, lengths, labels in data.batches(split, batch_size, bucket=True):
            tokens, lengths, labels = (t.to(device) for t in (tokens, lengths, labels))
            logit = net.logits(params, tokens, lengths)  # [N, B, O]
            loss += text_loss(logit, labels).sum(1).double()
            correct += (predicted_class(logit) == labels.long()).sum(1).double()
            count += len(labels)
    if count == 0:
        raise ValueError(f"the {split!r} split is empty.")
    return (correct / count).cpu(), (loss / count).cpu()


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
        config: :class:`TextTrainConfig` (``config.device`` says where).
        progress: ``True`` for a progress bar per group, or a callback
            ``f(group_label, steps_done, max_steps)``.

    Returns:
        A :class:`TrainResult` whose ``task`` is ``data``; ``networks`` has
        ``accuracy`` (best validation accuracy), ``test_accuracy``, ``eval_loss``
        (validation cross-entropy at the best evaluation), ``best_step``, ``steps``,
        ``status``, ``wall_time_s``; ``history`` has the training loss and the
        validation accuracy where it was evaluated. Parameters are CPU tensors.
    """
    if not isinstance(data, TextDataset):
        raise TypeError(
            f"data must be a TextDataset (rnnscope.tasks.text.prepare_text), got {type(data).__name__}."
        )
    if len(data.train) == 0 or len(data.validation) == 0:
        raise ValueError("the training and validation splits must not be empty.")
    return train_grid(grid, _TextRecipe(data, config or TextTrainConfig()), data, progress)


class _TextRecipe(Recipe):
    """Cross-entropy of the final state's logit; early stopping on validation accuracy."""

    def __init__(self, data: TextDataset, config: TextTrainConfig) -> None:
        self.data, self.config = data, config
        self.max_steps = math.ceil(len(data.train) / config.batch_size) * config.max_epochs

    def network(self, architecture, hidden_size, activation, embedding_size=None) -> TextRNN:
        return text_network(
            architecture, hidden_size, self.data, self.config, activation, embedding_size
        )

    def decay_keys(self, params):
        return [k for k in params if k.startswith("W_") or k == "embedding"]

    def start(self, run, net, pop) -> None:
        self.best = {k: v.clone() for k, v in pop.master.items()}
        self.best_acc = [-1.0] * run.n
        self.best_loss = [math.nan] * run.n
        self.best_step = [0] * run.n
        self.since_best = [0] * run.n

    def batches(self, device):
        c = self.config
        for epoch in range(c.max_epochs):
            for batch in self.data.batches(
                "train", c.batch_size, seed=c.data_seed * 1_000_003 + epoch
            ):
                yield tuple(t.to(device, non_blocking=True) for t in batch)

    def loss(self, net, work, batch, noise, active):
        tokens, lengths, labels = batch
        e = noise.sample(active, *tokens.shape)
        fused = None if self.config.backward == "fused" else False
        h, _ = net.rnn.hidden_and_outputs(work, net.embed(work, tokens), noise=e, fused=fused)
        logit = net.rnn.readout(work, net.final_states(h, lengths))
        return text_loss(logit, labels).mean(1)

    def evaluate(self, run, net, pop, ok, step):
        work = {k: v.detach() for k, v in pop.work.items()}
        acc, val_loss = evaluate_text(
            net, work, self.data, "validation", self.config.eval_batch_size
        )
        accs = acc.tolist()
        finished = []
        for j, i in enumerate(pop.active):
            if not ok[j]:
                continue
            if accs[j] > self.best_acc[i]:
                self.best_acc[i], self.best_loss[i] = accs[j], float(val_loss[j])
                self.best_step[i], self.since_best[i] = step, 0
                with torch.no_grad():
                    for k in self.best:
                        self.best[k][i] = work[k][j]
            else:
                self.since_best[i] += 1
                if self.since_best[i] >= self.config.patience:
                    run.stop(i, step)
                    finished.append(i)
        return accs, finished

    def finish(self, run, net, pop, last_step):
        end = run.elapsed()
        never = [self.best_acc[i] < 0 for i in range(run.n)]  # diverged before any evaluation
        if len(self.data.test):
            test_acc = evaluate_text(
                net, self.best, self.data, "test", self.config.eval_batch_size
            )[0]
        else:
            test_acc = torch.full((run.n,), math.nan)
        records = []
        for i in range(run.n):
            if run.status[i] != "diverged":
                run.status[i] = (
                    "solved" if self.best_acc[i] >= self.config.success_accuracy else "unsolved"
                )
            records.append(
                {
                    "network": run.ids[i],
                    "status": run.status[i],
                    "steps": run.steps[i] if run.steps[i] < self.max_steps else last_step,
                    "best_step": self.best_step[i],
                    "loss": run.loss[i],
                    "eval_loss": self.best_loss[i],
                    "accuracy": math.nan if never[i] else self.best_acc[i],
                    "test_accuracy": math.nan if never[i] else float(test_acc[i]),
                    "wall_time_s": run.wall_time(i, end),
                }
            )
        return self.best, records
