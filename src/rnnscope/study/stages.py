"""The study pipeline: train → analyze → compare (then the summary), resumable.

Every stage sends its units of work to the executor it is given and only schedules and
commits: training units are chunks of a group of networks that share architecture, size
and activation; analysis units are single networks; comparison units are per-network
representations (computed once) and blocks of the distance matrices. A unit carries ids,
parameters (tens of KB) and small arrays, never the population's states: workers rebuild
a network's probe states from its parameters. Each unit's result is committed as it
arrives, so a run killed at any moment loses at most the units in flight.

The HTML report sits above this layer (:mod:`rnnscope.report`), built from the read API.
"""

from __future__ import annotations

import itertools
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from .. import compare
from .._progress import Meter
from ..train import make_grid, sample_grid
from ..train._loop import GROUP_KEYS, group_frame
from .executors import InProcess
from .families import family_of, memory_label
from .fingerprint import describe, spec_change
from .spec import StudySpec, stored_spec
from .store import Store, StoreError
from .topology import PREFIX as SIGNATURES
from .topology import signature_block, signature_inputs

#: the command line's stages; ``report`` is built by :mod:`rnnscope.report`
STAGES = ("train", "analyze", "compare", "report")
STUDY_STAGES = ("train", "analyze", "compare")

Log = Callable[[str], None]


class SpecMismatch(StoreError):
    """The study folder holds results of a different spec."""


def _quiet(line: str) -> None:
    pass


# ------------------------------------------------------------------- open a study
def open_study(
    spec: StudySpec, root: str | Path, *, force: str | None = None, log: Log = _quiet
) -> Store:
    """Open (or create) the store for ``spec`` as its one writer.

    Same spec → resume. The grid only grew → extend (new networks are trained,
    comparisons redone). Anything else → :class:`SpecMismatch` naming the changed keys,
    unless ``force`` names the first stage they affect (or an earlier one)."""
    if force is not None and force not in STAGES:
        raise ValueError(f"--force {force!r}: choose one of {', '.join(STAGES)}.")
    store = Store(root, create=True)
    try:
        store.acquire()
        stored = store.spec_json()
        spec_json = spec.model_dump_json(indent=2)
        if stored is None:
            store.record_spec(spec_json, "created")
        else:
            try:
                old = stored_spec(stored)
            except ValueError as err:
                raise StoreError(
                    f"{store.root}/index.sqlite: its spec no longer validates ({err}); start a new folder."
                ) from None
            change = spec_change(old, spec)
            if change.changed and not _has_results(store, change.stage):
                # nothing committed yet by the stages the change affects: nothing to mix,
                # but a partial stage's caches (e.g. compare's representations) are dropped
                store.record_spec(
                    spec_json, f"changed before {change.stage} ran: {', '.join(change.changed)}"
                )
                store.reset(change.stage)
            elif change.changed:
                order = ("train", "analyze", "compare", "report")
                if force is None or order.index(force) > order.index(change.stage):
                    raise SpecMismatch(
                        f"{store.root} holds results of a different study ({describe(change, old, spec)}); rerun with "
                        f"`--force {change.stage}` to recompute from {change.stage} on, or give another output folder."
                    )
                store.record_spec(spec_json, f"--force {force}: {', '.join(change.changed)}")
                log(f"spec changed ({', '.join(change.changed)}): recomputing from {force} on")
            elif change.grown:
                store.record_spec(spec_json, f"grid grown: {', '.join(change.grown)}")
                store.reset("compare")
                log(f"grid grown ({', '.join(change.grown)}): training the new networks")
            elif stored != spec_json:  # how it runs changed (name, output, [run]): keep it
                store.write_text("spec.json", spec_json)
        if force is not None and force != "report":
            store.reset(force)
        return store
    except BaseException:
        store.close()
        raise


