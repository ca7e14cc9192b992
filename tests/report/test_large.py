"""A report for 2,000 networks stays small and quick: aggregated curves, capped pages."""

import numpy as np
import pandas as pd

from rnnscope.report import build_report
from rnnscope.study import Store, StudySpec, load


def test_report_for_2000_networks(tmp_path):
    n = 2000
    rng = np.random.default_rng(0)
    spec = StudySpec()
    store = Store(tmp_path / "s", create=True)
    store.record_spec(spec.model_dump_json(), "created")
    archs = np.array(["vanilla", "gru", "lstm", "ugrnn"])[np.arange(n) % 4]
    grid = pd.DataFrame({"network": np.arange(n), "architecture": archs, "hidden_size": 64, "activation": None,
                         "learning_rate": 0.01, "l2": 0.0, "seed": np.arange(n) // 4})  # fmt: skip
    store.add_networks(grid)
    records = [{"network": i, "status": "solved", "steps": 100, "loss": 0.01, "eval_loss": 0.01,
                "accuracy": 0.99, "wall_time_s": 1.0} for i in range(n)]  # fmt: skip
    history = {i: {"step": np.arange(10.0, 110.0, 10.0), "loss": np.geomspace(1, 0.01, 10) * (1 + i % 7),
                   "accuracy": np.full(10, np.nan)} for i in range(n)}  # fmt: skip
    store.mark_trained(records, {}, history)
    d = rng.random((n, n))
    d = (d + d.T) / 2
    np.fill_diagonal(d, 0)
    store.save_arrays(
        store.compare_path("svcca"),
        {"networks": np.arange(n), "embedding": rng.normal(size=(n, 2))},
    )
    np.save(store.compare_path("svcca", ".distances.npy"), d.astype(np.float32))
    store.finish_stage("compare", {"silhouette_by_architecture": {"svcca": 0.01}})
    with load(store.root) as study:
        path, _ = build_report(study)
    text = path.read_text()
    assert "The analyze stage has not run yet" in text  # said plainly
    table = text.split('<table class="sortable">')[1].split("</table>")[0]
    assert table.count("<tr>") == n + 1  # every network in the table (+ header)
    assert path.stat().st_size < 30e6  # aggregated curves, no per-network figures inline
    assert not list((path.parent / "networks").glob("*.html"))  # nothing analyzed: no pages
