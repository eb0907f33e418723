"""The CuraEngine benchmark builds CuraEngine's command line, reads its report, and runs without CuraEngine."""
from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from slicing.job_plan import read_gcode
from slicing.unsupported import SUPPORT_FEATURES
from tests.conftest import MODELS, REPO

_SPEC = importlib.util.spec_from_file_location("slice_vs_peers", REPO / "bench" / "slice_vs_peers.py")
assert _SPEC is not None and _SPEC.loader is not None
bench = importlib.util.module_from_spec(_SPEC)
sys.modules["slice_vs_peers"] = bench  # dataclasses look their module up
_SPEC.loader.exec_module(bench)

# lines CuraEngine 4.13 printed with -v for 3DBenchy and the shared profile
CURA_REPORT = """Total time elapsed  4.00s.
;TIME:3897
;Filament used: 3.68508m
Print time (s): 3897
Print time (hr|min|s): 1h 4m 57s
Filament (mm^3): 8863
"""


def test_cura_command_gives_every_setting_globally_and_for_the_extruder():
    settings = {"_comment": "x", "layer_height": 0.2, "support_enable": False, "machine_start_gcode": "G28\nG92 E0"}
    cmd = bench.cura_command("CuraEngine", Path("defs.json"), settings, Path("m.stl"), Path("o.gcode"))
    e0 = cmd.index("-e0")
    expected = ["-s", "layer_height=0.2", "-s", "support_enable=false", "-s", "machine_start_gcode=G28\nG92 E0"]
    assert cmd[:5] == ["CuraEngine", "slice", "-v", "-j", "defs.json"]
    assert cmd[5:e0] == expected and cmd[e0 + 1:e0 + 1 + len(expected)] == expected
    assert cmd[-4:] == ["-l", "m.stl", "-o", "o.gcode"]


def test_cura_report_gives_time_and_filament_length():
    seconds, metres = bench.parse_cura_report(CURA_REPORT)
    assert seconds == 3897
    assert metres == pytest.approx(3.68508, rel=1e-3)  # the volume and the length it reports agree
    assert bench.parse_cura_report("nothing here") == (None, None)
    assert math.isclose(8863 / (math.pi * 0.875**2) / 1000, metres)


def _ratio(ours: str, peer: str) -> object:
    """The ratio of two printed wall times, within what their rounding to 0.01 s (and its own) can move it."""
    a, b = float(ours), float(peer)
    return pytest.approx(a / b, abs=a / b * (0.005 / a + 0.005 / b) + 0.005)


def _seconds(clock: str) -> int:
    """Seconds of an h:mm:ss cell."""
    h, m, s = (int(v) for v in clock.split(":"))
    return (h * 60 + m) * 60 + s


def test_bench_without_curaengine_says_how_to_install_and_prints_printloop_figures():
    proc = subprocess.run(
        [sys.executable, "bench/slice_vs_peers.py", "--models", str(MODELS / "20mm-xyz-cube.stl"), "--repeat", "1",
         "--cura", "/nonexistent/CuraEngine", "--prusa", "/nonexistent/prusa-slicer"],
        check=False, cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "apt-get install -y cura-engine" in proc.stdout and "apt-get install -y prusa-slicer" in proc.stdout
    rows = [line.split() for line in proc.stdout.splitlines() if line.startswith("20mm-xyz-cube")]
    assert [r[1:3] for r in rows] == [["printloop", "process"], ["printloop", "in-proc"]]
    for row in rows:
        assert row[5] == "100"  # layers
        assert 1.0 < float(row[7]) < 1.6  # filament metres for a 20 mm cube at 20 % infill
        model_s, simulated_s = (_seconds(c) for c in row[9:11])
        assert model_s < simulated_s < 3 * model_s  # the simulated board also heats up before it moves
    process, in_proc = (float(r[3]) for r in rows)
    assert process > in_proc  # the whole process includes start-up and imports


def test_bench_prints_whole_process_figures_and_ratios_for_both_peers():
    proc = subprocess.run(
        [sys.executable, "bench/slice_vs_peers.py", "--models", str(MODELS / "20mm-xyz-cube.stl"), "--repeat", "1"],
        check=False, cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    rows = {(r[1], r[2]): r for r in (line.split() for line in proc.stdout.splitlines())
            if r and r[0] == "20mm-xyz-cube"}
    ours = rows[("printloop", "process")]
    for k, peer in ((-2, "CuraEngine"), (-1, "PrusaSlicer")):
        assert float(ours[k][:-1]) == _ratio(ours[3], rows[(peer, "process")][3])
    for key, row in rows.items():
        assert row[5] == "100" and 1.0 < float(row[7]) < 1.6, key


def test_bench_prints_whole_process_figures_for_a_plate_of_copies():
    proc = subprocess.run(
        [sys.executable, "bench/slice_vs_peers.py", "--models", str(MODELS / "20mm-xyz-cube.stl"), "--repeat", "1",
         "--copies", "2"], check=False, cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    rows = {(r[1], r[2]): r for r in (line.split() for line in proc.stdout.splitlines())
            if r and r[0] == "20mm-xyz-cube"}
    assert set(rows) == {("printloop", "process"), ("printloop", "in-proc"), ("CuraEngine", "process"),
                         ("PrusaSlicer", "process")}
    prusa = rows.pop(("PrusaSlicer", "process"))     # PrusaSlicer 2.5 does not arrange copies with this profile
    assert prusa[3] == "exit" or 2.0 < float(prusa[7]) < 3.2
    ours = rows[("printloop", "process")]
    assert ours[-1].endswith("x")                               # the ratio to CuraEngine (none to PrusaSlicer)
    assert float(ours[-1][:-1]) == _ratio(ours[3], rows[("CuraEngine", "process")][3])
    for key, row in rows.items():                              # two cubes: twice one cube's filament, every tool
        assert 2.0 < float(row[7]) < 3.2, key


def test_bench_turns_supports_on_in_every_tool_for_a_plate_of_brackets(tmp_path):
    proc = subprocess.run(
        [sys.executable, "bench/slice_vs_peers.py", "--models", "bracket", "--repeat", "1", "--copies", "2",
         "--support", "everywhere", "--keep", str(tmp_path)],
        check=False, cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "supports everywhere" in proc.stdout
    rows = {(r[1], r[2]): r for r in (line.split() for line in proc.stdout.splitlines()) if r and r[0] == "bracket"}
    assert len(rows) == 4 and all(len(r) > 5 for r in rows.values()), proc.stdout
    for tool in ("printloop", "cura", "prusa"):  # each tool's file holds support lines under both brackets
        job = read_gcode((tmp_path / f"bracket.{tool}.gcode").read_text())
        support = sum(float(lay.extrusion[np.isin(lay.feature, SUPPORT_FEATURES)].sum()) for lay in job.layers)
        assert support > 100.0, tool
