"""Identity seeds kept symbolic through a JAX product: no ``W @ eye(k)`` GEMMs.

Preaccumulating an elemental's Jacobian pushes the identity through its
batched tangent (``vmap(jvp)(eye(n))``) or pulls it through its batched
adjoint. Traced as is, XLA multiplies by the identity: for a layer
``tanh(W h)`` that is a GEMM ``W @ eye(n)`` (and ``diag(d) @ W`` for the
adjoint's scaling), which XLA does not simplify away.

:func:`seeded` runs such a product on :class:`Diagonal`, a symbolic
``diag(d)`` (``d`` None: the identity), by interpreting the product's jaxpr:
operations that keep a diagonal diagonal (an elementwise multiply or
divide by an operand of the diagonal's width, negation, sums of two
diagonals, dtype casts, transposes) act on ``d``; a ``dot_general`` with a
diagonal becomes the other operand scaled along its contracted axis (the
identity: the operand itself, moved); every other operation gets the dense
``diag(d)`` (materialised), so the result is always the dense product's.
The values are the same bit for bit wherever the operands are finite (a
dense product adds exact zeros); where an operand holds ``inf`` or
``nan``, the symbolic seed keeps the Jacobian's zeros where a dense seed
makes ``0 · inf = nan``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

__all__ = ["Diagonal", "bind", "seeded"]


class Diagonal(NamedTuple):
    """The ``n × n`` matrix ``diag(d)`` of ``dtype``; ``d`` None is the identity."""

    d: Any
    n: int
    dtype: Any

    def vector(self):
        """``d``, the identity's ones made explicit."""
        return jnp.ones(self.n, self.dtype) if self.d is None else self.d

    def dense(self):
        """The matrix itself.

        >>> Diagonal(jnp.arange(2.0), 2, jnp.float32).dense()
        Array([[0., 0.],
               [0., 1.]], dtype=float32)
        """
        eye = jnp.eye(self.n, dtype=self.dtype)
        return eye if self.d is None else jnp.diag(self.d.astype(self.dtype))


def _diagonal_of(a, n: int):
    """The diagonal of ``a`` broadcast to ``n × n`` (a scalar stays one), or None."""
    shape = tuple(jnp.shape(a))
    if shape in ((), (1, 1)):
        return jnp.reshape(a, ())
    if shape == (1, n):
        return a[0]
    if shape == (n, 1):
        return a[:, 0]
    if shape == (n, n):
        return jnp.diagonal(a)
    return None


def _scale(s: Diagonal, v, dtype) -> Diagonal:
    d = v if s.d is None else s.d * v
    return Diagonal(jnp.broadcast_to(d, (s.n,)).astype(dtype), s.n, dtype)


def _mul(eqn, a, b):
    if isinstance(a, Diagonal) and isinstance(b, Diagonal):
        return _scale(a, b.vector(), _out_dtype(eqn))
    s, other = (a, b) if isinstance(a, Diagonal) else (b, a)
    v = _diagonal_of(other, s.n)
    return None if v is None else _scale(s, v, _out_dtype(eqn))


def _div(eqn, a, b):
    if not isinstance(a, Diagonal) or isinstance(b, Diagonal):
        return None
    v = _diagonal_of(b, a.n)
    return None if v is None else Diagonal(a.vector() / v, a.n, _out_dtype(eqn))


def _add(eqn, a, b, sign=1):
    if not (isinstance(a, Diagonal) and isinstance(b, Diagonal)):
        return None
    return Diagonal(a.vector() + sign * b.vector(), a.n, _out_dtype(eqn))


def _neg(eqn, a):
    return Diagonal(-a.vector(), a.n, _out_dtype(eqn))


def _same(eqn, a):
    d = None if a.d is None else a.d.astype(_out_dtype(eqn))
    return Diagonal(d, a.n, _out_dtype(eqn))


def _transpose(eqn, a):
    return _same(eqn, a) if tuple(eqn.params["permutation"]) == (1, 0) else None


