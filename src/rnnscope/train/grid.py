"""Hyperparameter grids: one row per network to train."""

from __future__ import annotations

import itertools
import math
import zlib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..cells import ARCHITECTURES
from ..cells._activations import ACTIVATIONS

#: architectures whose nonlinearity a grid varies; the gated cells have fixed ones
ACTIVATION_ARCHITECTURES = ("vanilla", "ctrnn")

GRID_COLUMNS = [
    "network",
    "architecture",
    "hidden_size",
    "activation",
    "learning_rate",
    "l2",
    "seed",
]
#: per-network settings a grid may vary beyond :data:`GRID_COLUMNS`; a missing value
#: (NaN/None) means "the trainer config's value"
OPTIONAL_COLUMNS = ["grad_clip", "embedding_size"]


def is_missing(value) -> bool:
    """Whether a grid cell holds no value: ``None``, NaN or ``pd.NA`` (a grid that does
    not set a column, or a gated cell's activation)."""
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def make_grid(
    architectures: Sequence[str] = ("vanilla", "gru", "lstm", "ugrnn"),
    hidden_sizes: Sequence[int] = (64,),
    activations: Sequence[str] = ("tanh",),
    learning_rates: Sequence[float] = (1e-2,),
    l2: Sequence[float] = (0.0,),
    seeds: Sequence[int] = (0,),
    *,
    grad_clips: Sequence[float] | None = None,
    embedding_sizes: Sequence[int] | None = None,
) -> pd.DataFrame:
    """The full product of the given values, one row per network.

    ``activations`` applies to ``vanilla`` and ``ctrnn`` networks; gated cells
    (GRU, LSTM, UGRNN) have fixed nonlinearities and get one row per remaining
    combination with ``activation = None``.

    Args:
        grad_clips: per-network gradient-norm clips (0: none) to vary; ``None`` (default)
            leaves each network the trainer config's ``grad_clip``.
        embedding_sizes: embedding widths to vary (text classifiers only); ``None``
            leaves the config's ``embedding_size``.

    Returns:
        DataFrame with columns ``network`` (0, 1, …), ``architecture``,
        ``hidden_size``, ``activation``, ``learning_rate``, ``l2``, ``seed``,
        ``grad_clip`` and ``embedding_size`` (NaN where not varied).
    """
    values = {
        "architectures": architectures,
        "hidden_sizes": hidden_sizes,
        "activations": activations,
        "learning_rates": learning_rates,
        "l2": l2,
        "seeds": seeds,
        "grad_clips": [math.nan] if grad_clips is None else grad_clips,
        "embedding_sizes": [math.nan] if embedding_sizes is None else embedding_sizes,
    }
    for name, vals in values.items():
        if isinstance(vals, str | bytes) or not isinstance(vals, Sequence):
            raise TypeError(f"{name} must be a list of values, got {vals!r}.")
        if len(vals) == 0:
            raise ValueError(
                f"{name} is empty: the grid would hold no networks; give at least one value."
            )
    for arch in architectures:
        if arch not in ARCHITECTURES:
            raise ValueError(
                f"unknown architecture {arch!r} in the grid; choose from {', '.join(map(repr, ARCHITECTURES))}."
            )
    for act in activations:
        if act not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {act!r}; choose from {', '.join(map(repr, ACTIVATIONS))}."
            )
    for h in hidden_sizes:
        if isinstance(h, bool) or not isinstance(h, int) or h <= 0:
            raise ValueError(f"hidden sizes must be positive integers, got {h!r}.")
    for lr in learning_rates:
        if not lr > 0:
            raise ValueError(f"learning rates must be positive, got {lr!r}.")
    for lam in l2:
        if not lam >= 0:
            raise ValueError(f"L2 coefficients must be >= 0, got {lam!r}.")
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, int) or s < 0:
            raise ValueError(f"seeds must be non-negative integers, got {s!r}.")

    for c in grad_clips or ():
        if not c >= 0:
            raise ValueError(f"gradient clips must be >= 0 (0: no clip), got {c!r}.")
    for d in embedding_sizes or ():
        if isinstance(d, bool) or not isinstance(d, int) or d <= 0:
            raise ValueError(f"embedding sizes must be positive integers, got {d!r}.")

    rows = []
    for arch, size, act, lr, lam, seed, clip, emb in itertools.product(
        dict.fromkeys(architectures),
        hidden_sizes,
        activations,
        learning_rates,
        l2,
        seeds,
        values["grad_clips"],
        values["embedding_sizes"],
    ):
        act_value = act if arch in ACTIVATION_ARCHITECTURES else None
        rows.append((arch, int(size), act_value, float(lr), float(lam), int(seed), clip, emb))
    rows = list(dict.fromkeys(rows))  # gated cells: drop the copies the activation axis made
    frame = pd.DataFrame(rows, columns=GRID_COLUMNS[1:] + OPTIONAL_COLUMNS)
    frame["grad_clip"] = frame["grad_clip"].astype(float)
    frame["embedding_size"] = frame["embedding_size"].astype("Int64")  # NaN stays missing
    frame.insert(0, "network", range(len(frame)))
    return frame


