"""Jacobian chains, demonstrated: forward mode is A(BC), reverse mode is (AB)C.

Run it from the repository root, with chainopt installed (``pip install -e .``)
or importable (``PYTHONPATH=.``)::

    python examples/jacobian_demo.py            # several seconds
    python examples/jacobian_demo.py --quick    # seconds: smaller networks, fewer repeats

Every number printed is computed here, on this machine: the multiplication
counts by the planner and by instrumented sweeps, the times as medians of
interleaved repeats (see chainopt.bench.runner.time_interleaved). The script
stops with an error if a claimed fact does not hold.

Sections:

(a) the forward and reverse sweeps perform exactly the A(BC) and (AB)C
    bracketings: the same numbers and the same multiplication counts;
(b) for a scalar output, reverse mode is optimal exactly under
    chainopt.jacobians.scalar_reverse_optimal's condition, checked here
    against brute force on every small width vector;
(c) where that condition fails, the counterexamples the planner finds;
(d) a wide output favours forward mode; an hourglass favours a mixed order,
    by a large factor in multiplications and in time;
(e) the structure-aware plan (activations are diagonal) against the plan a
    dense cost model picks, in multiplications and in time;
(f) the matrix-free plan, run through the layers' tangents and adjoints.
"""

from __future__ import annotations

import argparse
import itertools
import sys

import numpy as np

import chainopt
from chainopt.bench.timing import time_interleaved
from chainopt.costs import steps_cost
from chainopt.jacobians import forward_sweep, reverse_sweep, scalar_reverse_optimal
from chainopt.jacobians.layers import Activation, Affine, Network
from chainopt.planners import brute_force


def check(claim: bool, what: str) -> None:
    if not claim:
        sys.exit(f"jacobian_demo: FAILED: {what}")


def median_ms(runs, repeats: int) -> list[float]:
    timings = time_interleaved(runs, repeats, warmup=2, min_sample_s=2e-3)
    return [float(np.median(t.samples_ns)) / 1e6 for t in timings]


def fixed_order(net, method: str):
    """The core Plan for the network's explicit Jacobians in one fixed order."""
    shapes = [(layer.n_out, layer.n_in) for layer in net.layers[::-1]]
    names = [f"J{i}" for i in range(len(shapes), 0, -1)]
    return chainopt.plan_chain(shapes, names=names, kinds=net.kinds[::-1], method=method)


def section_a(quick: bool) -> None:
    print("(a) The sweeps are the bracketings")
    widths = [64, 48, 32, 16] if quick else [300, 200, 100, 50]
    net = chainopt.mlp(widths, activation="tanh", seed=0)
    x = np.random.default_rng(0).standard_normal(widths[0])
    jacobians = net.jacobians(x)[::-1]  # product order: J_L first
    for name, sweep, method in [("forward", forward_sweep, "right"),
                                ("reverse", reverse_sweep, "left")]:
        value, count = sweep(net, x)
        plan = fixed_order(net, method)
        same = np.allclose(value, plan.execute(*jacobians), rtol=1e-12, atol=1e-14)
        print(f"    {name} sweep on {net}:\n"
              f"      {count:,} multiplications counted in the sweep, "
              f"{plan.cost:,} for {plan.parenthesization}; same Jacobian: {same}")
        check(same and count == plan.cost, f"the {name} sweep is its bracketing")


def small_scalar_chains(max_length: int, max_width: int):
    for length in range(2, max_length + 1):
        for head in itertools.product(range(1, max_width + 1), repeat=length - 1):
            yield (*head, 1)


def section_b(quick: bool) -> None:
    print("(b) Scalar output: when is reverse mode optimal?")
    length, width = (5, 5) if quick else (6, 6)
    total = unique = agree = 0
    for widths in small_scalar_chains(length, width):
        plan = chainopt.plan_jacobian(widths)
        optimum = brute_force(widths[::-1])[0]
        agree += (plan.reverse_cost == optimum) == scalar_reverse_optimal(widths)
        unique += min(widths[:-1]) >= 2 and plan.mode == "reverse"
        total += 1
    print(f"    all {total:,} width vectors with n_L = 1, L ≤ {length - 1}, widths 1…{width}: "
          f"the condition agrees with brute force on {agree:,}")
    check(agree == total, "the scalar-output condition")
    print(f"    ({unique:,} of them have every other width ≥ 2: reverse mode is optimal "
          f"in each, as part (i) says)")


def section_c() -> None:
    print("(c) Where the condition fails")
    for widths, why in [((1, 6, 3, 1), "scalar to scalar; n_1 = 6 is not the smallest"),
                        ((2, 1000, 1, 1000, 1), "a scalar bottleneck inside"),
                        ((10, 100, 1000, 10000), "not a scalar output at all")]:
        plan = chainopt.plan_jacobian(widths)
        print(f"    {'-'.join(map(str, widths))} ({why}): {plan.mode} "
              f"{plan.parenthesization}, {plan.cost:,} multiplications; reverse mode "
              f"{plan.reverse_cost:,}, forward mode {plan.forward_cost:,}")
        check(plan.cost < plan.reverse_cost, f"{widths} is a counterexample")


