"""The audit trail against a simulated printer: each event names who or what caused it (the submitter, an operator,
a config key by name, the queue, the printer), `GET /api/v1/events?actor=` matches exactly, and no secret shows."""
from __future__ import annotations

from pathlib import Path

import httpx

from tests.sim_rig import cube_gcode, served_lab, wait_for

KEY = "audit-config-key"
PASSWORD = "a long password"


def _user(api: httpx.Client, name: str, role: str) -> dict[str, str]:
    made = api.post("/api/v1/users", json={"name": name, "role": role, "password": PASSWORD})
    assert made.status_code == 201, made.text
    return {"X-Api-Key": made.json()["api_key"]}


def _state(api: httpx.Client, job_id: int) -> str:
    return str(api.get(f"/api/v1/jobs/{job_id}").json()["runs"][0]["state"])


def test_every_event_names_its_actor_and_the_filter_matches_exactly(tmp_path: Path) -> None:
    gcode = cube_gcode(tmp_path)
    with served_lab(tmp_path, KEY) as (api, _svc, _sim, _server):
        sam, olga = _user(api, "sam", "submitter"), _user(api, "olga", "operator")
        job = api.post("/api/v1/jobs", headers=sam, files={"file": ("part.gcode", gcode.read_bytes())}).json()
        wait_for(lambda: _state(api, job["id"]) == "printing", 30, "the copy to start")
        assert api.post(f"/api/v1/jobs/{job['id']}/pause", headers=olga).status_code == 200
        wait_for(lambda: _state(api, job["id"]) == "paused", 30, "the copy to pause")
        assert api.post(f"/api/v1/jobs/{job['id']}/resume", headers=olga).status_code == 200
        assert api.post(f"/api/v1/jobs/{job['id']}/cancel").status_code == 200
        wait_for(lambda: api.get("/api/v1/printers").json()[0]["state"] == "awaiting_clear", 30, "the stop")
        assert api.post("/api/v1/printers/mk3-a/clear-bed", headers=olga).status_code == 200

        events = api.get("/api/v1/events").json()
        by_kind = {e["kind"]: e["actor"] for e in events if e["job_id"] == job["id"]}
        assert by_kind["queued"] == "sam"
        assert by_kind["started"] == "service:queue"
        assert by_kind["pause"] == by_kind["resume"] == by_kind["bed_cleared"] == "olga"
        assert by_kind["cancel"] == "key:config-1"
        assert any(e["actor"] == "printer:mk3-a" and e["job_id"] is None for e in events)
        assert all(e["actor"] for e in events)

        olgas = api.get("/api/v1/events", params={"actor": "olga"}).json()
        assert {e["kind"] for e in olgas} == {"pause", "resume", "bed_cleared"}
        assert api.get("/api/v1/events", params={"actor": "olg"}).json() == []
        assert [e["kind"] for e in api.get("/api/v1/events", params={"actor": "sam"}, headers=sam).json()] \
            == ["queued"]
        text = api.get("/api/v1/events").text
        for secret in (KEY, PASSWORD, sam["X-Api-Key"], olga["X-Api-Key"]):
            assert secret not in text
