"""chainopt.jax against jax.jacfwd and jax.jacrev, on models of every profile."""

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainopt

jax = pytest.importorskip("jax")
jnp = jax.numpy
cjax = pytest.importorskip("chainopt.jax")
from chainopt.jacobians import jax as _jax_jacobian  # noqa: E402


def _mlp(widths, seed=0, last_activation=True):
    """tanh(W x + b) stages, as separate affine and tanh stages."""
    rng = np.random.default_rng(seed)
    stages = []
    for i in range(len(widths) - 1):
        W = jnp.asarray(rng.standard_normal((widths[i + 1], widths[i])) / np.sqrt(widths[i]))
        b = jnp.asarray(rng.standard_normal(widths[i + 1]) * 0.1)
        stages.append(lambda h, W=W, b=b: W.astype(h.dtype) @ h + b.astype(h.dtype))
        if last_activation or i < len(widths) - 2:
            stages.append(jnp.tanh)
    return stages


def _layers(widths, seed=0):
    """Fused tanh(W x) stages, one per layer."""
    rng = np.random.default_rng(seed)
    Ws = [jnp.asarray(rng.standard_normal((widths[i + 1], widths[i])) / np.sqrt(widths[i]))
          for i in range(len(widths) - 1)]
    return [lambda h, W=W: jnp.tanh(W.astype(h.dtype) @ h) for W in Ws]


def _normalise(h):
    return (h - jnp.mean(h)) / jnp.sqrt(jnp.var(h) + 1e-3)


KERNEL = jnp.array([0.25, 0.5, -0.75])

#: name -> (stages, n_0): at least 20 models of every profile the issue names.
MODELS = {
    "hourglass": (_mlp([12, 12, 2, 12, 12]), 12),
    "bottleneck": (_layers([16, 16, 1, 16, 16]), 16),
    "wide-output": (_mlp([2, 5, 9, 20]), 2),
    "scalar-output": (_mlp([10, 6, 3, 1], last_activation=False), 10),
    "loss": ([*_mlp([8, 6, 4]), lambda h: jnp.sum((h - 0.5) ** 2)], 8),
    "log-sum-exp loss": ([*_layers([7, 5]), jax.nn.logsumexp], 7),
    "square": (_mlp([8, 8, 8, 8]), 8),
    "all elementwise": ([jnp.tanh, jnp.sin, lambda h: h * h + 1.0], 6),
    "single affine": (_mlp([5, 3], last_activation=False), 5),
    "single elementwise": ([jax.nn.sigmoid], 4),
    "cumsum": ([*_layers([6, 6]), jnp.cumsum, *_layers([6, 3], seed=1)], 6),
    "convolution": ([lambda h: jnp.convolve(h, KERNEL.astype(h.dtype), mode="same"),
                     *_layers([9, 4])], 9),
    "normalisation": ([*_layers([6, 8]), _normalise, *_layers([8, 2], seed=2)], 6),
    "softmax": ([*_layers([5, 5]), jax.nn.softmax], 5),
    "declared elementwise": ([*_layers([4, 6]),
                              cjax.elementwise(lambda h: h * jnp.arange(6.0, dtype=h.dtype)),
                              *_layers([6, 3], seed=3)], 4),
    "leading elementwise": ([jnp.sin, *_layers([5, 7, 2])], 5),
    "reversal": ([*_layers([5, 5]), lambda h: h[::-1], *_layers([5, 4], seed=4)], 5),
    "concatenate": ([lambda h: jnp.concatenate([h, h ** 2]), *_layers([10, 3])], 5),
    "slice": ([*_layers([3, 9]), lambda h: h[:4], *_layers([4, 6], seed=5)], 3),
    "residual": ([lambda h: h + jnp.tanh(_layers([6, 6])[0](h)), *_layers([6, 2])], 6),
    "relu and gelu": ([*_mlp([6, 6]), jax.nn.relu, *_layers([6, 5]), jax.nn.gelu], 6),
    "deep": (_layers([6, 9, 2, 8, 3, 7, 1, 6, 5, 9, 4]), 6),
}


