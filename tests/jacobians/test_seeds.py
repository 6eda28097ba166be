"""Symbolic identity seeds (chainopt.jacobians.seeds) against the dense identity."""

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jnp = jax.numpy
seeds = pytest.importorskip("chainopt.jacobians.seeds")

N = 5
RNG = np.random.default_rng(0)
A = jnp.asarray(RNG.standard_normal((7, N)), dtype=jnp.float32)    # 7 × n
B = jnp.asarray(RNG.standard_normal((N, 3)), dtype=jnp.float32)    # n × 3
C = jnp.asarray(RNG.standard_normal((2, N, 4)), dtype=jnp.float32)  # an n axis in the middle
V = jnp.asarray(RNG.uniform(0.5, 1.5, N), dtype=jnp.float32)
M = jnp.asarray(RNG.standard_normal((N, N)), dtype=jnp.float32)

#: products of an n × n seed S: each a rule, a mix of rules, or one that must materialise
PRODUCTS = {
    "S @ B": lambda S: S @ B,
    "B.T @ S": lambda S: B.T @ S,
    "A @ S": lambda S: A @ S,
    "A @ S.T": lambda S: A @ S.T,
    "S @ A.T": lambda S: S @ A.T,
    "tensordot on a middle axis": lambda S: jnp.tensordot(S, C, axes=([1], [1])),
    "tensordot, seed on the right": lambda S: jnp.tensordot(C, S, axes=([1], [0])),
    "scaled rows then A": lambda S: (V[:, None] * S) @ A.T,
    "scaled columns then B": lambda S: (S * V) @ B,
    "divided, negated, cast": lambda S: (-(S / V)).astype(jnp.float16) @ B.astype(jnp.float16),
    "times a dense matrix": lambda S: (S * M) @ B,
    "times a scalar": lambda S: (2.5 * S) @ B,
    "sum and difference of seeds": lambda S: (S + 2 * S - S * V) @ B,
    "seed times seed": lambda S: (S * S) @ B + S @ (S * V) @ B,
    "left diagonal": lambda S: S * V,
    "materialised by cumsum": lambda S: jnp.cumsum(S, axis=0) @ B,
    "materialised by a dense sum": lambda S: (S + M) @ B,
    "materialised by a reshape": lambda S: jnp.reshape(S, (N * N,)),
    "divided by the seed": lambda S: M / (S + 1.0),
    "inside a nested jit": lambda S: jax.jit(lambda s: (s * V) @ B)(S),
    "in a vmapped jvp of a layer": jax.vmap(lambda v: jax.jvp(lambda h: jnp.tanh(A @ h),
                                                             (V,), (v,))[1]),
    "in a vmapped vjp of a layer": jax.vmap(lambda w: jax.vjp(lambda h: jnp.tanh(B.T @ h),
                                                              V)[1](w[:3])[0]),
}


@pytest.mark.parametrize("name", PRODUCTS)
def test_seeded_equals_the_dense_identity(name):
    product = PRODUCTS[name]
    seed = seeds.Diagonal(None, N, jnp.float32)
    dense = product(jnp.eye(N, dtype=jnp.float32))
    value = jax.jit(lambda: seeds.seeded(product, seed))()
    assert value.shape == dense.shape and value.dtype == dense.dtype
    np.testing.assert_allclose(value, dense, rtol=1e-6, atol=1e-6)


def test_a_diagonal_seed_and_its_dense_matrix():
    d = jnp.arange(1.0, N + 1.0)
    seed = seeds.Diagonal(d, N, jnp.float32)
    np.testing.assert_array_equal(seed.dense(), jnp.diag(d))
    np.testing.assert_allclose(seeds.seeded(lambda S: A @ S, seed), A * d, rtol=1e-6)


def test_no_product_with_the_identity_is_traced():
    def layer(S):
        return (1 - jnp.tanh(A @ V) ** 2)[:, None] * (A @ S.T)

    jaxpr = jax.make_jaxpr(lambda: seeds.seeded(layer, seeds.Diagonal(None, N, jnp.float32)))()
    text = str(jaxpr)
    assert text.count("dot_general") == 1  # the primal A @ V alone
    assert "iota" not in text and "eq" not in text.split()


def test_seeded_under_jit_and_vmap_with_closed_over_tracers():
    def jac(p, x):  # rows: the tangents of the identity's rows, Jᵀ
        product = jax.vmap(lambda v: jax.jvp(lambda h: jnp.sin(A @ h) * p, (x,), (v,))[1])
        return seeds.seeded(product, seeds.Diagonal(None, N, x.dtype)).T

    ps, xs = jnp.arange(1.0, 3.0), jnp.stack([V, 2 * V])
    reference = jax.vmap(lambda p, x: jax.jacfwd(lambda h: jnp.sin(A @ h) * p)(x))(ps, xs)
    np.testing.assert_allclose(jax.jit(jax.vmap(jac))(ps, xs), reference, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", [name for name in PRODUCTS if "materialised" not in name
                                  and name not in ("divided by the seed", "left diagonal")
                                  and "vmapped" not in name])
def test_products_with_the_seed_are_not_traced(name):
    seed = seeds.Diagonal(None, N, jnp.float32)
    jaxpr = str(jax.make_jaxpr(lambda: seeds.seeded(PRODUCTS[name], seed))())
    assert "dot_general" not in jaxpr
