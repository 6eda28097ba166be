"""Jacobian chains: forward mode is A(BC), reverse mode is (AB)C.

The Jacobian of ``x_0 → x_1 → … → x_L`` (widths ``n_0, …, n_L``) is the
chain ``J_L ⋯ J_2 J_1``, ``J_i`` of shape ``n_i × n_{i−1}``.

- Forward mode pushes the columns of ``J_1`` through ``J_2, …, J_L`` by
  tangents (Jacobian-vector products): ``J_L(⋯(J_3(J_2 J_1)))``, the
  chain's right-to-left order ``A(BC)``.
- Reverse mode pulls the rows of ``J_L`` back through ``J_{L−1}, …, J_1``
  by adjoints (vector-Jacobian products): ``((J_L J_{L−1})⋯)J_1``, the
  left-to-right order ``(AB)C``.
- The optimal accumulation is whatever bracketing the exact DP finds,
  often a mixed one.

:func:`plan_jacobian` plans from the widths (and the structure of each
layer: elementwise layers have diagonal Jacobians); :func:`jacobian`
evaluates a :class:`~chainopt.jacobians.layers.Network`'s Jacobian in any of the
three orders; :func:`forward_sweep` and :func:`reverse_sweep` are the two
modes as tangent and adjoint sweeps that also count their multiplications;
:func:`check_jacobian` compares all of them with central finite
differences, like autograd's ``check_grads``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..costs import times
from ..errors import ChainError, ChainTypeError
from ..plan import Plan, plan_chain
from ..trees import left_to_right, right_to_left
from ..validation import as_dimensions, check_choice, check_kinds, check_out
from .accumulation import program_for, run_program
from .layers import Network, propagate
from .modes import MODES, mode_name, pick
from .tuning import blas_threads

__all__ = [
    "MODES",
    "JacobianPlan",
    "forward_sweep",
    "jacobian",
    "plan_jacobian",
    "reverse_sweep",
    "scalar_reverse_optimal",
]



@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class JacobianPlan(Plan):
    """A :class:`~chainopt.Plan` over ``J_L ⋯ J_1`` that knows the two AD modes.

    Everything a ``Plan`` has, in product order (factor 0 is ``J_L``),
    plus the layer-order view below. Build it with :func:`plan_jacobian`.

    Attributes
    ----------
    widths : tuple of int
        ``n_0, …, n_L``.
    """

    widths: tuple[int, ...] = ()

    @property
    def layer_kinds(self) -> tuple[str, ...]:
        """The kind of ``J_1, …, J_L`` (layer order; ``kinds`` is product order)."""
        return self.kinds[::-1]

    @property
    def forward_cost(self) -> int:
        """Multiplications of forward mode, ``J_L(⋯(J_2 J_1))``: ``A(BC)``."""
        return self.right_to_left_cost

    @property
    def reverse_cost(self) -> int:
        """Multiplications of reverse mode, ``((J_L J_{L−1})⋯)J_1``: ``(AB)C``."""
        return self.left_to_right_cost

    @property
    def mode(self) -> str:
        """``"reverse"``, ``"forward"`` or ``"mixed"``: which order the plan is.

        Ties go to reverse mode, then forward mode: the plan is reverse mode
        whenever reverse mode is optimal, and ``"mixed"`` means strictly
        cheaper than both modes.
        """
        return mode_name(self.cost, self.forward_cost, self.reverse_cost)

    def to_dict(self) -> dict[str, Any]:
        """:meth:`Plan.to_dict` plus widths, mode and the two modes' costs."""
        data = super().to_dict()
        data.update(widths=list(self.widths), layer_kinds=list(self.layer_kinds),
                    mode=self.mode, forward_cost=self.forward_cost,
                    reverse_cost=self.reverse_cost)
        return data

    def __str__(self) -> str:
        return jacobian_header(self) + "\n" + super().__str__()

    def __repr__(self) -> str:
        text = self.parenthesization if self.n <= 26 else f"{self.n} factors"
        return f"<JacobianPlan {text} mode={self.mode!r} cost={self.cost}>"


