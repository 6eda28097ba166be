"""The frameworks experiment, run --quick: files and columns, never timings."""

import numpy as np
import pytest

pytest.importorskip("jax")

from chainopt.experiments import discover, frameworks  # noqa: E402

from chainopt.bench import reports  # noqa: E402
from chainopt.bench.reports import load_frame, read_meta  # noqa: E402
from chainopt.bench.runner import run_experiment, settings_for  # noqa: E402

DTYPES = {"int": "int64", "float": "float64", "bool": "bool"}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    registry = discover()
    experiment = registry["frameworks"]
    run_experiment(experiment, settings_for(experiment, quick=True, repeats=1), out,
                   progress=False, registry=registry)
    return out, experiment


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
    assert set(frame["method"]) == {*frameworks.METHODS, frameworks.HAND}
    assert set(frame["dtype"]) == {"float32", "float64"}
    assert set(frame["profile"]) == set(frameworks.QUICK_PROFILES)
    assert len(frame) == 4 * 3 * len(frameworks_run) + 2  # hand-written: the hourglass
    assert set(frame.loc[frame["method"] == frameworks.HAND, "profile"]) == {"hourglass"}
    chainopt_rows = frame[frame["method"] == "chainopt"]
    assert (chainopt_rows["plan_s"] > 0).all()
    assert (frame.loc[frame["method"] != "chainopt", "plan_s"] == 0).all()
    hourglass = frame[frame["profile"] == "hourglass"]
    assert (hourglass["plan_mode"] == "mixed").all()


def test_quick_run_report(quick_run):
    out, experiment = quick_run
    text = (out / "frameworks.md").read_text()
    headline = text.split("\n")[2]
    meta = read_meta(out, "frameworks")
    assert headline == reports.headline(experiment, load_frame(out, experiment), meta)
    assert "target" not in headline  # --quick: no verdicts
    table = frameworks.per_network(load_frame(out, experiment))
    assert "jax: better mode / chainopt" in table and len(table) == 4
    assert np.all(table["predicted better mode / optimal"] >= 1)


def test_results_that_differ_stop_the_run():
    good = ({"framework": "jax", "method": "chainopt"}, None, np.eye(3))
    bad = ({"framework": "torch", "method": "jacrev"}, None, np.eye(3) * (1 + 1e-3))
    frameworks._check_equal([good, good], "float32", "here")
    with pytest.raises(RuntimeError, match="torch jacrev differs"):
        frameworks._check_equal([good, bad], "float32", "here")
