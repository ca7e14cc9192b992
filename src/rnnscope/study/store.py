"""The study folder: an SQLite index plus arrays in ``.npz`` files (format: docs/store.md).

Nothing in a store runs code when opened: arrays load with ``allow_pickle=False`` and
the index is SQLite. Every array file is written to a temporary name and renamed into
place; every index change is a transaction, so a killed process leaves either the old
state or the new one.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

FORMAT = "rnnscope-store"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: files as open() would create them (mkstemp makes them private)
_FILE_MODE = 0o666 & ~_umask()
VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS networks (
    network INTEGER PRIMARY KEY,
    architecture TEXT NOT NULL,
    hidden_size INTEGER NOT NULL,
    activation TEXT,
    learning_rate REAL NOT NULL,
    l2 REAL NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT,
    steps INTEGER,
    loss REAL,
    eval_loss REAL,
    accuracy REAL,
    test_accuracy REAL,
    wall_time_s REAL,
    trained INTEGER NOT NULL DEFAULT 0,
    analyzed INTEGER NOT NULL DEFAULT 0,
    n_fixed INTEGER,
    n_stable INTEGER
);
CREATE TABLE IF NOT EXISTS stages (
    name TEXT PRIMARY KEY,
    info TEXT NOT NULL
);
"""


class StoreError(ValueError):
    """A store that cannot be read; the message names the file and what is wrong."""


