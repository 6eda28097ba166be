"""Plans on every array library: results against functools.reduce(np.matmul), types,
laziness (Dask), transformations (JAX), autograd (torch), and the errors."""

import functools

import numpy as np
import pytest

import chainopt
from chainopt import ChainError, ChainTypeError, PlanMismatchError, multi_dot, plan_chain
from chainopt.dispatch import foreign_library, is_foreign

#: A chain whose optimal order, A((BC)D), is not left to right.
DIMS = [12, 30, 4, 30, 6]


def _factors(rng, dims=DIMS, dtype=np.float64):
    return [rng.standard_normal((dims[i], dims[i + 1])).astype(dtype)
            for i in range(len(dims) - 1)]


def _reference(arrays):
    return functools.reduce(np.matmul, arrays)


def _numpy(x):
    if hasattr(x, "toarray"):
        return x.toarray()
    if type(x).__module__.startswith("torch"):
        return x.detach().numpy()
    if type(x).__module__.startswith("array_api_strict"):
        return np.asarray(x._array)
    return np.asarray(x)


def _dask(a):
    import dask.array as da

    return da.from_array(a, chunks=6)


def _jax(a):
    return pytest.importorskip("jax.numpy").asarray(a)


def _torch(a):
    return pytest.importorskip("torch").asarray(a)


def _strict(a):
    return pytest.importorskip("array_api_strict").asarray(a)


def _cupy(a):
    return pytest.importorskip("cupy").asarray(a)


def _csr_matrix(a):
    return pytest.importorskip("scipy.sparse").csr_matrix(a)


def _csr_array(a):
    return pytest.importorskip("scipy.sparse").csr_array(a)


LIBRARIES = {
    "dask": (_dask, "dask.array.core.Array"),
    "jax": (_jax, "jax.Array"),
    "torch": (_torch, "torch.Tensor"),
    "array_api_strict": (_strict, "array_api_strict._array_object.Array"),
    "cupy": (_cupy, "cupy.ndarray"),
    "scipy.sparse matrix": (_csr_matrix, "scipy.sparse.csr_matrix"),
    "scipy.sparse array": (_csr_array, "scipy.sparse.csr_array"),
}


def _expected_type(name):
    module, _, cls = name.rpartition(".")
    if module == "dask.array.core":
        pytest.importorskip("dask.array")
    if module == "jax":
        return pytest.importorskip("jax").Array
    return getattr(pytest.importorskip(module), cls)


def _tolerance(converted):
    """JAX computes in float32 unless x64 is enabled."""
    return 1e-4 if str(getattr(converted, "dtype", "")) == "float32" else 1e-10


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("call", ["execute", "multi_dot"])
def test_every_library_matches_reduce_matmul_and_keeps_its_type(rng, library, call):
    convert, type_name = LIBRARIES[library]
    arrays = _factors(rng)
    converted = [convert(a) for a in arrays]
    if call == "execute":
        result = plan_chain(converted).execute(*converted)
    else:
        result = multi_dot(converted)
    assert isinstance(result, _expected_type(type_name))
    np.testing.assert_allclose(_numpy(result), _reference(arrays),
                               rtol=_tolerance(converted[0]), atol=1e-6)


@pytest.mark.parametrize("library", ["dask", "jax", "torch", "array_api_strict"])
def test_vector_ends_follow_multi_dot(rng, library):
    convert, type_name = LIBRARIES[library]
    a, B, c = rng.standard_normal(4), rng.standard_normal((4, 5)), rng.standard_normal(5)
    for arrays in ([a, B], [B, c], [a, B, c]):
        result = multi_dot([convert(x) for x in arrays])
        expected = np.linalg.multi_dot(arrays)
        assert isinstance(result, _expected_type(type_name))
        assert tuple(result.shape) == np.shape(expected)
        np.testing.assert_allclose(_numpy(result), expected, rtol=1e-4)


@pytest.mark.parametrize("library", ["dask", "jax", "torch", "array_api_strict"])
def test_diagonal_factors_scale_in_every_library(rng, library):
    convert, _ = LIBRARIES[library]
    d, e = rng.standard_normal(5), rng.standard_normal(5)
    A, B = rng.standard_normal((3, 5)), rng.standard_normal((5, 4))
    kinds = ["dense", "diagonal", "diagonal", "dense"]
    plan = plan_chain([A, d, e, B], kinds=kinds)
    result = plan.execute(*(convert(x) for x in (A, d, e, B)))
    np.testing.assert_allclose(_numpy(result), A @ np.diag(d * e) @ B, rtol=1e-4)
    only = plan_chain([d, e], kinds=["diagonal", "diagonal"]).execute(convert(d), convert(e))
    np.testing.assert_allclose(_numpy(only), np.diag(d * e), rtol=1e-4)


