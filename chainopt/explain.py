"""Plans explained: as text, as a dict (for JSON) and as a DataFrame.

pandas is imported only inside :func:`plan_frame`, so planning and
execution never pay for it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pandas as pd

from .costs import times
from .validation import format_shape


class Plan(Protocol):
    """What an explanation reads of a plan (:class:`chainopt.Plan` has it all).

    Declared here so that this module needs nothing above it: the plan
    imports its explanations, never the other way round.
    """

    @property
    def n(self) -> int: ...
    @property
    def shapes(self) -> tuple[tuple[int, int], ...]: ...
    @property
    def kinds(self) -> tuple[str, ...]: ...
    @property
    def names(self) -> tuple[str, ...]: ...
    @property
    def pairs(self) -> tuple[tuple[int, int], ...]: ...
    @property
    def cost(self) -> int: ...
    @property
    def method(self) -> str: ...
    @property
    def minimized(self) -> str: ...
    @property
    def memory_limit(self) -> int | None: ...
    @property
    def gram(self) -> tuple[int, ...]: ...
    @property
    def time_model(self) -> Any: ...
    @property
    def cost_function(self) -> Any: ...

    @property
    def shape(self) -> tuple[int, int]: ...
    @property
    def steps(self) -> Sequence[Any]: ...
    @property
    def flops(self) -> int: ...
    @property
    def exact(self) -> bool: ...
    @property
    def parenthesization(self) -> str: ...
    @property
    def objective(self) -> Any: ...
    @property
    def optimised_for(self) -> str | None: ...
    @property
    def predicted_time(self) -> float | None: ...
    @property
    def peak_elements(self) -> int: ...
    @property
    def largest_intermediate(self) -> Any: ...
    @property
    def left_to_right_cost(self) -> int: ...
    @property
    def right_to_left_cost(self) -> int: ...
    @property
    def left_to_right_speedup(self) -> float: ...
    @property
    def right_to_left_speedup(self) -> float: ...
    @property
    def left_to_right_time(self) -> float | None: ...
    @property
    def right_to_left_time(self) -> float | None: ...

__all__ = ["explain", "format_seconds", "plan_dict", "plan_frame"]

#: Factors and steps listed in full up to this many; longer lists are cut.
LIST_LIMIT = 12


def _count(value: int) -> str:
    return f"{value:,}"


def format_seconds(seconds: float) -> str:
    """Seconds the way people read them.

    Examples
    --------
    >>> format_seconds(0.00123), format_seconds(4.5e-7), format_seconds(12.0)
    ('1.23 ms', '450 ns', '12 s')
    """
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def _factors_line(plan: Plan) -> str:
    items = [f"{name} {format_shape(shape)}" for name, shape in zip(plan.names, plan.shapes)]
    for i, kind in enumerate(plan.kinds):
        if kind == "diagonal":
            items[i] += " (diagonal)"
    if len(items) > LIST_LIMIT:
        items = items[:3] + [f"… {len(items) - 6} more …"] + items[-3:]
    return ", ".join(items)


def _step_line(step) -> str:
    line = (
        f"  {step.number:>3}. {step.result} = {step.left} · {step.right}"
        f"   {format_shape(step.left_shape)} · {format_shape(step.right_shape)}"
        f" → {format_shape(step.shape)}   {_count(step.multiplications)}"
    )
    if step.predicted_time is not None:
        line += f"   {step.kernel} {format_seconds(step.predicted_time)}"
    return line


def _steps_lines(plan: Plan) -> list[str]:
    steps = plan.steps
    if len(steps) <= LIST_LIMIT:
        return [_step_line(s) for s in steps]
    head, tail = steps[:5], steps[-5:]
    skipped = f"  … {len(steps) - 10} more steps …"
    return [_step_line(s) for s in head] + [skipped] + [_step_line(s) for s in tail]


def _baseline_line(label: str, cost: int, best: int) -> str:
    return f"{label}: {_count(cost)} multiplications ({times(cost, best)} the plan's cost)"


def _objective_lines(plan: Plan) -> list[str]:
    """What the order minimises, its predicted time and its memory limit."""
    lines = []
    if plan.optimised_for != plan.minimized:
        chosen = plan.optimised_for or "nothing (a fixed order)"
        lines.append(
            f"Optimised for: {chosen}; method {plan.method!r} does not minimise "
            f"{plan.minimized}, which is only reported here (method='dp' minimises it)")
    elif plan.minimized == "memory":
        lines.append(
            f"Optimised for: memory (largest intermediate {_count(plan.peak_elements)} "
            f"elements), then multiplications")
    elif plan.minimized == "custom":
        name = getattr(plan.cost_function, "__name__", "cost")
        lines.append(f"Optimised for: the sum of {name}(m, k, n) over the steps "
                     f"({plan.objective:,})")
    elif plan.minimized == "time":
        lines.append(f"Optimised for: predicted time ({plan.time_model.source} time model)")
    predicted, left, right = (plan.predicted_time, plan.left_to_right_time,
                              plan.right_to_left_time)
    if predicted is not None and left is not None and right is not None:
        lines.append(
            f"Predicted time: {format_seconds(predicted)} (left to right "
            f"{format_seconds(left)}, right to left {format_seconds(right)})")
    if plan.memory_limit is not None:
        lines.append(f"Memory limit: {_count(plan.memory_limit)} elements per intermediate")
    return lines


def explain(plan: Plan) -> str:
    """The readable explanation that ``str(plan)`` shows.

    Examples
    --------
    >>> import chainopt
    >>> print(chainopt.plan_chain([(10, 100), (100, 5), (5, 50)]))
    Chain of 3 factors: A 10×100, B 100×5, C 5×50 → 10×50
    Order: ((AB)C)   (dp, exact optimum)
    Cost: 7,500 multiplications (15,000 FLOPs, counted as 2 × multiplications)
    Left to right ((AB)C)…: 7,500 multiplications (1× the plan's cost)
    Right to left A(B(C…)): 75,000 multiplications (10× the plan's cost)
    Largest intermediate: T1 10×5 (50 elements)
    Steps (multiplications):
        1. T1 = A · B   10×100 · 100×5 → 10×5   5,000
        2. T2 = T1 · C   10×5 · 5×50 → 10×50   2,500
    """
    quality = "exact optimum" if plan.exact else "approximate, not proven optimal"
    order = plan.parenthesization if plan.n <= 64 else (
        "(too long to show: plan.parenthesization, plan.pairs, plan.to_json())")
    lines = [
        f"Chain of {plan.n} factors: {_factors_line(plan)} → {format_shape(plan.shape)}",
        f"Order: {order}   ({plan.method}, {quality})",
        f"Cost: {_count(plan.cost)} multiplications "
        f"({_count(plan.flops)} FLOPs, counted as 2 × multiplications)",
        _baseline_line("Left to right ((AB)C)…", plan.left_to_right_cost, plan.cost),
        _baseline_line("Right to left A(B(C…))", plan.right_to_left_cost, plan.cost),
        *_objective_lines(plan),
    ]
    big = plan.largest_intermediate
    if big is not None:
        lines.append(
            f"Largest intermediate: {big.result} {format_shape(big.shape)} "
            f"({_count(big.elements)} elements)"
        )
    if plan.steps and plan.time_model is not None:
        lines.append("Steps (multiplications, kernel and predicted time):")
        lines += _steps_lines(plan)
    elif plan.steps:
        lines.append("Steps (multiplications):")
        lines += _steps_lines(plan)
    return "\n".join(lines)


def _step_dict(step) -> dict[str, Any]:
    return {
        "step": step.number,
        "result": step.result,
        "left": step.left,
        "right": step.right,
        "left_shape": list(step.left_shape),
        "right_shape": list(step.right_shape),
        "shape": list(step.shape),
        "kind": step.kind,
        "multiplications": step.multiplications,
        "kernel": step.kernel,
        "predicted_time": step.predicted_time,
    }


def finite(obj: Any) -> Any:
    """``obj`` with every float beyond range (inf, NaN) as None: strict JSON.

    >>> finite({"ratio": float("inf"), "steps": [1.5, float("nan")]})
    {'ratio': None, 'steps': [1.5, None]}
    """
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {key: finite(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(value) for value in obj]
    return obj


def _json_float(value: float) -> float | None:
    """A float for JSON: None beyond float range (ratios of exact huge costs)."""
    return value if math.isfinite(value) else None


def plan_dict(plan: Plan) -> dict[str, Any]:
    """The explanation as JSON-ready objects (ints stay exact).

    Examples
    --------
    >>> import chainopt
    >>> d = chainopt.plan_chain([(10, 100), (100, 5), (5, 50)]).to_dict()
    >>> d["parenthesization"], d["cost"], d["right_to_left_cost"]
    ('((AB)C)', 7500, 75000)
    """
    big = plan.largest_intermediate
    return {
        "names": list(plan.names),
        "shapes": [list(s) for s in plan.shapes],
        "kinds": list(plan.kinds),
        "method": plan.method,
        "exact": plan.exact,
        "parenthesization": plan.parenthesization,
        "cost": plan.cost,
        "flops": plan.flops,
        "left_to_right_cost": plan.left_to_right_cost,
        "right_to_left_cost": plan.right_to_left_cost,
        "left_to_right_speedup": _json_float(plan.left_to_right_speedup),
        "right_to_left_speedup": _json_float(plan.right_to_left_speedup),
        "largest_intermediate": None if big is None else {
            "step": big.number, "shape": list(big.shape), "elements": big.elements},
        "minimized": plan.minimized,
        "optimised_for": plan.optimised_for,
        "objective": plan.objective,
        "memory_limit": plan.memory_limit,
        "gram": [[i, i + 1] for i in plan.gram],
        "time_model": None if plan.time_model is None else plan.time_model.source,
        "predicted_time": plan.predicted_time,
        "left_to_right_time": plan.left_to_right_time,
        "right_to_left_time": plan.right_to_left_time,
        "pairs": [list(pair) for pair in plan.pairs],
        "steps": [_step_dict(s) for s in plan.steps],
    }


def plan_frame(plan: Plan) -> pd.DataFrame:
    """The steps as a :class:`pandas.DataFrame`, one row per product.

    Columns: step, result, left, right, left_shape, right_shape, shape,
    kind, multiplications (exact ints), kernel, predicted_time (seconds;
    NaN without a time model) and flops (2 × multiplications).

    Examples
    --------
    >>> import chainopt
    >>> frame = chainopt.plan_chain([(10, 100), (100, 5), (5, 50)]).to_frame()
    >>> frame["multiplications"].tolist()
    [5000, 2500]
    """
    import pandas as pd

    rows = [_step_dict(s) for s in plan.steps]
    for row in rows:
        for key in ("left_shape", "right_shape", "shape"):
            row[key] = format_shape(row[key])
    frame = pd.DataFrame(rows, columns=[
        "step", "result", "left", "right", "left_shape", "right_shape", "shape",
        "kind", "multiplications", "kernel", "predicted_time"])
    frame["predicted_time"] = frame["predicted_time"].astype(float)
    if plan.cost >= 2**62:  # keep huge counts exact rather than wrap in int64
        frame["multiplications"] = frame["multiplications"].astype(object)
    frame["flops"] = frame["multiplications"] * 2
    return frame.set_index("step")
