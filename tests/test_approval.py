"""With `require_approval = true` a submitter's job waits as awaiting_approval (a simulated printer beside it
stays idle) until an operator approves it, and then prints; a rejected job ends with the reason as its message."""
from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from controller.api.app import create_app
from controller.api.live import LiveServer
from controller.config import parse_config
from controller.farm.service import LabService
from tests.sim_rig import cube_gcode, start_sims, wait_for

KEY = "approval-key"
PASSWORD = "a long password"


@pytest.fixture()
def lab(tmp_path: Path):
    sims = start_sims([""], tmp_path, speed="20")
    cfg = parse_config({"data_dir": str(tmp_path / "data"), "api_keys": [KEY], "require_approval": True,
                        "printers": [{"name": "mk3-a", "port": sims[0].serial, "camera": sims[0].camera}]})
    svc = LabService(cfg)
    server = LiveServer(create_app(svc)).start()
    try:
        with httpx.Client(base_url=server.url, headers={"X-Api-Key": KEY}, timeout=30) as admin:
            yield admin, cube_gcode(tmp_path)
    finally:
        server.stop()
        svc.stop()
        sims[0].stop()


def _user(admin: httpx.Client, name: str, role: str) -> dict[str, str]:
    made = admin.post("/api/v1/users", json={"name": name, "role": role, "password": PASSWORD})
    assert made.status_code == 201, made.text
    return {"X-Api-Key": made.json()["api_key"]}


def test_submitted_job_waits_for_an_operator_then_prints(lab) -> None:
    admin, gcode = lab
    sam, olga, vic = _user(admin, "sam", "submitter"), _user(admin, "olga", "operator"), _user(admin, "vic", "viewer")
    job = admin.post("/api/v1/jobs", headers=sam, files={"file": ("part.gcode", gcode.read_bytes())}).json()
    assert job["state"] == "awaiting_approval"
    time.sleep(2.0)       # several fleet rounds: time for the printer to (wrongly) take it
    assert admin.get(f"/api/v1/jobs/{job['id']}").json()["state"] == "awaiting_approval"
    assert [p["state"] for p in admin.get("/api/v1/printers").json()] == ["idle"]
    assert any(e["kind"] == "awaiting_approval" for e in admin.get(f"/api/v1/jobs/{job['id']}/events").json())
    for who in (sam, vic):
        assert admin.post(f"/api/v1/jobs/{job['id']}/approve", headers=who).status_code == 403
    approved = admin.post(f"/api/v1/jobs/{job['id']}/approve", headers=olga)
    assert approved.status_code == 200 and approved.json()["state"] in ("queued", "printing")
    wait_for(lambda: admin.get(f"/api/v1/jobs/{job['id']}").json()["runs"][0]["state"] == "printing", 30,
             "the approved copy to print")
    again = admin.post(f"/api/v1/jobs/{job['id']}/approve", headers=olga)
    assert again.status_code == 409 and "not awaiting_approval" in again.json()["message"]
    events = admin.get(f"/api/v1/jobs/{job['id']}/events").json()
    assert any(e["kind"] == "approved" and "olga" in e["message"] for e in events)
    admin.post(f"/api/v1/jobs/{job['id']}/cancel")


def test_rejected_job_ends_with_the_reason_and_never_prints(lab) -> None:
    admin, gcode = lab
    sam, olga = _user(admin, "sam", "submitter"), _user(admin, "olga", "operator")
    job = admin.post("/api/v1/jobs", headers=sam, files={"file": ("part.gcode", gcode.read_bytes())}).json()
    assert admin.post(f"/api/v1/jobs/{job['id']}/reject", headers=olga, json={}).status_code == 422
    r = admin.post(f"/api/v1/jobs/{job['id']}/reject", headers=olga, json={"reason": "brim far too wide"})
    assert r.status_code == 200
    seen = admin.get(f"/api/v1/jobs/{job['id']}", headers=sam).json()
    assert seen["state"] == "rejected" and seen["message"] == "brim far too wide"
    assert [run["state"] for run in seen["runs"]] == ["cancelled"]
    assert admin.post(f"/api/v1/jobs/{job['id']}/cancel", headers=sam).status_code == 409
    by_admin = admin.post("/api/v1/jobs", files={"file": ("admin.gcode", gcode.read_bytes())}).json()
    assert by_admin["state"] == "queued", "only a submitter's jobs wait for approval"
    admin.post(f"/api/v1/jobs/{by_admin['id']}/cancel")
