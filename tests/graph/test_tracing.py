import inspect
import math
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings

import chainopt
from chainopt import ChainError, ChainTypeError, trace
from chainopt.graph import OPS, apply, cos, exp, log, maximum, sigmoid, sin, tanh

from .programs import SMOOTH, central_differences, function, plain, programs


def both_modes(graph):
    return graph.gradient("reverse"), graph.gradient("forward")


def trace_program(program, inputs, outputs):
    """Trace a random program, skipping the rare one that overflows."""
    try:
        return trace(function(program, outputs), *inputs)
    except ChainError:
        assume(False)


# -- the course's worked examples ---------------------------------------------------------
def test_lecture_example_x_cubed_times_x_plus_3y():
    graph = trace(lambda x, y: x**3 * (x + 3 * y), 2.0, 3.0)
    assert graph.value == 88
    for grad in both_modes(graph):
        np.testing.assert_array_equal(grad, [140, 24])


def test_lecture_problem_5_x_cubed_times_x_minus_y():
    # f = x^3 (x - y): f_x = 3x^2 (x - y) + x^3 = -12 + 8, f_y = -x^3
    f = lambda x, y: x**3 * (x - y)  # noqa: E731
    graph = trace(f, 2, 3)
    assert graph.value == -8
    for grad in both_modes(graph):
        np.testing.assert_array_equal(grad, [-4, -8])
    np.testing.assert_allclose(central_differences(f, [2, 3])[0], [-4, -8], rtol=1e-7)


def test_lecture_example_x_plus_y_times_z():
    graph = trace(lambda x, y, z: (x + y) * z, -2, 5, -4)
    assert graph.value == -12
    for grad in both_modes(graph):
        np.testing.assert_array_equal(grad, [-4, -4, 3])


def neuron(w, x):
    return 1 / (1 + exp(-(w[0] * x[0] + w[1] * x[1] + w[2])))


def test_sigmoid_neuron_with_vector_inputs():
    graph = trace(neuron, [2, -3, -3], [-1, -2])
    assert graph.value == pytest.approx(0.73, abs=0.005)
    assert [x.name for x in graph.inputs] == ["w[0]", "w[1]", "w[2]", "x[0]", "x[1]"]
    for grad in both_modes(graph):
        np.testing.assert_allclose(grad[:3], [-0.20, -0.39, 0.20], atol=0.01)
        np.testing.assert_allclose(grad[3:], [0.39, -0.59], atol=0.01)
    # the closed form: f' = f (1 - f) times the weighted sum's partials
    s = graph.value * (1 - graph.value)
    np.testing.assert_allclose(graph.gradient(), s * np.array([-1, -2, 1, 2, -3]), rtol=1e-14)


def test_sigmoid_neuron_written_with_numpy_and_sigmoid():
    graph = trace(lambda w, x: sigmoid(np.dot(w[:2], x) + w[2]), [2, -3, -3], [-1, -2])
    np.testing.assert_allclose(graph.gradient(), trace(neuron, [2, -3, -3], [-1, -2]).gradient())


# -- every local derivative rule against finite differences --------------------------------
POINTS = {"log": (0.7,), "pow": (1.3, 2.4), "div": (0.8, -1.7)}


@pytest.mark.parametrize("op", sorted(OPS))
def test_each_rule_matches_central_differences(op):
    arity = len(OPS[op][2])
    point = POINTS.get(op, (0.4, -1.1)[:arity])
    graph = trace(lambda *xs: apply(op, *xs), *point)
    plain_op = lambda *xs: apply(op, *map(float, xs))  # noqa: E731
    np.testing.assert_allclose(graph.gradient(), central_differences(plain_op, point)[0],
                               rtol=1e-7, atol=1e-9)
    np.testing.assert_array_equal(graph.gradient(), graph.gradient("forward"))


def test_reflected_operators_with_plain_numbers():
    graph = trace(lambda x: (2 - x, 2 / x, 2**x, -x, +x, 3 * x, x - 1, x / 4, x**2), 1.5)
    jac = graph.jacobian()
    expected = [-1, -2 / 1.5**2, 2**1.5 * math.log(2), -1, 1, 3, 1, 0.25, 3.0]
    np.testing.assert_allclose(jac[:, 0], expected, rtol=1e-15)


def test_numpy_ufuncs_and_numpy_scalars_trace():
    graph = trace(lambda x, y: np.sin(x) * np.exp(y) + np.float64(2.0) * np.maximum(x, y)
                  + np.log(y) - np.tanh(x) / np.cos(y) ** 2, 0.3, 1.2)
    reference = trace(lambda x, y: sin(x) * exp(y) + 2.0 * maximum(x, y)
                      + log(y) - tanh(x) / cos(y) ** 2, 0.3, 1.2)
    np.testing.assert_allclose(graph.gradient(), reference.gradient(), rtol=1e-15)
    assert graph.operations == reference.operations