def mode_times(net, x, repeats: int) -> dict[str, float]:
    modes = ("optimal", "forward", "reverse")
    times = median_ms([lambda m=m: chainopt.jacobian(net, x, m) for m in modes], repeats)
    return dict(zip(modes, times))


def section_d(quick: bool) -> None:
    print("(d) Wide output and hourglass")
    w, repeats = (300, 5) if quick else (1000, 15)
    for widths in [(10, w, w, w), (w, w, 10, w, w)]:
        net = chainopt.mlp(widths, seed=0)
        plan = chainopt.plan_jacobian(net.widths, net.kinds)
        x = np.random.default_rng(1).standard_normal(widths[0])
        best = min(plan.forward_cost, plan.reverse_cost)
        ms = mode_times(net, x, repeats)
        print(f"    {'-'.join(map(str, widths))}: plan is {plan.mode} "
              f"{plan.parenthesization}\n"
              f"      multiplications: forward {plan.forward_cost:,}, reverse "
              f"{plan.reverse_cost:,}, optimal {plan.cost:,} "
              f"(better mode / optimal = {best / plan.cost:.1f}×)\n"
              f"      median time: forward {ms['forward']:.2f} ms, reverse "
              f"{ms['reverse']:.2f} ms, optimal {ms['optimal']:.2f} ms "
              f"(better mode / optimal = {min(ms['forward'], ms['reverse']) / ms['optimal']:.1f}×)")
    check(chainopt.plan_jacobian([10, w, w, w]).mode == "forward", "forward wins")


def elementwise_front(n: int, m: int) -> Network:
    """Three elementwise layers (say, input transforms), then a linear read-out."""
    weight = np.random.default_rng(2).standard_normal((m, n)) / np.sqrt(n)
    return Network([Activation("tanh", n), Activation("sigmoid", n), Activation("tanh", n),
                    Affine(weight)])


def section_e(quick: bool) -> None:
    print("(e) Structure-aware against the dense cost model")
    n, m, repeats = (500, 50, 7) if quick else (2000, 200, 21)
    net = elementwise_front(n, m)
    aware = chainopt.plan_jacobian(net.widths, net.kinds)
    dense = chainopt.plan_jacobian(net.widths)  # every Jacobian taken as dense
    dense_cost = steps_cost(aware.shapes, aware.kinds, dense.pairs)
    as_dense = dense.__class__(shapes=aware.shapes, kinds=aware.kinds, names=aware.names,
                               pairs=dense.pairs, cost=dense_cost, method=dense.method,
                               widths=aware.widths)
    x = np.random.default_rng(3).standard_normal(n)
    jacobians = net.jacobians(x)[::-1]
    check(np.allclose(as_dense.execute(*jacobians), aware.execute(*jacobians)), "same result")
    ms_dense, ms_aware = median_ms([lambda: as_dense.execute(*jacobians),
                                    lambda: aware.execute(*jacobians)], repeats)
    print(f"    {net}\n"
          f"      dense model picks {dense.parenthesization}: {dense_cost:,} multiplications "
          f"with diagonal activations, {ms_dense:.3f} ms\n"
          f"      structure-aware picks {aware.parenthesization}: {aware.cost:,} "
          f"multiplications, {ms_aware:.3f} ms\n"
          f"      ratio: {dense_cost / aware.cost:.2f}× in multiplications, "
          f"{ms_dense / ms_aware:.2f}× in time (same arrays, same execution; only the "
          f"order differs)")
    check(aware.cost < dense_cost, "the structure-aware plan is cheaper")


def section_f(quick: bool) -> None:
    print("(f) Matrix-free: only tangents and adjoints, T = A = nnz")
    widths = (40, 40, 4, 40, 40) if quick else (1000, 1000, 10, 1000, 1000)
    net = chainopt.mlp(widths, seed=0)
    plan = chainopt.plan_matrix_free(net.widths, net.nnz, net.nnz)
    x = np.random.default_rng(4).standard_normal(widths[0])
    value, count = plan.execute_counting(net, x)
    same = np.allclose(value, chainopt.jacobian(net, x), rtol=1e-9, atol=1e-12)
    print(f"    {'-'.join(map(str, widths))}: optimum {plan.cost:,} multiply-adds ({plan.mode}); "
          f"forward n0·ΣT {plan.forward_cost:,}, reverse nL·ΣA {plan.reverse_cost:,}, "
          f"preaccumulate-then-multiply {plan.preaccumulate_cost:,}\n"
          f"      executed through tangents and adjoints: {count:,} multiply-adds, "
          f"same Jacobian as the explicit one: {same}")
    check(same and count == plan.cost, "the matrix-free plan executes as planned")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    args = parser.parse_args(argv)
    section_a(args.quick)
    section_b(args.quick)
    section_c()
    section_d(args.quick)
    section_e(args.quick)
    section_f(args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
