"""The study stages' work for text tasks (sentiment): training through
:func:`train_text_population`, the bag-of-words baseline, and the per-network
line-attractor analysis of :func:`rnnscope.dynamics.integration.analyze_integration`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..dynamics import LinearizedModel, modifier_effects
from ..dynamics.integration import analyze_integration, linearized_readout
from ..dynamics.line_attractor import readout_subspace_share
from ..network import TextRNN
from ..tasks.text import Sentiment, batches
from ..train.bag_of_words import BagOfWords, bag_of_words_baseline
from ..train.grid import is_missing
from ..train.text import TextTrainConfig, text_network, train_text_population

#: per-network read-out arrays the analyze stage stores for text tasks
SENTIMENT_KEYS = (
    "sentiment_pca_variance",
    "sentiment_summary",
    "sentiment_valence",
    "sentiment_valence_labels",
    "sentiment_modifier_words",
    "sentiment_modifier_gain",
    "sentiment_modifier_summary",
    "sentiment_modifier_displacement",
)
#: the fields of ``sentiment_modifier_summary`` (one row per modifier word)
MODIFIER_FIELDS = (
    "gain", "own_effect", "transient_dimension", "readout_share", "transient_tau",
    "gain_positive", "gain_negative",
)  # fmt: skip
#: gaps (zero-input steps between modifier and word) the modifier gain is measured at
MODIFIER_GAPS = 5
#: the fields of ``sentiment_summary``, in order
SUMMARY_FIELDS = (
    "pcs_for_90pct",
    "variance_top2",
    "variance_top3",
    "fixed_points",
    "line_attractor",
    "line_dimension",
    "line_variance_pc1",
    "readout_alignment",
    "null_alignment_95",
    "tau_1",
    "tau_2",
    "slow_modes",
    "mode_tau",
    "mode_rank",
    "valence_auc",
    "valence_auc_integration",
    "one_step_error",
    "probe_accuracy",
    "linearized_accuracy",
    "agreement",
    "classes",
    "readout_subspace_share",
    "participation_ratio",
)


def text_config(spec, device: str = "cpu") -> TextTrainConfig:
    """The ``[train]`` section of a text study (its fields are TextTrainConfig's, by name)."""
    return TextTrainConfig(**spec.train.model_dump(), device=device)


def text_network_of(spec, task: Sentiment, row) -> TextRNN:
    """The network of one study row (a dict or a pandas row)."""
    row = dict(row)
    act, emb = row.get("activation"), row.get("embedding_size")
    act = None if is_missing(act) else act
    emb = None if is_missing(emb) else int(emb)
    return text_network(
        row["architecture"], int(row["hidden_size"]), task.data, text_config(spec), act, emb
    )


def train_text_group(spec, task: Sentiment, rows: pd.DataFrame, device: str = "cpu"):
    return train_text_population(task.data, rows, text_config(spec, device))


def fit_baseline(task: Sentiment) -> dict[str, np.ndarray]:
    """The bag-of-words baseline as store arrays."""
    bow = bag_of_words_baseline(task.data)
    return {
        "C": np.array(bow.C),
        "validation_accuracy": np.array(bow.validation_accuracy),
        "test_accuracy": np.array(bow.test_accuracy),
        "coefficients": bow.coefficients,
        "counts": bow.counts,
    }


def valence_words(arrays: dict[str, np.ndarray], n: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Token ids and valences (+1/−1/0) of the baseline's most positive, most negative
    and most neutral frequent words (up to ``n`` each; fewer in a small vocabulary).
    None (empty arrays) for a task of more than two classes."""
    if np.asarray(arrays["coefficients"]).ndim != 1:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    bow = BagOfWords(
        float(arrays["C"]),
        float(arrays["validation_accuracy"]),
        float(arrays["test_accuracy"]),
        arrays["coefficients"],
        arrays["counts"],
        model=None,  # the selection needs only the stored coefficients and counts
    )
    min_count = 20 if len(bow.eligible(20)) >= 3 * n else 1
    words = bow.valence_words(
        n=max(1, min(n, len(bow.eligible(min_count)) // 3)), min_count=min_count
    )
    kinds = ("positive", "negative", "neutral")
    ids = np.concatenate([words[k] for k in kinds])
    labels = np.repeat([1.0, -1.0, 0.0], [len(words[k]) for k in kinds])
    return ids, labels


def probe_texts(task: Sentiment, batch_size: int, seed: int):
    """The held-out texts every network's geometry is measured on: a seeded draw from
    the test split, ``(tokens [B, T], lengths [B], labels [B])``, in split order."""
    data = task.data
    ids = data.truncated("test")
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(ids), size=min(batch_size, len(ids)), replace=False))
    chosen = [ids[i] for i in pick]
    return next(batches(chosen, data.test.labels[pick], len(pick), bucket=False))


def analyze_text_network(spec, task: Sentiment, row, params, words, device: str = "cpu"):
    """Fixed points, line attractor, valence and linearized read-out of one network."""
    net = text_network_of(spec, task, row)
    params = {k: torch.from_numpy(v).to(device) for k, v in params.items()}
    tokens, lengths, labels = probe_texts(task, spec.probe.batch_size, spec.probe.seed)
    with torch.no_grad():
        states, _ = net.run(params, tokens, lengths)
    states = states[0]
    mask = torch.arange(tokens.shape[1])[None, :] < lengths[:, None]
    size = net.state_size
    binary = net.output_size == 1
    readouts = net.readout_vectors(params)[0].double()  # [S, O]
    readout = readouts[:, 0]
    bias = float(params["b_out"][0, 0])
    step = net.step_function(params)
    ids, valence = words
    fp = spec.fixed_points
    analysis = analyze_integration(
        step,
        states,
        readout if binary else readouts,
        mask=mask,
        inputs=params["embedding"][0, torch.from_numpy(ids).long()] if binary else None,
        input_labels=valence if binary else None,
        n_candidates=fp.candidates,
        candidate_noise=fp.noise,
        tol_q_mean=fp.tol_q_mean,
        observed=net.hidden_size,
        seed=int(row.network),
    )
    summary = analysis.summary()
    fps = analysis.fixed_points
    summary["classes"] = task.data.classes
    if len(fps) >= 2:
        points = fps.points.double()[:, : net.hidden_size]
        summary["readout_subspace_share"] = readout_subspace_share(
            points, readouts[: net.hidden_size]
        )
    if len(fps) and binary:
        x = net.embed(params, tokens)[0]
        lin = linearized_readout(LinearizedModel(fps), states, x, lengths, labels, readout, bias)
        summary.update(
            one_step_error=lin.one_step_error,
            probe_accuracy=lin.network_accuracy,
            linearized_accuracy=lin.linearized_accuracy,
            agreement=lin.agreement,
        )
    arrays_modifiers = modifier_arrays(
        spec, task, step, fps.points.float() if len(fps) >= 2 else _spread(states[mask], 64), readout,
        params["embedding"][0], ids if binary else np.zeros(0, int), valence,
    )  # fmt: skip
    d = net.embedding_size
    from .families import fixed_point_arrays

    points = fixed_point_arrays(fps, size, d)
    arrays = {
        **points,
        "inputs": np.zeros((len(fps), d)),
        "graph_edges": np.zeros((0, 2), dtype=np.int64),
        "sentiment_pca_variance": analysis.pca_variance[:10],
        "sentiment_summary": np.array(
            [summary.get(k, np.nan) for k in SUMMARY_FIELDS], dtype=float
        ),
        "sentiment_valence": np.zeros((0, len(ids)))
        if analysis.valence is None
        else analysis.valence,
        "sentiment_valence_labels": valence,
        "sentiment_line_coordinate": np.zeros(0)
        if analysis.line is None
        else np.asarray(analysis.line.coordinate),
        **arrays_modifiers,
    }
    return arrays


def _spread(states: torch.Tensor, n: int) -> torch.Tensor:
    """At most ``n`` of ``states [K, S]``, evenly spaced (over every probe text, not the
    first one's tokens)."""
    pick = np.unique(np.linspace(0, len(states) - 1, min(n, len(states))).round().astype(int))
    return states[torch.from_numpy(pick)] if len(states) else states


def modifier_arrays(spec, task, step, starts, readout, embedding, ids, valence) -> dict:
    """:func:`rnnscope.dynamics.modifier_effects` of the spec's modifier words that the
    vocabulary has, on the valence words, from ``starts`` (the fixed points), as arrays."""
    index = task.data.vocabulary.index
    words = [w for w in spec.fixed_points.modifiers if w in index]
    gaps = MODIFIER_GAPS + 1
    out = {
        "sentiment_modifier_words": np.array(words, dtype=str),
        "sentiment_modifier_gain": np.zeros((len(words), gaps)),
        "sentiment_modifier_summary": np.zeros((len(words), len(MODIFIER_FIELDS))),
        "sentiment_modifier_displacement": np.zeros((len(words), MODIFIER_SETTLE + 1)),
    }
    if not words or len(starts) == 0 or len(ids) == 0:
        return out
    effects = modifier_effects(
        step,
        starts,
        readout,
        embedding[torch.tensor([index[w] for w in words])],
        embedding[torch.from_numpy(ids).long()],
        word_labels=valence,
        max_gap=MODIFIER_GAPS,
        settle=MODIFIER_SETTLE,
        max_states=MODIFIER_STATES,
    )
    out["sentiment_modifier_gain"] = np.stack([e.gain for e in effects])
    out["sentiment_modifier_summary"] = np.array(
        [[e.summary()[k] for k in MODIFIER_FIELDS] for e in effects], dtype=float
    )
    out["sentiment_modifier_displacement"] = np.stack([e.displacement for e in effects])
    return out


#: zero-input steps after the word before its effect is read (transients fade)
MODIFIER_SETTLE = 20
#: fixed points (evenly spaced in their order) the modifier read-out starts from
MODIFIER_STATES = 32


def summary_table(frame: pd.DataFrame, per_network: list[dict]) -> pd.DataFrame:
    """One row per network: its accuracy and the analysis scalars."""
    rows = pd.DataFrame([_summary_row(a["sentiment_summary"]) for a in per_network])
    keep = [c for c in ("network", "architecture", "accuracy", "test_accuracy") if c in frame]
    keep += [c for c in SEARCH_COLUMNS if c in frame and frame[c].notna().any()]
    return pd.concat([frame[keep].reset_index(drop=True), rows], axis=1)


def _summary_row(values: np.ndarray) -> dict:
    return stored_fields(SUMMARY_FIELDS, values)


def stored_fields(fields: tuple[str, ...], values) -> dict:
    """A stored row of ``fields`` as a dict; fields later versions appended are NaN in
    an older store's shorter rows."""
    values = list(values) + [np.nan] * (len(fields) - len(values))
    return dict(zip(fields, values, strict=True))


def modifier_rows(arrays: dict) -> list[dict]:
    """One dict per modifier word of a network's stored read-out: ``modifier`` and
    :data:`MODIFIER_FIELDS`."""
    words = arrays.get("sentiment_modifier_words", np.zeros(0, dtype=str))
    summaries = arrays.get("sentiment_modifier_summary", np.zeros((0, len(MODIFIER_FIELDS))))
    return [
        {"modifier": str(word), **stored_fields(MODIFIER_FIELDS, summary)}
        for word, summary in zip(words, summaries, strict=True)
    ]


#: the hyperparameters a sentiment search varies, as the selection table shows them
SEARCH_COLUMNS = ("hidden_size", "learning_rate", "l2", "grad_clip", "embedding_size")


def selection_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Every configuration searched, per architecture, best validation accuracy first,
    with ``selected`` marking the one :func:`best_table` reports."""
    cols = ["network", "architecture", *[c for c in SEARCH_COLUMNS if c in frame]]
    cols += [c for c in ("seed", "status", "accuracy", "test_accuracy") if c in frame]
    table = frame[cols].copy()
    table["selected"] = table.index.isin(_best_rows(table))
    order = table.sort_values("accuracy", ascending=False, kind="stable")
    return order.sort_values("architecture", key=_first_seen(table), kind="stable")


def _first_seen(table: pd.DataFrame):
    rank = {a: i for i, a in enumerate(dict.fromkeys(table["architecture"]))}
    return lambda column: column.map(rank)


def best_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per architecture, the network with the best validation accuracy (as the paper
    reports its networks), with its analysis scalars."""
    best = table.loc[_best_rows(table)]
    # all numbers as floats (missing: NaN), so the table transposes into float columns
    return best.set_index("architecture").astype("float64")


def _best_rows(table: pd.DataFrame) -> list:
    """Index labels of the best validation accuracy per architecture (first on ties;
    architectures whose every network lacks an accuracy have none)."""
    scored = table[table["accuracy"].notna()]
    return list(scored.groupby("architecture", sort=False)["accuracy"].idxmax())


def modifier_table(summary: pd.DataFrame, per_network: list[dict]) -> pd.DataFrame:
    """The modifier read-out of the best network per architecture: one row per
    (architecture, modifier word), columns :data:`MODIFIER_FIELDS` and the gain at each
    gap. ``summary`` is :func:`summary_table` (rows in ``per_network``'s order)."""
    rows = []
    for i in _best_rows(summary):
        arch = summary.loc[i, "architecture"]
        arrays = per_network[int(i)]
        for k, fields in enumerate(modifier_rows(arrays)):
            row = {"architecture": arch, **fields}
            gains = arrays["sentiment_modifier_gain"][k]
            row.update({f"gain_gap_{g}": float(v) for g, v in enumerate(gains) if g})
            rows.append(row)
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame(rows).set_index(["architecture", "modifier"])


def architecture_table(table: pd.DataFrame) -> pd.DataFrame:
    """Medians per architecture of :func:`summary_table`."""
    columns = [c for c in ("test_accuracy", *SUMMARY_FIELDS) if c in table and c != "classes"]
    return table.groupby("architecture", sort=False)[columns].median().astype("float64")
