"""Optimal (mixed-mode) Jacobians of PyTorch models: :mod:`chainopt.torch`.

The same as :mod:`chainopt.jax` for PyTorch: a ``torch.nn.Sequential``
(taken as its children) or a sequence of modules and functions, each
mapping a 1-D tensor to a 1-D tensor, is differentiated with respect to
its input by the schedule :func:`chainopt.plan_matrix_free` finds, run
eagerly with ``torch.func.jvp``, ``torch.func.vjp`` and ``torch.func.vmap``.
float32 and float64 (any real floating dtype) are supported, and stages
that change the dtype (each product takes its stage's input or output
dtype; the Jacobian has jacfwd's dtype forward, jacrev's reverse, and the
input's and output's promoted for ``"optimal"``).

Costs: one more tangent (adjoint) in a batch, in FLOPs by
:mod:`torch.utils.flop_counter`'s formulas (its ``flop_registry``: matrix
products and convolutions; pointwise operations count nothing), counted
by a dispatch mode of our own because ``FlopCounterMode``'s module tracker
breaks inside ``torch.func.vjp``. Halved into multiply-adds, each cost is
at least the size of its result (so an elementwise stage costs its width),
see :mod:`chainopt.jacobians.stages`. The counting runs the products on zeros of
the right shape, never on ``x``.

Elementwise stages are detected by type (the activation modules in
:data:`ELEMENTWISE_MODULES` and functions in :data:`ELEMENTWISE_FUNCTIONS`)
or declared with :func:`elementwise`.

Not supported, with a :class:`chainopt.ChainError`: inputs or outputs that
are not one 1-D real floating tensor (batches, images, tuples: flatten
them inside the stage), and the Jacobian with respect to parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.func import jvp, vjp, vmap
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from ..errors import ChainError, ChainTypeError
from .stages import (
    Elementwise,
    Linearized,
    StageCost,
    StagePlan,
    check_mode,
    check_stages,
    compose,
    diagonal_flags,
    elementwise,
    group_stages,
    plan_stages,
    pulled_back,
    run_schedule,
    stage_cost,
)

__all__ = ["elementwise", "jacobian", "jacobian_fn", "plan"]

nn = torch.nn

#: Modules whose Jacobian is diagonal.
ELEMENTWISE_MODULES = (nn.Tanh, nn.Sigmoid, nn.ReLU, nn.LeakyReLU, nn.ELU, nn.SELU, nn.CELU,
                       nn.GELU, nn.SiLU, nn.Mish, nn.Softplus, nn.Softsign, nn.Hardtanh,
                       nn.Hardsigmoid, nn.Hardswish, nn.Tanhshrink, nn.LogSigmoid, nn.ReLU6,
                       nn.Identity)

#: Functions whose Jacobian is diagonal.
ELEMENTWISE_FUNCTIONS = frozenset({torch.tanh, torch.sigmoid, torch.relu, torch.sin, torch.cos,
                                   torch.exp, torch.log, torch.sqrt, torch.abs, torch.square,
                                   torch.nn.functional.gelu, torch.nn.functional.silu,
                                   torch.nn.functional.softplus})


def _stages(model_or_stages) -> tuple[Callable, ...]:
    if isinstance(model_or_stages, nn.Sequential):
        return check_stages(list(model_or_stages.children()))
    if isinstance(model_or_stages, nn.Module):
        return check_stages([model_or_stages])
    return check_stages(model_or_stages)


def _check_vector(x: Any, where: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise ChainTypeError(f"{where} must be one 1-D torch.Tensor; got {type(x).__name__}. "
                             f"Flatten tuples or dicts into one vector inside the stage")
    if x.dim() != 1:
        raise ChainError(f"{where} must be a 1-D tensor; got shape {tuple(x.shape)}. Flatten "
                         f"it and reshape inside the stage that needs the shape")
    if not x.dtype.is_floating_point:
        raise ChainTypeError(f"{where} must have a real floating dtype; got {x.dtype}")
    return x


def is_elementwise(stage: Callable) -> bool:
    """Whether ``stage`` is a known or declared elementwise stage.

    Examples
    --------
    >>> is_elementwise(torch.nn.Tanh()), is_elementwise(torch.nn.Linear(2, 2))
    (True, False)
    >>> is_elementwise(elementwise(lambda h: h * h))
    True
    """
    if isinstance(stage, (Elementwise, *ELEMENTWISE_MODULES)):
        return True
    try:
        return stage in ELEMENTWISE_FUNCTIONS
    except TypeError:  # unhashable callables
        return False


class _Flops(TorchDispatchMode):
    """Sums ``torch.utils.flop_counter.flop_registry`` over the operations run."""

    def __init__(self):
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        count = flop_registry.get(func._overloadpacket)
        if count is not None:
            self.total += count(*args, **kwargs, out_val=out)
        return out


def torch_flops(run: Callable[[], Any]) -> float:
    """The FLOPs torch's flop formulas count while ``run()`` runs.

    Examples
    --------
    >>> torch_flops(lambda: torch.ones(4, 3) @ torch.ones(3, 2))
    48.0
    """
    with torch.no_grad(), _Flops() as counter:
        run()
    return float(counter.total)


def _linearize(f: Callable, x: torch.Tensor, adjoints: bool = True,
               output: bool = True) -> tuple[torch.Tensor | None, Linearized]:
    """``f(x)`` and its batched products; without ``adjoints`` no vjp is recorded.

    Eager torch pays for what it computes: an elemental whose adjoints the
    plan never pulls skips the vjp, and the last one's output (``output``)
    is not needed at all.

    Each product takes its own dtype (a stage may change it): tangents are
    cast to ``x``'s dtype, adjoints to ``f(x)``'s.
    """
    batched = vmap(lambda v: jvp(f, (x,), (v,))[1])

    def tangents(V):
        return batched(V.to(x.dtype))

    if not adjoints:
        return (f(x) if output else None), Linearized(tangents, _no_adjoints)
    y, pullback = vjp(f, x)[:2]
    return y, Linearized(tangents, lambda W: vmap(pullback)(W.to(y.dtype))[0])


def _no_adjoints(W):
    raise AssertionError("the plan pulls no adjoints through this elemental")


def _marginal(batched: Callable[[torch.Tensor], Any], n: int, like: torch.Tensor,
              flops: Callable) -> float:
    one, two = (flops(lambda k=k: batched(like.new_zeros((k, n)))) for k in (1, 2))
    return max(two - one, 0.0)


def _elemental_cost(f: Callable, x: torch.Tensor, y: torch.Tensor,
                    flops: Callable) -> StageCost:
    """One more tangent and adjoint of ``f``, on zeros like its input ``x``
    (tangents) and its output ``y`` (adjoints)."""
    n_in, n_out, zero = x.shape[0], y.shape[0], x.new_zeros(x.shape)
    tangent = _marginal(lambda V: _linearize(f, zero, False)[1].tangents(V), n_in, x, flops)
    adjoint = _marginal(lambda W: _linearize(f, zero)[1].adjoints(W), n_out, y, flops)
    # Linearizing costs the same for one and two products: it cancels.
    return stage_cost(tangent, adjoint, n_in, n_out, "torch")


def _scalar_to_vector(stage: Callable) -> Callable:
    return lambda h: torch.reshape(stage(h), (1,))


class _Chain:
    """Stages grouped into elementals, with their widths and dtypes (from a run
    on zeros: ``values`` holds each elemental's input and the output)."""

    def __init__(self, stages: tuple[Callable, ...], x: torch.Tensor):
        fns, values = list(stages), [x.new_zeros(x.shape)]
        with torch.no_grad():
            for i, stage in enumerate(stages):
                h = stage(values[-1])
                if i == len(stages) - 1 and isinstance(h, torch.Tensor) and h.dim() == 0:
                    fns[i], h = _scalar_to_vector(stage), h.reshape(1)
                values.append(_check_vector(h, f"the output of stage {i}"))
        widths = [v.shape[0] for v in values]
        diagonal = diagonal_flags(stages, widths, lambda i, s: is_elementwise(s))
        self.groups = group_stages(diagonal)
        self.diagonal = all(diagonal)
        self.elementals = [compose([fns[i] for i in g]) for g in self.groups]
        self.values = [values[g[0]] for g in self.groups] + [values[-1]]
        self.widths = [v.shape[0] for v in self.values]
        self.dtype = torch.promote_types(x.dtype, values[-1].dtype)

    def plan(self, flops: Callable = torch_flops) -> StagePlan:
        costs = [_elemental_cost(f, self.values[i], self.values[i + 1], flops)
                 for i, f in enumerate(self.elementals)]
        return plan_stages(self.widths, costs, self.groups, self.diagonal, "PyTorch")


def plan(model_or_stages, x: torch.Tensor) -> StagePlan:
    """The optimal schedule for the Jacobian of the stages at ``x``'s shape and dtype.

    ``model_or_stages`` is a ``torch.nn.Sequential`` (its children are the
    stages), one module, or a sequence of modules and functions. Only
    ``x``'s shape, dtype and device are used.

    Examples
    --------
    >>> import torch, chainopt.torch
    >>> torch.manual_seed(0) and None
    >>> net = torch.nn.Sequential(torch.nn.Linear(100, 100), torch.nn.Tanh(),
    ...                           torch.nn.Linear(100, 2), torch.nn.Tanh(),
    ...                           torch.nn.Linear(2, 100), torch.nn.Tanh(),
    ...                           torch.nn.Linear(100, 100))
    >>> p = chainopt.torch.plan(net, torch.ones(100))
    >>> p.widths, p.groups, p.mode
    ((100, 100, 2, 100, 100), ((0, 1), (2, 3), (4, 5), (6,)), 'mixed')
    """
    x = _check_vector(x, "x")
    return _Chain(_stages(model_or_stages), x).plan()


def _execute(chain: _Chain, schedule: StagePlan, x: torch.Tensor) -> torch.Tensor:
    if schedule.diagonal:
        d = jvp(chain.elementals[0], (x,), (torch.ones_like(x),))[1]
        return torch.diag(d).to(chain.dtype)
    linearized, pulled = [], pulled_back(schedule)
    h: Any = x  # None after the last elemental
    for number, f in enumerate(chain.elementals, start=1):
        h, lin = _linearize(f, h, number in pulled, number < len(chain.elementals))
        linearized.append(lin)
    J = run_schedule(schedule, linearized,
                     lambda n: torch.eye(n, dtype=chain.dtype, device=x.device),
                     _matmul, lambda a: a.T)
    return J.to(chain.dtype)


def _matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a @ b`` in the two dtypes promoted (torch's ``@`` refuses mixed ones)."""
    dtype = torch.promote_types(a.dtype, b.dtype)
    return torch.matmul(a.to(dtype), b.to(dtype))


def jacobian_fn(model_or_stages, *, mode: str = "optimal") -> Callable:
    """A function ``x ↦ J`` that plans once per shape, dtype and device of ``x``.

    A plan that is forward or reverse mode runs :func:`torch.func.jacfwd`
    or :func:`torch.func.jacrev`; a mixed one runs its schedule.

    ``mode="forward"`` is :func:`torch.func.jacfwd` of the composition,
    ``"reverse"`` is :func:`torch.func.jacrev`.

    Examples
    --------
    >>> import torch, chainopt.torch
    >>> J = chainopt.torch.jacobian_fn([torch.nn.Linear(3, 2), torch.sin])
    >>> J(torch.ones(3)).shape
    torch.Size([2, 3])
    """
    stages, mode = _stages(model_or_stages), check_mode(mode)
    plans: dict[tuple, tuple[_Chain, StagePlan | None]] = {}

    def jac(x: torch.Tensor) -> torch.Tensor:
        x = _check_vector(x, "x")
        key = (tuple(x.shape), x.dtype, x.device)
        if key not in plans:
            chain = _Chain(stages, x)
            plans[key] = (chain, chain.plan() if mode == "optimal" else None)
        chain, schedule = plans[key]
        if schedule is None or schedule.mode in ("forward", "reverse"):
            # a plan that is a mode runs jacfwd or jacrev
            how = mode if schedule is None else schedule.mode
            jac_mode = torch.func.jacfwd if how == "forward" else torch.func.jacrev
            J = jac_mode(compose(chain.elementals))(x)
            return J if schedule is None else J.to(chain.dtype)
        return _execute(chain, schedule, x)

    return jac


def jacobian(model_or_stages, x: torch.Tensor, *, mode: str = "optimal") -> torch.Tensor:
    """The ``n_L × n_0`` Jacobian of the model at ``x``, as a 2-D tensor.

    Parameters
    ----------
    model_or_stages : torch.nn.Sequential, torch.nn.Module or sequence of callables
        A ``Sequential`` is taken as its children. Each stage maps a 1-D
        tensor to a 1-D tensor; the last may return a scalar (a loss).
    x : torch.Tensor
        A 1-D real floating tensor (float32 or float64).
    mode : {"optimal", "forward", "reverse"}
        ``"optimal"`` runs :func:`plan`'s schedule with ``torch.func.jvp``,
        ``vjp`` and ``vmap``; ``"forward"`` and ``"reverse"`` are
        :func:`torch.func.jacfwd` and :func:`torch.func.jacrev`.

    Raises
    ------
    ChainError
        For an unknown mode, or an input or stage output that is not one
        1-D real floating tensor.

    Examples
    --------
    >>> import torch, chainopt.torch
    >>> lin = torch.nn.Linear(2, 3, bias=False, dtype=torch.float64).requires_grad_(False)
    >>> with torch.no_grad():
    ...     _ = lin.weight.copy_(torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    >>> chainopt.torch.jacobian([lin, torch.sum], torch.ones(2, dtype=torch.float64))
    tensor([[ 9., 12.]], dtype=torch.float64)
    """
    return jacobian_fn(model_or_stages, mode=mode)(x)
