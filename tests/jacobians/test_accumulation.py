"""Compiled accumulation: every order against an independent product, out=, no allocations."""

import functools
import threading
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainopt
from chainopt import ChainError, ChainTypeError, Network, PlanMismatchError, jacobian
from chainopt.jacobians import numerical_jacobian, relative_error
from chainopt.jacobians.accumulation import Program
from chainopt.jacobians.layers import Activation, Affine, SoftmaxCrossEntropy, SquaredError
from chainopt.planners import brute_force
from chainopt.trees import all_trees, tree_to_steps


def explicit(net, x):
    """``J_L ⋯ J_1`` by functools.reduce over dense factors: the independent reference."""
    return functools.reduce(np.matmul, [np.diag(j) if j.ndim == 1 else j
                                        for j in net.jacobians(x)[::-1]])


layer_spec = st.one_of(st.tuples(st.just("affine"), st.integers(1, 6)),
                       st.tuples(st.just("act"), st.sampled_from(["tanh", "sigmoid", "relu"])))


def build(n0, specs, loss, rng):
    layers, n = [], n0
    for kind, arg in specs:
        if kind == "affine":
            layers.append(Affine(rng.standard_normal((arg, n)), rng.standard_normal(arg)))
            n = arg
        else:
            layers.append(Activation(arg, n))
    if loss:
        layers.append(SquaredError(rng.standard_normal(n)))
    return Network(layers)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6), st.lists(layer_spec, min_size=1, max_size=6), st.booleans(),
       st.integers(0, 10**6))
