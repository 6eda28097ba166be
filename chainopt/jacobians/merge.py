"""Products that share an operand, merged into one: ``W @ h`` and ``W @ V`` as ``W @ [V, h]``.

A forward block of a mixed-mode schedule multiplies each weight matrix by
the primal (a matrix-vector product, to linearize the stage) and by the
block's tangents (a matrix of ``k`` columns). On a CPU the matrix-vector
product costs about as much as the whole product with ``k`` columns, and
one product with ``k + 1`` columns costs the same as one with ``k``: both
read the weights once. XLA does not merge them.

:func:`merged` traces a function to a jaxpr, drops dead and duplicate
equations, and merges ``dot_general`` equations that share one operand
(the same variable, on the same side, contracted the same way, with no
batch dimensions and no dependence of one on another) into one
``dot_general`` whose other operand is the others concatenated along
their free dimensions; each result is a slice of the merged one, reshaped.
The values are those of the separate products (the same sums of the same
products, though XLA may block them differently).
"""

from __future__ import annotations

import enum
import heapq
import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .seeds import bind

__all__ = ["merged"]


class _Merge(NamedTuple):
    """``dot_general`` equations sharing the operand at ``side`` (0 lhs, 1 rhs)."""

    eqns: tuple[Any, ...]
    side: int


def _is_var(v) -> bool:
    return not hasattr(v, "val")


def _plain(value) -> bool:
    """Whether a parameter is plain data, its ``str`` telling it apart from others."""
    if isinstance(value, (tuple, list)):
        return all(map(_plain, value))
    return value is None or isinstance(value, (str, int, float, bool, np.dtype, enum.Enum))


def _key(eqn):
    """Equations with the same key compute the same values; None for those kept
    apart (effects, sub-jaxprs or other parameters that are not plain data,
    array literals)."""
    if eqn.effects or not all(map(_plain, eqn.params.values())):
        return None
    if any(not _is_var(v) and getattr(v.aval, "shape", None) != () for v in eqn.invars):
        return None
    params = tuple(sorted((k, str(v)) for k, v in eqn.params.items()))
    atoms = tuple(("var", id(v)) if _is_var(v) else ("literal", str(v.val), str(v.aval))
                  for v in eqn.invars)
    return eqn.primitive.name, params, atoms


def _simplified(jaxpr) -> tuple[list[Any], list[Any]]:
    """The live equations, duplicates of an earlier one removed (their outputs renamed)."""
    rename: dict[Any, Any] = {}
    seen: dict[Any, Any] = {}
    eqns = []
    for eqn in jaxpr.eqns:
        eqn = eqn.replace(invars=[rename.get(v, v) if _is_var(v) else v for v in eqn.invars])
        key = _key(eqn)
        if key is not None and key in seen:
            rename.update(zip(eqn.outvars, seen[key].outvars))
            continue
        if key is not None:
            seen[key] = eqn
        eqns.append(eqn)
    outvars = [rename.get(v, v) if _is_var(v) else v for v in jaxpr.outvars]
    live = {v for v in outvars if _is_var(v)}
    kept = []
    for eqn in reversed(eqns):
        if eqn.effects or any(v in live for v in eqn.outvars):
            kept.append(eqn)
            live.update(v for v in eqn.invars if _is_var(v))
    return [*reversed(kept)], outvars


def _shared_groups(eqns: Sequence[Any]) -> dict[tuple, list[int]]:
    """Mergeable ``dot_general`` equations (their indices) by shared operand."""
    groups: dict[tuple, list[int]] = {}
    for i, eqn in enumerate(eqns):
        if eqn.primitive.name != "dot_general":
            continue
        contract, batch = eqn.params["dimension_numbers"]
        a, b = eqn.invars
        if batch[0] or batch[1] or len(contract[0]) != 1 or a.aval.dtype != b.aval.dtype:
            continue
        rest = tuple(sorted((k, str(v)) for k, v in eqn.params.items()
                            if k != "dimension_numbers"))
        for side, shared in ((0, a), (1, b)):
            if _is_var(shared):
                key = (id(shared), side, tuple(contract[side]), rest)
                groups.setdefault(key, []).append(i)
    return {key: members for key, members in groups.items() if len(members) > 1}


def _parents(eqns: Sequence[Any], nodes: Sequence[frozenset[int]]) -> list[set[int]]:
    """The nodes (sets of equations) each node takes inputs from."""
    producer = {v: n for n, group in enumerate(nodes) for i in group for v in eqns[i].outvars}
    parents: list[set[int]] = [set() for _ in nodes]
    for n, group in enumerate(nodes):
        for i in group:
            parents[n].update(producer[v] for v in eqns[i].invars
                              if _is_var(v) and v in producer and producer[v] != n)
    return parents


