"""Sentiment text: corpora, loaders, tokens and vocabularies, synthetic languages.

The model, training and line-attractor analysis for text (issue #7) build on these.
"""

from __future__ import annotations

from .corpora import (
    Corpus,
    clean,
    load_aclimdb,
    load_sst2,
    load_table,
    load_yelp_polarity,
    movie_reviews,
)
from .synthetic import valence, valence_language
from .vocabulary import PAD, UNK, Vocabulary, batches, tokenize

__all__ = [
    "PAD",
    "UNK",
    "Corpus",
    "Vocabulary",
    "batches",
    "clean",
    "load_aclimdb",
    "load_sst2",
    "load_table",
    "load_yelp_polarity",
    "movie_reviews",
    "tokenize",
    "valence",
    "valence_language",
]
