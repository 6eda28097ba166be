"""Forward, reverse or mixed: the tie-break and the name of an accumulation.

Shared by the Jacobian chains (:mod:`~chainopt.jacobians.chains`) and the
matrix-free plans (:mod:`~chainopt.jacobians.matrix_free`): among equally
cheap orders a plan is reverse mode if reverse mode is optimal, else forward
mode if that is, else the optimiser's own order. So ``"mixed"`` always means
strictly cheaper than both modes.

Examples
--------
>>> pick(reverse=(6, "r"), forward=(6, "f"), optimal=(6, "o"))
(6, 'r')
>>> mode_name(cost=5, forward_cost=6, reverse_cost=7)
'mixed'
"""

from __future__ import annotations

from typing import Any, TypeVar

__all__ = ["MODES", "mode_name", "pick"]

#: The accumulation orders a Jacobian can be asked for.
MODES = ("optimal", "forward", "reverse")

Order = TypeVar("Order")


def pick(*, reverse: tuple[Any, Order], forward: tuple[Any, Order],
         optimal: tuple[Any, Order]) -> tuple[Any, Order]:
    """The cheapest of three ``(cost, order)`` pairs, ties to reverse, then forward."""
    candidates = [(reverse[0], 0, reverse[1]), (forward[0], 1, forward[1]),
                  (optimal[0], 2, optimal[1])]
    cost, _, order = min(candidates, key=lambda c: (c[0], c[1]))
    return cost, order


def mode_name(cost: Any, forward_cost: Any, reverse_cost: Any) -> str:
    """``"reverse"``, ``"forward"`` or ``"mixed"``, ties to reverse then forward."""
    if cost == reverse_cost:
        return "reverse"
    return "forward" if cost == forward_cost else "mixed"
