"""Optimal (mixed-mode) Jacobians of JAX functions, planned by chainopt.

Importable only with JAX installed (``pip install chainopt[jax]``);
``import chainopt`` never imports JAX. See :mod:`chainopt.jacobians.jax`.
"""

from .jacobians.jax import elementwise, is_elementwise, jacobian, jacobian_fn, plan

__all__ = ["elementwise", "is_elementwise", "jacobian", "jacobian_fn", "plan"]
