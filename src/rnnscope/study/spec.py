"""``StudySpec``: a study's TOML file, validated on load.

Unknown keys, wrong types and impossible values are rejected with the file, the key and
the reason. ``rnnscope init`` writes a commented example (:data:`EXAMPLE`).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..cells import ARCHITECTURES
from ..cells._activations import ACTIVATIONS
from ..tasks import TASKS


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False, frozen=True)


class TaskSpec(_Strict):
    name: str = "flipflop"
    options: dict[str, object] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in TASKS:
            raise ValueError(f"unknown task {v!r}; choose one of {', '.join(map(repr, TASKS))}")
        return v


class GridSpec(_Strict):
    architectures: list[str] = Field(
        default_factory=lambda: ["vanilla", "gru", "lstm", "ugrnn"], min_length=1
    )
    hidden_sizes: list[int] = Field(default_factory=lambda: [64], min_length=1)
    activations: list[str] = Field(default_factory=lambda: ["tanh"], min_length=1)
    learning_rates: list[float] = Field(default_factory=lambda: [1e-2], min_length=1)
    l2: list[float] = Field(default_factory=lambda: [0.0], min_length=1)
    seeds: int = Field(4, gt=0, description="networks per grid point: seeds 0 … seeds-1")

    @field_validator("architectures")
    @classmethod
    def _archs(cls, v: list[str]) -> list[str]:
        for a in v:
            if a not in ARCHITECTURES:
                raise ValueError(
                    f"unknown architecture {a!r}; choose from {', '.join(map(repr, ARCHITECTURES))}"
                )
        return v

    @field_validator("activations")
    @classmethod
    def _acts(cls, v: list[str]) -> list[str]:
        for a in v:
            if a not in ACTIVATIONS:
                raise ValueError(
                    f"unknown activation {a!r}; choose from {', '.join(map(repr, ACTIVATIONS))}"
                )
        return v

    @field_validator("hidden_sizes")
    @classmethod
    def _sizes(cls, v: list[int]) -> list[int]:
        if any(h <= 0 for h in v):
            raise ValueError("hidden sizes must be positive")
        return v

    @field_validator("learning_rates")
    @classmethod
    def _lrs(cls, v: list[float]) -> list[float]:
        if any(lr <= 0 for lr in v):
            raise ValueError("learning rates must be positive")
        return v

    @field_validator("l2")
    @classmethod
    def _l2(cls, v: list[float]) -> list[float]:
        if any(x < 0 for x in v):
            raise ValueError("L2 coefficients must be >= 0")
        return v


class TrainSpec(_Strict):
    max_steps: int = Field(3000, gt=0)
    batch_size: int = Field(64, gt=0)
    state_noise: float | None = Field(
        None, ge=0, description="σ of hidden-state noise; default 0.1 for trial tasks, 0 for text"
    )
    grad_clip: float = Field(1.0, ge=0)
    eval_every: int = Field(50, gt=0)
    data_seed: int = Field(0, ge=0)
    stop_on_success: bool = Field(True, description="stop each network when it solves the task")
    # text tasks (sentiment) train by epochs over a fixed corpus, with early stopping
    max_epochs: int = Field(4, gt=0, description="text tasks: passes over the training split")
    patience: int = Field(
        4, gt=0, description="text tasks: evaluations without a better validation accuracy"
    )
    embedding_size: int = Field(64, gt=0, description="text tasks: embedding width")
    embedding_scale: float = Field(
        0.05, gt=0, description="text tasks: standard deviation of the initial embeddings"
    )


class FixedPointSpec(_Strict):
    candidates: int = Field(512, gt=0, description="candidates per network")
    noise: float = Field(0.0, ge=0, description="σ of noise added to sampled states")
    tol_q: float = Field(1e-12, gt=0)
    tol_unique: float = Field(1e-3, gt=0)
    graph: bool = Field(
        True, description="build the unstable-manifold graph (not for text tasks' line attractors)"
    )
    tol_q_mean: float = Field(
        1e-8, gt=0, description="text tasks: keep points with ‖F(h) − h‖² / S below this"
    )


class ProbeSpec(_Strict):
    batch_size: int = Field(64, gt=0, description="probe trials; every network sees the same ones")
    seed: int = Field(99, ge=0)


class CompareSpec(_Strict):
    geometry: list[Literal["cca", "svcca", "pwcca", "cka", "procrustes"]] = Field(
        default_factory=lambda: ["svcca"], min_length=1
    )
    topology: bool = True
    recording: str | None = Field(
        None,
        description="a [B·T, units] recording on the probe trials (.npy/.npz/.csv), relative to the study file",
    )


class StudySpec(_Strict):
    """A whole study. See :data:`EXAMPLE` for every key with its default."""

    name: str = "study"
    output: str = Field("rnnscope-study", description="study folder, relative to the TOML file")
    task: TaskSpec = Field(default_factory=TaskSpec)
    grid: GridSpec = Field(default_factory=GridSpec)
    train: TrainSpec = Field(default_factory=TrainSpec)
    fixed_points: FixedPointSpec = Field(default_factory=FixedPointSpec)
    probe: ProbeSpec = Field(default_factory=ProbeSpec)
    compare: CompareSpec = Field(default_factory=CompareSpec)

    @model_validator(mode="after")
    def _task_options(self) -> StudySpec:
        from ..tasks import make_task

        try:
            make_task(self.task.name, **self.task.options)
        except (TypeError, ValueError) as err:
            raise ValueError(f"task options: {err}") from None
        return self


class SpecError(ValueError):
    """A study file that cannot be used; the message names file, key and reason."""


def load_spec(path: str | Path) -> StudySpec:
    """Read and validate a study TOML file."""
    path = Path(path)
    if not path.exists():
        raise SpecError(f"{path}: no such study file (write one with `rnnscope init {path}`).")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise SpecError(f"{path}: not valid TOML: {err}.") from None
    except UnicodeDecodeError:
        raise SpecError(f"{path}: not a text file.") from None
    task = data.get("task") if isinstance(data, dict) else None
    if isinstance(task, dict) and task.get("name") == "sentiment":
        # a corpus given as a path is relative to the study file
        options = task.get("options")
        corpus = options.get("corpus") if isinstance(options, dict) else None
        from ..tasks.text import CORPORA

        if isinstance(corpus, str) and corpus not in CORPORA and not Path(corpus).is_absolute():
            options["corpus"] = str((path.parent / corpus).resolve())
    try:
        spec = StudySpec.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "(top level)"
        reason = first["msg"]
        if first["type"] == "extra_forbidden":
            reason = "unknown key"
        more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
        raise SpecError(f"{path}: {key}: {reason.rstrip('.')}{more}.") from None
    recording = spec.compare.recording
    if recording is not None and not Path(recording).is_absolute():
        # paths in a study file are relative to the file
        absolute = str((path.parent / recording).resolve())
        spec = spec.model_copy(
            update={"compare": spec.compare.model_copy(update={"recording": absolute})}
        )
    return spec


EXAMPLE = """# An rnnscope study: `rnnscope run study.toml`.
name = "flipflop-universality"
output = "flipflop-study"            # folder for the store, relative to this file