def _composed(stages):
    def f(h):
        for stage in stages:
            h = stage(h)
        return jnp.reshape(h, (-1,))
    return f


def _point(n, dtype, seed=0):
    return jnp.asarray(np.random.default_rng(seed).uniform(-1, 1, n), dtype=dtype)


TOL = {"float32": 2e-5, "float64": 1e-12}


def _close(value, reference, dtype):
    value, reference = np.asarray(value), np.asarray(reference)
    assert value.shape == reference.shape
    scale = max(1.0, float(np.abs(reference).max()))
    assert float(np.abs(value - reference).max()) <= TOL[dtype] * scale


@pytest.fixture(params=["float32", "float64"])
def dtype(request):
    with jax.enable_x64(request.param == "float64"):
        yield request.param


def test_models_cover_the_issue():
    assert len(MODELS) >= 20


def _reference(stages, x, how=jax.jacrev):
    return jax.jit(how(_composed(stages)))(x)


@pytest.mark.parametrize("name", MODELS)
def test_optimal_matches_jacrev_in_float64(name):
    stages, n = MODELS[name]
    with jax.enable_x64(True):
        x = _point(n, "float64")
        J = cjax.jacobian(stages, x)
        assert J.ndim == 2 and J.dtype == jnp.float64
        _close(J, _reference(stages, x), "float64")


@pytest.mark.parametrize("name", ["hourglass", "loss", "wide-output", "all elementwise",
                                  "single affine"])
@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_modes_match_jacrev(name, mode):
    stages, n = MODELS[name]
    with jax.enable_x64(True):
        x = _point(n, "float64")
        _close(cjax.jacobian(stages, x, mode=mode), _reference(stages, x), "float64")


@pytest.mark.parametrize("name", MODELS)
def test_optimal_matches_jacrev_in_float32(name):
    stages, n = MODELS[name]
    x = _point(n, "float32")
    J = cjax.jacobian(stages, x)
    assert J.dtype == jnp.float32
    _close(J, _reference(stages, x), "float32")


def test_forward_and_reverse_are_jacfwd_and_jacrev():
    stages, n = MODELS["hourglass"]
    x = _point(n, "float32")
    forward = np.asarray(cjax.jacobian(stages, x, mode="forward"))
    reverse = np.asarray(cjax.jacobian(stages, x, mode="reverse"))
    np.testing.assert_array_equal(forward, _reference(stages, x, jax.jacfwd))
    np.testing.assert_array_equal(reverse, _reference(stages, x, jax.jacrev))


@pytest.mark.parametrize("name", ["hourglass", "loss", "all elementwise", "cumsum"])
def test_jit_and_vmap(name, dtype):
    stages, n = MODELS[name]
    xs = jnp.stack([_point(n, dtype, seed) for seed in range(3)])
    reference = jax.jit(jax.vmap(jax.jacrev(_composed(stages))))(xs)
    fn = cjax.jacobian_fn(stages)
    _close(jax.jit(fn)(xs[0]), reference[0], dtype)
    _close(jax.jit(jax.vmap(fn))(xs), reference, dtype)
    _close(jax.vmap(jax.jit(fn))(xs), reference, dtype)


def test_plans_once_per_shape_and_dtype(monkeypatch):
    planned = []
    original = _jax_jacobian._Chain.plan
    monkeypatch.setattr(_jax_jacobian._Chain, "plan",
                        lambda self, *a: planned.append(1) or original(self, *a))
    stages, n = MODELS["single affine"]
    fn = jax.jit(cjax.jacobian_fn(stages))
    for seed in range(3):
        fn(_point(n, "float32", seed))
    jax.vmap(fn)(jnp.stack([_point(n, "float32", s) for s in range(2)]))
    assert len(planned) == 1
    fn(jnp.ones(n, dtype=jnp.float16))
    assert len(planned) == 2


def test_parameters_closed_over_under_jit():
    stages, n = MODELS["hourglass"]

    @jax.jit
    def jac(scale, x):
        return cjax.jacobian([*stages, lambda h: scale * h], x)

    x = _point(n, "float32")
    _close(jac(2.0, x), 2.0 * jax.jacrev(_composed(stages))(x), "float32")


