"""Jacobian chains: plans, the scalar-output theorem, the three modes, the sweeps."""

import dataclasses
import functools
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainopt
from chainopt import ChainError, ChainTypeError, Network, jacobian, mlp, plan_jacobian
from chainopt.costs import steps_cost
from chainopt.jacobians import (
    check_jacobian,
    forward_sweep,
    numerical_jacobian,
    relative_error,
    reverse_sweep,
    scalar_reverse_optimal,
)
from chainopt.jacobians.layers import Activation, Affine, Layer, SquaredError
from chainopt.planners import brute_force
from chainopt.trees import all_trees, tree_to_steps


def forward_formula(widths):
    """Σ_{i=2}^{L} n_i n_{i−1} n_0: pushing n_0 columns through J_2 … J_L."""
    return sum(widths[i] * widths[i - 1] * widths[0] for i in range(2, len(widths)))


def reverse_formula(widths):
    """Σ_{i=1}^{L−1} n_L n_i n_{i−1}: pulling n_L rows back through J_{L−1} … J_1."""
    return sum(widths[-1] * widths[i] * widths[i - 1] for i in range(1, len(widths) - 1))


def product_dims(widths):
    return list(widths[::-1])


# -- plan_jacobian --------------------------------------------------------------
def test_plan_is_over_the_factors_in_product_order():
    plan = plan_jacobian([784, 256, 10, 1])
    assert isinstance(plan, chainopt.Plan)
    assert plan.shapes == ((1, 10), (10, 256), (256, 784))
    assert plan.names == ("J3", "J2", "J1")
    assert plan.widths == (784, 256, 10, 1)
    assert plan.mode == "reverse" and plan.parenthesization == "((J3 J2) J1)"
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.cost = 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=2, max_size=8))
def test_mode_costs_match_the_formulas_and_the_optimum_brute_force(widths):
    plan = plan_jacobian(widths)
    assert plan.forward_cost == forward_formula(widths)
    assert plan.reverse_cost == reverse_formula(widths)
    assert plan.cost == brute_force(product_dims(widths))[0]
    assert steps_cost(plan.shapes, plan.kinds, plan.pairs) == plan.cost
    if plan.mode == "mixed":
        assert plan.cost < min(plan.forward_cost, plan.reverse_cost)
    elif plan.mode == "forward":
        assert plan.cost == plan.forward_cost < plan.reverse_cost
        assert plan.parenthesization == plan_chain_order(widths, "right")
    else:
        assert plan.cost == plan.reverse_cost
        assert plan.parenthesization == plan_chain_order(widths, "left")


def plan_chain_order(widths, method):
    shapes = [(widths[i], widths[i - 1]) for i in range(len(widths) - 1, 0, -1)]
    names = [f"J{i}" for i in range(len(widths) - 1, 0, -1)]
    return chainopt.plan_chain(shapes, names=names, method=method).parenthesization


def test_ties_go_to_reverse_then_forward():
    assert plan_jacobian([5, 5, 5, 5]).mode == "reverse"  # all orders cost the same
    assert plan_jacobian([7, 3]).mode == "reverse"  # one layer: no products at all
    assert plan_jacobian([1, 6, 3, 1]).mode == "forward"


def test_wide_output_forward_wins_and_hourglass_is_mixed():
    wide = plan_jacobian([10, 100, 1000, 10000])
    assert wide.mode == "forward" and wide.reverse_cost == 10 * wide.cost
    hourglass = plan_jacobian([1000, 1000, 10, 1000, 1000])
    assert hourglass.mode == "mixed"
    assert hourglass.tree == ((0, 1), (2, 3))
    assert min(hourglass.forward_cost, hourglass.reverse_cost) > 30 * hourglass.cost


def test_structure_aware_kinds_in_layer_order():
    plan = plan_jacobian([6, 4, 4, 2], kinds=["dense", "diagonal", "dense"])
    assert plan.layer_kinds == ("dense", "diagonal", "dense")
    assert plan.kinds == ("dense", "diagonal", "dense")[::-1]
    assert plan.cost == brute_force([2, 4, 4, 6], ["dense", "diagonal", "dense"])[0]
    assert plan.to_dict()["layer_kinds"] == ["dense", "diagonal", "dense"]


@pytest.mark.parametrize("widths, kinds, error, fragment", [
    ([5], None, ChainError, "at least one output width"),
    ([5, 0], None, ChainError, "width 1 must be a positive integer; got 0"),
    ("5,3", None, ChainTypeError, "widths must be a sequence"),
    ([5, 3], ["dense", "dense"], ChainError, "kinds has 2 entries for 1 layers"),
    ([5, 3], ["diagonal"], ChainError, "layer 1 is declared diagonal but maps 5 values to 3"),
    ([5, 3], ["sparse"], ChainError, "the kind of layer 1 must be one of"),
])
def test_bad_widths_and_kinds(widths, kinds, error, fragment):
    with pytest.raises(error, match=fragment):
        plan_jacobian(widths, kinds)


