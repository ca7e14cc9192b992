"""A group's stacked parameters under a per-network optimiser, shared by the trainers.

``torch.optim`` takes one learning rate per parameter tensor; here the population axis
needs one per network, networks that fail must not move, and finished networks leave
the working set. The optimiser is an :mod:`rnnscope.train.optim` transform; this class
selects the working networks, applies the updates where they are finite and writes
finished networks back.
"""

from __future__ import annotations

import torch

from ..cells._base import Params
from .optim import Transform, network_norm


class Population:
    """Stacked parameters ``[N, ...]`` with an optimiser state; :attr:`work` holds the
    networks still training (leaves that require grad), :attr:`master` all of them.

    Args:
        params: initial parameters ``[N, ...]`` (become :attr:`master`).
        optimiser: a :class:`~rnnscope.train.optim.Transform` (e.g. ``optim.adam``);
            its state tensors carry the population axis first.
        l2: ``[N]`` L2 coefficients (applied by the caller's loss, selected here).
    """

    def __init__(self, params: Params, optimiser: Transform, l2: torch.Tensor) -> None:
        self.master = params
        self.optimiser = optimiser
        device = next(iter(params.values())).device
        self.state = optimiser.init(params)
        self.l2_all = l2.to(device)
        self.active = list(range(len(l2)))
        self._gather()

    def _index(self) -> torch.Tensor:
        return torch.tensor(self.active, device=self.l2_all.device)

    def _gather(self) -> None:
        idx = self._index()
        self.work = {k: v[idx].clone().requires_grad_(True) for k, v in self.master.items()}
        self.work_state = {k: v[idx].clone() for k, v in self.state.items()}
        self.l2 = self.l2_all[idx]

    def retire(self, finished: list[int]) -> None:
        """Write the working set back to :attr:`master` and drop ``finished`` (indices
        into the whole group) from it."""
        idx = self._index()
        with torch.no_grad():
            for k in self.master:
                self.master[k][idx] = self.work[k].detach()
            for k in self.state:
                self.state[k][idx] = self.work_state[k]
        self.active = [i for i in self.active if i not in finished]
        if self.active:
            self._gather()

    def step(self, loss: torch.Tensor, step: int, *, limit: float = float("inf")) -> torch.Tensor:
        """One optimiser step on ``loss [n_active]`` (each network's own); returns ``ok``
        ``[n_active]``: false where the loss or gradient is not finite, the loss is
        above ``limit``, or the update would overflow. Those networks do not move."""
        keys = list(self.work)
        grads = dict(
            zip(keys, torch.autograd.grad(loss.sum(), list(self.work.values())), strict=True)
        )
        with torch.no_grad():
            ok = torch.isfinite(loss) & torch.isfinite(network_norm(grads)) & (loss < limit)
            updates, new_state = self.optimiser.update(grads, self.work_state, self.work, step)
            proposed = {k: self.work[k] + updates[k] for k in keys}
            # an update can overflow from a finite gradient (a huge learning rate): those
            # networks keep their last finite parameters and optimiser state
            for p in proposed.values():
                ok = ok & torch.isfinite(p).flatten(1).all(1)
            for k in keys:
                self.work[k].copy_(_where(ok, proposed[k], self.work[k]))
            for k, v in new_state.items():
                old = self.work_state[k]
                self.work_state[k] = v if v is old else _where(ok, v, old)
        return ok


def _where(ok: torch.Tensor, new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    return torch.where(ok.view((-1,) + (1,) * (new.dim() - 1)), new, old)