def test_plan_costs_from_xla():
    stages, n = MODELS["hourglass"]
    plan = cjax.plan(stages, _point(n, "float32"))
    assert isinstance(plan, chainopt.MatrixFreePlan)
    assert plan.widths == (12, 12, 2, 12, 12) and plan.mode == "mixed"
    assert plan.groups == ((0, 1), (2, 3), (4, 5), (6, 7))
    assert plan.sources == ("xla",) * 4
    # one more tangent of tanh(W h + b): W's multiply-adds plus a few per output
    for i, (m, k) in enumerate([(12, 12), (2, 12), (12, 2), (12, 12)]):
        assert m * k <= plan.tangent_costs[i] <= m * k + 4 * m
        assert m * k <= plan.adjoint_costs[i] <= m * k + 4 * max(m, k)
    assert plan.cost < min(plan.forward_cost, plan.reverse_cost)
    assert "J1 = stages 0, 1: 12 → 12" in str(plan) and "mixed" in str(plan)
    assert plan.to_dict()["groups"][0] == [0, 1]


def test_preaccumulates_and_multiplies_when_the_plan_says_so():
    stages, n = MODELS["bottleneck"]
    plan = cjax.plan(stages, jnp.ones(n))
    kinds = [op.kind for op in plan.operations]
    assert plan.mode == "mixed" and "multiply" in kinds
    assert {"preaccumulate by tangents", "preaccumulate by adjoints"} <= set(kinds)
    x = _point(n, "float32")
    _close(cjax.jacobian(stages, x), _reference(stages, x), "float32")


def _program(fn, x) -> list[str]:
    """The optimized XLA program's instructions, without names, metadata or constants."""
    import re

    text = jax.jit(fn).lower(x).compile().as_text()
    ops = []
    for line in text.splitlines():
        match = re.match(r"\s*(?:ROOT )?%\S+ = (\S+) (\w[\w-]*)\(", line)
        if match and match.group(2) not in ("parameter", "constant"):
            ops.append(f"{match.group(1)} {match.group(2)}")
    return sorted(ops)


def test_the_schedule_compiles_to_the_mixed_order_written_by_hand():
    """The products XLA gets are those written by hand: no identity seeds (no
    ``W @ eye(k)``), no extra forward passes."""
    widths = (60, 60, 4, 60, 60)
    stages, x = _mlp(widths, last_activation=False), jnp.linspace(-1, 1, 60)
    assert cjax.plan(stages, x).mode == "mixed"
    (W1, b1), (W2, b2), (W3, b3), (W4, _) = (stages[i].__defaults__ for i in (0, 2, 4, 6))

    def by_hand(x):
        h1 = jnp.tanh(W1 @ x + b1)
        h2 = jnp.tanh(W2 @ h1 + b2)
        rows = ((1 - h2 * h2)[:, None] * W2 * (1 - h1 * h1)) @ W1
        h3 = jnp.tanh(W3 @ h2 + b3)
        return (W4 @ ((1 - h3 * h3)[:, None] * W3)) @ rows

    program = _program(cjax.jacobian_fn(stages), x)
    assert [op for op in program if op.endswith(" dot")] == [
        op for op in _program(by_hand, x) if op.endswith(" dot")]
    assert not any("[4,4]" in op for op in program)  # no identity seed is built
    _close(jax.jit(cjax.jacobian_fn(stages))(x), jax.jit(by_hand)(x), "float32")


def test_symbolic_seeds_give_the_dense_seeds_values(monkeypatch, dtype):
    """On every model, the values of the identities made dense."""
    for name, (stages, n) in MODELS.items():
        x = _point(n, dtype)
        symbolic = jax.jit(cjax.jacobian_fn(stages))(x)
        with monkeypatch.context() as m:
            m.setattr(_jax_jacobian, "SYMBOLIC_SEEDS", False)
            dense = jax.jit(cjax.jacobian_fn(stages))(x)
        np.testing.assert_allclose(symbolic, dense, rtol=TOL[dtype], atol=TOL[dtype],
                                   err_msg=name)