def test_every_bracketing_of_any_network_is_its_jacobian(n0, specs, loss, seed):
    rng = np.random.default_rng(seed)
    net = build(n0, specs, loss, rng)
    x = rng.standard_normal(n0)
    reference = explicit(net, x)
    trees = list(all_trees(0, len(net.layers) - 1)) if len(net.layers) <= 5 else []
    orders = [tree_to_steps(tree, len(net.layers)) for tree in trees[:14]]
    for order in orders:
        for options in ({}, {"eager": False}, {"fuse": False}, {"fuse": True}):
            np.testing.assert_allclose(Program(net, order, **options)(x), reference,
                                       rtol=1e-10, atol=1e-12)
    for mode in chainopt.jacobians.MODES:
        out = np.full(reference.shape, np.nan)
        assert jacobian(net, x, mode, out=out) is out
        np.testing.assert_allclose(out, reference, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(jacobian(net, x, mode), reference, rtol=1e-10, atol=1e-12)


def test_the_optimal_program_runs_the_planned_order(rng):
    net = chainopt.mlp([400, 400, 2, 400, 400], seed=3)
    plan = chainopt.plan_jacobian(net.widths, net.kinds)
    assert plan.mode == "mixed"
    assert plan.cost == brute_force(plan.dims, kinds=plan.kinds)[0]
    x = rng.standard_normal(400)
    program = Program(net, plan.pairs)
    assert [(s.left, s.right) for s in program.steps] == [tuple(s) for s in plan.pairs]
    ops = {s.op for s in program.steps}
    assert "matmul_t" in ops  # the tall thin product is computed transposed
    np.testing.assert_allclose(program(x), explicit(net, x), rtol=1e-10, atol=1e-13)
    small = chainopt.mlp([9, 9, 2, 9, 9])
    assert "matmul_t" not in {s.op for s in Program(small, plan.pairs).steps}
    assert relative_error(jacobian(small, x[:9]), numerical_jacobian(small, x[:9])) < 1e-8


def test_losses_and_single_layers(rng):
    x = rng.standard_normal(4)
    for net in (Network([Affine(rng.standard_normal((3, 4)))]),
                Network([Activation("tanh", 4)]),
                Network([Activation("tanh", 4), Activation("sigmoid", 4)]),
                Network([Affine(rng.standard_normal((3, 4))), SoftmaxCrossEntropy(1, 3)]),
                chainopt.mlp([4, 5, 3], loss="squared_error")):
        reference = explicit(net, x)
        for mode in chainopt.jacobians.MODES:
            out = np.full(reference.shape, np.nan)
            np.testing.assert_allclose(jacobian(net, x, mode, out=out), reference, atol=1e-12)
            np.testing.assert_allclose(jacobian(net, x, mode), reference, atol=1e-12)


def test_results_are_fresh_arrays_without_out(rng):
    net = chainopt.mlp([6, 6, 2, 6, 6])
    first = jacobian(net, rng.standard_normal(6))
    second = jacobian(net, rng.standard_normal(6))
    assert not np.shares_memory(first, second)
    assert not np.allclose(first, second)


@pytest.mark.parametrize("out, error, fragment", [
    (np.empty((3, 4), dtype=np.float32), PlanMismatchError,
     "dtype float32 but the product is float64; out is never cast"),
    (np.empty((3, 4), dtype=int), PlanMismatchError, "dtype int64"),
    (np.empty((3, 4), dtype=complex), PlanMismatchError, "complex128"),
    (np.empty((4, 3)), PlanMismatchError, "shape 4×3; the product is 3×4"),
    (np.empty(13), PlanMismatchError, "shape 13; the product is 3×4"),
    (np.empty((4, 3)).T, PlanMismatchError, "not C-contiguous"),
    (np.empty((3, 8))[:, ::2], PlanMismatchError, "not C-contiguous"),
    ([[0.0] * 4] * 3, ChainTypeError, "out must be an ndarray; got list"),
])
def test_out_is_checked_never_cast(out, error, fragment):
    net = chainopt.mlp([4, 5, 3])
    with pytest.raises(error, match=fragment):
        jacobian(net, np.ones(4), out=out)
    assert issubclass(error, ChainError)


def test_read_only_out_is_refused_and_a_flat_one_is_taken_as_2d():
    net = chainopt.mlp([4, 5, 3])
    out = np.empty((3, 4))
    out.flags.writeable = False
    with pytest.raises(PlanMismatchError, match="read-only"):
        jacobian(net, np.ones(4), out=out)
    flat = np.empty(12)
    result = jacobian(net, np.ones(4), out=flat)
    assert result.shape == (3, 4) and np.shares_memory(result, flat)
    np.testing.assert_allclose(result, explicit(net, np.ones(4)))


def test_a_loop_over_points_with_out_allocates_no_result(rng):
    net = chainopt.mlp([300, 300, 10, 300, 300])
    points = rng.standard_normal((6, 300))
    for mode in ("optimal", "reverse"):
        out = np.empty((300, 300))
        jacobian(net, points[0], mode, out=out)
        tracemalloc.start()
        for x in points[1:]:
            jacobian(net, x, mode, out=out)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        # the forward pass's vectors and NumPy's fixed 64 KiB scratch of a broadcasting ufunc
        assert peak < 2**17 < out.nbytes, (mode, peak)
        np.testing.assert_allclose(out, explicit(net, points[-1]), rtol=1e-10, atol=1e-12)


def test_threads_sharing_a_network_get_their_own_answers(rng):
    net = chainopt.mlp([40, 40, 5, 40, 40])
    points = rng.standard_normal((8, 40))
    results = [None] * len(points)

    def work(i):
        for _ in range(20):
            results[i] = jacobian(net, points[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(points))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for x, result in zip(points, results):
        np.testing.assert_allclose(result, explicit(net, x), rtol=1e-10, atol=1e-12)


def test_the_cache_follows_the_network_and_its_weights(rng):
    net = chainopt.mlp([5, 4, 3])
    x = rng.standard_normal(5)
    before = jacobian(net, x)
    net.layers[0].weight[...] *= 2.0          # weights changed in place are seen
    np.testing.assert_allclose(jacobian(net, x), explicit(net, x))
    assert not np.allclose(before, jacobian(net, x))
    net.layers = net.layers[:1]               # a replaced layer tuple recompiles
    net.widths, net.kinds = net.widths[:2], net.kinds[:1]
    np.testing.assert_allclose(jacobian(net, x), net.layers[0].weight)


def test_forward_mode_reads_each_weight_once(rng):
    """W_j a_{j−1} rides along as one more column of the tangent product W_j (D T)."""
    net = chainopt.mlp([3, 8, 8, 8, 8])
    x = rng.standard_normal(3)
    program = Program(net, chainopt.trees.right_to_left(len(net.layers)), fuse=True)
    fused = [step.fused for step in program.steps if step.fused is not None]
    assert fused == [2, 4]            # W2 and W3; W1's product is a scaling, W4's the last
    assert "copyto(column" in program.source
    auto = Program(net, program.pairs)  # "auto": these 8×8 weights stay in cache, no fusing
    assert all(step.fused is None for step in auto.steps)
    np.testing.assert_allclose(auto(x), explicit(net, x), rtol=1e-12, atol=1e-14)
    for step in program.steps:
        if step.fused is not None:
            assert step.extra.shape == (8, 4) and step.z.shape == (8,)
    np.testing.assert_allclose(program(x), explicit(net, x), rtol=1e-12, atol=1e-14)
    plain = Program(net, program.pairs, fuse=False)
    assert all(step.fused is None for step in plain.steps)
    np.testing.assert_allclose(plain(x), program(x), rtol=1e-13, atol=1e-15)


def test_eager_schedule_runs_the_input_side_while_its_weight_is_warm():
    net = chainopt.mlp([500, 500, 10, 500, 500])
    plan = chainopt.plan_jacobian(net.widths, net.kinds)
    eager = Program(net, plan.pairs)
    first = [(kind, step.left, step.right) for kind, step in
             [(k, eager.steps[i]) for k, i in _plan_of(eager) if k == "step"]][:2]
    # right after the first stage (W1 x, tanh) come W2·D1 and its product with W1 (factor 6)
    assert first == [("step", 4, 5), ("step", 9, 6)]


def _plan_of(program):
    from chainopt.jacobians.accumulation import _Layout, _schedule, _stage_groups

    layout = _Layout(program.layers, program.pairs)
    groups = _stage_groups(program.layers, layout.forward_end)
    return _schedule(layout, groups, {}, eager=True)


@pytest.mark.parametrize("threads", [1, 2])
def test_padded_thin_products_and_final_blocks_give_the_same_jacobian(rng, threads):
    net = chainopt.mlp([600, 600, 10, 600, 600], seed=2)
    plan = chainopt.plan_jacobian(net.widths, net.kinds)
    x = rng.standard_normal(600)
    program = Program(net, plan.pairs, threads=threads)
    plain = Program(net, plan.pairs, pad=False, block=False, threads=threads)
    assert program.threads == threads and "padded" not in plain.source
    assert ("padded" in program.source) == (threads > 1)       # 10 rows run as 12
    assert ("out=out[:, 0:320]" in program.source) == (threads > 1)  # a column block per thread
    out = np.full((600, 600), np.nan)
    np.testing.assert_allclose(program(x, out), explicit(net, x), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(program(x), plain(x), rtol=1e-13, atol=1e-15)
    assert Program(chainopt.mlp([8, 8, 2, 8, 8]), plan.pairs).threads is None  # nothing to tune


def test_a_tuned_program_follows_the_blas_thread_count(rng):
    from threadpoolctl import threadpool_limits

    net = chainopt.mlp([600, 600, 10, 600, 600], seed=2)
    x = rng.standard_normal(600)
    with threadpool_limits(1, "blas"):
        one = jacobian(net, x)
        assert net._programs["optimal"].threads == 1
    with threadpool_limits(2, "blas"):
        two = jacobian(net, x)
        assert net._programs["optimal"].threads == 2
    np.testing.assert_allclose(one, two, rtol=1e-13, atol=1e-15)
