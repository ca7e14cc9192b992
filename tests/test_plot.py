"""rs.plot: each figure draws what it says (points, edges, labels, titles), headless."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch

import rnnscope as rs
from rnnscope.compare.topology import label_string
from tests.compare.test_topology import Bistable, scaffold
from tests.compare.test_verdict import clustered, population


@pytest.fixture(scope="module")
def cube():
    step = Bistable()
    fps, graph, sig = scaffold(step)
    g = torch.Generator().manual_seed(1)
    states = torch.rand(40, 25, 8, generator=g, dtype=torch.float64) * 2 - 1
    return step, fps, graph, sig, states


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _offsets(ax, label):
    (coll,) = [c for c in ax.collections if c.get_label() == label]
    return coll


def test_state_space_2d_shows_each_kind_of_point_and_every_edge(cube):
    _, fps, graph, _, states = cube
    fig = rs.plot.state_space(fps, states, graph=graph)
    ax = fig.axes[0]
    assert len(_offsets(ax, "stable").get_offsets()) == 8
    assert len(_offsets(ax, "saddle").get_offsets()) == 12 + 6 + 1
    arrows = [t for t in ax.texts if getattr(t, "arrow_patch", None) is not None]
    assert len(arrows) == graph.number_of_edges() > 0
    (traj,) = [line for line in ax.lines if line.get_label() == "trajectories"]
    assert len(traj.get_xdata()) == 40 * 25
    assert ax.get_xlabel().startswith("PC 1 (") and ax.get_ylabel().startswith("PC 2 (")
    assert {"stable", "saddle", "trajectories"} <= {t.get_text() for t in ax.get_legend().texts}


def test_state_space_3d_and_a_given_axis(cube):
    _, fps, _, _, states = cube
    fig = plt.figure()
    ax = fig.add_subplot(projection="3d")
    assert rs.plot.state_space(fps, states, dims=3, ax=ax) is fig
    assert ax.get_zlabel().startswith("PC 3")
    assert len(_offsets(ax, "stable")._offsets3d[0]) == 8
    with pytest.raises(ValueError, match="3-D axes"):
        rs.plot.state_space(fps, states, dims=3, ax=plt.figure().add_subplot())


def test_eigenvalues_and_time_constants(cube):
    _, fps, _, _, _ = cube
    ax = rs.plot.eigenvalues(fps).axes[0]
    lines = {line.get_label(): line for line in ax.lines}
    assert len(lines["stable points"].get_xdata()) == 8 * 8  # 8 stable points × 8 modes
    assert len(lines["saddles / slow"].get_xdata()) == 19 * 8
    np.testing.assert_allclose(np.hypot(*lines["unit circle"].get_data()), 1)
    ax = rs.plot.time_constants(fps.linearization, top=5).axes[0]  # a Linearization works too
    assert len(ax.lines) == 8 and all(len(line.get_xdata()) == 5 for line in ax.lines)
    assert ax.get_yscale() == "log"


def test_transition_graph_is_the_cube_by_corner_label(cube):
    step, fps, graph, sig, _ = cube
    ax = rs.plot.transition_graph(sig).axes[0]
    np.testing.assert_allclose(
        _offsets(ax, "attractors").get_offsets(), rs.plot.cube_layout(sig.attractors)
    )
    assert sum(line.get_gid() == "edge" for line in ax.lines) == 12
    assert sum(line.get_gid() == "saddle" for line in ax.lines) == 12
    corners = {label_string((i, j, k)) for i in (1, -1) for j in (1, -1) for k in (1, -1)}
    assert {t.get_text() for t in ax.texts} == corners
    # the 8 corners land on 8 distinct places
    assert len({tuple(p) for p in np.round(rs.plot.cube_layout(sig.attractors), 6)}) == 8
    again = rs.plot.transition_graph(fixed_points=fps, graph=graph, readout=step.readout())
    assert sum(line.get_gid() == "edge" for line in again.axes[0].lines) == 12


@pytest.fixture(scope="module")
def distances():
    nets = population(seeds=3)
    return clustered(nets["architecture"].tolist(), 1.0, 0), nets


def test_mds_map_colours_by_architecture_and_names_its_grouping(distances):
    d, nets = distances
    ax = rs.plot.mds_map(d, nets, title="MDS, svcca").axes[0]
    score = rs.compare.silhouette(d, nets["architecture"])
    assert ax.get_title() == f"MDS, svcca (silhouette by architecture: {score:.2f})"
    assert sum(len(c.get_offsets()) for c in ax.collections) == len(nets)
    legend = {t.get_text() for t in ax.get_legend().texts}
    assert legend == {"vanilla (tanh)", "vanilla (relu)", "gru", "lstm", "ugrnn"}
    gru = _offsets(ax, "gru")
    assert mcolors.to_hex(gru.get_facecolor()[0]) == rs.plot.ARCHITECTURE_COLOURS["gru"]
    ax = rs.plot.mds_map(d, nets, by="activation").axes[0]
    assert "silhouette by activation" in ax.get_title()


def test_distance_heatmap_has_architecture_bands(distances):
    d, nets = distances
    shuffled = np.random.default_rng(0).permutation(len(nets))
    ax = rs.plot.distance_heatmap(d[np.ix_(shuffled, shuffled)], nets.iloc[shuffled]).axes[0]
    names = sorted(set(nets["architecture"]))
    assert [t.get_text() for t in ax.get_yticklabels()] == names
    assert [t.get_text() for t in ax.get_xticklabels()] == names
    bands = [p for p in ax.patches if p.get_gid() == "band"]
    assert len(bands) == 2 * len(names)
    # the image holds the matrix grouped by architecture, then hidden size, activation
    shown = nets.iloc[shuffled].reset_index(drop=True)
    keys = shown.assign(activation=shown["activation"].astype(str))
    order = keys.sort_values(["architecture", "hidden_size", "activation"], kind="stable").index
    order = order.to_numpy()
    assert shown["architecture"].to_numpy()[order].tolist() == sorted(shown["architecture"])
    sub = d[np.ix_(shuffled, shuffled)]
    np.testing.assert_allclose(ax.images[0].get_array(), sub[np.ix_(order, order)])


def test_verdict_table_counts_and_ablation(distances):
    d, nets = distances
    table = rs.compare.verdict_table(
        {"svcca": d, "topology": np.ones_like(d) - np.eye(len(d))}, nets, permutations=100
    )
    ax = rs.plot.verdict_table(table).axes[0]
    texts = {c.get_text().get_text() for c in ax.tables[0].get_celld().values()}
    assert {"svcca", "topology", "separates", "does not separate", "1-NN"} <= texts
    counts = pd.DataFrame(
        {
            "architecture": nets["architecture"],
            "n_stable": 8,
            "n_saddles": np.arange(len(nets)) % 13,
        }
    )
    ax = rs.plot.fixed_point_counts(counts).axes[0]
    assert sum(len(c.get_offsets()) for c in ax.collections if c.get_gid() == "n_stable") == len(
        nets
    )
    assert sum(len(c.get_offsets()) for c in ax.collections if c.get_gid() == "n_saddles") == len(
        nets
    )
    assert [t.get_text() for t in ax.get_xticklabels()] == list(dict.fromkeys(nets["architecture"]))
    curves = np.tile([1.0, 0.5, 0.1], (len(nets), 1))
    ax = rs.plot.ablation_curves(curves, nets).axes[0]
    assert len(ax.lines) == nets["architecture"].nunique()
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [1.0, 0.5, 0.1])


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    from rnnscope.study import StudySpec, load, run_study
    from tests.study._tiny import spec_dict

    root = tmp_path_factory.mktemp("plot") / "s"
    spec = StudySpec.model_validate(spec_dict(grid={"seeds": 3}))
    run_study(spec, root).close()
    with load(root) as s:
        yield s


def test_population_figures_take_a_study(study):
    """A study from the read API stands in for (matrix, network table): the figure is
    the one drawn from the study's own stored matrix, table and embedding."""
    frame = study.distances("svcca")
    nets = study.networks.set_index("network").loc[frame.index].reset_index()
    ax = rs.plot.mds_map(study, "svcca").axes[0]
    score = rs.compare.silhouette(frame.to_numpy(), nets["architecture"])
    assert ax.get_title() == f"svcca: MDS (silhouette by architecture: {score:.2f})"
    drawn = np.concatenate([c.get_offsets() for c in ax.collections])
    stored = study.embedding("svcca")[["x", "y"]].to_numpy()
    assert sorted(map(tuple, drawn.data.round(6))) == sorted(map(tuple, stored.round(6)))
    ax = rs.plot.distance_heatmap(study, "topology").axes[0]
    assert ax.get_title() == "topology distances"
    assert ax.images[0].get_array().shape == (len(nets), len(nets))
    ax = rs.plot.verdict_table(study).axes[0]
    texts = {c.get_text().get_text() for c in ax.tables[0].get_celld().values()}
    assert {"svcca", "topology", "linear_dynamics"} <= texts
    ax = rs.plot.fixed_point_counts(study).axes[0]
    stable = [c for c in ax.collections if c.get_gid() == "n_stable"]
    assert sorted(np.concatenate([c.get_offsets()[:, 1] for c in stable])) == sorted(
        study.networks["n_stable"].astype(float)
    )
    with pytest.raises(TypeError, match="names a distance matrix"):
        rs.plot.mds_map(study, nets)
