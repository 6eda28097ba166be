"""plan_chain(shapes, minimize=f): the exact optimum of the sum of f(m, k, n) over steps."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainopt import ChainError, ChainTypeError, plan_chain
from chainopt.costs import steps_peak, steps_total
from chainopt.trees import all_trees, tree_to_steps

COSTS = {
    "multiplications": lambda m, k, n: m * k * n,
    "elements moved": lambda m, k, n: m * k + k * n + m * n,
    "distributed bytes": lambda m, k, n: 4 * (m * k * -(-n // 8) + k * n * -(-m // 8)),
    "gpu table": lambda m, k, n: 1e-6 + 2e-12 * m * k * n + 1e-9 * (m * n) ** 0.5,
    "outer products are dear": lambda m, k, n: m * n * (10 if k == 1 else k),
}


def _shapes(dims):
    return [(dims[i], dims[i + 1]) for i in range(len(dims) - 1)]


def _best(cost, shapes, limit=None):
    n = len(shapes)
    values = []
    for tree in all_trees(0, n - 1):
        steps = tree_to_steps(tree, n)
        if limit is None or steps_peak(shapes, ["dense"] * n, steps) <= limit:
            values.append(steps_total(cost, shapes, ["dense"] * n, steps))
    return min(values)


@settings(max_examples=60, deadline=None)
@given(dims=st.lists(st.integers(0, 40), min_size=2, max_size=8),
       name=st.sampled_from(sorted(COSTS)))
def test_the_dp_finds_the_exact_optimum_of_any_cost(dims, name):
    cost, shapes = COSTS[name], _shapes(dims)
    plan = plan_chain(shapes, minimize=cost)
    assert plan.minimized == "custom" and plan.exact
    assert plan.objective == pytest.approx(_best(cost, shapes), rel=1e-12)
    assert plan.objective == steps_total(cost, plan.shapes, plan.kinds, plan.pairs)
    brute = plan_chain(shapes, minimize=cost, method="brute")
    assert brute.objective == pytest.approx(plan.objective, rel=1e-12)


@settings(max_examples=30, deadline=None)
@given(dims=st.lists(st.integers(1, 40), min_size=3, max_size=8),
       name=st.sampled_from(sorted(COSTS)), fraction=st.floats(0, 1))
def test_a_memory_limit_is_respected_exactly(dims, name, fraction):
    cost, shapes = COSTS[name], _shapes(dims)
    lowest = plan_chain(shapes, minimize="memory").peak_elements
    limit = int(lowest + fraction * max(d * e for d, e in shapes))
    plan = plan_chain(shapes, minimize=cost, memory_limit=limit)
    assert plan.peak_elements <= limit
    assert plan.objective == pytest.approx(_best(cost, shapes, limit), rel=1e-12)


def test_multiplications_as_a_callable_give_the_same_plan(rng):
    dims = [int(d) for d in rng.integers(1, 60, 40)]
    shapes = _shapes(dims)
    ours = plan_chain(shapes, minimize=lambda m, k, n: m * k * n)
    assert ours.pairs == plan_chain(shapes).pairs
    assert ours.objective == ours.cost


def test_integer_costs_stay_exact_beyond_int64():
    shapes = _shapes([10**12, 10**12, 10**12, 1])
    plan = plan_chain(shapes, minimize=lambda m, k, n: m * k * n + 1)
    assert plan.objective == 2 * 10**24 + 2
    assert isinstance(plan.objective, int)


def test_the_callable_is_called_once_per_distinct_product():
    calls = []

    def cost(m, k, n):
        calls.append((m, k, n))
        return m * k * n

    plan_chain(_shapes([5] * 12), minimize=cost)
    assert calls == [(5, 5, 5)]


def test_a_custom_plan_executes_and_explains_itself(rng):
    shapes = _shapes([20, 3, 30, 2, 10])

    def moved(m, k, n):
        return m * k + k * n + m * n

    plan = plan_chain(shapes, minimize=moved)
    arrays = [rng.standard_normal(s) for s in shapes]
    np.testing.assert_allclose(plan.execute(*arrays), np.linalg.multi_dot(arrays))
    assert f"Optimised for: the sum of moved(m, k, n) over the steps ({plan.objective:,})" \
        in str(plan)
    assert "for='custom'" in repr(plan)


@pytest.mark.parametrize("cost, error, match", [
    (lambda m, k, n: "cheap", ChainTypeError, r"cost\(2, 3, 4\) must return a number"),
    (lambda m, k, n: None, ChainTypeError, "must return a number; got NoneType"),
    (lambda m, k, n: True, ChainTypeError, "must return a number; got bool"),
    (lambda m, k, n: math.nan, ChainError, r"cost\(2, 3, 4\) returned NaN"),
])
def test_a_cost_that_is_not_a_number_is_refused(cost, error, match):
    with pytest.raises(error, match=match):
        plan_chain([(2, 3), (3, 4)], minimize=cost)


def test_the_deprecated_cost_spelling_takes_a_callable_too():
    with pytest.warns(DeprecationWarning, match="use minimize="):
        plan = plan_chain(_shapes([20, 3, 30, 2]), cost=lambda m, k, n: m + k + n)
    assert plan.minimized == "custom"
