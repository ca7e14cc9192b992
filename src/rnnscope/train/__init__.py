"""Population training over hyperparameter grids: trial tasks (``train_population``) and
text classification (``train_text_population``, with a bag-of-words baseline); both run
on one skeleton (``_loop``) with optimisers composed from :mod:`.optim` transforms."""

from __future__ import annotations

from . import optim
from .bag_of_words import BagOfWords, bag_of_words_baseline
from .grid import make_grid, sample_grid
from .result import TrainedGroup, TrainResult
from .text import TextTrainConfig, evaluate_text, train_text_population
from .trainer import TrainConfig, train_population

__all__ = [
    "BagOfWords",
    "TextTrainConfig",
    "TrainConfig",
    "TrainResult",
    "TrainedGroup",
    "bag_of_words_baseline",
    "evaluate_text",
    "make_grid",
    "optim",
    "sample_grid",
    "train_population",
    "train_text_population",
]
