"""Evidence integration along an approximate line attractor (Maheswaranathan et al. 2019).

For a network that reads a sequence and is scored on its final state (a sentiment
classifier), :func:`analyze_integration` measures, from the step function alone:

1. how low-dimensional the visited states are (variance explained by principal
   components);
2. the fixed points under zero input, found from visited states and kept where
   ``q_mean = ‖F(h) − h‖² / S < tol_q_mean`` (the paper's convention, 1e-8; this
   package's ``q`` is ``½‖F(h) − h‖²``, so the threshold is ``tol_q_mean · S / 2``);
3. the line they form (:func:`fit_line_attractor`: dimension, coordinate along it,
   alignment of its direction with the readout against random directions);
4. the linearization at each point: eigenvalues, time constants in steps
   (tokens), and how many modes have ``|λ| ≈ 1``;
5. optionally the valence of input vectors (word embeddings): their drive on the top
   mode, ``ℓ₁ᵀ J_inp x``, signed so that a positive value moves the readout up, at
   every fixed point, and the AUC separating positive from negative words.

:func:`linearized_readout` replaces the network by its linearization around the
nearest fixed point and reads out the final state of whole sequences.

Nothing here knows about text: states, readout vectors and input vectors are arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.metrics import roc_auc_score

from ._steps import Step, step_in_dtype
from .candidates import sample_candidates
from .fixed_points import FixedPoints, find_fixed_points
from .line_attractor import LineAttractor, fit_line_attractor
from .linearize import Linearization, linearize
from .surrogate import LinearizedModel


def principal_variance(states, mask=None) -> np.ndarray:
    """Explained-variance ratio of each principal component of visited states.

    Args:
        states: ``[..., S]`` (e.g. ``[B, T, S]``).
        mask: optional bool of ``states.shape[:-1]``: which states count.

    Returns:
        ``[min(samples, S)]`` ratios, descending, summing to 1.
    """
    x = torch.as_tensor(states).detach().double()
    flat = x.reshape(-1, x.shape[-1])
    if mask is not None:
        flat = flat[torch.as_tensor(mask).reshape(-1).bool()]
    if flat.shape[0] < 2:
        raise ValueError("need at least two states for principal components.")
    return PCA().fit(flat.numpy()).explained_variance_ratio_


@dataclass
class IntegrationAnalysis:
    """What :func:`analyze_integration` measured for one network.

    Attributes:
        pca_variance: explained-variance ratio per principal component of the states.
        n_candidates: fixed-point search starts.
        fixed_points: the points kept (``q_mean < tol_q_mean``), with Jacobians.
        q_mean: ``[M]`` ``‖F(h) − h‖² / S`` at each kept point.
        line: :class:`LineAttractor` of the kept points (``None`` with fewer than 2).
        linearization: at the kept points (eigenvectors on demand).
        time_constants: ``[M, k]`` the ``k`` largest ``τ = 1/|ln|λ||`` per point, in steps.
        n_slow_modes: ``[M]`` eigenvalues with ``| |λ| − 1 | < unit_tol`` per point.
        readout_mode_gain: ``[M]`` ``wᵀ r`` of the evidence mode at each point (see
            ``mode``): how it moves the readout.
        mode_index: ``[M]`` which eigenmode (by ``|λ|`` rank) carries the evidence.
        mode_time_constant: ``[M]`` its time constant in steps.
        valence: ``[M, W]`` signed drive ``sign(wᵀ r) · ℓᵀ J_inp x_w`` of each input
            vector at each point, through that mode (``None`` without inputs).
        valence_auc: AUC of positive against negative inputs, pooled over points.
        valence_auc_per_point: ``[M]``.
        valence_auc_by_mode: the pooled AUC under each way of picking the mode
            (``"top"``, ``"line"``, ``"integration"``).
    """

    pca_variance: np.ndarray
    n_candidates: int
    fixed_points: FixedPoints
    q_mean: np.ndarray
    line: LineAttractor | None
    linearization: Linearization | None
    time_constants: np.ndarray
    n_slow_modes: np.ndarray
    readout_mode_gain: np.ndarray
    mode_index: np.ndarray | None = None
    mode_time_constant: np.ndarray | None = None
    valence: np.ndarray | None = None
    valence_labels: np.ndarray | None = None
    valence_auc: float = float("nan")
    valence_auc_per_point: np.ndarray | None = None
    valence_auc_by_mode: dict = field(default_factory=dict)

    @property
    def n_fixed_points(self) -> int:
        return len(self.fixed_points)

    def is_line_attractor(self, share: float = 0.9, min_tau: float | None = None) -> bool:
        """Whether the points form an approximate line attractor: at least two points,
        the first principal axis explains ``share`` of their variance (a line, allowed
        to curve a little), it is more aligned with the readout than 95% of random
        directions, and the evidence is held: the median point has a mode with
        ``|λ| ≈ 1`` (``unit_tol``), or, with ``min_tau``, its top time constant is at
        least ``min_tau`` steps (e.g. half the texts' mean length: a mode that holds
        evidence across a text, if not indefinitely)."""
        line = self.line
        if min_tau is None:
            held = self.n_slow_modes.size > 0 and np.median(self.n_slow_modes) >= 1
        else:
            held = self.time_constants.size > 0 and np.median(self.time_constants[:, 0]) >= min_tau
        return bool(
            line is not None
            and line.explained_variance_ratio[0] >= share
            and line.readout_alignment is not None
            and line.readout_alignment[0] > line.null_alignment[1]
            and held
        )

    def components_for(self, share: float = 0.9) -> int:
        """Principal components needed to explain ``share`` of the states' variance."""
        return int(np.searchsorted(np.cumsum(self.pca_variance), share) + 1)

    def summary(self) -> dict:
        """Scalars for a table (medians over fixed points)."""
        line = self.line
        return {
            "pcs_for_90pct": self.components_for(0.9),
            "variance_top2": float(self.pca_variance[:2].sum()),
            "variance_top3": float(self.pca_variance[:3].sum()),
            "fixed_points": self.n_fixed_points,
            "line_attractor": float(self.is_line_attractor()),
            "line_dimension": line.dimension if line else 0,
            "participation_ratio": line.participation_ratio if line else float("nan"),
            "line_variance_pc1": float(line.explained_variance_ratio[0]) if line else float("nan"),
            "readout_alignment": float(line.readout_alignment[0])
            if line is not None and line.readout_alignment is not None
            else float("nan"),
            "null_alignment_95": float(line.null_alignment[1])
            if line is not None and line.null_alignment is not None
            else float("nan"),
            "tau_1": _median(self.time_constants[:, 0])
            if self.time_constants.size
            else float("nan"),
            "tau_2": _median(self.time_constants[:, 1])
            if self.time_constants.shape[-1] > 1 and self.time_constants.size
            else float("nan"),
            "slow_modes": _median(self.n_slow_modes) if self.n_slow_modes.size else float("nan"),
            "mode_tau": _median(self.mode_time_constant)
            if self.mode_time_constant is not None
            else float("nan"),
            "mode_rank": _median(self.mode_index) if self.mode_index is not None else float("nan"),
            "valence_auc": self.valence_auc,
            "valence_auc_integration": self.valence_auc_by_mode.get("integration", float("nan")),
        }


