"""Optimal (mixed-mode) Jacobians of JAX functions: :mod:`chainopt.jax`.

The Jacobian of ``stages[-1](⋯ stages[0](x))`` is the chain ``J_L ⋯ J_1``
of the stages' Jacobians, each known only through ``jax.jvp`` (a tangent)
and ``jax.vjp`` (an adjoint). :func:`plan` costs one more tangent and one
more adjoint of every stage with XLA's cost analysis and hands
the costs to :func:`chainopt.plan_matrix_free`; :func:`jacobian` runs the
schedule with ``vmap(jvp)`` and ``vmap(vjp)``, so inside ``jax.jit`` it is
one XLA program. Planning uses only shapes and dtypes, at trace time.
Preaccumulating an elemental pushes the identity through its products;
the identity stays symbolic until its first dense product
(:mod:`chainopt.jacobians.seeds`), so XLA never multiplies by it. Products
that share an operand (a forward block's primal ``W @ h`` and its tangents
``W @ V``) are merged into one (:mod:`chainopt.jacobians.merge`).

What is supported
-----------------
- ``x`` is one 1-D floating array; every stage maps a 1-D array to a 1-D
  array (the last may return a scalar, a loss: its Jacobian is ``1 × n_0``).
- Stages may close over parameters (arrays, or tracers of an enclosing
  ``jit``); the Jacobian is with respect to ``x`` only.
- Stages may change the dtype (float32 ``x``, float64 weights under
  ``jax_enable_x64``): each stage's tangents take its input's dtype and its
  adjoints its output's. The Jacobian has :func:`jax.jacfwd`'s dtype (the
  output's) for ``mode="forward"``, :func:`jax.jacrev`'s (the input's) for
  ``"reverse"``, and the two promoted for ``"optimal"``.
- Elementwise stages (diagonal Jacobians) are detected from their jaxpr
  (every operation elementwise, every array of the stage's width or a
  scalar) or declared with :func:`elementwise`; they are costed and run
  with their neighbour, and a chain of only elementwise stages is
  differentiated by one tangent of ones.

Not supported, with a :class:`chainopt.ChainError` saying what to do:
pytrees (flatten with ``jax.flatten_util.ravel_pytree``), inputs or stage
outputs of other ranks (``ravel`` them), integer or complex inputs.

Costs: XLA's cost analysis (FLOPs) of one tangent of the stage's
linearization and one adjoint of its vjp, both with the primal's residuals
as inputs (so the primal is not counted), halved into multiply-adds, at
least the size of the result. The analysis is of the lowered program (no
compile: about ten times faster; its counts are within a few FLOPs per
element of the compiled program's, which XLA has simplified), else of the
compiled one; where neither gives a FLOP count the stage is costed as
dense (see :mod:`chainopt.jacobians.stages`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from ..errors import ChainError, ChainTypeError
from .merge import merged
from .seeds import Diagonal, seeded
from .stages import (
    Elementwise,
    Linearized,
    StageCost,
    StagePlan,
    check_mode,
    check_stages,
    compose,
    diagonal_flags,
    elementwise,
    group_stages,
    plan_stages,
    run_schedule,
    stage_cost,
)

__all__ = ["elementwise", "jacobian", "jacobian_fn", "plan"]

#: Primitives that act elementwise (a scalar operand broadcasts); operations
#: on constants alone (``iota``, broadcasts of literals) may be anything.
ELEMENTWISE_PRIMITIVES = frozenset({
    "abs", "acos", "acosh", "add", "and", "asin", "asinh", "atan", "atan2", "atanh", "cbrt",
    "ceil", "clamp", "convert_element_type", "copy", "copy_p", "cos", "cosh", "digamma",
    "div", "eq", "erf", "erf_inv", "erfc", "exp", "exp2", "expm1", "floor", "ge", "gt",
    "integer_pow", "is_finite", "le", "lgamma", "log", "log1p", "logistic", "lt", "max",
    "min", "mul", "ne", "neg", "nextafter", "not", "or", "pow", "reduce_precision", "rem",
    "round", "rsqrt", "select_n", "sign", "sin", "sinh", "sqrt", "square", "stop_gradient",
    "sub", "tan", "tanh", "xor",
})

#: Primitives that wrap a sub-jaxpr, searched recursively.
CALL_PRIMITIVES = frozenset({"pjit", "jit", "closed_call", "core_call", "custom_jvp_call",
                             "custom_vjp_call", "custom_vjp_call_jaxpr", "remat", "checkpoint"})


# -- shapes -------------------------------------------------------------------
def _struct(x: Any, where: str) -> jax.ShapeDtypeStruct:
    """``x``'s shape and dtype, or a ChainError for what chainopt.jax cannot take."""
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        raise ChainTypeError(
            f"{where} must be one 1-D JAX array; got {type(x).__name__}. For a pytree, "
            f"flatten it with jax.flatten_util.ravel_pytree and unravel inside the stage")
    if len(x.shape) != 1:
        raise ChainError(f"{where} must be a 1-D array; got shape {tuple(x.shape)}. "
                         f"Ravel it and reshape inside the stage that needs the shape")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise ChainTypeError(f"{where} must have a real floating dtype; got {x.dtype}")
    return jax.ShapeDtypeStruct(tuple(x.shape), x.dtype)


