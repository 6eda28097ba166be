"""chainopt.torch against torch.func.jacrev and jacfwd (skipped without torch)."""

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainopt

torch = pytest.importorskip("torch")
ctorch = pytest.importorskip("chainopt.torch")
from chainopt.jacobians import torch as _torch_jacobian  # noqa: E402

nn = torch.nn


def _mlp(widths, seed=0, activation=nn.Tanh, last_activation=True):
    torch.manual_seed(seed)
    layers = []
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1], dtype=torch.float64))
        if last_activation or i < len(widths) - 2:
            layers.append(activation())
    return nn.Sequential(*layers).requires_grad_(False)


def _normalise(h):
    return (h - h.mean()) / torch.sqrt(h.var() + 1e-3)


def _convolve(h):
    kernel = torch.tensor([[[0.25, 0.5, -0.75]]], dtype=h.dtype)
    return nn.functional.conv1d(h[None, None], kernel, padding=1)[0, 0]


def _stages(*parts):
    return [stage for part in parts for stage in (part if isinstance(part, list) else [part])]


def _children(widths, seed=0, **kw):
    return list(_mlp(widths, seed, **kw).children())


#: name -> (model or stages, n_0)
MODELS = {
    "hourglass": (_mlp([12, 12, 2, 12, 12]), 12),
    "bottleneck": (_mlp([16, 16, 1, 16, 16], activation=nn.Sigmoid), 16),
    "wide-output": (_mlp([2, 5, 9, 20]), 2),
    "scalar-output": (_mlp([10, 6, 3, 1], last_activation=False), 10),
    "loss": (_stages(_children([8, 6, 4]), lambda h: ((h - 0.5) ** 2).sum()), 8),
    "square": (_mlp([8, 8, 8, 8], activation=nn.GELU), 8),
    "all elementwise": ([nn.Tanh(), torch.sin, ctorch.elementwise(lambda h: h * h + 1)], 6),
    "single module": (nn.Linear(5, 3, dtype=torch.float64).requires_grad_(False), 5),
    "cumsum": (_stages(_children([6, 6]), lambda h: torch.cumsum(h, 0),
                       _children([6, 3], 1)), 6),
    "convolution": (_stages(_convolve, _children([9, 4])), 9),
    "normalisation": (_stages(_children([6, 8]), _normalise, _children([8, 2], 2)), 6),
    "softmax": (_stages(_children([5, 5]), nn.Softmax(dim=0)), 5),
    "reversal": (_stages(_children([5, 5]), lambda h: torch.flip(h, (0,)),
                         _children([5, 4], 3)), 5),
    "relu": (_mlp([6, 7, 2, 5], activation=nn.ReLU), 6),
    "deep": (_mlp([6, 9, 2, 8, 3, 7, 1, 6]), 6),
}


def _composed(model_or_stages):
    stages = (list(model_or_stages.children()) if isinstance(model_or_stages, nn.Sequential)
              else [model_or_stages] if isinstance(model_or_stages, nn.Module)
              else model_or_stages)

    def f(h):
        for stage in stages:
            h = stage(h)
        return h.reshape(-1)
    return f


def _point(n, dtype, seed=0):
    return torch.tensor(np.random.default_rng(seed).uniform(-1, 1, n), dtype=dtype)


def _cast(model, dtype):
    """A copy of ``model`` in ``dtype`` (``Module.to`` works in place: the shared
    MODELS must keep theirs, whichever test an xdist worker ran before)."""
    model = copy.deepcopy(model)
    if isinstance(model, nn.Module):
        return model.to(dtype)
    return [s.to(dtype) if isinstance(s, nn.Module) else s for s in model]


TOL = {torch.float32: 2e-5, torch.float64: 1e-12}


def _close(value, reference):
    assert value.shape == reference.shape and value.dtype == reference.dtype
    scale = max(1.0, float(reference.abs().max()))
    assert float((value - reference).abs().max()) <= TOL[reference.dtype] * scale


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", MODELS)
def test_every_mode_matches_jacrev(name, dtype):
    model, n = MODELS[name]
    model = _cast(model, dtype)
    x = _point(n, dtype)
    reference = torch.func.jacrev(_composed(model))(x)
    _close(torch.func.jacfwd(_composed(model))(x), reference)
    for mode in ("optimal", "forward", "reverse"):
        J = ctorch.jacobian(model, x, mode=mode)
        assert J.dim() == 2
        _close(J, reference)