def _dot_general(eqn, a, b):
    """``diag(d)`` contracted with a dense operand: that operand, scaled along
    the contracted axis, moved to where the diagonal's free axis goes."""
    (contract_a, contract_b), (batch_a, batch_b) = eqn.params["dimension_numbers"]
    if batch_a or batch_b or len(contract_a) != 1:
        return None
    dtype = _out_dtype(eqn)
    if isinstance(a, Diagonal) and isinstance(b, Diagonal):
        return Diagonal(a.vector() * b.vector(), a.n, dtype)
    left = isinstance(a, Diagonal)
    s, other, axis = (a, b, contract_b[0]) if left else (b, a, contract_a[0])
    moved = jnp.moveaxis(other, axis, 0 if left else -1)
    if s.d is not None:
        moved = moved * jnp.reshape(s.d, (s.n,) + (1,) * (moved.ndim - 1) if left else (s.n,))
    return moved.astype(dtype)


def _out_dtype(eqn):
    return eqn.outvars[0].aval.dtype


#: Rules by primitive name: the result (a Diagonal or an array), or None to
#: materialise the operands instead.
RULES: dict[str, Callable[..., Any]] = {
    "mul": _mul, "div": _div, "add": _add, "add_any": _add,
    "sub": lambda eqn, a, b: _add(eqn, a, b, -1), "neg": _neg,
    "convert_element_type": _same, "copy": _same, "copy_p": _same,
    "transpose": _transpose, "dot_general": _dot_general,
}

#: Primitives whose sub-jaxpr is interpreted with the diagonals passed in.
CALLS = ("pjit", "jit", "closed_call")


def _symbolic(eqn, values: Sequence[Any]) -> list[Any]:
    name = eqn.primitive.name
    if name in CALLS and "jaxpr" in eqn.params:
        inner = eqn.params["jaxpr"]
        return _evaluate(inner.jaxpr, inner.consts, values)
    rule = RULES.get(name)
    out = rule(eqn, *values) if rule is not None else None
    if out is not None:
        return [out]
    return bind(eqn, [v.dense() if isinstance(v, Diagonal) else v for v in values])


def bind(eqn, values: Sequence[Any]) -> list[Any]:
    """The equation ``eqn`` applied to ``values`` (in the current trace), as a list."""
    params = eqn.primitive.get_bind_params(eqn.params)
    subfuns: Sequence[Any] = ()
    if isinstance(params, tuple):  # JAX before 0.7: (subfuns, params)
        subfuns, params = params
    with eqn.ctx.manager:
        out = eqn.primitive.bind(*subfuns, *values, **params)
    return list(out) if eqn.primitive.multiple_results else [out]


def _evaluate(jaxpr, consts: Sequence[Any], args: Sequence[Any]) -> list[Any]:
    env: dict[Any, Any] = dict(zip(jaxpr.constvars, consts))
    env.update(zip(jaxpr.invars, args))

    def read(v):
        return v.val if hasattr(v, "val") else env[v]

    for eqn in jaxpr.eqns:
        values = [read(v) for v in eqn.invars]
        if any(isinstance(v, Diagonal) for v in values):
            outs = _symbolic(eqn, values)
        else:
            outs = bind(eqn, values)
        env.update(zip(eqn.outvars, outs))
    return [read(v) for v in jaxpr.outvars]


def seeded(product: Callable[[Any], Any], seed: Diagonal):
    """``product(seed.dense())``, with the seed kept symbolic where it can be.

    ``product`` maps one ``n × n`` array to one array (a batched tangent or
    adjoint); it may close over tracers of an enclosing ``jit`` or ``vmap``.

    Examples
    --------
    >>> W = jnp.arange(6.0).reshape(3, 2)
    >>> tangents = jax.vmap(lambda v: jnp.tanh(W @ jnp.ones(2)) * (W @ v))
    >>> seed = Diagonal(None, 2, jnp.float32)
    >>> bool(jnp.array_equal(seeded(tangents, seed), tangents(jnp.eye(2))))
    True
    >>> str(jax.make_jaxpr(lambda: seeded(tangents, seed))()).count("dot_general")
    1
    """
    closed = jax.make_jaxpr(product)(jax.ShapeDtypeStruct((seed.n, seed.n), seed.dtype))
    (out,) = _evaluate(closed.jaxpr, closed.consts, [seed])
    return out.dense() if isinstance(out, Diagonal) else out
