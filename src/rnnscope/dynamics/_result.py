"""The result of a fixed-point search: :class:`FixedPoints`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from ._select import CERTIFICATE_COLUMNS
from .linearize import Linearization


@dataclass
class FixedPoints:
    """Fixed and slow points found by :func:`find_fixed_points`, one row per point.

    Attributes:
        points: ``[M, S]`` states.
        q: ``[M]`` ``½‖F(h) − h‖²`` at each point.
        inputs: ``[M, I]`` the constant input ``x*`` each point belongs to.
        network: ``[M]`` index of the source network (flattened over the leading axes
            of the candidates; 0 for a single network).
        kind: ``[M]`` ``"fixed"`` or ``"slow"``.
        linearization: eigenmodes at every point (``None`` if not computed).
        rejected: how many candidates were dropped, by reason.
        info: options used, timings, dtype of the polish.
        certificate: per point, the numbers that make it ``fixed`` (see
            :class:`~rnnscope.dynamics.Certify`; columns of :meth:`to_dataframe`), or
            ``None`` (e.g. rebuilt from a store that did not keep them).
    """

    points: torch.Tensor
    q: torch.Tensor
    inputs: torch.Tensor
    network: torch.Tensor
    kind: np.ndarray
    linearization: Linearization | None
    rejected: dict[str, int] = field(default_factory=dict)
    info: dict[str, object] = field(default_factory=dict)
    certificate: dict[str, np.ndarray] | None = None

    def __len__(self) -> int:
        return self.points.shape[0]

    def __repr__(self) -> str:
        kinds = ", ".join(f"{k}: {int((self.kind == k).sum())}" for k in ("fixed", "slow"))
        stable = "" if self.linearization is None else f", stable: {int(self.is_stable.sum())}"
        return f"FixedPoints({len(self)} points; {kinds}{stable}; rejected {self.rejected})"

    @property
    def speed(self) -> torch.Tensor:
        """``‖F(h) − h‖ = sqrt(2q)`` ``[M]``."""
        return torch.sqrt(2 * self.q)

    def _lin(self) -> Linearization:
        if self.linearization is None:
            raise ValueError(
                "Jacobians were not computed; call find_fixed_points(..., "
                "linearize_points=True) or rs.linearize(step, fps.points, fps.inputs)."
            )
        return self.linearization

    @property
    def jacobians(self) -> torch.Tensor:
        """Recurrent Jacobians ``[M, S, S]``."""
        return self._lin().jacobian

    @property
    def input_jacobians(self) -> torch.Tensor:
        """Input Jacobians ``[M, S, I]``."""
        return self._lin().input_jacobian

    @property
    def eigenvalues(self) -> torch.Tensor:
        """``[M, S]`` complex, sorted by ``|λ|``, largest first."""
        return self._lin().eigenvalues

    @property
    def is_stable(self) -> torch.Tensor:
        """``[M]`` bool: every ``|λ| < 1``."""
        return self._lin().is_stable

    @property
    def n_unstable(self) -> torch.Tensor:
        """``[M]`` number of eigenvalues with ``|λ| > 1``."""
        return self._lin().n_unstable

    def select(self, mask: torch.Tensor | np.ndarray) -> FixedPoints:
        """The subset of points where ``mask [M]`` is true (or at the given indices)."""
        index = torch.as_tensor(np.asarray(mask.cpu() if torch.is_tensor(mask) else mask))
        if index.dtype == torch.bool:
            index = index.nonzero().flatten()
        index = index.long()
        lin = None if self.linearization is None else self.linearization.select(index)
        cert = None
        if self.certificate is not None:
            cert = {k: v[index.numpy()] for k, v in self.certificate.items()}
        return FixedPoints(
            self.points[index.to(self.points.device)],
            self.q[index.to(self.q.device)],
            self.inputs[index.to(self.inputs.device)],
            self.network[index.to(self.network.device)],
            self.kind[index.numpy()],
            lin,
            dict(self.rejected),
            dict(self.info),
            cert,
        )

    def for_network(self, network: int) -> FixedPoints:
        """The points of one network of the population."""
        return self.select(self.network == network)

    def to_dataframe(self) -> pd.DataFrame:
        """One row per point: network, kind, q, speed, stability, n_unstable, |λ|max, then
        the certificate's columns (:class:`~rnnscope.dynamics.Certify`)."""
        frame = pd.DataFrame(
            {
                "network": self.network.cpu().numpy(),
                "kind": self.kind,
                "q": self.q.detach().cpu().double().numpy(),
                "speed": self.speed.detach().cpu().double().numpy(),
            }
        )
        if self.linearization is not None:
            frame["is_stable"] = self.is_stable.cpu().numpy()
            frame["n_unstable"] = self.n_unstable.cpu().numpy()
            frame["max_abs_eigenvalue"] = self.eigenvalues.abs()[:, 0].cpu().numpy()
        if self.certificate is not None:
            for name in CERTIFICATE_COLUMNS:
                frame[name] = self.certificate[name]
        return frame
