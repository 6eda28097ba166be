"""Bracketings of a chain, as trees and as flat lists of steps.

A bracketing of factors ``0 .. n-1`` is a binary tree: a leaf is a factor
index (an int) and an inner node a pair ``(left, right)``, e.g.
``((0, (1, 2)), ((3, 4), 5))`` for CLRS's ``((A(BC))((DE)F))``.

Trees can be ten thousand levels deep, so nothing here recurses. The flat
form used everywhere else is a list of *steps* ``(left, right)`` in
execution order, where operand ids ``0 .. n-1`` are the factors and id
``n + t`` is the result of step ``t`` (as in opt_einsum's contraction
lists).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from .errors import ChainError

__all__ = [
    "BinaryTree",
    "all_trees",
    "catalan",
    "left_to_right",
    "right_to_left",
    "post_order_steps",
    "steps_to_tree",
    "tree_to_steps",
]

Tree = int | tuple

_MASK = (1 << 64) - 1
#: The constants of CPython's tuple hash (xxHash, Objects/tupleobject.c), so
#: that a tree hashes as the plain nested tuple it equals.
_PRIME_1, _PRIME_2, _PRIME_5 = 11400714785074694791, 14029467366897019727, 2870177450012600261


class BinaryTree(tuple):
    """A bracketing as nested pairs, safe at any depth.

    It is the plain nested tuple (``tree[0]`` is the left subtree, ``==``
    and ``hash`` agree with ``((0, (1, 2)), 3)``), but ``repr``, ``str``,
    ``==``, ``!=``, ``hash``, ``pickle`` and ``copy`` walk it with a loop
    instead of recursing, so a tree of 100,000 levels works as one of three.

    ``json.dumps(tree)`` is the exception, and no tree type can avoid it:
    CPython's encoders (the C one and the pure-Python fallback) write any
    tuple or list, subclasses included, as a JSON array by recursing once
    per level of nesting under the interpreter's recursion limit (about
    1000), and a nested JSON text of 100,000 levels needs 100,000 levels of
    that recursion (``default=`` is only consulted for types the encoder does
    not know). Use ``plan.to_json()``, or ``plan.to_dict()["pairs"]``: the
    same order flat, which :func:`steps_to_tree` turns back into this tree.

    Examples
    --------
    >>> tree = steps_to_tree([(1, 2), (0, 3)], 3)
    >>> tree, tree == (0, (1, 2)), hash(tree) == hash((0, (1, 2)))
    ((0, (1, 2)), True, True)
    >>> import pickle
    >>> pickle.loads(pickle.dumps(tree)) == tree
    True
    """

    __slots__ = ()

    def __repr__(self) -> str:
        parts: list[str] = []
        stack: list[object] = [self]
        while stack:
            node = stack.pop()
            if isinstance(node, _Text):
                parts.append(node)
            elif isinstance(node, tuple):
                stack.append(_Text(",)" if len(node) == 1 else ")"))
                for i in range(len(node) - 1, -1, -1):
                    stack.append(node[i])
                    if i:
                        stack.append(_Text(", "))
                parts.append("(")
            else:
                parts.append(repr(node))
        return "".join(parts)

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, tuple):
            return NotImplemented
        stack: list[tuple[Any, Any]] = [(self, other)]
        while stack:
            a, b = stack.pop()
            a_tuple, b_tuple = isinstance(a, tuple), isinstance(b, tuple)
            if a_tuple and b_tuple:
                if len(a) != len(b):
                    return False
                stack.extend(zip(a, b))
            elif a_tuple or b_tuple or not a == b:
                return False
        return True

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self) -> int:
        hashes: list[int] = []
        stack: list[tuple[object, bool]] = [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if not isinstance(node, tuple):
                hashes.append(hash(node))
            elif expanded:
                lanes = hashes[len(hashes) - len(node):]
                del hashes[len(hashes) - len(node):]
                hashes.append(_tuple_hash(lanes))
            else:
                stack.append((node, True))
                stack.extend((child, False) for child in reversed(node))
        return hashes[0]

    def __reduce__(self) -> tuple[Any, tuple[bytes, tuple]]:
        shape, leaves = bytearray(), []
        stack: list[object] = [self]
        while stack:  # pre-order: 2 marks a pair, 0 a leaf
            node = stack.pop()
            if isinstance(node, tuple) and len(node) == 2:
                shape.append(2)
                stack += [node[1], node[0]]
            else:
                shape.append(0)
                leaves.append(node)
        return _rebuild, (bytes(shape), tuple(leaves))


class _Text(str):
    """A piece of punctuation on BinaryTree.__repr__'s stack."""

    __slots__ = ()


def _tuple_hash(lanes: list[int]) -> int:
    """``hash(tuple(items))`` from the items' hashes, as CPython computes it."""
    acc = _PRIME_5
    for lane in lanes:
        acc = (acc + (lane & _MASK) * _PRIME_2) & _MASK
        acc = ((acc << 31) | (acc >> 33)) & _MASK
        acc = (acc * _PRIME_1) & _MASK
    acc = (acc + (len(lanes) ^ (_PRIME_5 ^ 3527539))) & _MASK
    if acc == _MASK:
        return 1546275796
    return acc - (1 << 64) if acc >> 63 else acc