def _has_results(store: Store, stage: str) -> bool:
    """Whether ``stage`` or a later one has committed anything."""
    frame = store.networks()
    done = {
        "train": bool(frame["trained"].any()),
        "analyze": bool(frame["analyzed"].any()),
        "compare": store.stage_done("compare") is not None or not store.blocks().empty,
    }
    return any(done[s] for s in STUDY_STAGES[STUDY_STAGES.index(stage) :])


def run_study(
    spec: StudySpec,
    root: str | Path,
    *,
    stages: tuple[str, ...] = STUDY_STAGES,
    force: str | None = None,
    executor=None,
    progress: bool = False,
    log: Log = _quiet,
) -> Store:
    """Run (or resume) ``stages`` of a study whose store lives in ``root``, then write
    its text summary (``report/summary.txt``). Returns the open store, still holding
    the folder's lock: close it when done.

    ``executor``: where units of work run (default :class:`InProcess`; see
    :mod:`rnnscope.study.executors`)."""
    for stage in stages:
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; choose one of {', '.join(STAGES)}.")
    _check_device(spec.run.device)
    store = open_study(spec, root, force=force, log=log)
    executor = executor or InProcess()
    try:
        for stage in STUDY_STAGES:
            if stage in stages:
                started = time.perf_counter()
                {"train": train_stage, "analyze": analyze_stage, "compare": compare_stage}[stage](
                    spec, store, executor=executor, progress=progress, log=log
                )
                log(f"{stage}: {time.perf_counter() - started:.1f} s")
        if not store.stage_done("summary"):
            from .summary import write_summary

            write_summary(store)
    except BaseException:
        store.close()
        raise
    return store


def _check_device(name: str) -> None:
    """A device this process can use, before anything runs (units then use it as is)."""
    import torch

    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"[run] device {name!r} is not a torch device; use 'cpu', 'cuda' or 'cuda:1'."
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"[run] device is {name!r} but this torch has no usable CUDA device; use --device cpu, or run "
            "where a GPU and a CUDA build of torch are."
        )


def _windows(items: Iterable, size: int):
    it = iter(items)
    while window := list(itertools.islice(it, size)):
        yield window


def _run(executor, fn, tagged: Iterable[tuple[object, tuple]], window: int | None = None):
    """``executor.run(fn, …)`` over ``(tag, args)`` pairs a window at a time, so the
    driver never holds (or ships) more than a few units' inputs at once. Yields
    ``(tag, done)`` as units finish."""
    window = window or max(4, 4 * int(getattr(executor, "workers", 1) or 1))
    for chunk in _windows(tagged, window):
        for done in executor.run(fn, [args for _, args in chunk]):
            yield chunk[done.index][0], done


def _grid(spec: StudySpec) -> pd.DataFrame:
    g = spec.grid
    grid = make_grid(
        g.architectures,
        g.hidden_sizes,
        g.activations,
        g.learning_rates,
        g.l2,
        list(range(g.seeds)),
        grad_clips=g.grad_clips,
        embedding_sizes=g.embedding_sizes,
    )
    return grid if g.search is None else sample_grid(grid, g.search, g.search_seed)


def _records(frame: pd.DataFrame) -> list[dict]:
    return [
        {k: (None if pd.isna(v) else v) for k, v in r.items()} for r in frame.to_dict("records")
    ]


# --------------------------------------------------------------------------- train
def train_unit(spec_json: str, rows: list[dict], device: str = "cpu"):
    """Unit of work: train a chunk of one group; returns records, parameters, curves."""
    spec = StudySpec.model_validate_json(spec_json)
    result = family_of(spec.task.name).train(spec, pd.DataFrame(rows), device=device)
    params = {}
    for group in result.groups:
        for i, network in enumerate(group.ids):
            params[network] = {
                k: v[i : i + 1].detach().cpu().numpy() for k, v in group.params.items()
            }
    history = {
        int(network): {c: h[c].to_numpy(dtype=float) for c in ("step", "loss", "accuracy")}
        for network, h in result.history.groupby("network")
    }
    return result.networks.to_dict("records"), params, history


