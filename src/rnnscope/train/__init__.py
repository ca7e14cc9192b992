"""Population training over hyperparameter grids."""

from __future__ import annotations

from .grid import make_grid
from .trainer import TrainConfig, TrainedGroup, TrainResult, train_population

__all__ = ["TrainConfig", "TrainResult", "TrainedGroup", "make_grid", "train_population"]
