import pandas as pd
import pytest

from rnnscope.train import make_grid
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
