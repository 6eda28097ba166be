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
- ``"brute"``: every bracketing (Catalan many), for references.
- ``"auto"``: ``"dp"`` up to :data:`DP_AUTO_LIMIT` factors, else ``"approx"``.

Convention in the DP kernel: ``p`` are the dims, ``n`` the number of
factors, ``span`` the chain length minus one, ``i`` a start and ``s`` a split
offset, so the left part is ``i .. i+s`` and the right ``i+s+1 .. i+span``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .costs import steps_cost
from .errors import ChainError
from .trees import all_trees, left_to_right, right_to_left, tree_to_steps

__all__ = [
    "DP_AUTO_LIMIT",
    "PLANNERS",
    "brute_force",
    "cost_table",
    "dp",
    "approx",
    "resolve_method",
]

#: Longest chain for which ``method="auto"`` runs the exact DP.
DP_AUTO_LIMIT = 2000

#: Longest chain the brute-force reference accepts (Catalan(11) = 58786).
BRUTE_FORCE_LIMIT = 12

Steps = list[tuple[int, int]]


def _shapes(dims: Sequence[int]) -> list[tuple[int, int]]:
    return [(dims[i], dims[i + 1]) for i in range(len(dims) - 1)]


def _kinds(kinds: Sequence[str] | None, n: int) -> Sequence[str]:
    return ("dense",) * n if kinds is None else kinds


def _exact_dtype(dims: Sequence[int]):
    """int64 when no partial sum can overflow, else exact Python ints."""
    bound = max(len(dims) - 2, 1) * max(dims) ** 3
    return np.int64 if bound < 2**62 else object


def _step_costs(p, diag_count, rows: slice, span: int, out):
    """Multiplications of the last product for every (start i, split s)."""
    a, b = rows.start, rows.stop
    inner = sliding_window_view(p[1 : len(p) - 1], span)[a:b]
    outer = p[a:b] * p[a + span + 1 : b + span + 1]
    np.multiply(outer[:, None], inner, out=out)
    if diag_count is None:
        return out
    # A part is diagonal when all its factors are: count them with a prefix sum.
    starts = diag_count[a:b, None]
    mids = sliding_window_view(diag_count[1 : len(p) - 1], span)[a:b]
    ends = diag_count[a + span + 1 : b + span + 1, None]
    offsets = np.arange(1, span + 1)
    left_diag = mids - starts == offsets
    right_diag = ends - mids == span + 1 - offsets
    np.copyto(out, np.broadcast_to(outer[:, None], out.shape), where=left_diag | right_diag)
    np.copyto(out, np.broadcast_to(p[a:b, None], out.shape), where=left_diag & right_diag)
    return out


#: Elements per block of the DP's inner loop (keeps the temporaries in cache).
_BLOCK = 1 << 17


