"""The universality verdict in numbers: does a distance matrix separate networks by
architecture (activation, both), beyond chance?

For one distance matrix and one labelling, :func:`separation` measures

- the **silhouette** of the labels on the distances themselves (not on an embedding,
  which overstates separation), in [−1, 1];
- **leave-one-out k-NN decoding** accuracy: each network's label predicted from its
  ``k`` nearest other networks (majority vote). Ties in distance are common (a topology
  distance is often exactly 0 between many networks): for ``k = 1`` every network
  tied at the smallest distance gets an equal share of the vote, so the score is the
  expected accuracy under random tie-breaking and no ordering of the networks
  leaks into it; for ``k > 1`` ties are broken by a seeded random order. The **chance**
  level is the accuracy expected under shuffled labels: for ``k = 1`` exactly
  ``Σ_g n_g (n_g − 1) / (N (N − 1))``, for ``k > 1`` the mean over the permutations;
- **permutation-test p-values** of both statistics: the labels are shuffled
  ``permutations`` times (default 1,000; one seeded set of shuffles serves both
  statistics), and ``p = (1 + #{shuffled ≥ observed}) / (1 + permutations)``. All
  shuffles are scored at once (one matrix product per chunk), no Python loop over them.

:func:`verdict_table` does this for several named matrices, for each grouping of a
network table (architecture, activation, both) and within each hidden size, as a tidy
``DataFrame``; :func:`verdict_sentence` says what the numbers say. The p-values are
not corrected for the number of matrices and groupings tested.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .embedding import _check_distances as check_square

GROUPINGS = ("architecture", "activation", "architecture+activation")
_NOUNS = {
    "architecture": "architectures",
    "activation": "activations",
    "architecture+activation": "architecture × activation groups",
}


#: rows per piece where an [N, N] temporary would otherwise be made (10,000 networks:
#: 80 MB pieces instead of 800 MB copies)
_ROWS = 1024


def _check_distances(d) -> np.ndarray:
    """Square, finite, symmetric float64 (checked in row pieces: no N² temporaries)."""
    return check_square(d)


def _silhouettes(d: np.ndarray, labels: np.ndarray, n_groups: int) -> np.ndarray:
    """Mean silhouette for each row of ``labels [P, N]`` (ints < ``n_groups``), as
    scikit-learn's ``silhouette_score`` (a member of a singleton group scores 0)."""
    p, n = labels.shape
    onehot = np.zeros((p, n, n_groups))
    np.put_along_axis(onehot, labels[..., None], 1.0, axis=-1)
    sizes = onehot[0].sum(0)  # group sizes do not change under a permutation
    # distance from i to group g, [P, N, G]: one matrix product [N, N] @ [N, P·G]
    sums = (d @ onehot.transpose(1, 0, 2).reshape(n, p * n_groups)).reshape(n, p, n_groups)
    sums = sums.transpose(1, 0, 2)
    own = np.take_along_axis(sums, labels[..., None], -1)[..., 0]
    own_size = sizes[labels]
    a = own / np.maximum(own_size - 1, 1)
    mean_to = sums / sizes
    np.put_along_axis(mean_to, labels[..., None], np.inf, axis=-1)
    b = mean_to.min(-1)
    top = np.maximum(a, b)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.where(top > 0, (b - a) / top, 0.0)
    s = np.where(own_size > 1, s, 0.0)
    return s.mean(-1)