def _vector_stages(stages: Sequence[Callable], x: jax.ShapeDtypeStruct):
    """Stages as vector maps and the structs between them (``len(stages) + 1``)."""
    fns, structs = [], [x]
    for i, stage in enumerate(stages):
        try:
            out = jax.eval_shape(stage, structs[-1])
        except TypeError as exc:
            raise ChainError(f"stage {i} cannot take a vector of shape {structs[-1].shape}, "
                             f"dtype {structs[-1].dtype}: {exc}") from exc
        last = i == len(stages) - 1
        if last and getattr(out, "shape", None) == ():
            fns.append(_scalar_to_vector(stage))
            out = jax.ShapeDtypeStruct((1,), out.dtype)
        else:
            fns.append(stage)
        structs.append(_struct(out, f"the output of stage {i}"))
    return fns, structs


def _scalar_to_vector(stage: Callable) -> Callable:
    return lambda h: jnp.reshape(stage(h), (1,))


# -- elementwise detection --------------------------------------------------------
def _jaxpr_elementwise(jaxpr, n: int) -> bool:
    """Whether every operation that depends on the inputs acts elementwise on ``n``."""
    dependent = {id(v) for v in jaxpr.invars}
    for eqn in jaxpr.eqns:
        if not any(id(v) in dependent for v in eqn.invars if not hasattr(v, "val")):
            continue  # a constant (iota, a literal's broadcast): any shape will do
        name = eqn.primitive.name
        if name in CALL_PRIMITIVES:
            inner = next((eqn.params[k] for k in ("jaxpr", "call_jaxpr", "fun_jaxpr")
                          if k in eqn.params), None)
            if inner is None or not _jaxpr_elementwise(getattr(inner, "jaxpr", inner), n):
                return False
        elif name not in ELEMENTWISE_PRIMITIVES:
            return False
        if any(getattr(v.aval, "shape", None) not in ((), (n,))
               for v in (*eqn.invars, *eqn.outvars)):
            return False
        dependent.update(id(v) for v in eqn.outvars)
    return True


def is_elementwise(stage: Callable, x: jax.ShapeDtypeStruct) -> bool:
    """Whether ``stage`` is declared or detected elementwise at ``x``'s shape.

    Examples
    --------
    >>> s = jax.ShapeDtypeStruct((3,), jnp.float32)
    >>> is_elementwise(lambda h: jax.nn.relu(jnp.tanh(h) * 2 + 1), s)
    True
    >>> is_elementwise(jnp.cumsum, s), is_elementwise(lambda h: h[::-1], s)
    (False, False)
    """
    if isinstance(stage, Elementwise):
        return True
    closed = jax.make_jaxpr(stage)(x)
    out = closed.out_avals
    return (len(out) == 1 and getattr(out[0], "shape", None) == x.shape
            and _jaxpr_elementwise(closed.jaxpr, x.shape[0]))


# -- costs ------------------------------------------------------------------------
#: XLA's FLOPs by program (the jaxpr's text: types, not the constants' values).
_FLOPS: dict[str, float | None] = {}


