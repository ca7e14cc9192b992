"""The study folder: an SQLite index plus compressed ``.npz`` arrays (docs/store.md).

Nothing in a store runs code when opened: arrays load with ``allow_pickle=False`` and
the index is SQLite. Every array file is written to a temporary name and renamed into
place; every index change is a transaction, so a killed process leaves either the old
state or the new one. The index keeps every spec the study ran with (the first is
never lost), and one writer at a time holds ``study.lock``.

Every failure to read or write the folder is a :class:`StoreError` whose message names
the file and the way out.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import sqlite3
import tempfile
import time
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from ..train.grid import is_missing

FORMAT = "rnnscope-store"
VERSION = 2


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: files as open() would create them (mkstemp makes them private)
_FILE_MODE = 0o666 & ~_umask()

#: columns that identify a network: its id is looked up by these, never by row order
KEY_COLUMNS = (
    "architecture", "hidden_size", "activation", "learning_rate", "l2", "seed",
    "grad_clip", "embedding_size",
)  # fmt: skip
#: columns later versions added to ``networks``: (name, SQL type), added on open
_ADDED_COLUMNS = (("grad_clip", "REAL"), ("embedding_size", "INTEGER"))

_SCHEMA = """
CREATE TABLE IF NOT EXISTS networks (
    network INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    architecture TEXT NOT NULL,
    hidden_size INTEGER NOT NULL,
    activation TEXT,
    learning_rate REAL NOT NULL,
    l2 REAL NOT NULL,
    seed INTEGER NOT NULL,
    grad_clip REAL,
    embedding_size INTEGER,
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
    n_stable INTEGER,
    n_index1 INTEGER,
    n_index2 INTEGER,
    n_index3_plus INTEGER,
    memory TEXT,
    train_host TEXT,
    train_pid INTEGER,
    analyze_host TEXT,
    analyze_pid INTEGER
);
CREATE TABLE IF NOT EXISTS stages (
    name TEXT PRIMARY KEY,
    info TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS specs (
    version INTEGER PRIMARY KEY AUTOINCREMENT,
    spec TEXT NOT NULL,
    reason TEXT NOT NULL,
    written TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS blocks (
    name TEXT NOT NULL,
    row INTEGER NOT NULL,
    col INTEGER NOT NULL,
    host TEXT,
    pid INTEGER,
    PRIMARY KEY (name, row, col)
);
"""

STAGE_ORDER = ("train", "analyze", "compare", "summary")


class StoreError(ValueError):
    """A store that cannot be read or written; the message names the file and the way out."""


def network_key(
    architecture,
    hidden_size,
    activation,
    learning_rate,
    l2,
    seed,
    grad_clip=None,
    embedding_size=None,
) -> str:
    """The canonical identity of a network: its hyperparameters (floats exactly). The
    per-network clip and embedding width join the key only when set, so networks of
    grids that do not vary them keep the keys earlier versions gave them."""
    act = "-" if is_missing(activation) else activation
    key = f"{architecture}|{int(hidden_size)}|{act}|{float(learning_rate)!r}|{float(l2)!r}|{int(seed)}"
    if not is_missing(grad_clip):
        key += f"|clip={float(grad_clip)!r}"
    if not is_missing(embedding_size):
        key += f"|embedding={int(embedding_size)}"
    return key


def _os_error(path: Path, err: OSError) -> StoreError:
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return StoreError(
            f"{path}: permission denied ({err.strerror}); run where you may write, or give another output folder."
        )
    if err.errno == errno.ENOSPC:
        return StoreError(
            f"{path}: no space left on the device; free some space and rerun (finished work is kept)."
        )
    return StoreError(f"{path}: {err.strerror or err}.")


class Store:
    """A study's folder.

    Layout: ``store.json`` (format and version), ``index.sqlite`` (networks, stages,
    specs, compare blocks), ``spec.json`` (the spec in force, for reading),
    ``params/``, ``history/``, ``analysis/`` (``network-NNNNN.npz``), ``compare/``,
    ``report/``.

    Args:
        root: the folder.
        create: make it if it does not exist.
        readonly: open the index read-only (``status``, :func:`rnnscope.study.load`):
            nothing is written, not even SQLite's journal, so a read-only folder works.
    """

    def __init__(self, root: str | Path, *, create: bool = False, readonly: bool = False) -> None:
        self.root = Path(root)
        self.readonly = readonly
        self._lock_path: Path | None = None
        manifest = self.root / "store.json"
        if create and not readonly and not manifest.exists():
            if self.root.exists() and not self.root.is_dir():
                raise StoreError(f"{self.root}: exists and is not a folder; give another output.")
            try:
                self.root.mkdir(parents=True, exist_ok=True)
                self._write_text(
                    manifest, json.dumps({"format": FORMAT, "version": VERSION}, indent=2)
                )
            except OSError as err:
                raise _os_error(self.root, err) from None
        if not manifest.exists():
            raise StoreError(f"{self.root}: not an rnnscope study folder (no store.json).")
        try:
            meta = json.loads(manifest.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise StoreError(
                f"{manifest}: unreadable (not JSON); restore it or start the study in a new folder."
            ) from None
        except OSError as err:
            raise _os_error(manifest, err) from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
            raise StoreError(f"{manifest}: not an rnnscope store (format {found!r}).")
        version = meta.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise StoreError(
                f"{manifest}: its version {version!r} is not an integer; restore the file."
            )
        if version > VERSION:
            raise StoreError(
                f"{manifest}: store format version {version} is newer than this rnnscope reads ({VERSION}); upgrade rnnscope."
            )
        if version < VERSION:
            raise StoreError(
                f"{manifest}: store format version {version} was written by an older rnnscope (it kept probe states and no "
                f"spec fingerprint); rerun the study into a new folder (`--out NEW`) — format {VERSION} is described in docs/store.md."
            )
        self._db = self._connect()

    def _connect(self) -> sqlite3.Connection:
        path = self.root / "index.sqlite"
        try:
            if self.readonly:
                if not path.exists():
                    raise StoreError(f"{path}: missing; the study has not run yet.")
                try:
                    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
                    db.execute("SELECT count(*) FROM networks").fetchone()
                except sqlite3.OperationalError:
                    # a read-only folder: SQLite cannot make the WAL index. A closed study has
                    # none and is read as it is; a killed run's log would be ignored that way
                    wal = path.with_name(path.name + "-wal")
                    if wal.exists() and wal.stat().st_size > 0:
                        raise StoreError(
                            f"{wal}: the last run was stopped before it closed the index, and this folder is "
                            "read-only; open it once where it may be written (e.g. `rnnscope status` on a copy)."
                        ) from None
                    db = sqlite3.connect(
                        f"file:{path}?mode=ro&immutable=1", uri=True, isolation_level=None
                    )
                    db.execute("SELECT count(*) FROM networks").fetchone()
                return db
            db = sqlite3.connect(path, isolation_level=None, timeout=30)
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            have = {row[1] for row in db.execute("PRAGMA table_info(networks)")}
            for name, kind in _ADDED_COLUMNS:
                if name not in have:  # a store an earlier version wrote
                    db.execute(f"ALTER TABLE networks ADD COLUMN {name} {kind}")
            return db
        except sqlite3.DatabaseError as err:
            raise self._db_error(err, path) from None

    def _db_error(self, err: sqlite3.Error, path: Path | None = None) -> StoreError:
        path = path or self.root / "index.sqlite"
        text = str(err)
        if "readonly" in text or "read-only" in text or "unable to open" in text:
            return StoreError(
                f"{path}: cannot write ({text}); run where you may write, or give another output folder."
            )
        if "locked" in text:
            return StoreError(f"{path}: locked by another process ({text}); wait for it and rerun.")
        return StoreError(
            f"{path}: not a readable SQLite index ({text}); restore it from a backup or start the study in a new folder."
        )

    @contextmanager
    def _sql(self):
        try:
            yield self._db
        except sqlite3.Error as err:
            raise self._db_error(err) from None

    def close(self) -> None:
        """Release the lock and close the index. A writer folds SQLite's write-ahead log
        back into ``index.sqlite``, so readers of a finished study (even of a read-only
        copy) need no journal files."""
        self.release()
        if not self.readonly:
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self._db.execute("PRAGMA journal_mode=DELETE")
            except sqlite3.Error:
                pass  # another connection still has it open; it stays in WAL mode
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------- lock
    def acquire(self) -> None:
        """Become the folder's one writer (``study.lock`` holds host and pid). A lock left
        by a process that no longer runs is taken over; a live one is an error."""
        path = self.root / "study.lock"
        me = {"host": socket.gethostname(), "pid": os.getpid()}
        for _ in range(3):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, _FILE_MODE)
            except FileExistsError:
                try:
                    holder = json.loads(path.read_text() or "{}")
                except (OSError, json.JSONDecodeError):
                    holder = {}
                if not isinstance(holder, dict):
                    holder = {}  # not a lock rnnscope wrote: take it over
                if holder == me:
                    self._lock_path = path
                    return
                if holder.get("host") == me["host"] and _alive(holder.get("pid")):
                    raise StoreError(
                        f"{self.root}: another rnnscope run (pid {holder['pid']}) is writing this study; wait for it to finish, "
                        f"or stop it (a lock left by a stopped run is taken over)."
                    ) from None
                if holder.get("host") not in (None, me["host"]):
                    raise StoreError(
                        f"{path}: held by a run on {holder['host']} (pid {holder.get('pid')}); if that run is gone, delete {path}."
                    ) from None
                path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            except OSError as err:
                raise _os_error(path, err) from None
            with os.fdopen(fd, "w") as handle:
                json.dump(me, handle)
            self._lock_path = path
            return
        raise StoreError(f"{path}: could not take the lock; rerun.")

    def release(self) -> None:
        if self._lock_path is not None:
            self._lock_path.unlink(missing_ok=True)
            self._lock_path = None

    # ------------------------------------------------------------------ specs
    def spec_json(self) -> str | None:
        """The spec in force (the last one recorded), or ``None`` for a new study."""
        with self._sql() as db:
            row = db.execute("SELECT spec FROM specs ORDER BY version DESC LIMIT 1").fetchone()
        return None if row is None else row[0]

    def spec_history(self) -> pd.DataFrame:
        """Every spec the study ran with: ``version, reason, written, spec``."""
        with self._sql() as db:
            return pd.read_sql_query(
                "SELECT version, reason, written, spec FROM specs ORDER BY version", db
            )

    def record_spec(self, spec_json: str, reason: str) -> None:
        """Append a spec (the earlier ones stay) and write ``spec.json`` for reading."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO specs (spec, reason, written) VALUES (?, ?, ?)",
                (spec_json, reason, time.strftime("%Y-%m-%dT%H:%M:%S%z")),
            )
        self.write_text("spec.json", spec_json)

    # ------------------------------------------------------------------ index
    def add_networks(self, grid: pd.DataFrame) -> pd.DataFrame:
        """Register the grid's networks by their hyperparameters; networks already in
        the store keep their ids, new ones get the next free ids. Returns ``grid`` with
        its ``network`` column set to the store's ids."""
        keys = [network_key(*(getattr(r, c, None) for c in KEY_COLUMNS)) for r in grid.itertuples()]
        with self._transaction() as db:
            known = {k for (k,) in db.execute("SELECT key FROM networks")}
            (top,) = db.execute("SELECT COALESCE(MAX(network), -1) FROM networks").fetchone()
            for key, r in zip(keys, grid.itertuples(), strict=True):
                if key in known:
                    continue
                top += 1
                known.add(key)
                clip, emb = getattr(r, "grad_clip", None), getattr(r, "embedding_size", None)
                db.execute(
                    "INSERT INTO networks (network, key, architecture, hidden_size, activation, learning_rate, l2, seed, "
                    "grad_clip, embedding_size) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (top, key, r.architecture, int(r.hidden_size), None if pd.isna(r.activation) else r.activation,
                     float(r.learning_rate), float(r.l2), int(r.seed),
                     None if is_missing(clip) else float(clip), None if is_missing(emb) else int(emb)),
                )  # fmt: skip
        ids = dict(self._query("SELECT key, network FROM networks"))
        out = grid.copy()
        out["network"] = [int(ids[k]) for k in keys]
        return out

    def drop_networks_except(self, ids: list[int]) -> None:
        """Forget networks that are not in ``ids`` (``--force train`` on a changed grid)."""
        keep = set(int(i) for i in ids)
        gone = [
            int(n) for (n,) in self._query("SELECT network FROM networks") if int(n) not in keep
        ]
        with self._transaction() as db:
            db.executemany("DELETE FROM networks WHERE network=?", [(n,) for n in gone])
        for n in gone:
            for path in (self.params_path(n), self.history_path(n), self.analysis_path(n)):
                path.unlink(missing_ok=True)

    def _query(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._sql() as db:
            return db.execute(sql, args).fetchall()

    def networks(self) -> pd.DataFrame:
        """All networks: hyperparameters, training status and metrics, stage flags."""
        with self._sql() as db:
            frame = pd.read_sql_query("SELECT * FROM networks ORDER BY network", db)
        for name, _ in _ADDED_COLUMNS:
            if name not in frame:  # a read-only store an earlier version wrote
                frame[name] = np.nan
        frame["grad_clip"] = frame["grad_clip"].astype(float)
        frame["embedding_size"] = frame["embedding_size"].astype("Int64")
        frame["trained"] = frame["trained"].astype(bool)
        frame["analyzed"] = frame["analyzed"].astype(bool)
        return frame

    def mark_trained(
        self,
        records: list[dict],
        params: dict[int, dict[str, np.ndarray]],
        history: dict[int, dict[str, np.ndarray]] | None = None,
        *,
        where: tuple[str, int] | None = None,
    ) -> None:
        """Store trained parameters and loss histories (atomic files), then record the
        networks in one transaction. ``where``: ``(host, pid)`` that trained them."""
        for network, arrays in params.items():
            self.save_arrays(self.params_path(network), arrays)
        for network, arrays in (history or {}).items():
            self.save_arrays(self.history_path(network), arrays)
        host, pid = where or (None, None)
        with self._transaction() as db:
            for r in records:
                db.execute(
                    "UPDATE networks SET status=?, steps=?, loss=?, eval_loss=?, accuracy=?, test_accuracy=?, "
                    "wall_time_s=?, trained=1, train_host=?, train_pid=? WHERE network=?",
                    (r["status"], int(r["steps"]), _num(r["loss"]), _num(r["eval_loss"]), _num(r["accuracy"]),
                     _num(r.get("test_accuracy")), float(r["wall_time_s"]), host, pid, int(r["network"])),
                )  # fmt: skip

    def mark_analyzed(
        self,
        network: int,
        arrays: dict[str, np.ndarray],
        counts: dict[str, int],
        *,
        where: tuple[str, int] | None = None,
    ) -> None:
        """Store a network's analysis arrays, then its fixed-point counts
        (``n_fixed, n_stable, n_index1, n_index2, n_index3_plus``)."""
        self.save_arrays(self.analysis_path(network), arrays)
        host, pid = where or (None, None)
        with self._transaction() as db:
            db.execute(
                "UPDATE networks SET analyzed=1, n_fixed=?, n_stable=?, n_index1=?, n_index2=?, n_index3_plus=?, "
                "memory=?, analyze_host=?, analyze_pid=? WHERE network=?",
                (counts["n_fixed"], counts["n_stable"], counts["n_index1"], counts["n_index2"],
                 counts["n_index3_plus"], counts.get("memory"), host, pid, network),
            )  # fmt: skip

    def unmark(self, stage: str, networks: list[int]) -> None:
        """Mark just these networks' ``stage`` (train or analyze) as not done."""
        column = {"train": "trained=0, analyzed=0", "analyze": "analyzed=0"}[stage]
        with self._transaction() as db:
            db.executemany(
                f"UPDATE networks SET {column} WHERE network=?", [(int(n),) for n in networks]
            )

    def reset(self, stage: str) -> None:
        """Forget a stage's results (``--force STAGE``) and those of the stages after it.
        A report built on them is removed, so it can never look current."""
        later = STAGE_ORDER[STAGE_ORDER.index(stage) :]
        with self._transaction() as db:
            if "train" in later:
                db.execute("UPDATE networks SET trained=0, status=NULL")
            if "analyze" in later:
                db.execute(
                    "UPDATE networks SET analyzed=0, n_fixed=NULL, n_stable=NULL, n_index1=NULL, n_index2=NULL, "
                    "n_index3_plus=NULL, memory=NULL"
                )
            if "compare" in later:
                db.execute("DELETE FROM blocks")
            db.executemany("DELETE FROM stages WHERE name=?", [(s,) for s in (*later, "report")])
        if "compare" in later:  # matrices, embeddings, verdict and representations:
            # a reader must never see a previous spec's (or network set's) comparisons
            shutil.rmtree(self.root / "compare", ignore_errors=True)
        (self.root / "report" / "index.html").unlink(missing_ok=True)
        for folder in ("figures", "networks"):  # a rebuilt report draws them anew
            shutil.rmtree(self.root / "report" / folder, ignore_errors=True)

    def stage_done(self, name: str) -> dict | None:
        row = self._query("SELECT info FROM stages WHERE name=?", (name,))
        return None if not row else json.loads(row[0][0])

    def finish_stage(self, name: str, info: dict) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO stages (name, info) VALUES (?, ?)", (name, json.dumps(info))
            )

    # ----------------------------------------------------------------- blocks
    def blocks_done(self, name: str) -> set[tuple[int, int]]:
        return {
            (int(r), int(c))
            for r, c in self._query("SELECT row, col FROM blocks WHERE name=?", (name,))
        }

    def forget_blocks(self, name: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM blocks WHERE name=?", (name,))

    def mark_block(
        self, name: str, row: int, col: int, where: tuple[str, int] | None = None
    ) -> None:
        host, pid = where or (None, None)
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO blocks VALUES (?, ?, ?, ?, ?)", (name, row, col, host, pid)
            )

    def blocks(self) -> pd.DataFrame:
        """Every committed distance block: ``name, row, col, host, pid``."""
        with self._sql() as db:
            return pd.read_sql_query("SELECT * FROM blocks ORDER BY name, row, col", db)

    # ----------------------------------------------------------------- arrays
    def params_path(self, network: int) -> Path:
        return self.root / "params" / f"network-{network:05d}.npz"

    def history_path(self, network: int) -> Path:
        return self.root / "history" / f"network-{network:05d}.npz"

    def analysis_path(self, network: int) -> Path:
        return self.root / "analysis" / f"network-{network:05d}.npz"

    def compare_path(self, name: str, suffix: str = ".npz") -> Path:
        return self.root / "compare" / f"{name}{suffix}"

    def save_arrays(self, path: Path, arrays: dict[str, np.ndarray]) -> None:
        """Write ``arrays`` to ``path`` compressed and atomically (temporary file, then rename)."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".npz")
        except OSError as err:
            raise _os_error(path, err) from None
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez_compressed(handle, **{k: np.asarray(v) for k, v in arrays.items()})
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, _FILE_MODE)
            os.replace(tmp, path)
        except OSError as err:
            Path(tmp).unlink(missing_ok=True)
            raise _os_error(path, err) from None
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def load_arrays(self, path: Path, keys: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
        """Read an array file (``keys``: only these); a missing, truncated or corrupted
        file, or one that holds a pickled object, raises :class:`StoreError` naming it."""
        if not path.exists():
            raise StoreError(
                f"{path}: missing; rerun the stage that writes it (`rnnscope run STUDY`)."
            )
        try:
            with np.load(path, allow_pickle=False) as data:
                return {
                    k: data[k] for k in (data.files if keys is None else keys) if k in data.files
                }
        except ValueError as err:
            if "pickle" in str(err).lower():
                raise StoreError(
                    f"{path}: holds a pickled object; refused (stores never run code on load)."
                ) from None
            raise StoreError(
                f"{path}: corrupted ({err}); rerun the stage that writes it (`rnnscope run STUDY`)."
            ) from None
        except (zipfile.BadZipFile, OSError, EOFError, KeyError) as err:
            raise StoreError(
                f"{path}: truncated or corrupted ({err}); rerun the stage that writes it (`rnnscope run STUDY`)."
            ) from None

    def readable(self, path: Path) -> bool:
        """Whether an array file exists and every member passes its CRC check."""
        try:
            with zipfile.ZipFile(path) as z:
                return z.testzip() is None and all(n.endswith(".npy") for n in z.namelist())
        except (OSError, zipfile.BadZipFile, EOFError):
            return False

    # ------------------------------------------------------------------ utils
    def _write_text(self, path: Path, text: str) -> None:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
            os.chmod(tmp, _FILE_MODE)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def write_text(self, relative: str, text: str) -> Path:
        path = self.root / relative
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._write_text(path, text)
        except OSError as err:
            raise _os_error(path, err) from None
        return path

    @contextmanager
    def _transaction(self):
        if self.readonly:
            raise StoreError(f"{self.root}: opened read-only; nothing may be written.")
        with self._sql() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")


def _alive(pid) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _num(v) -> float | None:
    if v is None:
        return None
    v = float(v)
    return None if v != v else v
