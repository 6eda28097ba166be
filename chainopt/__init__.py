"""chainopt: exact, fast planning of matrix-chain products and Jacobians.

The layers, bottom up:

- :mod:`chainopt.shapes` validates chains; :mod:`chainopt.errors` holds the
  exception family.
- :mod:`chainopt.trees` and :mod:`chainopt.costs`: bracketings and what
  they cost.
- :mod:`chainopt.planners`: the exact DP and the other planners.
- :mod:`chainopt.plan`: :func:`plan_chain` and the :class:`Plan`, which
  explains (:mod:`chainopt.explain`) and executes itself.
- :mod:`chainopt.multidot`: a drop-in for :func:`numpy.linalg.multi_dot`.
- :mod:`chainopt.graph`: :func:`trace` a function into a :class:`Graph`,
  differentiate it by forward or reverse sweeps, accumulate its Jacobian by
  vertex elimination (:mod:`chainopt.elimination`) and draw it
  (:mod:`chainopt.drawing`).
- :mod:`chainopt.layers` and :mod:`chainopt.jacobians`: NumPy networks
  (:func:`mlp`) whose Jacobians are chains; :func:`plan_jacobian` and
  :func:`jacobian` in forward, reverse or optimal (mixed) order;
  :mod:`chainopt.matrix_free`: :func:`plan_matrix_free` for elementals
  known only through tangents and adjoints.
- :mod:`chainopt.cli`: the ``chainopt`` command.
"""

from .errors import ChainError, ChainTypeError, PlanMismatchError
from .graph import Graph, trace
from .jacobians import JacobianPlan, check_jacobian, jacobian, plan_jacobian
from .layers import Network, mlp
from .matrix_free import MatrixFreePlan, plan_matrix_free
from .multidot import multi_dot
from .plan import Plan, Step, plan_chain

__all__ = [
    "ChainError",
    "ChainTypeError",
    "Graph",
    "JacobianPlan",
    "MatrixFreePlan",
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

__version__ = "0.1.0"
