"""Matrix-free Jacobian chain bracketing (Naumann's problem), solved exactly.

Elemental ``i`` maps ``ℝ^{n_{i−1}} → ℝ^{n_i}`` and may be available only
through a tangent model (one Jacobian-vector product costs ``T_i``) and an
adjoint model (one vector-Jacobian product costs ``A_i``), never as a
matrix. The Jacobian ``J_L ⋯ J_1`` is then built from four operations on
a subchain ``J_{j..i} = J_j ⋯ J_i``:

- *preaccumulate* one elemental: ``n_{i−1}`` tangents or ``n_i`` adjoints
  of identity vectors, ``min(n_{i−1}·T_i, n_i·A_i)``;
- *multiply* two accumulated subchains ``J_{j..k+1} · J_{k..i}``:
  ``n_j·n_k·n_{i−1}``;
- push *tangents*: the ``n_{i−1}`` columns of an accumulated ``J_{k..i}``
  through the elementals ``k+1 … j``: ``n_{i−1}·(T_{k+1} + … + T_j)``;
- pull *adjoints*: the ``n_j`` rows of an accumulated ``J_{j..k+1}`` back
  through the elementals ``k … i``: ``n_j·(A_i + … + A_k)``.

:func:`plan_matrix_free` finds the cheapest schedule by an exact
O(L³) dynamic programme over subchains. Homogeneous forward mode
(``n_0·ΣT``) and reverse mode (``n_L·ΣA``) are two of its schedules, and
so is "preaccumulate every elemental, then multiply in the best order".
With ``T_i = A_i`` = the nonzeros of layer ``i``
(:attr:`chainopt.Network.nnz`) every cost is in multiply-adds, and the
plan runs on a :class:`~chainopt.Network` through its layers' tangents and
adjoints (:meth:`MatrixFreePlan.execute`).

Conventions: layers are numbered ``1 … L`` as in the Jacobian ``J_L ⋯
J_1``; ``i ≤ j`` bound a subchain; ``n`` are the widths; a *schedule* is
a nested tuple (see :data:`Schedule`).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike

from ..costs import times
from ..errors import ChainError
from ..planners import dp
from ..validation import as_dimensions
from .layers import Network, propagate
from .modes import mode_name, pick

__all__ = ["MatrixFreePlan", "Operation", "plan_matrix_free", "schedule_cost"]

#: A schedule for the subchain ``i..j`` is one of
#: ``("preaccumulate", i, "tangent" | "adjoint")``,
#: ``("multiply", upper, lower)`` (upper covers ``k+1..j``, lower ``i..k``),
#: ``("tangents", lower, k + 1, j)`` or ``("adjoints", upper, i, k)``.
Schedule = tuple


def _check_costs(costs: Sequence[int], layers: int, what: str) -> tuple[int, ...]:
    values = as_dimensions(costs, what)
    if len(values) != layers:
        raise ChainError(f"{what} has {len(values)} entries for {layers} layers; "
                         f"give one per layer, layer 1 first")
    return values


def _span(schedule: Schedule) -> tuple[int, int]:
    """The layers ``(i, j)`` a schedule accumulates (iteratively: trees can be deep)."""
    node = schedule
    while node[0] != "preaccumulate" and node[0] != "adjoints":
        node = node[2] if node[0] == "multiply" else node[1]
    first = node[1] if node[0] == "preaccumulate" else node[2]
    node = schedule
    while node[0] != "preaccumulate" and node[0] != "tangents":
        node = node[1]
    last = node[1] if node[0] == "preaccumulate" else node[3]
    return first, last


def _step_cost(schedule: Schedule, n, t, a) -> int:
    """The cost of a schedule's last operation (``t``, ``a`` are 1-based lists)."""
    op = schedule[0]
    if op == "preaccumulate":
        i, how = schedule[1], schedule[2]
        return n[i - 1] * t[i] if how == "tangent" else n[i] * a[i]
    if op == "multiply":
        (_, j), (i, k) = _span(schedule[1]), _span(schedule[2])
        return n[j] * n[k] * n[i - 1]
    if op == "tangents":
        i = _span(schedule[1])[0]
        return n[i - 1] * sum(t[schedule[2]:schedule[3] + 1])
    j = _span(schedule[1])[1]
    return n[j] * sum(a[schedule[2]:schedule[3] + 1])


