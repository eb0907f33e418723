"""`printloop slice` loads only what slicing needs: not the web service, the store, OpenCV, trimesh or scipy
(start-up time)."""
from __future__ import annotations

import subprocess
import sys

from tests.conftest import MODELS

_PROBE = """
import sys
from controller.cli import main
code = main(sys.argv[1:])
print(" ".join(sorted(sys.modules)))
sys.exit(code)
"""


def test_the_slice_command_imports_neither_the_web_service_nor_the_store_nor_opencv(tmp_path):
    out = tmp_path / "cube.gcode"
    run = subprocess.run([sys.executable, "-c", _PROBE, "slice", str(MODELS / "20mm-xyz-cube.stl"), "-o", str(out),
                          "--quiet"], capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    loaded = set(run.stdout.split())
    assert out.stat().st_size > 0 and "slicing.slicer" in loaded
    heavy = {"fastapi", "sqlalchemy", "cv2", "uvicorn", "alembic", "controller.config", "vision.camera",
             "trimesh", "scipy.sparse", "slicing.job_plan"}   # a binary STL is read and sliced with numpy alone
    assert not heavy & loaded, sorted(heavy & loaded)


def test_the_help_still_lists_every_command():
    run = subprocess.run([sys.executable, "-m", "controller", "--help"], capture_output=True, text=True,
                         timeout=120, check=False)
    assert run.returncode == 0
    for name in ("slice", "sim", "print", "serve", "demo"):
        assert name in run.stdout
