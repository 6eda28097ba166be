"""Hu and Shing's exact O(n log n) matrix-chain planner.

A chain with boundary dimensions ``w_0 .. w_n`` is a convex polygon with
vertices ``0 .. n`` weighted by the dimensions; a bracketing is a
triangulation, and a triangle ``(a, b, c)`` costs ``w_a·w_b·w_c``, the
multiplications of the product it stands for (the edge ``(0, n)`` is the
whole product). Hu and Shing [1]_ [2]_ show that an optimal triangulation
is made of *h-arcs* (arcs whose two ends are lighter than every vertex
between them) and of fans: every face left between the chosen h-arcs is
triangulated from its lightest vertex. Their algorithm decides, bottom-up
over the tree of candidate h-arcs, which arcs are kept:

1. Rotate the polygon so that the lightest vertex ``V1`` comes first and
   find every candidate h-arc in one sweep with a stack (in post-order:
   an arc after every arc it contains).
2. For an arc ``h`` with lighter end ``m``: the face above ``h`` (up to
   the arcs still kept) is fanned from ``m``. An arc group ``g`` above it
   with *support* ``S(g) = C(g) / D(g)`` (``C``: the cost of ``g``'s
   faces, ``D``: the products of their sides minus that of ``g``'s bottom
   arc) is worth keeping only when ``S(g) < w_m``; otherwise its faces
   join ``h``'s fan (the arcs are *removed*). Then arcs whose support is
   at least ``h``'s own are *condensed* with ``h`` (they stay, and from
   now on stand or fall together with it; the support of the group is the
   mediant). The groups kept in a subtree sit in one heap ordered by
   support (a skew heap: a parent melds its children's heaps in amortised
   O(log n) each).
3. The root is ``V1`` itself: its face is fanned from ``V1``; the kept
   arcs and the fans are the triangulation.

Schwartz and Weiss [3]_ showed that one lemma of Hu and Shing's proof of
correctness is false as stated, and repaired the proof. This module
follows the structure of the algorithm (candidate arcs, supports, removal
and condensing over mergeable heaps) as public implementations describe
it; it is not a transcription of the papers, whose full texts were not at
hand. Its evidence is empirical and independent: brute force over every
chain of up to 5 factors with dimensions in {1, 2, 3} and random ones up
to 9, and the exact DP on over 10,000 chains of up to 300 factors with
repeated dimensions, long runs, 1s, powers of two and many minima (the
cases where ties live), Hu and Shing's pentagon 12, 40, 25, 11, 10 (a
stable partition that is not optimal), the sweep's candidate arcs
against their definition, and the repaired lemma (without candidate
h-arcs the fan from ``V1`` is optimal) against brute force, in
``tests/test_hushing.py``. Unlike two public
C++ versions, supports are compared exactly (cross-multiplied Python
ints), never by truncating division, and the bracketing itself is
returned, not only its cost.

Ties
----
Vertices are ordered by ``(weight, position after the rotation)``: the
first lightest dimension of the chain is ``V1``, and of two equal
dimensions the one that comes first (going round from ``V1``) is the
lighter. Equal supports: an arc group whose support equals ``w_m`` is
removed, one whose support equals the current arc's is condensed, and
equal supports leave the heap in the order the arcs were found. So the
bracketing is a deterministic function of the dimensions; it can differ
from the DP's (smallest split first) among equally cheap ones, never in
cost.

Conventions in the kernel: ``w`` are the rotated weights (``w[N] ==
w[0]`` closes the polygon, ``N = n + 1`` vertices), ``x < y`` the
positions of an arc's ends, ``low`` its lighter end; ``num`` / ``den``
a group's support as a fraction. Every integer is a Python int (exact at
any size); floats only order the heaps, with exact ties broken exactly.

References
----------
.. [1] T. C. Hu and M. T. Shing, "Computation of matrix chain products.
   Part I", SIAM J. Comput. 11(2):362-373, 1982.
.. [2] T. C. Hu and M. T. Shing, "Computation of matrix chain products.
   Part II", SIAM J. Comput. 13(2):228-251, 1984.
.. [3] O. Schwartz and E. Weiss, "Revisiting 'Computation of matrix chain
   products'", SIAM J. Comput. 48(5), 2019.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

__all__ = ["hu_shing"]

Steps = list[tuple[int, int]]

#: Above this weight a support might not fit a float; heaps then order by
#: exact fractions alone.
_FLOAT_SAFE = 2**1000


class _Support:
    """A group's support ``num / den`` for exact heap ties (largest first)."""

    __slots__ = ("num", "den", "arc")

    def __init__(self, num: int, den: int, arc: int):
        self.num, self.den, self.arc = num, den, arc

    def __lt__(self, other: _Support) -> bool:
        mine, theirs = self.num * other.den, other.num * self.den
        return mine > theirs or (mine == theirs and self.arc < other.arc)