def _neighbour_weights(d: np.ndarray, k: int, rng):
    """Vote weights of each network's nearest others. ``k = 1``: ``(tied, counts)``,
    ``tied [N, N]`` bool marks the others at the smallest distance (each gets ``1 /
    counts[i]`` of the vote), built in row pieces; ``k > 1``: dense ``[N, N]`` weights
    summing to ``k`` per row."""
    n = len(d)
    if k == 1:
        scale = max(float(np.abs(d).max()), 1e-300)
        tied = np.empty((n, n), dtype=bool)
        for lo in range(0, n, _ROWS):
            off = d[lo : lo + _ROWS].copy()
            off[np.arange(len(off)), np.arange(lo, lo + len(off))] = np.inf
            tied[lo : lo + len(off)] = off <= off.min(1, keepdims=True) + 1e-12 * scale
        return tied, tied.sum(1)
    off = d + np.diag(np.full(n, np.inf))
    w = np.zeros((n, n))
    order = rng.permutation(n)  # random tie-breaking: a stable sort of shuffled columns
    idx = order[np.argsort(off[:, order], axis=1, kind="stable")[:, :k]]
    # nearer neighbours get a tiny extra weight, so a tied vote goes to the nearest
    np.put_along_axis(w, idx, 1.0 + 1e-6 * (k - np.arange(k))[None, :], axis=1)
    return w


def _knn_accuracies(weights, labels: np.ndarray, n_groups: int, k: int) -> np.ndarray:
    p, n = labels.shape
    onehot = np.zeros((p, n, n_groups))
    np.put_along_axis(onehot, labels[..., None], 1.0, axis=-1)
    if k == 1:  # expected accuracy over the tied nearest networks, in row pieces
        tied, counts = weights
        flat = onehot.transpose(1, 0, 2).reshape(n, p * n_groups)  # [N, P·G]
        own = np.zeros((p, n))
        for lo in range(0, n, _ROWS):
            rows = slice(lo, lo + _ROWS)
            votes = (tied[rows].astype(np.float64) @ flat).reshape(-1, p, n_groups)
            mine = np.take_along_axis(votes, labels[:, rows].T[..., None], -1)[..., 0]
            own[:, rows] = (mine / counts[rows, None]).T
        return own.mean(-1)
    votes = weights @ onehot
    return (votes.argmax(-1) == labels).mean(-1)


def separation(
    distances,
    labels,
    *,
    k: int = 1,
    permutations: int = 1000,
    seed: int = 0,
    chunk: int = 200,
) -> dict[str, float]:
    """How well ``distances [N, N]`` separate ``labels [N]`` (module docs).

    Returns:
        ``{"n_networks", "n_groups", "silhouette", "p_silhouette", "knn_accuracy",
        "chance", "p_knn"}``; NaN scores when the labels have fewer than 2 groups or
        as many groups as networks.
    """
    d = _check_distances(distances)
    labels = np.asarray(labels)
    if len(labels) != len(d):
        raise ValueError(f"{len(labels)} labels for a {len(d)}×{len(d)} distance matrix.")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}.")
    if (
        isinstance(permutations, bool)
        or not isinstance(permutations, int | np.integer)
        or permutations < 1
    ):
        raise ValueError(f"permutations must be a positive integer, got {permutations!r}.")
    names, codes = np.unique(labels.astype(str), return_inverse=True)
    n, g = len(d), len(names)
    out = {"n_networks": n, "n_groups": g}
    nan = dict.fromkeys(
        ("silhouette", "p_silhouette", "knn_accuracy", "chance", "p_knn"), float("nan")
    )
    if g < 2 or g >= n or k >= n:
        return out | nan
    rng = np.random.default_rng(seed)
    weights = _neighbour_weights(d, k, rng)
    sil = float(_silhouettes(d, codes[None], g)[0])
    acc = float(_knn_accuracies(weights, codes[None], g, k)[0])
    shuffled = rng.permuted(np.broadcast_to(codes, (permutations, n)), axis=1)
    sil_null, acc_null = [], []
    for start in range(0, permutations, chunk):
        part = shuffled[start : start + chunk]
        sil_null.append(_silhouettes(d, part, g))
        acc_null.append(_knn_accuracies(weights, part, g, k))
    sil_null, acc_null = np.concatenate(sil_null), np.concatenate(acc_null)
    tol = 1e-12
    sizes = np.bincount(codes, minlength=g)
    chance = (
        float((sizes * (sizes - 1)).sum() / (n * (n - 1))) if k == 1 else float(acc_null.mean())
    )
    return out | {
        "silhouette": sil,
        "p_silhouette": float((1 + (sil_null >= sil - tol).sum()) / (1 + permutations)),
        "knn_accuracy": acc,
        "chance": chance,
        "p_knn": float((1 + (acc_null >= acc - tol).sum()) / (1 + permutations)),
    }


