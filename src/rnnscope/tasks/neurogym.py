"""neurogym environments as rnnscope tasks (optional: the ``neurogym`` extra).

neurogym 2.3.1 pins ``numpy==2.2.*`` and ``matplotlib==3.10.*``, which conflict with
current releases that rnnscope uses; it runs fine beside them. Install it without its
pins, plus what it really needs (the ``neurogym`` extra)::

    pip install 'rnnscope[neurogym]' && pip install --no-deps neurogym==2.3.1

(``gymnasium`` must be 0.29.*: neurogym 2.3 calls ``env.seed``, which gymnasium 1.x removed.)
"""

from __future__ import annotations

import warnings
from typing import ClassVar

import numpy as np
import torch

from .._validation import check_positive_int
from ._base import Batch, Task, check_outputs

INSTALL_HINT = "neurogym is not installed: pip install 'rnnscope[neurogym]' && pip install --no-deps neurogym==2.3.1"


def _make_env(env_id: str, dt: float, options: dict):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import neurogym as ngym
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    try:
        env = ngym.make(env_id, dt=dt, **options)
    except Exception as err:  # neurogym raises various errors for unknown ids/options
        raise ValueError(f"neurogym could not make {env_id!r}: {err}") from None
    return env.unwrapped


class NeurogymTask(Task):
    """A neurogym environment's trials as batches.

    Each batch row concatenates consecutive trials of the environment (seeded) up to
    ``steps`` time steps. Inputs are the observations ``[B, T, I]``; targets are the
    ground-truth actions one-hot ``[B, T, n_actions]`` (the network's outputs are read as
    action scores); every step is scored.

    Args:
        env: neurogym environment id (default ``"PerceptualDecisionMaking-v0"``).
        dt: time step in ms (default 100).
        steps: sequence length ``T`` (default 100).
        options: keyword arguments for the environment.

    Accuracy: the fraction of time steps whose highest output is the ground-truth
    action. Success threshold 0.8.
    """

    name: ClassVar[str] = "neurogym"
    success_threshold = 0.8

    def __init__(self, env: str = "PerceptualDecisionMaking-v0", dt: float = 100.0, steps: int = 100,
                 options: dict | None = None) -> None:  # fmt: skip
        self.env_id = env
        self.dt = float(dt)
        self.steps = check_positive_int("steps", steps)
        self.options = dict(options or {})
        probe = _make_env(env, self.dt, self.options)
        self.input_size = int(np.prod(probe.observation_space.shape))
        self.output_size = int(probe.action_space.n)

    def config(self):
        return {
            "task": self.name,
            "env": self.env_id,
            "dt": self.dt,
            "steps": self.steps,
            "options": self.options,
        }

    def _generate(self, rng: np.random.Generator, batch_size: int):
        env = _make_env(self.env_id, self.dt, self.options)
        env.seed(int(rng.integers(0, 2**31 - 1)))
        inputs = np.zeros((batch_size, self.steps, self.input_size))
        labels = np.zeros((batch_size, self.steps), dtype=np.int64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for b in range(batch_size):
                obs, gts, total = [], [], 0
                while total < self.steps:
                    env.new_trial()
                    obs.append(np.asarray(env.ob).reshape(len(env.gt), -1))
                    gts.append(np.asarray(env.gt))
                    total += len(env.gt)
                inputs[b] = np.concatenate(obs)[: self.steps]
                labels[b] = np.concatenate(gts)[: self.steps]
        targets = np.eye(self.output_size)[labels]
        return inputs, targets, np.ones((batch_size, self.steps))

    def accuracy(self, outputs: torch.Tensor, batch: Batch) -> torch.Tensor:
        outputs = check_outputs(self, outputs, batch)
        labels = batch.targets.argmax(-1)
        return (outputs.argmax(-1) == labels).to(outputs.dtype).mean(dim=(1, 2))