def test_numpy_object_arrays_of_traced_values():
    graph = trace(lambda w: np.sum(np.exp(w) * w), [0.1, 0.2, 0.3])
    w = np.array([0.1, 0.2, 0.3])
    np.testing.assert_allclose(graph.gradient(), np.exp(w) * (1 + w), rtol=1e-14)


def test_unsupported_ufunc_and_math_functions_are_refused():
    with pytest.raises(ChainTypeError, match="numpy.arctan is not supported"):
        trace(lambda x: np.arctan(x), 1.0)
    with pytest.raises(ChainTypeError, match="use chainopt.graph's sin"):
        trace(lambda x: math.sin(x), 1.0)


def test_functions_on_plain_numbers_give_plain_floats():
    assert sin(0.5) == math.sin(0.5) and isinstance(sigmoid(0), float)
    assert sigmoid(-1000.0) == 0.0 and sigmoid(1000.0) == 1.0  # no overflow
    with pytest.raises(TypeError):
        maximum(1.0)
    with pytest.raises(ChainTypeError, match="must be a real number"):
        sin("x")


@pytest.mark.parametrize("a", [-800.0, -40.0, -20.0, 0.3, 20.0, 40.0, 800.0])
def test_tanh_and_sigmoid_derivatives_are_accurate_in_the_tails(a):
    e = math.exp(-abs(a))
    assert trace(tanh, a).gradient()[0] == pytest.approx(4 * e * e / (1 + e * e) ** 2, rel=1e-14)
    assert trace(sigmoid, a).gradient()[0] == pytest.approx(e / (1 + e) ** 2, rel=1e-14)


def test_edge_cases_of_powers_and_constants():
    assert trace(lambda x: x**0, 0.0).gradient()[0] == 0  # a constant, even at 0
    assert trace(lambda x: x**1, 0.0).gradient()[0] == 1
    assert trace(lambda x, y: x**y, 0.0, 2.0).gradient().tolist() == [0, 0]
    with pytest.raises(ChainError, match="is undefined"):
        trace(lambda x: x * 10**400, 1.0)
    with pytest.raises(ChainError, match="not differentiable"):
        trace(lambda x, y: x**y, -2.0, 2.0)  # a**b near b = 2 has no real value for a < 0


def test_zero_dimensional_arrays_and_elementwise_functions():
    graph = trace(lambda w: np.sum(sin(w) * w), np.array([0.1, 0.2]))
    np.testing.assert_allclose(graph.gradient(), np.sin([0.1, 0.2]) + np.cos([0.1, 0.2])
                               * np.array([0.1, 0.2]), rtol=1e-14)
    assert trace(lambda x: np.array(x * 2), 1.5).value == 3.0


def test_maximum_routes_the_derivative_to_the_larger_argument_and_splits_ties():
    assert list(trace(lambda x, y: maximum(x, y), 3, 1).gradient()) == [1, 0]
    assert list(trace(lambda x, y: maximum(x, y), 1, 3).gradient()) == [0, 1]
    assert list(trace(lambda x, y: maximum(x, y), 2, 2).gradient()) == [0.5, 0.5]


def test_control_flow_follows_the_traced_values():
    def relu_or_square(x):
        return x if x > 0 else x * x

    assert trace(relu_or_square, 2.0).gradient()[0] == 1
    assert trace(relu_or_square, -2.0).gradient()[0] == -4


def test_repeated_arguments_become_one_edge_with_summed_partials():
    graph = trace(lambda x: x * x, 3.0)
    assert graph.edges == [(0, 1, 6.0)]
    assert graph.gradient()[0] == 6


# -- structure and special outputs -----------------------------------------------------------
def test_nodes_are_in_topological_order_and_dead_code_is_dropped():
    def f(x, y):
        unused = sin(x) * 100  # noqa: F841 - never reaches the output
        return x * y + x

    graph = trace(f, 2, 3)
    assert [n.index for n in graph.nodes] == list(range(len(graph)))
    assert all(p.index < n.index for n in graph.nodes for p in n.parents)
    assert [n.formula for n in graph.nodes] == ["x", "y", "x * y", "v2 + x"]
    assert graph.operations == 2
    assert repr(graph) == "<Graph 2 inputs, 2 operations, 1 output>"


