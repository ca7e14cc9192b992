"""Optimiser transforms: per-network Adam equals torch.optim.Adam run on each network."""

import pytest
import torch

from rnnscope.train import optim
from rnnscope.train._population import Population


def test_chained_adam_equals_torch_adam_per_network():
    gen = torch.Generator().manual_seed(0)
    params = {"W": torch.randn(3, 4, 5, generator=gen), "b": torch.randn(3, 5, generator=gen)}
    lr = torch.tensor([1e-2, 3e-3, 1e-1])
    opt = optim.chain(optim.scale_by_adam(0.9, 0.99, 1e-8), optim.scale_by_learning_rate(lr))
    state = opt.init(params)
    ours = {k: v.clone() for k, v in params.items()}
    refs = []
    for n in range(3):
        ref = {k: v[n].clone().requires_grad_() for k, v in params.items()}
        refs.append((ref, torch.optim.Adam(ref.values(), lr=float(lr[n]), betas=(0.9, 0.99))))
    for step in range(1, 6):
        grads = {k: torch.randn(v.shape, generator=gen) for k, v in params.items()}
        updates, state = opt.update(grads, state, ours, step)
        ours = {k: ours[k] + updates[k] for k in ours}
        for n, (ref, torch_opt) in enumerate(refs):
            for k, p in ref.items():
                p.grad = grads[k][n].clone()
            torch_opt.step()
    for n, (ref, _) in enumerate(refs):
        for k, p in ref.items():
            torch.testing.assert_close(ours[k][n], p.detach(), rtol=1e-5, atol=1e-7)


def test_clip_acts_on_each_network_alone():
    grads = {"W": torch.tensor([[3.0, 4.0], [0.3, 0.4]])}  # norms 5 and 0.5
    clipped, _ = optim.clip_by_network_norm(1.0).update(grads, {}, grads, 1)
    torch.testing.assert_close(clipped["W"].norm(dim=1), torch.tensor([1.0, 0.5]))
    unclipped, _ = optim.clip_by_network_norm(0.0).update(grads, {}, grads, 1)
    assert torch.equal(unclipped["W"], grads["W"])


def test_population_keeps_each_networks_state_and_learning_rate_when_others_retire():
    params = {"W": torch.zeros(3, 2)}
    lr = torch.tensor([1.0, 2.0, 3.0])
    pop = Population(params, optim.chain(optim.scale_by_learning_rate(lr)), torch.zeros(3))
    loss = (pop.work["W"] * torch.ones(3, 2)).sum(1)  # gradient 1 everywhere
    pop.step(loss, 1)
    pop.retire([1])  # network 1 leaves; 0 and 2 keep their own learning rates
    loss = (pop.work["W"] * torch.ones(2, 2)).sum(1)
    pop.step(loss, 2)
    pop.retire([0, 2])
    torch.testing.assert_close(pop.master["W"][:, 0], torch.tensor([-2.0, -2.0, -6.0]))


def test_a_non_finite_update_leaves_the_network_and_its_state_unchanged():
    params = {"W": torch.ones(2, 3)}
    opt = optim.adam(torch.tensor([1e-2, 1e-2]))
    pop = Population(params, opt, torch.zeros(2))
    loss = pop.work["W"].sum(1) * torch.tensor([1.0, float("nan")])
    ok = pop.step(loss, 1)
    assert ok.tolist() == [True, False]
    assert torch.equal(pop.work["W"][1].detach(), torch.ones(3))
    assert all(
        torch.equal(v[1], torch.zeros_like(v[1])) for k, v in pop.work_state.items() if "/" in k
    )
    assert not torch.equal(pop.work["W"][0].detach(), torch.ones(3))


def test_per_network_clip_follows_the_network_when_others_retire():
    params = {"W": torch.zeros(3, 2)}
    clip = torch.tensor([1.0, 0.0, 0.1])  # 0: no clip
    opt = optim.chain(optim.clip_by_network_norm(clip), optim.scale_by_learning_rate(torch.ones(3)))
    pop = Population(params, opt, torch.zeros(3))
    pop.step((pop.work["W"] * 10).sum(1), 1)  # gradient norm 10·√2 each
    torch.testing.assert_close(pop.work["W"].norm(dim=1), torch.tensor([1.0, 10 * 2**0.5, 0.1]))
    pop.retire([0])  # networks 1 and 2 keep their own clips in a smaller working set
    pop.step((pop.work["W"] * 10).sum(1), 2)
    pop.retire([1, 2])
    torch.testing.assert_close(pop.master["W"].norm(dim=1), torch.tensor([1.0, 20 * 2**0.5, 0.2]))


def test_cosine_schedule_scales_every_networks_update_from_one_to_zero():
    grads = {"W": torch.ones(2, 3)}
    cosine = optim.scale_by_schedule(optim.schedule("cosine", 10))
    factors = [float(cosine.update(grads, {}, grads, t)[0]["W"][0, 0]) for t in (0, 5, 10, 20)]
    assert factors == pytest.approx([1.0, 0.5, 0.0, 0.0], abs=1e-12)
    assert optim.schedule("constant", 10)(7) == 1.0
    with pytest.raises(ValueError, match="unknown schedule"):
        optim.schedule("step", 10)
