import pytest
import torch

import rnnscope as rs


@pytest.fixture(autouse=True)
def _seed_everything():
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def flipflop_gru():
    """A 64-unit GRU trained on the 3-bit flip-flop with the default recipe."""
    task = rs.tasks.FlipFlop(bits=3)
    grid = rs.make_grid(architectures=["gru"], hidden_sizes=[64], seeds=[0])
    result = rs.train_population(task, grid, rs.TrainConfig(max_steps=1500))
    net, params = result.network(0)
    batch = task.sample(128, seed=5)
    with torch.no_grad():
        states, _ = net.run(params, batch.inputs)
    return net, params, states[0]
