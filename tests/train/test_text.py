"""Population training of text classifiers, and the bag-of-words baseline."""

import numpy as np
import pytest
import torch

import rnnscope as rs
from rnnscope.tasks.text import prepare_text, valence_language
from rnnscope.train.bag_of_words import bag_of_words_baseline
from rnnscope.train.text import TextTrainConfig, evaluate_text, train_text_population


@pytest.fixture(scope="module")
def data():
    return prepare_text(
        valence_language(4000, length=(10, 30), seed=0), max_length=None, min_count=1
    )


FAST = TextTrainConfig(embedding_size=16, max_epochs=10, eval_every=25, patience=8)


@pytest.fixture(scope="module")
def trained(data):
    grid = rs.make_grid(["vanilla", "gru", "lstm", "ugrnn"], [32], learning_rates=[3e-3], seeds=[0])
    return train_text_population(data, grid, FAST)


def test_every_architecture_learns_the_valence_language(trained, data):
    frame = trained.networks
    assert list(frame["status"]) == ["solved"] * 4
    assert (frame["test_accuracy"] >= 0.95).all(), frame[["architecture", "test_accuracy"]]
    # the returned parameters are the best ones on validation
    for group in trained.groups:
        acc, _ = evaluate_text(group.network, group.params, data, "validation")
        row = frame.set_index("network").loc[group.ids[0]]
        assert acc[0].item() == pytest.approx(row["accuracy"])
    assert {"step", "loss", "accuracy"} <= set(trained.history.columns)


def test_early_stopping_and_grouping_do_not_change_a_network(data):
    config = TextTrainConfig(embedding_size=8, max_epochs=3, eval_every=10, patience=2)
    grid = rs.make_grid(["gru"], [8], learning_rates=[3e-2, 1e-2], seeds=[0])
    both = train_text_population(data, grid, config)
    alone = train_text_population(
        data, grid.iloc[[1]].reset_index(drop=True).assign(network=[1]), config
    )
    for key, value in alone.groups[0].params.items():
        torch.testing.assert_close(both.groups[0].params[key][1], value[0], rtol=0, atol=1e-5)
    frame = both.networks
    assert (frame["best_step"] <= frame["steps"]).all()


def test_divergence_is_quarantined(data):
    grid = rs.make_grid(["vanilla"], [8], learning_rates=[float("inf"), 1e-2], seeds=[0])
    result = train_text_population(
        data, grid, TextTrainConfig(embedding_size=4, max_epochs=1, eval_every=10)
    )
    status = dict(zip(result.networks["learning_rate"], result.networks["status"], strict=True))
    assert status[float("inf")] == "diverged"
    assert torch.isfinite(result.groups[0].params["W_hh"][1]).all()


def test_bad_inputs(data):
    grid = rs.make_grid(["gru"], [8], seeds=[0])
    with pytest.raises(TypeError, match="TextDataset"):
        train_text_population("reviews.csv", grid)
    with pytest.raises(ValueError, match="patience"):
        TextTrainConfig(patience=0)


def test_bag_of_words_baseline_and_valence_words(data):
    bow = bag_of_words_baseline(data)
    assert bow.test_accuracy > 0.9
    words = bow.valence_words(n=4, min_count=5)
    tokens = data.vocabulary.tokens
    positive = {tokens[i] for i in words["positive"]}
    negative = {tokens[i] for i in words["negative"]}
    assert positive <= set(rs.tasks.text.synthetic.POSITIVE)
    assert negative <= set(rs.tasks.text.synthetic.NEGATIVE)
    assert (
        np.abs(bow.coefficients[words["neutral"]]).max()
        < np.abs(bow.coefficients[words["positive"]]).min()
    )
    with pytest.raises(ValueError, match="tokens occur"):
        bow.valence_words(n=100)


