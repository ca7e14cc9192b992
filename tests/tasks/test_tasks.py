"""Tasks: targets follow their definitions; seeded; accuracy scores."""

import numpy as np
import pytest
import torch

from rnnscope.tasks import ContextIntegration, FlipFlop, SineWave, make_task


def test_flipflop_target_holds_sign_of_last_pulse():
    task = FlipFlop(bits=3, steps=60, pulse_prob=0.1)
    batch = task.sample(32, seed=0)
    x, y = batch.inputs.numpy(), batch.targets.numpy()
    assert set(np.unique(x)) <= {-1.0, 0.0, 1.0}
    assert (x[:, 0] != 0).all()  # every channel pulses at t = 0
    for b in range(32):
        for k in range(3):
            last = 0.0
            for t in range(60):
                if x[b, t, k] != 0:
                    last = x[b, t, k]
                assert y[b, t, k] == last
    assert batch.mask.shape == (32, 60) and (batch.mask == 1).all()


def test_flipflop_without_initial_pulse_starts_at_zero():
    task = FlipFlop(bits=2, steps=40, pulse_prob=0.05, initial_pulse=False)
    batch = task.sample(64, seed=3)
    x, y = batch.inputs.numpy(), batch.targets.numpy()
    first = np.argmax(x != 0, axis=1)  # first pulse per (trial, channel)
    never = ~(x != 0).any(axis=1)
    for b in range(64):
        for k in range(2):
            end = 40 if never[b, k] else first[b, k]
            assert (y[b, :end, k] == 0).all()
    assert (y == 0).any() and (y != 0).any()


def test_pulse_rate_matches_probability():
    x = FlipFlop(bits=3, steps=200, pulse_prob=0.05).sample(200, seed=1).inputs[:, 1:]
    rate = (x != 0).float().mean().item()
    assert abs(rate - 0.05) < 0.005


def test_same_seed_same_batch_and_different_seed_differs():
    for task in (FlipFlop(), SineWave(), ContextIntegration()):
        a, b, c = task.sample(8, seed=5), task.sample(8, seed=5), task.sample(8, seed=6)
        assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)
        assert not torch.equal(a.inputs, c.inputs)


def test_sine_target_is_sine_of_the_cued_frequency():
    task = SineWave(n_frequencies=11, min_frequency=0.1, max_frequency=0.6, steps=50)
    batch = task.sample(40, seed=2)
    levels = batch.inputs[:, 0, 0].numpy()
    assert (batch.inputs == batch.inputs[:, :1]).all()  # static input
    j = np.rint((levels - task.input_offset) * task.n_frequencies).astype(int)
    np.testing.assert_allclose(task.input_level(j), levels, atol=1e-6)
    omega = task.frequencies[j]
    want = np.sin(omega[:, None] * np.arange(50)[None, :])
    np.testing.assert_allclose(batch.targets[..., 0].numpy(), want, atol=1e-6)


def test_context_target_integrates_cued_stream_only():
    task = ContextIntegration(steps=30, noise_std=0.5)
    batch = task.sample(50, seed=4)
    x, y = batch.inputs.numpy(), batch.targets[..., 0].numpy()
    ctx = x[:, 0, 2:]
    assert np.allclose(ctx.sum(1), 1) and (x[:, :, 2:] == x[:, :1, 2:]).all()
    cued = np.where(ctx[:, :1] == 1, x[:, :, 0], x[:, :, 1])
    np.testing.assert_allclose(y, np.cumsum(cued, axis=1) / 30, atol=1e-5)
    # changing the ignored stream does not change the target
    other = np.where(ctx[:, :1] == 1, x[:, :, 1], x[:, :, 0])
    assert not np.allclose(np.cumsum(other, axis=1) / 30, y)


@pytest.mark.parametrize("task", [FlipFlop(), SineWave(), ContextIntegration()], ids=repr)
def test_accuracy_is_one_for_targets_and_low_for_wrong_outputs(task):
    batch = task.sample(64, seed=0)
    perfect = batch.targets[None].clone()
    acc = task.accuracy(torch.cat([perfect, -perfect - 0.5 * torch.sign(perfect) - 0.3]), batch)
    assert acc.shape == (2,)
    assert acc[0].item() == 1.0
    assert acc[1].item() < 0.5


def test_flipflop_accuracy_counts_correct_signs():
    task = FlipFlop(bits=1, steps=4)
    batch = task.sample(1, seed=0)
    out = batch.targets.clone()[None]
    out[0, 0, 0, 0] *= -1  # one wrong sign in four
    assert task.accuracy(out, batch).item() == pytest.approx(0.75)


def test_make_task_and_config_round_trip():
    for task in (FlipFlop(bits=2), SineWave(n_frequencies=5), ContextIntegration(steps=20)):
        again = make_task(**task.config())
        assert again.config() == task.config()


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: make_task("maze"), "unknown task 'maze'"),
        (lambda: FlipFlop(bits=0), "bits must be a positive integer"),
        (lambda: FlipFlop(pulse_prob=1.5), r"pulse_prob must lie in \[0, 1\]"),
        (lambda: SineWave(min_frequency=0.7, max_frequency=0.6), "min_frequency <= max_frequency"),
        (lambda: ContextIntegration(coherences=()), "coherences must not be empty"),
        (lambda: FlipFlop().sample(0, seed=1), "batch_size must be a positive integer"),
        (lambda: FlipFlop().sample(4, seed=-1), "seed must be a non-negative integer"),
    ],
)
def test_bad_task_parameters_are_named(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_accuracy_rejects_misshapen_outputs():
    task = FlipFlop()
    batch = task.sample(4, seed=0)
    with pytest.raises(ValueError, match=r"outputs must be \[N, 4, 100, 3\]"):
        task.accuracy(torch.zeros(4, 100, 2), batch)