def test_numpy_subclasses_stay_on_the_numpy_path(rng):
    arrays = [np.ma.masked_array(a) for a in _factors(rng)]
    assert foreign_library(arrays) is None
    result = multi_dot(arrays)
    assert isinstance(result, np.ma.MaskedArray)
    np.testing.assert_allclose(result, _reference([a.data for a in arrays]), rtol=1e-12)


# -- Dask -------------------------------------------------------------------------
class _CountingArray:
    """An array-like that counts reads: Dask reads it only when computing."""

    def __init__(self, array):
        self.array, self.reads = array, 0
        self.shape, self.dtype, self.ndim = array.shape, array.dtype, array.ndim

    def __getitem__(self, key):
        self.reads += 1
        return self.array[key]


def _dask_chain(rng, dims):
    import dask.array as da

    sources = [_CountingArray(a) for a in _factors(rng, dims)]
    arrays = [da.from_array(s, chunks=10) for s in sources]
    for source in sources:
        source.reads = 0  # from_array reads an empty slice for its metadata
    return sources, arrays


def test_dask_stays_lazy_until_the_user_computes(rng):
    da = pytest.importorskip("dask.array")
    sources, arrays = _dask_chain(rng, [40, 40, 40, 1])
    result = multi_dot(arrays)
    also = plan_chain(arrays).execute(*arrays)
    assert isinstance(result, da.Array) and isinstance(also, da.Array)
    assert sum(s.reads for s in sources) == 0
    np.testing.assert_allclose(result.compute(), _reference([s.array for s in sources]),
                               rtol=1e-10)
    assert all(s.reads for s in sources)


def test_dask_plan_builds_fewer_tasks_than_left_to_right(rng):
    pytest.importorskip("dask.array")
    _, arrays = _dask_chain(rng, [40, 40, 40, 1])
    planned = multi_dot(arrays)
    naive = functools.reduce(lambda a, b: a @ b, arrays)
    assert len(planned.__dask_graph__()) < len(naive.__dask_graph__())


def test_dask_unknown_chunk_sizes_say_compute_chunk_sizes():
    da = pytest.importorskip("dask.array")
    x = da.ones((10, 4), chunks=5)
    unknown = x[x[:, 0] > 0]
    for call in (lambda: multi_dot([unknown, np.ones((4, 3)), np.ones(3)]),
                 lambda: plan_chain([unknown, np.ones((4, 3))]),
                 lambda: plan_chain([(10, 4), (4, 3)]).execute(unknown, np.ones((4, 3)))):
        with pytest.raises(ChainError, match=r"factor 0 .*nan×4.*compute_chunk_sizes\(\)"):
            call()
    known = unknown.compute_chunk_sizes()
    assert multi_dot([known, np.ones((4, 3))]).compute().shape == (10, 3)


def test_dask_on_a_distributed_cluster(rng):
    distributed = pytest.importorskip("distributed")
    arrays = _factors(rng)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        lazy = multi_dot([_dask(a) for a in arrays])
        result = client.compute(lazy).result()
    np.testing.assert_allclose(result, _reference(arrays), rtol=1e-10)


# -- JAX --------------------------------------------------------------------------
def test_jax_under_jit_grad_and_vmap(rng):
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    arrays = [jnp.asarray(a / np.sqrt(a.shape[0])) for a in _factors(rng)]  # entries near 1
    plan = plan_chain(arrays)

    jitted = jax.jit(lambda *xs: plan.execute(*xs))(*arrays)
    assert isinstance(jitted, jax.Array)
    np.testing.assert_allclose(jitted, _reference([np.asarray(a) for a in arrays]), rtol=1e-4)
    assert isinstance(jax.jit(multi_dot)(arrays), jax.Array)

    def loss(first, chain):
        return jnp.sum(jnp.sin(chain([first, *arrays[1:]])))

    ours = jax.grad(loss)(arrays[0], multi_dot)
    theirs = jax.grad(loss)(arrays[0], lambda xs: functools.reduce(jnp.matmul, xs))
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)

    batch = jnp.stack([arrays[0], 2 * arrays[0]])
    mapped = jax.vmap(lambda first: multi_dot([first, *arrays[1:]]))(batch)
    assert mapped.shape == (2, DIMS[0], DIMS[-1])
    np.testing.assert_allclose(mapped[1], 2 * mapped[0], rtol=1e-4, atol=1e-5)


