"""``StudySpec``: a study's TOML file, validated on load.

Unknown keys, wrong types, NaN/inf and impossible or memory-exhausting values are
rejected with the file, the key and the reason. The ``[train]`` and ``[fixed_points]``
sections belong to the task's family (:mod:`rnnscope.study.families`): a key the family
does not use is an unknown key. ``rnnscope init`` writes a commented example
(:data:`EXAMPLE`).

The parts of a spec that determine results are fingerprinted per stage
(:func:`stage_parts`): the store keeps the spec it ran with and refuses a different
one (:mod:`rnnscope.study.fingerprint`).
"""

from __future__ import annotations

import inspect
import json
import math
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ..cells import ARCHITECTURES
from ..cells._activations import ACTIVATIONS
from ..tasks import TASKS

#: limits checked before anything is allocated (a study that needs more is refused)
MAX_NETWORKS = 100_000
MAX_HIDDEN = 4096
MAX_STEPS = 10_000_000
MAX_TRIAL_STEPS = 100_000
MAX_BATCH = 65_536
MAX_CANDIDATES = 100_000
#: channels of a task's inputs or outputs, and values in one batch of trials
MAX_TASK_WIDTH = 100_000
MAX_BATCH_VALUES = 250_000_000
#: probe states a network's geometry is measured on (trials × time steps)
MAX_PROBE_SAMPLES = 1_000_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False, frozen=True, allow_inf_nan=False)


class TaskSpec(_Strict):
    name: str = "flipflop"
    options: dict[str, object] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in TASKS:
            raise ValueError(f"unknown task {v!r}; choose one of {', '.join(map(repr, TASKS))}")
        return v

    @field_validator("options")
    @classmethod
    def _finite(cls, v: dict) -> dict:
        for key, value in v.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{key} = {value}: must be a finite number")
            if key == "steps" and isinstance(value, int | float) and value > MAX_TRIAL_STEPS:
                raise ValueError(f"steps = {value:g} is too large (at most {MAX_TRIAL_STEPS:,})")
        return v

    def full_options(self) -> dict[str, object]:
        """The options with every default filled in (what the task really is)."""
        params = inspect.signature(TASKS[self.name]).parameters
        full = {
            k: p.default
            for k, p in params.items()
            if p.default is not inspect.Parameter.empty and p.kind is not p.VAR_KEYWORD
        }
        full.update(self.options)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in full.items()}


class GridSpec(_Strict):
    architectures: list[str] = Field(
        default_factory=lambda: ["vanilla", "gru", "lstm", "ugrnn"], min_length=1
    )
    hidden_sizes: list[int] = Field(default_factory=lambda: [64], min_length=1)
    activations: list[str] = Field(default_factory=lambda: ["tanh"], min_length=1)
    learning_rates: list[float] = Field(default_factory=lambda: [1e-2], min_length=1)
    l2: list[float] = Field(default_factory=lambda: [0.0], min_length=1)
    seeds: int = Field(
        4, gt=0, le=MAX_NETWORKS, description="networks per grid point: seeds 0 … seeds-1"
    )
    grad_clips: list[float] | None = Field(
        None, min_length=1, description="per-network gradient clips (0: none); default: [train]'s"
    )
    embedding_sizes: list[int] | None = Field(
        None, min_length=1, description="embedding widths (text tasks); default: [train]'s"
    )
    search: int | None = Field(
        None,
        gt=0,
        description="random search: this many configurations per architecture drawn from the grid",
    )
    search_seed: int = Field(0, ge=0, description="seeds the random search's draw")

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
        if any(h <= 0 or h > MAX_HIDDEN for h in v):
            raise ValueError(f"hidden sizes must lie in 1 … {MAX_HIDDEN}")
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

    @field_validator("grad_clips")
    @classmethod
    def _clips(cls, v: list[float] | None) -> list[float] | None:
        if v is not None and any(x < 0 for x in v):
            raise ValueError("gradient clips must be >= 0 (0: no clip)")
        return v

    @field_validator("embedding_sizes")
    @classmethod
    def _embeddings(cls, v: list[int] | None) -> list[int] | None:
        if v is not None and any(d <= 0 or d > MAX_HIDDEN for d in v):
            raise ValueError(f"embedding sizes must lie in 1 … {MAX_HIDDEN}")
        return v

    def size(self) -> int:
        """How many networks the grid holds (gated cells ignore ``activations``; a
        ``search`` keeps at most that many configurations per architecture)."""
        from ..train.grid import ACTIVATION_ARCHITECTURES

        configs = len(self.hidden_sizes) * len(self.learning_rates) * len(self.l2)
        configs *= len(self.grad_clips or [0]) * len(self.embedding_sizes or [0])
        total = 0
        for a in dict.fromkeys(self.architectures):
            n = configs * (len(set(self.activations)) if a in ACTIVATION_ARCHITECTURES else 1)
            total += (n if self.search is None else min(n, self.search)) * self.seeds
        return total

    @model_validator(mode="after")
    def _bounded(self) -> GridSpec:
        if self.size() > MAX_NETWORKS:
            raise ValueError(
                f"the grid holds {self.size():,} networks; a study holds at most {MAX_NETWORKS:,}"
            )
        return self


