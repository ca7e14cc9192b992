"""The study stages' work for text tasks (sentiment): training through
:func:`train_text_population`, the bag-of-words baseline, and the per-network
line-attractor analysis of :func:`rnnscope.dynamics.integration.analyze_integration`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..dynamics import LinearizedModel
from ..dynamics.integration import analyze_integration, linearized_readout
from ..network import TextRNN
from ..tasks.text import Sentiment, batches
from ..train.bag_of_words import BagOfWords, bag_of_words_baseline
from ..train.text import TextTrainConfig, text_network, train_text_population

#: per-network read-out arrays the analyze stage stores for text tasks
SENTIMENT_KEYS = (
    "sentiment_pca_variance",
    "sentiment_summary",
    "sentiment_valence",
    "sentiment_valence_labels",
)
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
)


def text_config(spec, device: str = "cpu") -> TextTrainConfig:
    """The ``[train]`` section of a text study (its fields are TextTrainConfig's, by name)."""
    return TextTrainConfig(**spec.train.model_dump(), device=device)


def text_network_of(spec, task: Sentiment, row) -> TextRNN:
    """The network of one study row (a dict or a pandas row)."""
    row = dict(row)
    act = row.get("activation")
    act = None if act is None or (isinstance(act, float) and np.isnan(act)) else act
    return text_network(
        row["architecture"], int(row["hidden_size"]), task.data, text_config(spec), act
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
    and most neutral frequent words (up to ``n`` each; fewer in a small vocabulary)."""
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
    readout = net.readout_vectors(params)[0, :, 0].double()
    bias = float(params["b_out"][0, 0])
    step = net.step_function(params)
    ids, valence = words
    fp = spec.fixed_points
    analysis = analyze_integration(
        step,
        states,
        readout,
        mask=mask,
        inputs=params["embedding"][0, torch.from_numpy(ids).long()],
        input_labels=valence,
        n_candidates=fp.candidates,
        candidate_noise=fp.noise,
        tol_q_mean=fp.tol_q_mean,
        observed=net.hidden_size,
        seed=int(row.network),
    )
    summary = analysis.summary()
    fps = analysis.fixed_points
    if len(fps):
        x = net.embed(params, tokens)[0]
        lin = linearized_readout(LinearizedModel(fps), states, x, lengths, labels, readout, bias)
        summary.update(
            one_step_error=lin.one_step_error,
            probe_accuracy=lin.network_accuracy,
            linearized_accuracy=lin.linearized_accuracy,
            agreement=lin.agreement,
        )
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
    }
    return arrays


def summary_table(frame: pd.DataFrame, per_network: list[dict]) -> pd.DataFrame:
    """One row per network: its accuracy and the analysis scalars."""
    rows = pd.DataFrame(
        [dict(zip(SUMMARY_FIELDS, a["sentiment_summary"], strict=True)) for a in per_network]
    )
    keep = [c for c in ("network", "architecture", "accuracy", "test_accuracy") if c in frame]
    return pd.concat([frame[keep].reset_index(drop=True), rows], axis=1)


def best_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per architecture, the network with the best validation accuracy (as the paper
    reports its networks), with its analysis scalars."""
    best = table.loc[table.groupby("architecture", sort=False)["accuracy"].idxmax()]
    return best.set_index("architecture")


def architecture_table(table: pd.DataFrame) -> pd.DataFrame:
    """Medians per architecture of :func:`summary_table`."""
    columns = [c for c in ("test_accuracy", *SUMMARY_FIELDS) if c in table]
    return table.groupby("architecture", sort=False)[columns].median()