def _verify(
    store: Store, frame: pd.DataFrame, column: str, path_of, stage: str, log: Log
) -> pd.DataFrame:
    """Networks marked done whose file is missing or corrupt become not done."""
    bad = [
        int(n) for n in frame.loc[frame[column], "network"] if not store.readable(path_of(int(n)))
    ]
    if bad:
        store.unmark(stage, bad)
        log(
            f"{stage}: {len(bad)} network(s) had a missing or corrupt file ({', '.join(map(str, bad[:10]))}); redoing them"
        )
        frame = store.networks()
    return frame


def train_stage(
    spec: StudySpec, store: Store, *, executor=None, progress=False, log: Log = _quiet
) -> None:
    executor = executor or InProcess()
    family = family_of(spec.task.name)
    grid = store.add_networks(_grid(spec))
    # networks of an earlier grid (a change accepted with --force or before training)
    store.drop_networks_except(grid["network"].tolist())
    frame = _verify(store, store.networks(), "trained", store.params_path, "train", log)
    trained = set(frame.loc[frame["trained"], "network"])
    todo = grid[~grid["network"].isin(trained)]
    chunk = spec.run.train_chunk
    units = [
        rows[i : i + chunk]
        for _, group in group_frame(todo).groupby(GROUP_KEYS, sort=False, dropna=False)
        for rows in [_records(group)]
        for i in range(0, len(rows), chunk)
    ]
    spec_json = spec.model_dump_json()
    bar = Meter(len(todo), "train", enabled=progress)
    # a network trains the same whichever chunk it is in, so chunks commit one by one
    for _, done in _run(
        executor, train_unit, ((None, (spec_json, rows, spec.run.device)) for rows in units)
    ):
        records, params, history = done.value
        store.mark_trained(records, params, history, where=(done.host, done.pid))
        bar.advance(len(records))
    bar.close()
    if units:
        store.reset("compare")  # new networks: comparisons and summary are out of date
    info = {"networks": len(grid)}
    setup = family.setup(spec, store)
    if "baseline_accuracy" in setup:
        info["bag_of_words_test_accuracy"] = setup["baseline_accuracy"]
        log(f"bag-of-words baseline: test accuracy {setup['baseline_accuracy']:.4f}")
    store.finish_stage("train", info)


# ------------------------------------------------------------------------- analyze
def _counts(arrays: dict) -> dict[str, int]:
    """Fixed points by number of unstable directions (``|λ| > 1``)."""
    fixed = np.asarray(arrays["fixed"], dtype=bool)  # slow points can look stable too
    mags = np.hypot(arrays["eigenvalues_real"], arrays["eigenvalues_imag"])[fixed]
    index = (mags > 1).sum(axis=1) if len(mags) else np.zeros(0, int)
    n = int(fixed.sum())
    return {
        "n_fixed": int(n),
        "n_stable": int((index == 0).sum()) if len(mags) else 0,
        "n_index1": int((index == 1).sum()),
        "n_index2": int((index == 2).sum()),
        "n_index3_plus": int((index >= 3).sum()),
        "memory": memory_label(arrays),
    }


def analyze_unit(spec_json: str, row: dict, params: dict, setup: dict, device: str = "cpu"):
    """Unit of work: the analysis arrays of one network and its fixed-point counts."""
    spec = StudySpec.model_validate_json(spec_json)
    arrays = family_of(spec.task.name).analyze(spec, row, params, setup, device=device)
    return int(row["network"]), arrays, _counts(arrays)