def _dp_tables(dims: Sequence[int], kinds: Sequence[str] | None):
    """Fill the DP; return (by_start, split).

    ``by_start[i, span]`` is the optimal cost of factors ``i .. i+span`` and
    ``split[i, span]`` the offset ``s`` of its optimal last split. A second
    table, ``by_end[j, n-1-t]`` = cost of factors ``j-t .. j``, makes every
    right-hand lookup one forward slice. Ties go to the smallest ``s``
    (``argmin`` returns the first minimum), as in CLRS and
    :func:`numpy.linalg.multi_dot`.
    """
    n = len(dims) - 1
    dtype = _exact_dtype(dims)
    p = np.array([int(d) for d in dims], dtype=dtype)
    diag = np.array([k == "diagonal" for k in _kinds(kinds, n)])
    diag_count = np.concatenate(([0], np.cumsum(diag))) if diag.any() else None
    by_start = np.zeros((n, n), dtype=dtype)
    by_end = np.zeros((n, n), dtype=dtype)
    split = np.zeros((n, n), dtype=np.intp)
    buffers = np.empty((2, _BLOCK + n), dtype=dtype)
    for span in range(1, n):
        step = max(1, _BLOCK // span)
        for a in range(0, n - span, step):
            rows = slice(a, min(n - span, a + step))
            size = (rows.stop - a) * span
            total = _step_costs(p, diag_count, rows, span, buffers[0, :size].reshape(-1, span))
            subtotal = buffers[1, :size].reshape(-1, span)
            right = by_end[a + span : rows.stop + span, n - span :]
            np.add(by_start[rows, :span], right, out=subtotal)
            total += subtotal
            best = total.argmin(axis=1)
            cost = total[np.arange(len(best)), best]
            by_start[rows, span] = cost
            by_end[a + span : rows.stop + span, n - 1 - span] = cost
            split[rows, span] = best
    return by_start, split


def _steps_from_split(split: np.ndarray, n: int) -> Steps:
    """Post-order steps of the optimal tree, without recursion."""
    steps: Steps = []
    ids: list[int] = []
    stack = [(0, n - 1, False)]
    while stack:
        first, last, ready = stack.pop()
        if first == last:
            ids.append(first)
        elif ready:
            right, left = ids.pop(), ids.pop()
            steps.append((left, right))
            ids.append(n + len(steps) - 1)
        else:
            mid = first + int(split[first, last - first])
            stack += [(first, last, True), (mid + 1, last, False), (first, mid, False)]
    return steps


def dp(dims: Sequence[int], kinds: Sequence[str] | None = None) -> tuple[int, Steps]:
    """The exact optimum by dynamic programming.

    Parameters
    ----------
    dims : sequence of int
        The n+1 boundary dimensions (already validated).
    kinds : sequence of {"dense", "diagonal"}, optional

    Returns
    -------
    cost : int
        Minimal scalar multiplications, an exact Python int.
    steps : list of (int, int)
        The optimal bracketing (see :mod:`chainopt.trees`).

    Examples
    --------
    >>> dp([10, 100, 5, 50])
    (7500, [(0, 1), (3, 2)])
    """
    n = len(dims) - 1
    if n == 1:
        return 0, []
    by_start, split = _dp_tables(dims, kinds)
    return int(by_start[0, n - 1]), _steps_from_split(split, n)


def cost_table(dims: Sequence[int], kinds: Sequence[str] | None = None) -> np.ndarray:
    """CLRS's table ``m``: ``m[i, j]`` is the optimal cost of factors i..j.

    Examples
    --------
    >>> print(cost_table([30, 35, 15, 5, 10, 20, 25])[0, 5])
    15125
    """
    n = len(dims) - 1
    by_start, _ = _dp_tables(dims, kinds)
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
    w1, stack, triangles = w[first], [], []
    for position in range(count + 1):
        stack.append(position)
        while len(stack) >= 3 and (stack[-3], stack[-1]) != (0, count):
            a, b, c = (w[order[t]] for t in stack[-3:])
            if not b * c * w1 + a * b * w1 > a * b * c + a * c * w1:
                break
            triangles.append(tuple(order[t] for t in stack[-3:]))
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
    steps: Steps = []
    ids: list[int] = []
    stack = [(0, n, False)]
    while stack:
        a, c, ready = stack.pop()
        if c == a + 1:
            ids.append(a)
        elif ready:
            right, left = ids.pop(), ids.pop()
            steps.append((left, right))
            ids.append(n + len(steps) - 1)
        else:
            b = apex[a, c]
            stack += [(a, c, True), (b, c, False), (a, b, False)]
    return steps


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


def brute_force(
    dims: Sequence[int], kinds: Sequence[str] | None = None
) -> tuple[int, Steps]:
    """Try every bracketing; the reference the other planners are tested on.

    Among equally cheap bracketings the first enumerated wins.

    Examples
    --------
    >>> brute_force([30, 35, 15, 5, 10, 20, 25])[0]
    15125
    """
    n = len(dims) - 1
    if n > BRUTE_FORCE_LIMIT:
        raise ChainError(
            f"brute force is limited to {BRUTE_FORCE_LIMIT} factors; got {n}; "
            f"use method='dp'"
        )
    shapes, kinds = _shapes(dims), _kinds(kinds, n)
    best = None
    for tree in all_trees(0, n - 1):
        steps = tree_to_steps(tree, n)
        cost = steps_cost(shapes, kinds, steps)
        if best is None or cost < best[0]:
            best = (cost, steps)
    return best


Planner = Callable[[Sequence[int], Sequence[str] | None], tuple[int, Steps]]

#: Planners by name. Exact ones are listed in :data:`EXACT`.
PLANNERS: dict[str, Planner] = {
    "dp": dp,
    "brute": brute_force,
    "approx": approx,
    "left": left,
    "right": right,
}
EXACT = frozenset({"dp", "brute"})


def resolve_method(method: str, n: int) -> str:
    """Turn ``"auto"`` into a registered planner name, or check ``method``.

    Examples
    --------
    >>> resolve_method("auto", 6)
    'dp'
    """
    if method == "auto":
        return "dp" if n <= DP_AUTO_LIMIT else "approx"
    if method not in PLANNERS:
        choices = ", ".join(repr(m) for m in ["auto", *PLANNERS])
        raise ChainError(f"method must be one of {choices}; got {method!r}")
    return method
