"""Planners: from boundary dimensions to the steps of a bracketing.

Planners are plain functions ``planner(dims, kinds) -> (cost, steps)``
registered by name in :data:`PLANNERS`; ``plan_chain(method=...)`` picks
one. Every registered planner is run against the brute-force reference in
the test suite.

- ``"dp"``: the exact optimum by dynamic programming, O(n³) time and
  O(n²) memory, vectorised with NumPy over all start positions and split
  points of one chain length at a time.
- ``"approx"``: Chin's O(n) near-optimal heuristic, for very long chains.
- ``"left"`` / ``"right"``: the naive orders ``((AB)C)…`` and ``A(B(C…))``.
- ``"hu-shing"``: the exact optimum of the multiplications of a dense
  chain in O(n log n) (Hu and Shing's algorithm, :mod:`chainopt.hushing`).
- ``"brute"``: every bracketing (Catalan many), for references.
- ``"auto"``: for the multiplications of a dense chain, ``"dp"`` below
  :data:`HU_SHING_FROM` factors and ``"hu-shing"`` from there on (exact at
  every n). Otherwise (diagonal factors, ``cost="time"`` or ``"memory"``,
  or a ``memory_limit`` up to :data:`DP_AUTO_LIMIT` factors) ``"dp"`` up to
  :data:`DP_AUTO_LIMIT` factors, else ``"approx"`` (the plan then says
  ``method='approx'`` and ``exact=False``).

The DP minimises one of three objectives (``cost=``, see :data:`COSTS`),
with one loop: a *sum* over steps of each step's value (multiplications,
or the time model's predicted seconds), or a *peak*, the largest
intermediate (a minimax DP where a step's value is the larger of its two
operands, when they are intermediates). For ``cost="memory"`` the peak is
found first and then the fewest multiplications among the orders that
reach it (a second DP under that memory limit, which keeps the tie-break
exact). ``memory_limit`` forbids every part of the chain whose result
would exceed the limit; since an order's largest intermediate is within
the limit exactly when each of its intermediates is, the constrained DP is
still exact.

Convention in the DP kernel: ``p`` are the dims, ``n`` the number of
factors, ``span`` the chain length minus one, ``i`` a start and ``s`` a split
offset, so the left part is ``i .. i+s`` and the right ``i+s+1 .. i+span``.

Exact arithmetic
----------------
Multiplication counts are exact integers, and so is the DP. No total it
compares exceeds ``B = (n − 1) · max(dims)³`` (a split's total is one step
plus two optima of at most ``|part| − 1`` steps each), and ``B`` picks the
arithmetic:

- ``B < 2**61``: int64 tables. A forbidden part (``memory_limit``) stores
  ``2**61``, so a total through it stays below ``3 · 2**61 < 2**63``.
- ``2**61 ≤ B < 2**106`` (dims below about 4·10⁹ at n = 2000, 10¹¹ at
  n = 40): float64 tables kept exact by residues modulo 2**64, below.
- ``2**106 ≤ B < 2**1000``: the same float64 DP with the exact values kept
  beside it as Python ints: each chosen entry (O(n²) in all) and each
  near-tie row is computed exactly, the bulk of the O(n³) work stays float.
- beyond (dims above about 10¹⁰⁰, where floats overflow): Python ints in
  object arrays, exact at any size and about 50 times slower.

The residue DP. Each table entry holds ``F``, a float64 within one rounding
of the exact optimum ``V`` (``|F − V| ≤ 2u·V``, ``u = 2**-53``), and
``R = V mod 2**64`` (uint64, whose arithmetic wraps modulo 2**64 exactly).
A split's float total ``fl(fl(m·n)·k) + fl(F_left + F_right)`` has at most
four roundings of non-negative terms, so ``|F_s − V_s| ≤ 5u·V_s`` (dims are
below 2**53, hence exact in float64). Let ``c`` be the float argmin and
``t = fl(F_c · (1 + 2**-45))``. Then (a) every exact minimiser ``s*`` has
``F_s* ≤ (1 + 5u) V_s* ≤ (1 + 5u) V_c ≤ F_c (1 + 5u)/(1 − 5u) ≤ t``: the
splits with ``F_s ≤ t`` (the candidates) include all of them; and (b) any
two candidates differ exactly by less than ``2**-44 · V_c < 2**62``, so
``(R_s − R_c) mod 2**64``, read as a signed int64, *is* ``V_s − V_c``. The
argmin of those differences over the candidates, first index on ties, is
the exact argmin with CLRS's tie rule. A row with a single candidate (its
second-smallest float total above ``t``) needs no recheck; near-ties are
rechecked on their own rows only. The chosen entry's ``R`` is summed from
its parts, and its float corrected to ``F + (R − F mod 2**64)`` read as
signed, i.e. within one rounding of ``V`` again, so errors never build up
along the DP. ``V`` itself is recovered from ``(F, R)`` as the integer
``≡ R`` nearest ``F``. With Python ints beside the floats, ``F = fl(V)``
exactly rounded, dims may round too (five roundings in a step: ``7u``
bounds every total), (a) holds as before, and the candidates' exact totals
are compared directly, so (b) is not needed.

The peak (``cost="memory"``, the check behind ``memory_limit``) is at most
``max(dims)²``: int64 below ``2**61``, Python ints beyond. The time model's
seconds are float64. Their DP prunes (:func:`_pruned_pick`): a GEMM's
predicted time lies between two lines in its inner dimension ``k`` (its
multiply-adds at the full rate below; the ramp at its largest, the memory
term without its knee and the write added in full above, ``k`` as the
kernel may pad it), so a split whose
lower bound plus its parts' optima exceeds the upper bound of the split with
the least lower bound cannot win. On a random chain about 1% of the splits
survive, and only those are costed by the model. Every minimiser survives,
so the plan and its value are the full DP's (a test checks split for split).
A new objective (a callable cost, say) needs only an :class:`_Objective`:
a ``step`` giving a block of values in float64 or as Python ints
(``dtype=object``), with its ``worst``; the kernel is the same.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, NoReturn

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .costs import steps_cost, steps_peak, steps_total
from .errors import ChainError, ChainTypeError
from .hushing import hu_shing
from .trees import all_trees, left_to_right, post_order_steps, right_to_left, tree_to_steps

__all__ = [
    "COSTS",
    "DP_AUTO_LIMIT",
    "HU_SHING_FROM",
    "OBJECTIVE_AWARE",
    "PLANNERS",
    "brute_force",
    "check_cost",
    "check_memory_limit",
    "cost_table",
    "dp",
    "approx",
    "resolve_method",
]

#: Longest chain for which ``method="auto"`` runs the exact DP where
#: Hu–Shing does not apply (diagonal factors, ``cost="time"``/``"memory"``).
DP_AUTO_LIMIT = 2000

#: From this many factors on, ``method="auto"`` plans the multiplications of
#: a dense chain by Hu–Shing. Measured (30 random chains per n, interleaved):
#: the DP's time over Hu–Shing's has median 0.78 at n = 6, 1.07 (quartiles
#: 0.96–1.27, no clear winner) at 8, 1.18 (1.06–1.29) at 10 and 1.53 at 12;
#: ``reports/planner.md`` follows the ratio up to 1000 factors (about 200×).
HU_SHING_FROM = 10

#: Longest chain the brute-force reference accepts (Catalan(11) = 58786).
BRUTE_FORCE_LIMIT = 12

Steps = list[tuple[int, int]]


def _shapes(dims: Sequence[int]) -> list[tuple[int, int]]:
    return [(dims[i], dims[i + 1]) for i in range(len(dims) - 1)]


def _kinds(kinds: Sequence[str] | None, n: int) -> Sequence[str]:
    return ("dense",) * n if kinds is None else kinds


#: Bounds on every total the DP compares, choosing its arithmetic (see the
#: module's "Exact arithmetic"): int64 tables below the first, float64 tables
#: kept exact by residues modulo 2**64 below the second, float64 tables with
#: exact Python ints beside them below the third, Python ints alone beyond.
_INT64_BOUND = 2**61
_RESIDUE_BOUND = 2**106
_FLOAT_BOUND = 2**1000

#: Float totals within this factor of a row's float minimum are rechecked exactly.
_TIE_BAND = 1 + 2.0**-45

#: The time DP's lower bounds are within this relative slack of the float64
#: totals they bound (a few dozen roundings, 2**-47, with a wide margin).
_BOUND_SLACK = 2.0**-40
#: Beyond this share of surviving splits, a block is costed whole.
_PRUNED_MOST = 0.25
#: Pruning needs bounds far from float64 overflow: dims up to this.
_PRUNED_DIMS = 1e30


def _operands(p, rows: slice, span: int):
    """``(m, k, n)`` of the last product for every (start i, split s).

    ``m`` and ``n`` are columns (one value per start), ``k`` a window view.
    """
    a, b = rows.start, rows.stop
    inner = sliding_window_view(p[1 : len(p) - 1], span)[a:b]
    return p[a:b, None], inner, p[a + span + 1 : b + span + 1, None]


def _diag_parts(diag_count, rows: slice, span: int):
    """(left part diagonal, right part diagonal) for every (start i, split s).

    A part is diagonal when all its factors are: counted with a prefix sum.
    """
    a, b = rows.start, rows.stop
    n = len(diag_count) - 1
    starts = diag_count[a:b, None]
    mids = sliding_window_view(diag_count[1:n], span)[a:b]
    ends = diag_count[a + span + 1 : b + span + 1, None]
    offsets = np.arange(1, span + 1)
    return mids - starts == offsets, ends - mids == span + 1 - offsets


def _diag_parts_at(diag_count, starts, span: int, splits):
    """:func:`_diag_parts` at one split per start."""
    mids = diag_count[starts + splits + 1]
    return (mids - diag_count[starts] == splits + 1,
            diag_count[starts + span + 1] - mids == span - splits)


def _product_costs(m, k, n, diag, out):
    """Multiplications of ``(m×k)(k×n)`` products, broadcast into ``out``.

    ``diag`` is None (all dense) or (left is diagonal, right is diagonal),
    as in :func:`chainopt.costs.product_cost`. Any dtype: with uint64 the
    values come out modulo 2**64.
    """
    np.multiply(m * n, k, out=out)
    if diag is not None:
        left, right = diag
        np.copyto(out, np.broadcast_to(m * n, out.shape), where=left | right)
        np.copyto(out, np.broadcast_to(m, out.shape), where=left & right)
    return out


def _step_costs(p, diag_count, rows: slice, span: int, out):
    """Multiplications of the last product for every (start i, split s)."""
    diag = None if diag_count is None else _diag_parts(diag_count, rows, span)
    m, k, n = _operands(p, rows, span)
    return _product_costs(m, k, n, diag, out)


def _step_costs_at(p, diag_count, starts, span: int, splits):
    """:func:`_step_costs` at the given splits of the given starts (arrays that
    broadcast: one split per start, or a column of starts by a row of splits)."""
    diag = None if diag_count is None else _diag_parts_at(diag_count, starts, span, splits)
    m, k, n = p[starts], p[starts + splits + 1], p[starts + span + 1]
    out = np.empty(np.broadcast(starts, splits).shape, dtype=p.dtype)
    return _product_costs(m, k, n, diag, out)


def _part_sizes(p, diag_count, rows: slice, span: int):
    """Elements of the (left, right) intermediate for every (start i, split s).

    A part that is a single factor is an input, not an intermediate: size 0.
    A diagonal part is stored as its diagonal.
    """
    a, b = rows.start, rows.stop
    mids = sliding_window_view(p[1 : len(p) - 1], span)[a:b]
    left = p[a:b, None] * mids
    right = mids * p[a + span + 1 : b + span + 1, None]
    if diag_count is not None:
        left_diag, right_diag = _diag_parts(diag_count, rows, span)
        np.copyto(left, np.broadcast_to(p[a:b, None], left.shape), where=left_diag)
        np.copyto(right, mids, where=right_diag)
    left[:, 0] = 0
    right[:, span - 1] = 0
    return left, right


def _result_sizes(p, diag_count, rows: slice, span: int):
    """Elements of the result of factors ``i .. i+span`` for every start i."""
    a, b = rows.start, rows.stop
    sizes = p[a:b] * p[a + span + 1 : b + span + 1]
    if diag_count is not None:
        diagonal = diag_count[a + span + 1 : b + span + 1] - diag_count[a:b] == span + 1
        sizes = np.where(diagonal, p[a:b], sizes)
    return sizes


class _Residues(NamedTuple):
    """Exact step values beside float64 tables: modulo 2**64 (uint64) or whole
    (Python ints, ``dtype=object``)."""

    at: Callable  # (starts, span, splits) -> the values at the given splits
    dtype: Any = np.uint64


class _Bound(NamedTuple):
    """Lower bounds of an objective's step values, to prune by (:func:`_pruned_pick`)."""

    lower: Callable  # (rows, span, out) -> lower bounds of the step values, (rows × span)
    upper: Callable  # (starts, span, splits) -> upper bounds at the given splits
    at: Callable  # (starts, span, splits) -> the step values at the given splits