[task]
name = "flipflop"                    # flipflop | sine | context | neurogym | sentiment
options = { bits = 3 }               # the task's parameters (see rnnscope.tasks)

[grid]                               # one network per combination
architectures = ["vanilla", "gru", "lstm", "ugrnn"]
hidden_sizes = [64]
activations = ["tanh"]               # vanilla/ctrnn only: tanh | relu
learning_rates = [0.01]
l2 = [0.0]
seeds = 4                            # seeds 0..3 per grid point

[train]
max_steps = 3000                     # budget per network; each stops when it solves the task
batch_size = 64
state_noise = 0.1                    # σ of hidden-state noise: memories become fixed points
                                     # (left out: 0.1 for trial tasks, 0 for text tasks)
grad_clip = 1.0
eval_every = 50
data_seed = 0
stop_on_success = true               # false: use the whole budget (lower error, cleaner attractors)
max_epochs = 4                       # text tasks (sentiment): passes over the training texts
patience = 4                         # text tasks: evaluations without a better validation accuracy
embedding_size = 64                  # text tasks: embedding width
embedding_scale = 0.05               # text tasks: σ of the initial embeddings

[fixed_points]
candidates = 512                     # per network, sampled from its probe trajectories
noise = 0.0                          # σ added to the sampled states
tol_q = 1e-12
tol_unique = 1e-3
graph = true                         # unstable-manifold graph (which attractors saddles join)
tol_q_mean = 1e-8                    # text tasks: keep points with ‖F(h) − h‖²/S below this

[probe]                              # the inputs every network's geometry is measured on
batch_size = 64
seed = 99

[compare]
geometry = ["svcca"]                 # any of cca, svcca, pwcca, cka, procrustes
topology = true
# recording = "data/activity.npy"    # rank the networks against recorded activity on the probe trials
"""