def analyze_stage(
    spec: StudySpec, store: Store, *, executor=None, progress=False, log: Log = _quiet
) -> None:
    executor = executor or InProcess()
    family = family_of(spec.task.name)
    frame = store.networks()
    if not frame["trained"].all():
        raise RuntimeError(
            "not every network is trained yet; run the train stage first (`rnnscope run STUDY`)."
        )
    frame = _verify(store, frame, "analyzed", store.analysis_path, "analyze", log)
    todo = frame[~frame["analyzed"] & (frame["status"] != "diverged")]
    unreadable = [int(n) for n in todo["network"] if not store.readable(store.params_path(int(n)))]
    if unreadable:
        store.unmark("train", unreadable)
        todo = todo[~todo["network"].isin(unreadable)]
    setup = family.setup(spec, store)
    spec_json = spec.model_dump_json()
    units = (
        (
            None,
            (
                spec_json,
                row,
                store.load_arrays(store.params_path(int(row["network"]))),
                setup,
                spec.run.device,
            ),
        )
        for row in _records(todo)
    )
    bar = Meter(len(todo), "analyze", enabled=progress)
    for _, done in _run(executor, analyze_unit, units):
        network, arrays, counts = done.value
        store.mark_analyzed(network, arrays, counts, where=(done.host, done.pid))
        bar.advance(1)
    bar.close()
    if len(todo):
        store.reset("compare")
    if unreadable:
        raise StoreError(
            f"{store.root}: the parameters of network(s) {', '.join(map(str, unreadable[:10]))} are missing or corrupt; "
            "they are marked untrained — rerun `rnnscope run STUDY` to retrain just them."
        )
    store.finish_stage("analyze", {"networks": len(frame)})


# ------------------------------------------------------------------------- compare
def count_unit(spec_json: str, rows: list[dict], params: list[dict], device: str = "cpu"):
    """Unit of work: per network, ``(network, principal components for 90% of its
    probe states' variance, units)`` — what ``svcca_keep = "auto"`` is derived from."""
    spec = StudySpec.model_validate_json(spec_json)
    family = family_of(spec.task.name)
    out = []
    for row, p in zip(rows, params, strict=True):
        states = family.probe_states(spec, row, p, device=device)
        matrix = states.reshape(-1, states.shape[-1])
        alive = bool(np.isfinite(matrix).all()) and float(np.ptp(matrix, axis=0).max()) > 0
        # a dead or non-finite network is left out of the comparison: it casts no count
        count = compare.principal_count(matrix, 0.9) if alive else -1
        out.append((int(row["network"]), count, matrix.shape[1]))
    return out


def prepare_unit(
    spec_json: str,
    rows: list[dict],
    params: list[dict],
    metrics: list[str],
    device: str = "cpu",
    options: dict[str, dict] | None = None,
):
    """Unit of work: each network's probe states (rebuilt from its parameters) reduced
    to one representation per metric — computed once per network. Geometry metrics
    take the states as a matrix ``[samples, units]``; DSA takes the trajectories
    ``[trials, time, units]`` with the probe inputs (input-aware DMD). ``options``:
    per metric, its options (e.g. ``{"svcca": {"keep": 4}}``)."""
    spec = StudySpec.model_validate_json(spec_json)
    family = family_of(spec.task.name)
    inputs = family.probe_inputs(spec) if "dsa" in metrics else None
    options = options or {}
    out = []
    for row, p in zip(rows, params, strict=True):
        states = family.probe_states(spec, row, p, device=device)
        matrix = states.reshape(-1, states.shape[-1]).astype(np.float64)
        try:
            prepared = {
                m: compare.prepare(m, states.astype(np.float64), inputs=inputs, **DSA_OPTIONS)
                if m == "dsa"
                else compare.prepare(m, matrix, **options.get(m, {}))
                for m in metrics
            }
        except ValueError as err:  # a dead (constant) network: no metric can place it
            prepared = str(err)
        out.append((int(row["network"]), prepared))
    return out


#: DSA as a study runs it (rnnscope.compare.dsa's pinned defaults otherwise)
DSA_OPTIONS: dict = {}


def _load_prepared(paths_or_arrays):
    """A block's inputs: arrays shipped by the driver, or paths on a shared filesystem."""
    out = []
    for item in paths_or_arrays:
        if isinstance(item, str | Path):
            with np.load(item, allow_pickle=False) as data:
                item = {k: data[k] for k in data.files}
        out.append(item)
    return out


