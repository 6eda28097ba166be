"""chainopt: exact, fast planning of matrix-chain products and Jacobians.

The layers, bottom up (each imports only those below it):

- the chain core, flat in this package: :mod:`~chainopt.errors` (the
  exception family) and :mod:`~chainopt.validation` (every input check);
  :mod:`~chainopt.trees` and :mod:`~chainopt.costs` (bracketings and what
  they cost); :mod:`~chainopt.planners` (the exact DP and the other
  planners); :mod:`~chainopt.kernels` (which kernel runs a step);
- :mod:`chainopt.timemodel`: predicted seconds per kernel, fitted and cached
  per machine (``minimize="time"``);
- :mod:`~chainopt.plan` (:func:`plan_chain` and the :class:`Plan`, which
  executes itself), :mod:`~chainopt.explain` (its text, dict and frame) and
  :mod:`~chainopt.multidot` (a drop-in for :func:`numpy.linalg.multi_dot`);
- :mod:`chainopt.jacobians`: NumPy networks whose Jacobians are chains
  (:func:`plan_jacobian`, :func:`jacobian`, :func:`plan_matrix_free`);
- :mod:`chainopt.graph`: :func:`trace` a function into a :class:`Graph`,
  differentiate it, eliminate vertices, draw it;
- at the edge: :mod:`chainopt.bench` (timing, the runner, reports),
  :mod:`chainopt.experiments` and :mod:`~chainopt.cli` (the ``chainopt``
  command).

``import chainopt`` is light: each public name below loads its module on
first use, and SciPy, pandas and matplotlib load only where they are used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._aliases import install as _install_aliases
from ._version import __version__ as __version__
from .errors import (
    ChainError,
    ChainoptError,
    ChainTypeError,
    MissingToolError,
    PlanMismatchError,
)

if TYPE_CHECKING:  # the names that __getattr__ loads on first use
    from .graph import Graph, trace
    from .jacobians import (
        JacobianPlan,
        MatrixFreePlan,
        Network,
        check_jacobian,
        jacobian,
        mlp,
        plan_jacobian,
        plan_matrix_free,
    )
    from .multidot import multi_dot
    from .plan import Plan, Step, plan_chain

#: Where each lazily loaded public name lives.
_LAZY = {
    "Graph": "graph",
    "trace": "graph",
    "JacobianPlan": "jacobians",
    "MatrixFreePlan": "jacobians",
    "Network": "jacobians",
    "check_jacobian": "jacobians",
    "jacobian": "jacobians",
    "mlp": "jacobians",
    "plan_jacobian": "jacobians",
    "plan_matrix_free": "jacobians",
    "multi_dot": "multidot",
    "Plan": "plan",
    "Step": "plan",
    "plan_chain": "plan",
}

__all__ = [
    "ChainError",
    "ChainTypeError",
    "ChainoptError",
    "Graph",
    "JacobianPlan",
    "MatrixFreePlan",
    "MissingToolError",
    "Network",
    "Plan",
    "PlanMismatchError",
    "Step",
    "check_jacobian",
    "jacobian",
    "mlp",
    "multi_dot",
    "plan_chain",
    "plan_jacobian",
    "plan_matrix_free",
    "trace",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'chainopt' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


_install_aliases()
