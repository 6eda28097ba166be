"""Hostile input: random garbage thrown at the API and the command line.

The contract, checked for every example:

- the API returns a result or raises an exception of the chainopt family
  (:class:`~chainopt.errors.ChainError`, a ``ValueError``; ``ChainTypeError``
  is also a ``TypeError``) whose message says what was expected or got;
  never an ``IndexError``, ``OverflowError``, ``RecursionError`` or NumPy's
  own errors;
- the command line exits 0, or exits 2 with exactly one line on stderr that
  starts ``chainopt: error:``; never a traceback.

The budget is fixed and the search derandomized (the same examples every
run), so the module takes a few seconds and never flakes.
"""

from __future__ import annotations

import math
import os
import re
import string
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainopt
from chainopt.cli import main
from chainopt.errors import ChainError
from chainopt.graph.expression import parse_expression

#: Examples per test; raise it (``CHAINOPT_HOSTILE_EXAMPLES=5000``) for a deeper search.
EXAMPLES = int(os.environ.get("CHAINOPT_HOSTILE_EXAMPLES", "120"))
BUDGET = settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow,
                                         HealthCheck.function_scoped_fixture])
SMALL_BUDGET = settings(BUDGET, max_examples=max(EXAMPLES // 5, 10))

#: A message must say what was expected or what was got (or what to do).
_GUIDANCE = re.compile(
    r"\b(got|must|expects?|needs?|use|give|choose|pass|rename|raise|add|write|plan|is not|"
    r"are not|cannot|differ|only|unknown|undefined|too|missing|takes|one of|at least|"
    r"at most|no)\b")


def _check_error(exc: BaseException) -> None:
    assert isinstance(exc, ChainError), f"{type(exc).__name__}: {exc}"
    message = str(exc)
    assert message and _GUIDANCE.search(message), message


def _api(call, *args, **kwargs):
    """Call the API; any failure must be a well-formed ChainError."""
    try:
        return call(*args, **kwargs)
    except ChainError as exc:
        _check_error(exc)
    except Exception as exc:  # anything else breaks the contract
        pytest.fail(f"{call.__name__} raised {type(exc).__name__}: {exc!r:.300}")
    return None


# -- garbage ----------------------------------------------------------------------
_scalars = (st.none() | st.booleans() | st.integers(-3, 12)
            | st.sampled_from([0, -1, 10**30, 10**70, 2**63, 1.5, 2.0, math.nan, math.inf, -0.0,
                               np.int64(3), np.float32(2.0), np.bool_(True), 1j, "3", "x",
                               b"4", "", "dense", "diagonal"]))
garbage = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                       | st.tuples(inner, inner), max_leaves=10)
_dims = st.integers(1, 6)
_shapes = st.lists(st.tuples(_dims, _dims), min_size=1, max_size=5)
_chains = _shapes | st.lists(garbage, max_size=5) | garbage


@st.composite
def arrays(draw):
    """Small arrays of random shape and dtype (strings and bools included)."""
    shape = draw(st.lists(st.integers(0, 4), max_size=3))
    dtype = draw(st.sampled_from([np.float64, np.float32, np.int64, np.complex128, bool,
                                  np.int8, "U1", object]))
    size = int(np.prod(shape)) if shape else 1
    values = np.arange(size) % 3 if dtype != "U1" else np.array(["a"] * size)
    return np.asarray(values, dtype=dtype).reshape(shape)


# -- the API -------------------------------------------------------------------------
@BUDGET
@given(shapes=_chains, kinds=st.none() | garbage | st.lists(st.sampled_from(
           ["dense", "diagonal", "sparse", ""]), max_size=5),
       method=st.sampled_from(["auto", "dp", "approx", "brute", "left", "right", "fast", 3]),
       minimize=st.sampled_from(["multiplications", "time", "memory", "speed", None]),
       memory_limit=st.none() | st.integers(-2, 100) | garbage,
       gram=st.none() | garbage, names=st.none() | garbage)
def test_plan_chain_returns_a_plan_or_a_chain_error(shapes, kinds, method, minimize,
                                                     memory_limit, gram, names):
    plan = _api(chainopt.plan_chain, shapes, kinds=kinds, method=method,
                minimize=minimize or "multiplications", memory_limit=memory_limit, gram=gram,
                names=names)
    if plan is not None:  # a plan works all the way
        assert plan.cost >= 0 and plan.tree is not None
        assert str(plan) and repr(plan) and plan.to_dict()["cost"] == plan.cost


@BUDGET
@given(shapes=_shapes, data=st.data())
def test_execute_returns_the_product_or_a_chain_error(shapes, data):
    shapes = [shapes[0]] + [(shapes[i - 1][1], s[1]) for i, s in enumerate(shapes) if i]
    kinds = data.draw(st.lists(st.sampled_from(["dense", "diagonal"]), min_size=len(shapes),
                               max_size=len(shapes)))
    kinds = [k if r == c else "dense" for k, (r, c) in zip(kinds, shapes)]
    plan = chainopt.plan_chain(shapes, kinds=kinds)
    good = [np.ones(s) for s in shapes]
    given_arrays = [data.draw(st.sampled_from([a, None, "x", [[1.0]]]) | arrays())
                    for a in good]
    out = data.draw(st.none() | arrays() | st.sampled_from([np.empty(plan.shape), "out"]))
    result = _api(plan.execute, *given_arrays, out=out)
    if result is not None and out is None and all(a is g for a, g in zip(given_arrays, good)):
        dense = [np.diag(np.diag(a)) if k == "diagonal" else a for a, k in zip(good, kinds)]
        expected = dense[0] if len(dense) == 1 else np.linalg.multi_dot(dense)
        np.testing.assert_allclose(result, expected)


@BUDGET
@given(arrays=st.lists(arrays() | garbage, max_size=4), out=st.none() | arrays())
def test_multi_dot_returns_a_product_or_a_chain_error(arrays, out):
    _api(chainopt.multi_dot, arrays, out=out)


@BUDGET
@given(widths=garbage | st.lists(st.integers(-1, 8), max_size=6),
       kinds=st.none() | garbage, costs=st.none() | garbage | st.lists(st.integers(-1, 9),
                                                                        max_size=6))
def test_jacobian_planners_return_a_plan_or_a_chain_error(widths, kinds, costs):
    _api(chainopt.plan_jacobian, widths, kinds)
    _api(chainopt.plan_matrix_free, widths, costs, costs)


_NET = chainopt.mlp([3, 2])


def _checked(x):
    """check_jacobian's documented verdict on a bad derivative is an AssertionError
    (as numpy.testing's); at x = 10^30 central differences cannot agree."""
    try:
        return chainopt.check_jacobian(_NET, x)
    except AssertionError:
        return None


@BUDGET
@given(x=arrays() | garbage, mode=st.sampled_from(["optimal", "forward", "reverse", "best", 3]),
       arity=st.integers(0, 3), count=st.integers(1, 3))
def test_jacobians_and_traces_of_garbage_raise_chain_errors(x, mode, arity, count):
    _api(chainopt.jacobian, _NET, x, mode)
    _api(_checked, x)
    f = [lambda: 1.0, lambda a: a, lambda a, b: a * b, lambda a, b, c: a + b + c][arity]
    _api(chainopt.trace, f, *([0.5] * count))


@BUDGET
@given(value=arrays() | garbage, other=st.none() | garbage)
def test_layers_and_graph_options_of_garbage_raise_chain_errors(value, other):
    from chainopt.jacobians.layers import (
        Activation,
        Affine,
        Network,
        SoftmaxCrossEntropy,
        SquaredError,
    )

    for make in (lambda: Affine(value), lambda: Affine(np.ones((2, 3)), value),
                 lambda: Activation(value, 3), lambda: Activation("tanh", value),
                 lambda: Network(value), lambda: Network([value]), lambda: SquaredError(value),
                 lambda: SoftmaxCrossEntropy(value), lambda: SoftmaxCrossEntropy(1, value),
                 lambda: chainopt.mlp(value), lambda: chainopt.mlp([3, 2], activation=value),
                 lambda: chainopt.mlp([3, 2], loss=value), lambda: chainopt.mlp([3, 2], seed=value),
                 lambda: chainopt.jacobian(value, np.ones(3))):
        _api(make)
    graph = chainopt.trace(lambda x, y: (x * y, x + y), 1.0, 2.0)
    for call in (lambda: graph.eliminate(value), lambda: graph.gradient(mode=value),
                 lambda: graph.gradient(output=value), lambda: graph.differentiate(value),
                 lambda: graph.summary(value), lambda: graph.summary([value]),
                 lambda: graph.render(value)):
        _api(call)
    with tempfile.TemporaryDirectory() as directory:
        _api(lambda: graph.render(Path(directory) / "g.dot", format=value))


_TOKENS = ["x", "y", "z", "1", "2.5", "1e999", "0", "+", "-", "*", "/", "**", "(", ")", ",",
           " ", "sin(", "exp(", "log(", "maximum(", "tanh(", "sigmoid(", "foo(", "x.y", "[",
           "]", "{", "}", "lambda", ":", "=", "if", "True", "None", "'s'", "%", "@", "^", "~",
           "not ", "\n", "\\", "__import__(", "--", "·", "²"]


@BUDGET
@given(parts=st.lists(st.sampled_from(_TOKENS), max_size=14),
       values=st.lists(st.floats(-3, 3) | st.sampled_from([0.0, math.inf, math.nan]),
                       max_size=3))
def test_expressions_trace_or_raise_a_chain_error(parts, values):
    expression = _api(parse_expression, "".join(parts))
    if expression is None:
        return
    point = (values + [0.5] * len(expression.variables))[:len(expression.variables)]
    graph = _api(chainopt.trace, expression, *point) if point else None
    if graph is not None:
        _api(graph.gradient)


# -- the command line --------------------------------------------------------------------
def _cli(capsys, argv: list[str]) -> int:
    capsys.readouterr()
    try:
        status = main(argv)
    except SystemExit as exc:  # only argparse's --help/--version may exit, with 0
        pytest.fail(f"{argv!r} exited with SystemExit({exc.code})")
    except Exception as exc:
        pytest.fail(f"chainopt {' '.join(argv)!r} raised {type(exc).__name__}: {exc!r:.300}")
    captured = capsys.readouterr()
    assert status in (0, 2), (argv, status)
    if status == 2:
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("chainopt: error: "), (argv, captured)
        assert "Traceback" not in captured.err
    return status


_WORDS = ["30x35", "35x15", "15x5", "3x", "x3", "0x3", "3x3", "7", "2.5x3", "10" * 40 + "x3",
          "1e3x3", "-3x3", "3×3", "3,3", "²", "٣x3", "", " ", "--json", "--names", "A,B,C",
          "--kinds", "dense,diagonal", "diagonal", "--method", "dp", "approx", "brute", "left",
          "fast", "--cost", "--minimize", "time", "memory", "speed", "--memory-limit", "-1",
          "10", "abc", "--", "-x"]
_GRAPH_WORDS = ["x*y", "sin(x", "x**3*(x-y)", "exp(x), x/y", "__import__('os')", "1/x", "log(x)",
                "x" * 3, "--at", "x=2", "y=3", "x=", "=2", "if=1", "True=1", "x=inf", "x=nan",
                "x=1,y=2", "--eliminate", "forward", "markowitz", "optimal", "sideways", "3,4",
                "v1", "1,²", "--draw", "g.jpg", "--", "-x"]
_JACOBIAN_WORDS = ["784", "256", "10", "1", "0", "-3", "2.5", "x", "--kinds", "dense",
                   "diagonal,dense", "--tangent-costs", "--adjoint-costs", "1,2", "4,4,4",
                   "--json", "10" * 30, "9" * 400, "1," + "9" * 400]
_BENCH_WORDS = ["--quick", "--sizes", "0", "10,x", "5", "--repeats", "0", str(10**30),
                "100000000", "--seed", "-1", "--threads", "0", "99999", "--out",
                "/proc/nope", "--resume", "nosuch", "", "--bogus"]


@BUDGET
@given(command=st.sampled_from(["plan", "graph", "jacobian"]), data=st.data())
def test_the_planning_commands_keep_the_contract(capsys, command, data):
    words = {"plan": _WORDS, "graph": _GRAPH_WORDS, "jacobian": _JACOBIAN_WORDS}[command]
    argv = data.draw(st.lists(st.sampled_from(words) | st.text(string.printable, max_size=6),
                              max_size=7))
    _cli(capsys, [command, *argv])


@SMALL_BUDGET
@given(argv=st.lists(st.sampled_from(_BENCH_WORDS), max_size=6))
def test_the_bench_commands_with_bad_options_keep_the_contract(capsys, argv):
    # An experiment that does not exist, or a bad option: never measures anything.
    assert _cli(capsys, ["experiment", "nosuch", *argv]) == 2
    bad = argv + ["--repeats", "0"]
    assert _cli(capsys, ["run", *bad]) == 2


_FILES = [b"", b"\xff\xfe\x00", b"[]", b'"text"', b"{", b"null", b"n,d\n1,2\n",
          b"a,b\n" + b"1," * 50, b'{"settings": 3, "environment": [], "load": "x"}',
          b'{"settings": {"quick": "yes", "sizes": 5, "warmup": "x"}, "status": 7}']


@SMALL_BUDGET
@given(files=st.dictionaries(
    st.sampled_from(["gram.csv", "gram.json", "orders.csv", "orders.json", "planner.csv",
                     "multidot.json", "README.md"]),
    st.sampled_from(_FILES) | st.binary(max_size=40), max_size=4))
def test_report_on_damaged_files_keeps_the_contract(capsys, files):
    with tempfile.TemporaryDirectory() as directory:
        for name, content in files.items():
            (Path(directory) / name).write_bytes(content)
        _cli(capsys, ["report", "--out", directory])


@SMALL_BUDGET
@given(content=st.sampled_from(_FILES + [b'{"kernels": {"gemm": {"overhead": "x"}}}',
                                         b'{"kernels": {"gemm": [1, 2]}}'])
       | st.binary(max_size=60))
def test_a_damaged_time_model_file_keeps_the_contract(capsys, content):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "model.json"
        path.write_bytes(content)
        saved = os.environ.get("CHAINOPT_TIME_MODEL")
        os.environ["CHAINOPT_TIME_MODEL"] = str(path)
        try:
            _cli(capsys, ["plan", "2x3", "3x4", "4x5", "--minimize", "time"])
        finally:
            if saved is None:
                del os.environ["CHAINOPT_TIME_MODEL"]
            else:
                os.environ["CHAINOPT_TIME_MODEL"] = saved