def group_labels(networks: pd.DataFrame, grouping: str) -> pd.Series:
    """Labels of ``grouping`` for each row of a network table; ``None`` where a network
    has none (``activation`` of a gated cell: those rows leave that grouping).

    ``"architecture+activation"`` joins the two (``"vanilla/relu"``; ``"gru"`` alone
    for a cell without an activation)."""
    if grouping not in GROUPINGS:
        raise ValueError(f"unknown grouping {grouping!r}; choose from {', '.join(GROUPINGS)}.")
    need = {"architecture+activation": ["architecture", "activation"]}.get(grouping, [grouping])
    missing = [c for c in need if c not in networks]
    if missing:
        raise ValueError(
            f"the network table lacks column(s) {missing}; it needs architecture, activation, hidden_size."
        )

    def present(v) -> bool:
        return (
            v is not None
            and not (isinstance(v, float) and np.isnan(v))
            and str(v) not in ("", "None", "nan")
        )

    if grouping == "architecture":
        return networks["architecture"].astype(str)
    if grouping == "activation":
        return networks["activation"].map(lambda v: str(v) if present(v) else None)
    return pd.Series(
        [
            f"{a}/{v}" if present(v) else str(a)
            for a, v in zip(networks["architecture"], networks["activation"], strict=True)
        ],
        index=networks.index,
    )


def _label(silhouette: float, p_sil: float, p_knn: float, alpha: float) -> str:
    if np.isnan(p_sil) or np.isnan(p_knn):
        return "undefined"
    # a negative silhouette can beat shuffled labels (whose silhouette is lower still)
    # but does not describe separated groups: it counts only when positive
    by_sil, by_knn = p_sil < alpha and silhouette > 0, p_knn < alpha
    if by_sil and by_knn:
        return "separates"
    if by_sil or by_knn:
        return "partly"
    return "does not separate"