def test_trained_networks_integrate_along_a_readout_aligned_line(trained, data):
    """The paper's read-out on the valence language: a line of slow points aligned with
    the readout, and words whose drive on its top mode carries their valence."""
    from rnnscope.dynamics.integration import analyze_integration
    from rnnscope.tasks.text.synthetic import valence

    tokens, lengths, _ = next(data.batches("test", 128, bucket=False))
    mask = torch.arange(tokens.shape[1])[None] < lengths[:, None]
    words = [t for t in data.vocabulary.tokens[2:] if t not in ("not", "very")]
    ids = torch.tensor([data.vocabulary.index[w] for w in words])
    labels = np.array([valence(w) for w in words])
    found = {}
    for group in trained.groups:
        net, params = group.network, group.params
        with torch.no_grad():
            states, _ = net.run(params, tokens, lengths)
        readout = net.readout_vectors(params)[0, :, 0]
        step = net.step_function(params)
        name = repr(net.cell)
        out = analyze_integration(
            step, states[0], readout, mask=mask, inputs=params["embedding"][0, ids],
            input_labels=labels, n_candidates=256, observed=net.hidden_size,
        )  # fmt: skip
        # every architecture: zero-input points along a line the readout reads, and the
        # readout-relevant sign of each word on its top mode
        assert out.n_fixed_points >= 2, name
        assert out.line.explained_variance_ratio[0] > 0.75, (name, str(out.summary()))
        assert out.line.readout_alignment[0] > out.line.null_alignment[1], name
        # positive and negative words separated at most points (small networks on short
        # texts curl at their saturated ends, where the top mode is another one)
        assert np.median(out.valence_auc_per_point) >= 0.9, (name, out.valence_auc_per_point)
        found[name.split("(")[0]] = out
    # on texts of 10–30 words (mean 20) the gated networks hold evidence in a mode of
    # τ ≈ 15 tokens rather than a near-unit one: a line attractor on the texts' scale
    # (the vanilla network's top modes, τ ≈ 10, are at the edge of it)
    for name in ("GRU", "LSTM", "UGRNN"):
        assert found[name].is_line_attractor(share=0.75, min_tau=10), str(found[name].summary())


def test_a_grid_sets_each_networks_clip_and_embedding_width(data):
    config = TextTrainConfig(embedding_size=8, max_epochs=1, eval_every=10, grad_clip=1.0)
    base = rs.make_grid(["gru"], [8], learning_rates=[3e-2], seeds=[0])
    plain = train_text_population(data, base, config).groups[0].params
    same = rs.make_grid(["gru"], [8], learning_rates=[3e-2], seeds=[0], grad_clips=[1.0])
    tight = rs.make_grid(["gru"], [8], learning_rates=[3e-2], seeds=[0], grad_clips=[1e-6])
    for key, value in train_text_population(data, same, config).groups[0].params.items():
        assert torch.equal(value, plain[key]), key  # the row's clip is the config's: same network
    clipped = train_text_population(data, tight, config).groups[0].params
    assert not torch.equal(clipped["W_hh"], plain["W_hh"])  # the row's clip acted
    wide = rs.make_grid(["gru"], [8], learning_rates=[3e-2], seeds=[0], embedding_sizes=[4, 12])
    result = train_text_population(data, wide, config)
    widths = sorted(g.params["embedding"].shape[-1] for g in result.groups)
    assert widths == [4, 12] and len(result.groups) == 2  # one group per width


def test_a_learning_rate_schedule_is_applied_and_checked(data):
    grid = rs.make_grid(["gru"], [8], learning_rates=[3e-2], seeds=[0])
    config = dict(embedding_size=8, max_epochs=1, eval_every=10)
    flat = train_text_population(data, grid, TextTrainConfig(**config)).groups[0].params
    cosine = TextTrainConfig(**config, lr_schedule="cosine")
    decayed = train_text_population(data, grid, cosine).groups[0].params
    assert not torch.equal(flat["W_hh"], decayed["W_hh"])
    # the schedule runs over the trainer's whole step budget
    from rnnscope.train import optim

    calls = []
    original = optim.schedule
    try:
        optim.schedule = lambda name, total: calls.append((name, total)) or original(name, total)
        train_text_population(data, grid, cosine)
    finally:
        optim.schedule = original
    steps = -(-len(data.train) // cosine.batch_size) * cosine.max_epochs
    assert calls == [("cosine", steps)]
    with pytest.raises(ValueError, match="lr_schedule must be one of"):
        TextTrainConfig(lr_schedule="step")
