"""Studies: a TOML spec → trained, analysed and compared populations in a resumable store."""

from __future__ import annotations

from .executors import DaskExecutor, InProcess
from .spec import EXAMPLE, SpecError, StudySpec, load_spec
from .stages import STAGES, load_distances, load_fixed_points, run_study, status
from .store import Store, StoreError

__all__ = [
    "EXAMPLE",
    "STAGES",
    "DaskExecutor",
    "InProcess",
    "SpecError",
    "Store",
    "StoreError",
    "StudySpec",
    "load_distances",
    "load_fixed_points",
    "load_spec",
    "run_study",
    "status",
]
