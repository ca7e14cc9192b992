import pytest
import torch

import rnnscope as rs


@pytest.fixture(scope="session")
def flipflop_networks():
    """One solved 64-unit flip-flop network per architecture (default recipe, seed 0),
    with visited states ``[1, 64, T, S]``."""
    task = rs.tasks.FlipFlop(bits=3)
    grid = rs.make_grid(
        architectures=["vanilla", "gru", "lstm", "ugrnn"], hidden_sizes=[64], seeds=[0]
    )
    result = rs.train_population(task, grid, rs.TrainConfig(max_steps=3000))
    probe = task.sample(64, seed=99)
    out = {}
    for i, row in result.networks.iterrows():
        net, params = result.network(int(row["network"]) if "network" in row else int(i))
        with torch.no_grad():
            states, _ = net.run(params, probe.inputs)
        out[row["architecture"]] = (row["status"], net, params, states)
    return out
