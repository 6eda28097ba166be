"""Layers against finite differences and textbook formulas; Network and mlp."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit, log_softmax

from chainopt import ChainError, ChainTypeError, Network, mlp
from chainopt.jacobians import numerical_jacobian, relative_error
from chainopt.jacobians.layers import (
    ACTIVATIONS,
    Activation,
    Affine,
    SoftmaxCrossEntropy,
    SquaredError,
)


def dense_jacobian(layer, x):
    jac = layer.jacobian(x)
    return np.diag(jac) if layer.kind == "diagonal" else jac


def away_from_zero(rng, n):
    """Points whose entries keep |x| ≥ 0.1, so ReLU's kink is out of reach."""
    x = rng.standard_normal(n)
    return np.where(np.abs(x) < 0.1, 0.5, x)


def some_layers(rng):
    n = 5
    yield Affine(rng.standard_normal((3, n)), rng.standard_normal(3))
    for name in ACTIVATIONS:
        yield Activation(name, n)
    yield SquaredError(rng.standard_normal(n))
    yield SoftmaxCrossEntropy(2, n)
    yield SoftmaxCrossEntropy(rng.dirichlet(np.ones(n)))


def test_every_jacobian_matches_central_differences(rng):
    for layer in some_layers(rng):
        x = away_from_zero(rng, layer.n_in)
        reference = numerical_jacobian(layer.forward, x)
        assert relative_error(dense_jacobian(layer, x), reference) < 1e-8, layer


def test_calling_a_layer_is_its_forward(rng):
    """``layer(x)`` runs the subclass's own forward, for every layer."""
    for layer in some_layers(rng):
        x = away_from_zero(rng, layer.n_in)
        np.testing.assert_array_equal(layer(x), layer.forward(x))
        assert layer(x).shape == (layer.n_out,)


def test_tangents_and_adjoints_are_products_with_the_jacobian(rng):
    for layer in some_layers(rng):
        x = away_from_zero(rng, layer.n_in)
        jac = dense_jacobian(layer, x)
        v, V = rng.standard_normal(layer.n_in), rng.standard_normal((layer.n_in, 4))
        w, W = rng.standard_normal(layer.n_out), rng.standard_normal((4, layer.n_out))
        np.testing.assert_allclose(layer.tangent(x, v), jac @ v)
        np.testing.assert_allclose(layer.tangent(x, V), jac @ V)
        np.testing.assert_allclose(layer.adjoint(x, w), w @ jac)
        np.testing.assert_allclose(layer.adjoint(x, W), W @ jac)


def test_nnz_counts_the_stored_entries(rng):
    for layer in some_layers(rng):
        stored = np.asarray(layer.jacobian(np.ones(layer.n_in))).size
        assert layer.nnz == stored


def test_activations_match_textbook_formulas():
    z = np.linspace(-30, 30, 121)
    np.testing.assert_allclose(Activation("sigmoid", 121).forward(z), expit(z))
    np.testing.assert_allclose(Activation("sigmoid", 121).jacobian(z), expit(z) * expit(-z))
    np.testing.assert_allclose(Activation("tanh", 121).jacobian(z), 1 / np.cosh(z) ** 2)
    assert Activation("relu", 3).jacobian(np.array([-1.0, 0.0, 2.0])).tolist() == [0, 0, 1]


def test_losses_match_textbook_formulas(rng):
    x, y = rng.standard_normal(6), rng.standard_normal(6)
    assert SquaredError(y).forward(x)[0] == pytest.approx(0.5 * np.sum((x - y) ** 2))
    assert SoftmaxCrossEntropy(4, 6).value(x) == pytest.approx(-log_softmax(x)[4])
    t = rng.dirichlet(np.ones(6))
    assert SoftmaxCrossEntropy(t).value(x) == pytest.approx(-(t @ log_softmax(x)))
    big = np.array([1000.0, 0.0, -1000.0])  # stable: no overflow
    assert SoftmaxCrossEntropy(0, 3).value(big) == pytest.approx(0.0)


