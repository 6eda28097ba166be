import itertools

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from chainopt import ChainError, ChainTypeError, trace
from chainopt.graph import cos, exp, sin, tanh
from chainopt.graph.elimination import OPTIMAL_LIMIT, eliminate, linearize, optimal_order

from .programs import function, programs

NAMED = ("forward", "reverse", "markowitz", "optimal")


# -- independent references -------------------------------------------------------------------
def frontier(adjacency, j, gone):
    """Vertices still present that reach j (or that j reaches) through eliminated ones only."""
    seen, stack, found = {j}, [j], set()
    while stack:
        for u in adjacency[stack.pop()]:
            if u not in seen:
                seen.add(u)
                (stack.append(u) if u in gone else found.add(u))
    return found


def path_cost(lin, order):
    """Multiplications of an order, from paths in the *original* graph (no updates)."""
    succs, gone, total = lin.successors(), set(), 0
    for j in order:
        total += len(frontier(lin.preds, j, gone)) * len(frontier(succs, j, gone))
        gone.add(j)
    return total


def path_sum_jacobian(lin):
    """Bauer's formula: sum over all input-output paths of the product of edge weights."""
    column = {v: i for i, v in enumerate(lin.inputs)}
    jac = np.zeros((len(lin.outputs), len(lin.inputs)))
    for k, out in enumerate(lin.outputs):
        stack = [(out, 1.0)]
        while stack:
            v, weight = stack.pop()
            if v in column:
                jac[k, column[v]] += weight
            stack.extend((p, weight * c) for p, c in lin.preds[v].items())
    return jac


def traced(case, most=None, least=0):
    program, inputs, outputs = case
    try:
        graph = trace(function(program, outputs), *inputs)
    except ChainError:
        assume(False)
    assume(least <= len(graph.intermediates) <= (most or len(graph)))
    return graph


# -- every order: the same Jacobian, counted as defined ---------------------------------------
@settings(max_examples=80, deadline=None)
@given(programs(max_size=10), st.data())
def test_every_order_gives_the_jacobian_of_both_sweeps_and_of_path_sums(case, data):
    graph = traced(case, most=10)
    lin = graph.linearize()
    reference = graph.jacobian("reverse")
    scale = 1e-10 * (1 + np.abs(reference).max())
    np.testing.assert_allclose(graph.jacobian("forward"), reference, rtol=1e-10, atol=scale)
    np.testing.assert_allclose(path_sum_jacobian(lin), reference, rtol=1e-10, atol=scale)
    shuffled = data.draw(st.permutations(lin.intermediates))
    for order in (*NAMED, shuffled):
        result = graph.eliminate(order)
        np.testing.assert_allclose(result.jacobian, reference, rtol=1e-10, atol=scale)
        assert result.multiplications == path_cost(lin, result.order)
        assert sorted(result.order) == sorted(lin.intermediates)


@settings(max_examples=40, deadline=None)
@given(programs(min_size=4, max_size=9))
def test_optimal_equals_brute_force_over_all_permutations(case):
    lin = traced(case, most=6, least=3).linearize()
    brute = min(path_cost(lin, p) for p in itertools.permutations(lin.intermediates))
    order, cost = optimal_order(lin)
    assert cost == brute == path_cost(lin, order)
    assert eliminate(lin, "optimal").multiplications == brute


@settings(max_examples=40, deadline=None)
@given(programs(min_size=6, max_size=14), st.data())
def test_optimal_is_never_worse_than_any_other_order(case, data):
    graph = traced(case, most=12, least=3)
    best = graph.eliminate("optimal").multiplications
    others = [graph.eliminate(o).multiplications for o in ("forward", "reverse", "markowitz")]
    others.append(graph.eliminate(data.draw(st.permutations(graph.intermediates))).multiplications)
    assert all(best <= other for other in others)


@settings(max_examples=40, deadline=None)
@given(programs(max_size=12))
def test_markowitz_takes_the_cheapest_vertex_first_ties_by_index(case):
    lin = traced(case).linearize()
    order, gone = eliminate(lin, "markowitz").order, []
    for j in order:
        left = [v for v in lin.intermediates if v not in gone]
        costs = {v: path_cost(lin, [*gone, v]) - path_cost(lin, gone) for v in left}
        assert j == min(left, key=lambda v: (costs[v], v))
        gone.append(j)


# -- worked examples ---------------------------------------------------------------------------
def fan_out(x1, x2):
    """a = x1 + x2, b = sin(a), three outputs of b: fewer inputs than outputs."""
    b = sin(x1 + x2)
    return exp(b), cos(b), tanh(b)


def test_forward_order_wins_with_fewer_inputs_than_outputs():
    graph = trace(fan_out, 0.3, 0.4)
    assert graph.intermediates == (2, 3)
    # forward: a costs 2·1, then b costs 2·3; reverse: b costs 1·3, then a costs 2·3
    costs = {o: graph.eliminate(o).multiplications for o in NAMED}
    assert costs == {"forward": 8, "reverse": 9, "markowitz": 8, "optimal": 8}


def test_reverse_order_wins_with_fewer_outputs_than_inputs():
    def fan_in(x1, x2, x3):
        b = sin(x1 * x2 + x3)  # v3 = x1*x2, v4 = v3 + x3, v5 = sin(v4)
        return b * b, exp(b)

    graph = trace(fan_in, 0.3, 0.4, 0.5)
    # forward: v3 (2·1) + v4 (3·1) + v5 (3·2) = 11; reverse: v5 (1·2) + v4 (2·2) + v3 (2·2) = 10
    costs = {o: graph.eliminate(o).multiplications for o in NAMED}
    assert costs == {"forward": 11, "reverse": 10, "markowitz": 10, "optimal": 10}