def _median(a) -> float:
    return float(np.median(a)) if np.size(a) else float("nan")


def analyze_integration(
    step: Step,
    states,
    readout,
    *,
    mask=None,
    inputs=None,
    input_labels=None,
    n_candidates: int = 1000,
    candidate_noise: float = 0.0,
    tol_q_mean: float = 1e-8,
    unit_tol: float = 0.05,
    n_time_constants: int = 3,
    search: str = "newton",
    adam_iters: int | None = None,
    lr: float = 0.01,
    observed: int | None = None,
    mode: str = "top",
    seed: int = 0,
    progress: bool = False,
) -> IntegrationAnalysis:
    """Reverse-engineer how a network integrates evidence (module docs).

    Args:
        step: the network's ``F(h, x)`` (one network; ``cell.bind(params)`` with
            ``params`` of population 1, or any batched callable).
        states: visited states ``[B, T, S]`` (held-out sequences).
        readout: ``[S]`` or ``[S, O]`` readout vector(s) in state coordinates (for an
            LSTM pad the ``c`` half with zeros).
        mask: optional ``[B, T]`` bool: which states are real (not padding).
        inputs: optional ``[W, I]`` input vectors (word embeddings) to score.
        input_labels: ``[W]`` with ``1`` positive, ``-1`` negative, ``0`` neutral.
        n_candidates: fixed-point search starts drawn from ``states``.
        candidate_noise: Gaussian noise added to the starts.
        tol_q_mean: keep points with ``‖F(h) − h‖² / S`` below this (paper: 1e-8).
        unit_tol: ``|λ|`` within this of 1 counts as a slow mode.
        n_time_constants: how many of the largest time constants to keep per point.
        search: ``"newton"`` (default: :func:`find_fixed_points`' damped Newton steps,
            optionally after ``adam_iters`` Adam steps) or ``"adam"`` (the paper's
            gradient descent on ``q`` alone; slower to reach 1e-8). Either way each
            start stops once below ``tol_q_mean``.
        adam_iters, lr: Adam iterations (default 2000 for ``"adam"``, 0 for
            ``"newton"``) and step size.
        observed: fit the line, and its readout alignment, in the first ``observed``
            state components only: those the readout reads (an LSTM's ``h``, not
            ``c``). Default: all.
        mode: which eigenmode carries the evidence at each point: ``"top"`` (default),
            the paper's ``ℓ₁``: the largest ``|λ|`` among real modes (a complex mode's
            real part depends on an arbitrary phase; a line attractor's mode is real);
            ``"line"``, the slowest real mode lying along the line of points
            (``|cos| ≥ 0.3`` with its first axis); or ``"integration"``, the real mode
            with the largest long-run readout gain ``|wᵀ r_a| / |1 − λ_a|``. On a clean
            line attractor all three agree.
        seed: seeds the candidate draw and the null directions.
        progress: show the fixed-point search's progress.
    """
    states = torch.as_tensor(states).detach()
    if states.dim() != 3:
        raise ValueError(
            f"states must be [B, T, S] for one network, got shape {list(states.shape)}."
        )
    size = states.shape[-1]
    w = np.asarray(torch.as_tensor(readout).detach().double())
    w = w[:, None] if w.ndim == 1 else w
    if w.shape[0] != size:
        raise ValueError(
            f"readout must have {size} rows (the state size), got shape {list(w.shape)}."
        )
    if (inputs is None) != (input_labels is None):
        raise ValueError("pass inputs and input_labels together.")
    pca = principal_variance(states, mask)

    candidates = sample_candidates(
        states, n_candidates, noise=candidate_noise, seed=seed, mask=mask
    )
    zero = torch.zeros(_input_size(step, inputs), dtype=states.dtype)
    tol = tol_q_mean * size / 2
    if search not in ("newton", "adam"):
        raise ValueError(f"search must be 'newton' or 'adam', got {search!r}.")
    if adam_iters is None:
        adam_iters = 2000 if search == "adam" else 0
    # Both searches stop each start as soon as q is below the threshold (no polish), so
    # the points stay spread along an approximate line instead of all running to its
    # few exact fixed points.
    found = find_fixed_points(
        step,
        candidates,
        zero,
        tol_q=min(1e-12, tol),
        tol_slow=tol,
        coarse_tol=tol,
        adam_iters=adam_iters,
        lr=lr,
        adam_tol=tol,
        stall_window=max(1, adam_iters) if search == "adam" else 100,
        max_iters=0 if search == "adam" else 200,
        polish_iters=0,
        saddles=None,  # a line attractor's points have no basins between them
        progress=progress,
    )
    keep = torch.nonzero(found.q <= tol).flatten()
    points = found.select(keep)
    q_mean = (2 * points.q.double() / size).numpy()

    m = len(points)
    empty = np.zeros((m, 0))
    if m == 0:
        return IntegrationAnalysis(
            pca, n_candidates, points, q_mean, None, None, empty, np.zeros(0), np.zeros(0)
        )
    step64 = step_in_dtype(step, torch.float64)
    lin = linearize(
        step64,
        points.points.double() if step64 is not step else points.points,
        zero.double() if step64 is not step else zero,
    )
    mags = lin.eigenvalues.abs().numpy()
    with np.errstate(divide="ignore"):
        taus = 1.0 / np.abs(np.log(mags[:, :n_time_constants]))
    n_slow = (np.abs(mags - 1) < unit_tol).sum(axis=1)
    dims = size if observed is None else int(observed)
    line = (
        fit_line_attractor(
            points.points.double()[:, :dims],
            eigenvalues=lin.eigenvalues,
            readout=w[:dims],
            unit_tol=unit_tol,
            seed=seed,
        )
        if m >= 2
        else None
    )
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}.")
    right = lin.right_eigenvectors  # [M, S, S], columns r_a
    direction = _line_direction(points.points.double().numpy(), w)
    readout_gain = (right.transpose(-1, -2) @ torch.from_numpy(w[:, 0]).to(right)).numpy()
    chosen = _choose_mode(mode, lin, right, direction, readout_gain)
    rows = np.arange(m)
    gain = readout_gain[rows, chosen].real
    analysis = IntegrationAnalysis(pca, n_candidates, points, q_mean, line, lin, taus, n_slow, gain)
    analysis.mode_index = chosen
    with np.errstate(divide="ignore"):  # |λ| = 1: τ = inf
        analysis.mode_time_constant = 1.0 / np.abs(
            np.log(np.abs(lin.eigenvalues.numpy()[rows, chosen]))
        )
    if inputs is not None:
        x = torch.as_tensor(inputs).detach().double()
        labels = np.asarray(input_labels)
        if x.dim() != 2 or labels.shape != (x.shape[0],):
            raise ValueError("inputs must be [W, I] and input_labels [W].")
        analysis.valence_labels = labels
        for other in MODES:
            picked = (
                chosen
                if other == mode
                else _choose_mode(other, lin, right, direction, readout_gain)
            )
            signed = _signed_drive(lin, right, picked, direction, w, x)
            per_point, pooled = _auc(signed, labels)
            analysis.valence_auc_by_mode[other] = pooled
            if other == mode:
                analysis.valence = signed
                analysis.valence_auc_per_point, analysis.valence_auc = per_point, pooled
    return analysis


