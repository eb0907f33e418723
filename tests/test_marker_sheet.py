"""The printable marker sheet: every marker of the layout is found by the same detector, at its true size."""
from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np

from tests.conftest import REPO
from vision.config import VisionConfig
from vision.marker_sheet import DPI, marker_sheet
from vision.registration import detect_markers


def test_the_sheet_holds_every_marker_at_its_size_and_the_command_writes_it(tmp_path):
    config = VisionConfig(markers=((7, 0.0, 0.0), (8, 230.0, 0.0), (9, 230.0, 230.0), (10, 0.0, 230.0)),
                          marker_size_mm=25.0)
    sheet = marker_sheet(config)
    found = detect_markers(cv2.cvtColor(sheet, cv2.COLOR_GRAY2BGR))
    assert sorted(found) == [7, 8, 9, 10]
    side_px = np.linalg.norm(found[7][0] - found[7][1])
    assert abs(side_px / DPI * 25.4 - 25.0) < 0.5
    out = tmp_path / "sheet.png"
    profile = tmp_path / "printer.toml"
    profile.write_text("[vision]\nmarkers = [[7, 0, 0], [8, 230, 0], [9, 230, 230], [10, 0, 230]]\n")
    run = subprocess.run([sys.executable, "-m", "controller", "markers", "-o", str(out), "--vision-profile",
                          str(profile)], cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    assert "id 9: X230 Y230" in run.stdout
    assert sorted(detect_markers(cv2.imread(str(out)))) == [7, 8, 9, 10]
