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
import os
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from .costs import ratio, steps_cost, steps_peak, steps_total, walk_steps
from .dispatch import (
    foreign_library,
    is_foreign,
    multiply,
    reshape,
    shape_result,
    type_name,
)
from .errors import ChainError, ChainTypeError, PlanMismatchError
from .kernels import (
    Diagonal,
    check_gram,
    classify,
    gram_pairs,
    is_gram_step,
    run_kernel,
)
from .planners import (
    EXACT,
    OBJECTIVE_AWARE,
    PLANNERS,
    check_cost,
    check_memory_limit,
    resolve_method,
)
from .trees import Tree, left_to_right, right_to_left, steps_to_tree
from .validation import (
    NUMERIC_KINDS,
    as_chain,
    as_numeric_array,
    check_names,
    check_out,
    check_time_dimensions,
    format_shape,
    known_shape,
)

if TYPE_CHECKING:
    import pandas as pd
    from numpy.typing import ArrayLike

    from .timemodel import TimeModel

__all__ = ["Plan", "Step", "plan_chain"]


class Step(NamedTuple):
    """One pairwise product of a plan.

    ``left`` and ``right`` name the operands: a factor's name, or ``"T3"``
    for the result of step 3. The result of step ``number`` is
    ``"T{number}"``. ``multiplications`` is an exact int. ``kernel`` is
    the routine that runs the product (see :mod:`chainopt.kernels`) and
    ``predicted_time`` its predicted seconds, when the plan has a time model
    (else None).
    """

    number: int
    left: str
    right: str
    left_shape: tuple[int, int]
    right_shape: tuple[int, int]
    shape: tuple[int, int]
    multiplications: int
    kind: str
    kernel: str = "gemm"
    predicted_time: float | None = None

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
    pairs : tuple of (int, int)
        The steps as operand ids: factor ``i`` is ``i``, step ``t``'s
        result is ``n + t`` (see :mod:`chainopt.trees`).
    gram : tuple of int
        Positions ``i`` where factors ``i`` and ``i + 1`` are a Gram pair
        (``X·Xᵀ``), run as a SYRK when multiplied together.
    minimized : str
        What the order minimises: ``"multiplications"``, ``"time"``,
        ``"memory"`` or ``"custom"`` (``plan_chain``'s ``minimize=``, a
        callable kept in :attr:`cost_function`). ``cost`` always counts
        multiplications; :attr:`objective` is the minimised quantity.
    memory_limit : int or None
        The limit on every intermediate (elements) the order respects.
    time_model : TimeModel or None
        The model behind :attr:`predicted_time` and each step's
        ``predicted_time``; set for ``minimize="time"`` or when ``plan_chain``
        got ``time_model=``.
    """

    shapes: tuple[tuple[int, int], ...]
    kinds: tuple[str, ...]
    names: tuple[str, ...]
    pairs: tuple[tuple[int, int], ...]
    cost: int
    method: str
    vector_first: bool = False
    vector_last: bool = False
    gram: tuple[int, ...] = ()
    minimized: str = "multiplications"
    memory_limit: int | None = None
    time_model: TimeModel | None = None
    cost_function: Callable | None = None

    # -- structure --------------------------------------------------------
    @property
    def n(self) -> int:
        """Number of factors."""
        return len(self.shapes)

    @property
    def exact(self) -> bool:
        """True when the order provably minimises :attr:`objective`."""
        if self.n <= 2 or self.method in OBJECTIVE_AWARE:
            return True
        return (self.method in EXACT and self.minimized == "multiplications"
                and "diagonal" not in self.kinds)

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
        times = self._times(self.pairs)
        steps = []
        for number, ((left_id, right_id), (left, right, result, cost), kernel) in enumerate(
            zip(self.pairs, walk_steps(self.shapes, self.kinds, self.pairs), self.kernels),
            start=1,
        ):
            kind = "diagonal" if result.diagonal else "dense"
            steps.append(
                Step(number, labels[left_id], labels[right_id], left.shape,
                     right.shape, result.shape, cost, kind, kernel,
                     None if times is None else times[number - 1])
            )
            labels.append(f"T{number}")
        return tuple(steps)

    @functools.cached_property
    def kernels(self) -> tuple[str, ...]:
        """The kernel of every step (see :mod:`chainopt.kernels`)."""
        gram = frozenset(self.gram)
        return tuple(
            classify(left.rows, left.cols, right.cols, left.diagonal, right.diagonal,
                     is_gram_step(left_id, right_id, self.n, gram))
            for (left_id, right_id), (left, right, _, _) in zip(
                self.pairs, walk_steps(self.shapes, self.kinds, self.pairs))
        )

    def _times(self, order) -> list[float] | None:
        if self.time_model is None:
            return None
        return self.time_model.order_times(self.shapes, self.kinds, order, self.gram)

    @functools.cached_property
    def tree(self) -> Tree:
        """Nested pairs of 0-based factor indices, e.g. ``(0, (1, 2))``.

        A :class:`~chainopt.trees.BinaryTree`: equal to (and hashing as) the
        plain nested tuple, with ``repr``, ``==``, ``hash`` and ``pickle``
        that work at any depth (10⁵ factors left to right included).
        """
        return steps_to_tree(list(self.pairs), self.n)

    @functools.cached_property
    def parenthesization(self) -> str:
        """The order written out, e.g. ``((A(BC))((DE)F))``."""
        sep = "" if all(len(name) == 1 for name in self.names) else " "
        n, parts = self.n, []
        stack: list[int | str] = [n + len(self.pairs) - 1]  # operand ids; strings are text
        while stack:  # a loop, not recursion, and linear in the text (deep plans)
            node = stack.pop()
            if isinstance(node, str):
                parts.append(node)
            elif node < n:
                parts.append(self.names[node])
            else:
                left, right = self.pairs[node - n]
                parts.append("(")
                stack += [")", right, sep, left]
        return "".join(parts)

    # -- baselines ----------------------------------------------------------
    @functools.cached_property
    def left_to_right_cost(self) -> int:
        """Cost of ``((AB)C)…``: NumPy's ``A @ B @ C``, and reverse mode."""
        return steps_cost(self.shapes, self.kinds, left_to_right(self.n))

    @functools.cached_property
    def right_to_left_cost(self) -> int:
        """Cost of ``A(B(C…))``: the order of forward mode."""
        return steps_cost(self.shapes, self.kinds, right_to_left(self.n))

    @property
    def left_to_right_speedup(self) -> float:
        """``left_to_right_cost / cost``."""
        return ratio(self.left_to_right_cost, self.cost)

    @property
    def right_to_left_speedup(self) -> float:
        """``right_to_left_cost / cost``."""
        return ratio(self.right_to_left_cost, self.cost)

    @property
    def flops(self) -> int:
        """Floating-point operations, counted as 2 × multiplications."""
        return 2 * self.cost

    @functools.cached_property
    def largest_intermediate(self) -> Step | None:
        """The step whose result (not the final product) is largest."""
        inner = self.steps[:-1]
        return max(inner, key=lambda step: step.elements) if inner else None

    @property
    def peak_elements(self) -> int:
        """Elements of the largest intermediate (0 without one).

        The inputs and the final product are the same for every order and
        are not counted; a diagonal intermediate counts its diagonal.
        """
        return steps_peak(self.shapes, self.kinds, self.pairs)

    # -- predicted time and the objective -------------------------------------
    @functools.cached_property
    def predicted_time(self) -> float | None:
        """Predicted seconds of :meth:`execute` (None without a time model)."""
        times = self._times(self.pairs)
        return None if times is None else float(sum(times))

    @functools.cached_property
    def left_to_right_time(self) -> float | None:
        """Predicted seconds of ``((AB)C)…`` (None without a time model)."""
        times = self._times(left_to_right(self.n))
        return None if times is None else float(sum(times))

    @functools.cached_property
    def right_to_left_time(self) -> float | None:
        """Predicted seconds of ``A(B(C…))`` (None without a time model)."""
        times = self._times(right_to_left(self.n))
        return None if times is None else float(sum(times))

    @property
    def objective(self) -> int | float | None:
        """The quantity the order minimises (see :attr:`minimized`).

        Multiplications (= :attr:`cost`), predicted seconds
        (= :attr:`predicted_time`), elements of the largest intermediate
        (= :attr:`peak_elements`), or the sum of :attr:`cost_function` over
        the steps.
        """
        if self.minimized == "time":
            return self.predicted_time
        if self.minimized == "memory":
            return self.peak_elements
        if self.cost_function is not None:
            return steps_total(self.cost_function, self.shapes, self.kinds, self.pairs)
        return self.cost

    @property
    def order(self) -> tuple[tuple[int, int], ...]:
        """Deprecated: the step pairs, now :attr:`pairs` ("order" names strategies)."""
        warnings.warn("Plan.order is deprecated; use Plan.pairs", DeprecationWarning,
                      stacklevel=2)
        return self.pairs

    @property
    def cost_model(self) -> str:
        """Deprecated: what the order minimises, now :attr:`minimized`."""
        warnings.warn("Plan.minimized is deprecated; use Plan.minimized", DeprecationWarning,
                      stacklevel=2)
        return self.minimized

    @property
    def optimised_for(self) -> str | None:
        """What the planner really minimised.

        :attr:`minimized` for the exact planners ``"dp"`` and ``"brute"``
        (and any chain of at most two factors, which has one order);
        ``"multiplications"`` for ``"approx"`` and ``"hu-shing"``, whatever
        ``minimize`` asked; None for the fixed orders ``"left"`` and ``"right"``.

        Examples
        --------
        >>> shapes = [(2, 3), (3, 4), (4, 5)]
        >>> plan_chain(shapes, minimize="memory").optimised_for
        'memory'
        >>> plan_chain(shapes, method="approx", minimize="memory").optimised_for
        'multiplications'
        """
        if self.method in OBJECTIVE_AWARE or self.n <= 2:
            return self.minimized
        return "multiplications" if self.method in ("approx", "hu-shing") else None

    # -- reports -----------------------------------------------------------
    def to_frame(self) -> pd.DataFrame:
        """The steps as a pandas DataFrame, one row per product."""
        from .explain import plan_frame

        return plan_frame(self)

    def to_dict(self) -> dict[str, Any]:
        """Everything the explanation shows, as JSON-ready Python objects.

        The order is there flat, at any depth: ``"pairs"`` (as :attr:`pairs`;
        :func:`chainopt.trees.steps_to_tree` rebuilds :attr:`tree` from them)
        and ``"steps"``.
        """
        from .explain import plan_dict

        return plan_dict(self)

    def to_json(self, **dumps: Any) -> str:
        """:meth:`to_dict` as strict JSON (floats beyond range as null), at any depth.

        ``json.dumps(plan.tree)`` cannot work for a plan much deeper than
        ``sys.getrecursionlimit()`` levels: the encoder recurses once per
        level of nested JSON arrays, so this holds the order flat instead.
        ``dumps`` go to :func:`json.dumps` (``indent=2``, say).

        Examples
        --------
        >>> import json, chainopt
        >>> from chainopt.trees import steps_to_tree
        >>> plan = chainopt.plan_chain([(10, 100), (100, 5), (5, 50)])
        >>> data = json.loads(plan.to_json())
        >>> data["pairs"], steps_to_tree(data["pairs"], len(data["shapes"])) == plan.tree
        ([[0, 1], [3, 2]], True)
        """
        import json

        from .explain import finite

        return json.dumps(finite(self.to_dict()), allow_nan=False, **dumps)

    def __str__(self) -> str:
        from .explain import explain

        return explain(self)

    def __repr__(self) -> str:
        text = self.parenthesization if self.n <= 26 else f"{self.n} factors"
        extra = "" if self.minimized == "multiplications" else f" for={self.minimized!r}"
        return f"<Plan {text} cost={self.cost} method={self.method!r}{extra}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Plan):
            return NotImplemented
        return (self.shapes, self.kinds, self.pairs) == (other.shapes, other.kinds, other.pairs)

    def __hash__(self) -> int:
        return hash((self.shapes, self.kinds, self.pairs))

    # -- execution ----------------------------------------------------------
    def execute(self, *arrays: ArrayLike, out: np.ndarray | None = None) -> Any:
        """Multiply ``arrays`` in the planned order.

        NumPy arrays run with the plan's kernels (:mod:`chainopt.kernels`).
        Arrays of another library (Dask, JAX, PyTorch, CuPy,
        array-api-strict, scipy.sparse; see :mod:`chainopt.dispatch`) are
        never converted: each step is that library's ``@``, so the result
        is the library's own type, a Dask graph stays lazy and JAX and torch
        differentiate through it.

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
            or the returned shape. NumPy arrays only.

        Returns
        -------
        ndarray or the arrays' own array type
            The product; 1-D ends give 1-D or 0-D results as in multi_dot.

        Raises
        ------
        PlanMismatchError
            If the arrays do not match the planned shapes.
        ChainTypeError
            For ``out=`` with arrays of another library, or two libraries
            whose ``@`` does not take each other's arrays (the message names
            both types).
        """
        values = _prepare_arrays(self, arrays)
        if values is None:  # an array of another library: its own @ runs every step
            return _execute_foreign(self, arrays, out)
        out2d = None if out is None else check_out(out, self.shape, _result_dtype(values))
        last = len(self.pairs) - 1
        for t, ((left, right), kernel) in enumerate(zip(self.pairs, self.kernels)):
            values.append(run_kernel(kernel, values[left], values[right],
                                     out2d if t == last else None))  # out2d checked above
            values[left] = values[right] = None  # free intermediates early
        result = values[-1]
        if isinstance(result, Diagonal):
            result = result.dense()
        if out2d is not None and result is not out2d:
            out2d[...] = result  # a single factor, or a diagonal product
            result = out2d
        result = _shape_result(result, self.vector_first, self.vector_last)
        return out if out is not None and out.shape == np.shape(result) else result

    __call__ = execute