class _Objective(NamedTuple):
    """What the DP minimises: per-step values, how they combine, a bound.

    An objective is four things the kernel needs and nothing else: a new
    cost supplies ``step`` (any float or exact-int values, computed for a
    block of starts and splits at once) and picks ``dtype`` and ``worst``.
    """

    dtype: Any
    step: Callable  # (rows, span, out) -> values of the last product, (rows × span)
    combine: np.ufunc  # np.add: a sum over steps; np.maximum: a peak
    worst: Any  # larger than any feasible value; forbidden parts store it
    exact: _Residues | None = None  # float64 values that are exact integers
    bound: _Bound | None = None  # bounds of the step values, to prune by


def _diag_count(kinds: Sequence[str] | None, n: int):
    diag = np.array([k == "diagonal" for k in _kinds(kinds, n)])
    return np.concatenate(([0], np.cumsum(diag))) if diag.any() else None


def _arithmetic(bound: int) -> str:
    """How the DP keeps values up to ``bound`` exact: "int64", "residues",
    "floats" (float64 beside Python ints) or "object"."""
    if bound < _INT64_BOUND:
        return "int64"
    if bound < _RESIDUE_BOUND:
        return "residues"
    return "floats" if bound < _FLOAT_BOUND else "object"


def _multiplications(dims: Sequence[int], diag_count, arithmetic: str | None = None
                     ) -> _Objective:
    """Scalar multiplications, by default in the fastest exact arithmetic for ``dims``."""
    dims = [int(d) for d in dims]
    bound = max(len(dims) - 2, 1) * max(dims) ** 3  # no total the DP compares is larger
    arithmetic = arithmetic or _arithmetic(bound)
    if arithmetic == "int64":
        p = np.array(dims, dtype=np.int64)
        return _Objective(np.int64, functools.partial(_step_costs, p, diag_count), np.add,
                          _INT64_BOUND)
    if arithmetic == "residues":
        p, r = np.array(dims, dtype=np.float64), np.array(dims, dtype=np.uint64)
        exact = _Residues(functools.partial(_step_costs_at, r, diag_count))
        return _Objective(np.float64, functools.partial(_step_costs, p, diag_count), np.add,
                          np.inf, exact)
    if arithmetic == "floats":
        p, r = np.array(dims, dtype=np.float64), np.array(dims, dtype=object)
        exact = _Residues(functools.partial(_step_costs_at, r, diag_count), object)
        return _Objective(np.float64, functools.partial(_step_costs, p, diag_count), np.add,
                          np.inf, exact)
    p = np.array(dims, dtype=object)
    return _Objective(object, functools.partial(_step_costs, p, diag_count), np.add, bound + 1)


