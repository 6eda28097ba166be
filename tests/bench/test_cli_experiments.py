"""``chainopt run``, ``experiment``, ``list`` and ``report`` on the command line."""

import pytest
from chainopt.experiments import discover

from chainopt.cli import main
from tests.helpers import cli_error


def one_error_line(capsys, argv) -> str:
    return cli_error(capsys, *argv)


def test_list_has_a_line_per_experiment(capsys):
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[0] for line in lines] == list(discover())
    assert all(len(line.split()) > 3 for line in lines)


def test_run_writes_the_suite_and_the_index(quick_suite):
    # quick_suite (tests/bench/conftest.py) is `chainopt run --quick --repeats 1`.
    assert quick_suite.status == 0
    index = (quick_suite.out / "README.md").read_text()
    for name, experiment in discover().items():
        if experiment.in_suite:
            for suffix in (".csv", ".md", ".png"):
                assert (quick_suite.out / f"{name}{suffix}").exists()
            assert f"[{name}]({name}.md)" in index
        else:
            assert not (quick_suite.out / f"{name}.csv").exists()


def test_run_says_what_it_measures_experiment_by_experiment(quick_suite):
    suite = [name for name, experiment in discover().items() if experiment.in_suite]
    started = [line.split(":")[0] for line in quick_suite.lines if ": measuring " in line]
    finished = [line.split(":")[0] for line in quick_suite.lines
                if " cases measured in " in line]
    assert started == finished == suite  # in the registry's order, each once
    for name in suite:
        line = next(line for line in quick_suite.lines if line.startswith(f"{name}: measuring"))
        assert "; 1 repeats; quick)" in line
        done = next(line for line in quick_suite.lines
                    if line.startswith(f"{name}: ") and " cases measured in " in line)
        assert done.endswith(f"-> {quick_suite.out / name}.md")
        assert "already measured" not in done
    assert quick_suite.lines[-1] == f"index: {quick_suite.out / 'README.md'}"


def test_resume_measures_nothing_new(copy_of_suite, capsys):
    suite = copy_of_suite
    argv = ["experiment", "gram", "--quick", "--repeats", "1", "--out", str(suite), "--resume"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "gram: 0 cases measured, 2 already measured" in out
    assert out.strip().endswith(f"index: {suite / 'README.md'}")


def test_report_rebuilds_from_the_csvs(copy_of_suite, capsys):
    suite = copy_of_suite
    for name in ("gram.md", "gram.png", "README.md"):
        (suite / name).unlink()
    assert main(["report", "--out", str(suite)]) == 0
    assert "gram:" in capsys.readouterr().out
    for name in ("gram.md", "gram.png", "README.md"):
        assert (suite / name).exists()


def test_experiment_with_sizes_and_seed(tmp_path, capsys):
    argv = ["experiment", "orders", "--quick", "--sizes", "4", "--repeats", "1",
            "--seed", "7", "--out", str(tmp_path)]
    assert main(argv) == 0
    assert "orders: 4 cases measured" in capsys.readouterr().out  # 3 classics + n = 4
    text = (tmp_path / "orders.csv").read_text()
    assert "random-n4-0" in text and "random-n5" not in text


@pytest.mark.parametrize("argv, fragment", [
    (["experiment", "nope"], "unknown experiment 'nope'; choose one of "),
    (["experiment", "gram", "--sizes", "10,x"], "argument --sizes: must be comma-separated "
                                                "positive integers"),
    (["experiment", "gram", "--sizes", "0,10"], "must be comma-separated positive integers"),
    (["experiment", "orders", "--sizes", "2"], "--sizes for orders are lengths n"),
    (["experiment", "gram", "--sizes", "10"], "give gram nothing to measure"),
    (["experiment", "gram", "--repeats", "0"], "argument --repeats: must be a positive"),
    (["run", "--seed", "-1"], "argument --seed: must be a non-negative integer"),
    (["run", "--sizes", "10"], "unrecognized arguments: --sizes 10"),
    (["experiment"], "required: NAME"),
])
def test_invalid_options_are_one_line_and_status_2(capsys, tmp_path, argv, fragment):
    line = one_error_line(capsys, [*argv, "--out", str(tmp_path)])
    assert fragment in line


def test_out_that_is_a_file(capsys, tmp_path):
    target = tmp_path / "file"
    target.write_text("")
    line = one_error_line(capsys, ["experiment", "gram", "--quick", "--out", str(target)])
    assert "is a file; give a directory" in line


def test_report_without_csvs(capsys, tmp_path):
    assert "no experiment CSVs" in one_error_line(capsys, ["report", "--out", str(tmp_path)])


def test_resume_with_another_seed(capsys, quick_suite):
    line = one_error_line(capsys, ["experiment", "gram", "--quick", "--seed", "3",
                                   "--resume", "--out", str(quick_suite.out)])
    assert "cannot resume" in line and "seed=0, not 3" in line