def test_a_plan_that_is_a_mode_runs_jacrev():
    stages, n = MODELS["scalar-output"]
    assert cjax.plan(stages, jnp.ones(n)).mode == "reverse"
    x = _point(n, "float32")
    np.testing.assert_array_equal(cjax.jacobian(stages, x), _reference(stages, x))


def test_fallback_where_the_analysis_gives_nothing(monkeypatch):
    monkeypatch.setattr(_jax_jacobian, "xla_flops", lambda fn, *args: None)
    stages, n = MODELS["hourglass"]
    chain = _jax_jacobian._Chain(stages, jnp.ones(n))
    plan = chain.plan(lambda fn, *args: None)
    assert plan.sources == ("estimated",) * 4
    dense = [a * b for a, b in zip(plan.widths, plan.widths[1:])]
    assert list(plan.tangent_costs) == dense == list(plan.adjoint_costs)
    x = _point(n, "float32")
    assert "(estimated)" in str(plan)
    _close(cjax.jacobian(stages, x), jax.jacrev(_composed(stages))(x), "float32")



def test_planning_analyses_lowered_programs_without_compiling(monkeypatch):
    _jax_jacobian._FLOPS.clear()
    stages, n = MODELS["hourglass"]
    lowered = type(jax.jit(jnp.sin).lower(jnp.ones(3)))

    def refuse(self, *args, **kwargs):
        raise AssertionError("planning compiled a program")

    monkeypatch.setattr(lowered, "compile", refuse)
    assert cjax.plan(stages, jnp.ones(n)).sources == ("xla",) * 4


def test_the_compiled_analysis_stands_in_where_the_lowered_gives_nothing(monkeypatch):
    s = jax.ShapeDtypeStruct((4, 3), jnp.float32)

    def fn(a, b):
        return a @ b.T

    lowered = jax.jit(fn).lower(s, s)
    monkeypatch.setattr(type(lowered), "cost_analysis", lambda self: None)
    assert _jax_jacobian._analysed_flops(fn, s, s) == 96.0  # 4·4·3 multiply-adds, compiled
    monkeypatch.setattr(type(lowered.compile()), "cost_analysis", lambda self: {})
    assert _jax_jacobian._analysed_flops(fn, s, s) is None

def test_zero_flop_stage_costs_its_result():
    plan = cjax.plan([lambda h: h[::-1]], jnp.ones(5))
    assert plan.tangent_costs == (5,) and plan.adjoint_costs == (5,)


@pytest.mark.parametrize(("stage", "expected"), [
    (jnp.tanh, True), (jax.nn.relu, True), (jax.nn.gelu, True),
    (lambda h: jnp.where(h > 0, h, 0.1 * h), True),
    (lambda h: h * jnp.arange(4.0), True),
    (jnp.cumsum, False), (jax.nn.softmax, False), (lambda h: h[::-1], False),
    (lambda h: h + jnp.sum(h), False), (lambda h: jnp.ones((4, 4)) @ h, False),
    (lambda h: h * jnp.sum(jnp.arange(4.0)), True), (lambda h: jnp.sort(h), False),
])
def test_detects_elementwise_stages(stage, expected):
    assert cjax.is_elementwise(stage, jax.ShapeDtypeStruct((4,), jnp.float32)) is expected


def test_all_elementwise_is_one_tangent_of_ones():
    stages, n = MODELS["all elementwise"]
    plan = cjax.plan(stages, jnp.ones(n))
    assert plan.diagonal and plan.mode == "diagonal" and plan.groups == ((0, 1, 2),)
    assert plan.cost == plan.tangent_costs[0] < plan.forward_cost
    assert "diagonal" in str(plan)


@pytest.mark.parametrize(("x", "match", "kind"), [
    ({"a": 1.0}, "pytree", chainopt.ChainTypeError),
    (np.ones((2, 3)), "1-D", chainopt.ChainError),
    (np.arange(3), "floating", chainopt.ChainTypeError),
])
def test_unsupported_inputs_get_a_clear_error(x, match, kind):
    with pytest.raises(kind, match=match):
        cjax.jacobian([jnp.tanh], x if isinstance(x, dict) else jnp.asarray(x))


