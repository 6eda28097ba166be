"""A CSV damaged outside chainopt: one-line errors, and resume re-measures."""

import csv
import shutil

import pytest

from chainopt.cli import main


def _quick(tmp_path, name):
    assert main(["experiment", name, "--quick", "--out", str(tmp_path)]) == 0


@pytest.fixture(scope="module")
def gram_run(tmp_path_factory):
    """``chainopt experiment gram --quick``, once for the module: tests damage copies."""
    out = tmp_path_factory.mktemp("gram")
    _quick(out, "gram")
    return out


@pytest.fixture
def gram_copy(gram_run, tmp_path):
    return shutil.copytree(gram_run, tmp_path / "reports")


@pytest.mark.parametrize("keep", [0.3, 0.5, 2 / 3, 0.9])
def test_report_and_resume_survive_a_truncated_csv(gram_copy, capsys, keep):
    path = gram_copy / "gram.csv"
    text = path.read_text()
    cut = text.index("\n", int(len(text) * keep)) + 4
    path.write_text(text[:cut])  # cut a few characters into a row
    capsys.readouterr()
    status = main(["report", "--out", str(gram_copy)])
    err = capsys.readouterr().err.strip().splitlines()
    if status:  # the cut left an unreadable value: one line naming the file
        assert status == 2 and len(err) == 1 and "gram.csv is damaged" in err[0]
    else:  # the cut fell where the rows still parse: a report of fewer rows
        assert err == []
    assert main(["experiment", "gram", "--quick", "--out", str(gram_copy), "--resume"]) == 0
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == text.count("\n") - 1  # every case measured, none twice
    assert main(["report", "--out", str(gram_copy)]) == 0


def test_a_stale_csv_of_another_experiment_does_not_stop_a_run(gram_copy):
    stale = gram_copy / "multidot.csv"
    stale.write_text("an,older,schema\n1,2,3\n")  # e.g. measured by an older chainopt
    _quick(gram_copy, "orders")  # writes its report and the index, which lists both
    index = (gram_copy / "README.md").read_text()
    assert "[orders](orders.md)" in index and "[gram](gram.md)" in index
    assert "Not readable" in index and "multidot.csv" in index