def jacobian_header(plan: JacobianPlan) -> str:
    """The lines that name the modes, above the plan's own explanation.

    Examples
    --------
    >>> print(jacobian_header(plan_jacobian([784, 256, 10, 1])))
    Jacobian of 784 → 256 → 10 → 1 (3 layers), factors J3 ⋯ J1
    Forward mode  A(BC): 2,014,880 multiplications (9.91× the optimum)
    Reverse mode  (AB)C: 203,264 multiplications (1× the optimum)
    Optimum: 203,264 multiplications, reverse mode: ((J3 J2) J1)
    """
    arrow = " → ".join(str(w) for w in plan.widths)
    if len(plan.widths) > 12:
        arrow = f"{plan.widths[0]} → … → {plan.widths[-1]}"
    order = plan.parenthesization if plan.n <= 64 else "(see .tree)"
    return "\n".join([
        f"Jacobian of {arrow} ({plan.n} layers), factors {plan.names[0]} ⋯ {plan.names[-1]}",
        f"Forward mode  A(BC): {plan.forward_cost:,} multiplications "
        f"({times(plan.forward_cost, plan.cost)} the optimum)",
        f"Reverse mode  (AB)C: {plan.reverse_cost:,} multiplications "
        f"({times(plan.reverse_cost, plan.cost)} the optimum)",
        f"Optimum: {plan.cost:,} multiplications, {plan.mode} mode: {order}",
    ])


def _check_widths(widths: Sequence[int]) -> tuple[int, ...]:
    widths = as_dimensions(widths, "widths", "width")
    if len(widths) < 2:
        raise ChainError(
            f"widths must give the input and at least one output width (n_0, …, n_L); "
            f"got {list(widths)}")
    return widths


def _check_layer_kinds(kinds: Sequence[str] | None, widths: tuple[int, ...]) -> tuple[str, ...]:
    kinds = check_kinds(kinds, len(widths) - 1, unit="layer")
    for i, kind in enumerate(kinds, start=1):
        if kind == "diagonal" and widths[i - 1] != widths[i]:
            raise ChainError(
                f"layer {i} is declared diagonal but maps {widths[i - 1]} values to "
                f"{widths[i]}; a diagonal (elementwise) layer keeps its width")
    return kinds


def plan_jacobian(
    widths: Sequence[int],
    kinds: Sequence[str] | None = None,
    *,
    names: Sequence[str] | None = None,
    method: str = "auto",
) -> JacobianPlan:
    """Plan the accumulation of the Jacobian ``J_L ⋯ J_1`` of a layered map.

    Parameters
    ----------
    widths : sequence of int
        ``n_0, n_1, …, n_L``: layer ``i`` maps ``ℝ^{n_{i−1}}`` to ``ℝ^{n_i}``.
    kinds : sequence of {"dense", "diagonal"}, optional
        The structure of ``J_1, …, J_L``, in layer order (all dense by
        default). An elementwise layer has a diagonal Jacobian.
    names : sequence of str, optional
        Names of the factors in product order; ``J{L}, …, J1`` by default.
    method : str, default "auto"
        The planner, as in :func:`chainopt.plan_chain`.

    Returns
    -------
    JacobianPlan
        A :class:`~chainopt.Plan` over the factors in product order (the
        first is ``J_L``, ``n_L × n_{L−1}``), with ``forward_cost``,
        ``reverse_cost`` and ``mode``.

    Raises
    ------
    ChainError
        For fewer than two widths, a non-positive width, or a diagonal
        layer that changes width.

    Notes
    -----
    Among equally cheap orders the plan is reverse mode if reverse mode is
    optimal, else forward mode if that is, else the DP's order (leftmost
    split). So ``mode == "mixed"`` means strictly cheaper than both modes.

    For a scalar output (``n_L = 1``) and dense layers, reverse mode is
    optimal exactly under the condition :func:`scalar_reverse_optimal`
    states and proves; in particular whenever ``n_i ≥ 2`` for all ``i < L``.

    References
    ----------
    .. [1] T. C. Hu and M. T. Shing, "Computation of matrix chain products,
       part I", SIAM J. Comput. 11(2), 1982.
    .. [2] A. Griewank and A. Walther, "Evaluating Derivatives", 2nd ed.,
       SIAM, 2008, chapter 9 (Jacobian accumulation by chain bracketing).

    Examples
    --------
    >>> import chainopt
    >>> plan = chainopt.plan_jacobian([784, 256, 10, 1])
    >>> plan.mode, plan.cost, plan.forward_cost, plan.reverse_cost
    ('reverse', 203264, 2014880, 203264)
    >>> plan.parenthesization
    '((J3 J2) J1)'
    >>> hourglass = chainopt.plan_jacobian([1000, 1000, 10, 1000, 1000])
    >>> hourglass.mode, hourglass.parenthesization
    ('mixed', '((J4 J3) (J2 J1))')
    >>> hourglass.forward_cost // hourglass.cost
    34
    """
    widths = _check_widths(widths)
    kinds = _check_layer_kinds(kinds, widths)
    layers = len(widths) - 1
    shapes = [(widths[i], widths[i - 1]) for i in range(layers, 0, -1)]
    if names is None:
        names = [f"J{i}" for i in range(layers, 0, -1)]
    planned = plan_chain(shapes, names=names, kinds=kinds[::-1], method=method)
    cost, order = pick(reverse=(planned.left_to_right_cost, left_to_right(layers)),
                       forward=(planned.right_to_left_cost, right_to_left(layers)),
                       optimal=(planned.cost, list(planned.pairs)))
    return JacobianPlan(
        shapes=planned.shapes, kinds=planned.kinds, names=planned.names,
        pairs=tuple(order), cost=int(cost), method=planned.method, widths=widths)