def xla_flops(fn: Callable, *args: jax.ShapeDtypeStruct) -> float | None:
    """FLOPs of ``jit(fn)`` at ``args`` by XLA's cost analysis.

    The lowered program's analysis (before XLA optimizes it: about ten
    times faster than compiling) where it gives a count, else the compiled
    program's; None where neither gives anything (no analysis, or a
    negative count); an analysis without a ``flops`` entry counted none.
    Programs are analysed once per jaxpr: stages of the same shapes and
    operations (the layers of a deep network, whatever their weights)
    share a count.

    Examples
    --------
    >>> s = jax.ShapeDtypeStruct((4, 3), jnp.float32)
    >>> xla_flops(lambda a, b: a @ b.T, s, s)      # 4·4·3 multiply-adds
    96.0
    """
    key = str(jax.make_jaxpr(fn)(*args).jaxpr)
    if key not in _FLOPS:
        if len(_FLOPS) > 4096:
            _FLOPS.clear()
        _FLOPS[key] = _analysed_flops(fn, *args)
    return _FLOPS[key]


def _analysed_flops(fn: Callable, *args: jax.ShapeDtypeStruct) -> float | None:
    lowered = jax.jit(fn).lower(*args)
    flops = _flops_of(lowered.cost_analysis())
    return flops if flops is not None else _flops_of(lowered.compile().cost_analysis())


def _flops_of(analysis: Any) -> float | None:
    """The ``flops`` of a cost analysis (a dict, or a list of one), or None.

    >>> _flops_of({"flops": 8.0}), _flops_of([{"bytes accessed": 4.0}]), _flops_of(None)
    (8.0, 0.0, None)
    >>> _flops_of({"flops": -1.0}), _flops_of([])
    (None, None)
    """
    if isinstance(analysis, (list, tuple)):
        analysis = analysis[0] if analysis else None
    if not isinstance(analysis, dict) or not analysis:
        return None
    flops = float(analysis.get("flops", 0.0))  # XLA leaves out a zero count
    return flops if flops >= 0 else None


def _elemental_cost(f: Callable, x: jax.ShapeDtypeStruct, y: jax.ShapeDtypeStruct,
                    flops: Callable) -> StageCost:
    """One tangent and one adjoint of ``f`` at ``x``'s shape, costed by ``flops``.

    ``f`` is linearized (and its vjp taken) while tracing ``x``, so the
    programs costed take the residuals as inputs: their FLOPs are those of
    the products alone, not of the primal. Tangents have ``x``'s dtype,
    adjoints ``y``'s (a stage may change the dtype).
    """
    n_in, n_out = x.shape[0], y.shape[0]
    found: dict[str, float | None] = {}

    def probe(h):
        _, tangent = jax.linearize(f, h)
        _, pullback = jax.vjp(f, h)
        found["tangent"] = flops(jax.vmap(tangent), jax.ShapeDtypeStruct((1, n_in), h.dtype))
        found["adjoint"] = flops(lambda W: jax.vmap(pullback)(W)[0],
                                 jax.ShapeDtypeStruct((1, n_out), y.dtype))
        return h

    jax.eval_shape(probe, x)
    return stage_cost(found["tangent"], found["adjoint"], n_in, n_out, "xla")


class _Chain:
    """Stages grouped into elementals, with their shapes (planning only)."""

    def __init__(self, stages: Sequence[Callable], x: Any):
        stages = check_stages(stages)
        x = _struct(x, "x")
        fns, structs = _vector_stages(stages, x)
        widths = [s.shape[0] for s in structs]
        diagonal = diagonal_flags(stages, widths, lambda i, s: is_elementwise(s, structs[i]))
        self.groups = group_stages(diagonal)
        self.diagonal = all(diagonal)
        self.elementals = [compose([fns[i] for i in g]) for g in self.groups]
        self.structs = [structs[g[0]] for g in self.groups] + [structs[-1]]

    def plan(self, flops: Callable = xla_flops) -> StagePlan:
        costs = [_elemental_cost(f, self.structs[i], self.structs[i + 1], flops)
                 for i, f in enumerate(self.elementals)]
        widths = [s.shape[0] for s in self.structs]
        return plan_stages(widths, costs, self.groups, self.diagonal, "JAX")


