"""The Plan: a bracketing chosen from shapes alone, explained and executed.

:func:`plan_chain` validates a chain, runs a planner and returns an
immutable :class:`Plan`. A plan knows its cost against the two naive
orders, explains itself as text, a DataFrame or a dict, and multiplies
arrays in its order with :meth:`Plan.execute` (iteratively, so chains of
any length work). Plans are reusable: plan once, execute many times.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from .costs import walk_steps
from .errors import ChainError, ChainTypeError, PlanMismatchError
from .planners import EXACT, PLANNERS, resolve_method
from .shapes import as_chain, format_shape
from .trees import left_to_right, right_to_left, steps_to_tree

__all__ = ["Plan", "Step", "plan_chain"]


class Step(NamedTuple):
    """One pairwise product of a plan.

    ``left`` and ``right`` name the operands: a factor's name, or ``"T3"``
    for the result of step 3. The result of step ``number`` is
    ``"T{number}"``. ``multiplications`` is an exact int.
    """

    number: int
    left: str
    right: str
    left_shape: tuple[int, int]
    right_shape: tuple[int, int]
    shape: tuple[int, int]
    multiplications: int
    kind: str

    @property
    def result(self) -> str:
        return f"T{self.number}"

    @property
    def elements(self) -> int:
        """Elements of the result (as stored: n for a diagonal result)."""
        rows, cols = self.shape
        return rows if self.kind == "diagonal" else rows * cols


def default_names(n: int) -> tuple[str, ...]:
    """A, B, C, … for up to 26 factors, else A1 … An.

    Examples
    --------
    >>> default_names(3)
    ('A', 'B', 'C')
    >>> default_names(27)[-1]
    'A27'
    """
    if n <= 26:
        return tuple(chr(ord("A") + i) for i in range(n))
    return tuple(f"A{i + 1}" for i in range(n))


def _check_names(names: Sequence[str] | None, n: int) -> tuple[str, ...]:
    if names is None:
        return default_names(n)
    if isinstance(names, str):
        names = tuple(names) if len(names) == n else (names,)
    names = tuple(names)
    if len(names) != n:
        raise ChainError(f"names has {len(names)} entries for {n} factors; give one per factor")
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name:
            raise ChainTypeError(f"names[{i}] must be a non-empty string; got {name!r}")
    return names


def _ratio(baseline: int, cost: int) -> float:
    return float(baseline / cost) if cost else 1.0


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Plan:
    """An order of multiplication for a chain, with its costs.

    Build plans with :func:`plan_chain`; do not call this constructor.

    Attributes
    ----------
    shapes : tuple of (int, int)
        The 2-D shape of every factor (1-D ends promoted as in multi_dot).
    kinds : tuple of str
        ``"dense"`` or ``"diagonal"`` per factor.
    names : tuple of str
        The factors' names used in explanations.
    cost : int
        Scalar multiplications of the planned order (exact).
    method : str
        The planner that chose the order; ``exact`` says if it is optimal.
    order : tuple of (int, int)
        The steps as operand ids: factor ``i`` is ``i``, step ``t``'s
        result is ``n + t`` (see :mod:`chainopt.trees`).
    """

    shapes: tuple[tuple[int, int], ...]
    kinds: tuple[str, ...]
    names: tuple[str, ...]
    order: tuple[tuple[int, int], ...]
    cost: int
    method: str
    vector_first: bool = False
    vector_last: bool = False

    # -- structure --------------------------------------------------------
    @property
    def n(self) -> int:
        """Number of factors."""
        return len(self.shapes)

    @property
    def exact(self) -> bool:
        """True when ``cost`` is the proven optimum."""
        return self.method in EXACT or self.n <= 2

    @property
    def dims(self) -> tuple[int, ...]:
        """The n+1 boundary dimensions (CLRS's ``p``)."""
        return tuple(r for r, _ in self.shapes) + (self.shapes[-1][1],)

    @property
    def shape(self) -> tuple[int, int]:
        """Shape of the (2-D) product."""
        return (self.shapes[0][0], self.shapes[-1][1])

    @functools.cached_property
    def steps(self) -> tuple[Step, ...]:
        """The pairwise products in execution order."""
        labels = list(self.names)
        steps = []
        for number, ((left_id, right_id), (left, right, result, cost)) in enumerate(
            zip(self.order, walk_steps(self.shapes, self.kinds, self.order)), start=1
        ):
            kind = "diagonal" if result.diagonal else "dense"
            steps.append(
                Step(number, labels[left_id], labels[right_id], left.shape,
                     right.shape, result.shape, cost, kind)
            )
            labels.append(f"T{number}")
        return tuple(steps)

    @property
    def tree(self):
        """Nested tuples of 0-based factor indices, e.g. ``(0, (1, 2))``."""
        return steps_to_tree(list(self.order), self.n)

    @functools.cached_property
    def parenthesization(self) -> str:
        """The order written out, e.g. ``((A(BC))((DE)F))``."""
        sep = "" if all(len(name) == 1 for name in self.names) else " "
        exprs: list[str | None] = list(self.names)
        for left, right in self.order:
            exprs.append(f"({exprs[left]}{sep}{exprs[right]})")
            exprs[left] = exprs[right] = None  # keep memory linear
        return exprs[-1]

    # -- baselines ----------------------------------------------------------
    @functools.cached_property
    def left_to_right_cost(self) -> int:
        """Cost of ``((AB)C)…``: NumPy's ``A @ B @ C``, and reverse mode."""
        return _order_cost(self, left_to_right(self.n))

    @functools.cached_property
    def right_to_left_cost(self) -> int:
        """Cost of ``A(B(C…))``: the order of forward mode."""
        return _order_cost(self, right_to_left(self.n))

    @property
    def left_to_right_speedup(self) -> float:
        """``left_to_right_cost / cost``."""
        return _ratio(self.left_to_right_cost, self.cost)

    @property
    def right_to_left_speedup(self) -> float:
        """``right_to_left_cost / cost``."""
        return _ratio(self.right_to_left_cost, self.cost)

    @property
    def flops(self) -> int:
        """Floating-point operations, counted as 2 × multiplications."""
        return 2 * self.cost

    @functools.cached_property
    def largest_intermediate(self) -> Step | None:
        """The step whose result (not the final product) is largest."""
        inner = self.steps[:-1]
        return max(inner, key=lambda step: step.elements) if inner else None

    # -- reports -----------------------------------------------------------
    def to_frame(self):
        """The steps as a pandas DataFrame, one row per product."""
        from .explain import plan_frame

        return plan_frame(self)

    def to_dict(self) -> dict[str, Any]:
        """Everything the explanation shows, as JSON-ready Python objects."""
        from .explain import plan_dict

        return plan_dict(self)

    def __str__(self) -> str:
        from .explain import explain

        return explain(self)

    def __repr__(self) -> str:
        text = self.parenthesization if self.n <= 26 else f"{self.n} factors"
        return f"<Plan {text} cost={self.cost} method={self.method!r}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Plan):
            return NotImplemented
        return (self.shapes, self.kinds, self.order) == (other.shapes, other.kinds, other.order)

    def __hash__(self) -> int:
        return hash((self.shapes, self.kinds, self.order))

    # -- execution ----------------------------------------------------------
    def execute(self, *arrays, out: np.ndarray | None = None) -> np.ndarray:
        """Multiply ``arrays`` in the planned order.

        Parameters
        ----------
        *arrays : array_like
            One array per factor, matching the planned shapes. A 1-D first
            (last) array is a row (column) vector, as in
            :func:`numpy.linalg.multi_dot`; a diagonal factor may be given
            as its 1-D diagonal or as a square matrix.
        out : ndarray, optional
            Where to write the final product, as for :func:`numpy.dot`:
            C-contiguous, of the result's dtype and of the 2-D result shape
            or the returned shape.

        Returns
        -------
        ndarray
            The product; 1-D ends give 1-D or 0-D results as in multi_dot.

        Raises
        ------
        PlanMismatchError
            If the arrays do not match the planned shapes.
        """
        values = _prepare_arrays(self, arrays)
        out2d = _out_2d(out, self.shape)
        last = len(self.order) - 1
        for t, (left, right) in enumerate(self.order):
            values.append(_multiply(values[left], values[right], out2d if t == last else None))
            values[left] = values[right] = None  # free intermediates early
        result = values[-1]
        if isinstance(result, _Diagonal):
            result = result.dense()
        if out2d is not None and result is not out2d:
            out2d[...] = result  # a single factor, or a diagonal product
            result = out2d
        return _shape_result(result, self.vector_first, self.vector_last)

    __call__ = execute


def _order_cost(plan: Plan, order) -> int:
    return sum(cost for *_, cost in walk_steps(plan.shapes, plan.kinds, order))


class _Diagonal:
    """A diagonal factor held as its diagonal during execution."""

    __slots__ = ("d",)

    def __init__(self, d: np.ndarray):
        self.d = d

    def dense(self) -> np.ndarray:
        return np.diag(self.d)


def _multiply(a, b, out=None):
    """One step: dense·dense runs :func:`numpy.dot`; diagonals scale."""
    a_diag, b_diag = isinstance(a, _Diagonal), isinstance(b, _Diagonal)
    if a_diag and b_diag:
        return _Diagonal(a.d * b.d)
    if a_diag:
        return np.multiply(a.d[:, None], b, out=out)
    if b_diag:
        return np.multiply(a, b.d[None, :], out=out)
    return np.dot(a, b, out=out)


def _as_diagonal(array: np.ndarray, position: int) -> _Diagonal:
    if array.ndim == 1:
        return _Diagonal(array)
    d = np.diagonal(array)
    if np.count_nonzero(array) != np.count_nonzero(d):
        raise PlanMismatchError(
            f"array {position} is planned as diagonal but has nonzero entries off "
            f"its diagonal; plan it as 'dense' or pass its diagonal"
        )
    return _Diagonal(d)


def _prepare_arrays(plan: Plan, arrays) -> list:
    """Check arrays against the plan; promote 1-D ends; wrap diagonals."""
    if len(arrays) != plan.n:
        raise PlanMismatchError(
            f"the plan is for {plan.n} factors; got {len(arrays)} arrays"
        )
    values = []
    for i, array in enumerate(arrays):
        array = np.asanyarray(array)
        got = _promoted_shape(array.shape, i, plan)
        if got != plan.shapes[i]:
            raise PlanMismatchError(
                f"array {i} has shape {format_shape(array.shape)} but the plan "
                f"expects factor {i} ({plan.names[i]}) to be "
                f"{format_shape(plan.shapes[i])}; plan again with plan_chain(arrays)"
            )
        if plan.kinds[i] == "diagonal":
            values.append(_as_diagonal(array, i))
        else:
            values.append(array.reshape(got) if array.ndim == 1 else array)
    return values


def _promoted_shape(shape: tuple, i: int, plan: Plan) -> tuple:
    if len(shape) != 1:
        return tuple(shape)
    if plan.kinds[i] == "diagonal":
        return (shape[0], shape[0])
    if i == 0 and (plan.vector_first or plan.n == 1):
        return (1, shape[0])
    if i == plan.n - 1 and plan.vector_last:
        return (shape[0], 1)
    return tuple(shape)


def _out_2d(out: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray | None:
    if out is None or out.shape == shape:
        return out
    if out.size == shape[0] * shape[1] and out.ndim < 2 and out.flags.c_contiguous:
        return out.reshape(shape)
    raise PlanMismatchError(
        f"out has shape {format_shape(out.shape)}; the product is {format_shape(shape)}"
    )


def _shape_result(result: np.ndarray, vector_first: bool, vector_last: bool):
    if vector_first and vector_last:
        return result[0, 0]
    if vector_first or vector_last:
        return result.ravel()
    return result


def plan_chain(
    shapes: Sequence,
    *,
    names: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
    method: str = "auto",
) -> Plan:
    """Find the cheapest order in which to multiply a chain of matrices.

    Think of it as planning ``functools.reduce(np.matmul, arrays)`` from the
    shapes alone: the result is an immutable :class:`Plan` that explains the
    order and executes it.

    Parameters
    ----------
    shapes : sequence of (rows, cols) pairs or of arrays
        The factors, in product order. For arrays their ``.shape`` is used.
        A 1-D first entry is a row vector and a 1-D last entry a column
        vector, as in :func:`numpy.linalg.multi_dot`.
    names : sequence of str, optional
        Names for the explanation; A, B, C, … (or A1 … An beyond 26).
    kinds : sequence of {"dense", "diagonal"}, optional
        Structure of each factor (default all dense). A diagonal factor
        multiplies each entry of its partner once, so ``diag·dense`` costs
        ``rows·cols``, and ``diag·diag`` costs ``n``.
    method : str, default "auto"
        The planner: ``"dp"`` (exact), ``"approx"`` (Chin's O(n)
        heuristic), ``"brute"``, ``"left"``, ``"right"``, or ``"auto"``
        (``"dp"`` up to 2000 factors, ``"approx"`` beyond).

    Returns
    -------
    Plan

    Raises
    ------
    ChainError
        For an empty chain, non-positive, fractional or NaN dimensions,
        inner arrays that are not 2-D, or neighbours whose inner dimensions
        differ. The message names the factor's position and shape.
    ChainTypeError
        (also a ``TypeError``) for objects that are not shapes or arrays.

    See Also
    --------
    chainopt.multi_dot : plan and execute in one call, like NumPy's.

    Notes
    -----
    Cost is the number of scalar multiplications: ``m·k·n`` for an
    ``(m×k)(k×n)`` product, as in CLRS [1]_. The DP is exact: costs are
    Python ints (int64 is used only where no sum can overflow). Among
    equally cheap orders, the outermost split is the leftmost possible,
    recursively (CLRS's smallest ``k``), which is also NumPy's choice.

    For ``A: 10×100``, ``B: 100×5``, ``C: 5×50``: ``(AB)C`` costs
    10·100·5 + 10·5·50 = 7,500 and ``A(BC)`` costs 100·5·50 + 10·100·50 =
    75,000, ten times more.

    References
    ----------
    .. [1] Cormen, Leiserson, Rivest and Stein, "Introduction to
       Algorithms", 3rd ed., section 15.2.

    Examples
    --------
    >>> import chainopt
    >>> plan = chainopt.plan_chain([(30, 35), (35, 15), (15, 5), (5, 10),
    ...                             (10, 20), (20, 25)])
    >>> plan.cost
    15125
    >>> plan.parenthesization
    '((A(BC))((DE)F))'
    >>> plan.tree
    ((0, (1, 2)), ((3, 4), 5))
    >>> plan.left_to_right_cost, plan.right_to_left_cost
    (40500, 47500)
    """
    chain = as_chain(shapes, kinds)
    names = _check_names(names, len(chain.shapes))
    method = resolve_method(method, len(chain.shapes))
    cost, order = PLANNERS[method](chain.dims, chain.kinds)
    return Plan(
        shapes=chain.shapes,
        kinds=chain.kinds,
        names=names,
        order=tuple(order),
        cost=int(cost),
        method=method,
        vector_first=chain.vector_first,
        vector_last=chain.vector_last,
    )