#: how :func:`analyze_integration` picks the mode that carries the evidence
MODES = ("top", "line", "integration")


def _choose_mode(mode, lin, right, direction, readout_gain) -> np.ndarray:
    """Index of the evidence mode at each point (see ``analyze_integration``'s ``mode``);
    ``readout_gain [M, S]`` is ``wᵀ r_a`` per point and mode."""
    if mode == "line" and direction is not None:
        # the slowest real mode lying along the line (|cos| ≥ 0.3): on a line
        # attractor the near-unit mode; at a saddle on the line, not its unstable mode
        # across it. The top mode where none does.
        modes = right.real.numpy()  # [M, S, S]
        cos = np.abs(np.einsum("msa,s->ma", modes, direction)) / np.linalg.norm(modes, axis=1)
        real = np.abs(lin.eigenvalues.numpy().imag) < 1e-9
        along = real & (cos >= 0.3)
        mags = np.where(along, np.abs(lin.eigenvalues.numpy()), -1.0)
        return np.where(along.any(axis=1), mags.argmax(axis=1), 0)
    if mode == "integration":
        # the mode through which an input moves the readout most in the long run:
        # |wᵀ r_a| Σ_k |λ_a|^k ~ |wᵀ r_a| / |1 − λ_a|
        with np.errstate(divide="ignore"):
            weight = np.abs(readout_gain) / np.abs(1 - lin.eigenvalues.numpy())
        return np.nan_to_num(weight, nan=0.0, posinf=np.finfo(float).max).argmax(axis=1)
    # "top": the largest |λ| among real modes (eigenvalues come sorted by |λ|); a
    # complex pair's drive has no sign of its own (it rotates), so it cannot be ℓ₁
    real = np.abs(lin.eigenvalues.numpy().imag) < 1e-9
    return np.where(real.any(axis=1), real.argmax(axis=1), 0)