_Diagonal = Diagonal  # the name before chainopt.kernels held it


def _as_diagonal(array: np.ndarray, position: int) -> Diagonal:
    if array.ndim == 1:
        return Diagonal(array)
    d = np.diagonal(array)
    if np.count_nonzero(array) != np.count_nonzero(d):
        raise PlanMismatchError(
            f"array {position} is planned as diagonal but has nonzero entries off "
            f"its diagonal; plan it as 'dense' or pass its diagonal"
        )
    return Diagonal(d)


def _prepare_arrays(plan: Plan, arrays) -> list | None:
    """Check NumPy arrays against the plan; promote 1-D ends; wrap diagonals.

    Returns None, having converted nothing, as soon as it meets an array of
    another library (see :mod:`chainopt.dispatch`).
    """
    if len(arrays) != plan.n:
        raise PlanMismatchError(
            f"the plan is for {plan.n} factors; got {len(arrays)} arrays"
        )
    values: list[np.ndarray | Diagonal] = []
    for i, array in enumerate(arrays):
        if not isinstance(array, np.ndarray) or array.dtype.kind not in NUMERIC_KINDS:
            if is_foreign(array):
                return None
            array = _as_numpy(array, i)
        got = _promoted_shape(array.shape, i, plan)
        if got != plan.shapes[i]:
            _mismatch(plan, i, array.shape)
        if plan.kinds[i] == "diagonal":
            values.append(_as_diagonal(array, i))
        else:
            values.append(array.reshape(got) if array.ndim == 1 else array)
    return values


