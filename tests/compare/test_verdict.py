"""The verdict in numbers, on synthetic populations with planted structure."""

import importlib

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import cdist
from scipy.stats import kstest
from sklearn.metrics import silhouette_score

from rnnscope.compare import separation, verdict, verdict_sentence, verdict_table


def population(seeds: int = 5) -> pd.DataFrame:
    """4 architectures (vanilla with tanh and ReLU), hidden 32 and 64, ``seeds`` each."""
    rows = []
    for arch, acts in (
        ("vanilla", ("tanh", "relu")),
        ("gru", (None,)),
        ("lstm", (None,)),
        ("ugrnn", (None,)),
    ):
        for act in acts:
            for hidden in (32, 64):
                for seed in range(seeds):
                    rows.append(
                        {
                            "architecture": arch,
                            "activation": act,
                            "hidden_size": hidden,
                            "seed": seed,
                        }
                    )
    return pd.DataFrame(rows)


def clustered(labels, spread: float, seed: int) -> np.ndarray:
    """Distances between points around one centre per label (``spread``: noise sd)."""
    rng = np.random.default_rng(seed)
    names = sorted(set(labels))
    centres = rng.normal(size=(len(names), 5)) * 3
    x = centres[[names.index(v) for v in labels]] + spread * rng.normal(size=(len(labels), 5))
    return cdist(x, x)


def unstructured(n: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, 5))
    return cdist(x, x)


def test_separation_scores_match_their_definitions():
    labels = np.repeat(["a", "b", "c"], [8, 6, 4])
    d = clustered(labels, 2.0, 0)
    s = separation(d, labels, permutations=500)
    assert s["silhouette"] == pytest.approx(silhouette_score(d, labels, metric="precomputed"))
    n, sizes = 18, np.array([8, 6, 4])
    assert s["chance"] == pytest.approx((sizes * (sizes - 1)).sum() / (n * (n - 1)))
    # leave-one-out 1-NN by hand
    off = d + np.diag(np.full(n, np.inf))
    assert s["knn_accuracy"] == pytest.approx(np.mean(labels[off.argmin(1)] == labels))
    assert 1 / 501 <= s["p_silhouette"] <= 1 and 1 / 501 <= s["p_knn"] <= 1
    assert separation(d, labels, k=3)["chance"] == pytest.approx(s["chance"], abs=0.05)


def test_ties_in_distance_do_not_leak_the_order_of_the_networks():
    # every network at distance 0 from every other, labels sorted by group: a first-index
    # tie-break would put each network next to its own group
    labels = np.repeat(["a", "b", "c", "d"], 6)
    s = separation(np.zeros((24, 24)), labels, permutations=200)
    assert s["knn_accuracy"] == pytest.approx(s["chance"])
    assert s["p_knn"] == 1.0 and s["silhouette"] == 0.0


def test_scores_do_not_depend_on_the_row_pieces_they_are_computed_in(monkeypatch):
    """The 1-NN votes and the checks run in row pieces (bounded memory at 10,000
    networks): pieces of 7 rows give exactly what one piece gives, ties included."""
    module = importlib.import_module("rnnscope.compare.verdict")

    labels = np.repeat(["a", "b", "c"], [9, 7, 5])
    d = clustered(labels, 2.0, 3)
    d[:6, :6] = 0.0  # a block of ties
    np.fill_diagonal(d, 0.0)
    whole = separation(d, labels, permutations=300)
    monkeypatch.setattr(module, "_ROWS", 7)
    assert separation(d, labels, permutations=300) == whole


