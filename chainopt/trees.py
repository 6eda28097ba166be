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

from collections.abc import Iterator

__all__ = [
    "all_trees",
    "catalan",
    "left_to_right",
    "right_to_left",
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


def tree_to_steps(tree: Tree, n: int) -> list[tuple[int, int]]:
    """Flatten a tree over factors ``0 .. n-1`` into steps (post-order).

    Raises ``ValueError`` unless every factor appears exactly once, in order.

    Examples
    --------
    >>> tree_to_steps(((0, (1, 2)), ((3, 4), 5)), 6)
    [(1, 2), (0, 6), (3, 4), (8, 5), (7, 9)]
    """
    steps: list[tuple[int, int]] = []
    leaves: list[int] = []
    ids: list[int] = []
    stack: list[tuple[Tree, bool]] = [(tree, False)]
    while stack:
        node, expanded = stack.pop()
        if isinstance(node, int):
            leaves.append(node)
            ids.append(node)
        elif expanded:
            right, left = ids.pop(), ids.pop()
            steps.append((left, right))
            ids.append(n + len(steps) - 1)
        else:
            if not (isinstance(node, tuple) and len(node) == 2):
                raise ValueError(f"a tree node must be an int or a pair; got {node!r}")
            stack += [(node, True), (node[1], False), (node[0], False)]
    if leaves != list(range(n)):
        raise ValueError(f"the tree must use factors 0..{n - 1} once each, in order")
    return steps


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