def sample_grid(grid: pd.DataFrame, per_architecture: int, seed: int = 0) -> pd.DataFrame:
    """A random search: ``per_architecture`` configurations drawn without replacement
    from each architecture's rows of ``grid`` (every seed of a drawn configuration is
    kept), as Maheswaranathan et al. (2019) searched hyperparameters per architecture.

    A configuration is a row's values other than ``network`` and ``seed``. An
    architecture with fewer configurations keeps them all. Each architecture's draw
    depends only on ``seed``, its name and its own configurations, and the first ``k``
    of a larger search are a smaller one's: adding architectures or raising
    ``per_architecture`` keeps every configuration drawn before. Rows keep their order
    and are renumbered ``0, 1, …``.
    """
    grid = check_grid(grid)
    if isinstance(per_architecture, bool) or not isinstance(per_architecture, int):
        raise TypeError(f"per_architecture must be an integer, got {per_architecture!r}.")
    if per_architecture < 1:
        raise ValueError(f"per_architecture must be at least 1, got {per_architecture}.")
    config_cols = [c for c in grid.columns if c not in ("network", "seed")]
    configs = grid[config_cols].astype(object).where(grid[config_cols].notna(), None)
    keys = pd.Series([tuple(r) for r in configs.itertuples(index=False)], index=grid.index)
    keep = []
    for arch in dict.fromkeys(grid["architecture"]):
        distinct = list(dict.fromkeys(keys[grid["architecture"] == arch]))
        # each architecture its own seeded order: adding an architecture leaves the
        # others' draws alone, and a larger search keeps the smaller one's configurations
        rng = np.random.default_rng([seed, zlib.crc32(str(arch).encode())])
        order = rng.permutation(len(distinct))
        keep.extend(distinct[i] for i in order[:per_architecture])
    out = grid[keys.isin(set(keep))].copy()
    out["network"] = range(len(out))
    return out.reset_index(drop=True)


def check_grid(grid: pd.DataFrame) -> pd.DataFrame:
    """Validate a grid built by hand (same columns as :func:`make_grid`)."""
    if not isinstance(grid, pd.DataFrame):
        raise TypeError(
            f"grid must be a pandas DataFrame (see make_grid), got {type(grid).__name__}."
        )
    if len(grid) == 0:
        raise ValueError("the grid is empty: there are no networks to train.")
    missing = [c for c in GRID_COLUMNS if c not in grid.columns]
    if missing:
        raise ValueError(f"grid lacks columns {missing}; build it with rnnscope.train.make_grid.")
    if any(c not in grid.columns for c in OPTIONAL_COLUMNS):
        grid = grid.copy()
        if "grad_clip" not in grid:
            grid["grad_clip"] = math.nan
        if "embedding_size" not in grid:
            grid["embedding_size"] = pd.array([pd.NA] * len(grid), dtype="Int64")
    clips = pd.to_numeric(grid["grad_clip"], errors="coerce")
    if (clips.notna() & ~(clips >= 0)).any() or (clips.isna() & grid["grad_clip"].notna()).any():
        raise ValueError("grid column 'grad_clip' must hold numbers >= 0 (0: no clip) or be empty.")
    widths = grid["embedding_size"].dropna()
    if len(widths) and not all(
        not isinstance(d, bool) and float(d).is_integer() and float(d) >= 1 for d in widths
    ):
        raise ValueError("grid column 'embedding_size' must hold positive integers or be empty.")
    if grid["network"].duplicated().any():
        raise ValueError("grid has duplicate network ids in column 'network'.")
    for arch in grid["architecture"].unique():
        if arch not in ARCHITECTURES:
            raise ValueError(
                f"unknown architecture {arch!r} in the grid; choose from {', '.join(map(repr, ARCHITECTURES))}."
            )
    return grid
