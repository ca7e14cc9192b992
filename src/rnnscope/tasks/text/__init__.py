"""Sentiment text: corpora, loaders, tokens and vocabularies, synthetic languages, and
split, encoded datasets (:func:`prepare_text`) that ``rnnscope.train.train_text_population``
trains on."""

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
from .dataset import EncodedTexts, TextDataset, prepare_text
from .synthetic import class_language, class_words, valence, valence_language
from .task import CORPORA, Sentiment
from .vocabulary import PAD, UNK, Vocabulary, batches, tokenize

__all__ = [
    "CORPORA",
    "PAD",
    "UNK",
    "Corpus",
    "EncodedTexts",
    "Sentiment",
    "TextDataset",
    "Vocabulary",
    "batches",
    "class_language",
    "class_words",
    "clean",
    "load_aclimdb",
    "load_sst2",
    "load_table",
    "load_yelp_polarity",
    "movie_reviews",
    "prepare_text",
    "tokenize",
    "valence",
    "valence_language",
]
