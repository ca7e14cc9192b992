"""Recorded neural activity as ``[samples, units]`` matrices, and models ranked against it.

A recording must be aligned with the models' probe states: row ``k`` of the recording
and of every model's state matrix come from the same trial and time step (for a study:
the probe trials, flattened trial-major, ``[B·T, units]``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .. import compare


def load_recording(path: str | Path, *, key: str | None = None) -> np.ndarray:
    """Load ``[samples, units]`` activity from ``.npy``, ``.npz`` (``key``: which array;
    optional when there is one), ``.csv`` / ``.tsv`` (a header row is skipped), or ``.nwb``
    (a TimeSeries, with pynwb: the ``nwb`` extra). Nothing is unpickled."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such recording file.")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            data = np.load(path, allow_pickle=False)
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                names = archive.files
                if key is None:
                    if len(names) != 1:
                        raise ValueError(f"{path} holds arrays {names}; pass key= to choose one.")
                    key = names[0]
                if key not in names:
                    raise ValueError(f"{path} has no array {key!r}; it holds {names}.")
                data = archive[key]
        elif suffix in (".csv", ".tsv"):
            delimiter = "," if suffix == ".csv" else "\t"
            with path.open() as handle:
                first = handle.readline()
            try:
                [float(v) for v in first.strip().split(delimiter)]
                skip = 0
            except ValueError:
                skip = 1  # a header row
            data = np.loadtxt(path, delimiter=delimiter, skiprows=skip, ndmin=2)
        elif suffix == ".nwb":
            data = _load_nwb(path, key)
        else:
            raise ValueError(
                f"{path}: unknown recording format {suffix!r}; use .npy, .npz, .csv or .tsv."
            )
    except ValueError as err:
        if "pickle" in str(err).lower():
            raise ValueError(f"{path}: holds a pickled object; refused.") from None
        raise
    data = np.asarray(data, dtype=np.float64)
    if data.ndim != 2:
        raise ValueError(
            f"{path}: a recording must be [samples, units], got shape {list(data.shape)}."
        )
    if not np.isfinite(data).all():
        raise ValueError(f"{path}: contains NaN or inf; drop or impute those samples first.")
    return data


def _load_nwb(path: Path, key: str | None) -> np.ndarray:
    """A TimeSeries' data ``[time, units]`` from an NWB file: ``key`` names a series in
    ``acquisition``, or ``"module/interface/series"`` under ``processing``; default: the
    only TimeSeries in ``acquisition``."""
    try:
        from pynwb import NWBHDF5IO, TimeSeries
    except ImportError:
        raise ImportError(f"{path}: NWB files need pynwb: pip install 'rnnscope[nwb]'.") from None
    with NWBHDF5IO(str(path), "r") as io:
        nwb = io.read()
        if key is None:
            series = [v for v in nwb.acquisition.values() if isinstance(v, TimeSeries)]
            if len(series) != 1:
                names = sorted(nwb.acquisition)
                raise ValueError(
                    f"{path}: {len(series)} time series in acquisition ({names}); pass key= to choose one."
                )
            item = series[0]
        elif "/" in key:
            module, interface, name = key.split("/", 2)
            try:
                item = nwb.processing[module][interface][name]
            except KeyError:
                raise ValueError(f"{path}: no processing series {key!r}.") from None
        else:
            if key not in nwb.acquisition:
                raise ValueError(
                    f"{path}: no acquisition series {key!r}; it holds {sorted(nwb.acquisition)}."
                )
            item = nwb.acquisition[key]
        data = np.asarray(item.data[:])
    return data.reshape(len(data), -1)


def rank_models(
    states: Sequence, recording, *, metric: str = "svcca", names: Sequence | None = None, **options
):
    """Rank models by how close their state matrices are to a recording.

    Args:
        states: each model's ``[samples, units]`` states on the recording's trials.
        recording: ``[samples, units]`` activity (e.g. from :func:`load_recording`).
        metric: any ``compare.pairwise`` metric; distances as ``compare.cross`` gives them.
        names: labels for the models (default 0, 1, ...).

    Returns:
        DataFrame ``model, distance`` sorted closest first. Geometric similarity alone does
        not show that a model computes as the brain does (Maheswaranathan et al. 2019):
        compare the topology of the best-ranked models too.
    """
    distances = compare.cross(metric, list(states), [recording], **options)[:, 0]
    frame = pd.DataFrame({"model": list(names) if names is not None else list(range(len(distances))),
                          "distance": distances})  # fmt: skip
    return frame.sort_values("distance", kind="stable").reset_index(drop=True)
