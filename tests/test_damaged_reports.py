"""A CSV damaged outside chainopt: one-line errors, and resume re-measures."""

import csv

from chainopt.cli import main


def _quick(tmp_path, name):
    assert main(["experiment", name, "--quick", "--out", str(tmp_path)]) == 0


def test_report_and_resume_survive_a_truncated_csv(tmp_path, capsys):
    _quick(tmp_path, "gram")
    path = tmp_path / "gram.csv"
    text = path.read_text()
    path.write_text(text[: len(text) * 2 // 3])  # cut inside a row
    capsys.readouterr()
    assert main(["report", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "gram.csv is damaged" in err[0]
    assert main(["experiment", "gram", "--quick", "--out", str(tmp_path), "--resume"]) == 0
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == text.count("\n") - 1  # every case measured, none twice
    assert main(["report", "--out", str(tmp_path)]) == 0
