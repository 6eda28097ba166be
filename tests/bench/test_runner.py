"""The runner and its timing: interleaving, settings, environment, resumable runs.

Timings are never asserted; only their structure (how many samples, in
which order the variants ran) and what the files hold.
"""

import csv
import dataclasses
import json
import math

import numpy as np
import pytest
from chainopt.experiments import discover

from chainopt.bench.experiment import (
    TIMING_COLUMNS,
    Case,
    Column,
    Experiment,
    ExperimentError,
    Settings,
    Variant,
)
from chainopt.bench.reports import load_frame, read_csv
from chainopt.bench.runner import run_experiment, settings_for
from chainopt.bench.timing import Timing, environment, time_interleaved
from chainopt.errors import ChainError


# -- a toy experiment: case n multiplies an n×n matrix by itself two ways ----
class Calls:
    """Counts the timed functions' calls per case; can fail on a chosen case."""

    def __init__(self, fail_at=None, error=KeyboardInterrupt):
        self.per_case, self.fail_at, self.error = {}, fail_at, error

    def hit(self, n):
        if n == self.fail_at:
            raise self.error()
        self.per_case[n] = self.per_case.get(n, 0) + 1


def toy_experiment(calls, compare_wrong=False):
    def variants(settings, n):
        a = settings.rng(n).standard_normal((n, n))

        def square():
            calls.hit(n)
            return a @ a

        def other():
            calls.hit(n)
            return a @ a.T if compare_wrong else np.dot(a, a)

        return [Variant({"how": "matmul", "flops": 2 * n**3}, square),
                Variant(lambda result: {"how": "dot", "flops": 2 * result.shape[0] ** 3},
                        other)]

    def cases(settings):
        for n in settings.sizes:
            yield Case({"n": n, "label": f"n{n}"}, lambda n=n: variants(settings, n))

    return Experiment(
        name="toy", title="toy", summary="toy experiment for tests",
        case_columns=(Column("n", "int", "size"), Column("label", "str", "name")),
        variant_columns=(Column("how", "str", "function"), Column("flops", "int", "flops")),
        cases=cases,
        summarize=lambda frame: frame[["n", "how", "time_median_s"]],
        conclude=lambda frame: f"{len(frame)} rows measured.",
        plot=lambda frame, figure: figure.subplots().plot(frame["n"], frame["flops"]),
        sizes=(2, 3, 4, 5), quick_sizes=(2, 3), sizes_help="matrix sizes",
        size_range=(1, 50), repeats=2, quick_repeats=1,
    )


def quick(sizes=(2, 3, 4, 5), seed=0):
    return Settings(sizes=sizes, repeats=2, seed=seed, min_sample_s=0.0)


# -- timing -----------------------------------------------------------------
def test_variants_are_interleaved_in_seeded_random_orders():
    log = []
    runs = [lambda name=name: log.append(name) for name in "abc"]
    timings = time_interleaved(runs, repeats=12, warmup=1, min_sample_s=0.0, seed=1,
                               prime=False)
    assert log[:3] == ["a", "b", "c"]  # the warm-up calls
    rounds = ["".join(log[3 + 3 * r: 6 + 3 * r]) for r in range(12)]
    assert all(sorted(r) == ["a", "b", "c"] for r in rounds)  # each round: all once
    predecessors = {r[r.index("a") - 1] for r in rounds if r[0] != "a"}
    assert predecessors == {"b", "c"}  # no fixed neighbour before a variant
    log.clear()
    time_interleaved(runs, repeats=12, warmup=1, min_sample_s=0.0, seed=1, prime=False)
    assert ["".join(log[3 + 3 * r: 6 + 3 * r]) for r in range(12)] == rounds  # seeded
    assert [len(t.samples_ns) for t in timings] == [12, 12, 12]
    assert all(t.loops == 1 for t in timings)
    assert all(t.cold_ns == () for t in timings)



def test_before_round_runs_untimed_before_each_round():
    calls = []
    runs = [lambda: calls.append("a"), lambda: calls.append("b")]
    time_interleaved(runs, repeats=3, warmup=1, min_sample_s=0.0, seed=2,
                     before_round=lambda r: calls.append(r))
    rounds = [i for i, c in enumerate(calls) if isinstance(c, int)]
    assert [calls[i] for i in rounds] == [0, 1, 2]
    assert rounds[0] == 2  # after the warm-up calls, before any sample
    for start, end in zip(rounds, rounds[1:] + [len(calls)]):
        assert sorted(set(calls[start + 1:end])) == ["a", "b"]  # each round visits both