def block_unit(metric: str, a: list, b: list):
    """Unit of work: one block of a distance matrix from prepared representations."""
    if metric in SIGNATURES:
        return signature_block(metric, _load_prepared(a), _load_prepared(b))
    return compare.block(metric, _load_prepared(a), _load_prepared(b))


def _prepared_path(store: Store, metric: str, network: int) -> Path:
    return store.root / "compare" / "prepared" / metric / f"network-{network:05d}.npz"


def compare_stage(
    spec: StudySpec, store: Store, *, executor=None, progress=False, log: Log = _quiet
) -> None:
    if store.stage_done("compare"):
        return
    executor = executor or InProcess()
    frame = store.networks()
    live = frame[frame["status"] != "diverged"]
    if not live["analyzed"].all():
        raise RuntimeError(
            "not every network is analyzed yet; run the analyze stage first (`rnnscope run STUDY`)."
        )
    rows = live.reset_index(drop=True)
    if len(rows) < 2:
        reason = (
            f"{len(rows)} of {len(frame)} networks trained without diverging: nothing to compare"
        )
        log(f"compare: skipped ({reason})")
        store.finish_stage("compare", {"skipped": reason, "silhouette_by_architecture": {}})
        return
    ids = rows["network"].astype(int).to_numpy()
    metrics = list(spec.compare.geometry) + (["dsa"] if spec.compare.dsa else [])
    names = metrics + [n for n in SIGNATURES if getattr(spec.compare, n)]
    shared = bool(getattr(executor, "shared_filesystem", True))
    spec_json = spec.model_dump_json()

    # 1. per-network representations, once each (cached until the stage finishes)
    options, keep_info = {}, None
    if "svcca" in metrics:
        keep_info = _svcca_keep(spec, store, rows, ids, executor, progress)
        if keep_info["keep"] is not None:
            options["svcca"] = {"keep": keep_info["keep"]}
        log(f"compare svcca: {keep_info['text']}")
    todo = [
        i
        for i, n in enumerate(ids)
        if not all(_prepared_path(store, m, n).exists() for m in metrics)
    ]
    block = spec.run.compare_block
    units = (
        (None, (spec_json, records, params, metrics, spec.run.device, options))
        for records, params in _network_chunks(store, rows, ids, todo)
    )
    bar = Meter(len(todo), "compare: representations", enabled=progress)
    excluded = {}
    for _, done in _run(executor, prepare_unit, units):
        for network, prepared in done.value:
            if isinstance(prepared, str):
                excluded[network] = prepared
            else:
                for m, arrays in prepared.items():
                    store.save_arrays(_prepared_path(store, m, network), arrays)
            bar.advance(1)
    bar.close()
    if excluded:
        for network, reason in excluded.items():
            log(f"compare: network {network} left out ({reason})")
        keep = ~rows["network"].isin(list(excluded)).to_numpy()
        rows, ids = rows[keep].reset_index(drop=True), ids[keep]
        if len(rows) < 2:
            store.finish_stage("compare", {"skipped": f"{len(rows)} comparable networks", "excluded": excluded,
                                           "silhouette_by_architecture": {}})  # fmt: skip
            return
    for name in names:  # the scaffold signatures were computed by the analysis
        if name in SIGNATURES:
            for n in ids:
                path = _prepared_path(store, name, int(n))
                if not path.exists():
                    store.save_arrays(path, signature_inputs(store, name, int(n)))

    # 2. blocks of every matrix, each committed as it arrives
    starts = list(range(0, len(ids), block))
    pairs = [(i, j) for i in starts for j in starts if j >= i]
    labels = rows["architecture"].to_numpy()
    scores, tables = {}, []
    for name in names:
        matrix = _distance_file(store, name, ids)
        done_blocks = store.blocks_done(name)
        todo_blocks = [(i, j) for i, j in pairs if (i, j) not in done_blocks]

        def side(s, name=name):
            paths = [_prepared_path(store, name, int(n)) for n in ids[s : s + block]]
            return [str(p) for p in paths] if shared else _load_prepared(paths)

        bar = Meter(len(todo_blocks), f"compare {name}", unit="blocks", enabled=progress)
        units = (((i, j), (name, side(i), side(j))) for i, j in todo_blocks)
        for (i, j), done in _run(executor, block_unit, units):
            d = np.asarray(done.value, dtype=np.float32)
            if i == j:  # a diagonal block: symmetric in itself, so the whole matrix is
                d = 0.5 * (d + d.T)
            matrix[i : i + d.shape[0], j : j + d.shape[1]] = d
            matrix[j : j + d.shape[1], i : i + d.shape[0]] = d.T
            matrix.flush()
            store.mark_block(name, i, j, where=(done.host, done.pid))
            bar.advance(1)
        bar.close()
        np.fill_diagonal(matrix, 0.0)  # float32 bases give d(i, i) ~ 1e-7, not 0
        matrix.flush()
        d = np.asarray(matrix, dtype=np.float64)  # symmetric block by block: one copy
        del matrix  # its pages leave the process: the float64 copy is the one N² array held
        embedding = compare.mds(d) if len(d) > 2 else np.zeros((len(d), 2))
        store.save_arrays(store.compare_path(name), {"networks": ids, "embedding": embedding})
        groups = len(set(labels.tolist()))
        scores[name] = float(compare.silhouette(d, labels)) if 2 <= groups < len(labels) else None
        tables.append(
            compare.verdict_table({name: d}, rows, permutations=spec.compare.permutations, seed=0)
        )
        del d
        log(f"compare {name}: silhouette by architecture {_fmt(scores[name])}")
    table = pd.concat(tables, ignore_index=True)
    store.write_text("compare/verdict.csv", table.to_csv(index=False))
    sentences = {
        g: compare.verdict_sentence(table, grouping=g) for g in dict.fromkeys(table["grouping"])
    }
    info = {"silhouette_by_architecture": scores, "networks": len(ids), "verdict": sentences,
            "excluded": {str(k): v for k, v in excluded.items()}}  # fmt: skip
    if keep_info is not None:
        info["svcca_keep"] = {k: v for k, v in keep_info.items() if k != "text"}
    if spec.compare.recording:
        info["recording"] = _rank_against_recording(spec, store, rows, log)
    shutil.rmtree(store.root / "compare" / "prepared", ignore_errors=True)
    store.finish_stage("compare", info)