def test_markowitz_is_not_always_optimal():
    def f(x):
        v1 = x * x
        v2 = v1 + v1
        return sin(v2 - v1 * v2)  # v3 = v1 * v2, v4 = v2 - v3, v5 = sin(v4)

    graph = trace(f, 0.7)
    # every intermediate starts at cost 2; Markowitz takes v1 by index and pays 6.
    # v3 (2·1), v2 (1·1), v1 (1·1), v4 (1·1) pays 5.
    costs = {o: graph.eliminate(o).multiplications for o in NAMED}
    assert costs == {"forward": 6, "reverse": 6, "markowitz": 6, "optimal": 5}
    assert graph.eliminate([3, 2, 1, 4]).multiplications == 5


def test_every_order_of_a_chain_costs_one_multiplication_per_vertex():
    graph = trace(lambda x: sin(sin(sin(sin(x)))), 0.5)
    for order in (*NAMED, (2, 1, 3), (3, 1, 2)):
        assert graph.eliminate(order).multiplications == 3


def test_a_scalar_function_eliminates_to_its_gradient():
    graph = trace(lambda x, y: x**3 * (x + 3 * y), 2.0, 3.0)
    for order in NAMED:
        np.testing.assert_array_equal(graph.eliminate(order).jacobian, [[140, 24]])


# -- outputs that are not sinks get copy vertices ------------------------------------------------
@pytest.mark.parametrize(
    "f, expected_copies",
    [
        (lambda x, y: ((a := x * y), sin(a)), ["f0"]),   # an output used further
        (lambda x, y: (x, x * y), ["f0"]),                # an input as output
        (lambda x, y: ((a := x * y), a), ["f0", "f1"]),   # the same output twice
        (lambda x, y: (x * y, 7.0), []),                  # a constant output
    ],
)
def test_non_sink_outputs(f, expected_copies):
    graph = trace(f, 2.0, 3.0)
    lin = graph.linearize()
    assert [lin.names[v] for v in lin.outputs if v >= len(graph)] == expected_copies
    assert all(not any(o in pv for pv in lin.preds) for o in lin.outputs)  # all sinks
    for order in NAMED:
        np.testing.assert_allclose(graph.eliminate(order).jacobian, graph.jacobian(), rtol=1e-15)


def test_no_intermediates():
    result = trace(lambda x, y: x * y, 2, 3).eliminate("optimal")
    assert (result.multiplications, result.order) == (0, ())
    np.testing.assert_array_equal(result.jacobian, [[3, 2]])
    assert "(no intermediates)" in str(result)


# -- explicit orders and limits --------------------------------------------------------------------
@pytest.fixture
def graph():
    """x, y -> v2 = x*y, v3 = sin(v2), v4 = v3 + x (f0), v5 = v2 * y (f1)."""
    return trace(lambda x, y: (sin(a := x * y) + x, a * y), 2.0, 3.0)


def test_explicit_order(graph):
    assert graph.intermediates == (2, 3)
    result = graph.eliminate([3, 2])
    assert (result.method, result.order) == ("given", (3, 2))
    assert result.multiplications == path_cost(graph.linearize(), [3, 2])
    result = graph.eliminate(np.array([2, 3]))
    np.testing.assert_allclose(result.jacobian, graph.jacobian(), rtol=1e-15)
    assert str(result).startswith("vertex elimination (given):")


@pytest.mark.parametrize(
    "order, error, fragment",
    [
        ("sideways", ChainError, "order must be one of 'forward', 'reverse', 'markowitz', "
                                 "'optimal' or a sequence of vertex indices; got 'sideways'"),
        (3, ChainTypeError, "order must be one of"),
        ([2, "3"], ChainTypeError, "order[1] must be a vertex index (an int); got '3'"),
        ([2, True], ChainTypeError, "order[1] must be a vertex index"),
        ([2, 9], ChainError, "order[1] = 9 is not a vertex; vertices are 0 .. 5"),
        ([0, 2, 3], ChainError, "order[0] = 0 is the input x; only intermediates are "
                                "eliminated: 2, 3"),
        ([2, 4, 3], ChainError, "order[1] = 4 is the output f0 (v4)"),
        ([2, 3, 2], ChainError, "order[2] = 2 appears twice (also order[0])"),
        ([3], ChainError, "order misses intermediates 2; list each of 2, 3 exactly once"),
        ([], ChainError, "order misses intermediates 2, 3"),
    ],
)
def test_bad_explicit_orders(graph, order, error, fragment):
    with pytest.raises(error) as info:
        graph.eliminate(order)
    assert fragment in str(info.value)


def chain(length):
    def f(x):
        for _ in range(length):
            x = sin(x)
        return x
    return trace(f, 0.5)


def test_optimal_works_up_to_its_limit_and_refuses_beyond():
    assert OPTIMAL_LIMIT >= 8
    assert chain(OPTIMAL_LIMIT + 1).eliminate("optimal").multiplications == OPTIMAL_LIMIT
    with pytest.raises(ChainError, match=f"at most {OPTIMAL_LIMIT} intermediates; this graph "
                                         f"has {OPTIMAL_LIMIT + 1}; use order='markowitz'"):
        chain(OPTIMAL_LIMIT + 2).eliminate("optimal")


def test_linearize_by_hand():
    # x -> v1 = 2x -> (f0 = v1, f1 = 3·v1): f0 is used further, so it gets a copy
    lin = linearize([(), (0,), (1,)], [(), (2.0,), (3.0,)], [0], [1, 2], ["x", "v1", "v2"])
    assert lin.names == ("x", "v1", "v2", "y0") and lin.outputs == (3, 2)
    assert lin.intermediates == (1,) and lin.edges == 3
    np.testing.assert_array_equal(eliminate(lin, "forward").jacobian, [[2.0], [6.0]])