def _signed_drive(lin, right, chosen, direction, w, x) -> np.ndarray:
    """``[M, W]``: each input's drive on the chosen mode, ``ℓᵀ J_inp x``, signed so that
    positive moves the state up the readout."""
    rows = np.arange(len(chosen))
    l1 = lin.left_eigenvectors[rows, chosen, :]  # [M, S] complex
    drive = torch.einsum("ms,msi,wi->mw", l1, lin.input_jacobian.to(l1.dtype), x.to(l1.dtype))
    # an eigenvector's scale and phase are arbitrary (r → c r, ℓ → ℓ / c); the product
    # (uᵀ r)(ℓᵀ J x) / |uᵀ r| is not: the drive, in phase with the direction u the mode
    # is read along
    u = _reference(direction, right, rows, chosen, w)  # [M, S]
    ur = np.einsum("ms,ms->m", u, right[rows, :, chosen].numpy())
    return (ur[:, None] * drive.numpy()).real / np.maximum(np.abs(ur), 1e-300)[:, None]


def _auc(signed: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray | None, float]:
    """Per-point and pooled AUC of positive against negative inputs."""
    pos, neg = labels > 0, labels < 0
    if not (pos.any() and neg.any()):
        return None, float("nan")
    y = np.r_[np.ones(pos.sum()), np.zeros(neg.sum())]
    per_point = np.array([roc_auc_score(y, np.r_[row[pos], row[neg]]) for row in signed])
    pooled = np.concatenate([np.r_[row[pos], row[neg]] for row in signed])
    return per_point, float(roc_auc_score(np.tile(y, len(signed)), pooled))


