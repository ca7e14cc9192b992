import pandas as pd
import pytest

from rnnscope.train import make_grid, sample_grid
from rnnscope.train.grid import check_grid


def test_grid_is_the_product_with_gated_cells_deduplicated():
    grid = make_grid(
        architectures=["vanilla", "gru"],
        hidden_sizes=[8, 16],
        activations=["tanh", "relu"],
        learning_rates=[1e-3, 1e-2],
        l2=[0.0],
        seeds=[0, 1, 2],
    )
    vanilla = grid[grid.architecture == "vanilla"]
    gru = grid[grid.architecture == "gru"]
    assert len(vanilla) == 2 * 2 * 2 * 3
    assert len(gru) == 2 * 2 * 3  # no activation axis for gated cells
    assert gru["activation"].isna().all()
    assert list(grid["network"]) == list(range(len(grid)))
    assert not grid.drop(columns="network").duplicated().any()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"architectures": []}, "architectures is empty"),
        ({"seeds": []}, "seeds is empty"),
        ({"architectures": ["rnn"]}, "unknown architecture 'rnn'"),
        ({"activations": ["softplus"]}, "unknown activation 'softplus'"),
        ({"hidden_sizes": [0]}, "hidden sizes must be positive integers"),
        ({"learning_rates": [-1.0]}, "learning rates must be positive"),
        ({"l2": [-0.1]}, "L2 coefficients must be >= 0"),
        ({"seeds": [-3]}, "seeds must be non-negative integers"),
    ],
)
def test_bad_grids_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_grid(**kwargs)


def test_grid_values_must_be_lists():
    with pytest.raises(TypeError, match="architectures must be a list"):
        make_grid(architectures="gru")


def test_hand_made_grids_are_checked():
    with pytest.raises(ValueError, match="the grid is empty"):
        check_grid(make_grid().iloc[:0])
    with pytest.raises(ValueError, match="grid lacks columns"):
        check_grid(pd.DataFrame({"network": [0]}))
    bad = make_grid()
    bad.loc[0, "architecture"] = "mlp"
    with pytest.raises(ValueError, match="unknown architecture 'mlp'"):
        check_grid(bad)


def test_grid_varies_clips_and_embedding_widths_only_when_asked():
    plain = make_grid(["gru"], [8], learning_rates=[1e-3])
    assert plain["grad_clip"].isna().all() and plain["embedding_size"].isna().all()
    grid = make_grid(
        ["gru"], [8], learning_rates=[1e-3], grad_clips=[0.5, 5.0], embedding_sizes=[4, 8]
    )
    assert len(grid) == 4
    assert sorted(zip(grid["grad_clip"], grid["embedding_size"], strict=True)) == [
        (0.5, 4), (0.5, 8), (5.0, 4), (5.0, 8)
    ]  # fmt: skip
    with pytest.raises(ValueError, match="gradient clips must be >= 0"):
        make_grid(grad_clips=[-1.0])
    with pytest.raises(ValueError, match="embedding sizes must be positive integers"):
        make_grid(embedding_sizes=[0])


def test_random_search_draws_configurations_per_architecture_with_all_their_seeds():
    grid = make_grid(
        ["vanilla", "gru"], [8, 16], learning_rates=[1e-3, 3e-3], l2=[0.0, 1e-4], seeds=[0, 1]
    )  # 8 configurations per architecture, 2 seeds each
    picked = sample_grid(grid, 3, seed=1)
    assert list(picked["network"]) == list(range(len(picked)))
    config = ["architecture", "hidden_size", "learning_rate", "l2"]
    per_arch = picked.groupby("architecture")[config[1:]].apply(lambda f: len(f.drop_duplicates()))
    assert per_arch.to_dict() == {"gru": 3, "vanilla": 3}
    assert (picked.groupby(config)["seed"].apply(sorted).map(tuple) == (0, 1)).all()
    assert picked.equals(sample_grid(grid, 3, seed=1))  # seeded
    assert not picked.equals(sample_grid(grid, 3, seed=2))
    assert len(sample_grid(grid, 100)) == len(grid)  # fewer configurations: all kept
    # a larger search keeps the smaller one's configurations; another architecture
    # leaves the others' draws alone
    config_of = lambda g: set(map(tuple, g[config].astype(str).to_numpy()))  # noqa: E731
    assert config_of(sample_grid(grid, 3, seed=1)) <= config_of(sample_grid(grid, 5, seed=1))
    more = make_grid(["vanilla", "gru", "lstm"], [8, 16], learning_rates=[1e-3, 3e-3],
                     l2=[0.0, 1e-4], seeds=[0, 1])  # fmt: skip
    gru = lambda g: config_of(g[g["architecture"] == "gru"])  # noqa: E731
    assert gru(sample_grid(more, 3, seed=1)) == gru(picked)
    with pytest.raises(ValueError, match="at least 1"):
        sample_grid(grid, 0)


def test_hand_made_clips_and_widths_are_checked():
    grid = make_grid(["gru"], [8])
    with pytest.raises(ValueError, match="'grad_clip' must hold numbers >= 0"):
        check_grid(grid.assign(grad_clip=-1.0))
    with pytest.raises(ValueError, match="'embedding_size' must hold positive integers"):
        check_grid(grid.assign(embedding_size=8.5))
    assert check_grid(grid.drop(columns=["grad_clip", "embedding_size"]))["grad_clip"].isna().all()