# -- torch ------------------------------------------------------------------------
def test_torch_gradients_flow(rng):
    torch = pytest.importorskip("torch")
    arrays = _factors(rng)
    ours = [torch.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    result = multi_dot(ours)
    assert isinstance(result, torch.Tensor) and result.requires_grad
    result.sin().sum().backward()
    functools.reduce(torch.matmul, theirs).sin().sum().backward()
    for mine, reference in zip(ours, theirs):
        np.testing.assert_allclose(mine.grad.numpy(), reference.grad.numpy(), rtol=1e-10)


# -- scipy.sparse -----------------------------------------------------------------
def test_sparse_messages_show_the_real_shapes():
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(ChainError, match=r"factor 1 \(5×2\) cannot follow factor 0 \(3×4\)"):
        multi_dot([sparse.eye_array(3, 4), sparse.eye_array(5, 2)])
    plan = plan_chain([(3, 4), (4, 2)])
    with pytest.raises(PlanMismatchError, match=r"array 1 has shape 5×2 but the plan"):
        plan.execute(sparse.eye_array(3, 4), sparse.eye_array(5, 2))


def test_sparse_with_dense_follows_scipy(rng):
    sparse = pytest.importorskip("scipy.sparse")
    A, B, C = (rng.standard_normal(s) for s in [(6, 5), (5, 4), (4, 3)])
    result = multi_dot([sparse.csr_array(A), B, C])
    assert isinstance(result, np.ndarray)  # scipy: sparse @ dense is dense
    np.testing.assert_allclose(result, A @ B @ C, rtol=1e-12)


# -- mixing and errors ------------------------------------------------------------
@pytest.mark.parametrize("library", ["dask", "jax"])
def test_numpy_mixed_in_follows_the_library(rng, library):
    convert, type_name = LIBRARIES[library]
    arrays = _factors(rng)
    mixed = [convert(a) if i == 1 else a for i, a in enumerate(arrays)]
    result = multi_dot(mixed)
    assert isinstance(result, _expected_type(type_name))
    np.testing.assert_allclose(_numpy(result), _reference(arrays), rtol=1e-4)


def test_two_foreign_libraries_name_both_types(rng):
    pytest.importorskip("jax")
    pytest.importorskip("torch")
    A, B = _factors(rng)[:2]
    with pytest.raises(ChainTypeError, match=r"mix jax\.\w+ and torch\.Tensor"):
        multi_dot([_jax(A), _torch(B)])


def test_a_pair_the_library_refuses_names_both_types(rng):
    pytest.importorskip("torch")
    A, B = _factors(rng)[:2]
    with pytest.raises(ChainTypeError, match=r"numpy\.ndarray @ torch\.Tensor"):
        multi_dot([A, _torch(B)])


def test_out_is_for_numpy_only(rng):
    arrays = [_dask(a) for a in _factors(rng)]
    with pytest.raises(ChainTypeError, match="out= takes NumPy arrays only"):
        multi_dot(arrays, out=np.empty((DIMS[0], DIMS[-1])))


def test_foreign_arrays_are_checked_against_the_plan(rng):
    arrays = [_dask(a) for a in _factors(rng)]
    plan = plan_chain(arrays)
    with pytest.raises(PlanMismatchError, match="the plan is for 4 factors; got 3"):
        plan.execute(*arrays[:3])
    with pytest.raises(ChainTypeError, match="array 1 must be an array"):
        plan.execute(arrays[0], "B", *arrays[2:])


def test_lists_and_scalars_are_not_foreign():
    assert not is_foreign([[1.0]]) and not is_foreign(np.float64(1.0))
    assert chainopt.multi_dot([[[1.0, 2.0]], [[3.0], [4.0]]]).tolist() == [[11.0]]


@pytest.mark.parametrize("library", ["dask", "jax", "array_api_strict"])
def test_numpy_kernels_are_not_used_for_other_libraries(rng, library, monkeypatch):
    import chainopt.kernels

    convert, type_name = LIBRARIES[library]
    X, v = rng.standard_normal((30, 8)), rng.standard_normal((30, 1))
    gram = plan_chain([(8, 30), (30, 8)], gram=[(0, 1)])
    vector = plan_chain([(8, 30), (30, 1)])
    assert (gram.kernels, vector.kernels) == (("syrk",), ("gemv",))

    def refuse(*args, **kwargs):
        raise AssertionError("a NumPy kernel ran on a foreign array")

    monkeypatch.setattr(chainopt.kernels, "execute", refuse)
    monkeypatch.setattr(chainopt.kernels, "run_kernel", refuse)
    monkeypatch.setattr("chainopt.plan.run_kernel", refuse)
    for plan, arrays in ((gram, (X.T, X)), (vector, (X.T, v))):
        result = plan.execute(*(convert(a) for a in arrays))
        assert isinstance(result, _expected_type(type_name))
        np.testing.assert_allclose(_numpy(result), arrays[0] @ arrays[1], rtol=1e-4)
