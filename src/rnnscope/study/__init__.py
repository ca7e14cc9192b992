"""Studies: a TOML spec → trained, analysed and compared populations in a resumable store.

- :func:`run_study` runs the stages (train → analyze → compare) into a store, on the
  executor it is given (:class:`InProcess` or :class:`DaskExecutor`).
- :func:`load` opens a finished (or running) study read-only, for notebooks and the
  report: networks, parameters, fixed points, distances, embeddings.
"""

from __future__ import annotations

from .executors import DaskExecutor, InProcess
from .read import Study, load
from .spec import EXAMPLE, SpecError, StudySpec, load_spec
from .stages import STAGES, SpecMismatch, open_study, run_study, status
from .store import Store, StoreError

__all__ = [
    "EXAMPLE",
    "STAGES",
    "DaskExecutor",
    "InProcess",
    "SpecError",
    "SpecMismatch",
    "Store",
    "StoreError",
    "Study",
    "StudySpec",
    "load",
    "load_spec",
    "open_study",
    "run_study",
    "status",
]