class _Arcs(NamedTuple):
    """The candidate h-arcs (in the order found) and what was decided."""

    x: list[int]  # left end of arc a (position after the rotation)
    y: list[int]  # right end
    low: list[int]  # lighter end
    removed: bytearray  # 1 if the arc is not in the optimal triangulation
    cost: int  # the optimal cost of the whole chain


def _rotate(dims: Sequence[int]) -> tuple[list[int], int]:
    """Weights rotated so the first lightest comes first, and its index."""
    start = min(range(len(dims)), key=dims.__getitem__)
    w = [int(d) for d in dims[start:]] + [int(d) for d in dims[:start]]
    return w + [w[0]], start


def _meld(a: int, b: int, left: list[int], right: list[int], entry: list) -> int:
    """Meld two skew heaps given by their roots (-1: empty); return the root.

    The root is the group of largest support (the smallest ``entry``).
    Top-down and iterative: every node on the merge path swaps its
    children, which makes a meld O(log n) amortised (Sleator and Tarjan's
    skew heaps).

    Examples
    --------
    >>> left, right, entry = [-1] * 3, [-1] * 3, [(2,), (1,), (3,)]
    >>> root = _meld(_meld(0, 1, left, right, entry), 2, left, right, entry)
    >>> root, left[root], right[root]  # 1 on top, its children swapped
    (1, 2, 0)
    """
    if a < 0:
        return b
    if b < 0:
        return a
    if entry[b] < entry[a]:
        a, b = b, a
    root = a
    while True:
        nxt = right[a]
        right[a] = left[a]
        if nxt < 0:
            left[a] = b
            return root
        if entry[b] < entry[nxt]:
            nxt, b = b, nxt
        left[a] = nxt
        a = nxt


class _Groups:
    """The arc groups kept so far, as flat per-arc lists (O(n) memory).

    A group is a list of arcs linked by ``next_member``, led by its lowest
    arc; ``num`` / ``den`` is its support and ``queue`` the root of the
    skew heap of every group kept in its subtree (melded into its parent's
    heap when the parent is decided). ``head_*`` / ``inner_*`` chain the arcs
    met at each vertex, outermost first, to find a face's side at its
    lighter end.
    """

    def __init__(self, w: list[int]):
        self.w = w
        self.prefix = prefix = [0] * len(w)
        for p in range(1, len(w)):
            prefix[p] = prefix[p - 1] + w[p - 1] * w[p]
        self.x: list[int] = []
        self.y: list[int] = []
        self.low: list[int] = []
        self.base: list[int] = []  # sides from x to y, minus the arc itself
        self.num: list[int] = []
        self.den: list[int] = []
        self.queue: list[int] = []  # root of a skew heap (-1: empty)
        self.left: list[int] = []  # the skew heaps' children
        self.right: list[int] = []
        self.entry: list[tuple | None] = []
        self.removed = bytearray(len(w))
        self.next_member: list[int] = []
        self.last_member: list[int] = []
        self.head_right = [-1] * len(w)
        self.head_left = [-1] * len(w)
        self.inner_right: list[int] = []
        self.inner_left: list[int] = []
        self.floats = max(w) < _FLOAT_SAFE