def _as_numpy(array, i: int) -> np.ndarray:
    if not hasattr(array, "shape") and not isinstance(array, (list, tuple)):
        raise ChainTypeError(
            f"array {i} must be an array; got {type(array).__name__} {array!r:.40}")
    return as_numeric_array(array, f"array {i}")


def _mismatch(plan: Plan, i: int, shape: tuple):
    raise PlanMismatchError(
        f"array {i} has shape {format_shape(shape)} but the plan "
        f"expects factor {i} ({plan.names[i]}) to be "
        f"{format_shape(plan.shapes[i])}; plan again with plan_chain(arrays)"
    )


def _execute_foreign(plan: Plan, arrays, out):
    """Each step is the arrays' own ``@`` (see :mod:`chainopt.dispatch`)."""
    foreign_library(arrays)  # two foreign libraries: an error naming both types
    if out is not None:
        raise ChainTypeError(
            f"out= takes NumPy arrays only; got {type_name(out)} for arrays of another "
            f"library: use the returned {type_name(next(a for a in arrays if is_foreign(a)))}")
    if len(arrays) != plan.n:
        raise PlanMismatchError(f"the plan is for {plan.n} factors; got {len(arrays)} arrays")
    values = [_foreign_operand(plan, i, array) for i, array in enumerate(arrays)]
    for left, right in plan.pairs:
        values.append(multiply(values[left], values[right]))
        values[left] = values[right] = None  # free intermediates early
    return shape_result(values[-1], plan.vector_first, plan.vector_last)