# ----------------------------------------------------------------- family sections
class TrialTrainSpec(_Strict):
    """``[train]`` for trial tasks (flip-flop, sine, context, neurogym)."""

    max_steps: int = Field(3000, gt=0, le=MAX_STEPS)
    batch_size: int = Field(64, gt=0, le=MAX_BATCH)
    state_noise: float = Field(0.1, ge=0, description="σ of hidden-state noise during training")
    grad_clip: float = Field(1.0, ge=0)
    eval_every: int = Field(50, gt=0)
    data_seed: int = Field(0, ge=0)
    stop_on_success: bool = Field(True, description="stop each network when it solves the task")


class TextTrainSpec(_Strict):
    """``[train]`` for text tasks (sentiment): epochs over a corpus, early stopping."""

    max_epochs: int = Field(4, gt=0, le=10_000, description="passes over the training split")
    batch_size: int = Field(64, gt=0, le=MAX_BATCH)
    eval_every: int = Field(50, gt=0)
    patience: int = Field(4, gt=0, description="evaluations without a better validation accuracy")
    state_noise: float = Field(0.0, ge=0)
    grad_clip: float = Field(1.0, ge=0)
    data_seed: int = Field(0, ge=0)
    embedding_size: int = Field(64, gt=0, le=MAX_HIDDEN, description="embedding width")
    embedding_scale: float = Field(
        0.05, gt=0, description="standard deviation of the initial embeddings"
    )
    lr_schedule: Literal["constant", "cosine"] = Field(
        "constant", description="learning-rate schedule over the epochs"
    )
    recurrent_init: dict[str, Literal["fan_in", "orthogonal"]] = Field(
        default_factory=lambda: {"vanilla": "orthogonal"},
        description="recurrent-weight initialiser per architecture (others: fan_in)",
    )

    @field_validator("recurrent_init")
    @classmethod
    def _inits(cls, v: dict[str, str]) -> dict[str, str]:
        for a in v:
            if a not in ARCHITECTURES:
                raise ValueError(
                    f"unknown architecture {a!r}; choose from {', '.join(map(repr, ARCHITECTURES))}"
                )
        return v


class TrialFixedPointSpec(_Strict):
    """``[fixed_points]`` for trial tasks."""

    candidates: int = Field(
        1024, gt=0, le=MAX_CANDIDATES, description="candidates per network (visited states)"
    )
    noise: float = Field(
        0.5, ge=0, description="noise on the candidates, × the states' RMS spread per unit"
    )
    tol_q: float = Field(1e-12, gt=0)
    tol_unique: float = Field(1e-3, gt=0)
    graph: bool = Field(True, description="build the unstable-manifold graph")