def test_explanation_and_dict_name_the_modes():
    plan = plan_jacobian([1000, 1000, 10, 1000, 1000])
    text = str(plan)
    assert "Forward mode  A(BC): 1,020,000,000 multiplications" in text
    assert "mixed mode: ((J4 J3) (J2 J1))" in text and "Steps (multiplications)" in text
    data = plan.to_dict()
    assert data["mode"] == "mixed" and data["widths"] == [1000, 1000, 10, 1000, 1000]
    assert data["forward_cost"] == data["reverse_cost"] == 1_020_000_000
    assert "mode='mixed'" in repr(plan)


# -- (b): scalar output ---------------------------------------------------------
def all_bracketing_costs(widths, kinds=None):
    dims = product_dims(widths)
    n = len(dims) - 1
    shapes = [(dims[i], dims[i + 1]) for i in range(n)]
    kinds = ["dense"] * n if kinds is None else list(kinds)[::-1]
    return [steps_cost(shapes, kinds, tree_to_steps(t, n)) for t in all_trees(0, n - 1)]


def scalar_width_vectors(max_length=6, max_width=6):
    for length in range(2, max_length + 1):
        for head in itertools.product(range(1, max_width + 1), repeat=length - 1):
            yield head + (1,)


def test_scalar_output_theorem_exhaustively():
    # Every n_0 … n_L with n_L = 1, L ≤ 5 and widths 1…6: 9,330 chains.
    checked = 0
    for widths in scalar_width_vectors():
        plan = plan_jacobian(widths)
        costs = all_bracketing_costs(widths)
        optimum = min(costs)
        reverse_is_optimal = plan.reverse_cost == optimum
        assert plan.cost == optimum
        assert reverse_is_optimal == scalar_reverse_optimal(widths), widths
        assert (plan.mode == "reverse") == reverse_is_optimal
        if min(widths[:-1]) >= 2:  # part (i): reverse mode is the unique optimum
            assert costs.count(optimum) == 1, widths
        checked += 1
    assert checked == 9330


def test_scalar_output_with_diagonal_layers_stays_reverse_but_ties():
    ties = 0
    for widths in scalar_width_vectors(max_length=6, max_width=4):
        if min(widths[:-1]) < 2:
            continue
        for kinds in itertools.product(["dense", "diagonal"], repeat=len(widths) - 2):
            kinds = (*kinds, "dense")
            if any(k == "diagonal" and widths[i] != widths[i + 1] for i, k in enumerate(kinds)):
                continue
            plan = plan_jacobian(widths, kinds)
            costs = all_bracketing_costs(widths, kinds)
            assert plan.mode == "reverse" and plan.cost == min(costs)
            ties += costs.count(min(costs)) > 1
    assert ties > 0  # unlike the dense case, other orders can tie


def test_the_condition_is_about_scalar_outputs():
    with pytest.raises(ChainError, match="the last width must be 1, got 3"):
        scalar_reverse_optimal([4, 3])


def test_counterexamples_where_the_condition_fails():
    scalar_to_scalar = plan_jacobian([1, 6, 3, 1])  # n_1 is not the smallest inner width
    assert (scalar_to_scalar.forward_cost, scalar_to_scalar.reverse_cost) == (21, 24)
    assert scalar_to_scalar.mode == "forward"
    two_bottlenecks = plan_jacobian([2, 1000, 1, 1000, 1])  # ones not in one run
    assert two_bottlenecks.mode == "mixed" and two_bottlenecks.cost < two_bottlenecks.reverse_cost


# -- the three modes on real networks ------------------------------------------
NETWORKS = [
    ([4, 7, 3], "tanh", None),
    ([5, 8, 8, 2], "sigmoid", "squared_error"),
    ([6, 5, 4], "relu", "softmax_cross_entropy"),
    ([8, 8, 2, 8, 8], "tanh", None),  # hourglass: the optimum is mixed
    ([2, 9, 30], "sigmoid", None),  # wide output: forward mode is optimal
    ([12, 3, 1], "tanh", None),
]


@pytest.mark.parametrize("widths, activation, loss", NETWORKS)
def test_modes_agree_with_each_other_and_finite_differences(widths, activation, loss, rng):
    net = mlp(widths, activation, seed=3, loss=loss)
    x = rng.standard_normal(widths[0])
    reference = numerical_jacobian(net, x)
    results = {mode: jacobian(net, x, mode) for mode in chainopt.jacobians.MODES}
    for mode, value in results.items():
        assert value.shape == (net.widths[-1], widths[0])
        assert relative_error(value, reference) <= 1e-6, mode
        np.testing.assert_allclose(value, results["reverse"], rtol=1e-10, atol=1e-12)
    assert check_jacobian(net, x) <= 1e-6


def test_the_hourglass_network_is_really_planned_mixed():
    net = mlp([8, 8, 2, 8, 8])
    assert plan_jacobian(net.widths, net.kinds).mode == "mixed"


