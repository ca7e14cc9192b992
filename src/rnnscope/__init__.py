"""rnnscope: train populations of recurrent networks and reverse-engineer them.

The public API (see ``shared/DESIGN.md``)::

    import rnnscope as rs
    cell = rs.cells.GRU(hidden_size=64, input_size=3)
    net = rs.RNN(cell, output_size=3)
    params = net.init(population=16, seed=0)
    states, outputs = net.run(params, inputs)
"""

from __future__ import annotations

from . import cells, compare, dynamics, interop, study, tasks, train
from .dynamics import find_fixed_points, linearize
from .network import RNN, TextRNN
from .train import (
    TextTrainConfig,
    TrainConfig,
    TrainResult,
    make_grid,
    train_population,
    train_text_population,
)

__version__ = "0.1.0"

__all__ = [
    "RNN",
    "TextRNN",
    "TextTrainConfig",
    "TrainConfig",
    "TrainResult",
    "__version__",
    "cells",
    "compare",
    "dynamics",
    "find_fixed_points",
    "interop",
    "linearize",
    "make_grid",
    "study",
    "tasks",
    "train",
    "train_population",
    "train_text_population",
]