def _sweep(w: list[int]) -> Iterator[tuple[int | None, int, list[int]]]:
    """Yield every candidate h-arc ``(x, y)`` not touching ``V1``, and its children.

    An arc is found when ``y`` pops ``x``'s right neighbour off the stack
    of increasing weights, after every arc it contains (post-order); arcs
    from ``V1`` (the stack's bottom) are left out, since the root fans from
    ``V1`` anyway. The children of the root come last, with ``x = None``.
    """
    stack: list[int] = [0]
    lefts: list[int] = []  # left ends of the arcs found without a parent yet
    ids: list[int] = []
    found = 0
    for p in range(1, len(w) - 1):
        wp = w[p]
        while len(stack) > 2 and w[stack[-1]] > wp:
            stack.pop()
            x = stack[-1]
            first = len(lefts)
            while first and lefts[first - 1] >= x:
                first -= 1
            yield x, p, ids[first:]
            del lefts[first:], ids[first:]
            lefts.append(x)
            ids.append(found)
            found += 1
        if len(stack) == 2 and w[stack[-1]] > wp:
            stack.pop()
        stack.append(p)
    yield None, len(w) - 1, ids


def _pool(g: _Groups, children: list[int]) -> int:
    """The heap of every group kept above an arc: its children's and theirs."""
    queue, left, right, entry = g.queue, g.left, g.right, g.entry
    pool = -1
    for c in children:
        pool = _meld(pool, queue[c], left, right, entry)
        pool = _meld(pool, c, left, right, entry)
        queue[c] = -1
    return pool


def _pop(g: _Groups, top: int) -> int:
    """The heap rooted at ``top`` without it (the group leaves every heap)."""
    g.entry[top] = None
    return _meld(g.left[top], g.right[top], g.left, g.right, g.entry)


def _remove_heavy(g: _Groups, pool: int, weight: int, den: int) -> tuple[int, int]:
    """Remove every group with support >= ``weight``; return the pool and ``den``."""
    num_of, den_of, removed = g.num, g.den, g.removed
    next_member = g.next_member
    while pool >= 0:
        top = pool
        if num_of[top] < weight * den_of[top]:
            break
        pool = _pop(g, top)
        den += den_of[top]
        member = top
        while member >= 0:
            removed[member] = 1
            member = next_member[member]
    return pool, den


def _low_side(g: _Groups, x: int, y: int, low: int) -> int:
    """Product of the side at the arc's lighter end in its face (not the arc)."""
    w = g.w
    if low == x:
        head, inner, end, beside = g.head_right, g.inner_right, x, x + 1
    else:
        head, inner, end, beside = g.head_left, g.inner_left, y, y - 1
    h = head[end]
    while h >= 0 and g.removed[h]:
        h = inner[h]
    head[end] = h
    return w[end] * w[beside] if h < 0 else w[g.x[h]] * w[g.y[h]]


def _condense(g: _Groups, pool: int, a: int, num: int, den: int) -> tuple[int, int, int]:
    """Join arc ``a`` with every group whose support is at least the group's own."""
    num_of, den_of = g.num, g.den
    next_member, last_member = g.next_member, g.last_member
    while pool >= 0:
        top = pool
        if num * den_of[top] > num_of[top] * den:
            break
        pool = _pop(g, top)
        num += num_of[top]
        den += den_of[top]
        next_member[last_member[a]] = top
        last_member[a] = last_member[top]
    return pool, num, den


