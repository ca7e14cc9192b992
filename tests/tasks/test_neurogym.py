"""The neurogym adapter: batches of the documented shapes, seeded, usable in a study."""

import os

import numpy as np
import pytest
import torch

if os.environ.get("RNNSCOPE_REQUIRE_NEUROGYM"):
    import neurogym  # noqa: F401  (CI installs it: fail loudly if it is missing)
else:
    pytest.importorskip(
        "neurogym", reason="pip install --no-deps neurogym==2.3.1 (see rnnscope.tasks.neurogym)"
    )

from rnnscope.study import StudySpec, run_study
from rnnscope.tasks import NeurogymTask, make_task


def test_batches_have_the_documented_shapes_and_are_seeded():
    task = NeurogymTask("PerceptualDecisionMaking-v0", dt=100, steps=40)
    batch = task.sample(8, seed=3)
    assert batch.inputs.shape == (8, 40, task.input_size) == (8, 40, 3)
    assert batch.targets.shape == (8, 40, task.output_size) == (8, 40, 3)
    assert batch.mask.shape == (8, 40)
    assert torch.equal(batch.targets.sum(-1), torch.ones(8, 40))  # one-hot actions
    again = task.sample(8, seed=3)
    assert torch.equal(batch.inputs, again.inputs) and torch.equal(batch.targets, again.targets)
    assert not torch.equal(batch.inputs, task.sample(8, seed=4).inputs)
    perfect = batch.targets[None]
    assert task.accuracy(perfect, batch).item() == 1.0


def test_config_round_trip_and_bad_ids():
    task = make_task("neurogym", env="PerceptualDecisionMaking-v0", dt=100, steps=20)
    assert make_task(**task.config()).config() == task.config()
    with pytest.raises(ValueError, match="neurogym could not make 'NoSuchTask-v0'"):
        NeurogymTask("NoSuchTask-v0")


def test_a_study_can_name_a_neurogym_task(tmp_path):
    spec = StudySpec.model_validate(
        {"task": {"name": "neurogym", "options": {"env": "PerceptualDecisionMaking-v0", "steps": 30}},
         "grid": {"architectures": ["gru"], "hidden_sizes": [8], "seeds": 1},
         "train": {"max_steps": 30, "batch_size": 8}, "fixed_points": {"candidates": 16, "graph": False},
         "probe": {"batch_size": 4}}
    )  # fmt: skip
    store = run_study(spec, tmp_path / "s")
    frame = store.networks()
    assert frame["trained"].all() and frame["analyzed"].all()
    assert np.isfinite(frame["accuracy"]).all()
