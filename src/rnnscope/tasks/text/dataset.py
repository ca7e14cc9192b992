"""A sentiment dataset ready to train on: a seeded split, a vocabulary built on the
training part, and every text encoded as token ids.

Texts are stored whole; ``max_length`` truncates only when batches are made, so a
bag-of-words baseline on the same split sees every word while the RNNs see at most
``max_length`` tokens. Truncation keeps the *last* tokens by default (``keep="last"``):
reviews tend to end with their verdict, and a network reads its final state there.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from .corpora import Corpus
from .vocabulary import Vocabulary, batches


@dataclass
class EncodedTexts:
    """Texts as token ids, with labels.

    Attributes:
        ids: one list of token ids per text (whole, untruncated).
        labels: ``[M]`` class ids (binary: 0/1).
        texts: the original texts.
    """

    ids: list[list[int]]
    labels: np.ndarray
    texts: list[str]

    def __len__(self) -> int:
        return len(self.ids)

    def lengths(self) -> np.ndarray:
        return np.array([len(i) for i in self.ids])


@dataclass
class TextDataset:
    """A split, encoded corpus.

    Attributes:
        vocabulary: built on ``train`` only.
        train, validation, test: :class:`EncodedTexts`.
        max_length: tokens a network reads per text (truncation; ``None``: all).
        keep: ``"last"`` (default) or ``"first"`` tokens kept when truncating.
        classes: ``C``, labels run over ``0 … C−1`` (2: binary sentiment).
    """

    vocabulary: Vocabulary
    train: EncodedTexts
    validation: EncodedTexts
    test: EncodedTexts
    max_length: int | None = 400
    keep: str = "last"
    classes: int = 2

    @property
    def output_size(self) -> int:
        """Logits a classifier of this data reads out: 1 for two classes (its sign),
        ``C`` otherwise (softmax)."""
        return 1 if self.classes == 2 else self.classes

    @property
    def vocab_size(self) -> int:
        return len(self.vocabulary)

    def split(self, name: str) -> EncodedTexts:
        if name not in ("train", "validation", "test"):
            raise ValueError(f"unknown split {name!r}; use 'train', 'validation' or 'test'.")
        return getattr(self, name)

    def truncated(self, name: str) -> list[list[int]]:
        """The split's token ids cut to ``max_length`` (keeping ``keep``)."""
        ids = self.split(name).ids
        m = self.max_length
        if m is None:
            return ids
        return [i[-m:] if self.keep == "last" else i[:m] for i in ids]

    def batches(
        self, name: str, batch_size: int, *, seed: int = 0, bucket: bool = True
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """``(tokens [B, T], lengths [B], labels [B])`` over one pass of a split, see
        :func:`rnnscope.tasks.text.batches`."""
        return batches(
            self.truncated(name), self.split(name).labels, batch_size, seed=seed, bucket=bucket
        )

    def summary(self) -> dict:
        out = {
            "vocabulary": self.vocab_size,
            "max_length": self.max_length,
            "keep": self.keep,
            "classes": self.classes,
        }
        for name in ("train", "validation", "test"):
            part = self.split(name)
            lengths = part.lengths()
            out[name] = {
                "texts": len(part),
                "positive": float(np.mean(part.labels == 1)) if len(part) else float("nan"),
                "mean_tokens": float(lengths.mean()) if len(part) else float("nan"),
            }
        return out


def prepare_text(
    corpus: Corpus,
    *,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    max_vocabulary: int = 20_000,
    min_count: int = 2,
    max_length: int | None = 400,
    keep: str = "last",
) -> TextDataset:
    """Split ``corpus`` (seeded), build the vocabulary on the training part, encode all.

    Args:
        corpus: labelled texts (:func:`movie_reviews`, a loader, or
            :func:`valence_language`).
        fractions: train/validation/test shares (default 80/10/10).
        seed: seeds the split.
        max_vocabulary, min_count: vocabulary size cap and frequency cut-off.
        max_length: tokens per text a network reads (``None``: all).
        keep: ``"last"`` or ``"first"`` tokens kept when truncating.
    """
    if keep not in ("last", "first"):
        raise ValueError(f"keep must be 'last' or 'first', got {keep!r}.")
    if max_length is not None and (isinstance(max_length, bool) or int(max_length) < 1):
        raise ValueError(f"max_length must be a positive integer or None, got {max_length!r}.")
    if len(corpus) < 3:
        raise ValueError(f"a corpus of {len(corpus)} texts cannot be split three ways.")
    labels = np.asarray(corpus.labels)
    if labels.dtype.kind not in "iub" or (len(labels) and labels.min() < 0):
        raise ValueError(
            "labels must be class ids 0 … C−1 (binary sentiment: 0 negative, 1 positive)."
        )
    classes = max(2, int(labels.max()) + 1)
    train, validation, test = corpus.split(fractions, seed=seed)
    vocabulary = Vocabulary(train.texts, max_size=max_vocabulary, min_count=min_count)

    def encode(part: Corpus) -> EncodedTexts:
        return EncodedTexts([vocabulary.encode(t) for t in part.texts], part.labels, part.texts)

    return TextDataset(
        vocabulary, encode(train), encode(validation), encode(test), max_length, keep, classes
    )
