"""A group's stacked parameters under per-network Adam, shared by the trainers.

``torch.optim.Adam`` takes one learning rate per parameter tensor; here the population
axis needs one per network, networks that fail must not move, and finished networks
leave the working set, so the update is written out.
"""

from __future__ import annotations

import torch

from ..cells._base import Params


class Population:
    """Stacked parameters ``[N, ...]`` with Adam moments, learning rates and L2 per
    network; :attr:`work` holds the networks still training (leaves that require grad).

    Args:
        params: initial parameters ``[N, ...]`` (become :attr:`master`).
        learning_rate, l2: ``[N]``.
        betas, eps, grad_clip: Adam's decay rates and epsilon; per-network gradient
            norm clip (0: none).
    """

    def __init__(
        self,
        params: Params,
        learning_rate: torch.Tensor,
        l2: torch.Tensor,
        *,
        betas: tuple[float, float],
        eps: float,
        grad_clip: float,
    ) -> None:
        self.master = params
        self.moments = {k: (torch.zeros_like(v), torch.zeros_like(v)) for k, v in params.items()}
        self.lr_all, self.l2_all = learning_rate, l2
        self.betas, self.eps, self.grad_clip = betas, eps, grad_clip
        self.active = list(range(len(learning_rate)))
        self._gather()

    def _gather(self) -> None:
        idx = torch.tensor(self.active)
        self.work = {k: v[idx].clone().requires_grad_(True) for k, v in self.master.items()}
        self.mom = {k: (m[idx].clone(), s[idx].clone()) for k, (m, s) in self.moments.items()}
        self.lr, self.l2 = self.lr_all[idx], self.l2_all[idx]

    def retire(self, finished: list[int]) -> None:
        """Write the working set back to :attr:`master` and drop ``finished`` (indices
        into the whole group) from it."""
        idx = torch.tensor(self.active)
        with torch.no_grad():
            for k in self.master:
                self.master[k][idx] = self.work[k].detach()
                self.moments[k][0][idx] = self.mom[k][0]
                self.moments[k][1][idx] = self.mom[k][1]
        self.active = [i for i in self.active if i not in finished]
        if self.active:
            self._gather()

    def step(self, loss: torch.Tensor, step: int, *, limit: float = float("inf")) -> torch.Tensor:
        """One Adam step on ``loss [n_active]`` (each network's own); returns ``ok``
        ``[n_active]``: false where the loss or gradient is not finite, the loss is
        above ``limit``, or the update would overflow. Those networks do not move."""
        grads = torch.autograd.grad(loss.sum(), list(self.work.values()))
        with torch.no_grad():
            gnorm = torch.sqrt(sum(g.pow(2).flatten(1).sum(1) for g in grads))
            ok = torch.isfinite(loss) & torch.isfinite(gnorm) & (loss < limit)
            scale = torch.ones_like(gnorm)
            if self.grad_clip > 0:
                scale = torch.clamp(self.grad_clip / (gnorm + 1e-12), max=1.0)
            return self._adam(grads, scale, ok.detach(), step)

    def _adam(self, grads, scale, ok, step) -> torch.Tensor:
        beta1, beta2 = self.betas
        bias1, bias2 = 1 - beta1**step, 1 - beta2**step
        proposed = {}
        for (key, p), g in zip(self.work.items(), grads, strict=True):
            shape = (-1,) + (1,) * (p.dim() - 1)
            keep = ok.view(shape)
            g = torch.where(keep, g * scale.view(shape), torch.zeros_like(g))
            m, v = self.mom[key]
            m_new = torch.where(keep, beta1 * m + (1 - beta1) * g, m)
            v_new = torch.where(keep, beta2 * v + (1 - beta2) * g * g, v)
            step_size = (self.lr / bias1).view(shape) * keep
            proposed[key] = (
                m_new,
                v_new,
                p - step_size * m_new / (torch.sqrt(v_new / bias2) + self.eps),
            )
        # an update can overflow from a finite gradient (a huge learning rate): those
        # networks keep their last finite parameters and moments
        for _, _, p_new in proposed.values():
            ok = ok & torch.isfinite(p_new).flatten(1).all(1)
        for key, (m_new, v_new, p_new) in proposed.items():
            shape = (-1,) + (1,) * (p_new.dim() - 1)
            keep = ok.view(shape)
            m, v = self.mom[key]
            m.copy_(torch.where(keep, m_new, m))
            v.copy_(torch.where(keep, v_new, v))
            self.work[key].copy_(torch.where(keep, p_new, self.work[key]))
        return ok
