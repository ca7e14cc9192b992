"""Seeds for the saddles between neighbouring attractors.

An index-1 saddle between two attractors sits on the boundary of their basins: its
stable manifold *is* that boundary. :class:`BetweenAttractors` finds such boundaries
along the segment between each pair of neighbouring stable points (multisection on
"which attractor does the dynamics reach from here"), and seeds the Newton search with
the states where trajectories started on the boundary move slowest: a trajectory
started ε from the boundary runs along the stable manifold to the saddle and lingers
there before it leaves (the idea of edge tracking, Skufca, Yorke & Eckhardt 2006).
Everything runs batched over all pairs of all networks at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ._system import System


@dataclass(frozen=True)
class BetweenAttractors:
    """Saddle seeds from pairs of stable points (module docs).

    Attributes:
        neighbours: pair each stable point with this many nearest stable points of its
            network (default 6; all pairs when a network has at most ``neighbours + 1``).
        max_attractors: skip networks with more stable points than this (a line or ring
            attractor's many marginal points have no basins between them). Default 64.
        rounds, sections: multisection rounds and points per round (default 6 × 7: the
            boundary to ``8⁻⁶ ≈ 4e-6`` of the segment).
        max_steps: steps a trajectory may take to reach an attractor (default 600).
        arrive: a trajectory has reached a stable point when within ``arrive`` × the
            distance from that point to its nearest other stable point (default 0.2).
        min_separation: pairs closer than this × the network's candidate radius are
            skipped (default 1e-2).
    """

    neighbours: int = 6
    max_attractors: int = 64
    rounds: int = 6
    sections: int = 7
    max_steps: int = 600
    arrive: float = 0.2
    min_separation: float = 1e-2

    def __post_init__(self) -> None:
        for name in ("neighbours", "max_attractors", "rounds", "sections", "max_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        if not 0 < self.arrive < 0.5:
            raise ValueError(f"arrive must be in (0, 0.5), got {self.arrive!r}.")

    # ------------------------------------------------------------------ pairs
    def pairs(self, stable: torch.Tensor, valid: torch.Tensor, scale: torch.Tensor):
        """Unordered pairs ``(i, j)`` of neighbouring stable points per network.

        Args:
            stable: ``[B, P, S]`` padded stable points; valid ``[B, P]``; scale ``[B]``.

        Returns:
            ``first, second [B, Q]`` indices into ``P`` and ``ok [B, Q]``.
        """
        n_net, width, _ = stable.shape
        d = torch.cdist(stable, stable)
        bad = ~(valid.unsqueeze(1) & valid.unsqueeze(2))
        eye = torch.eye(width, dtype=torch.bool, device=stable.device)
        d = d.masked_fill(bad | eye, float("inf"))
        k = min(self.neighbours, max(width - 1, 1))
        near = d.topk(k, dim=-1, largest=False).indices  # [B, P, k]
        chosen = torch.zeros(n_net, width, width, dtype=torch.bool, device=stable.device)
        chosen.scatter_(2, near, True)
        chosen &= torch.isfinite(d) & (d > self.min_separation * scale.view(-1, 1, 1))
        chosen = chosen | chosen.transpose(1, 2)
        chosen &= torch.ones_like(chosen).triu(1)
        counts = valid.sum(1)
        chosen &= (counts <= self.max_attractors).view(-1, 1, 1)
        b, i, j = chosen.nonzero(as_tuple=True)
        per = torch.bincount(b, minlength=n_net)
        q = max(1, int(per.max()) if len(per) else 1)
        slot = torch.arange(len(b), device=b.device) - torch.repeat_interleave(
            torch.cumsum(per, 0) - per, per
        )
        first = torch.zeros(n_net, q, dtype=torch.long, device=stable.device)
        second = torch.zeros_like(first)
        ok = torch.zeros(n_net, q, dtype=torch.bool, device=stable.device)
        first[b, slot], second[b, slot], ok[b, slot] = i, j, True
        return first, second, ok

    # ------------------------------------------------------------------ seeds
    def seeds(self, system: System, stable, valid, x, scale) -> tuple[torch.Tensor, torch.Tensor]:
        """Seeds ``[B, 3Q, S]`` and their validity ``[B, 3Q]``: per pair, the slowest
        states on the trajectories from both sides of the basin boundary, and the
        boundary point itself.

        Args:
            system: the step on ``[B, K, S]`` batches (the search's working dtype).
            stable: ``[B, P, S]`` stable points (padded), valid ``[B, P]``.
            x: ``[B, I]`` the constant input of each network's points.
            scale: ``[B]`` the networks' candidate radii.
        """
        first, second, ok = self.pairs(stable, valid, scale)
        n_net, q = first.shape
        size = stable.shape[-1]
        a = torch.gather(stable, 1, first.unsqueeze(-1).expand(-1, -1, size))
        b = torch.gather(stable, 1, second.unsqueeze(-1).expand(-1, -1, size))
        d = torch.cdist(stable, stable)
        d = d.masked_fill(~(valid.unsqueeze(1) & valid.unsqueeze(2)), float("inf"))
        d.diagonal(dim1=1, dim2=2).fill_(float("inf"))
        radius = self.arrive * d.amin(-1)  # [B, P]: arrival radius of each stable point
        lo = torch.zeros(n_net, q, dtype=stable.dtype, device=stable.device)
        hi = torch.ones_like(lo)
        m = self.sections
        frac = torch.arange(1, m + 1, dtype=stable.dtype, device=stable.device) / (m + 1)
        slow_lo = a.clone()
        slow_hi = b.clone()
        for _ in range(self.rounds):
            t = lo.unsqueeze(-1) + (hi - lo).unsqueeze(-1) * frac  # [B, Q, M]
            starts = a.unsqueeze(2) + t.unsqueeze(-1) * (b - a).unsqueeze(2)  # [B, Q, M, S]
            label, slowest = self._destinations(
                system, starts.reshape(n_net, q * m, size), x, stable, valid, radius
            )
            label = label.reshape(n_net, q, m)
            slowest = slowest.reshape(n_net, q, m, size)
            # the first section that does not reach `a` brackets the boundary
            left = label != first.unsqueeze(-1)
            j = torch.where(left.any(-1), left.float().argmax(-1), torch.full_like(first, m))
            new_lo = torch.where(
                j > 0, t.gather(-1, (j - 1).clamp_min(0).unsqueeze(-1))[..., 0], lo
            )
            new_hi = torch.where(j < m, t.gather(-1, j.clamp_max(m - 1).unsqueeze(-1))[..., 0], hi)
            pick = (j - 1).clamp_min(0).view(n_net, q, 1, 1).expand(-1, -1, 1, size)
            slow_lo = torch.where((j > 0).unsqueeze(-1), slowest.gather(2, pick)[:, :, 0], slow_lo)
            pick = j.clamp_max(m - 1).view(n_net, q, 1, 1).expand(-1, -1, 1, size)
            slow_hi = torch.where((j < m).unsqueeze(-1), slowest.gather(2, pick)[:, :, 0], slow_hi)
            lo, hi = new_lo, new_hi
        boundary = a + (0.5 * (lo + hi)).unsqueeze(-1) * (b - a)
        seeds = torch.cat([slow_lo, slow_hi, boundary], dim=1)
        return seeds, torch.cat([ok, ok, ok], dim=1)

    def _destinations(self, system: System, h, x, stable, valid, radius):
        """Run every start until it is within the arrival radius of a stable point of
        its network (or ``max_steps``); returns that point's index (-1: none) and the
        slowest state seen before arrival."""
        n_net, k, _size = h.shape
        xk = x.unsqueeze(1).expand(n_net, k, x.shape[-1])
        label = torch.full((n_net, k), -1, dtype=torch.long, device=h.device)
        best = torch.full((n_net, k), float("inf"), dtype=h.dtype, device=h.device)
        slowest = h.clone()
        reach = radius.masked_fill(~valid, -1.0).unsqueeze(1)  # [B, 1, P]
        with torch.no_grad():
            for step in range(self.max_steps):
                new = system.run(h, xk)
                speed = (new - h).norm(dim=-1)
                going = label < 0
                faster = going & (speed < best) & torch.isfinite(speed)
                best = torch.where(faster, speed, best)
                slowest = torch.where(faster.unsqueeze(-1), h, slowest)
                h = torch.where(torch.isfinite(new), new, h)
                if step % 10 == 9 or step == self.max_steps - 1:
                    dist = torch.cdist(h, stable)  # [B, K, P]
                    near = dist.argmin(-1)
                    inside = (
                        (dist.gather(-1, near.unsqueeze(-1))[..., 0])
                        < reach.expand(-1, k, -1).gather(-1, near.unsqueeze(-1))[..., 0]
                    )
                    label = torch.where(going & inside, near, label)
                    # a start on a fixed point other than an attractor never arrives
                    resting = speed <= 1e-12 * (1 + h.norm(dim=-1))
                    if not bool(((label < 0) & ~resting).any()):
                        break
        return label, slowest
