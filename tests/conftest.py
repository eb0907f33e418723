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