def plan(stages: Sequence[Callable], x: Any) -> StagePlan:
    """The optimal schedule for the Jacobian of the stages at ``x``'s shape.

    Parameters
    ----------
    stages : sequence of callables
        Each maps a 1-D array to a 1-D array (the last may return a scalar).
    x : jax.Array or jax.ShapeDtypeStruct
        Only its shape and dtype are used.

    Returns
    -------
    StagePlan
        A :class:`chainopt.MatrixFreePlan` whose elementals are the
        stages (elementwise ones joined to their neighbour), with each
        one's tangent and adjoint cost from XLA's cost analysis.

    Examples
    --------
    >>> import jax, jax.numpy as jnp, chainopt.jax
    >>> k = jax.random.split(jax.random.key(0), 4)
    >>> Ws = [jax.random.normal(k[0], (100, 100)), jax.random.normal(k[1], (2, 100)),
    ...       jax.random.normal(k[2], (100, 2)), jax.random.normal(k[3], (100, 100))]
    >>> stages = [lambda h, W=W: jnp.tanh(W @ h) for W in Ws]
    >>> p = chainopt.jax.plan(stages, jnp.ones(100))
    >>> p.widths, p.mode, p.cost < min(p.forward_cost, p.reverse_cost) / 10
    ((100, 100, 2, 100, 100), 'mixed', True)
    """
    return _Chain(stages, x).plan()


def _linearize(f: Callable, x) -> tuple[Any, Linearized]:
    """``f(x)`` and its batched products, each taking its own dtype.

    A stage may change the dtype (float32 in, float64 weights under
    ``jax_enable_x64``): its tangents are cast to ``x``'s dtype and its
    adjoints to ``f(x)``'s, as :func:`jax.jvp` and :func:`jax.vjp` require.
    """
    y, pullback = jax.vjp(f, x)
    batched = jax.vmap(lambda v: jax.jvp(f, (x,), (v,))[1])

    def tangents(V):
        return _product(batched, V, x.dtype)

    def adjoints(W):
        return _product(lambda W: jax.vmap(pullback)(W)[0], W, y.dtype)

    return y, Linearized(tangents, adjoints)


#: Whether products sharing an operand are merged (:mod:`chainopt.jacobians.merge`),
#: and tangent batches transposed by a copy (see :func:`_transpose`).
MERGE_PRODUCTS = True

#: Whether identity seeds stay symbolic (:mod:`chainopt.jacobians.seeds`).
SYMBOLIC_SEEDS = True


def _product(batched: Callable, V, dtype):
    """``batched(V)`` with ``V`` in ``dtype``; a symbolic identity ``V`` is pushed
    through symbolically (or made dense where :data:`SYMBOLIC_SEEDS` is off)."""
    if isinstance(V, Diagonal):
        V = Diagonal(V.d, V.n, dtype)
        return seeded(batched, V) if SYMBOLIC_SEEDS else batched(V.dense())
    return batched(V.astype(dtype))


def result_dtype(chain: _Chain, mode: str):
    """The Jacobian's dtype: :func:`jax.jacfwd`'s (the output's) forward,
    :func:`jax.jacrev`'s (the input's) reverse, and for ``"optimal"`` the
    two promoted, whatever the schedule (the same where no stage casts).

    >>> chain = _Chain([lambda h: h.astype(jnp.float16)], jnp.ones(2))
    >>> [str(result_dtype(chain, m)) for m in ("forward", "reverse", "optimal")]
    ['float16', 'float32', 'float32']
    """
    x, y = chain.structs[0].dtype, chain.structs[-1].dtype
    return {"forward": y, "reverse": x}.get(mode, jnp.promote_types(x, y))


def _execute(chain: _Chain, schedule: StagePlan, x):
    dtype = result_dtype(chain, "optimal")
    if schedule.diagonal:
        _, d = jax.jvp(chain.elementals[0], (x,), (jnp.ones_like(x),))
        return jnp.diag(d).astype(dtype)
    linearized, h = [], x
    for f in chain.elementals:
        h, lin = _linearize(f, h)
        linearized.append(lin)
    J = run_schedule(schedule, linearized, lambda n: Diagonal(None, n, dtype),
                     jnp.matmul, _transpose)
    return J.astype(dtype)