def test_a_primed_sample_opens_with_one_call_of_its_own_variant():
    log = []
    runs = [lambda name=name: log.append(name) for name in "abc"]
    timings = time_interleaved(runs, repeats=5, warmup=1, min_sample_s=0.0, seed=3)
    samples = ["".join(log[3 + 2 * i: 5 + 2 * i]) for i in range(15)]
    assert all(s[0] == s[1] for s in samples)  # the cold call, then the timed one
    assert [len(t.cold_ns) for t in timings] == [5, 5, 5]
    assert all(t.summary()["time_cold_median_s"] > 0 for t in timings)


def test_fast_calls_are_repeated_within_a_sample():
    timings = time_interleaved([lambda: None], repeats=2, min_sample_s=1e-3)
    assert timings[0].loops > 1  # a no-op is far shorter than a millisecond


def test_on_result_sees_each_first_warm_up_result():
    seen = []
    time_interleaved([lambda: 1, lambda: 2], repeats=1, warmup=3, min_sample_s=0.0,
                     on_result=lambda j, result: seen.append((j, result)))
    assert seen == [(0, 1), (1, 2)]


def test_timing_summary_statistics():
    summary = Timing((1e9, 2e9, 3e9, 4e9, 5e9), loops=7).summary()
    assert summary == {"repeats": 5, "loops": 7, "time_median_s": 3.0, "time_q1_s": 2.0,
                       "time_q3_s": 4.0, "time_min_s": 1.0, "time_max_s": 5.0,
                       "time_cold_median_s": summary["time_cold_median_s"]}
    assert math.isnan(summary["time_cold_median_s"])  # not primed
    assert list(summary) == [c.name for c in TIMING_COLUMNS]
    primed = Timing((1e9,), loops=1, cold_ns=(2e9, 4e9, 9e9)).summary()
    assert primed["time_cold_median_s"] == 4.0


# -- settings ---------------------------------------------------------------
def test_same_seed_same_inputs():
    a, b = Settings((3,), 1, seed=5), Settings((3,), 1, seed=5)
    assert np.array_equal(a.rng(3, 1).random(4), b.rng(3, 1).random(4))
    assert not np.array_equal(a.rng(3, 1).random(4), a.rng(3, 2).random(4))
    assert not np.array_equal(a.rng(3).random(4), Settings((3,), 1, seed=6).rng(3).random(4))


def test_settings_defaults_and_quick():
    toy = toy_experiment(Calls())
    full, fast = settings_for(toy), settings_for(toy, quick=True)
    assert (full.sizes, full.repeats, full.quick) == ((2, 3, 4, 5), 2, False)
    assert (fast.sizes, fast.repeats, fast.quick) == ((2, 3), 1, True)
    assert settings_for(toy, sizes=[5, 2, 5], repeats=4, seed=9) == Settings(
        sizes=(2, 5), repeats=4, seed=9)


@pytest.mark.parametrize("options, fragment", [
    ({"repeats": 0}, "--repeats must be a positive integer; got 0"),
    ({"seed": -1}, "--seed must be a non-negative integer; got -1"),
    ({"sizes": []}, "--sizes is empty"),
    ({"sizes": [3, 51]}, "--sizes for toy are matrix sizes, from 1 to 50; got 51"),
])
def test_bad_settings(options, fragment):
    with pytest.raises(ExperimentError, match=fragment.replace("-", r"\-")) as info:
        settings_for(toy_experiment(Calls()), **options)
    assert isinstance(info.value, ChainError)