def _peak_step(p, diag_count, rows, span, out):
    if diag_count is not None:
        left, right = _part_sizes(p, diag_count, rows, span)
        return np.maximum(left, right, out=out)
    m, k, n = _operands(p, rows, span)  # dense: max(m·k, k·n) = k·max(m, n)
    np.multiply(k, np.maximum(m, n), out=out)
    out[:, 0] = k[:, 0] * n[:, 0]  # the left part is one factor, not an intermediate
    out[:, span - 1] = m[:, 0] * k[:, span - 1]  # the right part is one factor
    if span == 1:
        out[:, 0] = 0
    return out


def _peak(dims: Sequence[int], diag_count) -> _Objective:
    """The largest intermediate: a minimax DP (the final product excluded)."""
    dims = [int(d) for d in dims]
    bound = max(dims) ** 2
    dtype = np.int64 if bound < _INT64_BOUND else object
    worst = _INT64_BOUND if dtype is np.int64 else bound + 1
    p = np.array(dims, dtype=dtype)
    return _Objective(dtype, functools.partial(_peak_step, p, diag_count), np.maximum, worst)


def _custom_step(p, cost, rows, span, out):
    for r, i in enumerate(range(rows.start, rows.stop)):
        m, n = p[i], p[i + span + 1]
        for s in range(span):
            out[r, s] = cost(m, p[i + s + 1], n)
    return out