def verdict_table(
    matrices: Mapping[str, np.ndarray],
    networks: pd.DataFrame,
    *,
    groupings: Sequence[str] = GROUPINGS,
    by: str | None = "hidden_size",
    k: int = 1,
    permutations: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """:func:`separation` for every named matrix × grouping, over all networks and within
    each value of ``by`` (default ``hidden_size``; ``None``: not split).

    Args:
        matrices: name → ``[N, N]`` distances, rows in the order of ``networks``.
        networks: one row per network with ``architecture``, ``activation`` and (when
            ``by`` is set) ``hidden_size``.
        alpha: the level behind the ``verdict`` column: ``"separates"`` when both
            p-values are below it (and the silhouette is positive), ``"partly"`` when
            one criterion holds, ``"does not separate"``, or ``"undefined"`` (fewer
            than two groups). No correction for the number of tests.

    Returns:
        One row per (metric, grouping, subset): ``metric, grouping, subset`` (``"all"``
        or ``"hidden_size=32"``), ``hidden_size`` (``<NA>`` for all), ``n_networks,
        n_groups, silhouette, p_silhouette, knn_accuracy, chance, p_knn, k,
        permutations, alpha, verdict``.
    """
    if not matrices:
        raise ValueError("matrices is empty; pass at least one name → distance matrix.")
    networks = networks.reset_index(drop=True)
    for name, d in matrices.items():
        shape = np.shape(d)
        if shape != (len(networks), len(networks)):
            raise ValueError(
                f"matrix {name!r} has shape {list(shape)}, but the network table has {len(networks)} rows."
            )
    if by is not None and by not in networks:
        raise ValueError(f"the network table has no column {by!r}; pass by=None to skip the split.")
    subsets = [("all", None, np.ones(len(networks), dtype=bool))]
    if by is not None:
        for value in sorted(networks[by].dropna().unique()):
            subsets.append((f"{by}={value}", value, (networks[by] == value).to_numpy()))
    rows = []
    labels = {g: group_labels(networks, g) for g in groupings}
    for name, d in matrices.items():
        d = _check_distances(d)
        for grouping in groupings:
            lab = labels[grouping]
            for subset, value, mask in subsets:
                keep = mask & lab.notna().to_numpy()
                idx = np.flatnonzero(keep)
                s = separation(
                    d if keep.all() else d[np.ix_(idx, idx)],  # no copy of the whole
                    lab.to_numpy()[idx],
                    k=k,
                    permutations=permutations,
                    seed=seed,
                )
                rows.append(
                    {"metric": name, "grouping": grouping, "subset": subset, "hidden_size": value}
                    | s
                    | {
                        "k": k,
                        "permutations": permutations,
                        "alpha": alpha,
                        "verdict": _label(s["silhouette"], s["p_silhouette"], s["p_knn"], alpha),
                    }
                )
    table = pd.DataFrame(rows)
    if by == "hidden_size":
        table["hidden_size"] = table["hidden_size"].astype("Int64")
    return table


def _numbers(row) -> str:
    return (
        f"silhouette {row['silhouette']:.2f}, p = {row['p_silhouette']:.2g}; "
        f"{int(row['k'])}-NN decoding {row['knn_accuracy']:.2f} vs chance {row['chance']:.2f}, "
        f"p = {row['p_knn']:.2g}"
    )


def verdict_sentence(table: pd.DataFrame, *, grouping: str = "architecture") -> str:
    """One sentence per grouping, derived from a :func:`verdict_table`: each metric's
    verdict on all networks with its numbers, and the hidden sizes within which the
    verdict differs, e.g. ``"svcca separates architectures (silhouette 0.41, p = 0.001;
    1-NN decoding 0.93 vs chance 0.27, p = 0.001); topology does not (…)."``"""
    rows = table[table["grouping"] == grouping]
    if rows.empty:
        raise ValueError(f"the table has no rows for grouping {grouping!r}.")
    noun = _NOUNS[grouping]
    clauses = []
    for metric in dict.fromkeys(rows["metric"]):
        mine = rows[rows["metric"] == metric]
        overall = mine[mine["subset"] == "all"].iloc[0]
        verdict = overall["verdict"]
        if verdict == "undefined":
            clauses.append(f"{metric} cannot be judged on {noun} (fewer than two groups)")
            continue
        by_knn = overall["p_knn"] < overall["alpha"]
        phrase = {
            "separates": f"separates {noun}",
            "does not separate": "does not" if clauses else f"does not separate {noun}",
            "partly": f"partly separates {noun} by {'decoding' if by_knn else 'silhouette'} only",
        }[verdict]
        text = f"{metric} {phrase} ({_numbers(overall)})"
        within = mine[(mine["subset"] != "all") & (mine["verdict"] != "undefined")]
        differ = within[within["verdict"] != verdict]
        if len(within) and differ.empty:
            text += ", the same within each hidden size"
        elif len(differ):
            parts = [f"{r['subset'].split('=')[-1]}: {r['verdict']}" for _, r in within.iterrows()]
            text += f"; within hidden size {', '.join(parts)}"
        clauses.append(text)
    return "; ".join(clauses) + "."


@dataclass
class Verdict:
    """The numbers (:attr:`table`) and what they say (:attr:`sentences`, per grouping)."""

    table: pd.DataFrame
    sentences: dict[str, str] = field(default_factory=dict)

    @property
    def sentence(self) -> str:
        """The sentence for the first grouping (architecture by default)."""
        return next(iter(self.sentences.values()), "")

    def __str__(self) -> str:
        return "\n".join(self.sentences.values())


def verdict(matrices: Mapping[str, np.ndarray], networks: pd.DataFrame, **options) -> Verdict:
    """:func:`verdict_table` and a :func:`verdict_sentence` for each grouping."""
    table = verdict_table(matrices, networks, **options)
    groupings = list(dict.fromkeys(table["grouping"]))
    return Verdict(table, {g: verdict_sentence(table, grouping=g) for g in groupings})