@pytest.mark.parametrize("make, fragment", [
    (lambda: Affine(np.ones(3)), "2-D"),
    (lambda: Affine(np.ones((2, 3)), np.ones(3)), "bias must have shape (2,)"),
    (lambda: Activation("gelu", 3), "activation must be one of"),
    (lambda: Activation("tanh", 0), "must be a positive integer; got 0"),
    (lambda: SquaredError(np.ones((2, 2))), "1-D"),
    (lambda: SoftmaxCrossEntropy(3, 3), "0 <= index < n"),
    (lambda: SoftmaxCrossEntropy(np.array([0.5, 0.6])), "sum to 1"),
])
def test_bad_layers_raise_chain_errors(make, fragment):
    with pytest.raises(ChainError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        make()


def test_network_checks_links_and_inputs():
    with pytest.raises(ChainError, match=r"layer 1 \(tanh 4\) cannot follow layer 0 "
                                         r"\(Affine 2→3\): widths 3 and 4 differ"):
        Network([Affine(np.ones((3, 2))), Activation("tanh", 4)])
    with pytest.raises(ChainTypeError, match="layer 0 must be"):
        Network([np.ones((2, 2))])
    with pytest.raises(ChainError, match="at least one layer"):
        Network([])
    net = mlp([3, 2])
    with pytest.raises(ChainError, match="length 3; got shape \\(4,\\)"):
        net(np.ones(4))


def test_mlp_structure_and_seed():
    net = mlp([5, 4, 3, 2], activation="relu", loss="squared_error")
    assert net.widths == (5, 4, 4, 3, 3, 2, 1)
    assert net.kinds == ("dense", "diagonal", "dense", "diagonal", "dense", "dense")
    x = np.linspace(-1, 1, 5)
    assert np.array_equal(net(x), mlp([5, 4, 3, 2], "relu", loss="squared_error")(x))
    assert not np.array_equal(net(x), mlp([5, 4, 3, 2], "relu", 1, loss="squared_error")(x))
    assert len(mlp([5, 4]).layers) == 1  # no activation after the last affine layer


def test_mlp_forward_is_the_composition(rng):
    net = mlp([4, 6, 3], activation="sigmoid")
    first, _, last = net.layers
    x = rng.standard_normal(4)
    expected = last.weight @ expit(first.weight @ x + first.bias) + last.bias
    np.testing.assert_allclose(net(x), expected)
    assert len(net.inputs(x)) == 3 and len(net.jacobians(x)) == 3


def test_mlp_rejects_bad_arguments():
    with pytest.raises(ChainError, match="activation must be one of"):
        mlp([3, 2], activation="swish")
    with pytest.raises(ChainError, match="loss must be one of"):
        mlp([3, 2], loss="hinge")
    with pytest.raises(ChainError, match="at least two widths"):
        mlp([3])
    with pytest.raises(ChainError, match="width 1 must be a positive integer; got -2"):
        mlp([3, -2])
    with pytest.raises(ChainTypeError):
        mlp("3,2")


def test_a_loss_layer_instance_attaches(rng):
    y = rng.standard_normal(2)
    net = mlp([3, 2], loss=SquaredError(y))
    assert net.layers[-1].target is y


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=2, max_size=5), st.sampled_from(sorted(ACTIVATIONS)),
       st.integers(0, 2**16))
def test_adjoint_identity_for_every_layer(widths, activation, seed):
    # ⟨w, J v⟩ = ⟨w J, v⟩: tangents and adjoints are transposes of each other.
    rng = np.random.default_rng(seed)
    net = mlp(widths, activation, seed)
    for layer, x in zip(net.layers, net.inputs(rng.standard_normal(widths[0]))):
        v, w = rng.standard_normal(layer.n_in), rng.standard_normal(layer.n_out)
        assert w @ layer.tangent(x, v) == pytest.approx(layer.adjoint(x, w) @ v)