def _network_chunks(store: Store, rows, ids, positions, size: int = 8):
    """``(records, parameters)`` of the networks at ``positions`` of ``rows``/``ids``,
    ``size`` at a time: the inputs of a per-network unit of work (loaded lazily)."""
    positions = list(positions)
    for s in range(0, len(positions), size):
        chunk = positions[s : s + size]
        params = [store.load_arrays(store.params_path(int(ids[i]))) for i in chunk]
        yield _records(rows.iloc[chunk]), params


def _svcca_keep(spec: StudySpec, store: Store, rows, ids, executor, progress: bool) -> dict:
    """The one SVCCA ``keep`` of the study (``[compare] svcca_keep``). For ``"auto"``
    the networks' 90%-variance counts are computed on the executor and kept in
    ``compare/prepared/`` until the stage finishes (a resumed compare reuses them)."""
    rule = spec.compare.svcca_keep
    if rule == "variance":
        return {
            "rule": rule,
            "keep": None,
            "text": "each network keeps its own 99%-variance components",
        }
    if isinstance(rule, int):
        smallest = int(rows["hidden_size"].min())  # the probe states are h: hidden units
        keep = min(rule, smallest)
        said = (
            "" if keep == rule else f"; {rule} clamped to the smallest network's {smallest} units"
        )
        text = f"keep = {keep} components for every pair (set in the spec{said})"
        return {"rule": rule, "keep": keep, "text": text}
    path = store.root / "compare" / "prepared" / "svcca_counts.npz"  # reset with the cache
    counts = None
    if path.exists():
        cached = store.load_arrays(path)
        if np.array_equal(cached["networks"], ids):
            counts, units = cached["counts"], cached["units"]
    if counts is None:
        spec_json = spec.model_dump_json()
        units_of_work = (
            (None, (spec_json, records, params, spec.run.device))
            for records, params in _network_chunks(store, rows, ids, range(len(ids)))
        )
        found: dict[int, tuple[int, int]] = {}
        bar = Meter(len(ids), "compare svcca: component counts", enabled=progress)
        for _, done in _run(executor, count_unit, units_of_work):
            for network, count, width in done.value:
                found[network] = (count, width)
            bar.advance(len(done.value))
        bar.close()
        counts = np.array([found[int(n)][0] for n in ids])
        units = np.array([found[int(n)][1] for n in ids])
        store.save_arrays(path, {"networks": ids, "counts": counts, "units": units})
    counts, units = counts[counts >= 0], units[counts >= 0]
    if not len(counts):
        return {
            "rule": rule,
            "keep": None,
            "text": "no network has varying states: nothing to count",
        }
    keep = compare.keep_from_counts(counts, int(units.min()))
    text = (
        f"keep = {keep} components for every pair (median of the networks' 90%-variance counts; "
        f"range {int(counts.min())}–{int(counts.max())})"
    )
    return {"rule": rule, "keep": keep, "count_min": int(counts.min()),
            "count_median": float(np.median(counts)), "count_max": int(counts.max()), "text": text}  # fmt: skip