class TextFixedPointSpec(_Strict):
    """``[fixed_points]`` for text tasks: the line attractor's points."""

    candidates: int = Field(512, gt=0, le=MAX_CANDIDATES, description="candidates per network")
    noise: float = Field(0.0, ge=0, description="σ of noise added to sampled states")
    tol_q_mean: float = Field(1e-8, gt=0, description="keep points with ‖F(h) − h‖² / S below this")
    modifiers: list[str] = Field(
        default_factory=lambda: ["not", "very"],
        description="modifier words whose effect on the valence words is measured (those in the vocabulary)",
    )


class ProbeSpec(_Strict):
    batch_size: int = Field(
        64, gt=0, le=MAX_BATCH, description="probe trials; every network sees the same ones"
    )
    seed: int = Field(99, ge=0)


class CompareSpec(_Strict):
    geometry: list[Literal["cca", "svcca", "pwcca", "cka", "procrustes"]] = Field(
        default_factory=lambda: ["svcca"], min_length=1
    )
    topology: bool = Field(
        True, description="the task's computational scaffold (fixed points, saddles, graph)"
    )
    linear_dynamics: bool = Field(
        True, description="spectra and time constants at the stable points"
    )
    dsa: bool = Field(
        False,
        description="dynamical similarity (DSA, input-aware on trial tasks) between the probe trajectories",
    )
    svcca_keep: Annotated[int, Field(ge=1, le=4096)] | Literal["auto", "variance"] = Field(
        "auto",
        description=(
            "SVCCA components, the same for every pair: 'auto' = the population's median count "
            "for 90% of a network's variance; an integer; or 'variance' = each network's own "
            "99% count (rewards small networks when sizes differ)"
        ),
    )
    permutations: int = Field(
        1000, ge=100, le=100_000, description="label permutations behind each verdict p-value"
    )
    recording: str | None = Field(
        None,
        description="a [B·T, units] recording on the probe trials (.npy/.npz/.csv), relative to the study file",
    )


class RunSpec(_Strict):
    """How a study runs (never what it computes: not part of the fingerprint)."""

    device: str = Field("cpu", description="torch device for training and analysis, e.g. 'cuda'")
    train_chunk: int = Field(
        16,
        gt=0,
        le=4096,
        description=(
            "networks per training unit of work (a group is split); the same results at any "
            "size. 16: a 64-unit LSTM chunk peaks at ~0.7 GB (32: ~1.3 GB) at the same speed"
        ),
    )
    compare_block: int = Field(
        128, gt=0, le=4096, description="networks per side of a distance-matrix block"
    )


class ClusterSpec(_Strict):
    """``[cluster]``: a SLURM cluster through dask-jobqueue (``rnnscope run --dask slurm``)."""

    jobs: int = Field(2, gt=0, description="SLURM jobs (one Dask worker each)")
    cores: int = Field(1, gt=0, description="cores per job")
    memory: str = Field("4GB", description="memory per job")
    walltime: str = Field("01:00:00")
    queue: str | None = Field(None, description="SLURM partition")
    account: str | None = None
    job_extra_directives: list[str] = Field(default_factory=list)

    def cluster_options(self) -> dict[str, object]:
        return self.model_dump(exclude_none=True)


