"""The bag-of-words baseline for sentiment: logistic regression on word counts.

The features are built straight from the dataset's token ids (a sparse document ×
vocabulary count matrix) rather than through scikit-learn's ``CountVectorizer``,
so the baseline and the RNNs share one tokenizer and one vocabulary. It sees every
token of each text (no truncation). Its coefficients also pick the valence words the
line-attractor analysis projects (Maheswaranathan et al. 2019).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from ..tasks.text.dataset import EncodedTexts, TextDataset


@dataclass
class BagOfWords:
    """A fitted baseline.

    Attributes:
        C: the inverse regularisation strength chosen on the validation split.
        validation_accuracy, test_accuracy: accuracies on those splits.
        coefficients: ``[V]`` logistic-regression weight of each vocabulary id (0 for
            ``<pad>``); ``[C, V]`` for ``C > 2`` classes.
        counts: ``[V]`` training texts each token occurs in.
        model: the fitted ``sklearn.linear_model.LogisticRegression`` (``None`` when
            rebuilt from stored coefficients).
    """

    C: float
    validation_accuracy: float
    test_accuracy: float
    coefficients: np.ndarray
    counts: np.ndarray
    model: LogisticRegression | None

    def eligible(self, min_count: int) -> np.ndarray:
        """Token ids in at least ``min_count`` training texts (``<pad>``/``<unk>`` excluded)."""
        ids = np.flatnonzero(self.counts >= min_count)
        return ids[ids >= 2]

    def valence_words(self, n: int = 50, *, min_count: int = 20) -> dict[str, np.ndarray]:
        """Token ids of the ``n`` most positive, most negative and most neutral
        (smallest ``|coefficient|``) words among tokens in at least ``min_count``
        training texts (``<pad>``/``<unk>`` excluded). Binary sentiment only."""
        if self.coefficients.ndim != 1:
            raise ValueError(
                f"valence words need binary sentiment; this baseline has {len(self.coefficients)} classes."
            )
        eligible = self.eligible(min_count)
        if len(eligible) < 3 * n:
            raise ValueError(
                f"only {len(eligible)} tokens occur in >= {min_count} texts; lower n or min_count."
            )
        order = eligible[np.argsort(self.coefficients[eligible], kind="stable")]
        neutral = eligible[np.argsort(np.abs(self.coefficients[eligible]), kind="stable")]
        return {"positive": order[::-1][:n], "negative": order[:n], "neutral": neutral[:n]}


def _features(part: EncodedTexts, vocab_size: int, binary: bool) -> sp.csr_matrix:
    rows = np.repeat(np.arange(len(part)), [len(i) for i in part.ids])
    cols = np.fromiter((t for ids in part.ids for t in ids), dtype=np.int64, count=len(rows))
    m = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(part), vocab_size))
    m.sum_duplicates()
    if binary:
        m.data[:] = 1.0
    return m


def bag_of_words_baseline(
    data: TextDataset,
    *,
    Cs: tuple[float, ...] = (0.01, 0.03, 0.1, 0.3, 1.0),
    binary: bool = False,
    max_iter: int = 2000,
) -> BagOfWords:
    """Fit logistic regression on word counts; pick ``C`` by validation accuracy.

    Args:
        data: the split the RNNs train on.
        Cs: inverse L2 strengths tried.
        binary: word presence instead of counts.
        max_iter: solver iterations.
    """
    if not Cs or any(c <= 0 for c in Cs):
        raise ValueError(f"Cs must be positive numbers, got {Cs!r}.")
    v = data.vocab_size
    x_train = _features(data.train, v, binary)
    x_val = _features(data.validation, v, binary)
    best = None
    for c in Cs:
        model = LogisticRegression(C=c, max_iter=max_iter)
        model.fit(x_train, data.train.labels)
        acc = float(model.score(x_val, data.validation.labels))
        if best is None or acc > best[1]:
            best = (c, acc, model)
    c, val_acc, model = best
    test_acc = (
        float(model.score(_features(data.test, v, binary), data.test.labels))
        if len(data.test)
        else float("nan")
    )
    counts = np.asarray((x_train > 0).sum(axis=0)).ravel()
    coef = model.coef_[0] if model.coef_.shape[0] == 1 else model.coef_  # [V], or [C, V]
    return BagOfWords(c, val_acc, test_acc, coef.copy(), counts, model)