def _line_direction(points: np.ndarray, w: np.ndarray) -> np.ndarray | None:
    """The points' first principal axis, oriented so the readout grows along it
    (``None`` with fewer than two points)."""
    if len(points) < 2:
        return None
    direction = np.linalg.svd(points - points.mean(axis=0), full_matrices=False)[2][0]
    return -direction if direction @ w[:, 0] < 0 else direction


def _reference(direction, right, rows, chosen, w) -> np.ndarray:
    """Per point, the direction its evidence mode is read along: the readout ``w`` where
    it sees the mode (``|cos(w, r)| ≥ 0.1``), else the line of points, oriented so the
    readout grows along it (an LSTM point whose output gate is nearly shut: the mode
    moves ``c``, which the readout does not read, along the line)."""
    modes = right[rows, :, chosen].numpy()  # [M, S] complex
    wv = w[:, 0]
    cos = np.abs(modes @ wv) / (np.linalg.norm(modes, axis=1) * np.linalg.norm(wv) + 1e-300)
    ref = np.broadcast_to(wv, modes.shape).copy()
    if direction is not None:
        ref[cos < 0.1] = direction
    return ref


def _input_size(step, inputs) -> int:
    if inputs is not None:
        return int(torch.as_tensor(inputs).shape[-1])
    size = getattr(step, "input_size", None)
    if size is None:
        raise ValueError(
            "the step has no input_size: pass inputs [W, I] so the input width is known."
        )
    return int(size)


@dataclass
class LinearizedReadout:
    """Whole sequences read by a network and by its linearization.

    Attributes:
        one_step_error: median relative one-step error ``‖ĥ_t − h_t‖ / ‖h_t − h_{t−1}‖``
            with the network's own previous state (LinearizedModel.one_step_error).
        network_accuracy, linearized_accuracy: classification accuracy of the final
            states' readout (logit > 0 is class 1).
        agreement: share of sequences both classify alike.
    """

    one_step_error: float
    network_accuracy: float
    linearized_accuracy: float
    agreement: float


def linearized_readout(
    model: LinearizedModel,
    states,
    inputs,
    lengths,
    labels,
    readout,
    bias: float = 0.0,
    h0=None,
) -> LinearizedReadout:
    """Compare a network with its linearization on whole sequences.

    Args:
        model: :class:`LinearizedModel` of the network's fixed points (nearest point).
        states: the network's states ``[B, T, S]``.
        inputs: ``[B, T, I]`` the inputs it read.
        lengths: ``[B]`` steps per sequence (the readout reads step ``length − 1``).
        labels: ``[B]`` 0/1.
        readout: ``[S]`` readout vector in state coordinates; ``bias`` its offset.
        h0: ``[S]`` initial state (default zeros).
    """
    states = torch.as_tensor(states).detach().double()
    inputs = torch.as_tensor(inputs).detach().double()
    lengths = torch.as_tensor(lengths).long()
    b, t, s = states.shape
    w = torch.as_tensor(readout).double().reshape(s)
    start = torch.zeros(s, dtype=torch.float64) if h0 is None else torch.as_tensor(h0).double()
    # one-step: from the network's own previous state
    prev = torch.cat([start.expand(b, 1, s), states[:, :-1]], dim=1)
    valid = torch.arange(t)[None, :] < lengths[:, None]
    predicted = model.step(prev[valid], inputs[valid])
    moved = (states[valid] - prev[valid]).norm(dim=-1)
    err = ((predicted - states[valid]).norm(dim=-1) / moved)[moved > 0]
    # free-running: the linearization alone from h0 over each whole sequence
    h = start.expand(b, s).clone()
    final = torch.empty(b, s, dtype=torch.float64)
    for k, x in enumerate(inputs.unbind(1)):
        h = model.step(h, x)
        ends = lengths == k + 1
        final[ends] = h[ends]
    idx = (lengths - 1).clamp(min=0)
    true_final = states[torch.arange(b), idx]
    y = torch.as_tensor(labels).bool()
    net_pred = (true_final @ w + bias) > 0
    lin_pred = (final @ w + bias) > 0
    return LinearizedReadout(
        one_step_error=float(err.median()) if err.numel() else float("nan"),
        network_accuracy=float((net_pred == y).double().mean()),
        linearized_accuracy=float((lin_pred == y).double().mean()),
        agreement=float((net_pred == lin_pred).double().mean()),
    )