def schedule_cost(schedule: Schedule, widths, tangent_costs, adjoint_costs) -> int:
    """The total cost of a schedule, operation by operation (no DP involved).

    Examples
    --------
    >>> schedule_cost(("tangents", ("preaccumulate", 1, "tangent"), 2, 2),
    ...               [3, 4, 5], [12, 20], [12, 20])
    96
    """
    t, a = (0, *tangent_costs), (0, *adjoint_costs)
    total, stack = 0, [schedule]
    while stack:
        node = stack.pop()
        total += _step_cost(node, widths, t, a)
        stack += [child for child in node[1:] if isinstance(child, tuple)]
    return total


#: Elements per block of the DP's inner loop (as in :mod:`chainopt.planners`).
_BLOCK = 1 << 17

#: Tie order of the last operation on a subchain: adjoints, tangents, multiply.
_KINDS = ("adjoints", "tangents", "multiply")


def _preaccumulations(n, t, a):
    """(cost, how) of preaccumulating each elemental, adjoints on ties."""
    return [(n[i] * a[i - 1], "adjoint") if n[i] * a[i - 1] <= n[i - 1] * t[i - 1]
            else (n[i - 1] * t[i - 1], "tangent") for i in range(1, len(n))]


def _arrays(n, t, a):
    """Widths and prefix sums of T and A as arrays: int64 when no value the DP
    compares can reach 2**62, else exact Python ints."""
    width = max(n)
    bound = 2 * width * (sum(t) + sum(a)) + width**3
    dtype = np.int64 if bound < 2**62 else object
    prefix = [np.concatenate(([0], np.cumsum(np.array(c, dtype=dtype)))) for c in (t, a)]
    return np.array(n, dtype=dtype), prefix[0], prefix[1]


def _candidates(tables, rows: slice, span: int, n, t_sum, a_sum):
    """Costs of the three last operations on layers ``x+1 .. x+1+span`` for
    every ``x`` in ``rows`` and split ``s`` (``k = x+1+s``): rows × span each."""
    by_start, by_end = tables
    layers = len(by_start)
    x, stop = rows.start, rows.stop
    lower = by_start[rows, :span]  # best(i, k)
    upper = by_end[x + span : stop + span, layers - span :]  # best(k+1, j)
    n_first, n_last = n[x:stop, None], n[x + span + 1 : stop + span + 1, None]
    a_mid = sliding_window_view(a_sum[1:], span)[x:stop]
    t_mid = sliding_window_view(t_sum[1:], span)[x:stop]
    n_mid = sliding_window_view(n[1:], span)[x:stop]
    adjoints = upper + n_last * (a_mid - a_sum[x:stop, None])
    tangents = lower + n_first * (t_sum[x + span + 1 : stop + span + 1, None] - t_mid)
    multiply = upper + lower + (n_first * n_last) * n_mid
    return adjoints, tangents, multiply


def _choose(candidates):
    """Per row: (cost, kind, split) of the cheapest, ties to the earlier kind, then
    the smallest split."""
    splits = np.stack([c.argmin(axis=1) for c in candidates])
    picked = np.arange(splits.shape[1])
    costs = np.stack([c[picked, s] for c, s in zip(candidates, splits)])
    kind = costs.argmin(axis=0)
    return costs[kind, picked], kind, splits[kind, picked]