def _custom(dims: Sequence[int], cost: Callable) -> _Objective:
    """A callable's ``cost(m, k, n)`` summed over steps (Python objects: exact ints)."""
    seen: dict[tuple[int, int, int], object] = {}

    def value(m: int, k: int, n: int):
        key = (m, k, n)
        if key not in seen:
            seen[key] = _checked_value(cost, key)
        return seen[key]

    step = functools.partial(_custom_step, [int(d) for d in dims], value)
    return _Objective(object, step, np.add, math.inf)


def _checked_value(cost: Callable, dims: tuple[int, int, int]):
    result = cost(*dims)
    if isinstance(result, (bool, np.bool_)) or not isinstance(result, numbers.Real):
        raise ChainTypeError(
            f"cost{dims} must return a number; got {type(result).__name__} {result!r:.40}")
    if math.isnan(result):
        raise ChainError(f"cost{dims} returned NaN; the cost function must return numbers")
    return result


def _time_step(p, diag_count, gram, model, rows, span, out):
    """Predicted seconds of the last product for every (start i, split s)."""
    m, inner, n = _operands(p, rows, span)
    if diag_count is None:
        left_diag = right_diag = False
    else:
        left_diag, right_diag = _diag_parts(diag_count, rows, span)
    is_gram = gram[rows, None] if span == 1 else False
    out[...] = model.predict(m, inner, n, left_diag, right_diag, is_gram)
    return out


def _gemm_lower(p, model, rows, span, out):
    """Lower bounds of :func:`_time_step` for a chain of GEMMs: ``slope · k``
    (``+ floor`` would be tighter by a call's overhead: not worth a pass)."""
    m, inner, n = _operands(p, rows, span)
    slope, _ = model.kernels["gemm"].gemm_floor(m, n)
    return np.multiply(inner, slope, out=out)


def _gemm_upper(p, model, starts, span: int, splits):
    """Upper bounds of :func:`_time_at` for a chain of GEMMs (first touch included)."""
    m, k, n = p[starts], p[starts + splits + 1], p[starts + span + 1]
    slope, offset = model.gemm_ceiling(m, n)
    return slope * k + offset + model.fresh_time("gemm", m, n)


def _time_at(p, diag_count, gram, model, starts, span: int, splits):
    """:func:`_time_step` at the given splits of the given starts (arrays that
    broadcast, as in :func:`_step_costs_at`)."""
    left_diag = right_diag = False
    if diag_count is not None:
        left_diag, right_diag = _diag_parts_at(diag_count, starts, span, splits)
    is_gram = gram[starts] if span == 1 else False
    m, k, n = p[starts], p[starts + splits + 1], p[starts + span + 1]
    return model.predict(m, k, n, left_diag, right_diag, is_gram)


def _time(dims: Sequence[int], diag_count, gram, model) -> _Objective:
    """Predicted seconds of a plan: the sum of its steps' kernel times."""
    p = np.array([float(d) for d in dims])
    flags = np.zeros(len(dims) - 1, dtype=bool)
    flags[list(gram)] = True
    step = functools.partial(_time_step, p, diag_count, flags, model)
    objective = _Objective(np.float64, step, np.add, np.inf)
    if (diag_count is None and min(dims) > 1 and max(dims) <= _PRUNED_DIMS
            and model.first_touch >= 0 and model.kernels["gemm"].gemm_floor(2, 2) is not None):
        # every product a GEMM (a Gram pair's SYRK: at span 1, which is not pruned)
        bound = _Bound(functools.partial(_gemm_lower, p, model),
                       functools.partial(_gemm_upper, p, model),
                       functools.partial(_time_at, p, None, flags, model))
        objective = objective._replace(bound=bound)
    return objective


#: Elements per block of the DP's inner loop (keeps the temporaries in cache).
_BLOCK = 1 << 17


def _recover(value, residue) -> int:
    """The integer ≡ ``residue`` (mod 2**64) within 2**63 of the float ``value``."""
    base = int(value)
    offset = (int(residue) - base) % 2**64
    return base + (offset - 2**64 if offset >= 2**63 else offset)


class _Tables(NamedTuple):
    """The DP's tables, filled by :func:`_dp_tables`."""

    by_start: np.ndarray  # by_start[i, span]: the optimum of factors i .. i+span
    by_end: np.ndarray  # by_end[j, n-1-t]: the optimum of factors j-t .. j
    split: np.ndarray  # split[i, span]: the offset s of its optimal last split
    residues: Any  # (by_start, by_end) mod 2**64 when the values are floats, or None

    def value(self, first: int, span: int):
        """The optimum of factors ``first .. first+span``: an exact int, or a float."""
        value = self.by_start[first, span]
        if self.residues is not None and np.isfinite(value):
            exact = self.residues[0][first, span]
            return exact if self.residues[0].dtype == object else _recover(value, exact)
        return value.item() if isinstance(value, np.generic) else value

    def exact_by_start(self) -> np.ndarray:
        """``by_start`` with exact ints (an object array when kept beside floats)."""
        if self.residues is None:
            return self.by_start
        if self.residues[0].dtype == object:
            return self.residues[0]
        return np.frompyfunc(_recover, 2, 1)(self.by_start, self.residues[0])


def _nearest_float(value, residue):
    """Correct integer-valued floats to within one rounding of the exact values.

    The exact value is the integer ≡ ``residue`` (mod 2**64) within 2**63 of
    ``value`` (or ``residue`` itself, if Python ints); infinities (forbidden
    parts) stay infinite.
    """
    finite = np.isfinite(value)
    if residue.dtype == object:
        return np.where(finite, residue.astype(np.float64), np.inf)
    low = np.fmod(np.where(finite, value, 0.0), 2.0**64).astype(np.uint64)
    return value + (residue - low).view(np.int64)


