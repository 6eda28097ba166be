"""Kernels: classification, Gram pairs, and dispatch giving matmul's numbers."""

import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainopt import ChainError, ChainTypeError, kernels, plan_chain
from chainopt.kernels import (
    KERNELS,
    MATMUL_FROM,
    MAX_PADDING,
    PAD_OUTER_FROM,
    SMALL_WORK,
    THREADED_ASPECT,
    THREADED_FROM,
    THREADED_SIDE,
    Diagonal,
    check_gram,
    classify,
    classify_many,
    execute,
    gram_pairs,
    gram_product,
    inner_dimension,
    is_transposed_view,
    outer_product,
)

BLAS_DTYPES = [np.float32, np.float64, np.complex64, np.complex128]
OTHER_DTYPES = [np.int64, np.float16, np.longdouble, object]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """minimize="time" never reads the user's real calibration in tests."""
    monkeypatch.setenv("CHAINOPT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("CHAINOPT_TIME_MODEL", raising=False)


def tolerance(dtype):
    """Different summation orders and kernels: equal up to rounding."""
    if np.dtype(dtype) in (np.dtype(np.float32), np.dtype(np.complex64)):
        return {"rtol": 2e-5, "atol": 1e-5}
    if np.dtype(dtype) == np.dtype(np.float16):
        return {"rtol": 2e-2, "atol": 2e-2}
    return {"rtol": 1e-12, "atol": 1e-12}


def random_array(rng, shape, dtype):
    values = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        values = values + 1j * rng.standard_normal(shape)
    if np.dtype(dtype).kind == "i":
        values = rng.integers(-5, 6, shape)
    return values.astype(dtype)


@pytest.mark.parametrize("shape, flags, kernel", [
    ((50, 60, 70), (False, False, False), "gemm"),
    ((50, 60, 50), (False, False, True), "syrk"),
    ((50, 60, 1), (False, False, False), "gemv"),
    ((1, 60, 70), (False, False, False), "gemv"),
    ((1, 60, 1), (False, False, False), "dot"),
    ((1, 60, 1), (False, False, True), "dot"),
    ((50, 1, 70), (False, False, False), "outer"),
    ((50, 1, 50), (False, False, True), "outer"),
    ((50, 50, 70), (True, False, False), "scale"),
    ((50, 70, 70), (False, True, False), "scale"),
    ((50, 50, 50), (True, True, False), "diag"),
    ((1, 1, 1), (False, False, False), "outer"),
])
def test_classify(shape, flags, kernel):
    assert classify(*shape, *flags) == kernel


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4),
                          st.booleans(), st.booleans(), st.booleans()), min_size=1,
                max_size=20))
def test_classify_many_agrees_with_classify(rows):
    columns = [np.array(column) for column in zip(*rows)]
    codes = classify_many(*columns)
    assert [KERNELS[c] for c in codes] == [classify(*row) for row in rows]


def test_transposed_views_are_gram_pairs(rng):
    A = rng.standard_normal((6, 3))
    F = np.asfortranarray(A)
    assert is_transposed_view(A, A.T) and is_transposed_view(A.T, A)
    assert is_transposed_view(F, F.T)
    assert is_transposed_view(A[::2], A[::2].T)  # strided views too
    assert not is_transposed_view(A, A.T.copy())
    assert not is_transposed_view(A, A)
    assert not is_transposed_view(A[:3, :3], A[:3, :3])  # square, same strides
    assert not is_transposed_view(A, A[1:].T)  # other memory
    assert not is_transposed_view(A, A.T.astype(np.float32))
    assert gram_pairs([A.T, A, A.T, rng.standard_normal((6, 2))]) == (0, 1)
    assert gram_pairs([A, A.T], ["dense", "diagonal"]) == ()
    assert gram_pairs([(6, 3), (3, 6)]) == ()  # shapes are never found


