"""Shared fixtures: paths to the shared meshes and G-code samples beside the repository."""
from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.farm.pgcluster import PgCluster

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


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """A throw-away PostgreSQL server (initdb + pg_ctl in a temporary folder, on loopback) for the session."""
    with PgCluster() as cluster:
        yield cluster


_DB_NUMBERS = itertools.count()


@pytest.fixture
def pg_url(pg_cluster: PgCluster, request: pytest.FixtureRequest) -> str:
    """The URL of a new empty PostgreSQL database for one test."""
    name = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:40]
    return pg_cluster.create_database(f"t{next(_DB_NUMBERS)}_{name}")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a new empty database, once on SQLite (a file) and once on PostgreSQL: the store runs on both."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'printloop.db'}"
    return str(request.getfixturevalue("pg_url"))


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