def _exact_argmin(tables: _Tables, exact: _Residues, starts, span: int, total, best,
                  thresh):
    """For each start, the first split of least exact value among its totals within
    ``thresh`` (the float argmin ``best`` is one of them).

    Their exact values differ from the float argmin's by less than 2**63,
    so their residues' differences, read as signed int64, are exact.
    """
    n = len(tables.split)
    splits = np.arange(span)
    r_start, r_end = tables.residues
    r = exact.at(starts[:, None], span, splits)
    r += r_start[starts, :span]
    r += r_end[starts + span, n - span :]
    if r.dtype == object:  # exact totals: compare them directly
        return np.where(total > thresh[:, None], np.inf, r).argmin(axis=1)
    r -= r[np.arange(len(best)), best][:, None]
    diff = r.view(np.int64)
    np.copyto(diff, np.iinfo(np.int64).max, where=total > thresh[:, None])
    return diff.argmin(axis=1)


def _exact_pick(tables: _Tables, exact: _Residues, rows: slice, span: int, total, best):
    """Make a float block's argmin and values exact; return (best, value, residue)."""
    n = len(tables.split)
    picked = np.arange(len(best))
    value = total[picked, best]
    thresh = value * _TIE_BAND
    total[picked, best] = np.inf
    near = np.flatnonzero((total.min(axis=1) <= thresh) & (value < np.inf))
    total[picked, best] = value
    starts = np.arange(rows.start, rows.stop)
    if len(near):
        best[near] = _exact_argmin(tables, exact, starts[near], span, total[near], best[near],
                                   thresh[near])
        value[near] = total[near, best[near]]
    r_start, r_end = tables.residues
    residue = (exact.at(starts, span, best) + r_start[starts, best]
               + r_end[starts + span, n - span + best])
    return best, _nearest_float(value, residue), residue


def _pruned_pick(tables: _Tables, objective: _Objective, bound: _Bound, rows: slice, span: int,
                 buffer):
    """(best split, optimum) of every row, costing only the splits that may win.

    A split's lower bound (its step's, plus its parts' optima) is at most its
    float64 total (within :data:`_BOUND_SLACK`); a split whose bound exceeds
    an upper bound of the total of the split with the least bound cannot win
    (on random chains, 0.9% survive; 0.7% against that split's exact total,
    which would cost a second call of the model). The survivors,
    every minimiser among them, are costed exactly: the first minimum wins, as
    in the full block. Past :data:`_PRUNED_MOST` survivors the block is costed whole.
    """
    n = len(tables.split)
    lower = bound.lower(rows, span, buffer)
    lower += tables.by_start[rows, :span]
    lower += tables.by_end[rows.start + span : rows.stop + span, n - span :]
    least = lower.argmin(axis=1)
    starts = np.arange(rows.start, rows.stop)
    upper = bound.upper(starts, span, least)
    upper += tables.by_start[starts, least]
    upper += tables.by_end[starts + span, n - span + least]
    upper = np.where(upper < np.inf, upper * (1 + _BOUND_SLACK), -np.inf)  # inf: forbidden
    keep = lower <= upper[:, None]
    keep[np.arange(len(least)), least] = True
    if np.count_nonzero(keep) > _PRUNED_MOST * keep.size:
        return _pick(tables, objective, rows, span, objective.step(rows, span, buffer))[:2]
    survivors, splits = np.divmod(np.flatnonzero(keep), span)
    totals = _exact_totals(tables, bound, starts[survivors], span, splits)
    choice = _first_minima(survivors, totals)
    return splits[choice], totals[choice]


def _first_minima(groups, values):
    """The position of each group's first minimum, for sorted ``groups``."""
    starts = np.diff(groups, prepend=-1) != 0
    group = np.cumsum(starts) - 1
    hits = np.flatnonzero(values == np.minimum.reduceat(values, np.flatnonzero(starts))[group])
    _, earliest = np.unique(group[hits], return_index=True)
    return hits[earliest]


def _exact_totals(tables: _Tables, bound: _Bound, starts, span: int, splits):
    """Float64 totals (step, then left part, then right part, as in the block)."""
    n = len(tables.split)
    total = bound.at(starts, span, splits)
    total += tables.by_start[starts, splits]
    total += tables.by_end[starts + span, n - span + splits]
    return total


def _pick(tables: _Tables, objective: _Objective, rows: slice, span: int, total):
    """(best split, optimum, its residue or None) of every row, from the step values."""
    n = len(tables.split)
    objective.combine(total, tables.by_start[rows, :span], out=total)
    objective.combine(total, tables.by_end[rows.start + span : rows.stop + span, n - span :],
                      out=total)
    best = total.argmin(axis=1)
    if objective.exact is None:
        return best, total[np.arange(len(best)), best], None
    return _exact_pick(tables, objective.exact, rows, span, total, best)


def _fill_block(tables: _Tables, objective: _Objective, rows: slice, span: int, buffer,
                node_ok: Callable | None) -> None:
    """Solve factors ``i .. i+span`` for every start ``i`` in ``rows``."""
    n = len(tables.split)
    size = (rows.stop - rows.start) * span
    ends = slice(rows.start + span, rows.stop + span)
    block = buffer[:size].reshape(-1, span)
    if objective.bound is not None and span > 1:
        (best, value), residue = _pruned_pick(tables, objective, objective.bound, rows, span,
                                              block), None
    else:
        best, value, residue = _pick(tables, objective, rows, span,
                                     objective.step(rows, span, block))
    if node_ok is not None:
        value = np.minimum(value, objective.worst)  # a forbidden part stays forbidden
        if span < n - 1:  # the final product is not an intermediate
            value = np.where(node_ok(rows, span), value, objective.worst)
    tables.by_start[rows, span] = value
    tables.by_end[ends, n - 1 - span] = value
    tables.split[rows, span] = best
    if residue is not None:
        tables.residues[0][rows, span] = residue
        tables.residues[1][ends, n - 1 - span] = residue


