"""Shared fixtures: paths to the shared meshes and G-code samples beside the repository."""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
MODELS = SHARED / "models"
GCODE_SAMPLES = SHARED / "gcode-samples"


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """Folder of third-party test meshes (../shared/models)."""
    if not MODELS.is_dir():
        pytest.fail(f"shared models not found at {MODELS}")
    return MODELS


@pytest.fixture(scope="session")
def gcode_samples_dir() -> Path:
    """Folder of G-code written by other slicers (../shared/gcode-samples)."""
    if not GCODE_SAMPLES.is_dir():
        pytest.fail(f"shared G-code samples not found at {GCODE_SAMPLES}")
    return GCODE_SAMPLES


@pytest.fixture
def ser(sim):  # type: ignore[no-untyped-def]
    """A port opened on the module's `sim` fixture (a running `printloop sim`) like a host does; closed after."""
    port = sim.open()
    yield port
    port.close()


def _hypothesis_profiles() -> None:
    """CI runs property tests derandomised and without deadlines: same examples on every run, no timing flakes."""
    import os

    from hypothesis import settings

    settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
    settings.register_profile("dev", deadline=None, print_blob=True)
    settings.load_profile("ci" if os.environ.get("CI") else "dev")


_hypothesis_profiles()
