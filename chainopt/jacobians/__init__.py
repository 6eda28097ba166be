"""Jacobian chains: layered functions whose Jacobians are matrix chains.

The modules, bottom up: :mod:`~chainopt.jacobians.layers` (NumPy layers,
:class:`Network`, :func:`mlp`), :mod:`~chainopt.jacobians.chains`
(:func:`plan_jacobian`, :func:`jacobian` in forward, reverse or optimal
order, and the sweeps), :mod:`~chainopt.jacobians.accumulation` (the
compiled programs :func:`jacobian` runs), :mod:`~chainopt.jacobians.matrix_free`
(:func:`plan_matrix_free`, for elementals known only through tangents and
adjoints) and :mod:`~chainopt.jacobians.checks` (central finite
differences, :func:`check_jacobian`).
"""

from .chains import (
    MODES,
    JacobianPlan,
    forward_sweep,
    jacobian,
    plan_jacobian,
    reverse_sweep,
    scalar_reverse_optimal,
)
from .checks import check_jacobian, numerical_jacobian, relative_error
from .layers import Network, mlp
from .matrix_free import MatrixFreePlan, plan_matrix_free

__all__ = [
    "MODES",
    "JacobianPlan",
    "MatrixFreePlan",
    "Network",
    "check_jacobian",
    "forward_sweep",
    "jacobian",
    "mlp",
    "numerical_jacobian",
    "plan_jacobian",
    "plan_matrix_free",
    "relative_error",
    "reverse_sweep",
    "scalar_reverse_optimal",
]
