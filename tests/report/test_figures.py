"""Figure builders: the data each figure draws (not pixels)."""

import numpy as np
import pandas as pd
import pytest

from rnnscope.report import figures


def test_loss_curves_take_medians_per_architecture():
    steps = np.array([10.0, 20.0, 30.0])
    histories = {
        0: {"step": steps, "loss": np.array([1.0, 0.5, 0.1])},
        1: {"step": steps, "loss": np.array([3.0, 1.5, 0.3])},
        2: {"step": steps, "loss": np.array([2.0, 1.0, 0.2])},
        3: {"step": steps[:2], "loss": np.array([9.0, 8.0])},
    }
    _, data = figures.loss_curves(histories, {0: "gru", 1: "gru", 2: "gru", 3: "lstm"})
    np.testing.assert_allclose(data["gru"]["median_loss"], [2.0, 1.0, 0.2])
    np.testing.assert_allclose(data["lstm"]["median_loss"], [9.0, 8.0])


def test_state_space_projects_and_classifies():
    rng = np.random.default_rng(0)
    probe = np.column_stack(
        [rng.normal(0, 5, 500), rng.normal(0, 1, 500), rng.normal(0, 0.01, 500)]
    )
    points = np.array([[4.0, 0, 0], [-4.0, 0, 0], [0.0, 0.5, 0]])
    n_unstable = np.array([0, 0, 1])
    q = np.array([1e-30, 1e-30, 1e-7])
    fixed = np.array([True, True, False])
    _, data = figures.state_space(probe, points, n_unstable, q, fixed, np.array([[2, 0]]))
    assert data["stable"].tolist() == [True, True, False] and data["slow"].tolist() == [
        False,
        False,
        True,
    ]
    assert abs(abs(data["point_pcs"][0, 0]) - 4.0) < 0.3  # PC 1 is the wide first axis
    assert data["edges"].tolist() == [[2, 0]]
    fig, data = figures.state_space(probe, points, n_unstable, q, fixed, np.array([[2, 0]]), dims=3)
    assert fig.axes[0].name == "3d" and data["point_pcs"].shape == (3, 3)
    assert abs(abs(data["point_pcs"][2, 1]) - 0.5) < 0.15  # PC 2: the second axis (less its mean)


def test_spectrum_time_constants_and_maps():
    ev = np.array([[0.9 + 0.1j, 0.5], [1.2, 0.3]])
    stable = np.array([True, False])
    _, data = figures.eigenvalue_spectrum(ev, stable)
    assert len(data["stable"]) == 2 and len(data["other"]) == 2
    _, data = figures.time_constants(ev, stable)
    np.testing.assert_allclose(data["tau"][0], 1 / np.abs(np.log(np.abs(ev[0]))))
    emb = np.arange(8.0).reshape(4, 2)
    _, data = figures.mds_map(emb, ["a", "b", "a", "b"], 0.5, "x")
    assert data["labels"] == ["a", "b", "a", "b"]
    _, data = figures.distance_heatmap(np.zeros((4, 4)), ["b", "a", "b", "a"], "d")
    assert data["order"].tolist() == [1, 3, 0, 2]


def test_transition_graph_and_task_readouts():
    labels = [(1, 1), (-1, 1), (0, 1)]
    _, data = figures.transition_graph(
        labels, np.array([[2, 0], [2, 1]]), np.array([True, True, False]), "g"
    )
    assert data["nodes"] == 3 and data["edges"] == 2 and data["labels"] == {0: "++", 1: "-+"}
    _, data = figures.frequency_match(
        np.array([[0.1, 0.2]]), np.array([[0.1, 0.21]]), np.array([[0.11, 0.19]]), ["gru"]
    )
    assert data["predicted"].shape == (1, 2)
    _, data = figures.context_lines(np.ones((2, 2)), np.full((2, 2), 0.5), ["gru", "lstm"])
    assert data["alignment"].mean() == pytest.approx(0.5)


def test_summary_figures():
    frame = pd.DataFrame({"architecture": ["gru", "gru", "lstm"], "status": ["solved", "diverged", "solved"],
                          "accuracy": [0.99, 0.5, 0.98], "n_stable": [8, 0, 8]})  # fmt: skip
    _, data = figures.status_bars(frame)
    assert data["counts"].loc["gru", "diverged"] == 1 and data["counts"].loc["lstm", "solved"] == 1
    _, data = figures.stable_vs_accuracy(frame)
    assert data["n_stable"].tolist() == [8, 0, 8]


def test_population_labels_include_activation_when_the_grid_varies_it():
    from rnnscope.report.html import _group_labels

    rows = pd.DataFrame(
        {"architecture": ["vanilla", "vanilla", "gru"], "activation": ["tanh", "relu", None]}
    )
    assert _group_labels(rows) == ["vanilla-tanh", "vanilla-relu", "gru"]
    same = pd.DataFrame({"architecture": ["vanilla", "gru"], "activation": ["tanh", None]})
    assert _group_labels(same) == ["vanilla", "gru"]


def test_valence_drive_shows_the_mean_drive_per_word():
    labels = np.array([1, 1, -1, 0])
    drive = np.array([[2.0, 1.0, -1.0, 0.0], [4.0, 3.0, -3.0, 0.2]])  # [points, words]
    fig, data = figures.valence_drive({"gru": drive}, labels, {"gru": "gru, AUC 1.00"})
    np.testing.assert_allclose(data["gru"], [3.0, 2.0, -2.0, 0.1])
    assert fig.axes[0].get_title() == "gru, AUC 1.00"