def scalar_reverse_optimal(widths: Sequence[int]) -> bool:
    """Whether reverse mode is optimal for a scalar output, by the theorem below.

    Parameters
    ----------
    widths : sequence of int
        ``n_0, …, n_L`` with ``n_L = 1``; every layer dense.

    Returns
    -------
    bool
        True exactly when reverse mode ``((J_L J_{L−1})⋯)J_1`` costs the
        optimum (possibly tied with other orders).

    Raises
    ------
    ChainError
        If ``n_L`` is not 1.

    Notes
    -----
    Let ``n_L = 1`` and every layer dense.

    (i) If ``n_i ≥ 2`` for every ``i < L``, reverse mode is the unique
    optimum: every other bracketing costs strictly more.

    (ii) In general, reverse mode is optimal exactly when the widths equal
    to 1 among ``n_0, …, n_{L−1}`` form one run ``n_a = … = n_b = 1``
    (or there are none), the width above the run is the smallest above it,
    ``n_{b+1} = min(n_{b+1}, …, n_{L−1})`` (when ``b + 1 < L``), and the
    width below the run is the smallest below it, ``n_{a−1} = min(n_0, …,
    n_{a−1})`` (when ``a > 0``). E.g. ``x ∈ ℝ → ℝ⁶ → ℝ³ → ℝ`` (widths
    1, 6, 3, 1) breaks it: forward mode costs 21, reverse mode 24.

    *Proof of (i).* A bracketing of a chain with dims ``p_0, …, p_L`` is a
    triangulation of the polygon whose vertices carry those labels, and it
    costs the sum over its triangles of the product of their three labels
    (Hu and Shing). Here ``p_k = n_{L−k}``, so ``p_0 = 1`` and every other
    label is at least 2; reverse mode is the fan of triangles
    ``(0, k, k+1)`` and costs ``Σ_{k=1}^{L−1} p_k p_{k+1}``. Charge each
    side ``(k, k+1)``, ``1 ≤ k < L``, to the one triangle that contains it.
    A triangle charged one side costs ``p_k p_{k+1} p_v ≥ p_k p_{k+1}``,
    with equality only for ``v = 0``. A triangle charged two sides is
    ``(k−1, k, k+1)`` and costs at least the two charges, since
    ``p_{k−1} p_{k+1} ≥ p_{k−1} + p_{k+1}`` for labels ≥ 2. There are
    ``L − 1`` triangles and ``L − 1`` charged sides, so each triangle
    charged twice leaves one charged nothing, which costs at least 1. Hence
    every bracketing costs at least the fan, and only the fan costs exactly
    that. ∎

    *Proof of (ii), sketch.* Repeating Hu and Shing's lemma (an optimal
    triangulation joins the smallest label to the next two smallest), some
    optimal triangulation joins all ``r`` vertices labelled 1 into a
    polygon of ``r − 2`` triangles of cost 1; each pocket left between two
    of them, with labels ``q_1, …, q_m ≥ 2``, costs at least
    ``Σ q_j q_{j+1} + min q`` by the charging argument, attained by fanning
    from both ends to the smallest ``q``. Compare the reverse cost
    ``Σ_{k=1}^{L−1} p_k p_{k+1}`` term by term: sides between labels ≥ 2
    appear in both; a pocket between two 1s neither of which is ``p_0``
    costs reverse mode its two boundary sides ``q_1 + q_m``, more than
    ``min q + 1``; a side joining two 1s costs it 1, as many as the
    ``r − 2`` unit triangles when the 1s other than ``p_0`` are
    consecutive; and each pocket beside ``p_0`` costs it the one boundary
    side away from ``p_0`` instead of the pocket's minimum. Equality is
    exactly the stated condition. The test suite checks (i) and (ii)
    against brute force for every width vector ``n_0, …, n_L`` with
    ``L ≤ 5`` and widths 1…6. With diagonal layers reverse mode stays
    optimal under (i) in the tests' exhaustive check (``L ≤ 5``, widths
    2…4, every placement of diagonal layers; not proved), but not uniquely:
    ``g·D₁·D₂`` costs ``2n`` in either order.

    Examples
    --------
    >>> scalar_reverse_optimal([784, 256, 10, 1])
    True
    >>> scalar_reverse_optimal([1, 6, 3, 1])      # n_1 = 6 is not the smallest inner width
    False
    >>> scalar_reverse_optimal([2, 1000, 1, 1000, 1])   # n_1 = 1000 > n_0 below the run
    False
    """
    widths = _check_widths(widths)
    last = len(widths) - 1
    if widths[last] != 1:
        raise ChainError(f"the theorem is about a scalar output; the last width must be 1, "
                         f"got {widths[last]}")
    ones = [i for i in range(last) if widths[i] == 1]
    if not ones:
        return True
    a, b = ones[0], ones[-1]
    if ones != list(range(a, b + 1)):
        return False
    above = b + 1 >= last or widths[b + 1] == min(widths[b + 1:last])
    below = a == 0 or widths[a - 1] == min(widths[:a])
    return above and below


