"""The account tables come by their own migration: a database written by the previous head upgrades keeping every
row, and `printloop serve` on a fresh data directory creates one admin, printed once, who can sign in."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
from alembic import command
from sqlalchemy import create_engine, text

from controller.api.live import free_port
from controller.store import Store, jobs, users
from controller.store.schema import alembic_config
from tests.conftest import REPO
from tests.sim_rig import wait_for

PREVIOUS_HEAD = "4941e68421c9"


def test_database_of_the_previous_head_upgrades_keeping_its_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'printloop.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(connection=conn), PREVIOUS_HEAD)
        conn.execute(text("INSERT INTO files (id, name, path, kind, size, sha256, created_at) "
                          "VALUES (1, 'cube.gcode', '/data/cube.gcode', 'gcode', 10, :h, 1.0)"), {"h": "0" * 64})
        conn.execute(text("INSERT INTO jobs (id, file_id, name, copies, priority, printers, state, slice_progress, "
                          "gcode_path, layer_count, message, created_at) VALUES (1, 1, 'cube', 1, 0, '[]', "
                          "'queued', 0.0, '/data/cube.gcode', 5, '', 2.0)"))
    engine.dispose()
    store = Store(url)
    assert [j.name for j in jobs.list_jobs(store)] == ["cube"]
    assert users.submitter_of(store, 1) is None            # a job from before accounts has no submitter
    user, key = users.create_user(store, "ada", "submitter", "long enough", 3.0)
    users.set_submitter(store, 1, "ada")
    assert users.user_by_key(store, key) == user and users.jobs_of(store, "ada") == {1}
    assert users.check_password(store, "ada", "long enough") == user
    assert users.check_password(store, "ada", "wrong") is None
    store.close()


def _serve(config: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as fh:
        return subprocess.Popen([sys.executable, "-m", "controller", "serve", "--config", str(config), "--port",
                                 str(port)], cwd=REPO, stdout=fh, stderr=subprocess.STDOUT)


def _up(client: httpx.Client) -> bool:
    try:
        return client.get("/health").status_code == 200
    except httpx.HTTPError:
        return False


def test_first_serve_creates_an_admin_printed_once_and_config_keys_stay_admin(tmp_path: Path) -> None:
    config = tmp_path / "lab.toml"
    config.write_text('data_dir = "data"\napi_keys = ["cfg-key"]\n')
    port = free_port()
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
    for start in (1, 2):
        log = tmp_path / f"serve-{start}.log"
        proc = _serve(config, port, log)
        try:
            wait_for(lambda: _up(client), 30, "the service to answer")
            said = log.read_text()
            found = re.search(r"user admin created with password (\S+) and API key (\S+)", said)
            if start == 1:
                assert found, said
                password, key = found.groups()
                r = client.post("/api/v1/login", json={"name": "admin", "password": password})
                assert r.status_code == 200 and r.json()["role"] == "admin"
                assert client.get("/api/v1/me", headers={"X-Api-Key": key}).json()["role"] == "admin"
            else:
                assert found is None, "the first admin is made once"
            me = client.get("/api/v1/me", headers={"X-Api-Key": "cfg-key"}).json()
            assert me == {"name": "key:config-1", "role": "admin", "csrf_token": None}
        finally:
            proc.terminate()
            proc.wait(30)
