"""Jacobian accumulation by vertex elimination on a linearised graph.

The linearised graph of a function is its computational graph with the
local partial derivative ``c[u, v] = ∂v/∂u`` on every edge ``u → v``.
Eliminating an intermediate vertex ``j`` connects each predecessor ``p`` to
each successor ``s`` directly::

    c[p, s] += c[p, j] * c[j, s]        for p in P(j), s in S(j)

and removes ``j``. Once every intermediate is gone, only edges from inputs to
outputs remain, and their weights are the Jacobian (Griewank and Walther,
*Evaluating Derivatives*, 2nd ed., 2008, chapters 9-10). The order of
elimination changes the cost, not the result: this is the same question as
the bracketing of a matrix chain, asked on a graph.

Counting (exact ints)
---------------------
Eliminating ``j`` costs ``|P(j)| · |S(j)|`` multiplications, counted in the
graph as it is when ``j`` goes: one product per (predecessor, successor)
pair. A product whose edge ``p → s`` already exists is added to it (one
addition, reported separately); otherwise it creates the edge (fill-in).
Parallel edges never exist: they are merged, by summing their partials, when
the graph is built.

Orders
------
- ``"forward"``: intermediates by increasing index (topological order);
- ``"reverse"``: by decreasing index;
- ``"markowitz"``: greedily the vertex of smallest current
  ``|P(j)|·|S(j)|``, ties to the smallest index (a heap, so it scales);
- ``"optimal"``: the cheapest of all elimination orders, by dynamic
  programming over the set of eliminated vertices (the graph left after
  eliminating a set does not depend on the order, so neither does the cost
  of the next vertex). O(2^m · m) for m intermediates, allowed up to
  :data:`OPTIMAL_LIMIT`. It is optimal among *vertex* elimination orders;
  edge and face elimination can be cheaper still.
- a sequence of vertex indices: every intermediate exactly once.

Outputs must be sinks for the Jacobian to be read off the final graph. An
output that is also used further, is an input, or is returned twice gets a
copy vertex (local partial 1, named after the output), and the original
becomes an ordinary intermediate.

Convention in the kernels: ``j`` is the vertex being eliminated, ``p`` a
predecessor, ``s`` a successor; ``preds[v]`` maps ``p`` to ``c[p, v]`` and
``succs[v]`` maps ``s`` to ``c[v, s]`` (the same numbers, both directions).
"""

from __future__ import annotations

import collections
import dataclasses
import heapq
import numbers
from collections.abc import Sequence

import numpy as np

from ..errors import ChainError, ChainTypeError

__all__ = [
    "OPTIMAL_LIMIT",
    "ORDERS",
    "Elimination",
    "LinearGraph",
    "eliminate",
    "linearize",
    "optimal_order",
]

#: The named orders :func:`eliminate` accepts (besides an explicit sequence).
ORDERS = ("forward", "reverse", "markowitz", "optimal")

#: Most intermediates ``order="optimal"`` searches (2^m subsets; m = 16 takes
#: about a second in pure Python, each further vertex doubles it).
OPTIMAL_LIMIT = 16


