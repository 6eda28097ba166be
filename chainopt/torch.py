"""Optimal (mixed-mode) Jacobians of PyTorch models, planned by chainopt.

Importable only with PyTorch installed (``pip install chainopt[torch]``);
``import chainopt`` never imports torch. See :mod:`chainopt.jacobians.torch`.
"""

from .jacobians.torch import elementwise, is_elementwise, jacobian, jacobian_fn, plan

__all__ = ["elementwise", "is_elementwise", "jacobian", "jacobian_fn", "plan"]