def test_gradient_of_a_loss_is_row_zero(rng):
    net = mlp([6, 4, 3], loss="squared_error")
    x = rng.standard_normal(6)
    gradient = jacobian(net, x)[0]
    manual = numerical_jacobian(lambda v: net(v)[0], x)
    assert relative_error(gradient, manual) < 1e-8


# -- (a): the sweeps perform exactly the two bracketings -----------------------
def explicit_product(net, x, method):
    """Multiply the explicit Jacobians in one fixed order, with the core Plan."""
    jacobians = net.jacobians(x)[::-1]
    kinds = list(net.kinds[::-1])
    shapes = [(layer.n_out, layer.n_in) for layer in net.layers[::-1]]
    plan = chainopt.plan_chain(shapes, kinds=kinds, method=method)
    return plan.execute(*jacobians), plan.cost


@pytest.mark.parametrize("widths, activation, loss", NETWORKS)
def test_sweeps_are_the_two_bracketings(widths, activation, loss, rng):
    net = mlp(widths, activation, seed=1, loss=loss)
    x = rng.standard_normal(widths[0])
    plan = plan_jacobian(net.widths, net.kinds)
    forward, forward_count = forward_sweep(net, x)
    reverse, reverse_count = reverse_sweep(net, x)
    right, right_cost = explicit_product(net, x, "right")
    left, left_cost = explicit_product(net, x, "left")
    np.testing.assert_allclose(forward, right, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(reverse, left, rtol=1e-12, atol=1e-14)
    assert forward_count == right_cost == plan.forward_cost == plan.right_to_left_cost
    assert reverse_count == left_cost == plan.reverse_cost == plan.left_to_right_cost


def test_sweeps_with_elementwise_layers_at_the_ends(rng):
    n = 5
    layers = [Activation("tanh", n), Activation("sigmoid", n),
              Affine(rng.standard_normal((3, n))), Activation("tanh", 3),
              Activation("sigmoid", 3)]
    net = Network(layers)
    x = rng.standard_normal(n)
    plan = plan_jacobian(net.widths, net.kinds)
    forward, forward_count = forward_sweep(net, x)
    reverse, reverse_count = reverse_sweep(net, x)
    reference = numerical_jacobian(net, x)
    assert relative_error(forward, reference) < 1e-8
    assert relative_error(reverse, reference) < 1e-8
    assert (forward_count, reverse_count) == (plan.forward_cost, plan.reverse_cost)
    only_diagonal = Network([Activation("tanh", 4), Activation("relu", 4)])
    value, count = forward_sweep(only_diagonal, np.array([1.0, -1.0, 2.0, -2.0]))
    assert value.shape == (4, 4) and count == 4
    assert np.count_nonzero(value - np.diag(np.diag(value))) == 0


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 7), min_size=2, max_size=5),
       st.sampled_from(["tanh", "sigmoid", "relu"]), st.integers(0, 1000))
def test_modes_agree_on_random_networks(widths, activation, seed):
    net = mlp(widths, activation, seed)
    x = np.random.default_rng(seed).standard_normal(widths[0])
    reference = functools.reduce(np.matmul, [
        np.diag(j) if j.ndim == 1 else j for j in net.jacobians(x)[::-1]])
    for mode in ("optimal", "forward", "reverse"):
        np.testing.assert_allclose(jacobian(net, x, mode), reference, rtol=1e-9, atol=1e-12)


# -- errors and the checker ------------------------------------------------------
def test_jacobian_rejects_bad_arguments():
    net = mlp([3, 2])
    with pytest.raises(ChainError, match="mode must be one of 'optimal', 'forward', 'reverse'"):
        jacobian(net, np.ones(3), mode="jacfwd")
    with pytest.raises(ChainError, match="length 3; got shape \\(2,\\)"):
        jacobian(net, np.ones(2))
    with pytest.raises(ChainTypeError, match="net must be a chainopt.Network"):
        jacobian(lambda v: v, np.ones(3))


class WrongDerivative(Layer):
    """sin with a wrong derivative, so the checker has something to catch."""

    kind = "diagonal"

    def __init__(self, n):
        self.n_in = self.n_out = n

    @property
    def nnz(self):
        return self.n_in

    def forward(self, x):
        return np.sin(x)

    def jacobian(self, x):
        return np.cos(x) * 1.01

    def tangent(self, x, v):
        return self.jacobian(x)[:, None] * v if v.ndim == 2 else self.jacobian(x) * v

    def adjoint(self, x, w):
        return w * self.jacobian(x)


def test_check_jacobian_catches_a_wrong_derivative(rng):
    net = Network([Affine(rng.standard_normal((3, 3))), WrongDerivative(3),
                   SquaredError(np.zeros(3))])
    with pytest.raises(AssertionError, match="mode 'optimal': relative error"):
        check_jacobian(net, rng.standard_normal(3))