def test_unused_inputs_constants_and_inputs_as_outputs():
    graph = trace(lambda x, y, z: (x * y, 5, z), 2, 3, 4)
    assert graph.value == (6.0, 5.0, 4.0)
    expected = [[3, 2, 0], [0, 0, 0], [0, 0, 1]]
    for mode in ("reverse", "forward"):
        np.testing.assert_array_equal(graph.jacobian(mode), expected)
    np.testing.assert_array_equal(graph.gradient(output=2), [0, 0, 1])
    np.testing.assert_array_equal(graph.gradient("forward", output=-3), [3, 2, 0])


def test_gradient_of_several_outputs_asks_which():
    graph = trace(lambda x, y: (x * y, x + y), 2, 3)
    with pytest.raises(ChainError, match="2 outputs, so no single gradient; pass output=k"):
        graph.gradient()
    with pytest.raises(ChainError, match="output must be an int in 0 .. 1; got 2"):
        graph.gradient(output=2)
    with pytest.raises(ChainError, match="mode must be 'forward' or 'reverse'; got 'backward'"):
        graph.gradient("backward", output=0)


@pytest.mark.parametrize(
    "args, error, fragment",
    [
        ((42, 1.0), ChainTypeError, "needs a function first"),
        ((lambda: 1.0,), ChainError, "at least one input"),
        ((lambda x: x, "2"), ChainTypeError, "inputs[0] must be a real number"),
        ((lambda x: x, True), ChainTypeError, "inputs[0] must be a real number"),
        ((lambda x: x, 1 + 2j), ChainTypeError, "inputs[0] must be a real number"),
        ((lambda x, y: x, 1.0, [[1.0]]), ChainError, "inputs[1] must be a scalar or a non-empty"),
        ((lambda x: x, []), ChainError, "non-empty 1-D"),
        ((lambda x: x, float("nan")), ChainError, "inputs[0] must be finite"),
        ((lambda x: "x", 1.0), ChainTypeError, "the output of f must be a traced value"),
        ((lambda x: (x, None), 1.0), ChainTypeError, "output 1 of f"),
        ((lambda x: (), 1.0), ChainError, "non-empty flat tuple"),
        ((lambda x: ((x, x), (x, x)), 1.0), ChainError, "non-empty flat tuple"),
        ((lambda x: log(x), -1.0), ChainError, r"log\(-1\) is undefined"),
        ((lambda x: 1 / x, 0.0), ChainError, r"1 / 0 is undefined"),
        ((lambda x: x**0.5, 0.0), ChainError, "not differentiable"),
        ((lambda x: x ** (1 / 3), -8.0), ChainError, "undefined"),
        ((lambda x: exp(x), 1000.0), ChainError, "undefined"),
        ((lambda x: x * 1e300 * 1e300, 1.0), ChainError, "not finite"),
    ],
)
def test_bad_functions_and_inputs_raise_clear_errors(args, error, fragment):
    with pytest.raises(error, match=fragment if "\\" in fragment else fragment.replace(
            "[", r"\[").replace("]", r"\]")):
        trace(*args)


def test_values_from_another_trace_are_refused():
    outer = []
    trace(lambda x: outer.append(x) or x, 1.0)
    with pytest.raises(ChainError, match="not one of its own inputs"):
        trace(lambda y: y * outer[0], 2.0)


# -- counting ---------------------------------------------------------------------------------
def test_counts_of_the_lecture_example():
    graph = trace(lambda x, y: x**3 * (x + 3 * y), 2.0, 3.0)
    # v2 = x**3, v3 = 3*y, v4 = x + v3, v5 = v2 * v4: 4 operations, 6 edges
    assert graph.operations == 4 and len(graph.edges) == 6
    rev, fwd = graph.differentiate("reverse"), graph.differentiate("forward")
    # one reverse sweep: one multiplication per edge; x's adjoint sums two terms
    assert (rev.sweeps, rev.multiplications, rev.additions) == (1, 6, 1)
    # x reaches 4 edges (v5 sums two terms), y reaches 3
    assert (fwd.sweeps, fwd.multiplications, fwd.additions) == (2, 7, 1)


def cone_edges(graph, start, forward):
    """Edges leaving nodes reachable from ``start`` (or entering nodes that reach it)."""
    edges = graph.edges
    reached, changed = {start}, True
    while changed:
        changed = False
        for p, v, _ in edges:
            a, b = (p, v) if forward else (v, p)
            if a in reached and b not in reached:
                reached.add(b)
                changed = True
    return sum(1 for p, v, _ in edges if (p if forward else v) in reached)