@dataclasses.dataclass(frozen=True, eq=False)
class LinearGraph:
    """A DAG with a local partial derivative on each edge.

    Vertices are ``0 .. len(preds) - 1`` in topological order; build it with
    :func:`linearize` (or :meth:`chainopt.Graph.linearize`).

    Attributes
    ----------
    preds : tuple of dict
        ``preds[v][u]`` is the partial ``∂v/∂u`` on edge ``u → v``.
    inputs : tuple of int
        The independent vertices, one per Jacobian column.
    outputs : tuple of int
        One sink vertex per Jacobian row.
    names : tuple of str
        A name per vertex, for messages.
    output_names : tuple of str
        A name per output (``y0``, ``y1``, … unless given).
    """

    preds: tuple[dict[int, float], ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    names: tuple[str, ...]
    output_names: tuple[str, ...] = ()

    @property
    def intermediates(self) -> tuple[int, ...]:
        """The vertices an elimination removes: neither inputs nor outputs."""
        ends = set(self.inputs) | set(self.outputs)
        return tuple(v for v in range(len(self.preds)) if v not in ends)

    @property
    def edges(self) -> int:
        """Number of edges."""
        return sum(len(p) for p in self.preds)

    def successors(self) -> list[dict[int, float]]:
        """``succs[v][s]`` = ``c[v, s]``: the edges seen from their tail."""
        succs: list[dict[int, float]] = [{} for _ in self.preds]
        for v, pv in enumerate(self.preds):
            for p, c in pv.items():
                succs[p][v] = c
        return succs


def linearize(parents: Sequence[Sequence[int]], partials: Sequence[Sequence[float]],
              inputs: Sequence[int], outputs: Sequence[int], names: Sequence[str],
              output_names: Sequence[str] | None = None) -> LinearGraph:
    """Build a :class:`LinearGraph`, adding copy vertices for non-sink outputs.

    Parameters
    ----------
    parents, partials : sequences of sequences
        For each vertex (in topological order), its distinct parents and
        the partial derivative towards each.
    inputs, outputs : sequences of int
        Input vertices and output vertices (an output may repeat, be an
        input or be used further: it then gets a copy vertex).
    names : sequence of str
        A name per vertex.
    output_names : sequence of str, optional
        Names of the copy vertices (default ``y0``, ``y1``, …).

    Examples
    --------
    f(x) = (x·x, sin(x·x)) at x = 2: the first output is used again, so it
    gets a copy vertex.

    >>> lin = linearize([(), (0,), (1,)], [(), (4.0,), (-0.654,)], [0], [1, 2],
    ...                 ["x", "v1", "v2"], ["f0", "f1"])
    >>> lin.names, lin.outputs, lin.intermediates
    (('x', 'v1', 'v2', 'f0'), (3, 2), (1,))
    """
    preds = [dict(zip(ps, cs)) for ps, cs in zip(parents, partials)]
    names = list(names)
    output_names = output_names or [f"y{k}" for k in range(len(outputs))]
    used = {p for pv in preds for p in pv}
    repeated = {o for o, times in collections.Counter(outputs).items() if times > 1}
    sinks = []
    for k, o in enumerate(outputs):
        if o in used or o in inputs or o in repeated:
            preds.append({o: 1.0})
            names.append(output_names[k])
            o = len(preds) - 1
        sinks.append(o)
    return LinearGraph(tuple(preds), tuple(inputs), tuple(sinks), tuple(names),
                       tuple(output_names))


@dataclasses.dataclass(frozen=True, eq=False)
class Elimination:
    """The Jacobian accumulated by one vertex elimination order, with its cost.

    Attributes
    ----------
    jacobian : ndarray
        Outputs × inputs.
    multiplications : int
        Sum over the eliminated vertices of ``|P(j)|·|S(j)|`` (exact).
    additions : int
        Products added to an existing edge (the rest were fill-in).
    order : tuple of int
        The vertices in the order they were eliminated.
    method : str
        ``"forward"``, ``"reverse"``, ``"markowitz"``, ``"optimal"`` or
        ``"given"``.
    names : tuple of str
        The vertices' names (for printing).
    """

    jacobian: np.ndarray
    multiplications: int
    additions: int
    order: tuple[int, ...]
    method: str
    names: tuple[str, ...] = ()

    def __str__(self) -> str:
        named = ", ".join(self.names[v] if self.names else str(v) for v in self.order)
        return (f"vertex elimination ({self.method}): {self.multiplications:,} "
                f"multiplications, {self.additions:,} additions\n"
                f"order: {named or '(no intermediates)'}")

    def __repr__(self) -> str:
        return (f"<Elimination {self.method} multiplications={self.multiplications} "
                f"order={self.order}>")


class _Eliminator:
    """The mutable graph while vertices are eliminated, with the counts."""

    def __init__(self, lin: LinearGraph):
        self.preds = [dict(pv) for pv in lin.preds]
        self.succs = lin.successors()
        self.multiplications = 0
        self.additions = 0
        self.order: list[int] = []

    def cost(self, j: int) -> int:
        return len(self.preds[j]) * len(self.succs[j])

    def eliminate(self, j: int) -> None:
        preds, succs = self.preds, self.succs
        self.multiplications += self.cost(j)
        for p, c_pj in preds[j].items():
            out = succs[p]
            del out[j]
            for s, c_js in succs[j].items():
                if s in out:
                    out[s] += c_pj * c_js
                    self.additions += 1
                else:
                    out[s] = c_pj * c_js
                preds[s][p] = out[s]
        for s in succs[j]:
            del preds[s][j]
        preds[j], succs[j] = {}, {}
        self.order.append(j)

    def jacobian(self, lin: LinearGraph) -> np.ndarray:
        column = {v: i for i, v in enumerate(lin.inputs)}
        jac = np.zeros((len(lin.outputs), len(lin.inputs)))
        for k, o in enumerate(lin.outputs):
            for p, c in self.preds[o].items():
                jac[k, column[p]] = c
        return jac


def _markowitz(work: _Eliminator, intermediates: Sequence[int]) -> None:
    """Eliminate greedily by smallest current cost, ties to the smallest index."""
    heap = [(work.cost(j), j) for j in intermediates]
    heapq.heapify(heap)
    todo = set(intermediates)
    while heap:
        cost, j = heapq.heappop(heap)
        if j not in todo or cost != work.cost(j):
            continue  # eliminated already, or a stale cost
        neighbours = [*work.preds[j], *work.succs[j]]
        work.eliminate(j)
        todo.discard(j)
        for v in neighbours:
            if v in todo:
                heapq.heappush(heap, (work.cost(v), v))


def _bits(mask: int):
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def optimal_order(lin: LinearGraph) -> tuple[tuple[int, ...], int]:
    """The cheapest vertex elimination order and its multiplications.

    Dynamic programming over eliminated sets, one layer (set size) at a time;
    each set keeps the graph's structure as bit masks. Ties go to the order
    found first (smaller vertices first).

    Raises
    ------
    ChainError
        If there are more than :data:`OPTIMAL_LIMIT` intermediates.

    Examples
    --------
    >>> lin = linearize([(), (), (0, 1), (2,), (2,)], [(), (), (1, 1), (2,), (3,)],
    ...                 [0, 1], [3, 4], ["x", "y", "v2", "f0", "f1"])
    >>> optimal_order(lin)
    ((2,), 4)
    """
    inter = lin.intermediates
    if len(inter) > OPTIMAL_LIMIT:
        raise ChainError(
            f"order='optimal' searches at most {OPTIMAL_LIMIT} intermediates; this graph "
            f"has {len(inter)}; use order='markowitz' (greedy) or give an explicit order")
    pm = [sum(1 << p for p in pv) for pv in lin.preds]
    sm = [0] * len(pm)
    for v, pv in enumerate(lin.preds):
        for p in pv:
            sm[p] |= 1 << v
    layer = {0: (pm, sm)}
    best, choice = {0: 0}, {}
    for _ in inter:
        following = {}
        for done, (pm, sm) in layer.items():
            for b, j in enumerate(inter):
                if done >> b & 1:
                    continue
                grown, cost = done | 1 << b, best[done] + pm[j].bit_count() * sm[j].bit_count()
                if grown not in best or cost < best[grown]:
                    best[grown], choice[grown] = cost, b
                if grown not in following:
                    following[grown] = _eliminate_masks(pm, sm, j)
        layer = following
    order, done = [], (1 << len(inter)) - 1
    while done:
        order.append(inter[choice[done]])
        done ^= 1 << choice[done]
    return tuple(reversed(order)), best[(1 << len(inter)) - 1]


def _eliminate_masks(pm: list[int], sm: list[int], j: int) -> tuple[list[int], list[int]]:
    pm, sm, gone = list(pm), list(sm), ~(1 << j)
    for p in _bits(pm[j]):
        sm[p] = (sm[p] | sm[j]) & gone
    for s in _bits(sm[j]):
        pm[s] = (pm[s] | pm[j]) & gone
    pm[j] = sm[j] = 0
    return pm, sm


def _check_order(lin: LinearGraph, order) -> tuple[int, ...]:
    """Validate an explicit elimination order: each intermediate exactly once."""
    try:
        items = list(order)
    except TypeError:
        raise ChainTypeError(
            f"order must be one of {', '.join(map(repr, ORDERS))} or a sequence of vertex "
            f"indices; got {order!r}") from None
    inter, seen = set(lin.intermediates), dict[int, int]()
    ends = {v: f"the input {lin.names[v]}" for v in lin.inputs}
    ends.update({v: f"the output {name}" + (f" ({lin.names[v]})" if lin.names[v] != name else "")
                 for v, name in zip(lin.outputs, lin.output_names or lin.names)})
    for k, v in enumerate(items):
        if not isinstance(v, numbers.Integral) or isinstance(v, bool):
            raise ChainTypeError(f"order[{k}] must be a vertex index (an int); got {v!r}")
        v = int(v)
        if not 0 <= v < len(lin.preds):
            raise ChainError(f"order[{k}] = {v} is not a vertex; vertices are "
                             f"0 .. {len(lin.preds) - 1}")
        if v in ends:
            which = (f"eliminated: {_listing(lin.intermediates)}" if lin.intermediates
                     else "eliminated, and this graph has none: give an empty order")
            raise ChainError(f"order[{k}] = {v} is {ends[v]}; only intermediates are {which}")
        if v in seen:
            raise ChainError(f"order[{k}] = {v} appears twice (also order[{seen[v]}]); "
                             "eliminate each intermediate once")
        seen[v] = k
    missing = sorted(inter - set(seen))
    if missing:
        raise ChainError(f"order misses intermediates {_listing(missing)}; list each of "
                         f"{_listing(lin.intermediates)} exactly once")
    return tuple(seen)


def _listing(vertices: Sequence[int], most: int = 12) -> str:
    text = ", ".join(map(str, vertices[:most]))
    return text + (f", … ({len(vertices)} in all)" if len(vertices) > most else "")


def eliminate(lin: LinearGraph, order="markowitz") -> Elimination:
    """Accumulate the Jacobian by eliminating every intermediate vertex.

    Parameters
    ----------
    lin : LinearGraph
        The linearised graph (see :func:`linearize`).
    order : {"forward", "reverse", "markowitz", "optimal"} or sequence of int
        The elimination order (see the module notes); a sequence must list
        every intermediate exactly once.

    Returns
    -------
    Elimination
        The Jacobian (outputs × inputs), the multiplications and additions
        spent, and the order used.

    Raises
    ------
    ChainError
        For an unknown order name, a sequence that names an input, output or
        unknown vertex, repeats or misses one, or ``"optimal"`` beyond
        :data:`OPTIMAL_LIMIT` intermediates.

    Examples
    --------
    f(x, y) = (x·y, sin(x·y)) at (2, 3): one shared intermediate v2 = x·y.

    >>> import math
    >>> lin = linearize([(), (), (0, 1), (2,), (2,)],
    ...                 [(), (), (3.0, 2.0), (1.0,), (math.cos(6),)],
    ...                 [0, 1], [3, 4], ["x", "y", "v2", "f0", "f1"])
    >>> result = eliminate(lin, "markowitz")
    >>> result.multiplications, result.order
    (4, (2,))
    >>> result.jacobian.round(3)
    array([[3.   , 2.   ],
           [2.881, 1.92 ]])
    """
    work = _Eliminator(lin)
    if isinstance(order, str):
        if order not in ORDERS:
            raise ChainError(f"order must be one of {', '.join(map(repr, ORDERS))} or a "
                             f"sequence of vertex indices; got {order!r}")
        method = order
        if order == "markowitz":
            _markowitz(work, lin.intermediates)
            sequence: Sequence[int] = ()
        elif order == "optimal":
            sequence = optimal_order(lin)[0]
        else:
            sequence = lin.intermediates[:: 1 if order == "forward" else -1]
    else:
        method, sequence = "given", _check_order(lin, order)
    for j in sequence:
        work.eliminate(j)
    return Elimination(work.jacobian(lin), work.multiplications, work.additions,
                       tuple(work.order), method, lin.names)
