"""Tokens, a vocabulary and padded, length-bucketed batches."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
import torch

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[!?]")

PAD, UNK = "<pad>", "<unk>"


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens (letters/digits with an optional apostrophe part), plus
    ``!`` and ``?``, which carry sentiment."""
    return _TOKEN.findall(text.lower())


class Vocabulary:
    """Token ↔ id. Id 0 is ``<pad>``, 1 is ``<unk>``; then tokens by descending count.

    Args:
        max_size: at most this many ids in all (default 20,000).
        min_count: drop tokens seen fewer times (default 2).
    """

    def __init__(self, texts: Iterable[str], *, max_size: int = 20_000, min_count: int = 2) -> None:
        if max_size < 3:
            raise ValueError("max_size must be at least 3 (<pad>, <unk> and one token).")
        counts = Counter(token for text in texts for token in tokenize(text))
        kept = [
            t for t, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if c >= min_count
        ]
        self.tokens = [PAD, UNK, *kept[: max_size - 2]]
        self.index = {t: i for i, t in enumerate(self.tokens)}
        self.counts = counts

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, text: str, max_length: int | None = None) -> list[int]:
        """Token ids (unknown tokens → 1), truncated to the first ``max_length``."""
        ids = [self.index.get(t, 1) for t in tokenize(text)]
        return ids if max_length is None else ids[:max_length]

    def decode(self, ids: Sequence[int]) -> list[str]:
        return [self.tokens[i] for i in ids if i != 0]


def batches(
    encoded: Sequence[Sequence[int]],
    labels: np.ndarray,
    batch_size: int,
    *,
    seed: int = 0,
    bucket: bool = True,
):
    """Yield ``(tokens [B, T] long, lengths [B], labels [B])`` padded with 0.

    With ``bucket`` (default) sequences of similar length share a batch (less padding):
    sorted by length, cut into batches, batches shuffled (seeded).
    """
    order = (
        np.argsort([len(e) for e in encoded], kind="stable") if bucket else np.arange(len(encoded))
    )
    chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng = np.random.default_rng(seed)
    for k in rng.permutation(len(chunks)):
        rows = chunks[k]
        lengths = np.array([max(1, len(encoded[i])) for i in rows])
        tokens = np.zeros((len(rows), lengths.max()), dtype=np.int64)
        for j, i in enumerate(rows):
            tokens[j, : len(encoded[i])] = encoded[i]
        yield (
            torch.from_numpy(tokens),
            torch.from_numpy(lengths),
            torch.from_numpy(np.asarray(labels)[rows]),
        )
