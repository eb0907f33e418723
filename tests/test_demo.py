"""`printloop demo` (what `make demo` runs): the whole loop ends in time, catches the fault, makes six parts,
reports, and leaves no process behind."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_demo_runs_the_whole_loop_within_five_minutes(tmp_path: Path) -> None:
    t0 = time.monotonic()
    res = subprocess.run([sys.executable, "-m", "controller", "demo", "--out", str(tmp_path / "demo")], cwd=REPO,
                         capture_output=True, text=True, timeout=300, check=False)
    took = time.monotonic() - t0
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert took < 300
    out = res.stdout
    assert "6 of 6 parts made" in out
    row = next(line for line in out.splitlines() if line.startswith("sim-faulty"))
    assert "layer" in row, "the faulty printer's failure and its layer are in the summary"
    report = json.loads((tmp_path / "demo" / "report.json").read_text())
    assert report["job"]["state"] == "done" and report["layer_checks"] > 300
    faulty = next(r for r in report["printers"] if r["printer"] == "sim-faulty")
    assert faulty["parts"] == 0 and faulty["failures"] and 5 <= faulty["failures"][0] <= 9
    assert sum(r["parts"] for r in report["printers"]) == 6
    photos = list((tmp_path / "demo" / "photos").rglob("layer_*_check.jpg"))
    assert len(photos) > 300
    time.sleep(0.5)
    assert not [s["pid"] for s in report["simulators"] if _alive(s["pid"])], "simulators left running"
