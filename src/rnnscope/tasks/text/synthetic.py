"""Synthetic sentiment languages for fast tests and teaching.

Words carry a valence: positive ones (+1), negative ones (−1) and neutral ones (0). A
document's label is the sign of its summed valence (ties re-drawn), so a network must
integrate evidence over the sequence, the computation a line attractor performs. With
modifiers, ``not`` flips the valence of the next word and ``very`` doubles it
(Maheswaranathan & Sussillo 2020). :func:`class_language` generalises the language to
``C`` classes (Aitken et al. 2020).
"""

from __future__ import annotations

import numpy as np

from .corpora import Corpus

POSITIVE = ("good", "great", "excellent", "wonderful", "fun", "superb")
NEGATIVE = ("bad", "awful", "terrible", "boring", "poor", "dull")
NEUTRAL = ("the", "movie", "plot", "actor", "scene", "film", "was", "and", "it", "story")
MODIFIERS = ("not", "very")


def valence_language(
    n: int,
    *,
    length: tuple[int, int] = (10, 40),
    neutral_share: float = 0.5,
    modifiers: bool = False,
    modifier_share: float = 0.15,
    seed: int = 0,
) -> Corpus:
    """``n`` documents of the valence language (labels balanced by construction).

    Args:
        length: min and max words per document.
        neutral_share: probability that a word is neutral.
        modifiers: include ``not``/``very`` before valence words.
        modifier_share: probability that a valence word gets a modifier.
    """
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    while len(texts) < n:
        words, total = [], 0.0
        for _ in range(int(rng.integers(length[0], length[1] + 1))):
            if rng.random() < neutral_share:
                words.append(str(rng.choice(NEUTRAL)))
                continue
            sign = 1 if rng.random() < 0.5 else -1
            word = str(rng.choice(POSITIVE if sign > 0 else NEGATIVE))
            value = float(sign)
            if modifiers and rng.random() < modifier_share:
                modifier = str(rng.choice(MODIFIERS))
                words.append(modifier)
                value = -value if modifier == "not" else 2 * value
            words.append(word)
            total += value
        if total == 0:
            continue  # no clear label: draw again
        label = int(total > 0)
        if labels.count(label) >= (n + 1) // 2:
            continue  # keep the classes balanced
        texts.append(" ".join(words))
        labels.append(label)
    return Corpus(texts, np.array(labels), ["synthetic"] * n)


#: the class words of :func:`class_language`: class ``c`` has words ``<stem>a``, ``<stem>b``, …
CLASS_STEMS = ("red", "green", "blue", "gold", "gray", "pink", "teal", "plum", "rust", "sand")


def class_words(classes: int, per_class: int = 4) -> list[list[str]]:
    """The evidence words of each class in :func:`class_language`."""
    if not 2 <= classes <= len(CLASS_STEMS):
        raise ValueError(f"classes must lie in 2 … {len(CLASS_STEMS)}, got {classes!r}.")
    if not 1 <= per_class <= 26:
        raise ValueError(f"per_class must lie in 1 … 26, got {per_class!r}.")
    return [[stem + chr(97 + k) for k in range(per_class)] for stem in CLASS_STEMS[:classes]]


def class_language(
    n: int,
    classes: int = 3,
    *,
    length: tuple[int, int] = (10, 40),
    neutral_share: float = 0.5,
    per_class: int = 4,
    seed: int = 0,
) -> Corpus:
    """``n`` documents of a ``classes``-class evidence language (Aitken et al. 2020):
    each non-neutral word is evidence for one class, and a document's label is the
    class with the most evidence (ties re-drawn; classes balanced by construction).
    An integrator of this language needs ``classes − 1`` dimensions: the differences
    between the classes' counts.

    Args:
        classes: ``C`` (2 … 10); labels are ``0 … C−1``.
        length: min and max words per document.
        neutral_share: probability that a word is neutral (the valence language's).
        per_class: evidence words per class.
    """
    words = class_words(classes, per_class)
    if not 0 <= neutral_share < 1:
        raise ValueError(
            f"neutral_share must lie in [0, 1), got {neutral_share!r}: texts need evidence."
        )
    if not 1 <= length[0] <= length[1]:
        raise ValueError(f"length must be (min, max) with 1 ≤ min ≤ max, got {length!r}.")
    rng = np.random.default_rng(seed)
    texts: list[str] = []
    labels: list[int] = []
    quota = [n // classes + (c < n % classes) for c in range(classes)]  # counts differ by ≤ 1
    have = [0] * classes
    while len(texts) < n:
        doc, counts = [], np.zeros(classes)
        for _ in range(int(rng.integers(length[0], length[1] + 1))):
            if rng.random() < neutral_share:
                doc.append(str(rng.choice(NEUTRAL)))
                continue
            c = int(rng.integers(classes))
            doc.append(str(rng.choice(words[c])))
            counts[c] += 1
        top = np.flatnonzero(counts == counts.max())
        if len(top) > 1:
            continue  # no clear label: draw again
        label = int(top[0])
        if have[label] >= quota[label]:
            continue  # keep the classes balanced
        have[label] += 1
        texts.append(" ".join(doc))
        labels.append(label)
    return Corpus(texts, np.array(labels), ["synthetic"] * n)


def valence(word: str) -> float:
    """A word's valence in the language (modifiers: 0)."""
    return 1.0 if word in POSITIVE else -1.0 if word in NEGATIVE else 0.0
