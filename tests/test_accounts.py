"""Accounts and roles over the real HTTP API: users added by an admin with a key shown once, sign-in with a
session cookie (HttpOnly, SameSite, CSRF token for changes), the login throttle, every operation's declared roles
enforced, and a submitter confined to their own jobs."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from controller.api.app import create_app
from controller.config import parse_config
from controller.farm.service import LabService
from tests.conftest import GCODE_SAMPLES

KEY = "admin-config-key"
ADMIN = {"X-Api-Key": KEY}
ROLES = ("admin", "operator", "submitter", "viewer")
PASSWORD = "correct horse battery"


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def svc(tmp_path: Path, clock: Clock) -> LabService:
    cfg = parse_config({"data_dir": str(tmp_path / "data"), "api_keys": [KEY],
                        "printers": [{"name": "mk3-a", "port": "/dev/null-a"}]})
    service = LabService(cfg, clock=clock)
    yield service
    service.stop()


@pytest.fixture()
def client(svc: LabService) -> TestClient:
    with TestClient(create_app(svc, run_fleet=False)) as c:
        yield c


def _add(client: TestClient, name: str, role: str) -> dict[str, Any]:
    r = client.post("/api/v1/users", headers=ADMIN, json={"name": name, "role": role, "password": PASSWORD})
    assert r.status_code == 201, r.text
    return r.json()


def _key(user: dict[str, Any]) -> dict[str, str]:
    return {"X-Api-Key": user["api_key"]}


def _upload(client: TestClient, headers: dict[str, str]) -> int:
    data = (GCODE_SAMPLES / "cube.prusa.gcode").read_bytes()
    r = client.post("/api/v1/jobs", headers=headers, files={"file": ("cube.gcode", data)})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_admin_adds_users_whose_key_is_shown_once_and_stored_hashed(client: TestClient, svc: LabService) -> None:
    made = _add(client, "ada", "operator")
    assert made["name"] == "ada" and made["role"] == "operator" and made["api_key"].startswith("pl_")
    listed = client.get("/api/v1/users", headers=ADMIN).json()
    assert [u["name"] for u in listed] == ["ada"]
    assert all("api_key" not in u and "password" not in str(u) for u in listed)
    assert client.get("/api/v1/me", headers=_key(made)).json() == {"name": "ada", "role": "operator",
                                                                  "csrf_token": None}
    dup = client.post("/api/v1/users", headers=ADMIN, json={"name": "ada", "role": "viewer", "password": PASSWORD})
    assert dup.status_code == 409
    bad = client.post("/api/v1/users", headers=ADMIN, json={"name": "bob", "role": "root", "password": PASSWORD})
    assert bad.status_code == 422
    raw = b"".join(p.read_bytes() for p in svc.data_dir.glob("printloop.db*"))
    assert made["api_key"].encode() not in raw and PASSWORD.encode() not in raw
    assert client.post("/api/v1/users", headers=_key(made),
                       json={"name": "eve", "role": "admin", "password": PASSWORD}).status_code == 403


def test_login_sets_an_httponly_samesite_cookie_and_a_wrong_password_is_401(client: TestClient) -> None:
    _add(client, "ada", "viewer")
    assert client.post("/api/v1/login", json={"name": "ada", "password": "nope"}).status_code == 401
    assert client.post("/api/v1/login", json={"name": "nobody", "password": PASSWORD}).status_code == 401
    r = client.post("/api/v1/login", json={"name": "ada", "password": PASSWORD})
    assert r.status_code == 200 and r.json()["role"] == "viewer" and r.json()["csrf_token"]
    cookie = r.headers["set-cookie"].lower()
    assert "printloop_session=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    assert client.get("/api/v1/jobs").status_code == 200          # the cookie signs the request in
    assert client.post("/api/v1/logout").status_code == 204
    assert client.get("/api/v1/jobs").status_code == 401


def test_a_signed_in_change_needs_the_csrf_token_from_the_login(client: TestClient) -> None:
    _add(client, "sam", "submitter")
    csrf = client.post("/api/v1/login", json={"name": "sam", "password": PASSWORD}).json()["csrf_token"]
    data = (GCODE_SAMPLES / "cube.prusa.gcode").read_bytes()
    refused = client.post("/api/v1/jobs", files={"file": ("cube.gcode", data)})
    assert refused.status_code == 403 and "X-CSRF-Token" in refused.json()["message"]
    forged = client.post("/api/v1/jobs", headers={"X-CSRF-Token": "guess"}, files={"file": ("cube.gcode", data)})
    assert forged.status_code == 403
    ok = client.post("/api/v1/jobs", headers={"X-CSRF-Token": csrf}, files={"file": ("cube.gcode", data)})
    assert ok.status_code == 201


def test_five_wrong_passwords_in_a_row_lock_the_name_with_retry_after(client: TestClient, clock: Clock) -> None:
    _add(client, "ada", "viewer")
    for _ in range(4):
        assert client.post("/api/v1/login", json={"name": "ada", "password": "bad"}).status_code == 401
    assert client.post("/api/v1/login", json={"name": "ada", "password": PASSWORD}).status_code == 200
    for _ in range(5):
        assert client.post("/api/v1/login", json={"name": "ada", "password": "bad"}).status_code == 401
    locked = client.post("/api/v1/login", json={"name": "ada", "password": PASSWORD})
    assert locked.status_code == 429 and 0 < int(locked.headers["retry-after"]) <= 60
    clock.t += 61
    assert client.post("/api/v1/login", json={"name": "ada", "password": PASSWORD}).status_code == 200


def _call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> int:
    filled = (path.replace("{job_id}", "1").replace("{run_id}", "1").replace("{check_id}", "1")
              .replace("{name}", "mk3-a").replace("{filename}", "cube.gcode"))
    return client.request(method, filled, headers=headers, json={}).status_code


def test_every_operation_allows_exactly_its_declared_roles(client: TestClient) -> None:
    _upload(client, ADMIN)
    keys = {role: _key(_add(client, f"u-{role}", role)) for role in ROLES}
    doc = client.get("/openapi.json").json()
    checked = 0
    for path, ops in doc["paths"].items():
        if path in ("/metrics",) or path.startswith("/mtconnect") or path == "/api/v1/stream":
            continue          # public or not by config; the stream never ends (its roles are checked below)
        for method, op in ops.items():
            roles = op.get("x-roles")
            assert roles is not None, f"{method.upper()} {path} states no roles"
            if method != "get" and path not in ("/api/v1/login", "/api/v1/logout"):
                assert "viewer" not in roles, f"a viewer may not change anything ({method.upper()} {path})"
            if not roles:
                continue      # public
            assert _call(client, method, path, {}) == 401, f"{method.upper()} {path} without a key"
            for role in ROLES:
                got = _call(client, method, path, keys[role])
                if role in roles:
                    assert got not in (401, 403), f"{role} refused {got} on {method.upper()} {path}"
                else:
                    assert got == 403, f"{role} got {got} on {method.upper()} {path}, allowed: {roles}"
                checked += 1
    assert checked > 100
    assert doc["paths"]["/api/v1/stream"]["get"]["x-roles"] == list(ROLES)


def test_a_submitter_sees_and_cancels_only_their_own_jobs(client: TestClient) -> None:
    sam, kim = _key(_add(client, "sam", "submitter")), _key(_add(client, "kim", "submitter"))
    mine, theirs = _upload(client, sam), _upload(client, kim)
    assert [j["id"] for j in client.get("/api/v1/jobs", headers=sam).json()] == [mine]
    assert {r["job_id"] for r in client.get("/api/v1/queue", headers=sam).json()} == {mine}
    assert [j["id"] for j in client.get("/api/v1/snapshot", headers=sam).json()["jobs"]] == [mine]
    for path in (f"/api/v1/jobs/{theirs}", f"/api/v1/jobs/{theirs}/events", f"/api/v1/jobs/{theirs}/layer-checks"):
        r = client.get(path, headers=sam)
        assert r.status_code == 404 and r.json()["message"] == f"no job with id {theirs}", path
    assert client.post(f"/api/v1/jobs/{theirs}/cancel", headers=sam).status_code == 404
    assert client.get(f"/api/v1/jobs/{theirs}", headers=kim).json()["state"] == "queued"
    assert client.post(f"/api/v1/jobs/{mine}/cancel", headers=sam).status_code == 200
    assert client.get(f"/api/v1/jobs/{mine}", headers=sam).json()["state"] == "cancelled"
    assert client.post(f"/api/v1/jobs/{theirs}/pause", headers=kim).status_code == 403
    viewer = _key(_add(client, "vic", "viewer"))
    assert {j["id"] for j in client.get("/api/v1/jobs", headers=viewer).json()} == {mine, theirs}


def test_octoprint_upload_with_a_users_key_makes_that_user_the_submitter(client: TestClient) -> None:
    sam, kim = _key(_add(client, "sam", "submitter")), _key(_add(client, "kim", "submitter"))
    data = (GCODE_SAMPLES / "cube.prusa.gcode").read_bytes()
    r = client.post("/api/files/local", headers=sam, files={"file": ("cube.gcode", data)}, data={"print": "true"})
    assert r.status_code == 201
    job_id = r.json()["job_id"]
    assert [j["id"] for j in client.get("/api/v1/jobs", headers=sam).json()] == [job_id]
    assert client.get("/api/v1/jobs", headers=kim).json() == []
    viewer = _key(_add(client, "vic", "viewer"))
    assert client.post("/api/files/local", headers=viewer, files={"file": ("cube.gcode", data)}).status_code == 403