def _distance_file(store: Store, name: str, ids: np.ndarray) -> np.memmap:
    """The ``[N, N]`` float32 distance matrix on disk, filled block by block. A file
    for another set of networks is started again."""
    path = store.compare_path(name, ".distances.npy")
    ids_path = store.compare_path(name, ".networks.npy")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and ids_path.exists():
        try:
            if np.array_equal(np.load(ids_path), ids):
                return np.lib.format.open_memmap(path, mode="r+")
        except (ValueError, OSError):
            pass
    store.forget_blocks(name)
    np.save(ids_path, ids)
    return np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(len(ids), len(ids)))


def _rank_against_recording(spec: StudySpec, store: Store, rows: pd.DataFrame, log: Log) -> str:
    from ..interop.recordings import load_recording

    path = Path(spec.compare.recording)  # load_spec made it relative to the study file
    recording = load_recording(path)
    family = family_of(spec.task.name)
    for name in spec.compare.geometry:
        distances = []
        for s in range(0, len(rows), 64):  # blocks of networks: memory bounded by the block
            chunk = _records(rows.iloc[s : s + 64])
            states = [
                family.probe_states(
                    spec, r, store.load_arrays(store.params_path(int(r["network"])))
                )
                for r in chunk
            ]
            states = [x.reshape(-1, x.shape[-1]).astype(np.float64) for x in states]
            distances.append(compare.cross(name, states, [recording])[:, 0])
        order = np.argsort(np.concatenate(distances), kind="stable")
        store.save_arrays(
            store.compare_path(f"recording_{name}"),
            {
                "networks": rows["network"].to_numpy()[order],
                "distances": np.concatenate(distances)[order],
            },
        )
    log(f"ranked {len(rows)} networks against {path}")
    return str(path)


def _fmt(score) -> str:
    return "n/a" if score is None else f"{score:.3f}"


def status(store: Store) -> pd.DataFrame:
    """What is done: counts per stage."""
    frame = store.networks()
    live = int((frame["status"] != "diverged").sum())
    rows = [
        ("train", int(frame["trained"].sum()), len(frame), store.stage_done("train") is not None),
        ("analyze", int(frame["analyzed"].sum()), live, store.stage_done("analyze") is not None),
        ("compare", int(store.stage_done("compare") is not None), 1, store.stage_done("compare") is not None),
        ("report", int(store.stage_done("report") is not None), 1, store.stage_done("report") is not None),
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=["stage", "done", "of", "finished"])
