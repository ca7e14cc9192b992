"""Hyperparameter grids: one row per network to train."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

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


def make_grid(
    architectures: Sequence[str] = ("vanilla", "gru", "lstm", "ugrnn"),
    hidden_sizes: Sequence[int] = (64,),
    activations: Sequence[str] = ("tanh",),
    learning_rates: Sequence[float] = (1e-2,),
    l2: Sequence[float] = (0.0,),
    seeds: Sequence[int] = (0,),
) -> pd.DataFrame:
    """The full product of the given values, one row per network.

    ``activations`` applies to ``vanilla`` and ``ctrnn`` networks; gated cells
    (GRU, LSTM, UGRNN) have fixed nonlinearities and get one row per remaining
    combination with ``activation = None``.

    Returns:
        DataFrame with columns ``network`` (0, 1, …), ``architecture``,
        ``hidden_size``, ``activation``, ``learning_rate``, ``l2``, ``seed``.
    """
    values = {
        "architectures": architectures,
        "hidden_sizes": hidden_sizes,
        "activations": activations,
        "learning_rates": learning_rates,
        "l2": l2,
        "seeds": seeds,
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

    rows = []
    for arch, size, act, lr, lam, seed in itertools.product(
        dict.fromkeys(architectures), hidden_sizes, activations, learning_rates, l2, seeds
    ):
        act_value = act if arch in ACTIVATION_ARCHITECTURES else None
        rows.append((arch, int(size), act_value, float(lr), float(lam), int(seed)))
    rows = list(dict.fromkeys(rows))  # gated cells: drop the copies the activation axis made
    frame = pd.DataFrame(rows, columns=GRID_COLUMNS[1:])
    frame.insert(0, "network", range(len(frame)))
    return frame


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
    if grid["network"].duplicated().any():
        raise ValueError("grid has duplicate network ids in column 'network'.")
    for arch in grid["architecture"].unique():
        if arch not in ARCHITECTURES:
            raise ValueError(
                f"unknown architecture {arch!r} in the grid; choose from {', '.join(map(repr, ARCHITECTURES))}."
            )
    return grid
