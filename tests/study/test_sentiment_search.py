"""Sentiment studies: a random search with selection on validation, the modifier
read-out, and a C-class task, end to end on synthetic languages."""

import numpy as np
import pytest

from rnnscope.report import build_report
from rnnscope.study import StudySpec, _text, load, run_study


def _spec(options, grid, **extra):
    return StudySpec.model_validate(
        {"name": "s", "task": {"name": "sentiment", "options": {"corpus": "synthetic", **options}},
         "grid": grid,
         "train": {"max_epochs": 3, "batch_size": 32, "eval_every": 20, "embedding_size": 8},
         "fixed_points": {"candidates": 64}, "probe": {"batch_size": 32},
         "compare": {"geometry": ["svcca"], "topology": False}, **extra}
    )  # fmt: skip


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    root = tmp_path_factory.mktemp("search") / "s"
    grid = {"architectures": ["gru", "vanilla"], "hidden_sizes": [8, 16],
            "learning_rates": [1e-3, 1e-2], "grad_clips": [0.5, 5.0], "embedding_sizes": [4, 8],
            "search": 3, "seeds": 1}  # fmt: skip
    spec = _spec({"synthetic_size": 800, "modifiers": True}, grid)
    run_study(spec, root).close()
    with load(root) as study:
        build_report(study)
    return root


def test_a_search_trains_the_drawn_configurations_with_their_own_settings(searched):
    with load(searched) as study:
        frame = study.networks
        assert len(frame) == 6 and (frame.groupby("architecture").size() == 3).all()
        configs = frame[
            ["architecture", "hidden_size", "learning_rate", "grad_clip", "embedding_size"]
        ]
        assert not configs.duplicated().any() and frame["grad_clip"].notna().all()
        for row in frame.itertuples():  # each network embeds with its own row's width
            params = study.params(int(row.network))
            assert params["embedding"].shape[-1] == row.embedding_size
            assert params["W_out"].shape[1] == row.hidden_size


def test_selection_takes_the_best_validation_accuracy_per_architecture_first_on_ties():
    import pandas as pd

    frame = pd.DataFrame({
        "network": [0, 1, 2, 3, 4, 5], "architecture": ["gru", "gru", "gru", "lstm", "lstm", "ugrnn"],
        "accuracy": [0.8, 0.9, 0.9, 0.7, float("nan"), float("nan")],
        "test_accuracy": [0.85, 0.8, 0.95, 0.7, 0.9, 0.9],
    })  # fmt: skip
    table = _text.selection_table(frame)
    assert list(table.loc[table["selected"], "network"]) == [1, 3]  # validation, not test
    assert list(table["network"]) == [1, 2, 0, 3, 4, 5]  # best first within architecture
    best = _text.best_table(frame)
    assert list(best.index) == ["gru", "lstm"] and list(best["network"]) == [1, 3]


def test_selection_picks_the_best_validation_configuration(searched):
    with load(searched) as study:
        frame = study.networks
        table = study.readout_table()
        best = _text.best_table(table)
        selection = _text.selection_table(frame)
    for arch, rows in frame.groupby("architecture"):
        top = rows.loc[rows["accuracy"].idxmax(), "network"]
        assert best.loc[arch, "network"] == top
        chosen = selection[selection["selected"] & (selection["architecture"] == arch)]
        assert list(chosen["network"]) == [top]
    assert best.loc["gru", "embedding_size"] in (4, 8)  # the chosen configuration is shown
    summary = (searched / "report" / "summary.txt").read_text()
    assert "selection: 6 networks searched" in summary
    html = (searched / "report" / "index.html").read_text()
    assert "<h3>Selection</h3>" in html and "grad_clip" in html


def test_the_modifier_read_out_is_stored_and_reported(searched):
    import torch

    from rnnscope.dynamics import modifier_effects

    with load(searched) as study:
        for n in study.networks["network"]:
            arrays = study.analysis(int(n))
            assert list(arrays["sentiment_modifier_words"]) == ["not", "very"]
            assert arrays["sentiment_modifier_gain"].shape == (2, _text.MODIFIER_GAPS + 1)
        # what is stored is modifier_effects of the network, from its fixed points
        n = int(study.networks["network"].iloc[0])
        net, params = study.network(n)
        fps = study.fixed_points(n)
        index = study.family.task(study.spec).data.vocabulary.index
        ids, labels = _text.valence_words(study.baseline())
        table = params["embedding"][0]
        effects = modifier_effects(
            net.step_function(params), fps.points.float(), net.readout_vectors(params)[0, :, 0],
            table[[index["not"], index["very"]]], table[torch.from_numpy(ids).long()],
            word_labels=labels, max_gap=_text.MODIFIER_GAPS, settle=_text.MODIFIER_SETTLE,
            max_states=_text.MODIFIER_STATES,
        )  # fmt: skip
        stored = study.analysis(n)["sentiment_modifier_gain"]
        np.testing.assert_allclose(stored, np.stack([e.gain for e in effects]), rtol=1e-5)
    summary = (searched / "report" / "summary.txt").read_text()
    assert "modifier words, best network per architecture" in summary
    html = (searched / "report" / "index.html").read_text()
    assert "<h3>Modifier words</h3>" in html and "modifier_gain" in html


def test_a_three_class_study_reports_its_attractor_dimension(tmp_path):
    spec = _spec(
        {"synthetic_size": 1500, "classes": 3},
        {"architectures": ["gru"], "hidden_sizes": [16], "learning_rates": [1e-2], "seeds": 1},
    )
    run_study(spec, tmp_path / "s").close()
    with load(tmp_path / "s") as study:
        row = study.readout_table().iloc[0]
        assert row["classes"] == 3 and study.params(0)["W_out"].shape[-1] == 3
        assert row["test_accuracy"] > 0.8
        # the stored read-out gives the ground truth: a plane of fixed points in the
        # readout's two class contrasts
        assert row["line_dimension"] == 2 and row["readout_subspace_share"] > 0.8
        assert np.isnan(row["valence_auc"])  # no valence words for three classes
        build_report(study)
    html = (tmp_path / "s" / "report" / "index.html").read_text()
    assert "The attractor of a 3-class task" in html and "class_attractor" in html


def test_a_search_or_class_count_that_cannot_apply_is_refused():
    with pytest.raises(ValueError, match="only text tasks embed tokens"):
        StudySpec.model_validate(
            {"name": "f", "task": {"name": "flipflop"}, "grid": {"embedding_sizes": [8]}}
        )
    with pytest.raises(ValueError, match="needs corpus='synthetic'"):
        _spec({"corpus": "rotten_tomatoes", "classes": 3}, {"architectures": ["gru"]})


def test_older_sentiment_stores_read_as_fan_in_vanilla_and_a_new_search_is_a_change():
    import json

    from rnnscope.study.fingerprint import spec_change
    from rnnscope.study.spec import stored_spec

    new = _spec({"synthetic_size": 800}, {"architectures": ["vanilla"]})
    assert new.train.recurrent_init == {"vanilla": "orthogonal"}
    data = json.loads(new.model_dump_json())
    del data["train"]["recurrent_init"]  # as a store of an earlier version recorded it
    old = stored_spec(json.dumps(data))
    assert old.train.recurrent_init == {}
    assert spec_change(old, new).changed == ["train.recurrent_init.vanilla"]
    searched = _spec({"synthetic_size": 800}, {"architectures": ["vanilla"], "search": 2})
    assert spec_change(new, searched).changed == ["grid.search"]
