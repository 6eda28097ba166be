"""Matrix-free bracketing: the DP against every schedule, and execution on layers."""

import functools
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainopt import ChainError, ChainTypeError, mlp
from chainopt.jacobians.matrix_free import _homogeneous, plan_matrix_free, schedule_cost
from chainopt.planners import brute_force


def all_schedules(i, j):
    """Every schedule of the four operations for layers i..j (no pruning)."""
    if i == j:
        yield ("preaccumulate", i, "tangent")
        yield ("preaccumulate", i, "adjoint")
        return
    for k in range(i, j):
        for upper in all_schedules(k + 1, j):
            yield ("adjoints", upper, i, k)
            for lower in all_schedules(i, k):
                yield ("multiply", upper, lower)
        for lower in all_schedules(i, k):
            yield ("tangents", lower, k + 1, j)


def dense(jacobian):
    return np.diag(jacobian) if jacobian.ndim == 1 else jacobian


def explicit_jacobian(net, x):
    return functools.reduce(np.matmul, [dense(j) for j in net.jacobians(x)[::-1]])


@st.composite
def chains(draw, max_layers=4):
    layers = draw(st.integers(1, max_layers))
    widths = draw(st.lists(st.integers(1, 9), min_size=layers + 1, max_size=layers + 1))
    costs = st.lists(st.integers(1, 60), min_size=layers, max_size=layers)
    return widths, draw(costs), draw(costs)


@settings(max_examples=150, deadline=None)
@given(chains())
def test_dp_equals_the_cheapest_of_all_schedules(chain):
    widths, t, a = chain
    plan = plan_matrix_free(widths, t, a)
    layers = len(widths) - 1
    everything = [schedule_cost(s, widths, t, a) for s in all_schedules(1, layers)]
    assert plan.cost == min(everything)
    assert schedule_cost(plan.schedule, widths, t, a) == plan.cost


def test_dp_on_five_layers_against_all_schedules():
    rng = np.random.default_rng(5)
    for _ in range(3):
        widths = [int(w) for w in rng.integers(1, 12, 6)]
        t = [int(c) for c in rng.integers(1, 100, 5)]
        a = [int(c) for c in rng.integers(1, 100, 5)]
        best = min(schedule_cost(s, widths, t, a) for s in all_schedules(1, 5))
        assert plan_matrix_free(widths, t, a).cost == best


@settings(max_examples=100, deadline=None)
@given(chains(max_layers=6))
def test_baselines(chain):
    widths, t, a = chain
    plan = plan_matrix_free(widths, t, a)
    assert plan.forward_cost == widths[0] * sum(t)
    assert plan.reverse_cost == widths[-1] * sum(a)
    pre = sum(min(widths[i] * t[i], widths[i + 1] * a[i]) for i in range(len(t)))
    assert plan.preaccumulate_cost == pre + brute_force(widths[::-1])[0]
    assert plan.cost <= min(plan.forward_cost, plan.reverse_cost, plan.preaccumulate_cost)
    if plan.mode == "mixed":
        assert plan.cost < min(plan.forward_cost, plan.reverse_cost)
    assert sum(op.cost for op in plan.operations) == plan.cost


def test_modes_and_ties():
    # Scalar output with T = A: reverse mode, one adjoint per elemental.
    net = mlp([784, 256, 10, 1])
    plan = plan_matrix_free(net.widths, net.nnz, net.nnz)
    assert plan.mode == "reverse"
    assert plan.cost == plan.reverse_cost == 200_704 + 256 + 2_560 + 10 + 10  # 1 · ΣA
    assert [op.kind for op in plan.operations] == ["preaccumulate by adjoints", "adjoints"]
    # Expensive adjoints (a tape) can make forward mode win for a narrow input.
    wide = plan_matrix_free([2, 50, 50, 3], [100, 2500, 150], [1000, 25000, 1500])
    assert wide.mode == "forward" and wide.cost == 2 * 2750
    # One square layer with T = A: both modes cost the same; the tie goes to reverse.
    assert plan_matrix_free([3, 3], [9], [9]).mode == "reverse"


def test_hourglass_is_mixed_and_much_cheaper():
    net = mlp([1000, 1000, 10, 1000, 1000])
    plan = plan_matrix_free(net.widths, net.nnz, net.nnz)
    assert plan.mode == "mixed"
    assert min(plan.forward_cost, plan.reverse_cost) > 30 * plan.cost


NETWORKS = [([5, 7, 3], None), ([6, 6, 2, 6, 6], None), ([4, 9, 9, 2], "squared_error"),
            ([3, 8, 5], "softmax_cross_entropy"), ([1, 6, 1, 6, 4], None)]


@pytest.mark.parametrize("widths, loss", NETWORKS)
def test_execution_through_tangents_and_adjoints_matches_the_explicit_jacobian(
        widths, loss, rng):
    net = mlp(widths, "tanh", seed=2, loss=loss)
    x = rng.standard_normal(widths[0])
    plan = plan_matrix_free(net.widths, net.nnz, net.nnz)
    value, count = plan.execute_counting(net, x)
    np.testing.assert_allclose(value, explicit_jacobian(net, x), rtol=1e-10, atol=1e-12)
    assert count == plan.cost  # T = A = nnz: the cost is the multiply-adds performed


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_every_kind_of_schedule_executes_correctly(data):
    # Random costs steer the DP to every operation; the Jacobian must not change.
    net = mlp([4, 6, 2, 5, 3], "sigmoid", seed=4)
    layers = len(net.layers)
    costs = st.lists(st.integers(1, 500), min_size=layers, max_size=layers)
    plan = plan_matrix_free(net.widths, data.draw(costs), data.draw(costs))
    x = np.linspace(-1, 1, 4)
    np.testing.assert_allclose(plan.execute(net, x), explicit_jacobian(net, x),
                               rtol=1e-10, atol=1e-12)