def _topological(parents: Sequence[set[int]], priority: Sequence[int]) -> list[int]:
    """Nodes in an order that puts parents first, lowest ``priority`` first among the ready."""
    children: list[list[int]] = [[] for _ in parents]
    waiting = [len(p) for p in parents]
    for n, ps in enumerate(parents):
        for p in ps:
            children[p].append(n)
    ready = [(priority[n], n) for n, w in enumerate(waiting) if w == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, n = heapq.heappop(ready)
        order.append(n)
        for c in children[n]:
            waiting[c] -= 1
            if waiting[c] == 0:
                heapq.heappush(ready, (priority[c], c))
    if len(order) != len(parents):
        raise AssertionError("merged products depend on one another")
    return order


def _ancestors(parents: Sequence[set[int]], order: Sequence[int]) -> list[int]:
    """Each node's ancestors as a bit set."""
    ancestors = [0] * len(parents)
    for n in order:
        for p in parents[n]:
            ancestors[n] |= ancestors[p] | (1 << p)
    return ancestors


def _plan(eqns: Sequence[Any]) -> list[Any]:
    """The equations in a runnable order, the merged ``dot_general``s each one ``_Merge``.

    Groups are merged one at a time, each member independent of the others
    in the graph as merged so far (so no merge makes a cycle), and only while
    the operands concatenated are no larger than the shared one together (a
    merge saves a read of the shared operand and costs a copy of the others).
    """
    nodes = [frozenset([i]) for i in range(len(eqns))]
    sides: dict[frozenset[int], int] = {}
    for key, members in _shared_groups(eqns).items():
        parents = _parents(eqns, nodes)
        ancestors = _ancestors(parents, _topological(parents, [max(g) for g in nodes]))
        node_of = {i: n for n, group in enumerate(nodes) for i in group}
        chosen: list[int] = []
        budget = _size(eqns[members[0]].invars[key[1]])  # the shared operand's
        for i in members:
            n, size = node_of[i], _size(eqns[i].invars[1 - key[1]])
            if nodes[n] not in sides and n not in chosen and size <= budget and all(
                    not (ancestors[n] >> m) & 1 and not (ancestors[m] >> n) & 1
                    for m in chosen):
                chosen.append(n)
                budget -= size
        if len(chosen) > 1:
            union = frozenset().union(*(nodes[n] for n in chosen))
            nodes = [g for n, g in enumerate(nodes) if n not in chosen] + [union]
            sides[union] = key[1]
    parents = _parents(eqns, nodes)
    order = _topological(parents, [max(g) for g in nodes])
    return [_Merge(tuple(sorted((eqns[i] for i in nodes[n]), key=_free_size, reverse=True)),
                   sides[nodes[n]])
            if nodes[n] in sides else eqns[next(iter(nodes[n]))] for n in order]


def _run_merge(merge: _Merge, read: Callable[[Any], Any]) -> list[Any]:
    """The merged product, sliced back into each equation's result."""
    side, first = merge.side, merge.eqns[0]
    shared = read(first.invars[side])
    axis = first.params["dimension_numbers"][0][side][0]
    blocks, frees = [], []
    for eqn in merge.eqns:
        other = read(eqn.invars[1 - side])
        (contracted,) = eqn.params["dimension_numbers"][0][1 - side]
        free = [a for a in range(other.ndim) if a != contracted]
        frees.append([other.shape[a] for a in free])
        moved = jnp.transpose(other, [*free, contracted])
        blocks.append(jnp.reshape(moved, (math.prod(frees[-1]), other.shape[contracted])))
    stacked = jnp.concatenate(blocks, axis=0)
    numbers = (((axis,), (1,)) if side == 0 else ((1,), (axis,))), ((), ())
    lhs, rhs = (shared, stacked) if side == 0 else (stacked, shared)
    out = jax.lax.dot_general(lhs, rhs, numbers, precision=first.params.get("precision"),
                              preferred_element_type=first.params.get(
                                  "preferred_element_type"))
    rest = [shared.shape[a] for a in range(shared.ndim) if a != axis]
    results, start = [], 0
    for eqn, free in zip(merge.eqns, frees):
        size = math.prod(free)
        part = jax.lax.slice_in_dim(out, start, start + size, axis=out.ndim - 1 if side == 0 else 0)
        shape = [*rest, *free] if side == 0 else [*free, *rest]
        results.append(jnp.reshape(part, shape).astype(eqn.outvars[0].aval.dtype))
        start += size
    return results


def merged(fn: Callable, *args):
    """``fn(*args)``, with ``dot_general``s that share an operand merged into one.

    ``fn`` may close over tracers of an enclosing ``jit`` or ``vmap``.

    Examples
    --------
    >>> W = jnp.arange(12.0).reshape(4, 3)
    >>> def f(x, V):
    ...     return jnp.tanh(W @ x)[:, None] * (W @ V)
    >>> x, V = jnp.ones(3), jnp.arange(6.0).reshape(3, 2)
    >>> bool(jnp.allclose(merged(f, x, V), f(x, V)))
    True
    >>> str(jax.make_jaxpr(lambda x, V: merged(f, x, V))(x, V)).count("dot_general")
    1
    """
    closed, shape = jax.make_jaxpr(fn, return_shape=True)(*args)
    eqns, outvars = _simplified(closed.jaxpr)
    env: dict[Any, Any] = dict(zip(closed.jaxpr.constvars, closed.consts))
    env.update(zip(closed.jaxpr.invars, jax.tree_util.tree_leaves(args)))

    def read(v):
        return v.val if hasattr(v, "val") else env[v]

    for step in _plan(eqns):
        if isinstance(step, _Merge):
            for eqn, value in zip(step.eqns, _run_merge(step, read)):
                env[eqn.outvars[0]] = value
        else:
            env.update(zip(step.outvars, bind(step, [read(v) for v in step.invars])))
    return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(shape),
                                        [read(v) for v in outvars])


def _size(v) -> int:
    return math.prod(v.aval.shape)


def _free_size(eqn) -> int:
    """The size of the product's output (the widest goes first in a merge)."""
    return math.prod(eqn.outvars[0].aval.shape)