def _transpose(a):
    """``a.T``, made by a copy where :data:`MERGE_PRODUCTS` is on.

    XLA folds a transpose into the product that takes it, so that product
    contracts its operand's first axis; after a merged product's slice, XLA
    CPU then runs the final ``1000 × 10 @ 10 × 1000`` product without its
    fast GEMM kernel (1.07 ms against 0.92 ms for the hourglass). A copy of
    the ``k × n`` batch costs a few microseconds.
    """
    return jax.lax.optimization_barrier(a.T) if MERGE_PRODUCTS else a.T


def jacobian_fn(stages: Sequence[Callable], *, mode: str = "optimal") -> Callable:
    """A function ``x ↦ J`` for the stages' Jacobian, to jit and vmap.

    It plans once per shape and dtype of ``x`` (at trace time under
    :func:`jax.jit`), then runs the schedule; a plan that is forward or
    reverse mode runs :func:`jax.jacfwd` or :func:`jax.jacrev`. ``mode="forward"`` is
    :func:`jax.jacfwd` of the composition and ``"reverse"`` is
    :func:`jax.jacrev`.

    Examples
    --------
    >>> import jax, jax.numpy as jnp, chainopt.jax
    >>> W = jnp.arange(6.0).reshape(2, 3) / 6
    >>> J = jax.jit(chainopt.jax.jacobian_fn([lambda h: W @ h, jnp.sin]))
    >>> J(jnp.ones(3)).shape
    (2, 3)
    >>> bool(jnp.allclose(jax.vmap(J)(jnp.ones((5, 3)))[2],
    ...                   jax.jacrev(lambda h: jnp.sin(W @ h))(jnp.ones(3))))
    True
    """
    stages = check_stages(stages)
    mode = check_mode(mode)
    plans: dict[tuple, tuple[_Chain, StagePlan | None]] = {}

    def jac(x):
        struct = _struct(x, "x")
        key = (struct.shape, str(struct.dtype))
        if key not in plans:
            chain = _Chain(stages, x)
            plans[key] = (chain, chain.plan() if mode == "optimal" else None)
        chain, schedule = plans[key]
        if schedule is None or schedule.mode in ("forward", "reverse"):
            # a plan that is a mode runs jacfwd or jacrev
            how = mode if schedule is None else schedule.mode
            composed = compose(chain.elementals)
            J = (jax.jacfwd if how == "forward" else jax.jacrev)(composed)(x)
            return J.astype(result_dtype(chain, mode))
        if MERGE_PRODUCTS:
            return merged(lambda x: _execute(chain, schedule, x), x)
        return _execute(chain, schedule, x)

    return jac


def jacobian(stages: Sequence[Callable], x, *, mode: str = "optimal") -> jax.Array:
    """The ``n_L × n_0`` Jacobian of ``stages[-1](⋯ stages[0](x))`` at ``x``.

    Parameters
    ----------
    stages : sequence of callables
        Each maps a 1-D array to a 1-D array; the last may return a scalar
        (a loss), whose Jacobian is the ``1 × n_0`` gradient.
    x : jax.Array
        A 1-D floating array.
    mode : {"optimal", "forward", "reverse"}
        ``"optimal"`` runs :func:`plan`'s schedule, jitted (compiling once
        per call: for repeated calls, jit :func:`jacobian_fn`); ``"forward"`` is
        :func:`jax.jacfwd` of the composition, ``"reverse"`` is
        :func:`jax.jacrev`.

    Returns
    -------
    jax.Array
        2-D, of shape ``(n_L, n_0)``.

    Raises
    ------
    ChainError
        For an unknown mode, an ``x`` or stage output that is not one 1-D
        floating array (pytrees, matrices), or an empty ``stages``.

    See Also
    --------
    jacobian_fn : the same as a function to :func:`jax.jit` and
        :func:`jax.vmap`, planned once per shape.

    Examples
    --------
    >>> import jax.numpy as jnp, chainopt.jax
    >>> W = jnp.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    >>> chainopt.jax.jacobian([lambda h: W @ h, jnp.sum], jnp.ones(2))
    Array([[ 9., 12.]], dtype=float32)
    """
    return jax.jit(jacobian_fn(stages, mode=mode))(x)