def _dp_tables(n: int, objective: _Objective, node_ok: Callable | None = None) -> _Tables:
    """Fill the DP, one chain length (``span + 1`` factors) at a time.

    ``by_start[i, span]`` is the optimal value for factors ``i .. i+span`` and
    ``split[i, span]`` the offset ``s`` of its optimal last split. A second
    table, ``by_end[j, n-1-t]`` = value for factors ``j-t .. j``, makes every
    right-hand lookup one forward slice. Ties go to the smallest ``s``
    (``argmin`` returns the first minimum), as in CLRS and
    :func:`numpy.linalg.multi_dot`.

    ``node_ok(rows, span)``, if given, says for every start ``i`` whether the
    result of factors ``i .. i+span`` may be kept (a memory limit). A
    forbidden part stores ``objective.worst``, so every split through it
    totals at least ``worst`` and loses to any feasible split (whose total
    is below ``worst``); the whole chain has a plan exactly when its value
    is below ``worst``.
    """
    dtype = objective.dtype
    residues = None
    if objective.exact is not None:
        kept = objective.exact.dtype
        residues = (np.zeros((n, n), dtype=kept), np.zeros((n, n), dtype=kept))
    tables = _Tables(np.zeros((n, n), dtype=dtype), np.zeros((n, n), dtype=dtype),
                     np.zeros((n, n), dtype=np.intp), residues)
    buffer = np.empty(_BLOCK + n, dtype=dtype)
    for span in range(1, n):
        step = max(1, _BLOCK // span)
        for a in range(0, n - span, step):
            _fill_block(tables, objective, slice(a, min(n - span, a + step)), span, buffer,
                        node_ok)
    return tables


def _steps_from_split(split: np.ndarray | Sequence[Sequence[int]], n: int) -> Steps:
    """Post-order steps of the optimal tree: ``split[i][span]`` is the left part's length − 1."""
    def parts(node):
        first, last = node
        if first == last:
            return first
        mid = first + int(split[first][last - first])
        return (first, mid), (mid + 1, last)

    return post_order_steps((0, n - 1), parts, n)


#: What ``plan_chain(cost=...)`` can minimise.
COSTS = ("multiplications", "time", "memory")


def _limit_check(dims: Sequence[int], diag_count, limit: int | None):
    """``node_ok`` for :func:`_dp_tables`: intermediates of at most ``limit``."""
    if limit is None:
        return None
    p = np.array([int(d) for d in dims], dtype=np.int64 if max(dims) ** 2 < 2**62 else object)
    return lambda rows, span: _result_sizes(p, diag_count, rows, span) <= limit


def _solve(dims, objective: _Objective, diag_count, limit: int | None):
    n = len(dims) - 1
    tables = _dp_tables(n, objective, _limit_check(dims, diag_count, limit))
    if not tables.by_start[0, n - 1] < objective.worst:
        _no_plan_fits(dims, diag_count, limit)
    return tables.value(0, n - 1), _steps_from_split(tables.split, n)


def _no_plan_fits(dims, diag_count, limit: int | None) -> NoReturn:
    n = len(dims) - 1
    best = int(_dp_tables(n, _peak(dims, diag_count)).value(0, n - 1))
    raise ChainError(
        f"no order keeps every intermediate within memory_limit={limit:,} elements; the "
        f"smallest achievable largest intermediate is {best:,} elements; raise "
        f"memory_limit to at least {best:,}"
    )


def check_cost(cost):
    """Check a ``minimize=``: one of :data:`COSTS`, or a callable ``f(m, k, n)``.

    Examples
    --------
    >>> check_cost("time")
    'time'
    """
    if callable(cost):
        return cost
    if cost not in COSTS:
        choices = ", ".join(repr(c) for c in COSTS)
        raise ChainError(f"minimize must be one of {choices}; got {cost!r}")
    return cost


def check_memory_limit(limit: object) -> int | None:
    """Check a ``memory_limit=`` (elements): None or a non-negative integer.

    Examples
    --------
    >>> check_memory_limit(10**6)
    1000000
    >>> check_memory_limit(-1)
    Traceback (most recent call last):
    ...
    chainopt.errors.ChainError: memory_limit must be a non-negative integer number of \
elements (or None); got -1
    """
    if limit is None:
        return None
    if isinstance(limit, (bool, np.bool_)) or not isinstance(limit, (int, np.integer)):
        raise ChainTypeError(
            f"memory_limit must be a non-negative integer number of elements (or None); "
            f"got {type(limit).__name__} {limit!r}"
        )
    if limit < 0:
        raise ChainError(
            f"memory_limit must be a non-negative integer number of elements (or None); "
            f"got {limit}"
        )
    return int(limit)


#: Up to this many factors the DP runs as plain Python loops: below it, the
#: fixed cost of NumPy calls (about 25 per chain length) exceeds the work.
SMALL_CHAIN = 32


def _dp_python(dims: Sequence[int]) -> tuple[int, Steps]:
    """The dense multiplications DP in plain Python (same ties: smallest split)."""
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]  # cost[i][j]: factors i..j
    split = [[0] * n for _ in range(n)]  # split[i][span], as in _dp_tables
    for span in range(1, n):
        for i in range(n - span):
            j = i + span
            row, outer = cost[i], dims[i] * dims[j + 1]
            best, best_k = row[i] + cost[i + 1][j] + outer * dims[i + 1], i
            for k in range(i + 1, j):
                value = row[k] + cost[k + 1][j] + outer * dims[k + 1]
                if value < best:
                    best, best_k = value, k
            row[j] = best
            split[i][span] = best_k - i
    return cost[0][n - 1], _steps_from_split(split, n)