def test_environment_records_versions_blas_cpu_and_date():
    env = environment()
    for key in ("date", "python", "numpy", "scipy", "cpu", "blas", "blas_architecture",
                "blas_threads", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        assert key in env, key
    assert env["numpy"] == np.__version__
    assert isinstance(env["blas_threads"], int) and env["blas_threads"] >= 1
    json.dumps(env)  # it goes into NAME.json


def test_the_registry_names_the_four_experiments():
    assert {"gram", "orders", "jacobian", "planner"} <= set(discover())


# -- running, interrupting, resuming ------------------------------------------
def test_run_writes_one_row_per_case_and_variant(tmp_path):
    calls = Calls()
    summary = run_experiment(toy_experiment(calls), quick(), tmp_path, progress=False)
    assert (summary.measured, summary.skipped) == (4, 0)
    header, rows = read_csv(tmp_path / "toy.csv")
    assert header == ["n", "label", "how", "flops", *(c.name for c in TIMING_COLUMNS)]
    assert [(r["n"], r["how"]) for r in rows] == [
        (str(n), how) for n in (2, 3, 4, 5) for how in ("matmul", "dot")]
    assert [r["flops"] for r in rows[::2]] == [str(2 * n**3) for n in (2, 3, 4, 5)]
    meta = json.loads((tmp_path / "toy.json").read_text())
    assert meta["status"] == "complete" and meta["settings"]["seed"] == 0
    assert meta["environment"]["numpy"] == np.__version__
    for name in ("toy.md", "toy.png", "README.md"):
        assert (tmp_path / name).exists()


def test_interrupted_run_keeps_completed_rows_and_resume_measures_the_rest(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        run_experiment(toy_experiment(Calls(fail_at=4)), quick(), tmp_path, progress=False)
    header, rows = read_csv(tmp_path / "toy.csv")
    assert [r["n"] for r in rows] == ["2", "2", "3", "3"]  # exactly the completed cases
    assert all(r["time_max_s"] for r in rows)
    assert json.loads((tmp_path / "toy.json").read_text())["status"] == "interrupted"
    assert not list(tmp_path.glob("*.tmp"))

    calls = Calls()
    summary = run_experiment(toy_experiment(calls), quick(), tmp_path, resume=True,
                             progress=False)
    assert (summary.measured, summary.skipped) == (2, 2)
    assert sorted(calls.per_case) == [4, 5]  # only the missing cases ran
    _, rows_after = read_csv(tmp_path / "toy.csv")
    assert rows_after[:4] == rows
    assert [r["n"] for r in rows_after] == ["2", "2", "3", "3", "4", "4", "5", "5"]
    frame = load_frame(tmp_path, toy_experiment(calls))
    assert frame["n"].dtype == np.int64 and frame["time_median_s"].dtype == np.float64


def test_a_crash_also_keeps_completed_rows(tmp_path):
    with pytest.raises(MemoryError):
        run_experiment(toy_experiment(Calls(fail_at=3, error=MemoryError)), quick(),
                       tmp_path, progress=False)
    with open(tmp_path / "toy.csv", newline="") as handle:
        assert [row["n"] for row in csv.DictReader(handle)] == ["2", "2"]


def test_without_resume_a_run_starts_afresh(tmp_path):
    run_experiment(toy_experiment(Calls()), quick(), tmp_path, progress=False)
    calls = Calls()
    run_experiment(toy_experiment(calls), quick(sizes=(2,)), tmp_path, progress=False)
    assert [r["n"] for r in read_csv(tmp_path / "toy.csv")[1]] == ["2", "2"]


def test_resume_refuses_a_different_seed(tmp_path):
    run_experiment(toy_experiment(Calls()), quick(sizes=(2,)), tmp_path, progress=False)
    with pytest.raises(ExperimentError, match="measured with seed=0, not 1"):
        run_experiment(toy_experiment(Calls()), quick(sizes=(2,), seed=1), tmp_path,
                       resume=True, progress=False)


def test_resume_refuses_a_csv_with_other_columns(tmp_path):
    (tmp_path / "toy.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ExperimentError, match="its columns are not toy's"):
        run_experiment(toy_experiment(Calls()), quick(), tmp_path, resume=True,
                       progress=False)


def test_variants_that_disagree_are_a_bug(tmp_path):
    with pytest.raises(RuntimeError, match="variant 1 differs from variant 0"):
        run_experiment(toy_experiment(Calls(), compare_wrong=True), quick(sizes=(3,)),
                       tmp_path, progress=False)


def test_out_must_be_a_directory(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(ExperimentError, match="is a file; give a directory"):
        run_experiment(toy_experiment(Calls()), quick(), tmp_path / "file", progress=False)


def test_sizes_that_give_no_cases(tmp_path):
    empty = toy_experiment(Calls())
    with pytest.raises(ExperimentError, match="nothing to measure"):
        run_experiment(empty, Settings(sizes=(), repeats=1, seed=0), tmp_path,
                       progress=False)


def test_a_slow_first_call_does_not_set_the_loops():
    calls = []

    def run():  # the first call pays a one-off 50 ms cost, later ones nothing
        calls.append(1)
        if len(calls) == 1:
            import time
            time.sleep(0.05)

    timings = time_interleaved([run], repeats=1, warmup=2, min_sample_s=1e-3)
    assert timings[0].loops > 1


def followup_experiment(seen):
    """Case n screens two variants; its follow-up re-times the first with 5 repeats."""
    base = toy_experiment(Calls())

    def cases(settings):
        for n in settings.sizes:
            a = settings.rng(n).standard_normal((n, n))
            screen = [Variant({"how": "matmul", "flops": 1}, lambda a=a: a @ a),
                      Variant({"how": "dot", "flops": 2}, lambda a=a: np.dot(a, a))]

            def confirm(rows, n=n, screen=screen):
                seen.append((n, [row["how"] for row in rows]))
                return Case({"n": n, "label": "confirm"}, lambda: screen[:1], repeats=5)

            yield Case({"n": n, "label": "screen"}, lambda s=screen: s, followup=confirm)

    return dataclasses.replace(base, cases=cases)


def test_a_follow_up_case_is_measured_after_its_case_and_on_resume(tmp_path):
    seen = []
    experiment = followup_experiment(seen)
    summary = run_experiment(experiment, quick(sizes=(2, 3)), tmp_path, progress=False)
    frame = load_frame(tmp_path, experiment)
    assert list(frame["label"]) == ["screen", "screen", "confirm"] * 2
    assert list(frame["repeats"]) == [2, 2, 5] * 2
    assert seen == [(2, ["matmul", "dot"]), (3, ["matmul", "dot"])]
    assert (summary.measured, summary.skipped) == (4, 0)
    # Lose the last confirmation: --resume re-times it alone, from the stored screen rows.
    header, rows = read_csv(tmp_path / "toy.csv")
    with open(tmp_path / "toy.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, header)
        writer.writeheader()
        writer.writerows(rows[:-1])
    seen.clear()
    summary = run_experiment(experiment, quick(sizes=(2, 3)), tmp_path, resume=True,
                             progress=False)
    assert (summary.measured, summary.skipped) == (1, 2)
    assert seen == [(2, ["matmul", "dot"]), (3, ["matmul", "dot"])]
    assert len(load_frame(tmp_path, experiment)) == 6


def elsewhere_experiment(measured, fail_at=None):
    """Case n is measured "elsewhere": by measure_case, as a child process would."""
    from chainopt.bench.runner import measure_case

    base = toy_experiment(Calls())

    def cases(settings):
        for case in base.cases(settings):
            def away(case=case):
                if case.params["n"] == fail_at:
                    raise KeyboardInterrupt
                measured.append(case.params["n"])
                return measure_case(base, case, settings)

            def local():
                raise AssertionError("a case measured elsewhere is not timed here")

            yield dataclasses.replace(case, variants=local, elsewhere=away)

    return dataclasses.replace(base, cases=cases)


def test_a_case_measured_elsewhere_is_stored_kept_on_interrupt_and_resumed(tmp_path):
    measured = []
    with pytest.raises(KeyboardInterrupt):
        run_experiment(elsewhere_experiment(measured, fail_at=4), quick(), tmp_path,
                       progress=False)
    _, rows = read_csv(tmp_path / "toy.csv")
    assert [r["n"] for r in rows] == ["2", "2", "3", "3"] and measured == [2, 3]
    summary = run_experiment(elsewhere_experiment(measured), quick(), tmp_path, resume=True,
                             progress=False)
    assert (summary.measured, summary.skipped) == (2, 2) and measured == [2, 3, 4, 5]
    frame = load_frame(tmp_path, toy_experiment(Calls()))
    assert list(frame["how"]) == ["matmul", "dot"] * 4 and (frame["repeats"] == 2).all()


def test_rows_from_elsewhere_must_have_the_experiment_columns(tmp_path):
    base = toy_experiment(Calls())

    def cases(settings):
        yield Case({"n": 2, "label": "x"}, list, elsewhere=lambda: [{"n": 2}])

    with pytest.raises(RuntimeError, match="a row has columns"):
        run_experiment(dataclasses.replace(base, cases=cases), quick(), tmp_path,
                       progress=False)
