"""Fixed and slow points of a step function, for one network or a whole population.

The search finds zeros of ``G(h) = F(h, x*) − h`` from every candidate at once, in
phases given as small option objects (defaults in brackets):

1. ``warmup`` [off]: :class:`Adam` on ``q``, moving candidates into other basins.
2. ``solver`` [:class:`Newton`]: Newton / Levenberg–Marquardt in the candidates' dtype.
3. merge: converged candidates within ``tol_unique · scale`` are merged (lowest ``q``).
4. ``polish`` [:class:`Polish`]: Newton again in float64 to round-off.
5. ``saddles`` [:class:`BetweenAttractors`]: seeds on the basin boundaries between
   neighbouring stable points found so far, run through phases 2–4 as well: the
   index-1 saddles that join attractors, not only those near visited states.
6. selection: reject non-finite (``failed``), ``outside`` the region states can be in
   (the cell's state bound, ``state_bound=``, else a trust region around the
   candidates), ``unconverged`` (``q > tol_slow``); deduplicate at ``tol_unique ·
   scale``; linearize; ``certify`` [:class:`Certify`]: ``fixed`` only with a
   certificate (round-off residual in float64, Newton step well defined), ``flat``
   points (``F ≈ identity`` in every direction) rejected; ``outliers``
   [:class:`Outliers`].

``scale`` is each network's RMS candidate distance from the candidates' centroid, so
tolerances follow the size of the visited region rather than absolute units.

Convention: ``q`` is half the squared norm of the step, ``½‖F(h) − h‖²``, as in
FixedPointFinder (the sentiment paper's ``q`` is this divided by ``S/2``).
"""

from __future__ import annotations

import time

from ._phases import Problem, Rows, dedupe, search, seeds_between, select
from ._phases import progress as _progress
from ._result import FixedPoints
from ._select import Certify, Outliers
from ._solvers import Adam, Newton, Polish
from ._steps import Step
from .saddles import BetweenAttractors

_SHORTHANDS = {
    "max_iters": ("solver", "max_iters"),
    "coarse_tol": ("solver", "tol"),
    "polish_iters": ("polish", "max_iters"),
    "dtype": ("polish", "dtype"),
    "adam_iters": ("warmup", "iters"),
    "lr": ("warmup", "lr"),
    "adam_tol": ("warmup", "tol"),
    "stall_window": ("warmup", "stall_window"),
}