def test_declared_gram_is_validated():
    shapes = [(5, 3), (3, 5), (5, 5)]
    dense = ["dense"] * 3
    assert check_gram(None, shapes, dense) == ()
    assert check_gram([(0, 1), [0, 1]], shapes, dense) == (0,)
    with pytest.raises(ChainError, match=r"gram\[0\] = \(0, 2\) must name two neighbouring"):
        check_gram([(0, 2)], shapes, dense)
    with pytest.raises(ChainError, match=r"\(2, 3\) is out of range for a chain of 3"):
        check_gram([(2, 3)], shapes, dense)
    with pytest.raises(ChainError, match=r"factor 2 \(5×5\) is not the transpose of factor 1"):
        check_gram([(1, 2)], shapes, dense)
    with pytest.raises(ChainError, match="both factors must be dense"):
        check_gram([(0, 1)], [(5, 5)] * 3, ["diagonal", "dense", "dense"])
    with pytest.raises(ChainTypeError, match="gram must be a sequence"):
        check_gram(3, shapes, dense)
    with pytest.raises(ChainTypeError, match=r"gram\[0\] must be a pair"):
        check_gram([0], shapes, dense)
    with pytest.raises(ChainTypeError, match="two integer factor positions"):
        check_gram([(0.0, 1.0)], shapes, dense)


def operands(rng, kernel, dtype):
    """Operands on which ``kernel`` runs, and the same as plain matrices."""
    shapes = {"gemm": ((7, 9), (9, 5)), "gemv": ((7, 9), (9, 1)), "dot": ((1, 9), (9, 1)),
              "outer": ((7, 1), (1, 5))}
    if kernel in shapes:
        a, b = (random_array(rng, s, dtype) for s in shapes[kernel])
        return a, b, a, b
    if kernel == "syrk":
        a = random_array(rng, (7, 9), dtype)
        return a, a.T, a, np.array(a.T)
    d = random_array(rng, 7, dtype)
    if kernel == "diag":
        e = random_array(rng, 7, dtype)
        return Diagonal(d), Diagonal(e), np.diag(d), np.diag(e)
    b = random_array(rng, (7, 4), dtype)
    return Diagonal(d), b, np.diag(d), b


@pytest.mark.parametrize("dtype", BLAS_DTYPES + OTHER_DTYPES)
@pytest.mark.parametrize("kernel", KERNELS)
def test_every_kernel_gives_matmuls_numbers(rng, kernel, dtype):
    a, b, plain_a, plain_b = operands(rng, kernel, dtype)
    result = execute(kernel, a, b)
    if isinstance(result, Diagonal):
        result = result.dense()
    expected = np.matmul(plain_a, plain_b)
    assert result.shape == expected.shape
    if np.dtype(dtype).kind == "i":
        assert np.array_equal(result, expected)
    else:
        np.testing.assert_allclose(result.astype(complex), expected.astype(complex),
                                   **tolerance(dtype))


SPECIAL = np.array([-1.0, 0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, 1e308, -2.5, 1e-30])


@pytest.mark.parametrize("dtype", BLAS_DTYPES + OTHER_DTYPES)
@pytest.mark.parametrize("size", ["small", "padded", "threaded"])
def test_outer_products_are_bitwise_blass_own(dtype, size):
    """Padded or not, every entry (signed zeros, infinities, NaNs, subnormals) is np.dot's."""
    kind = np.dtype(dtype).kind
    entries = PAD_OUTER_FROM[kind == "c"] * (1 if size == "padded" else 0) or 64
    rows = cols = int(np.ceil(np.sqrt(entries)))
    if size == "threaded":  # float64 runs with k = 3 (kernels.inner_dimension)
        rows, cols = 2048, 192
    values = SPECIAL if kind in "fc" else np.arange(-3, 4)
    with np.errstate(all="ignore"):  # float32 overflows 1e308 to inf, as intended
        a = np.resize(values, (rows, 1)).astype(dtype)
        b = np.resize(values[::-1], (1, cols)).astype(dtype)
        if kind == "c":
            a, b = a * (1 - 1j), b * (0.5 + 2j)
        expected, found = np.dot(a, b), execute("outer", a, b)
    assert found.dtype == expected.dtype and found.shape == expected.shape
    same = found == expected
    if kind in "fc":
        same |= np.isnan(found) & np.isnan(expected)
        parts = (np.real, np.imag) if kind == "c" else (np.real,)
        for part in parts:
            assert np.array_equal(np.signbit(part(found)), np.signbit(part(expected)))
    assert same.all()


