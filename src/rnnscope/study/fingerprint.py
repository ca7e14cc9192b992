"""What a store's results depend on, and how a new spec differs from the stored one.

The parts of a spec that determine results, by the first stage they affect:

| stage | keys |
|---|---|
| train | ``task`` (name and every option, defaults filled in), ``grid``, ``train`` |
| analyze | ``fixed_points``, ``probe`` |
| compare | ``compare`` |

``name``, ``output``, ``[run]`` and ``[cluster]`` say how and where a study runs, not
what it computes. A grid whose every list only gained values (and whose ``seeds`` did
not shrink) has *grown*: the study is extended rather than refused.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from .spec import StudySpec

#: first stage each part of a spec affects
STAGE_OF_KEY = {
    "task": "train",
    "grid": "train",
    "train": "train",
    "fixed_points": "analyze",
    "probe": "analyze",
    "compare": "compare",
}
_ORDER = ("train", "analyze", "compare")


def result_parts(spec: StudySpec) -> dict[str, dict]:
    """The result-determining parts of ``spec`` as plain JSON-able dicts."""
    return {
        "task": {"name": spec.task.name, "options": spec.task.full_options()},
        "grid": spec.grid.model_dump(),
        "train": spec.train.model_dump(),
        "fixed_points": spec.fixed_points.model_dump(),
        "probe": spec.probe.model_dump(),
        "compare": spec.compare.model_dump(),
    }


def fingerprint(spec: StudySpec) -> str:
    """SHA-256 of the canonical JSON of :func:`result_parts`."""
    text = json.dumps(result_parts(spec), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class SpecChange:
    """How a new spec differs from the stored one."""

    changed: list[str] = field(default_factory=list)  # dotted keys, not counting growth
    grown: list[str] = field(default_factory=list)  # grid keys that only gained values

    @property
    def same(self) -> bool:
        return not self.changed and not self.grown

    @property
    def stage(self) -> str | None:
        """The first stage the changed keys affect (``None``: nothing changed)."""
        stages = {STAGE_OF_KEY[k.split(".")[0]] for k in self.changed}
        return next((s for s in _ORDER if s in stages), None)


def _diff(old, new, prefix: str) -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        keys = sorted(set(old) | set(new))
        return [k for key in keys for k in _diff(old.get(key), new.get(key), f"{prefix}.{key}")]
    return [] if old == new else [prefix]


def spec_change(old: StudySpec, new: StudySpec) -> SpecChange:
    a, b = result_parts(old), result_parts(new)
    change = SpecChange()
    for part in a:
        if part == "grid":
            continue
        change.changed += _diff(a[part], b[part], part)
    for key, was in a["grid"].items():
        now = b["grid"][key]
        if was == now:
            continue
        if key == "seeds":
            (change.grown if now > was else change.changed).append(f"grid.{key}")
        elif not isinstance(was, list) or not isinstance(now, list):
            change.changed.append(f"grid.{key}")  # a search, or a list set or unset
        elif set(was) == set(now):
            continue  # the same values in another order: the same networks
        elif set(was) <= set(now):
            change.grown.append(f"grid.{key}")
        else:
            change.changed.append(f"grid.{key}")
    return change


def describe(change: SpecChange, old: StudySpec, new: StudySpec) -> str:
    """``train.max_steps 3000 → 400, grid.hidden_sizes [64] → [32]``."""
    a, b = result_parts(old), result_parts(new)

    def value(parts, key):
        for p in key.split("."):
            parts = parts.get(p) if isinstance(parts, dict) else None
        return parts

    return ", ".join(f"{k} {value(a, k)!r} → {value(b, k)!r}" for k in change.changed)