def dp(dims: Sequence[int], kinds: Sequence[str] | None = None, *,
       cost: str = "multiplications", memory_limit: int | None = None,
       gram: Sequence[int] = (), model=None) -> tuple:
    """The exact optimum by dynamic programming.

    Parameters
    ----------
    dims : sequence of int
        The n+1 boundary dimensions (already validated).
    kinds : sequence of {"dense", "diagonal"}, optional
    cost : {"multiplications", "time", "memory"} or callable
        What to minimise: scalar multiplications; the time model's predicted
        seconds (``model``, a :class:`chainopt.timemodel.TimeModel`); the
        largest intermediate in elements, then multiplications; or the sum
        over steps of ``cost(m, k, n)`` for each ``(m×k)·(k×n)`` product
        (any numbers; ints stay exact).
    memory_limit : int, optional
        Only orders whose every intermediate (the final product excluded)
        has at most this many elements.
    gram : sequence of int
        Positions ``i`` where factors ``i`` and ``i + 1`` are a Gram pair
        (costed as a SYRK by the time model).
    model : TimeModel, optional
        Required for ``cost="time"``.

    Returns
    -------
    value : int or float
        The minimum: multiplications (an exact Python int), seconds, or
        elements of the largest intermediate.
    steps : list of (int, int)
        The optimal bracketing (see :mod:`chainopt.trees`).

    Raises
    ------
    ChainError
        If no order fits ``memory_limit`` (the message gives the smallest
        achievable largest intermediate).

    Examples
    --------
    >>> dp([10, 100, 5, 50])
    (7500, [(0, 1), (3, 2)])
    >>> dp([10, 100, 5, 50], cost="memory")
    (50, [(0, 1), (3, 2)])
    >>> dp([10, 100, 5, 50], cost=lambda m, k, n: m * k + k * n + m * n)
    (2350, [(0, 1), (3, 2)])
    """
    n = len(dims) - 1
    cost = check_cost(cost)
    if n == 1:
        return (0.0 if cost == "time" else 0), []
    diag_count = _diag_count(kinds, n)
    if callable(cost):
        return _solve(dims, _custom(dims, cost), diag_count, memory_limit)
    if cost == "memory":
        peak, _ = _solve(dims, _peak(dims, diag_count), diag_count, memory_limit)
        _, steps = _solve(dims, _multiplications(dims, diag_count), diag_count, int(peak))
        return int(peak), steps
    if cost == "time":
        if model is None:
            raise ChainError("cost='time' needs a time model; pass model=")
        value, steps = _solve(dims, _time(dims, diag_count, gram, model), diag_count,
                              memory_limit)
        return float(value), steps
    if n <= SMALL_CHAIN and diag_count is None and memory_limit is None:
        return _dp_python([int(d) for d in dims])
    value, steps = _solve(dims, _multiplications(dims, diag_count), diag_count, memory_limit)
    return int(value), steps


def cost_table(dims: Sequence[int], kinds: Sequence[str] | None = None) -> np.ndarray:
    """CLRS's table ``m``: ``m[i, j]`` is the optimal cost of factors i..j.

    Examples
    --------
    >>> print(cost_table([30, 35, 15, 5, 10, 20, 25])[0, 5])
    15125
    """
    n = len(dims) - 1
    by_start = _dp_tables(n, _multiplications(dims, _diag_count(kinds, n))).exact_by_start()
    table = np.zeros((n, n), dtype=by_start.dtype)
    for span in range(n):
        rows = np.arange(n - span)
        table[rows, rows + span] = by_start[: n - span, span]
    return table


def _chin_triangles(dims: Sequence[int]) -> list[tuple[int, int, int]]:
    """Triangulate the chain's polygon by Chin's one-pass rule.

    The polygon's vertices are the dims; ``w1`` is the smallest. Cutting off
    vertex ``b`` between ``a`` and ``c`` (multiplying its two neighbours
    first) beats fanning it from ``w1`` exactly when
    ``1/wa + 1/wc > 1/w1 + 1/wb``; compared here in exact integers.
    """
    w, count = dims, len(dims)
    first = min(range(count), key=lambda v: (w[v], v))
    order = [(first + t) % count for t in range(count)] + [first]
    w1, stack = w[first], []
    triangles: list[tuple[int, int, int]] = []
    for position in range(count + 1):
        stack.append(position)
        while len(stack) >= 3 and (stack[-3], stack[-1]) != (0, count):
            a, b, c = (w[order[t]] for t in stack[-3:])
            if not b * c * w1 + a * b * w1 > a * b * c + a * c * w1:
                break
            triangles.append((order[stack[-3]], order[stack[-2]], order[stack[-1]]))
            del stack[-2]
    rest = [order[t] for t in stack[1:-1]]
    triangles += [(first, a, b) for a, b in zip(rest, rest[1:])]
    return triangles


def _steps_from_triangles(triangles, n: int) -> Steps:
    """Steps of the bracketing whose polygon triangulation is given."""
    apex = {}
    for triangle in triangles:
        a, b, c = sorted(triangle)
        apex[a, c] = b

    def parts(node):  # factors first..last are the polygon side (first, last + 1)
        first, last = node
        if first == last:
            return first
        b = apex[first, last + 1]
        return (first, b - 1), (b, last)

    return post_order_steps((0, n - 1), parts, n)


