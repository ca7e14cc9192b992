"""Mechanisms of trained text classifiers against the ground truth of synthetic languages:
planted modifier effects, and the (C − 1)-dimensional attractor of a C-class task."""

import pytest
import torch

import rnnscope as rs
from rnnscope.dynamics import analyze_integration, modifier_effects, readout_subspace_share
from rnnscope.tasks.text import class_language, prepare_text, valence_language
from rnnscope.tasks.text.synthetic import NEGATIVE, POSITIVE

CONFIG = rs.TextTrainConfig(embedding_size=16, max_epochs=15, eval_every=25, patience=8)


def _train(corpus, architecture="gru"):
    data = prepare_text(corpus, max_length=None, min_count=1)
    grid = rs.make_grid([architecture], [32], learning_rates=[3e-3], seeds=[0])
    result = rs.train_text_population(data, grid, CONFIG)
    net, params = result.network(0)
    tokens, lengths, _ = next(data.batches("test", 128, bucket=False))
    with torch.no_grad():
        states, _ = net.run(params, tokens, lengths)
    mask = torch.arange(tokens.shape[1]) < lengths[:, None]
    return data, result, net, params, states[0], mask


def test_planted_not_and_very_are_recovered_from_a_trained_network():
    """In the language "not" flips the next word's valence and "very" doubles it; the
    trained GRU's gains on the next word have those signs and about those sizes, and
    the modifier's effect fades within a few words (the language never carries it)."""
    corpus = valence_language(4000, length=(10, 30), modifiers=True, modifier_share=0.3, seed=0)
    data, result, net, params, states, mask = _train(corpus)
    assert result.networks["test_accuracy"][0] > 0.95
    index = data.vocabulary.index
    words = list(POSITIVE) + list(NEGATIVE)
    embedding = params["embedding"][0]
    readout = net.readout_vectors(params)[0, :, 0]
    analysis = analyze_integration(
        net.step_function(params), states, readout, mask=mask, observed=net.hidden_size,
        n_candidates=256,
    )  # fmt: skip
    assert analysis.n_fixed_points >= 2
    flip, double = modifier_effects(
        net.step_function(params), analysis.fixed_points.points, readout,
        embedding[[index["not"], index["very"]]], embedding[[index[w] for w in words]],
        word_labels=[1] * len(POSITIVE) + [-1] * len(NEGATIVE), max_gap=4,
    )  # fmt: skip
    # "not good" reads as "bad" and "not bad" as "good": both gains negative, and their
    # product about 1 (the two kinds of words move the readout by different amounts)
    assert flip.gain_positive[0] < -0.1 and flip.gain_negative[0] < -0.1, flip.summary()
    assert 0.5 < flip.gain_positive[0] * flip.gain_negative[0] < 2, flip.summary()
    assert -1.6 < flip.gain[0] < -0.5, flip.gain
    # "very" doubles each kind of word
    assert 1.4 < double.gain_positive[0] < 2.8 and 1.4 < double.gain_negative[0] < 2.8
    assert 1.5 < double.gain[0] < 2.6, double.gain
    assert abs(flip.gain[-1] - 1) < 0.3 and abs(double.gain[-1] - 1) < 0.3  # faded
    for effect in (flip, double):
        assert abs(effect.own_effect) < 0.3  # the modifier carries little valence itself
        assert effect.readout_share < 0.2  # its transient lies off the readout


@pytest.mark.parametrize("classes", [3, 4])
def test_a_c_class_network_integrates_on_a_c_minus_1_dimensional_attractor(classes):
    """Aitken et al. (2020): the fixed points of a C-class integrator span C − 1
    dimensions, the readout's class contrasts."""
    corpus = class_language(4000, classes, length=(20, 60), seed=0)
    _, result, net, params, states, mask = _train(corpus)
    assert net.output_size == classes and result.networks["test_accuracy"][0] > 0.95
    readouts = net.readout_vectors(params)[0]
    analysis = analyze_integration(
        net.step_function(params), states, readouts, mask=mask, observed=net.hidden_size,
        n_candidates=512,
    )  # fmt: skip
    assert analysis.line.dimension == classes - 1, analysis.line.explained_variance_ratio[:5]
    points = analysis.fixed_points.points[:, : net.hidden_size]
    assert readout_subspace_share(points, readouts[: net.hidden_size]) > 0.8
    # the states the network visits span the same C − 1 dimensions
    assert analysis.components_for(0.9) == classes - 1
