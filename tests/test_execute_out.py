"""``Plan.execute(out=)`` is checked once, the same for every kernel: never cast."""

import numpy as np
import pytest

from chainopt import multi_dot, plan_chain
from chainopt.errors import ChainTypeError, PlanMismatchError


def _chains(rng):
    """One chain per kernel path: (name, plan, arrays); the product is 2×2 or 3×3."""
    A = rng.standard_normal((3, 2))
    d = rng.standard_normal(2)
    return [
        ("single factor", plan_chain([(2, 2)]), [np.full((2, 2), 1.7)]),
        ("gemm", plan_chain([(2, 3), (3, 2)]), [A.T.copy(), A]),
        ("scale", plan_chain([(2, 2), (2, 2)], kinds=["diagonal", "dense"]),
         [d, A.T @ A]),
        ("diag", plan_chain([(2, 2), (2, 2)], kinds=["diagonal", "diagonal"]), [d, d]),
        ("syrk (a view)", plan_chain([A, A.T]), [A, A.T]),
        ("syrk (declared)", plan_chain([(3, 2), (2, 3)], gram=[(0, 1)]), [A, A.T.copy()]),
    ]


def test_every_path_is_covered(rng):
    kernels = {plan.kernels[-1] if plan.kernels else "none" for _, plan, _ in _chains(rng)}
    assert kernels == {"none", "gemm", "scale", "diag", "syrk"}


@pytest.mark.parametrize("out_dtype", [np.int64, np.int32, np.float32, np.complex128, bool])
def test_a_float_product_is_never_cast_into_out(rng, out_dtype):
    for name, plan, arrays in _chains(rng):
        out = np.zeros(plan.shape, dtype=out_dtype)
        with pytest.raises(PlanMismatchError, match=f"out has dtype {np.dtype(out_dtype)} "
                           "but the product is float64; out is never cast"):
            plan.execute(*arrays, out=out)
        assert not out.any(), name  # nothing was written


def test_the_issue_reproductions():
    with pytest.raises(PlanMismatchError, match="pass out=np.empty\\(\\(2, 2\\), dtype=np.float64"):
        plan_chain([(2, 2)]).execute(np.full((2, 2), 1.7), out=np.zeros((2, 2), dtype=int))
    A = np.full((3, 2), 1.7)
    with pytest.raises(PlanMismatchError, match="int64"):
        plan_chain([A.T, A]).execute(A.T, A, out=np.zeros((2, 2), dtype=int))


def test_complex_into_float_is_refused(rng):
    for _name, plan, arrays in _chains(rng):
        complex_arrays = [arrays[0] * 1j, *arrays[1:]]
        with pytest.raises(PlanMismatchError, match="product is complex128"):
            plan.execute(*complex_arrays, out=np.zeros(plan.shape))


def test_non_contiguous_out_is_refused_on_every_path(rng):
    for _name, plan, arrays in _chains(rng):
        rows, cols = plan.shape
        for out in (np.zeros((2 * rows, cols))[::2], np.zeros((cols, rows)).T):
            with pytest.raises(PlanMismatchError, match="not C-contiguous"):
                plan.execute(*arrays, out=out)


def test_read_only_and_wrong_shape_out(rng):
    for _name, plan, arrays in _chains(rng):
        out = np.zeros(plan.shape)
        out.flags.writeable = False
        with pytest.raises(PlanMismatchError, match="read-only"):
            plan.execute(*arrays, out=out)
        with pytest.raises(PlanMismatchError, match="out has shape 5×5"):
            plan.execute(*arrays, out=np.zeros((5, 5)))
    with pytest.raises(ChainTypeError, match="out must be an ndarray; got list"):
        plan.execute(*arrays, out=[[0.0] * 3] * 3)


def test_a_good_out_receives_the_product_on_every_path(rng):
    for name, plan, arrays in _chains(rng):
        dense = [np.diag(a) if kind == "diagonal" else a for a, kind in zip(arrays, plan.kinds)]
        expected = dense[0] if len(dense) == 1 else np.linalg.multi_dot(dense)
        out = np.empty(plan.shape)
        assert plan.execute(*arrays, out=out) is out, name
        np.testing.assert_allclose(out, expected, rtol=1e-12, err_msg=name)


def test_integer_and_mixed_dtypes_need_their_own_out():
    A = np.arange(6).reshape(2, 3)
    plan = plan_chain([A, A.T])
    out = np.empty((2, 2), dtype=A.dtype)
    assert plan.execute(A, A.T, out=out) is out and np.array_equal(out, A @ A.T)
    with pytest.raises(PlanMismatchError, match="product is float32"):
        plan_chain([(2, 2), (2, 2)]).execute(np.ones((2, 2), np.int8), np.ones((2, 2), np.float32),
                                             out=np.empty((2, 2)))


def test_multi_dot_keeps_numpy_semantics_for_out(rng):
    arrays = [rng.standard_normal(s) for s in [(2, 3), (3, 4), (4, 5)]]
    with pytest.raises(ValueError, match="float32"):
        multi_dot(arrays, out=np.empty((2, 5), dtype=np.float32))


def test_arrays_of_strings_are_a_type_error():
    with pytest.raises(ChainTypeError, match="array 1 is not an array of numbers \\(dtype <U1\\)"):
        plan_chain([(1, 1), (1, 1)]).execute(np.ones((1, 1)), np.array([["a"]]))


def test_exact_python_numbers_multiply_as_numpy_does():
    from fractions import Fraction

    A = np.array([[Fraction(1, 3), Fraction(1, 2)], [Fraction(2), 0]], dtype=object)
    big = np.array([[2**70, 1], [0, 1]], dtype=object)
    for arrays in ([A, A, A], [big, big, A]):
        ours = multi_dot(arrays)
        assert ours.dtype == object and (ours == np.linalg.multi_dot(arrays)).all()
    with pytest.raises(ChainTypeError, match="array 1 is not an array of numbers \\(ragged"):
        multi_dot([A, np.array([[None, 1], [2, 3]], dtype=object)])