# -- sweeps -------------------------------------------------------------------
def _times_diagonal(layer, x, d: np.ndarray, forward: bool):
    """``J·diag(d)`` (forward) or ``diag(d)·J`` (reverse) explicitly, with its cost.

    Used only while the product so far is still diagonal (a network that
    starts, or ends, with elementwise layers). Returns (product, is
    diagonal, multiplications).
    """
    jac = layer.jacobian(x)
    if layer.kind == "diagonal":
        return jac * d, True, d.size
    product = jac * d[None, :] if forward else d[:, None] * jac
    return product, False, jac.size


def forward_sweep(net: Network, x: ArrayLike) -> tuple[np.ndarray, int]:
    """Forward mode: push the columns of ``J_1`` through ``J_2, …, J_L`` by tangents.

    Each layer's :meth:`~chainopt.jacobians.layers.Layer.tangent` is applied to all
    ``n_0`` columns at once, costing ``n_0 · nnz`` multiplications; the
    total is exactly the plan's ``forward_cost`` (``A(BC)``).

    Returns
    -------
    (ndarray, int)
        The ``n_L × n_0`` Jacobian and the multiplications performed.

    Examples
    --------
    >>> import chainopt
    >>> net = chainopt.mlp([3, 5, 2])
    >>> J, count = forward_sweep(net, [0.1, 0.2, 0.3])
    >>> J.shape, count == chainopt.plan_jacobian(net.widths, net.kinds).forward_cost
    ((2, 3), True)
    """
    inputs, layers = net.inputs(x), net.layers
    value, diagonal, count = layers[0].jacobian(inputs[0]), layers[0].kind == "diagonal", 0
    k = 1
    while diagonal and k < len(layers):  # the product so far is still diagonal
        value, diagonal, cost = _times_diagonal(layers[k], inputs[k], value, forward=True)
        count, k = count + cost, k + 1
    if diagonal:
        return np.diag(value), count
    value, cost = propagate(layers[k:], inputs[k:len(layers)], value, "tangents")
    return value, count + cost


def reverse_sweep(net: Network, x: ArrayLike) -> tuple[np.ndarray, int]:
    """Reverse mode: pull the rows of ``J_L`` back through ``J_{L−1}, …, J_1`` by adjoints.

    Each layer's :meth:`~chainopt.jacobians.layers.Layer.adjoint` is applied to all
    ``n_L`` rows at once, costing ``n_L · nnz`` multiplications; the total
    is exactly the plan's ``reverse_cost`` (``(AB)C``). For a scalar
    output this is backpropagation, one vector-Jacobian product per layer.

    Returns
    -------
    (ndarray, int)
        The ``n_L × n_0`` Jacobian and the multiplications performed.

    Examples
    --------
    >>> import chainopt
    >>> net = chainopt.mlp([3, 5, 2], loss="squared_error")
    >>> J, count = reverse_sweep(net, [0.1, 0.2, 0.3])
    >>> J.shape, count == chainopt.plan_jacobian(net.widths, net.kinds).reverse_cost
    ((1, 3), True)
    """
    inputs, layers = net.inputs(x), net.layers
    k = len(layers) - 1
    value, diagonal, count = layers[k].jacobian(inputs[k]), layers[k].kind == "diagonal", 0
    while diagonal and k > 0:  # the product so far is still diagonal
        k -= 1
        value, diagonal, cost = _times_diagonal(layers[k], inputs[k], value, forward=False)
        count += cost
    if diagonal:
        return np.diag(value), count
    value, cost = propagate(layers[:k], inputs[:k], value, "adjoints")
    return value, count + cost


