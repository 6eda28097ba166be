"""Framework-neutral planning and execution of a chain of stages.

:mod:`chainopt.jax` and :mod:`chainopt.torch` differentiate
``stages[-1](⋯ stages[0](x))`` by the schedule :func:`chainopt.plan_matrix_free`
finds. What they share lives here; each adapter supplies only what its
framework does differently (shapes, costs, batched jvp/vjp, ``eye``, ``@``).

Conventions: *stages* are the user's callables, numbered from 0; an
*elemental* is what the plan sees (layer ``i`` of the matrix-free chain,
numbered from 1): one stage that is not elementwise together with the
elementwise stages that follow it (or precede it, at the start of the
chain). A stage is *elementwise* (its Jacobian is diagonal) when the
adapter detects it or the user declares it with :func:`elementwise`.

Costs
-----
A stage's tangent cost ``T`` and adjoint cost ``A`` are what the framework
counts for one more Jacobian-vector (vector-Jacobian) product in a batch,
in multiply-adds (FLOPs / 2, rounded up). Each is at least the size of the
product's result (``n_out`` for a tangent, ``n_in`` for an adjoint), since
even a product the counter sees as free (a permutation, an elementwise op
that :mod:`torch.utils.flop_counter` does not count) writes its result.
Where the framework's analysis gives nothing at all (no FLOP count), the
stage is costed as if it were dense, ``n_in · n_out``, and its source is
shown as ``estimated`` in the plan.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from ..errors import ChainError, ChainTypeError
from .matrix_free import MatrixFreePlan, explain_matrix_free, plan_matrix_free
from .modes import MODES

__all__ = ["Elementwise", "StagePlan", "compose", "diagonal_flags", "elementwise",
           "group_stages", "plan_stages", "pulled_back", "run_schedule", "stage_cost"]


class Elementwise:
    """A stage declared elementwise: its Jacobian is diagonal.

    Build it with :func:`elementwise`; it calls the wrapped function.
    """

    def __init__(self, function: Callable[[Any], Any]):
        if not callable(function):
            raise ChainTypeError(f"elementwise() needs a callable; got {type(function).__name__}")
        self.function = function

    def __call__(self, x):
        return self.function(x)

    def __repr__(self) -> str:
        return f"elementwise({self.function!r})"


def elementwise(function: Callable[[Any], Any]) -> Elementwise:
    """Declare that ``function`` acts elementwise (its Jacobian is diagonal).

    The plan then costs it with its neighbour, and a chain of only
    elementwise stages is differentiated by one tangent of ones. Declaring a
    stage that is not elementwise gives a wrong Jacobian.

    Examples
    --------
    >>> import math
    >>> f = elementwise(math.tanh)
    >>> round(f(0.5), 4), f
    (0.4621, elementwise(<built-in function tanh>))
    """
    return function if isinstance(function, Elementwise) else Elementwise(function)


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ChainError(f"mode must be one of {', '.join(map(repr, MODES))}; got {mode!r}")
    return mode


def check_stages(stages: Sequence[Callable]) -> tuple[Callable, ...]:
    """The stages as a tuple, or a ChainTypeError naming the bad one."""
    if callable(stages) or isinstance(stages, (str, bytes)) or not isinstance(stages, Sequence):
        raise ChainTypeError(f"stages must be a sequence of callables (for one function f, "
                             f"give [f]); got {type(stages).__name__}")
    if not stages:
        raise ChainError("stages is empty; give at least one callable")
    for i, stage in enumerate(stages):
        if not callable(stage):
            raise ChainTypeError(f"stage {i} must be a callable; got {type(stage).__name__}")
    return tuple(stages)


def compose(functions: Sequence[Callable]) -> Callable:
    """``x ↦ functions[-1](⋯ functions[0](x))``.

    Examples
    --------
    >>> compose([abs, str])(-3)
    '3'
    """
    def composed(h):
        for function in functions:
            h = function(h)
        return h
    return composed


def diagonal_flags(stages: Sequence[Callable], widths: Sequence[int],
                   detect: Callable[[int, Callable], bool]) -> list[bool]:
    """Which stages are elementwise: declared, or ``detect(i, stage)`` says so.

    Raises a ChainError for a stage declared elementwise that changes the width.
    """
    flags = []
    for i, stage in enumerate(stages):
        same = widths[i] == widths[i + 1]
        if isinstance(stage, Elementwise) and not same:
            raise ChainError(f"stage {i} is declared elementwise but maps {widths[i]} values "
                             f"to {widths[i + 1]}; an elementwise stage keeps the width "
                             f"(drop elementwise())")
        flags.append(same and detect(i, stage))
    return flags


class StageCost(NamedTuple):
    """One stage's costs per product, in multiply-adds, and where they came from."""

    tangent: int
    adjoint: int
    source: str


def stage_cost(tangent_flops: float | None, adjoint_flops: float | None,
               n_in: int, n_out: int, source: str) -> StageCost:
    """A stage's costs from the FLOPs one more tangent and adjoint take.

    ``None`` (the analysis gave nothing) costs the stage as dense.

    Examples
    --------
    >>> stage_cost(2_003_000, 2_004_000, 1000, 1000, "xla")
    StageCost(tangent=1001500, adjoint=1002000, source='xla')
    >>> stage_cost(0, 0, 5, 3, "torch")     # counted as free: the result's size
    StageCost(tangent=3, adjoint=5, source='torch')
    >>> stage_cost(None, None, 5, 3, "xla")
    StageCost(tangent=15, adjoint=15, source='estimated')
    """
    if tangent_flops is None or adjoint_flops is None:
        return StageCost(n_in * n_out, n_in * n_out, "estimated")
    return StageCost(max(math.ceil(tangent_flops / 2), n_out),
                     max(math.ceil(adjoint_flops / 2), n_in), source)