def test_all_four_operations_occur_across_cost_models():
    net = mlp([4, 6, 2, 5, 3], "sigmoid", seed=4)
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(200):
        t, a = rng.integers(1, 500, (2, len(net.layers)))
        plan = plan_matrix_free(net.widths, t.tolist(), a.tolist())
        seen |= {op.kind for op in plan.operations}
    assert seen == {"preaccumulate by tangents", "preaccumulate by adjoints", "tangents",
                    "adjoints", "multiply"}


def test_explanation_and_dict():
    plan = plan_matrix_free([4, 4, 1, 4, 4], [16, 4, 4, 16], [16, 4, 4, 16])
    text = str(plan)
    assert "Optimum: 56, mixed" in text and "Preaccumulate all, then multiply: 184" in text
    data = plan.to_dict()
    assert data["cost"] == 56 and data["mode"] == "mixed"
    assert data["operations"][-1]["kind"] == "multiply"
    assert data["operations"][-1]["operands"] == ["G2", "G4"]


def reference_candidates(i, j, n, best, t_sum, a_sum):
    """The original pure-Python DP's candidates for layers i..j (kept as a reference)."""
    for k in range(i, j):
        upper, lower = best[k + 1][j], best[i][k]
        yield upper[0] + n[j] * (a_sum[k] - a_sum[i - 1]), 0, ("adjoints", upper[1], i, k)
        yield lower[0] + n[i - 1] * (t_sum[j] - t_sum[k]), 1, ("tangents", lower[1], k + 1, j)
        yield upper[0] + lower[0] + n[j] * n[k] * n[i - 1], 2, ("multiply", upper[1], lower[1])


def reference_plan(n, t, a):
    """(cost, schedule) by the original O(L³) loop over Python ints, ties included."""
    layers = len(n) - 1
    t_sum, a_sum = [0, *itertools.accumulate(t)], [0, *itertools.accumulate(a)]
    best = [[None] * (layers + 1) for _ in range(layers + 1)]
    for i in range(1, layers + 1):
        by_adjoint, by_tangent = n[i] * a[i - 1], n[i - 1] * t[i - 1]
        how = "adjoint" if by_adjoint <= by_tangent else "tangent"
        best[i][i] = (min(by_adjoint, by_tangent), ("preaccumulate", i, how))
    for span in range(1, layers):
        for i in range(1, layers - span + 1):
            best[i][i + span] = min(reference_candidates(i, i + span, n, best, t_sum, a_sum),
                                    key=lambda c: (c[0], c[1]))[::2]
    candidates = [(n[-1] * sum(a), 0, _homogeneous(layers, "adjoint")),
                  (n[0] * sum(t), 1, _homogeneous(layers, "tangent")),
                  (best[1][layers][0], 2, best[1][layers][1])]
    cost, _, schedule = min(candidates, key=lambda c: (c[0], c[1]))
    return cost, schedule


@st.composite
def tied_or_huge_chains(draw, max_layers=9):
    layers = draw(st.integers(1, max_layers))
    top = draw(st.sampled_from([3, 40, 10**6, 10**15]))  # small: many ties; huge: Python ints
    values = st.integers(1, top)
    widths = draw(st.lists(values, min_size=layers + 1, max_size=layers + 1))
    t = draw(st.lists(values, min_size=layers, max_size=layers))
    a = t if draw(st.booleans()) else draw(st.lists(values, min_size=layers, max_size=layers))
    return widths, t, a


@settings(max_examples=300, deadline=None)
@given(tied_or_huge_chains())
def test_vectorised_dp_equals_the_original_loop_to_the_schedule(chain):
    widths, t, a = chain
    plan = plan_matrix_free(widths, t, a)
    assert (plan.cost, plan.schedule) == reference_plan(widths, t, a)
    assert type(plan.cost) is int


def test_vectorised_dp_equals_the_original_loop_on_longer_chains(rng):
    for layers, top in [(40, 3), (40, 100), (25, 10**7)]:
        widths = [int(w) for w in rng.integers(1, top, layers + 1)]
        t, a = ([int(c) for c in rng.integers(1, top * top, layers)] for _ in range(2))
        plan = plan_matrix_free(widths, t, a)
        assert (plan.cost, plan.schedule) == reference_plan(widths, t, a)


def test_long_chains_do_not_recurse():
    widths = [3, 5] * 40 + [3]
    plan = plan_matrix_free(widths, [15] * 80, [15] * 80)
    assert plan.cost == schedule_cost(plan.schedule, widths, [15] * 80, [15] * 80)


@pytest.mark.parametrize("args, error, fragment", [
    (([3], [], []), ChainError, "at least n_1"),
    (([3, 0], [1], [1]), ChainError, "width 1 must be a positive integer; got 0"),
    (([3, 2], [1, 2], [1]), ChainError, "tangent_costs has 2 entries for 1 layers"),
    (([3, 2], [1], [0]), ChainError, r"adjoint_costs\[0\] must be a positive integer; got 0"),
    (([3, 2], "1", [1]), ChainTypeError, "tangent_costs must be a sequence"),
    (("32", [1], [1]), ChainTypeError, "widths must be a sequence"),
])
def test_bad_arguments(args, error, fragment):
    with pytest.raises(error, match=fragment):
        plan_matrix_free(*args)


def test_executing_on_the_wrong_network():
    plan = plan_matrix_free([3, 2], [6], [6])
    with pytest.raises(ChainError, match="the plan is for widths"):
        plan.execute(mlp([4, 2]), np.ones(4))
