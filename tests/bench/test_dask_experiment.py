"""The dask experiment, run on a tiny chain: its files and columns, never its timings."""

import numpy as np
import pytest

from chainopt.bench.reports import load_frame
from chainopt.bench.runner import run_experiment, settings_for

pytest.importorskip("distributed")
pytest.importorskip("opt_einsum")


@pytest.fixture(scope="module")
def dask_run(tmp_path_factory):
    from chainopt.experiments import discover

    out = tmp_path_factory.mktemp("reports")
    registry = discover()
    experiment = registry["dask"]
    run_experiment(experiment, settings_for(experiment, sizes=[64], repeats=1, quick=True),
                   out, progress=False, registry=registry)
    return experiment, out


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
    assert (frame["input_bytes"] == np.array([64 * 64 * 4] * 4 + [64 * 32 * 4] * 4)).all()


def test_the_clusters_are_stopped(dask_run):
    import distributed

    with pytest.raises(ValueError):
        distributed.Client.current()


def test_the_headline_states_the_targets(dask_run):
    _, out = dask_run
    text = (out / "dask.md").read_text()
    assert "targets: ≥ 20×" in text and "≤ 1.3×" in text and "Client memory" in text
