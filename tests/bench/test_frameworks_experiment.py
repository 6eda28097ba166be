"""The frameworks experiment, run --quick: files and columns, never timings."""

import numpy as np
import pytest

pytest.importorskip("jax")

from chainopt.experiments import discover, frameworks  # noqa: E402

from chainopt.bench import reports  # noqa: E402
from chainopt.bench.reports import load_frame, read_meta  # noqa: E402
from chainopt.bench.runner import settings_for  # noqa: E402

DTYPES = {"int": "int64", "float": "float64", "bool": "bool"}


@pytest.fixture(scope="module")
def quick_run(quick_suite):
    """The --quick --repeats 1 run of `chainopt run` (tests/bench/conftest.py), which
    has the settings ``settings_for(experiment, quick=True, repeats=1)``."""
    experiment = discover()["frameworks"]
    assert experiment.in_suite  # with JAX installed
    return quick_suite.out, experiment


def test_in_the_suite_with_jax():
    assert discover()["frameworks"].in_suite


def test_quick_run_writes_every_file(quick_run):
    out, _ = quick_run
    for suffix in (".csv", ".md", ".png", ".json"):
        assert (out / f"frameworks{suffix}").stat().st_size > 0


def test_quick_run_columns(quick_run):
    out, experiment = quick_run
    frame = load_frame(out, experiment)
    assert list(frame.columns) == [c.name for c in experiment.columns]
    for column in experiment.columns:
        if column.dtype in DTYPES:
            assert frame[column.name].dtype == DTYPES[column.dtype], column.name
    frameworks_run = {"jax", "torch"} if frameworks.HAVE_TORCH else {"jax"}
    assert set(frame["framework"]) == frameworks_run
    assert set(frame["method"]) == {*frameworks.METHODS, *frameworks.HANDS, frameworks.FLOOR,
                                    "gemm"}
    assert set(frame["dtype"]) == {"float32", "float64"}
    assert set(frame["profile"]) == {*frameworks.QUICK_PROFILES, "ceiling"}
    assert set(frame.loc[frame["method"].isin(frameworks.HANDS), "profile"]) == {"hourglass"}
    # per thread count and dtype: a ceiling (gemm), the hourglass (JAX 5 methods and the
    # memory floor, torch 3)
    all_cores = 2 * (1 + 6 + 3 * (len(frameworks_run) - 1))
    square = 2 * (4 + 3 * (len(frameworks_run) - 1))  # all cores only, in --quick
    one_core = 2 * (1 + 6)  # JAX only, in --quick
    passes = sorted(set(frame["threads"]), key=lambda t: "(all)" not in t)
    assert len(passes) == (2 if frameworks._all_cores() > 1 else 1)
    assert len(frame) == all_cores + square + (one_core if len(passes) == 2 else 0)
    if len(passes) == 2:
        assert passes[1].startswith("xla 1")   # measured by the one-core child
        assert set(frame.loc[frame["threads"] == passes[1], "profile"]) == {"hourglass",
                                                                            "ceiling"}
    chainopt_rows = frame[frame["method"] == "chainopt"]
    assert (chainopt_rows["plan_s"] > 0).all()
    assert (frame.loc[frame["method"] != "chainopt", "plan_s"] == 0).all()
    hourglass = frame[frame["profile"] == "hourglass"]
    assert (hourglass["plan_mode"] == "mixed").all()
    assert (hourglass["bytes"] == 4 * (2 * 40 * 40 + 2 * 40 * 10 + 40 * 40)).where(
        hourglass["dtype"] == "float32", True).all()


def test_quick_run_report(quick_run):
    out, experiment = quick_run
    text = (out / "frameworks.md").read_text()
    headline = text.split("\n")[2]
    meta = read_meta(out, "frameworks")
    assert headline == reports.headline(experiment, load_frame(out, experiment), meta)
    assert "target" not in headline  # --quick: no verdicts
    table = frameworks.per_network(load_frame(out, experiment))
    assert "jax: better mode / chainopt" in table
    assert len(table) == 4 + 2 * (len(set(table["threads"])) - 1)
    assert np.all(table["predicted better mode / optimal"] >= 1)
    hourglass = table[table["profile"] == "hourglass"]
    assert (hourglass["jax ceiling ms"] >= hourglass["jax memory floor ms"]).all()
    assert (hourglass["jax ceiling ms"] >= hourglass["jax compute floor ms"]).all()
    assert (hourglass["jax: better mode / ceiling"] > 0).all()
    assert (hourglass["jax: chainopt / best hand-written"] > 0).all()


def test_results_that_differ_stop_the_run():
    good = ({"framework": "jax", "method": "chainopt"}, None, np.eye(3))
    bad = ({"framework": "torch", "method": "jacrev"}, None, np.eye(3) * (1 + 1e-3))
    frameworks._check_equal([good, good], np.eye(3), "float32", "here")
    with pytest.raises(RuntimeError, match="torch jacrev differs"):
        frameworks._check_equal([good, bad], np.eye(3), "float32", "here")


def test_the_reference_jacobian_is_the_finite_difference_one():
    settings = settings_for(discover()["frameworks"], quick=True)
    _, weights, biases, x = frameworks._network(settings, "hourglass", 12)

    def f(h):
        for i, (W, b) in enumerate(zip(weights, biases)):
            h = W @ h + b
            h = np.tanh(h) if i < len(weights) - 1 else h
        return h

    step = 1e-6
    columns = [(f(x + step * e) - f(x - step * e)) / (2 * step) for e in np.eye(len(x))]
    np.testing.assert_allclose(frameworks.reference_jacobian(weights, biases, x),
                               np.stack(columns, axis=1), rtol=1e-6, atol=1e-8)
