"""The dask experiment, run --quick: its files and columns, never its timings."""

import numpy as np
import pytest

from chainopt.bench.reports import load_frame

pytest.importorskip("distributed")
pytest.importorskip("opt_einsum")


@pytest.fixture(scope="module")
def dask_run(quick_suite):
    """The --quick --repeats 1 run of `chainopt run` (tests/bench/conftest.py): N = 1000."""
    from chainopt.experiments import discover

    experiment = discover()["dask"]
    assert experiment.in_suite  # with distributed and opt_einsum installed
    return experiment, quick_suite.out


def test_every_variant_of_both_chains_is_measured(dask_run):
    experiment, out = dask_run
    frame = load_frame(out, experiment)
    assert sorted(set(frame["chain"])) == sorted(["A·B·x", "AᵀA·x"])
    assert (frame.groupby("chain")["variant"].apply(sorted)
            == [sorted(["planned", "left to right", "opt_einsum", "eager"])] * 2).all()
    assert (frame["difference"] < 1e-5).all()
    for suffix in (".md", ".png", ".json"):
        assert (out / f"dask{suffix}").stat().st_size > 0


def test_the_plan_builds_fewer_tasks_and_eager_builds_none(dask_run):
    experiment, out = dask_run
    frame = load_frame(out, experiment)
    for _, group in frame.groupby("chain"):
        tasks = group.set_index("variant")["tasks"]
        assert tasks["planned"] < tasks["left to right"]
        assert tasks["eager"] == 0
    n = frame["n"].to_numpy()
    assert set(n) == set(experiment.quick_sizes)
    largest = np.where(frame["chain"] == "A·B·x", n * n, n * (n // 2)) * 4  # float32
    assert (frame["input_bytes"] == largest).all()


def test_the_clusters_are_stopped(dask_run):
    import distributed

    with pytest.raises(ValueError):
        distributed.Client.current()


def test_the_headline_states_the_targets(dask_run):
    _, out = dask_run
    text = (out / "dask.md").read_text()
    assert "targets: ≥ 20×" in text and "≤ 1.3×" in text and "Client memory" in text