def test_plan_costs_from_the_flop_counter():
    model, n = MODELS["hourglass"]
    plan = ctorch.plan(_cast(model, torch.float64), _point(n, torch.float64))
    assert isinstance(plan, chainopt.MatrixFreePlan)
    assert plan.widths == (12, 12, 2, 12, 12) and plan.mode == "mixed"
    assert plan.groups == ((0, 1), (2, 3), (4, 5), (6, 7))
    # torch counts the matrix product alone: m·k multiply-adds per product
    assert plan.tangent_costs == (144, 24, 24, 144) == plan.adjoint_costs
    assert plan.sources == ("torch",) * 4
    assert "PyTorch stages" in str(plan)


def test_uncounted_stage_costs_its_result():
    plan = ctorch.plan([lambda h: torch.cumsum(h, 0)], _point(5, torch.float32))
    assert plan.tangent_costs == (5,) == plan.adjoint_costs


def test_all_elementwise_is_one_tangent_of_ones():
    model, n = MODELS["all elementwise"]
    plan = ctorch.plan(model, _point(n, torch.float64))
    assert plan.diagonal and plan.mode == "diagonal" and plan.cost == plan.tangent_costs[0]


def test_plans_once_per_shape_and_dtype(monkeypatch):
    planned = []
    original = _torch_jacobian._Chain.plan
    monkeypatch.setattr(_torch_jacobian._Chain, "plan",
                        lambda self, *a: planned.append(1) or original(self, *a))
    model, n = MODELS["hourglass"]
    fn = ctorch.jacobian_fn(_cast(model, torch.float64))
    for seed in range(3):
        fn(_point(n, torch.float64, seed))
    assert len(planned) == 1


def test_jacobian_keeps_the_graph_to_parameters():
    lin = nn.Linear(3, 2, dtype=torch.float64)
    J = ctorch.jacobian([lin, torch.tanh], _point(3, torch.float64))
    J.sum().backward()
    assert lin.weight.grad is not None


def test_detects_elementwise_stages():
    assert ctorch.is_elementwise(nn.ReLU()) and ctorch.is_elementwise(torch.tanh)
    assert not ctorch.is_elementwise(nn.Softmax(dim=0))
    assert not ctorch.is_elementwise(nn.Linear(2, 2))


def test_unsupported_inputs_get_a_clear_error():
    with pytest.raises(chainopt.ChainError, match="1-D tensor; got shape"):
        ctorch.jacobian([torch.tanh], torch.ones(2, 3))
    with pytest.raises(chainopt.ChainTypeError, match="1-D torch.Tensor"):
        ctorch.jacobian([torch.tanh], np.ones(3))
    with pytest.raises(chainopt.ChainTypeError, match="floating"):
        ctorch.jacobian([torch.tanh], torch.arange(3))
    with pytest.raises(chainopt.ChainError, match="output of stage 0 must be a 1-D"):
        ctorch.jacobian([lambda h: torch.outer(h, h)], torch.ones(3))
    with pytest.raises(chainopt.ChainError, match="mode must be one of"):
        ctorch.jacobian([torch.tanh], torch.ones(3), mode="mixed")


@settings(max_examples=10, deadline=None)
@given(st.lists(st.integers(1, 12), min_size=2, max_size=6))
def test_random_widths_match_jacrev(widths):
    model = _mlp(widths)
    x = _point(widths[0], torch.float64)
    _close(ctorch.jacobian(model, x), torch.func.jacrev(_composed(model))(x))


def test_stages_that_change_the_dtype():
    """float32 in, a cast to float64 and float64 layers: every mode, jacrev's values."""
    model = _stages(_children([12, 12]), lambda h: h.double(), _children([12, 2, 12, 12], 1))
    model = [s.float() if i < 2 else s for i, s in enumerate(model)]
    x = _point(12, torch.float32)
    assert ctorch.plan(model, x).mode == "mixed"
    forward = torch.func.jacfwd(_composed(model))(x)
    reverse = torch.func.jacrev(_composed(model))(x)
    assert (forward.dtype, reverse.dtype) == (torch.float64, torch.float32)
    _close(ctorch.jacobian(model, x, mode="forward"), forward)
    _close(ctorch.jacobian(model, x, mode="reverse"), reverse)
    J = ctorch.jacobian(model, x)
    assert J.dtype == torch.float64  # optimal: the input's and output's dtypes promoted
    _close(J.float(), reverse)