def test_declared_elementwise_must_keep_the_width():
    with pytest.raises(chainopt.ChainError, match="stage 0 is declared elementwise but maps 3"):
        cjax.plan([cjax.elementwise(lambda h: h[:2])], jnp.ones(3))


def test_unsupported_stages_get_a_clear_error():
    with pytest.raises(chainopt.ChainError, match="output of stage 1 must be a 1-D"):
        cjax.jacobian([jnp.tanh, lambda h: jnp.outer(h, h)], jnp.ones(3))
    with pytest.raises(chainopt.ChainTypeError, match="output of stage 0 .* pytree"):
        cjax.jacobian([lambda h: (h, h)], jnp.ones(3))
    with pytest.raises(chainopt.ChainError, match="stage 1 cannot take"):
        cjax.jacobian([jnp.tanh, lambda h: jnp.ones((2, 4)) @ h], jnp.ones(3))
    with pytest.raises(chainopt.ChainTypeError, match="stage 1 must be a callable"):
        cjax.jacobian([jnp.tanh, 3], jnp.ones(3))
    with pytest.raises(chainopt.ChainTypeError, match="sequence of callables"):
        cjax.jacobian(jnp.tanh, jnp.ones(3))
    with pytest.raises(chainopt.ChainError, match="mode must be one of"):
        cjax.jacobian_fn([jnp.tanh], mode="mixed")


@settings(max_examples=5, deadline=None)
@given(st.lists(st.integers(1, 12), min_size=2, max_size=5), st.booleans())
def test_random_widths_match_jacrev(widths, split):
    stages = _mlp(widths) if split else _layers(widths)
    with jax.enable_x64(True):
        x = _point(widths[0], "float64")
        _close(cjax.jacobian(stages, x), _reference(stages, x), "float64")


def test_import_chainopt_imports_neither_jax_nor_torch():
    code = ("import sys, chainopt; import chainopt.cli; "
            "print(sorted(m for m in ('jax', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def _casting_models():
    """Chains whose stages change the dtype: float32 in, float64 weights, and back."""
    rng = np.random.default_rng(7)
    Ws = [jnp.asarray(rng.standard_normal(s) / np.sqrt(s[1]), dtype=jnp.float64)
          for s in [(12, 12), (2, 12), (12, 2), (12, 12)]]
    widen = [lambda h, W=W: jnp.tanh(W @ h) for W in Ws]   # float32 h -> float64
    narrow = [*widen[:2], lambda h: h.astype(jnp.float32),
              *[lambda h, W=W: jnp.tanh(W.astype(h.dtype) @ h) for W in Ws[2:]]]
    return {"float32 input, float64 weights": (widen, "float32"),
            "float64 narrowed to float32 midway": (narrow, "float64")}


@pytest.mark.parametrize("name", ["float32 input, float64 weights",
                                  "float64 narrowed to float32 midway"])
def test_stages_that_change_the_dtype(name):
    with jax.enable_x64(True):
        stages, dtype = _casting_models()[name]
        x = _point(12, dtype)
        assert cjax.plan(stages, x).mode == "mixed"
        forward, reverse = (_reference(stages, x, how) for how in (jax.jacfwd, jax.jacrev))
        assert forward.dtype != reverse.dtype
        J = cjax.jacobian(stages, x, mode="forward")
        assert J.dtype == forward.dtype
        _close(J, forward, "float32")
        J = cjax.jacobian(stages, x, mode="reverse")
        assert J.dtype == reverse.dtype
        _close(J, reverse, "float32")
        fn = cjax.jacobian_fn(stages)
        J = jax.jit(fn)(x)
        assert J.dtype == jnp.float64  # optimal: the input's and output's dtypes promoted
        _close(J, reverse, "float32")
        xs = jnp.stack([_point(12, dtype, seed) for seed in range(2)])
        _close(jax.jit(jax.vmap(fn))(xs), jax.vmap(jax.jacrev(_composed(stages)))(xs),
               "float32")
