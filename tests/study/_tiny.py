"""Tiny studies shared by the study tests (seconds each)."""

from pathlib import Path

TINY = """
name = "tiny"
output = "tiny-study"
[grid]
architectures = {archs}
hidden_sizes = [{hidden}]
seeds = {seeds}
[train]
max_steps = {steps}
batch_size = 16
eval_every = 25
[task]
options = {{ bits = 2, steps = 30 }}
[fixed_points]
candidates = 64
[probe]
batch_size = 16
"""


def tiny(
    folder: Path, archs='["gru", "vanilla"]', steps=200, seeds=2, hidden=8, name="tiny.toml"
) -> Path:
    path = folder / name
    path.write_text(TINY.format(archs=archs, steps=steps, seeds=seeds, hidden=hidden))
    return path


def spec_dict(**update):
    base = {
        "name": "tiny",
        "grid": {"architectures": ["gru", "vanilla"], "hidden_sizes": [8], "seeds": 2},
        "train": {"max_steps": 100, "batch_size": 16, "eval_every": 25},
        "task": {"options": {"bits": 2, "steps": 30}},
        "fixed_points": {"candidates": 32},
        "probe": {"batch_size": 16},
    }
    for key, value in update.items():
        base[key] = {**base.get(key, {}), **value} if isinstance(value, dict) else value
    return base
