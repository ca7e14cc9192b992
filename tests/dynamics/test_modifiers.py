"""Modifier words: a planted multiplicative transient is recovered exactly."""

import math

import numpy as np
import pytest
import torch

from rnnscope.dynamics import modifier_effects

DECAY = 0.5  # the transient's eigenvalue


def planted(h, x):
    """State ``[a, b]``: ``a`` integrates valence ``x[0]`` with gain ``1 + b``; ``b`` is a
    transient that a modifier ``x[1]`` kicks and that decays by ``DECAY`` per step."""
    a, b = h[..., 0], h[..., 1]
    return torch.stack([a + x[..., 0] * (1 + b), DECAY * b + x[..., 1]], dim=-1)


def test_a_planted_flip_and_doubling_are_recovered_with_their_decay():
    states = torch.tensor([[-3.0, 0.0], [0.0, 0.0], [2.0, 0.0]], dtype=torch.float64)  # on the line
    readout = torch.tensor([1.0, 0.0])
    modifiers = torch.tensor([[0.0, -2.0], [0.0, 1.0]])  # "not": gain −1; "very": gain 2
    words = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.5, 0.0], [0.0, 0.0]])
    labels = [1, -1, 1, 0]
    effects = modifier_effects(
        planted, states, readout, modifiers, words, word_labels=labels, max_gap=3, settle=10
    )
    flip, double = effects
    gaps = np.arange(4)
    np.testing.assert_allclose(flip.gain, 1 - 2 * DECAY**gaps, atol=1e-12)
    np.testing.assert_allclose(double.gain, 1 + DECAY**gaps, atol=1e-12)
    np.testing.assert_allclose(flip.gain_per_word[:3], -1.0, atol=1e-12)
    assert math.isnan(flip.gain_per_word[3])  # a neutral word has no gain
    for effect in effects:
        assert effect.own_effect == pytest.approx(0.0, abs=1e-12)  # no valence of its own
        assert effect.transient_dimension == 1
        np.testing.assert_allclose(np.abs(effect.transient_axes[0]), [0.0, 1.0], atol=1e-12)
        assert effect.readout_share == pytest.approx(0.0, abs=1e-12)  # off the line
        assert effect.transient_tau == pytest.approx(-1 / math.log(DECAY), rel=1e-9)


def test_a_modifier_without_a_transient_has_gain_one():
    states = torch.zeros(2, 2, dtype=torch.float64)
    effects = modifier_effects(
        planted, states, torch.tensor([1.0, 0.0]), torch.tensor([[0.0, 0.0]]),
        torch.tensor([[1.0, 0.0], [-1.0, 0.0]]), max_gap=2, settle=3,
    )  # fmt: skip
    np.testing.assert_allclose(effects[0].gain, 1.0)


def test_bad_inputs_are_named():
    h, w = torch.zeros(2, 2), torch.tensor([1.0, 0.0])
    words = torch.tensor([[1.0, 0.0]])
    with pytest.raises(ValueError, match="states must be"):
        modifier_effects(planted, torch.zeros(2), w, words, words)
    with pytest.raises(ValueError, match="readout must have 2"):
        modifier_effects(planted, h, torch.ones(3), words, words)
    with pytest.raises(ValueError, match="same input width"):
        modifier_effects(planted, h, w, torch.zeros(1, 3), words)
    with pytest.raises(ValueError, match="word_labels"):
        modifier_effects(planted, h, w, words, words, word_labels=[1, 1])
    with pytest.raises(ValueError, match="word_labels contain NaN"):
        modifier_effects(planted, h, w, words, words, word_labels=[float("nan")])
    with pytest.raises(ValueError, match="max_states must be a positive integer"):
        modifier_effects(planted, h, w, words, words, max_states=0)
    with pytest.raises(ValueError, match="min_effect"):
        modifier_effects(planted, h, w, words, words, min_effect=-1)
    with pytest.raises(ValueError, match="NaN or inf"):
        modifier_effects(planted, h * float("nan"), w, words, words)
    effect = modifier_effects(planted, h.double(), w, words, words, max_gap=np.int64(2))[0]
    assert len(effect.gain) == 3


def test_words_labelled_neutral_are_left_out_even_when_they_move_the_readout():
    states = torch.zeros(3, 2, dtype=torch.float64)
    words = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.3, 0.0]])  # the third moves a: labelled 0
    (flip,) = modifier_effects(
        planted, states, torch.tensor([1.0, 0.0]), torch.tensor([[0.0, -2.0]]), words,
        word_labels=[1, -1, 0], max_gap=0, settle=2,
    )  # fmt: skip
    assert np.isnan(flip.gain_per_word[2]) and flip.gain_per_word[:2] == pytest.approx([-1, -1])
    assert flip.gain_positive[0] == pytest.approx(-1) and flip.gain_negative[0] == pytest.approx(-1)


def test_the_gain_of_each_kind_of_word_is_kept_apart():
    """A step whose modifier flips positive words at half size and negative words at
    double size: the pooled median lies between, the per-kind gains are exact."""

    def lopsided(h, x):
        b = h[..., 1]
        v = x[..., 0]
        gain = torch.where(v > 0, 1 - 1.5 * b, 1 - 3 * b)  # b = 1 after the modifier
        return torch.stack([h[..., 0] + v * gain, 0.0 * b + x[..., 1]], dim=-1)

    states = torch.zeros(2, 2, dtype=torch.float64)
    words = torch.tensor([[1.0, 0.0], [2.0, 0.0], [-1.0, 0.0]])
    (effect,) = modifier_effects(
        lopsided, states, torch.tensor([1.0, 0.0]), torch.tensor([[0.0, 1.0]]), words,
        word_labels=[1, 1, -1], max_gap=0, settle=1,
    )  # fmt: skip
    assert effect.gain_positive[0] == pytest.approx(-0.5)
    assert effect.gain_negative[0] == pytest.approx(-2.0)


def test_many_states_are_thinned_evenly():
    def graded(h, x):  # the modifier's gain on the next word is 1 + a at a state on the line a
        a = h[..., 0]
        return torch.stack([a + x[..., 0] * (1 + h[..., 1] * a), x[..., 1]], -1)

    line = torch.zeros(5, 2, dtype=torch.float64)
    line[:, 0] = torch.arange(5.0)
    few = torch.tensor([[1e-6, 0.0]])  # too small to move a: the gain is 1 + a
    (kept,) = modifier_effects(
        graded, line, torch.tensor([1.0, 0.0]), torch.tensor([[0.0, 1.0]]), few,
        max_gap=0, settle=0, max_states=3,
    )  # fmt: skip
    assert kept.gain[0] == pytest.approx(3.0, rel=1e-4)  # states a = 0, 2, 4: median 1 + 2


def test_neutral_words_are_not_run_and_many_states_are_thinned():
    states = torch.linspace(-2, 2, 50, dtype=torch.float64)[:, None] * torch.tensor(
        [1.0, 0.0], dtype=torch.float64
    )
    words = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    (effect,) = modifier_effects(
        planted, states, torch.tensor([1.0, 0.0]), torch.tensor([[0.0, -2.0]]), words,
        word_labels=[1, 0], max_gap=0, settle=2, max_states=5,
    )  # fmt: skip
    assert effect.gain[0] == pytest.approx(-1.0) and np.isnan(effect.gain_per_word[1])
    with pytest.raises(ValueError, match="no word as positive or negative"):
        modifier_effects(
            planted, states, torch.tensor([1.0, 0.0]), words, words, word_labels=[0, 0]
        )
