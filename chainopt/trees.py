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
    "all_trees",
    "catalan",
    "left_to_right",
    "right_to_left",
    "post_order_steps",
    "steps_to_tree",
    "tree_to_steps",
]

Tree = int | tuple


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
        nodes.append((nodes[left], nodes[right]))
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