def expected_inner(m, k, n, threads):
    """The rule of kernels.inner_dimension, written out (the reference)."""
    plain = (2 if m * n >= PAD_OUTER_FROM[0] else 1) if k == 1 else k
    padded = (threads > 1 and k >= 1 and m * n >= THREADED_FROM and m * k * n <= SMALL_WORK
              and min(m, n) >= THREADED_SIDE and max(m, n) >= THREADED_ASPECT * min(m, n))
    return max(int(SMALL_WORK // (m * n)) + 1, plain) if padded else plain


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("shape", [(2048, 1, 192), (2726, 3, 120), (1024, 2, 256),
                                   (120, 2, 2726), (512, 2, 512), (2048, 5, 192),
                                   (21299, 2, 16), (16, 1, 21299), (2048, 0, 512)])
def test_small_path_products_run_with_the_k_of_inner_dimension(rng, monkeypatch, shape,
                                                                 threads):
    # A large oblong float64 result with k <= 3 runs padded onto BLAS's threaded path
    # when BLAS has threads; the numbers are matmul's, to rounding.
    m, k, n = shape
    monkeypatch.setattr(kernels, "padding_threads", lambda: threads)
    runs = inner_dimension(m, k, n)
    assert runs == expected_inner(m, k, n, threads)
    assert (runs > max(k, 2)) == (threads > 1 and shape in [(2048, 1, 192), (2726, 3, 120),
                                                             (1024, 2, 256), (120, 2, 2726)])
    assert runs in (k, max(k, 2)) or m * runs * n > SMALL_WORK >= m * (runs - 1) * n
    seen = []  # the inner dimension that reaches BLAS
    matmul = np.matmul
    monkeypatch.setattr(np, "matmul", lambda a, b, **kw: seen.append(a.shape[1]) or
                        matmul(a, b, **kw))
    a, b = rng.standard_normal((m, k)), rng.standard_normal((k, n))
    kernel = classify(m, k, n)
    out = np.empty((m, n))
    np.testing.assert_allclose(execute(kernel, a, b, out=out), a @ b, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(out, a @ b, rtol=1e-13, atol=1e-13)
    assert seen[0] == runs if runs > max(k, 1) else seen[:1] in ([], [k])
    seen.clear()
    small = execute(kernel, a.astype(np.float32), b.astype(np.float32))  # not padded
    np.testing.assert_allclose(small, (a @ b).astype(np.float32), rtol=1e-5, atol=1e-5)
    assert all(inner <= max(k, 2) for inner in seen)


@pytest.mark.parametrize("api, core, padded", [("openblas", "SkylakeX", True),
                                               ("openblas", "Haswell", False),
                                               ("mkl", None, False)])
def test_padding_counts_on_threads_only_where_blas_has_a_small_path(monkeypatch, api, core,
                                                                     padded):
    class Controller:
        internal_api, architecture = api, core

    monkeypatch.setattr(kernels, "_blas_controller", lambda: Controller())
    monkeypatch.setattr(kernels, "blas_threads", lambda: 2)
    kernels._has_small_path.cache_clear()
    try:
        assert kernels.padding_threads() == (2 if padded else 1)
        assert inner_dimension(2048, 1, 192) == (3 if padded else 2)
    finally:
        kernels._has_small_path.cache_clear()


@pytest.mark.parametrize("threads", [1, 2, 8])
def test_inner_dimension_of_arrays_is_that_of_each_shape(rng, threads):
    # The planner's arrays and a running step's integers take one rule, the reference's.
    m, k, n = (np.exp(rng.uniform(0, np.log(8192), 3000)).round().astype(int) for _ in "mkn")
    k[::2] = rng.integers(0, 5, len(k[::2]))
    expected = [expected_inner(int(a), int(b), int(c), threads) for a, b, c in zip(m, k, n)]
    assert [inner_dimension(int(a), int(b), int(c), threads) for a, b, c in zip(m, k, n)] \
        == expected
    assert inner_dimension(m, k, n, threads).tolist() == expected
    assert inner_dimension(m[:, None], k[:, None], n[:, None], threads)[:, 0].tolist() \
        == expected
    assert max(e - max(b, 1) for e, b in zip(expected, k)) <= MAX_PADDING
    padded = sum(e > max(b, 2) for e, b in zip(expected, k))
    assert (padded > 10) if threads > 1 else padded == 0  # the rule is exercised


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix
@pytest.mark.parametrize("layout", ["contiguous", "strided views", "mixed dtypes", "out",
                                    "matrix"])
def test_padded_outer_products_take_any_layout(rng, layout):
    m, n = 300, 200
    big = rng.standard_normal((m, 7))
    a, b = np.array(big[:, 2:3]), rng.standard_normal((1, n))
    out = None
    if layout == "strided views":
        a, b = big[:, 2:3], np.asfortranarray(rng.standard_normal((5, n)))[1:2]
    if layout == "mixed dtypes":
        a = a.astype(np.float32)
    if layout == "out":
        out = np.full((m, n), np.nan)
    if layout == "matrix":  # a subclass keeps np.dot's result type
        a, b = np.asmatrix(a), np.asmatrix(b)
    found = outer_product(a, b, out=out)
    assert np.array_equal(found, np.dot(a, b)) and type(found) is type(np.dot(a, b))
    assert out is None or found is out


@pytest.mark.parametrize("dtype", BLAS_DTYPES + [np.int64, np.float16])
def test_large_gemms_give_matmuls_numbers_with_and_without_out(rng, dtype):
    m, k, n = 64, 3, MATMUL_FROM // 64 + 5  # a result past MATMUL_FROM, thin k
    a, b = random_array(rng, (m, k), dtype), random_array(rng, (k, n), dtype)
    expected = np.dot(a, b)
    out = np.empty_like(expected)
    for found in (execute("gemm", a, b), execute("gemm", a, b, out=out)):
        assert found.dtype == expected.dtype
        np.testing.assert_allclose(found.astype(complex), expected.astype(complex),
                                   **tolerance(dtype))
    assert execute("gemm", a, b, out=out) is out


@pytest.mark.parametrize("dtype", BLAS_DTYPES)
@pytest.mark.parametrize("layout", ["view", "F view", "copy", "F copy", "strided view"])
@pytest.mark.parametrize("side", ["XXt", "XtX"])
def test_gram_product_every_route_equals_matmul(rng, dtype, layout, side):
    x = random_array(rng, (40, 12), dtype)
    if layout.startswith("F"):
        x = np.asfortranarray(x)
    if layout == "strided view":
        x = random_array(rng, (80, 12), dtype)[::2]
    if side == "XtX":
        x = x.T
    y = np.array(x.T) if "copy" in layout else x.T
    result = gram_product(x, y)
    np.testing.assert_allclose(result, np.matmul(x, np.array(y)), **tolerance(dtype))
    assert np.array_equal(result, result.T)  # SYRK: symmetric to the last bit
    out = np.empty_like(result)
    assert gram_product(x, y, out=out) is out
    np.testing.assert_array_equal(out, result)


def test_a_declared_gram_pair_that_is_not_one_still_multiplies(rng):
    x, y = rng.standard_normal((6, 4)), rng.standard_normal((4, 6))
    np.testing.assert_allclose(gram_product(x, y), x @ y)
    ints = rng.integers(-3, 3, (6, 4))
    assert np.array_equal(gram_product(ints, ints.T.copy()), ints @ ints.T)


@pytest.mark.parametrize("dtype", BLAS_DTYPES + [np.int64])
def test_plans_with_gram_pairs_execute_like_reduce_matmul(rng, dtype):
    A = random_array(rng, (30, 8), dtype)
    x = random_array(rng, 30, dtype)
    arrays = [x, A, A.T, A, random_array(rng, (8, 3), dtype)]
    expected = functools.reduce(np.matmul, [x[None, :], A, np.array(A.T), A, arrays[-1]])[0]
    for cost in ("multiplications", "time", "memory"):
        plan = plan_chain(arrays, minimize=cost)
        assert plan.gram == (1, 2)
        result = plan.execute(*arrays)
        if np.dtype(dtype).kind == "i":
            assert np.array_equal(result, expected)
        else:
            np.testing.assert_allclose(result, expected, **tolerance(dtype))
    X, B = A.T.copy(), random_array(rng, (8, 5), dtype)  # X is 8×30
    declared = plan_chain([X.shape, (30, 8), B.shape], gram=[(0, 1)])
    assert declared.kernels == ("syrk", "gemm")
    expected = X @ np.array(X.T) @ B
    for pair in ([X, X.T.copy()], [X, X.T]):  # separate arrays, or a view
        result = declared.execute(*pair, B)
        if np.dtype(dtype).kind == "i":
            assert np.array_equal(result, expected)
        else:
            np.testing.assert_allclose(result, expected, **tolerance(dtype))
