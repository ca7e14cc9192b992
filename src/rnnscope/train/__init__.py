"""Population training over hyperparameter grids: trial tasks (``train_population``) and
text classification (``train_text_population``, with a bag-of-words baseline)."""

from __future__ import annotations

from .bag_of_words import BagOfWords, bag_of_words_baseline
from .grid import make_grid
from .text import TextTrainConfig, evaluate_text, train_text_population
from .trainer import TrainConfig, TrainedGroup, TrainResult, train_population

__all__ = [
    "BagOfWords",
    "TextTrainConfig",
    "TrainConfig",
    "TrainResult",
    "TrainedGroup",
    "bag_of_words_baseline",
    "evaluate_text",
    "make_grid",
    "train_population",
    "train_text_population",
]