def _add(g: _Groups, x: int, y: int, children: list[int]) -> None:
    """Decide the groups above arc ``(x, y)``; record the arc's group."""
    w, a = g.w, len(g.x)
    low = x if w[x] <= w[y] else y
    wl, mul, base = w[low], w[x] * w[y], g.prefix[y] - g.prefix[x] - w[x] * w[y]
    g.x.append(x)
    g.y.append(y)
    g.low.append(low)
    g.base.append(base)
    g.next_member.append(-1)
    g.last_member.append(a)
    if children:
        den = base
        for c in children:
            den -= g.base[c]
        pool, den = _remove_heavy(g, _pool(g, children), wl, den)
        num = wl * (den + mul - _low_side(g, x, y, low))
        pool, num, den = _condense(g, pool, a, num, den)
    else:  # no arc inside: the face is the boundary from x to y
        den, pool = base, -1
        num = wl * (base + mul - (w[x] * w[x + 1] if low == x else w[y - 1] * w[y]))
    g.num.append(num)
    g.den.append(den)
    g.queue.append(pool)
    g.left.append(-1)
    g.right.append(-1)
    g.entry.append((-(num / den) if g.floats else 0.0, _Support(num, den, a)))
    g.inner_right.append(g.head_right[x])
    g.head_right[x] = a
    g.inner_left.append(g.head_left[y])
    g.head_left[y] = a


def _root(g: _Groups, children: list[int]) -> int:
    """The root face, fanned from ``V1``: the optimal cost of the chain."""
    w = g.w
    last = len(w) - 1
    den = g.prefix[last] - w[0] * w[0]
    for c in children:
        den -= g.base[c]
    pool, den = _remove_heavy(g, _pool(g, children), w[0], den)
    fan = w[0] * (den + w[0] * w[0] - w[0] * w[1] - w[0] * w[last - 1])
    total, stack = fan, [pool]
    while stack:  # every group still in the heap is kept
        top = stack.pop()
        if top >= 0:
            total += g.num[top]
            stack += [g.left[top], g.right[top]]
    return total


def _decide(w: list[int]) -> _Arcs:
    """Find the candidate arcs and decide, bottom-up, which are kept."""
    g = _Groups(w)
    for x, y, children in _sweep(w):
        if x is None:
            cost = _root(g, children)
        else:
            _add(g, x, y, children)
    return _Arcs(g.x, g.y, g.low, g.removed, cost)


def _starts(arcs: _Arcs, kept: list[int], size: int) -> list[int]:
    """The kept arcs by left end, outermost first (a counting sort)."""
    count = [0] * (size + 2)
    for a in kept:
        count[arcs.x[a] + 1] += 1
    for p in range(1, len(count)):
        count[p] += count[p - 1]
    ordered = [0] * len(kept)
    for a in reversed(kept):  # right ends decreasing: outer arcs first
        ordered[count[arcs.x[a]]] = a
        count[arcs.x[a]] += 1
    return ordered


def _faces(arcs: _Arcs, kept: list[int], size: int) -> Iterator[tuple[list[int], int]]:
    """Yield ``(face, lightest)``: each face's vertices in order, and its apex.

    Positions are swept once; an arc's face is closed at its right end and
    stands as one side in the face below it.
    """
    x, y, low = arcs.x, arcs.y, arcs.low
    starts = _starts(arcs, kept, size)
    ends_at, starts_at = 0, 0
    stack: list[list[int]] = [[0]]
    for p in range(1, size + 1):
        while ends_at < len(kept) and y[kept[ends_at]] == p:
            face = stack.pop()
            face.append(p)
            yield face, low[kept[ends_at]]
            ends_at += 1
        stack[-1].append(p)
        while starts_at < len(starts) and x[starts[starts_at]] == p:
            stack.append([p])
            starts_at += 1
    yield stack[0], 0


