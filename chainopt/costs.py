"""Cost models: what one pairwise product costs, and what a bracketing costs.

The textbook model counts scalar multiplications: an ``(m×k)(k×n)``
product costs ``m·k·n`` (CLRS's ``p[i]·p[k]·p[j]``, the lecture's
``npq``). Structure lowers it: a diagonal factor multiplies each entry of
its partner once, so ``diag·dense`` and ``dense·diag`` cost ``m·n``, and
``diag·diag`` costs ``n``. A product is diagonal only when both of its
operands are.

Every cost here is an exact Python int: no float rounding, no int64
overflow, whatever the dimensions.

Notes
-----
For ``A: 10×100, B: 100×5, C: 5×50``::

    cost((AB)C) = 10·100·5 + 10·5·50   =  5000 +  2500 =  7500
    cost(A(BC)) = 100·5·50 + 10·100·50 = 25000 + 50000 = 75000
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence

__all__ = ["Operand", "product_cost", "ratio", "steps_cost", "steps_peak", "steps_total", "times",
           "walk_steps"]


def ratio(cost: int, best: int) -> float:
    """``cost / best`` as a float; ``1.0`` when both are free, ``inf`` when only ``best`` is.

    A zero-size dimension can make a plan free while another order is not.

    Examples
    --------
    >>> ratio(40500, 15125), ratio(0, 0), ratio(125, 0), ratio(10**400, 1)
    (2.677685950413223, 1.0, inf, inf)
    """
    if not best:  # a zero-size dimension can make a plan free while another order is not
        return math.inf if cost else 1.0
    try:
        return float(cost / best)
    except OverflowError:  # exact ints beyond float range (dimensions of 10^400)
        return math.inf


def times(cost: int, best: int) -> str:
    """How many times ``best`` the ``cost`` is, for explanations: ``'2.68×'``.

    Examples
    --------
    >>> times(40500, 15125), times(7, 7), times(10**400, 3)
    ('2.68×', '1×', 'about 10^399×')
    """
    value = ratio(cost, best)
    if math.isinf(value):
        return f"about 10^{len(str(cost // best)) - 1}×"
    return f"{value:.3g}×"


def product_cost(
    m: int, k: int, n: int, left_diagonal: bool = False, right_diagonal: bool = False
) -> int:
    """Scalar multiplications of an ``(m×k)(k×n)`` product.

    Examples
    --------
    >>> product_cost(30, 35, 15)
    15750
    >>> product_cost(4, 4, 7, left_diagonal=True)
    28
    >>> product_cost(4, 4, 4, True, True)
    4
    """
    if left_diagonal and right_diagonal:
        return int(m)
    if left_diagonal or right_diagonal:
        return int(m) * int(n)
    return int(m) * int(k) * int(n)


class Operand:
    """Shape and structure of a factor or an intermediate result."""

    __slots__ = ("rows", "cols", "diagonal")

    def __init__(self, rows: int, cols: int, diagonal: bool = False):
        self.rows, self.cols, self.diagonal = rows, cols, diagonal

    @property
    def shape(self) -> tuple[int, int]:
        return (self.rows, self.cols)


def walk_steps(
    shapes: Sequence[tuple[int, int]],
    kinds: Sequence[str],
    steps: Sequence[tuple[int, int]],
) -> Iterator[tuple[Operand, Operand, Operand, int]]:
    """Yield ``(left, right, result, multiplications)`` for every step.

    ``left``, ``right`` and ``result`` are :class:`Operand` objects; ids
    follow :mod:`chainopt.trees` (factor ``i`` is ``i``, step ``t`` makes
    ``n + t``).
    """
    operands = [
        Operand(r, c, kind == "diagonal") for (r, c), kind in zip(shapes, kinds)
    ]
    for left_id, right_id in steps:
        left, right = operands[left_id], operands[right_id]
        cost = product_cost(
            left.rows, left.cols, right.cols, left.diagonal, right.diagonal
        )
        result = Operand(left.rows, right.cols, left.diagonal and right.diagonal)
        operands.append(result)
        yield left, right, result, cost


def steps_cost(
    shapes: Sequence[tuple[int, int]],
    kinds: Sequence[str],
    steps: Sequence[tuple[int, int]],
) -> int:
    """Total multiplications of a bracketing given as steps.

    Examples
    --------
    >>> from chainopt.trees import left_to_right
    >>> steps_cost([(10, 100), (100, 5), (5, 50)], ["dense"] * 3, left_to_right(3))
    7500
    """
    return sum(cost for *_, cost in walk_steps(shapes, kinds, steps))


def steps_peak(
    shapes: Sequence[tuple[int, int]],
    kinds: Sequence[str],
    steps: Sequence[tuple[int, int]],
) -> int:
    """Elements of the largest intermediate of a bracketing (0 if none).

    An intermediate is the result of any step but the last: the inputs and
    the final product are the same for every order, so they do not count.
    A diagonal result is stored as its diagonal.

    Examples
    --------
    >>> from chainopt.trees import left_to_right, right_to_left
    >>> shapes = [(10, 100), (100, 5), (5, 50)]
    >>> steps_peak(shapes, ["dense"] * 3, left_to_right(3))   # AB is 10×5
    50
    >>> steps_peak(shapes, ["dense"] * 3, right_to_left(3))   # BC is 100×50
    5000
    """
    sizes = [
        result.rows if result.diagonal else result.rows * result.cols
        for *_, result, _ in walk_steps(shapes, kinds, steps)
    ]
    return max(sizes[:-1], default=0)


def steps_total(
    cost: Callable,
    shapes: Sequence[tuple[int, int]],
    kinds: Sequence[str],
    steps: Sequence[tuple[int, int]],
):
    """The sum of ``cost(m, k, n)`` over the steps of a bracketing.

    ``cost`` gets every step's ``(m×k)·(k×n)`` dimensions, whatever the
    factors' kinds (``plan_chain(cost=callable)``).

    Examples
    --------
    >>> from chainopt.trees import left_to_right
    >>> moved = lambda m, k, n: m * k + k * n + m * n   # elements read and written
    >>> steps_total(moved, [(10, 100), (100, 5), (5, 50)], ["dense"] * 3, left_to_right(3))
    2350
    """
    return sum(cost(left.rows, left.cols, right.cols)
               for left, right, _, _ in walk_steps(shapes, kinds, steps))