def find_fixed_points(
    step: Step,
    initial_states,
    inputs=None,
    *,
    tol_q: float = 1e-12,
    tol_slow: float = 1e-6,
    tol_unique: float = 1e-3,
    outliers: str | Outliers | None = "centroid",
    outlier_distance: float | None = None,
    solver: Newton | None = None,
    warmup: Adam | None = None,
    polish: Polish | None = None,
    saddles: BetweenAttractors | str | None = "default",
    certify: Certify | None = None,
    state_bound: float | str | None = "auto",
    trust_region="auto",
    trust_margin: float = 1.0,
    linearize_points: bool = True,
    progress: bool = False,
    **shorthands,
) -> FixedPoints:
    """Find fixed and slow points of ``h' = F(h, x*)`` from candidate states.

    Args:
        step: ``F(h, x)`` (or ``F(h)`` for an autonomous map), batched over leading
            axes; for a population the first axis of ``h`` indexes networks.
            ``rnnscope`` cells give one with ``cell.bind(params)``.
        initial_states: candidates ``[K, S]``, or ``[N, K, S]`` for a population (any
            number of leading network axes before ``K``); tensors, arrays or lists,
            coerced to the step's dtype and device.
        inputs: the constant input ``x*``, broadcastable to ``[..., K, I]`` (``[I]``
            for one shared input; ``[N, 1, I]`` per network). Default zeros; ``None``
            for a step without ``input_size`` means an autonomous map.
        tol_q: a certified point is ``fixed`` when ``q ≤ tol_q`` (default 1e-12).
        tol_slow: other points with ``q ≤ tol_slow`` are kept as ``slow``.
        tol_unique: merge/deduplication distance relative to ``scale`` (default 1e-3).
        outliers: ``"centroid"`` (default), ``"nearest"``, ``None`` or an
            :class:`Outliers`; ``outlier_distance`` its threshold.
        solver, warmup, polish, saddles, certify: the phases (module docs);
            ``saddles=None`` searches from the candidates only.
        state_bound: states live in ``|h| ≤ bound``; ``"auto"`` takes
            ``step.state_bound`` (rnnscope cells, wrapped torch cells).
        trust_region: where no bound is known: ``"auto"`` (the candidates' bounding
            box widened by ``trust_margin`` × its largest side on every side), visited
            states ``[..., T, S]`` to take the box from, or ``None`` (no region).
        linearize_points: keep Jacobians and eigenvalues of the points.
        progress: show the search's progress (rich, on stderr).
        **shorthands: ``max_iters``, ``coarse_tol`` (of ``solver``), ``polish_iters``,
            ``dtype`` (of ``polish``), ``adam_iters``, ``lr``, ``adam_tol``,
            ``stall_window`` (of ``warmup``).

    Returns:
        :class:`FixedPoints`, with the certificate's numbers in ``to_dataframe()``.
    """
    started = time.perf_counter()
    solver, warmup, polish = _with_shorthands(shorthands, solver, warmup, polish)
    if saddles == "default":
        saddles = BetweenAttractors()
    if not isinstance(outliers, Outliers):
        outliers = Outliers(outliers, outlier_distance)
    problem = Problem.build(
        step, initial_states, inputs,
        tol_q=tol_q, tol_slow=tol_slow, tol_unique=tol_unique, solver=solver,
        polish=polish, certify=certify or Certify(), state_bound=state_bound,
        trust_region=trust_region, trust_margin=trust_margin,
    )  # fmt: skip
    timings: dict[str, float] = {"setup": time.perf_counter() - started}
    h, x = problem.h0, problem.x0
    with _progress(progress, problem.n_net * problem.n_cand) as report:
        if warmup is not None and warmup.iters > 0:
            clock = time.perf_counter()
            h = warmup.run(problem.system.run, h, x, problem.broken)
            timings["adam"] = time.perf_counter() - clock
        rows = search(problem, h, x, ~problem.broken, timings, report)
        if saddles is not None:
            clock = time.perf_counter()
            seeds, seed_x, ok = seeds_between(problem, dedupe(problem, rows), saddles)
            timings["saddle_seeds"] = time.perf_counter() - clock
            if seeds is not None:
                more = search(problem, seeds, seed_x, ok, timings, None, count=False)
                rows = Rows.cat([rows, more])
    clock = time.perf_counter()
    fps = select(problem, rows, outliers, linearize_points)
    timings["select"] = time.perf_counter() - clock
    timings["total"] = time.perf_counter() - started
    fps.info.update(
        {
            "tol_q": tol_q,
            "tol_slow": tol_slow,
            "tol_unique": tol_unique,
            "outliers": outliers.policy,
            "outlier_distance": outliers.distance,
            "saddles": saddles,
            "seconds": timings,
        }
    )
    return fps


def _with_shorthands(shorthands, solver, warmup, polish):
    unknown = sorted(set(shorthands) - set(_SHORTHANDS))
    if unknown:
        raise TypeError(
            f"find_fixed_points() got unexpected keyword argument(s) {unknown}; options are "
            f"the phase objects (solver=Newton(...), polish=Polish(...), warmup=Adam(...)) "
            f"or the shorthands {sorted(_SHORTHANDS)}."
        )
    phases = {"solver": solver or Newton(), "warmup": warmup, "polish": polish or Polish()}
    options: dict[str, dict] = {"solver": {}, "warmup": {}, "polish": {}}
    for name, value in shorthands.items():
        phase, field = _SHORTHANDS[name]
        options[phase][field] = value
    if options["warmup"] and phases["warmup"] is None:
        phases["warmup"] = Adam(iters=0)
    for phase, changes in options.items():
        if changes:
            current = phases[phase]
            phases[phase] = type(current)(**{**current.__dict__, **changes})
    return phases["solver"], phases["warmup"], phases["polish"]


__all__ = [
    "Adam",
    "BetweenAttractors",
    "Certify",
    "FixedPoints",
    "Newton",
    "Outliers",
    "Polish",
    "find_fixed_points",
]
