"""How modifier words act on an integrator (Maheswaranathan & Sussillo 2020).

A sentiment network integrates valence words along a line attractor; a modifier such
as "not" or "very" barely moves the state along the line itself, but excites a
transient in a low-dimensional subspace of its own, and while that transient lasts the
next valence word moves the state along the line by a different amount: flipped after
"not", amplified after "very".

:func:`modifier_effects` measures this on any step function ``F(h, x)``, starting from
given states (the network's fixed points along its line, or visited states). For a
modifier ``m``, a valence word ``w`` and a gap of ``k`` zero-input steps between them:

* the word's plain effect: the readout change ``Δ_w`` that reading ``w`` leaves after
  ``settle`` further zero-input steps, against the same states left alone;
* its modified effect: the same change when ``m`` and ``k`` zero-input steps come
  first, against reading ``m`` and the gap without ``w``;
* the modifier's *gain* at gap ``k``: the modified over the plain effect (median over
  words with a clear plain effect and over starting states). A planted "not" is −1, a
  planted "very" 2; as the gap grows the gain returns to 1 when the modifier's
  transient fades.

The transient subspace: the principal axes of the displacement that ``m`` alone causes
(states after ``m`` and ``t`` zero-input steps minus the states left alone, over
``t = 0 … settle``), how much of it lies along the readout, and how fast it decays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ._steps import Step, call_step, step_in_dtype

__all__ = ["ModifierEffect", "modifier_effects"]


@dataclass
class ModifierEffect:
    """What :func:`modifier_effects` measured for one modifier.

    Attributes:
        gain: ``[G]`` median gain of the valence words' effect on the readout when the
            modifier comes ``k = 0 … G−1`` zero-input steps before them (1: no effect;
            −1: flipped; 2: doubled), over all words and states.
        gain_positive, gain_negative: ``[G]`` the same over the positive and the
            negative words alone (NaN without labels or without such words). They
            differ when the two kinds move the readout by different amounts: a network
            that reads "not good" as "bad" and "not bad" as "good" has
            ``gain_positive = Δ_bad / Δ_good`` and ``gain_negative = Δ_good / Δ_bad``,
            negative both, with product 1, while the pooled median falls between them.
        gain_per_word: ``[W]`` median gain over starting states, gap 0 (NaN for words
            without a clear plain effect, e.g. neutral ones).
        own_effect: median readout change the modifier alone leaves after ``settle``
            steps, relative to the median ``|Δ_w|`` of the valence words (0: it carries
            no valence of its own).
        transient_axes: ``[K, S]`` principal axes of the displacement it excites.
        transient_variance: ``[K]`` share of the displacement's variance per axis.
        transient_dimension: axes needed for 90% of it.
        readout_share: share of the displacement's variance along the readout (a
            transient off the line: near 0).
        transient_tau: decay time constant of the displacement's size, in steps (from
            a log-linear fit over the settle steps; ``inf`` if it does not decay).
        displacement: ``[settle + 1]`` median norm of the displacement per step.
    """

    gain: np.ndarray
    gain_positive: np.ndarray
    gain_negative: np.ndarray
    gain_per_word: np.ndarray
    own_effect: float
    transient_axes: np.ndarray
    transient_variance: np.ndarray
    transient_dimension: int
    readout_share: float
    transient_tau: float
    displacement: np.ndarray

    def summary(self) -> dict:
        return {
            "gain": float(self.gain[0]),
            "gain_positive": float(self.gain_positive[0]),
            "gain_negative": float(self.gain_negative[0]),
            f"gain_gap_{len(self.gain) - 1}": float(self.gain[-1]),
            "own_effect": self.own_effect,
            "transient_dimension": self.transient_dimension,
            "readout_share": self.readout_share,
            "transient_tau": self.transient_tau,
        }


def modifier_effects(
    step: Step,
    states,
    readout,
    modifiers,
    words,
    *,
    word_labels=None,
    max_gap: int = 5,
    settle: int = 20,
    zero=None,
    min_effect: float = 0.1,
    max_states: int | None = 64,
) -> list[ModifierEffect]:
    """Measure how each modifier changes the valence words' effect (module docs).

    Args:
        step: ``F(h, x)`` of one network, batched over leading axes (``h [B, S]``,
            ``x [B, I]``).
        states: ``[M, S]`` starting states (e.g. the zero-input fixed points).
        readout: ``[S]`` readout vector in state coordinates.
        modifiers: ``[K, I]`` modifier inputs (word embeddings).
        words: ``[W, I]`` valence-word inputs.
        word_labels: optional ``[W]`` (+1/−1/0): words labelled 0 are left out (their
            plain effect is noise); the signs give ``gain_positive``/``gain_negative``.
        max_gap: gaps ``0 … max_gap`` zero-input steps between modifier and word.
        settle: zero-input steps after the word before the readout is read, so that
            transients fade and what is left is what the line holds.
        zero: the "no word" input ``[I]`` (default zeros).
        min_effect: a (state, word) pair counts towards the gain when its plain
            ``|Δ_w|`` is at least this share of the median ``|Δ_w|``.
        max_states: start from at most this many of ``states``, evenly spaced in their
            order (``None``: all); the cost grows with states × words × gaps × settle.

    The steps run in the states' dtype: float64 states give float64 arithmetic,
    anything else float32 (the step is moved there when it has a ``.to``; a plain
    callable must accept states of that dtype).

    Returns:
        One :class:`ModifierEffect` per modifier, in order.
    """
    h0 = torch.as_tensor(states).detach()
    dtype = torch.float64 if h0.dtype == torch.float64 else torch.float32
    h0 = h0.to(dtype)
    if h0.dim() != 2 or h0.shape[0] == 0:
        raise ValueError(f"states must be [M, S] with M ≥ 1, got shape {list(h0.shape)}.")
    if not torch.isfinite(h0).all():
        raise ValueError("states contain NaN or inf; pass finite starting states.")
    for name, value, low in (("max_gap", max_gap, 0), ("settle", settle, 0)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}.")
    max_gap, settle = int(max_gap), int(settle)
    if max_states is not None and (
        isinstance(max_states, bool)
        or not isinstance(max_states, int | np.integer)
        or max_states < 1
    ):
        raise ValueError(f"max_states must be a positive integer or None, got {max_states!r}.")
    if not min_effect >= 0:
        raise ValueError(f"min_effect must be >= 0, got {min_effect!r}.")
    if max_states is not None and len(h0) > max_states:
        h0 = h0[np.unique(np.linspace(0, len(h0) - 1, max_states).round().astype(int))]
    m, size = h0.shape
    w = torch.as_tensor(readout).detach().to(dtype).reshape(-1)
    if w.shape[0] != size:
        raise ValueError(f"readout must have {size} entries (the state size), got {w.shape[0]}.")
    mods = _inputs("modifiers", modifiers).to(dtype)
    xw = _inputs("words", words).to(dtype)
    if mods.shape[1] != xw.shape[1]:
        raise ValueError(
            f"modifiers and words must have the same input width, got {mods.shape[1]} and {xw.shape[1]}."
        )
    n_words, width = xw.shape
    labels = np.ones(n_words) if word_labels is None else np.asarray(word_labels, dtype=float)
    if labels.shape != (n_words,):
        raise ValueError(f"word_labels must be [W] = [{n_words}], got shape {list(labels.shape)}.")
    if not np.isfinite(labels).all():
        raise ValueError("word_labels contain NaN or inf; use +1, −1 or 0 per word.")
    x0 = torch.zeros(width, dtype=dtype) if zero is None else _vector(zero, width).to(dtype)
    run = _Runner(step, x0)
    valence = labels != 0  # neutral words have no gain: they are not run
    sign = np.sign(labels[valence])
    all_words, xw = n_words, xw[torch.from_numpy(valence)]
    n_words = len(xw)
    if n_words == 0:
        raise ValueError("word_labels mark no word as positive or negative (all 0).")

    # the word's plain effect: Δ_w = w·(F^settle(F(h, x_w))) − w·F^(settle+1)(h)
    alone = run.zeros(h0, settle + 1)  # [M, S]
    plain = run.zeros(run(_tile(h0, n_words), _rep(xw, m)), settle) @ w  # [M·W]
    plain = (plain - _tile(alone @ w, n_words)).reshape(m, n_words).double().numpy()
    scale = float(np.median(np.abs(plain)))
    clear = (np.abs(plain) >= min_effect * scale) & (scale > 0)

    effects = []
    for x_m in mods:
        after = run(h0, x_m.expand(m, width))  # [M, S]: the modifier read
        gains, positive, negative = [], [], []
        per_word = None
        for gap in range(max_gap + 1):
            ready = run.zeros(after, gap)
            base = run.zeros(ready, settle + 1) @ w  # modifier and gap, no word
            moved = run.zeros(run(_tile(ready, n_words), _rep(xw, m)), settle) @ w
            changed = (moved - _tile(base, n_words)).reshape(m, n_words).double().numpy()
            ratio = np.where(clear, changed / np.where(clear, plain, 1.0), np.nan)
            gains.append(_nanmedian(ratio))
            positive.append(_nanmedian(ratio[:, sign > 0]) if word_labels is not None else np.nan)
            negative.append(_nanmedian(ratio[:, sign < 0]) if word_labels is not None else np.nan)
            if gap == 0:
                per_word = np.full(all_words, np.nan)
                per_word[valence] = [_nanmedian(ratio[:, j]) for j in range(n_words)]
        # the transient: displacement from the states left alone, step by step
        path, h, r = [], after, run(h0, x0.expand(m, width))
        for t in range(settle + 1):
            path.append(h - r)
            if t < settle:
                h, r = run(h, x0.expand(m, width)), run(r, x0.expand(m, width))
        disp = torch.stack(path).double()  # [settle + 1, M, S]
        own = (
            float(np.median(((disp[-1] @ w.double()) / scale).numpy()))
            if scale > 0
            else float("nan")
        )
        gain = (np.array(gains), np.array(positive, float), np.array(negative, float))
        effects.append(_transient(disp, w, gain, per_word, own))
    return effects


def _transient(disp: torch.Tensor, w: torch.Tensor, gain, per_word, own) -> ModifierEffect:
    flat = disp.reshape(-1, disp.shape[-1]).numpy()
    _, sing, axes = np.linalg.svd(flat, full_matrices=False)  # uncentred: displacement from 0
    var = sing**2
    ratio = var / var.sum() if var.sum() > 0 else var
    dimension = int(np.searchsorted(np.cumsum(ratio), 0.9 - 1e-12) + 1) if var.sum() > 0 else 0
    w = w.double()
    unit = (w / w.norm()).numpy()
    total = float((flat**2).sum())
    readout_share = float(((flat @ unit) ** 2).sum() / total) if total > 0 else float("nan")
    norms = np.median(np.linalg.norm(disp.numpy(), axis=-1), axis=1)  # [settle + 1]
    k = max(dimension, 0)
    return ModifierEffect(
        gain=gain[0],
        gain_positive=gain[1],
        gain_negative=gain[2],
        gain_per_word=per_word,
        own_effect=own,
        transient_axes=axes[:k],  # none for a modifier that excites nothing
        transient_variance=ratio[:k],
        transient_dimension=dimension,
        readout_share=readout_share,
        transient_tau=_decay_time(norms),
        displacement=norms,
    )


def _decay_time(norms: np.ndarray) -> float:
    """τ of ``norms[t] ≈ a·exp(−t/τ)`` by least squares on the log (steps)."""
    ok = norms > 1e-12 * max(norms.max(), 1e-300)
    t = np.arange(len(norms))[ok]
    if len(t) < 2:
        return float("nan")
    slope = np.polyfit(t, np.log(norms[ok]), 1)[0]
    return float("inf") if slope >= 0 else float(-1.0 / slope)


class _Runner:
    """The step in the states' dtype on flat ``[B, S]`` batches."""

    def __init__(self, step: Step, zero: torch.Tensor) -> None:
        self.step = step_in_dtype(step, zero.dtype)
        self.zero = zero

    def __call__(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            try:
                return call_step(self.step, h, x.to(h.dtype)).to(h.dtype)
            except RuntimeError as err:
                if "dtype" not in str(err) and "Double" not in str(err) and "Float" not in str(err):
                    raise
                raise ValueError(
                    f"the step failed on {h.dtype} states ({str(err).splitlines()[0]}); pass states "
                    "in the step's dtype, or give the step a .to(dtype) method."
                ) from None

    def zeros(self, h: torch.Tensor, steps: int) -> torch.Tensor:
        x = self.zero.expand(h.shape[0], -1)
        for _ in range(steps):
            h = self(h, x)
        return h


def _tile(a: torch.Tensor, n: int) -> torch.Tensor:
    """Each row of ``a`` repeated ``n`` times in a row: ``[M·n, ...]`` (state-major)."""
    return a.repeat_interleave(n, dim=0)


def _rep(x: torch.Tensor, m: int) -> torch.Tensor:
    """``x [W, I]`` for each of ``m`` states: ``[m·W, I]`` (state-major)."""
    return x.repeat(m, 1)


def _inputs(name: str, a) -> torch.Tensor:
    t = torch.as_tensor(a).detach().double()
    if t.dim() != 2 or t.shape[0] == 0:
        raise ValueError(f"{name} must be [K, I] with K ≥ 1, got shape {list(t.shape)}.")
    return t


def _vector(a, width: int) -> torch.Tensor:
    t = torch.as_tensor(a).detach().double().reshape(-1)
    if t.shape[0] != width:
        raise ValueError(f"zero must have {width} entries (the input width), got {t.shape[0]}.")
    return t


def _nanmedian(a: np.ndarray) -> float:
    a = np.asarray(a, dtype=float)
    return float(np.nanmedian(a)) if np.isfinite(a).any() else float("nan")