def group_stages(diagonal: Sequence[bool]) -> tuple[tuple[int, ...], ...]:
    """The stages of each elemental: elementwise stages join their neighbour.

    Each stage that is not elementwise starts an elemental; the elementwise
    stages after it join it, those before the first one join the first.
    All elementwise: one elemental.

    Examples
    --------
    >>> group_stages([True, False, True, False, False, True])
    ((0, 1, 2), (3,), (4, 5))
    >>> group_stages([True, True])
    ((0, 1),)
    """
    groups: list[list[int]] = []
    leading: list[int] = []
    for i, diag in enumerate(diagonal):
        if not diag:
            groups.append([*leading, i])
            leading = []
        elif groups:
            groups[-1].append(i)
        else:
            leading.append(i)
    if not groups:
        groups = [leading]
    return tuple(tuple(group) for group in groups)


@dataclasses.dataclass(frozen=True, eq=False)
class StagePlan(MatrixFreePlan):
    """A :class:`~chainopt.MatrixFreePlan` over a framework's stages.

    Its elementals are groups of the user's stages (``groups``, 0-based
    stage numbers), each costed by the framework (``sources``). When every
    stage is elementwise (``diagonal``), the Jacobian is diagonal and one
    tangent of ones accumulates it: the plan's ``cost`` is that tangent's.
    """

    groups: tuple[tuple[int, ...], ...] = ()
    sources: tuple[str, ...] = ()
    diagonal: bool = False
    framework: str = ""

    @property
    def mode(self) -> str:
        return "diagonal" if self.diagonal else super().mode

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data.update(groups=[list(g) for g in self.groups], sources=list(self.sources),
                    diagonal=self.diagonal, framework=self.framework)
        return data

    def __str__(self) -> str:
        lines = [f"{self.framework} stages as elementals (costs from the framework, "
                 "multiply-adds per product):"]
        for i, (group, source) in enumerate(zip(self.groups, self.sources), start=1):
            names = ", ".join(map(str, group))
            lines.append(f"  J{i} = stage{'s' if len(group) > 1 else ''} {names}: "
                         f"{self.widths[i - 1]} → {self.widths[i]}, "
                         f"T {self.tangent_costs[i - 1]:,}, A {self.adjoint_costs[i - 1]:,}"
                         f" ({source})")
        if self.diagonal:
            lines.append(f"Every stage is elementwise: the Jacobian is diagonal, "
                         f"accumulated by one tangent of ones (cost {self.cost:,})")
            return "\n".join(lines)
        return "\n".join(lines) + "\n" + explain_matrix_free(self)


def plan_stages(widths: Sequence[int], costs: Sequence[StageCost],
                groups: tuple[tuple[int, ...], ...], diagonal: bool,
                framework: str) -> StagePlan:
    """The optimal schedule of the elementals ``groups`` with ``costs``."""
    t = [c.tangent for c in costs]
    a = [c.adjoint for c in costs]
    base = plan_matrix_free(widths, t, a)
    fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(MatrixFreePlan)}
    if diagonal:
        fields.update(cost=t[0])
    return StagePlan(**fields, groups=groups, sources=tuple(c.source for c in costs),
                     diagonal=diagonal, framework=framework)


class Linearized(NamedTuple):
    """An elemental linearized at its input: batched products, batch in axis 0.

    ``tangents(V)`` maps the rows of ``V`` (``k × n_in``) to ``k × n_out``;
    ``adjoints(W)`` maps the rows of ``W`` (``k × n_out``) to ``k × n_in``.
    """

    tangents: Callable[[Any], Any]
    adjoints: Callable[[Any], Any]


def pulled_back(plan: MatrixFreePlan) -> set[int]:
    """The elementals (numbered from 1) whose adjoints ``plan`` uses.

    Examples
    --------
    >>> plan = plan_matrix_free([4, 4, 1, 4, 4], [16, 4, 4, 16], [16, 4, 4, 16])
    >>> sorted(pulled_back(plan))
    [1, 2]
    """
    return {number for op in plan.operations if "adjoint" in op.kind for number in op.layers}


def run_schedule(plan: MatrixFreePlan, elementals: Sequence[Linearized],
                 eye: Callable[[int], Any], matmul: Callable[[Any, Any], Any],
                 transpose: Callable[[Any], Any]):
    """The ``n_L × n_0`` Jacobian by ``plan``'s operations, in any framework.

    Tangent batches are kept as rows (``k × n``, the transpose of the
    accumulated columns) so every batched product maps axis 0.
    """
    values: dict[str, Any] = {}
    for op in plan.operations:
        if op.kind == "multiply":
            upper, lower = (values.pop(name) for name in op.operands)
            value = matmul(upper, lower)
        elif op.kind == "preaccumulate by tangents":
            value = transpose(elementals[op.first - 1].tangents(eye(plan.widths[op.first - 1])))
        elif op.kind == "preaccumulate by adjoints":
            value = elementals[op.first - 1].adjoints(eye(plan.widths[op.last]))
        elif op.kind == "tangents":
            rows = transpose(values.pop(op.operands[0]))
            for number in op.layers:
                rows = elementals[number - 1].tangents(rows)
            value = transpose(rows)
        else:
            value = values.pop(op.operands[0])
            for number in op.layers:
                value = elementals[number - 1].adjoints(value)
        values[op.result] = value
    return values[plan.operations[-1].result]