def test_geometry_carries_the_label_and_topology_does_not():
    nets = population()
    geometry = clustered(nets["architecture"].tolist(), 1.0, 1)
    topology = unstructured(len(nets), 2)
    result = verdict({"svcca": geometry, "topology": topology}, nets, permutations=1000)
    table = result.table
    overall = table[(table["grouping"] == "architecture") & (table["subset"] == "all")].set_index(
        "metric"
    )
    assert overall.loc["svcca", "verdict"] == "separates"
    assert overall.loc["topology", "verdict"] == "does not separate"
    assert overall.loc["svcca", "p_silhouette"] == pytest.approx(1 / 1001)
    assert (
        overall.loc["svcca", "knn_accuracy"] > 0.9 > 0.5 > overall.loc["topology", "knn_accuracy"]
    )
    sentence = result.sentences["architecture"]
    assert sentence.startswith("svcca separates architectures (silhouette ")
    assert "; topology does not (silhouette " in sentence
    assert "the same within each hidden size" in sentence
    # and the reverse
    reverse = verdict({"svcca": topology, "topology": geometry}, nets, permutations=1000)
    assert reverse.sentence.startswith("svcca does not separate architectures")
    assert "; topology separates architectures" in reverse.sentence


def test_table_has_every_grouping_and_hidden_size():
    nets = population(seeds=4)
    table = verdict_table({"d": unstructured(len(nets), 3)}, nets, permutations=100)
    assert set(table["grouping"]) == {"architecture", "activation", "architecture+activation"}
    assert set(table["subset"]) == {"all", "hidden_size=32", "hidden_size=64"}
    assert len(table) == 3 * 3
    act = table[(table["grouping"] == "activation") & (table["subset"] == "all")].iloc[0]
    assert act["n_networks"] == 16 and act["n_groups"] == 2  # vanilla only: gated cells have none
    both = table[(table["grouping"] == "architecture+activation") & (table["subset"] == "all")]
    assert both["n_groups"].iloc[0] == 5
    size = table[(table["grouping"] == "architecture") & (table["subset"] == "hidden_size=32")]
    assert size["n_networks"].iloc[0] == 20 and size["hidden_size"].iloc[0] == 32


def test_a_verdict_that_holds_only_within_hidden_sizes_says_so():
    nets = population()
    labels = (nets["architecture"] + "/" + nets["hidden_size"].astype(str)).tolist()
    rng = np.random.default_rng(4)
    # hidden size dominates; within a size architectures sit apart
    names = sorted(set(labels))
    centres = {n: rng.normal(size=5) + (20 if n.endswith("64") else 0) for n in names}
    x = np.stack([centres[v] + 0.2 * rng.normal(size=5) for v in labels])
    geometry = cdist(x, x)
    table = verdict_table({"cka": geometry}, nets, groupings=["architecture"], permutations=500)
    within = table[table["subset"] != "all"]
    assert (within["verdict"] == "separates").all()
    assert (within["silhouette"] > 0.5).all()
    overall = table[table["subset"] == "all"].iloc[0]
    # over both sizes the silhouette is negative: decoding alone separates
    assert overall["silhouette"] < 0 and overall["verdict"] == "partly"
    sentence = verdict_sentence(table)
    assert sentence.startswith(
        "cka partly separates architectures by decoding only (silhouette -0.0"
    )
    assert sentence.endswith("; within hidden size 32: separates, 64: separates.")


def test_permutation_p_values_are_uniform_under_the_null():
    labels = np.repeat(["a", "b", "c"], 10)
    p_sil, p_knn = [], []
    for seed in range(200):
        s = separation(unstructured(30, 100 + seed), labels, permutations=200, seed=seed)
        p_sil.append(s["p_silhouette"])
        p_knn.append(s["p_knn"])
    assert kstest(p_sil, "uniform").pvalue > 0.01
    # decoding accuracy takes few values: its p-value is conservative, never liberal
    p_knn = np.array(p_knn)
    assert np.mean(p_knn <= 0.05) <= 0.08 and np.mean(p_knn <= 0.5) <= 0.58


def test_bad_input_is_one_clear_error():
    nets = population(seeds=2)
    with pytest.raises(ValueError, match="network table has"):
        verdict_table({"d": np.zeros((3, 3))}, nets)
    with pytest.raises(ValueError, match="lacks column"):
        verdict_table({"d": np.zeros((len(nets),) * 2)}, nets.drop(columns="activation"), by=None)
    with pytest.raises(ValueError, match="NaN"):
        separation(np.full((4, 4), np.nan), ["a", "a", "b", "b"])
    s = separation(np.zeros((4, 4)), ["a"] * 4)
    assert np.isnan(s["silhouette"]) and s["n_groups"] == 1