class Store:
    """A study's folder.

    Layout: ``store.json`` (format and version), ``index.sqlite`` (networks, stages),
    ``params/network-NNNNN.npz``, ``analysis/network-NNNNN.npz``, ``compare/*.npz``,
    ``report/``.
    """

    def __init__(self, root: str | Path, *, create: bool = False) -> None:
        self.root = Path(root)
        manifest = self.root / "store.json"
        if create and not manifest.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            self._write_text(manifest, json.dumps({"format": FORMAT, "version": VERSION}, indent=2))
        if not manifest.exists():
            raise StoreError(f"{self.root}: not an rnnscope study folder (no store.json).")
        try:
            meta = json.loads(manifest.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise StoreError(f"{manifest}: unreadable (not JSON).") from None
        if meta.get("format") != FORMAT:
            raise StoreError(f"{manifest}: not an rnnscope store (format {meta.get('format')!r}).")
        if not isinstance(meta.get("version"), int) or meta["version"] > VERSION:
            raise StoreError(
                f"{manifest}: store format version {meta.get('version')} is newer than this rnnscope "
                f"reads ({VERSION}); upgrade rnnscope."
            )
        self._db = sqlite3.connect(self.root / "index.sqlite", isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(networks)")}
        if "test_accuracy" not in columns:  # stores written before text tasks existed
            self._db.execute("ALTER TABLE networks ADD COLUMN test_accuracy REAL")

    def close(self) -> None:
        self._db.close()

    # ------------------------------------------------------------------ index
    def add_networks(self, grid: pd.DataFrame) -> None:
        """Register the grid's networks (existing rows are kept as they are)."""
        rows = [
            (int(r.network), r.architecture, int(r.hidden_size), None if pd.isna(r.activation) else r.activation,
             float(r.learning_rate), float(r.l2), int(r.seed))
            for r in grid.itertuples()
        ]  # fmt: skip
        with self._transaction():
            self._db.executemany(
                "INSERT OR IGNORE INTO networks (network, architecture, hidden_size, activation, "
                "learning_rate, l2, seed) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def networks(self) -> pd.DataFrame:
        """All networks: hyperparameters, training status and metrics, stage flags."""
        frame = pd.read_sql_query("SELECT * FROM networks ORDER BY network", self._db)
        frame["trained"] = frame["trained"].astype(bool)
        frame["analyzed"] = frame["analyzed"].astype(bool)
        return frame

    def mark_trained(
        self,
        records: list[dict],
        params: dict[int, dict[str, np.ndarray]],
        history: dict[int, dict[str, np.ndarray]] | None = None,
    ) -> None:
        """Store trained parameters and loss histories (atomic files), then record the
        networks in one transaction."""
        for network, arrays in params.items():
            self.save_arrays(self.params_path(network), arrays)
        for network, arrays in (history or {}).items():
            self.save_arrays(self.history_path(network), arrays)
        with self._transaction():
            for r in records:
                self._db.execute(
                    "UPDATE networks SET status=?, steps=?, loss=?, eval_loss=?, accuracy=?, test_accuracy=?, "
                    "wall_time_s=?, trained=1 WHERE network=?",
                    (r["status"], int(r["steps"]), _num(r["loss"]), _num(r["eval_loss"]), _num(r["accuracy"]),
                     _num(r.get("test_accuracy")), float(r["wall_time_s"]), int(r["network"])),
                )  # fmt: skip

    def mark_analyzed(
        self, network: int, arrays: dict[str, np.ndarray], n_fixed: int, n_stable: int
    ) -> None:
        self.save_arrays(self.analysis_path(network), arrays)
        with self._transaction():
            self._db.execute(
                "UPDATE networks SET analyzed=1, n_fixed=?, n_stable=? WHERE network=?",
                (n_fixed, n_stable, network),
            )

    def reset(self, stage: str) -> None:
        """Forget a stage's results (``--force STAGE``) and those of the stages after it."""
        order = ["train", "analyze", "compare", "report"]
        later = order[order.index(stage) :]
        with self._transaction():
            if "train" in later:
                self._db.execute("UPDATE networks SET trained=0, status=NULL")
            if "analyze" in later:
                self._db.execute("UPDATE networks SET analyzed=0, n_fixed=NULL, n_stable=NULL")
            self._db.executemany("DELETE FROM stages WHERE name=?", [(s,) for s in later])

    def stage_done(self, name: str) -> dict | None:
        row = self._db.execute("SELECT info FROM stages WHERE name=?", (name,)).fetchone()
        return None if row is None else json.loads(row[0])

    def finish_stage(self, name: str, info: dict) -> None:
        with self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO stages (name, info) VALUES (?, ?)", (name, json.dumps(info))
            )

    # ----------------------------------------------------------------- arrays
    def params_path(self, network: int) -> Path:
        return self.root / "params" / f"network-{network:05d}.npz"

    def history_path(self, network: int) -> Path:
        return self.root / "history" / f"network-{network:05d}.npz"

    def analysis_path(self, network: int) -> Path:
        return self.root / "analysis" / f"network-{network:05d}.npz"

    def save_arrays(self, path: Path, arrays: dict[str, np.ndarray]) -> None:
        """Write ``arrays`` to ``path`` atomically (temporary file, then rename)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, **{k: np.asarray(v) for k, v in arrays.items()})
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, _FILE_MODE)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def load_arrays(self, path: Path) -> dict[str, np.ndarray]:
        """Read an array file; a missing, truncated or corrupted file, or one that holds a
        pickled object, raises :class:`StoreError` naming it."""
        if not path.exists():
            raise StoreError(f"{path}: missing; rerun the stage that writes it (or `--force` it).")
        try:
            with np.load(path, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        except ValueError as err:
            if "pickle" in str(err).lower():
                raise StoreError(
                    f"{path}: holds a pickled object; refused (stores never run code on load)."
                ) from None
            raise StoreError(f"{path}: corrupted ({err}); delete it and rerun the stage.") from None
        except (zipfile.BadZipFile, OSError, EOFError, KeyError) as err:
            raise StoreError(
                f"{path}: truncated or corrupted ({err}); delete it and rerun the stage."
            ) from None

    # ------------------------------------------------------------------ utils
    def _write_text(self, path: Path, text: str) -> None:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)

    def write_text(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        self._write_text(path, text)
        return path

    class _Tx:
        def __init__(self, db):
            self.db = db

        def __enter__(self):
            self.db.execute("BEGIN IMMEDIATE")

        def __exit__(self, exc_type, *_):
            self.db.execute("ROLLBACK" if exc_type else "COMMIT")
            return False

    def _transaction(self):
        return Store._Tx(self._db)


def _num(v) -> float | None:
    if v is None:
        return None
    v = float(v)
    return None if v != v else v
