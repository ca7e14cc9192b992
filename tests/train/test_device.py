"""device= in the trainers and networks: exercised on the CPU with an explicit device,
and on a GPU by the tests marked ``cuda`` (skipped where there is none)."""

import numpy as np
import pytest
import torch

import rnnscope as rs
from rnnscope.tasks.text import prepare_text, valence_language
from rnnscope.train.text import TextTrainConfig, train_text_population

HAS_CUDA = torch.cuda.is_available()
cuda = pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA GPU")


def small(**kw):
    base = dict(max_steps=8, batch_size=8, eval_every=4, eval_batch_size=16, state_noise=0.1)
    base.update(kw)
    return rs.TrainConfig(**base)


@pytest.fixture(scope="module")
def data():
    return prepare_text(valence_language(300, length=(4, 10), seed=0), max_length=None, min_count=1)


def test_explicit_cpu_device_gives_the_default_results():
    task = rs.tasks.FlipFlop(bits=2, steps=10)
    grid = rs.make_grid(architectures=["gru", "lstm"], hidden_sizes=[6], seeds=[0, 1])
    default = rs.train_population(task, grid, small())
    explicit = rs.train_population(task, grid, small(device=torch.device("cpu")))
    assert explicit.config.device == "cpu"  # normalised to a string (stored in specs)
    for a, b in zip(default.groups, explicit.groups, strict=True):
        for key, value in a.params.items():
            assert b.params[key].device.type == "cpu"
            assert torch.equal(value, b.params[key])


def test_text_trainer_takes_a_device(data):
    grid = rs.make_grid(["ugrnn"], [6], learning_rates=[3e-2], seeds=[0])
    cfg = dict(embedding_size=4, max_epochs=1, eval_every=5, patience=2)
    a = train_text_population(data, grid, TextTrainConfig(**cfg))
    b = train_text_population(data, grid, TextTrainConfig(device="cpu", **cfg))
    assert b.config.device == "cpu"
    for key, value in a.groups[0].params.items():
        assert torch.equal(value, b.groups[0].params[key])


@pytest.mark.parametrize("config", [rs.TrainConfig, TextTrainConfig])
def test_a_bad_device_is_named_at_construction(config):
    with pytest.raises(ValueError, match="device 'gpu' is not a torch device"):
        config(device="gpu")


@pytest.mark.skipif(HAS_CUDA, reason="checks the message where CUDA is missing")
def test_cuda_without_a_gpu_fails_early_with_one_line(data):
    task = rs.tasks.FlipFlop(bits=1, steps=5)
    grid = rs.make_grid(architectures=["vanilla"], hidden_sizes=[4], seeds=[0])
    with pytest.raises(ValueError, match="no usable CUDA device; use device='cpu'"):
        rs.train_population(task, grid, small(device="cuda"))
    with pytest.raises(ValueError, match=r"TextTrainConfig\.device is 'cuda:1'"):
        train_text_population(data, grid, TextTrainConfig(device="cuda:1", embedding_size=4))


def test_run_moves_inputs_to_the_parameters_device_and_dtype():
    net = rs.RNN(rs.cells.UGRNN(5, 2), 3)
    params = net.init(2, seed=0, dtype=torch.float64)
    x = np.random.default_rng(0).normal(size=(4, 6, 2)).astype(np.float32)  # NumPy, float32
    states, outputs = net.run(params, x, noise=torch.zeros(2, 4, 6, 5))
    assert states.dtype == torch.float64 and states.device == params["W_hh"].device
    assert outputs.shape == (2, 4, 6, 3)


# ------------------------------------------------------------------ on a GPU
@pytest.mark.cuda
@cuda
@pytest.mark.parametrize("arch", ["vanilla", "gru", "lstm", "ugrnn", "ctrnn"])
def test_fused_pass_on_cuda_equals_autograd_and_cpu(arch):
    net = rs.RNN(rs.cells.make_cell(arch, 6, 3), 2, learn_initial_state=True)
    cpu = net.init(3, seed=1, dtype=torch.float64)
    x = torch.randn(4, 9, 3, dtype=torch.float64)
    grads, outs = {}, {}
    for fused in (True, False):
        p = {k: v.to("cuda").requires_grad_() for k, v in cpu.items()}
        states, out = net.run(p, x, fused=fused)
        assert out.device.type == "cuda"
        (out.pow(2).sum() + states.sum()).backward()
        grads[fused], outs[fused] = {k: v.grad for k, v in p.items()}, out.detach()
    torch.testing.assert_close(outs[True].cpu(), net.run(cpu, x)[1], rtol=0, atol=1e-10)
    for key in cpu:
        torch.testing.assert_close(grads[True][key], grads[False][key], rtol=1e-8, atol=1e-10)


@pytest.mark.cuda
@cuda
def test_train_population_on_cuda_returns_cpu_params_close_to_a_cpu_run():
    task = rs.tasks.FlipFlop(bits=2, steps=10)
    grid = rs.make_grid(
        architectures=["vanilla", "gru", "lstm", "ugrnn"], hidden_sizes=[8], seeds=[0]
    )
    gpu = rs.train_population(task, grid, small(device="cuda", state_noise=0.0))
    cpu = rs.train_population(task, grid, small(state_noise=0.0))
    for a, b in zip(gpu.groups, cpu.groups, strict=True):
        for key in a.params:
            assert a.params[key].device.type == "cpu"
            torch.testing.assert_close(a.params[key], b.params[key], rtol=0, atol=1e-3)


@pytest.mark.cuda
@cuda
def test_train_text_population_on_cuda(data):
    grid = rs.make_grid(["gru", "lstm"], [8], learning_rates=[3e-2], seeds=[0])
    result = train_text_population(
        data, grid, TextTrainConfig(device="cuda", embedding_size=8, max_epochs=1, eval_every=5)
    )
    assert all(v.device.type == "cpu" for g in result.groups for v in g.params.values())
    assert result.networks["accuracy"].notna().all()


@pytest.mark.parametrize("arch", ["gru", "lstm"])
def test_autograd_backward_trains_like_the_fused_one(arch, monkeypatch):
    from rnnscope import _recurrence

    task = rs.tasks.FlipFlop(bits=2, steps=10)
    grid = rs.make_grid(architectures=[arch], hidden_sizes=[6], seeds=[0, 1])
    fused = rs.train_population(task, grid, small(state_noise=0.0))
    calls = []
    real_apply = _recurrence._Recurrence.apply
    monkeypatch.setattr(
        _recurrence._Recurrence, "apply", lambda *a: calls.append(1) or real_apply(*a)
    )
    monkeypatch.setattr(torch, "lstm", lambda *a: calls.append(1) or None)
    plain = rs.train_population(task, grid, small(state_noise=0.0, backward="autograd"))
    assert not calls  # neither the fused pass nor the oneDNN kernel ran
    for key, value in fused.groups[0].params.items():
        torch.testing.assert_close(plain.groups[0].params[key], value, rtol=0, atol=1e-4)
    with pytest.raises(ValueError, match="backward must be 'fused' or 'autograd'"):
        rs.TrainConfig(backward="manual")