def _rebuild(shape: bytes, leaves: tuple) -> Tree:
    """Inverse of :meth:`BinaryTree.__reduce__` (post-order over the pre-order marks)."""
    built: list[Any] = []
    leaf = len(leaves)
    for mark in reversed(shape):
        if mark:
            left = built.pop()
            built.append(BinaryTree((left, built.pop())))
        else:
            leaf -= 1
            built.append(leaves[leaf])
    return built[0]


def left_to_right(n: int) -> list[tuple[int, int]]:
    """Steps of ``((AB)C)…``, what ``A @ B @ C`` computes.

    Examples
    --------
    >>> left_to_right(3)
    [(0, 1), (3, 2)]
    """
    if n < 2:
        return []
    return [(0, 1)] + [(n + t - 1, t + 1) for t in range(1, n - 1)]


def right_to_left(n: int) -> list[tuple[int, int]]:
    """Steps of ``A(B(C…))``, the order of forward-mode accumulation.

    Examples
    --------
    >>> right_to_left(3)
    [(1, 2), (0, 3)]
    """
    if n < 2:
        return []
    return [(n - 2, n - 1)] + [(n - 2 - t, n + t - 1) for t in range(1, n - 1)]


def post_order_steps(root: Any, parts: Callable[[Any], int | tuple[Any, Any]],
                     n: int) -> list[tuple[int, int]]:
    """Post-order steps of a bracketing given node by node, without recursion.

    The one tree walk behind every planner and :func:`tree_to_steps`:
    ``parts(node)`` is a factor index for a leaf, else the node's two parts.

    Examples
    --------
    >>> def halves(node):  # node (first, last): factors first .. last
    ...     first, last = node
    ...     mid = (first + last) // 2
    ...     return first if first == last else ((first, mid), (mid + 1, last))
    >>> post_order_steps((0, 3), halves, 4)
    [(0, 1), (2, 3), (4, 5)]
    """
    steps: list[tuple[int, int]] = []
    ids: list[int] = []
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, ready = stack.pop()
        if ready:
            right, left = ids.pop(), ids.pop()
            steps.append((left, right))
            ids.append(n + len(steps) - 1)
            continue
        split = parts(node)
        if isinstance(split, tuple):
            stack += [(node, True), (split[1], False), (split[0], False)]
        else:
            ids.append(split)
    return steps


def tree_to_steps(tree: Tree, n: int) -> list[tuple[int, int]]:
    """Flatten a tree over factors ``0 .. n-1`` into steps (post-order).

    Raises a :class:`~chainopt.errors.ChainError` (a ``ValueError``) unless
    every factor appears exactly once, in order.

    Examples
    --------
    >>> tree_to_steps(((0, (1, 2)), ((3, 4), 5)), 6)
    [(1, 2), (0, 6), (3, 4), (8, 5), (7, 9)]
    """
    leaves: list[int] = []

    def parts(node: Tree) -> int | tuple[Tree, Tree]:
        if isinstance(node, int) and not isinstance(node, bool):
            leaves.append(node)
            return node
        if not (isinstance(node, tuple) and len(node) == 2):
            raise ChainError(f"a tree node must be an int or a pair of nodes; got {node!r}")
        return node

    steps = post_order_steps(tree, parts, n)
    if leaves != list(range(n)):
        raise ChainError(f"the tree must use factors 0..{n - 1} once each, in order; "
                         f"its leaves are {_preview(leaves)}")
    return steps


def _preview(values: list[int], limit: int = 12) -> str:
    shown = ", ".join(map(str, values[:limit]))
    return f"[{shown}{', …' if len(values) > limit else ''}]"


def steps_to_tree(steps: list[tuple[int, int]], n: int) -> Tree:
    """Rebuild the nested-tuple tree from steps (inverse of `tree_to_steps`).

    Examples
    --------
    >>> steps_to_tree([(1, 2), (0, 3)], 3)
    (0, (1, 2))
    """
    nodes: list[Tree] = list(range(n))
    for left, right in steps:
        nodes.append(BinaryTree((nodes[left], nodes[right])))
    return nodes[-1]


def catalan(k: int) -> int:
    """The number of bracketings of ``k + 1`` factors.

    Examples
    --------
    >>> [catalan(k) for k in range(6)]
    [1, 1, 2, 5, 14, 42]
    """
    result = 1
    for i in range(k):
        result = result * 2 * (2 * i + 1) // (i + 2)
    return result


def all_trees(first: int, last: int) -> Iterator[Tree]:
    """Every bracketing of factors ``first .. last`` (``catalan`` many).

    Meant for brute-force references on short chains; it recurses to the
    chain's length only.

    Examples
    --------
    >>> list(all_trees(0, 2))
    [(0, (1, 2)), ((0, 1), 2)]
    """
    if first == last:
        yield first
        return
    for split in range(first, last):
        for left in all_trees(first, split):
            for right in all_trees(split + 1, last):
                yield (left, right)