@settings(max_examples=60, deadline=None)
@given(programs())
def test_sweep_counts_match_their_definition(case):
    graph = trace_program(*case)
    for k, out in enumerate(graph.outputs):
        d = graph.differentiate("reverse", output=k)
        assert d.multiplications == cone_edges(graph, out.index, forward=False)
    fwd = graph.differentiate("forward")
    assert fwd.sweeps == len(graph.inputs)
    assert fwd.multiplications == sum(cone_edges(graph, x.index, True) for x in graph.inputs)
    # one sweep is at most 2 operations per edge, and every operation has <= 2 edges
    one = graph.differentiate("reverse", output=0)
    assert one.operations <= 2 * len(graph.edges) <= 4 * graph.operations


def mixing(*xs):
    """Every input reaches the long tail, so every forward sweep crosses it."""
    s = sum(x * x for x in xs)
    for _ in range(50):
        s = sin(s) * s
    return s


def test_reverse_is_a_small_multiple_of_the_function_and_forward_grows_with_inputs():
    for n in (2, 8, 32):
        graph = trace(mixing, *np.linspace(0.1, 1, n))
        rev, fwd = graph.differentiate("reverse"), graph.differentiate("forward")
        assert rev.sweeps == 1 and fwd.sweeps == n
        assert rev.operations <= 2 * graph.operations
        assert fwd.operations >= n / 2 * rev.operations
        np.testing.assert_allclose(rev.gradient, fwd.gradient, rtol=1e-13)


# -- random compositions: finite differences and forward = reverse ----------------------------
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(programs(SMOOTH))
def test_random_compositions_match_central_differences(case):
    program, inputs, outputs = case
    plain_f = plain(program, outputs)
    try:
        values = np.atleast_1d(plain_f(*inputs))
    except ArithmeticError:  # a float overflow on an extreme program
        assume(False)
    assume(np.all(np.abs(values) < 1e3))
    graph = trace(function(program, outputs), *inputs)
    np.testing.assert_allclose(np.atleast_1d(graph.value), values, rtol=1e-13, atol=1e-13)
    jac = graph.jacobian()
    fd = central_differences(plain_f, inputs)
    assume(np.all(np.abs(fd) < 1e4))
    np.testing.assert_allclose(jac, fd, rtol=1e-5, atol=1e-6 * (1 + np.abs(fd).max()))


@settings(max_examples=100, deadline=None)
@given(programs())
def test_forward_and_reverse_mode_agree(case):
    graph = trace_program(*case)
    rev, fwd = graph.jacobian("reverse"), graph.jacobian("forward")
    np.testing.assert_allclose(rev, fwd, rtol=1e-12, atol=1e-12 * (1 + np.abs(rev).max()))


# -- size: no recursion anywhere ---------------------------------------------------------------
@pytest.fixture
def shallow_recursion_limit():
    """Any recursive walk of a long graph fails under this limit."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack(0)) + 80)
    yield
    sys.setrecursionlimit(old)


def test_a_100000_node_chain_works_everywhere(shallow_recursion_limit):
    def f(x):
        for _ in range(100_000):
            x = sin(x)
        return x

    graph = trace(f, 0.3)
    assert len(graph) == 100_001
    value, slope = 0.3, 1.0  # independent reference: the chain rule in a plain loop
    for _ in range(100_000):
        slope *= math.cos(value)
        value = math.sin(value)
    assert graph.value == value
    for mode in ("reverse", "forward"):
        assert graph.gradient(mode)[0] == pytest.approx(slope, rel=1e-10)
    for order in ("forward", "reverse", "markowitz"):
        result = graph.eliminate(order)
        assert result.multiplications == 99_999
        assert result.jacobian[0, 0] == pytest.approx(slope, rel=1e-10)
    assert graph.to_dot().count("->") == 100_000
    del graph


# -- text -------------------------------------------------------------------------------------
def test_node_and_summary_text():
    graph = trace(lambda x, y: x**3 * (x - y), 2, 3)
    assert repr(graph.nodes[2]) == "<Node v2 = x ** 3: 8>"
    text = graph.summary(["optimal"])
    assert "value: f = -8" in text and "∂f/∂x = -4, ∂f/∂y = -8" in text
    assert "forward mode        2                6          1           7        2.33" in text
    assert "vertex elimination (optimal): 3 multiplications" in text
    many = trace(lambda x, y: (x * y, x - y), 2, 3).summary(["markowitz"])
    assert "Jacobian (outputs × inputs):" in many and "the same Jacobian" in many


def test_exports():
    assert chainopt.trace is trace and chainopt.Graph is type(trace(lambda x: x, 1))