def _solve(n, t, a):
    """The DP over subchains; returns the tables (by_start, kind, split).

    ``by_start[x, span]`` is the cheapest accumulation of layers
    ``x+1 .. x+1+span``, ``kind`` and ``split`` its last operation
    (an index into :data:`_KINDS`, and ``k − i``).
    """
    layers = len(n) - 1
    n_arr, t_sum, a_sum = _arrays(n, t, a)
    dtype = n_arr.dtype
    by_start, by_end = np.zeros((layers, layers), dtype), np.zeros((layers, layers), dtype)
    kind, split = np.zeros((layers, layers), np.intp), np.zeros((layers, layers), np.intp)
    own = [cost for cost, _ in _preaccumulations(n, t, a)]
    by_start[:, 0] = own
    by_end[:, layers - 1] = own
    for span in range(1, layers):
        step = max(1, _BLOCK // span)
        for x in range(0, layers - span, step):
            rows = slice(x, min(layers - span, x + step))
            cost, kind[rows, span], split[rows, span] = _choose(
                _candidates((by_start, by_end), rows, span, n_arr, t_sum, a_sum))
            by_start[rows, span] = cost
            by_end[rows.start + span : rows.stop + span, layers - 1 - span] = cost
    return by_start, kind, split


def _schedule(kind, split, hows, first: int, last: int) -> Schedule:
    """The schedule for layers ``first .. last`` from the DP's choices (iterative)."""
    done: list[Schedule] = []
    stack = [(first, last, False)]
    while stack:
        i, j, ready = stack.pop()
        if i == j:
            done.append(("preaccumulate", i, hows[i - 1]))
            continue
        op, k = _KINDS[kind[i - 1, j - i]], i + int(split[i - 1, j - i])
        if not ready:
            stack.append((i, j, True))
            if op != "tangents":
                stack.append((k + 1, j, False))
            if op != "adjoints":
                stack.append((i, k, False))
        elif op == "adjoints":
            done.append(("adjoints", done.pop(), i, k))
        elif op == "tangents":
            done.append(("tangents", done.pop(), k + 1, j))
        else:
            upper, lower = done.pop(), done.pop()
            done.append(("multiply", upper, lower))
    return done[0]


def _homogeneous(layers: int, how: str) -> Schedule:
    if how == "adjoint":
        seed = ("preaccumulate", layers, "adjoint")
        return seed if layers == 1 else ("adjoints", seed, 1, layers - 1)
    seed = ("preaccumulate", 1, "tangent")
    return seed if layers == 1 else ("tangents", seed, 2, layers)


class Operation(NamedTuple):
    """One operation of a matrix-free schedule, in execution order.

    ``result`` is ``"G{number}"``, the accumulated ``J_{last..first}``;
    ``operands`` name earlier results; ``vectors`` is how many tangents
    or adjoints are pushed (0 for a multiplication).
    """

    number: int
    kind: str
    first: int
    last: int
    operands: tuple[str, ...]
    layers: tuple[int, ...]
    vectors: int
    shape: tuple[int, int]
    cost: int

    @property
    def result(self) -> str:
        return f"G{self.number}"


def _operations(schedule: Schedule, n, t, a) -> list[Operation]:
    """Flatten a schedule into operations (post-order, without recursion)."""
    out: list[Operation] = []
    names: list[str] = []
    stack: list[tuple[Schedule, bool]] = [(schedule, False)]
    while stack:
        node, ready = stack.pop()
        children = [c for c in node[1:] if isinstance(c, tuple)]
        if not ready:
            stack.append((node, True))
            stack += [(c, False) for c in reversed(children)]
            continue
        operands = tuple(names.pop() for _ in children)[::-1]
        first, last = _span(node)
        op = node[0]
        layers: tuple[int, ...] = ()
        vectors = 0
        if op == "preaccumulate":
            layers, vectors = (node[1],), n[first - 1] if node[2] == "tangent" else n[last]
        elif op == "tangents":
            layers, vectors = tuple(range(node[2], node[3] + 1)), n[first - 1]
        elif op == "adjoints":
            layers, vectors = tuple(range(node[3], node[2] - 1, -1)), n[last]
        kind = f"preaccumulate by {node[2]}s" if op == "preaccumulate" else op
        out.append(Operation(len(out) + 1, kind, first, last, operands, layers, vectors,
                             (n[last], n[first - 1]), _step_cost(node, n, t, a)))
        names.append(out[-1].result)
    return out


@dataclasses.dataclass(frozen=True, eq=False)
class MatrixFreePlan:
    """The cheapest matrix-free schedule for a Jacobian chain, with baselines.

    Build it with :func:`plan_matrix_free`.

    Attributes
    ----------
    widths, tangent_costs, adjoint_costs : tuple of int
        ``n_0 … n_L``, ``T_1 … T_L`` and ``A_1 … A_L``.
    cost : int
        The optimum.
    schedule : tuple
        The optimal schedule as a nested tuple (see :data:`Schedule`).
    forward_cost, reverse_cost : int
        Homogeneous forward mode ``n_0·ΣT`` and reverse mode ``n_L·ΣA``.
    preaccumulate_cost : int
        Preaccumulate every elemental (the cheaper of tangents and
        adjoints each), then multiply in the optimal order.
    """

    widths: tuple[int, ...]
    tangent_costs: tuple[int, ...]
    adjoint_costs: tuple[int, ...]
    cost: int
    schedule: Schedule
    forward_cost: int
    reverse_cost: int
    preaccumulate_cost: int

    @property
    def mode(self) -> str:
        """``"reverse"``, ``"forward"`` or ``"mixed"``, ties to reverse then forward."""
        return mode_name(self.cost, self.forward_cost, self.reverse_cost)

    @functools.cached_property
    def operations(self) -> tuple[Operation, ...]:
        """The schedule's operations in execution order."""
        t, a = (0, *self.tangent_costs), (0, *self.adjoint_costs)
        return tuple(_operations(self.schedule, self.widths, t, a))

    def to_dict(self) -> dict[str, Any]:
        """Everything :meth:`__str__` shows, as JSON-ready objects."""
        fields = ("widths", "tangent_costs", "adjoint_costs")
        data: dict[str, Any] = {f: list(getattr(self, f)) for f in fields}
        data.update(cost=self.cost, mode=self.mode, forward_cost=self.forward_cost,
                    reverse_cost=self.reverse_cost,
                    preaccumulate_cost=self.preaccumulate_cost,
                    operations=[_operation_dict(op) for op in self.operations])
        return data

    def __str__(self) -> str:
        return explain_matrix_free(self)

    def execute(self, net: Network, x: ArrayLike) -> np.ndarray:
        """The ``n_L × n_0`` Jacobian of ``net`` at ``x``, by this schedule.

        Elementals are touched only through their ``tangent`` and
        ``adjoint`` functions; accumulated subchains are multiplied with
        :func:`numpy.dot`.
        """
        return self.execute_counting(net, x)[0]

    def execute_counting(self, net: Network, x: ArrayLike) -> tuple[np.ndarray, int]:
        """:meth:`execute`, also returning the multiply-adds the layers performed.

        Each tangent or adjoint of layer ``i`` is counted as its ``nnz``,
        and a product of accumulated subchains as ``m·k·n``; with
        ``T = A = net.nnz`` the count equals :attr:`cost`.
        """
        if not isinstance(net, Network) or net.widths != self.widths:
            got = getattr(net, "widths", type(net).__name__)
            raise ChainError(
                f"the plan is for widths {self.widths}; got a network with widths {got}")
        inputs = net.inputs(x)
        values: dict[str, np.ndarray] = {}
        count = 0
        for op in self.operations:
            value, used = _run(op, net.layers, inputs, values)
            values[op.result] = value
            count += used
        return values[self.operations[-1].result], count


def _layer_range(first: int, last: int) -> str:
    return f"J{first}" if first == last else f"J{last}⋯J{first}"


def _operation_text(op: Operation) -> str:
    s = "" if op.vectors == 1 else "s"
    if op.kind.startswith("preaccumulate"):
        how = op.kind.rsplit(" ", 1)[1][:-1]
        return f"J{op.first} by {op.vectors:,} {how}{s}"
    if op.kind == "multiply":
        return f"{op.operands[0]} · {op.operands[1]}"
    run = _layer_range(min(op.layers), max(op.layers))
    if op.kind == "tangents":
        return f"{run} · {op.operands[0]}: {op.vectors:,} tangent{s} through {run}"
    return f"{op.operands[0]} · {run}: {op.vectors:,} adjoint{s} through {run}"


def explain_matrix_free(plan: MatrixFreePlan) -> str:
    """The text ``str(plan)`` shows.

    Examples
    --------
    >>> print(plan_matrix_free([4, 4, 1, 4, 4], [16, 4, 4, 16], [16, 4, 4, 16]))
    Matrix-free Jacobian of 4 → 4 → 1 → 4 → 4 (4 elementals)
    Tangent costs T: 16, 4, 4, 16; adjoint costs A: 16, 4, 4, 16
    Forward mode  n0·ΣT: 160 (2.86× the optimum)
    Reverse mode  nL·ΣA: 160 (2.86× the optimum)
    Preaccumulate all, then multiply: 184 (3.29× the optimum)
    Optimum: 56, mixed
    Operations (cost):
        1. G1 = J3 by 1 tangent   → J3 4×1   4
        2. G2 = J4 · G1: 1 tangent through J4   → J4⋯J3 4×1   16
        3. G3 = J2 by 1 adjoint   → J2 1×4   4
        4. G4 = G3 · J1: 1 adjoint through J1   → J2⋯J1 1×4   16
        5. G5 = G2 · G4   → J4⋯J1 4×4   16
    """
    def ratio(cost: int) -> str:
        return f"{times(cost, plan.cost)} the optimum"

    lines = [
        f"Matrix-free Jacobian of {' → '.join(map(str, plan.widths))} "
        f"({len(plan.widths) - 1} elementals)",
        f"Tangent costs T: {', '.join(map(str, plan.tangent_costs))}; "
        f"adjoint costs A: {', '.join(map(str, plan.adjoint_costs))}",
        f"Forward mode  n0·ΣT: {plan.forward_cost:,} ({ratio(plan.forward_cost)})",
        f"Reverse mode  nL·ΣA: {plan.reverse_cost:,} ({ratio(plan.reverse_cost)})",
        f"Preaccumulate all, then multiply: {plan.preaccumulate_cost:,} "
        f"({ratio(plan.preaccumulate_cost)})",
        f"Optimum: {plan.cost:,}, {plan.mode}",
        "Operations (cost):",
    ]
    for op in plan.operations:
        rows, cols = op.shape
        lines.append(f"  {op.number:>3}. {op.result} = {_operation_text(op)}"
                     f"   → {_layer_range(op.first, op.last)} {rows}×{cols}   {op.cost:,}")
    return "\n".join(lines)


def _operation_dict(op: Operation) -> dict[str, Any]:
    data = op._asdict()
    data.update(result=op.result, operands=list(op.operands), layers=list(op.layers),
                shape=list(op.shape))
    return data


def _run(op: Operation, layers, inputs, values) -> tuple[np.ndarray, int]:
    """Perform one operation; return its result and the multiply-adds used."""
    if op.kind == "multiply":
        upper, lower = (values.pop(name) for name in op.operands)
        return np.dot(upper, lower), upper.shape[0] * upper.shape[1] * lower.shape[1]
    if op.kind == "preaccumulate by tangents":
        (i,) = op.layers
        layer = layers[i - 1]
        return layer.tangent(inputs[i - 1], np.eye(layer.n_in)), layer.n_in * layer.nnz
    if op.kind == "preaccumulate by adjoints":
        (i,) = op.layers
        layer = layers[i - 1]
        return layer.adjoint(inputs[i - 1], np.eye(layer.n_out)), layer.n_out * layer.nnz
    first, last = min(op.layers), max(op.layers)
    return propagate(layers[first - 1:last], inputs[first - 1:last],
                     values.pop(op.operands[0]), op.kind)


def plan_matrix_free(
    widths: Sequence[int],
    tangent_costs: Sequence[int],
    adjoint_costs: Sequence[int],
) -> MatrixFreePlan:
    """Schedule a Jacobian chain from tangent and adjoint models, exactly.

    Parameters
    ----------
    widths : sequence of int
        ``n_0, …, n_L``.
    tangent_costs, adjoint_costs : sequence of int
        ``T_1 … T_L`` and ``A_1 … A_L``: the cost of one tangent (one
        Jacobian-vector product) and one adjoint (one vector-Jacobian
        product) of each elemental, layer 1 first. ``net.nnz`` gives both
        for a :class:`~chainopt.Network`, in multiply-adds.

    Returns
    -------
    MatrixFreePlan

    Raises
    ------
    ChainError
        For fewer than two widths, cost lists of the wrong length, or a
        width or cost that is not a positive integer.

    Notes
    -----
    ``best(i, j)``, the cheapest accumulation of ``J_j ⋯ J_i``, is
    ``min(n_{i−1}·T_i, n_i·A_i)`` for ``i = j`` and otherwise the minimum
    over ``i ≤ k < j`` of ``best(k+1, j) + n_j·(A_i + … + A_k)``
    (adjoints), ``best(i, k) + n_{i−1}·(T_{k+1} + … + T_j)`` (tangents) and
    ``best(k+1, j) + best(i, k) + n_j·n_k·n_{i−1}`` (multiply): O(L³) time
    with prefix sums, vectorised with NumPy over every start and ``k`` of
    one subchain length at a time, as the chain DP. Costs are exact: int64
    when no compared value can reach 2**62 (each is at most
    ``2·max(n)·(ΣT + ΣA) + max(n)³``), else Python ints. Ties go to adjoints, then
    tangents, then multiplication, then the smallest ``k``; the plan is
    homogeneous reverse (then forward) mode whenever that is optimal.

    For widths 4, 4, 1, 4, 4 with T = A = nnz (16, 4, 4, 16): forward mode
    costs 4·40 = 160 and reverse 4·40 = 160; preaccumulating all four
    Jacobians (64 + 4 + 4 + 64) and multiplying them (48) costs 184; but
    accumulating ``J_2 J_1`` by one adjoint (4 + 16) and ``J_4 J_3`` by one
    tangent (4 + 16) and multiplying the 4×1 by the 1×4 result (16) costs 56.

    References
    ----------
    .. [1] U. Naumann, "Matrix-free Jacobian chaining", arXiv:2406.11862,
       2024.

    Examples
    --------
    >>> plan = plan_matrix_free([4, 4, 1, 4, 4], [16, 4, 4, 16], [16, 4, 4, 16])
    >>> plan.cost, plan.forward_cost, plan.reverse_cost, plan.mode
    (56, 160, 160, 'mixed')
    >>> [op.kind for op in plan.operations]
    ['preaccumulate by tangents', 'tangents', 'preaccumulate by adjoints', 'adjoints', 'multiply']
    >>> plan.preaccumulate_cost
    184
    """
    widths = as_dimensions(widths, "widths", "width")
    if len(widths) < 2:
        raise ChainError(f"widths must give n_0 and at least n_1; got {list(widths)}")
    layers = len(widths) - 1
    t = _check_costs(tangent_costs, layers, "tangent_costs")
    a = _check_costs(adjoint_costs, layers, "adjoint_costs")
    own = _preaccumulations(widths, t, a)
    by_start, kind, split = _solve(widths, t, a)
    forward, reverse = widths[0] * sum(t), widths[-1] * sum(a)
    hows = [how for _, how in own]
    cost, schedule = pick(reverse=(reverse, _homogeneous(layers, "adjoint")),
                          forward=(forward, _homogeneous(layers, "tangent")),
                          optimal=(int(by_start[0, layers - 1]),
                                   _schedule(kind, split, hows, 1, layers)))
    return MatrixFreePlan(widths, t, a, cost, schedule, forward, reverse,
                          sum(c for c, _ in own) + dp(widths[::-1])[0])