def _right_ends(arcs: _Arcs, start: int, size: int) -> list[int]:
    """``right[b]``: the last dimension of the product split at dimension ``b``.

    Every face is fanned from its lightest vertex; each triangle ``a < b <
    c`` (original dimension indices) is the product split at ``b``.
    """
    kept = [a for a in range(len(arcs.x)) if not arcs.removed[a]]
    right = [0] * size
    for face, apex in _faces(arcs, kept, size):
        if apex == face[0]:
            sides = range(1, len(face) - 2) if apex == 0 else range(1, len(face) - 1)
        else:
            sides = range(0, len(face) - 2)
        top = (apex + start) % size
        for i in sides:
            b, c = (face[i] + start) % size, (face[i + 1] + start) % size
            lo, hi = (b, c) if b < c else (c, b)
            if top < lo:
                right[lo] = hi
            elif top > hi:
                right[hi] = top
            else:
                right[top] = hi
    return right


def _steps_from_right(right: list[int], n: int) -> Steps:
    """Post-order steps from the right end of every split (no recursion).

    Sweeping the dimensions left to right with a stack of operands: after
    factor ``c - 1`` is pushed, every product ending at dimension ``c`` is
    made, innermost first, from the top two operands.

    Examples
    --------
    >>> _steps_from_right([0, 2, 3, 0], 3)  # (A B) C: both splits end at 3
    [(0, 1), (3, 2)]
    """
    ending = [0] * (n + 1)
    for b in range(1, n):
        ending[right[b]] += 1
    steps: Steps = []
    operands: list[int] = []
    for c in range(1, n + 1):
        operands.append(c - 1)
        for _ in range(ending[c]):
            second, first = operands.pop(), operands.pop()
            steps.append((first, second))
            operands.append(n + len(steps) - 1)
    return steps


def hu_shing(dims: Sequence[int], kinds: Sequence[str] | None = None) -> tuple[int, Steps]:
    """The exact optimum of the multiplications, by Hu and Shing's algorithm.

    O(n log n) time and O(n) memory, iterative throughout, exact Python
    ints at any size of dimension. The sweep and the bracketing are O(n);
    every group enters one skew heap once and leaves it at most once, and
    each heap operation is an O(log n) amortised meld.

    Parameters
    ----------
    dims : sequence of int
        The n+1 boundary dimensions (already validated).
    kinds : sequence of str, optional
        Ignored: every factor is treated as dense (``method="auto"`` uses
        the DP when a factor is diagonal).

    Returns
    -------
    cost : int
        The minimum number of scalar multiplications.
    steps : list of (int, int)
        An optimal bracketing in post-order (see :mod:`chainopt.trees`).
        Among equally cheap ones, the module's tie rule picks one.

    See Also
    --------
    chainopt.planners.dp : the O(n³) DP, exact for every objective.

    Notes
    -----
    For the chain ``100, 3, 2, 50, 5`` (A 100×3, B 3×2, C 2×50, D 50×5)
    the lightest dimension, 2, is ``V1``. The one candidate h-arc joins 5
    and 3 (the vertex between them, 100, is heavier than both). Kept, it
    costs the triangle above it, 100·3·5 = 1,500, plus 2·5·3 = 30 in the
    fan from ``V1``; removed, the fan from ``V1`` covers its face instead,
    2·(5·100 + 100·3) = 1,600. Its support is 1,500 / (5·100 + 100·3 −
    5·3) = 1,500 / 785 ≈ 1.91, below ``w(V1) = 2``: it is kept, and the
    optimum is A(B(CD)) = 500 + 30 + 1,500 = 2,030.

    References
    ----------
    See :mod:`chainopt.hushing`: Hu and Shing, SIAM J. Comput. 1982 and
    1984; Schwartz and Weiss, SIAM J. Comput. 2019.

    Examples
    --------
    >>> hu_shing([10, 100, 5, 50])
    (7500, [(0, 1), (3, 2)])
    >>> hu_shing([30, 35, 15, 5, 10, 20, 25])[0]
    15125
    >>> hu_shing([100, 3, 2, 50, 5])
    (2030, [(2, 3), (1, 4), (0, 5)])
    """
    n = len(dims) - 1
    if n < 2:
        return 0, []
    w, start = _rotate(dims)
    arcs = _decide(w)
    return arcs.cost, _steps_from_right(_right_ends(arcs, start, n + 1), n)