# -- the Jacobian ---------------------------------------------------------------
@functools.lru_cache(maxsize=256)
def _network_plan(widths: tuple[int, ...], kinds: tuple[str, ...]) -> JacobianPlan:
    return plan_jacobian(widths, kinds)


def _check_network(net: object) -> Network:
    if not isinstance(net, Network):
        raise ChainTypeError(
            f"net must be a chainopt.Network (e.g. from chainopt.mlp); got "
            f"{type(net).__name__}")
    return net


def jacobian(net: Network, x: ArrayLike, mode: str = "optimal",
             out: np.ndarray | None = None) -> np.ndarray:
    """The Jacobian of ``net`` at ``x``, accumulated in the order ``mode`` names.

    Parameters
    ----------
    net : Network
        For instance from :func:`chainopt.mlp`.
    x : array_like
        The point, a 1-D array of length ``n_0``.
    mode : {"optimal", "forward", "reverse"}
        ``"forward"``: column by column from the input (``A(BC)``, the
        products :func:`forward_sweep` makes). ``"reverse"``: row by row
        from the output (``(AB)C``, as :func:`reverse_sweep`).
        ``"optimal"``: the cheapest bracketing under the structure-aware
        cost model (activations are diagonal), from :func:`plan_jacobian`.
    out : ndarray, optional
        Where to write the ``n_L × n_0`` Jacobian, checked as
        :meth:`chainopt.Plan.execute` checks its ``out``
        (:func:`chainopt.validation.check_out`: float64, C-contiguous,
        writeable, that shape or its size in one dimension; never cast). A
        loop over points that passes the same ``out`` allocates nothing but
        the forward pass's vectors.

    Returns
    -------
    ndarray
        The ``n_L × n_0`` Jacobian, always 2-D: for a scalar output
        (a loss), row 0 is the gradient. ``out`` (as 2-D) when given.

    Raises
    ------
    ChainError
        For an unknown mode or an ``x`` of the wrong shape.
    PlanMismatchError
        For an ``out`` of another dtype, shape or layout.
    ChainTypeError
        For an ``out`` that is not an ndarray.

    Notes
    -----
    Every mode runs as a compiled :class:`~chainopt.jacobians.accumulation.Program`,
    cached on the network: the steps of its bracketing over the explicit
    factors (weights as they are, activations as diagonals), by
    :func:`numpy.matmul` into buffers reused from call to call.

    Examples
    --------
    >>> import numpy as np, chainopt
    >>> net = chainopt.mlp([1000, 1000, 10, 1000, 1000], seed=0)
    >>> x = np.linspace(-1, 1, 1000)
    >>> J = chainopt.jacobian(net, x)          # mixed: ((J7 (J6 J5)) (J4 ((J3 J2) J1)))
    >>> J.shape
    (1000, 1000)
    >>> np.allclose(J, chainopt.jacobian(net, x, mode="reverse"))
    True
    >>> buffer = np.empty((1000, 1000))
    >>> chainopt.jacobian(net, x, out=buffer) is buffer
    True
    """
    try:                                            # the fast path: a compiled program
        program = net.__dict__["_programs"][mode] if type(net) is Network else None
    except (KeyError, TypeError):                   # none yet, or a mode to check
        program = None
    if program is None or program.layers is not net.layers:
        program = program_for(_check_network(net), check_choice(mode, MODES, "mode"),
                              _mode_order)
    if program.threads is not None and program.threads != blas_threads():
        program = program_for(net, mode, _mode_order)   # tuned for another BLAS thread count
    if out is not None and not (type(out) is np.ndarray and out.shape == program.shape
                                and out.dtype == _FLOAT and (flags := out.flags).c_contiguous
                                and flags.writeable):
        out = check_out(out, program.shape, _FLOAT)  # converts a flat out, or says why not
    if not (type(x) is np.ndarray and x.dtype == _FLOAT and x.shape == program.in_shape):
        x = net.check_input(x)
    lock = program.lock
    if not lock.acquire(False):
        return run_program(program, x, out)          # busy in another thread: a fresh copy
    try:
        return program.run(x, out)
    finally:
        lock.release()


_FLOAT = np.dtype(float)


def _mode_order(net: Network, mode: str) -> tuple[tuple[int, int], ...]:
    """The steps of ``mode`` over ``net``'s factors (product order)."""
    plan = _network_plan(net.widths, net.kinds)
    if mode == "forward":
        return tuple(right_to_left(plan.n))
    return tuple(left_to_right(plan.n)) if mode == "reverse" else plan.pairs