class StudySpec(_Strict):
    """A whole study. See :data:`EXAMPLE` for every key with its default."""

    name: str = Field("rnnscope-study", min_length=1)
    output: str | None = Field(
        None, description="study folder, relative to the current directory (default: name)"
    )
    task: TaskSpec = Field(default_factory=TaskSpec)
    grid: GridSpec = Field(default_factory=GridSpec)
    train: TrialTrainSpec | TextTrainSpec = Field(default_factory=TrialTrainSpec)
    fixed_points: TrialFixedPointSpec | TextFixedPointSpec = Field(
        default_factory=TrialFixedPointSpec
    )
    probe: ProbeSpec = Field(default_factory=ProbeSpec)
    compare: CompareSpec = Field(default_factory=CompareSpec)
    run: RunSpec = Field(default_factory=RunSpec)
    cluster: ClusterSpec | None = None

    @model_validator(mode="before")
    @classmethod
    def _family_sections(cls, data):
        """Validate ``[train]`` and ``[fixed_points]`` against the task family's sections."""
        if not isinstance(data, dict):
            return data
        from .families import family_of

        task = data.get("task", {})
        name = (
            task.get("name", "flipflop") if isinstance(task, dict) else getattr(task, "name", None)
        )
        if name not in TASKS:
            return data  # TaskSpec reports it
        family = family_of(name)
        data = dict(data)
        for key, section in (
            ("train", family.train_spec),
            ("fixed_points", family.fixed_point_spec),
        ):
            raw = data.get(key, {})
            if isinstance(raw, BaseModel):
                raw = raw.model_dump()
            if not isinstance(raw, dict):
                raise ValueError(f"{key}: must be a table of keys")
            try:
                data[key] = section.model_validate(raw)
            except ValidationError as err:
                first = err.errors()[0]
                field = ".".join(str(p) for p in first["loc"])
                reason = first["msg"]
                if first["type"] == "extra_forbidden":
                    reason = f"unknown key for {family.name} tasks like {name!r}"
                raise ValueError(f"{key}.{field}: {reason.rstrip('.')}") from None
        return data

    @field_validator("output")
    @classmethod
    def _output(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("must name a folder (leave it out to use the study's name)")
        return v

    @model_validator(mode="after")
    def _checks(self) -> StudySpec:
        from ..tasks import make_task

        if self.output is None and ("/" in self.name or self.name.startswith(".")):
            raise ValueError(
                f"name {self.name!r} cannot serve as the study folder; give `output` as well"
            )
        try:
            task = make_task(self.task.name, **self.task.options)
        except (TypeError, ValueError) as err:
            raise ValueError(f"task options: {err}") from None
        if self.grid.embedding_sizes is not None and not hasattr(self.train, "embedding_size"):
            raise ValueError(
                f"grid.embedding_sizes: only text tasks embed tokens; drop it for {self.task.name!r}"
            )
        width = max(
            int(getattr(task, "input_size", 1) or 1), int(getattr(task, "output_size", 1) or 1)
        )
        if width > MAX_TASK_WIDTH:
            raise ValueError(
                f"task options: the task has {width:,} input or output channels; at most {MAX_TASK_WIDTH:,}"
            )
        steps = getattr(task, "steps", None)
        if isinstance(steps, int):
            batch = max(self.probe.batch_size, getattr(self.train, "batch_size", 1))
            if batch * steps * width > MAX_BATCH_VALUES:
                raise ValueError(
                    f"task options: a batch of {batch} trials × {steps} steps × {width} channels is more than "
                    f"{MAX_BATCH_VALUES:,} values; use fewer steps, channels or trials"
                )
        if isinstance(steps, int) and steps * self.probe.batch_size > MAX_PROBE_SAMPLES:
            raise ValueError(
                f"probe: {self.probe.batch_size} trials × {steps} steps is more than "
                f"{MAX_PROBE_SAMPLES:,} states per network; use fewer probe trials or steps"
            )
        return self

    @property
    def folder(self) -> str:
        """The study folder when none is given on the command line: ``output``, else the
        study's name, relative to the current directory."""
        return self.output or self.name


class SpecError(ValueError):
    """A study file that cannot be used; the message names file, key and reason."""


def format_error(source: str, err: ValidationError) -> str:
    """One line: ``source: key: reason (and N more)``."""
    first = err.errors()[0]
    key = ".".join(str(p) for p in first["loc"])
    reason = first["msg"]
    if first["type"] == "extra_forbidden":
        reason = "unknown key"
    if reason.startswith("Value error, "):
        reason = reason.removeprefix("Value error, ")
        if not key and ": " in reason:  # a section check names its own key
            key, reason = reason.split(": ", 1)
    more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return f"{source}: {key or '(top level)'}: {reason.rstrip('.')}{more}."


def load_spec(path: str | Path) -> StudySpec:
    """Read and validate a study TOML file."""
    path = Path(path)
    if not path.exists():
        raise SpecError(f"{path}: no such study file (write one with `rnnscope init {path}`).")
    if path.is_dir():
        raise SpecError(f"{path}: a folder, not a study file.")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise SpecError(f"{path}: not valid TOML: {err}.") from None
    except UnicodeDecodeError:
        raise SpecError(f"{path}: not a text file.") from None
    if not data:
        raise SpecError(
            f"{path}: empty; a study names at least its task and grid (see `rnnscope init`)."
        )
    task = data.get("task")
    if isinstance(task, dict) and task.get("name") == "sentiment":
        # a corpus given as a path is relative to the study file
        options = task.get("options")
        corpus = options.get("corpus") if isinstance(options, dict) else None
        from ..tasks.text import CORPORA

        if isinstance(corpus, str) and corpus not in CORPORA and not Path(corpus).is_absolute():
            options["corpus"] = str((path.parent / corpus).resolve())
    compare = data.get("compare")
    if isinstance(compare, dict) and isinstance(compare.get("recording"), str):
        recording = compare["recording"]
        if not Path(recording).is_absolute():  # paths in a study file are relative to it
            compare["recording"] = str((path.parent / recording).resolve())
    try:
        return StudySpec.model_validate(data)
    except ValidationError as err:
        raise SpecError(format_error(str(path), err)) from None


#: result-determining keys added after stores were first written, with the behaviour of
#: the code before them: a stored spec that lacks such a key ran with this value
LEGACY_VALUES: dict[tuple[str, str], object] = {("compare", "svcca_keep"): "variance"}
#: the same for text (sentiment) studies: vanilla networks were fan-in initialised
LEGACY_TEXT_VALUES: dict[tuple[str, str], object] = {("train", "recurrent_init"): {}}


def stored_spec(text: str) -> StudySpec:
    """The spec a store recorded (JSON), keys it predates read as what it ran with."""
    data = json.loads(text)
    legacy = dict(LEGACY_VALUES)
    task = data.get("task", {})
    if isinstance(task, dict) and task.get("name") == "sentiment":
        legacy.update(LEGACY_TEXT_VALUES)
    for (section, key), value in legacy.items():
        part = data.setdefault(section, {})
        if isinstance(part, dict):
            part.setdefault(key, value)
    return StudySpec.model_validate(data)


EXAMPLE = """# An rnnscope study: `rnnscope run study.toml`.
name = "flipflop-universality"
# output = "flipflop-universality"   # study folder, relative to where you run; default: name

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

[train]                              # trial tasks; a sentiment study has max_epochs, patience,
max_steps = 3000                     # embedding_size, embedding_scale instead of max_steps and
batch_size = 64                      # stop_on_success
state_noise = 0.1                    # σ of hidden-state noise: memories become fixed points
grad_clip = 1.0
eval_every = 50
data_seed = 0
stop_on_success = true               # false: use the whole budget (lower error, cleaner attractors)

[fixed_points]                       # trial tasks; a sentiment study has tol_q_mean instead of
candidates = 1024                    # tol_q, tol_unique and graph; candidates are visited
noise = 0.5                          # states plus noise (× their spread), and seeds between attractors
tol_q = 1e-12
tol_unique = 1e-3
graph = true                         # unstable-manifold graph (which attractors saddles join)

[probe]                              # the inputs every network's geometry is measured on
batch_size = 64
seed = 99

[compare]
geometry = ["svcca"]                 # any of cca, svcca, pwcca, cka, procrustes
topology = true                      # the scaffold: attractors, saddles, the graph joining them
linear_dynamics = true               # spectra and time constants at the stable points
svcca_keep = "auto"                  # SVCCA components for every pair: "auto" (population median
                                     # for 90% variance) | an integer | "variance" (each its own 99%)
dsa = false                          # dynamical similarity analysis (Ostrow et al. 2023)
# recording = "data/activity.npy"    # rank the networks against recorded activity on the probe trials

[run]                                # how it runs, not what it computes
device = "cpu"                       # e.g. "cuda"
train_chunk = 16                     # networks per training unit of work (memory, not results)
compare_block = 128                  # networks per side of a distance block

# [cluster]                          # `rnnscope run study.toml --dask slurm` (pip install 'rnnscope[slurm]')
# jobs = 8
# cores = 1
# memory = "4GB"
# walltime = "02:00:00"
# queue = "normal"
"""
