"""examples/jacobian_demo.py --quick runs, checks its own claims, and prints every section."""

import os
import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).resolve().parents[1] / "examples" / "jacobian_demo.py"


def test_quick_demo_runs_and_prints_every_section():
    root = str(DEMO.parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [root, os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, str(DEMO), "--quick"], capture_output=True,
                          text=True, cwd=root, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for heading in ["(a) The sweeps are the bracketings", "(b) Scalar output",
                    "(c) Where the condition fails", "(d) Wide output and hourglass",
                    "(e) Structure-aware", "(f) Matrix-free"]:
        assert heading in out
    assert "same Jacobian: True" in out
    assert "the condition agrees with brute force on 780" in out
    assert "FAILED" not in out + done.stderr
