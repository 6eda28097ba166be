"""Helpers shared by the tests: the command line's error contract, checked in one place."""

from __future__ import annotations

import subprocess
import sys

from chainopt.cli import main


def cli_error(capsys, *argv: str) -> str:
    """Run ``chainopt ARGV`` in-process; it must fail as the CLI promises.

    Exit status 2, nothing on stdout, exactly one line on stderr that starts
    ``chainopt: error: `` and is not a traceback. Returns that line.
    """
    capsys.readouterr()
    status = main(list(argv))
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert status == 2, (status, captured.err)
    assert captured.out == "", captured.out
    assert len(lines) == 1 and lines[0].startswith("chainopt: error: "), captured.err
    assert "Traceback" not in captured.err
    return lines[0]


def cli_error_in_a_process(*argv: str, cwd=None) -> str:
    """The same contract for ``python -m chainopt ARGV`` in a fresh process."""
    done = subprocess.run([sys.executable, "-m", "chainopt", *argv], capture_output=True,
                          text=True, cwd=cwd)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert done.stdout == "", done.stdout
    assert len(lines) == 1 and lines[0].startswith("chainopt: error: "), done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]