def approx(dims: Sequence[int], kinds: Sequence[str] | None = None) -> tuple[int, Steps]:
    """A near-optimal bracketing in O(n): Chin's heuristic (not exact).

    Used by ``method="auto"`` beyond :data:`DP_AUTO_LIMIT` factors. It
    treats every factor as dense. Its cost is within a few percent of the
    optimum on random chains and never, in the test suite's searches, more
    than 15% above it (Hu and Shing bound the ratio by 1.155).

    References
    ----------
    .. [1] F. Y. Chin, "An O(n) algorithm for determining a near-optimal
       computation order of matrix chain products", CACM 21(7), 1978.
    .. [2] T. C. Hu and M. T. Shing, "An O(n) algorithm to find a
       near-optimum partition of a convex polygon", J. Algorithms 2, 1981.

    Examples
    --------
    >>> approx([10, 100, 5, 50])
    (7500, [(0, 1), (3, 2)])
    """
    n = len(dims) - 1
    if n == 1:
        return 0, []
    steps = _steps_from_triangles(_chin_triangles(dims), n)
    return steps_cost(_shapes(dims), _kinds(kinds, n), steps), steps


def left(dims: Sequence[int], kinds: Sequence[str] | None = None) -> tuple[int, Steps]:
    """``((AB)C)…``: what ``A @ B @ C`` and reverse-mode accumulation do."""
    steps = left_to_right(len(dims) - 1)
    return steps_cost(_shapes(dims), _kinds(kinds, len(dims) - 1), steps), steps


def right(dims: Sequence[int], kinds: Sequence[str] | None = None) -> tuple[int, Steps]:
    """``A(B(C…))``: the order of forward-mode accumulation."""
    steps = right_to_left(len(dims) - 1)
    return steps_cost(_shapes(dims), _kinds(kinds, len(dims) - 1), steps), steps


def _brute_key(cost, shapes, kinds, steps, gram, model):
    """What brute force compares: (value, multiplications)."""
    multiplications = steps_cost(shapes, kinds, steps)
    if callable(cost):
        return steps_total(cost, shapes, kinds, steps), multiplications
    if cost == "memory":
        return steps_peak(shapes, kinds, steps), multiplications
    if cost == "time":
        return sum(model.order_times(shapes, kinds, steps, gram)), multiplications
    return multiplications, multiplications


def brute_force(
    dims: Sequence[int], kinds: Sequence[str] | None = None, *,
    cost: str = "multiplications", memory_limit: int | None = None,
    gram: Sequence[int] = (), model=None,
) -> tuple:
    """Try every bracketing; the reference the other planners are tested on.

    Takes the same options as :func:`dp`. Among equally good bracketings
    the first enumerated wins (for ``cost="memory"``: the fewest
    multiplications among the smallest peaks).

    Examples
    --------
    >>> brute_force([30, 35, 15, 5, 10, 20, 25])[0]
    15125
    >>> brute_force([30, 35, 15, 5, 10, 20, 25], cost="memory")[0]
    175
    """
    n = len(dims) - 1
    if n > BRUTE_FORCE_LIMIT:
        raise ChainError(
            f"brute force is limited to {BRUTE_FORCE_LIMIT} factors; got {n}; "
            f"use method='dp'"
        )
    cost = check_cost(cost)
    if cost == "time" and model is None:
        raise ChainError("cost='time' needs a time model; pass model=")
    shapes, kinds = _shapes(dims), _kinds(kinds, n)
    best = None
    for tree in all_trees(0, n - 1):
        steps = tree_to_steps(tree, n)
        if memory_limit is not None and steps_peak(shapes, kinds, steps) > memory_limit:
            continue
        key = _brute_key(cost, shapes, kinds, steps, gram, model)
        if best is None or key < best[0]:
            best = (key, steps)
    if best is None:
        _no_plan_fits(dims, _diag_count(kinds, n), memory_limit)
    return best[0][0], best[1]


Planner = Callable[[Sequence[int], Sequence[str] | None], tuple[int, Steps]]

#: Planners by name. Exact ones are listed in :data:`EXACT`.
PLANNERS: dict[str, Planner] = {
    "dp": dp,
    "brute": brute_force,
    "approx": approx,
    "hu-shing": hu_shing,
    "left": left,
    "right": right,
}
#: Exact for the multiplications of dense chains; only the objective-aware
#: ones are also exact for diagonal factors, ``cost="time"`` and ``"memory"``.
EXACT = frozenset({"dp", "brute", "hu-shing"})

#: Planners that take ``cost=``, ``memory_limit=``, ``gram=`` and ``model=``;
#: the others minimise multiplications (``approx``) or follow a fixed order.
OBJECTIVE_AWARE = frozenset({"dp", "brute"})


def resolve_method(method: str, n: int, *, dense: bool = True,
                   cost: object = "multiplications", memory_limit: int | None = None) -> str:
    """Turn ``"auto"`` into a registered planner name, or check ``method``.

    ``"auto"`` is exact at every n for the multiplications of a dense chain
    (the DP, then Hu–Shing from :data:`HU_SHING_FROM` factors; with a
    ``memory_limit``, the DP up to :data:`DP_AUTO_LIMIT` factors, beyond it
    Hu–Shing's order, which is optimal whenever it fits the limit). For any
    other objective or structure it is the DP up to :data:`DP_AUTO_LIMIT`
    factors and Chin's approximation beyond.

    Examples
    --------
    >>> resolve_method("auto", 6)
    'dp'
    >>> resolve_method("auto", 10**5)
    'hu-shing'
    >>> resolve_method("auto", 10**5, cost="time")
    'approx'
    """
    if method == "auto":
        if dense and isinstance(cost, str) and cost == "multiplications":
            if n >= HU_SHING_FROM and (memory_limit is None or n > DP_AUTO_LIMIT):
                return "hu-shing"
            return "dp"
        return "dp" if n <= DP_AUTO_LIMIT else "approx"
    if method not in PLANNERS:
        choices = ", ".join(repr(m) for m in ["auto", *PLANNERS])
        raise ChainError(f"method must be one of {choices}; got {method!r}")
    return method
