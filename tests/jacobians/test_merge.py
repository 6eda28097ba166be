"""Merged products (chainopt.jacobians.merge) against the separate ones."""

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jnp = jax.numpy
merge = pytest.importorskip("chainopt.jacobians.merge")

RNG = np.random.default_rng(1)
W = jnp.asarray(RNG.standard_normal((6, 4)), dtype=jnp.float32)
T = jnp.asarray(RNG.standard_normal((2, 4, 3)), dtype=jnp.float32)
x = jnp.asarray(RNG.uniform(-1, 1, 4), dtype=jnp.float32)
y = jnp.asarray(RNG.uniform(-1, 1, 6), dtype=jnp.float32)
V = jnp.asarray(RNG.standard_normal((4, 3)), dtype=jnp.float32)
U = jnp.asarray(RNG.standard_normal((5, 4)), dtype=jnp.float32)

#: name -> (function of (x, V, U), dot_generals left after merging)
CASES = {
    "primal and tangents": (lambda x, V, U: jnp.tanh(W @ x)[:, None] * (W @ V), 1),
    "three on the left, each contracted its own way": (
        lambda x, V, U: (W @ x, W @ V, jax.lax.dot_general(
            W, U[:2], (((1,), (1,)), ((), ())), preferred_element_type=jnp.float32)), 1),
    "shared on the right": (lambda x, V, U: (y @ W, V.T @ W.T @ W), 2),
    "a tensor with a middle free axis": (
        lambda x, V, U: (jnp.einsum("ij,ajb->iab", W, T[:1]), W @ x), 1),
    "dependent: not merged": (lambda x, V, U: W.T @ jnp.tanh(W @ x), 2),
    "a chain through both": (lambda x, V, U: W @ (W.T @ (W @ x)) + W @ V[:, 0], 3),
    "duplicates computed once": (lambda x, V, U: jnp.sin(W @ x) + jnp.cos(W @ x), 1),
    "different dtypes: not merged": (
        lambda x, V, U: (W @ x, W.astype(jnp.float16) @ V.astype(jnp.float16)), 2),
    "batch dimensions: not merged": (
        lambda x, V, U: (jnp.einsum("aij,ajk->aik", T, T.transpose(0, 2, 1)),
                         jnp.einsum("aij,ajk->aik", T, T.transpose(0, 2, 1) * 2)), 2),
    "nothing shared": (lambda x, V, U: (W @ x, U @ V), 2),
    "shared operand smaller than the others: not merged": (
        lambda x, V, U: (W @ x, U @ x), 2),
}


def _dots(fn, *args) -> int:
    return str(jax.make_jaxpr(fn)(*args)).count("dot_general")


@pytest.mark.parametrize("name", CASES)
def test_merged_equals_the_separate_products(name):
    fn, dots = CASES[name]
    expected = fn(x, V, U)
    value = jax.jit(lambda *a: merge.merged(fn, *a))(x, V, U)
    for got, want in zip(jax.tree_util.tree_leaves(value), jax.tree_util.tree_leaves(expected)):
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert _dots(lambda *a: merge.merged(fn, *a), x, V, U) == dots


def test_merged_under_vmap_with_closed_over_tracers():
    def f(scale, x):
        return merge.merged(lambda h: jnp.tanh(scale * W @ h)[:, None] * (W @ V), x)

    scales, xs = jnp.arange(1.0, 4.0), jnp.stack([x, 2 * x, -x])
    reference = jax.vmap(lambda s, h: jnp.tanh(s * W @ h)[:, None] * (W @ V))(scales, xs)
    np.testing.assert_allclose(jax.jit(jax.vmap(f))(scales, xs), reference, rtol=1e-5,
                               atol=1e-6)


def test_effects_are_kept():
    def f(h):
        jax.debug.print("side effect {}", h[0])
        return W @ h

    np.testing.assert_allclose(merge.merged(f, x), W @ x, rtol=1e-6)
    assert "side effect" in str(jax.make_jaxpr(lambda h: merge.merged(f, h))(x))