def _foreign_operand(plan: Plan, i: int, array):
    """Array ``i`` of a foreign chain, checked, 1-D ends promoted, diagonals wrapped."""
    if not is_foreign(array):
        array = _as_numpy(array, i)  # a NumPy array or list among foreign arrays
    shape = known_shape(array, i)
    got = _promoted_shape(shape, i, plan)
    if got != plan.shapes[i]:
        _mismatch(plan, i, shape)
    if len(shape) != 1:
        return array
    return Diagonal(array) if plan.kinds[i] == "diagonal" else reshape(array, got)


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


def _result_dtype(values: list) -> np.dtype:
    """The dtype of the product: what ``a @ b`` gives, for every kernel."""
    return np.result_type(*(v.d if isinstance(v, Diagonal) else v for v in values))


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
    minimize: str | Callable = "multiplications",
    memory_limit: int | None = None,
    gram: Sequence[tuple[int, int]] | None = None,
    time_model: TimeModel | str | os.PathLike | None = None,
    cost: str | Callable | None = None,
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
        The planner: ``"dp"`` (exact), ``"hu-shing"`` (exact for the
        multiplications of a dense chain, O(n log n)), ``"approx"`` (Chin's
        O(n) heuristic), ``"brute"``, ``"left"``, ``"right"``, or ``"auto"``:
        exact at every length for the multiplications of a dense chain
        (``"dp"`` for short chains, ``"hu-shing"`` from 10 factors); for
        diagonal factors, ``minimize="time"`` or ``"memory"``, ``"dp"`` up
        to 2000 factors and ``"approx"`` beyond (``plan.exact`` is then False).
    minimize : {"multiplications", "time", "memory"} or callable, default "multiplications"
        What the order minimises. ``"multiplications"``: scalar
        multiplications (the textbook model). ``"time"``: the seconds that
        the time model (``time_model``) predicts for each step's kernel
        (GEMM, GEMV, DOT, SYRK for Gram pairs, scaling for diagonal
        factors). ``"memory"``: the largest intermediate in elements, then
        multiplications. A callable ``f(m, k, n) -> number``: the sum of
        ``f`` over the steps, each an ``(m×k)·(k×n)`` product, minimised
        exactly by the same DP (say, bytes a distributed product moves, or
        a GPU's measured time table); it is called once per distinct
        ``(m, k, n)``. Only ``"dp"`` and ``"brute"`` (and ``"auto"`` up to
        2000 factors) optimise ``"time"``, ``"memory"`` and callables;
        ``"hu-shing"`` and ``"approx"`` always minimise multiplications of
        dense factors.
    memory_limit : int, optional
        Exclude orders with an intermediate of more than this many elements
        (the inputs and the final product do not count; a diagonal
        intermediate counts its diagonal). Works with every ``cost``.
    gram : sequence of (i, i + 1) pairs, optional
        Declares that factor ``i + 1`` is the transpose of factor ``i``
        (``XᵀX`` or ``XXᵀ``), for planning from shapes. With arrays, a
        factor that is a transposed view of its neighbour (``A.T`` next to
        ``A``) is found without declaring it. Gram pairs run as a SYRK (about
        half the work of a general product), which ``minimize="time"`` accounts
        for; multiplications still count a Gram product as ``m·k·n``.
    time_model : TimeModel or path, optional
        The model for ``minimize="time"`` (default: :func:`chainopt.timemodel.load_model`:
        ``$CHAINOPT_TIME_MODEL``, else this machine's ``chainopt calibrate``
        cache, else the documented default). With another ``cost``, given a
        model the plan also reports predicted times.
    cost : str, optional
        Deprecated spelling of ``minimize`` (``plan.cost`` is always the
        multiplications, whatever is minimised).

    Returns
    -------
    Plan
        ``plan.cost`` is always the multiplications of the chosen order;
        ``plan.objective`` is the minimised quantity and
        ``plan.predicted_time`` the predicted seconds (with a time model).

    Raises
    ------
    ChainError
        For an empty chain, non-positive, fractional or NaN dimensions,
        inner arrays that are not 2-D, or neighbours whose inner dimensions
        differ (the message names the factor's position and shape); for a
        bad ``cost``, ``memory_limit`` or Gram pair; and when no order fits
        ``memory_limit`` (the message gives the smallest achievable largest
        intermediate).
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
    equally cheap orders the DP takes the leftmost outermost split,
    recursively (CLRS's smallest ``k``), which is also NumPy's choice;
    Hu–Shing [2]_ [3]_ (``"auto"`` from 10 dense factors) finds the same
    cost in O(n log n) and breaks ties by its own documented rule (see
    :mod:`chainopt.hushing`).

    For ``A: 10×100``, ``B: 100×5``, ``C: 5×50``: ``(AB)C`` costs
    10·100·5 + 10·5·50 = 7,500 and ``A(BC)`` costs 100·5·50 + 10·100·50 =
    75,000, ten times more. Its largest intermediate is ``AB``, 10×5 = 50
    elements, against 100×50 = 5,000 for ``BC``.

    References
    ----------
    .. [1] Cormen, Leiserson, Rivest and Stein, "Introduction to
       Algorithms", 3rd ed., section 15.2.
    .. [2] T. C. Hu and M. T. Shing, "Computation of matrix chain
       products", Part I, SIAM J. Comput. 11(2), 1982; Part II, 13(2), 1984.
    .. [3] O. Schwartz and E. Weiss, "Revisiting 'Computation of matrix
       chain products'", SIAM J. Comput. 48(5), 2019.

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

    Minimising memory, or multiplications within a memory limit:

    >>> shapes = [(10, 100), (100, 5), (5, 50)]
    >>> chainopt.plan_chain(shapes, minimize="memory").peak_elements
    50

    A cost of your own, here the elements each product reads and writes:

    >>> moved = lambda m, k, n: m * k + k * n + m * n
    >>> plan = chainopt.plan_chain(shapes, minimize=moved)
    >>> plan.parenthesization, plan.objective
    ('((AB)C)', 2350)
    >>> chainopt.plan_chain(shapes, memory_limit=40)
    Traceback (most recent call last):
    ...
    chainopt.errors.ChainError: no order keeps every intermediate within \
memory_limit=40 elements; the smallest achievable largest intermediate is 50 \
elements; raise memory_limit to at least 50
    """
    chain = as_chain(shapes, kinds)
    n = len(chain.shapes)
    names = check_names(names, n, default_names(n))
    cost = check_cost(_minimize_argument(minimize, cost))
    memory_limit = check_memory_limit(memory_limit)
    gram_pairs = tuple(sorted(set(check_gram(gram, chain.shapes, chain.kinds))
                              | set(_found_gram(shapes, chain.kinds))))
    model = None
    if cost == "time" or time_model is not None:
        from .timemodel import load_model  # the model store's I/O only when needed

        check_time_dimensions(chain.dims)
        model = load_model(time_model)
    method = resolve_method(method, n, dense="diagonal" not in chain.kinds, cost=cost,
                            memory_limit=memory_limit)
    pairs = _plan_order(chain, method, cost, memory_limit, gram_pairs, model)
    return Plan(
        shapes=chain.shapes,
        kinds=chain.kinds,
        names=names,
        pairs=tuple(pairs),
        cost=int(steps_cost(chain.shapes, chain.kinds, pairs)),
        method=method,
        vector_first=chain.vector_first,
        vector_last=chain.vector_last,
        gram=gram_pairs,
        minimized=cost if isinstance(cost, str) else "custom",
        memory_limit=memory_limit,
        time_model=model,
        cost_function=None if isinstance(cost, str) else cost,
    )


def _minimize_argument(minimize: str | Callable, cost: str | Callable | None):
    """``minimize=``, or the deprecated ``cost=`` spelling of it."""
    if cost is None:
        return minimize
    if minimize != "multiplications":
        raise ChainTypeError(f"give minimize= only (cost= is its deprecated spelling); "
                             f"got minimize={minimize!r} and cost={cost!r}")
    warnings.warn("plan_chain(cost=...) is deprecated; use minimize=...", DeprecationWarning,
                  stacklevel=3)
    return cost


def _found_gram(shapes, kinds) -> tuple[int, ...]:
    """Gram pairs among arrays (transposed views of their neighbours)."""
    if isinstance(shapes, np.ndarray) or not isinstance(shapes, Sequence):
        return ()
    return gram_pairs(shapes, kinds)


def _plan_order(chain, method: str, cost: str | Callable, memory_limit, gram, model):
    """Run the planner; orders it does not optimise are checked against the limit."""
    if method in OBJECTIVE_AWARE:
        planner: Any = PLANNERS[method]  # the objective-aware ones take these keywords
        _, order = planner(chain.dims, chain.kinds, cost=cost, memory_limit=memory_limit,
                           gram=gram, model=model)
        return order
    _, order = PLANNERS[method](chain.dims, chain.kinds)
    if memory_limit is not None:
        peak = steps_peak(chain.shapes, chain.kinds, order)
        if peak > memory_limit:
            raise ChainError(
                f"the order of method={method!r} has an intermediate of {peak:,} elements, "
                f"over memory_limit={memory_limit:,}; use method='dp' to respect the limit"
            )
    return order
