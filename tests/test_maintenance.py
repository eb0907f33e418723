"""A printer taken out of rotation by an operator (with a reason) gets no copy from the queue until it is put back;
both moves are in the audit trail with who made them."""
from __future__ import annotations

import time
from pathlib import Path

from tests.sim_rig import cube_gcode, served_lab, wait_for

KEY = "rotation-key"


def test_queue_skips_a_printer_out_of_rotation_until_it_is_back(tmp_path: Path) -> None:
    gcode = cube_gcode(tmp_path)
    with served_lab(tmp_path, KEY) as (api, _svc, _sim, _server):
        olga = {"X-Api-Key": api.post("/api/v1/users", json={"name": "olga", "role": "operator",
                                                              "password": "a long password"}).json()["api_key"]}
        out = api.post("/api/v1/printers/mk3-a/out-of-rotation", headers=olga, json={"reason": "nozzle swap"})
        assert out.status_code == 200 and out.json()["by"] == "olga"
        assert api.post("/api/v1/printers/mk3-a/out-of-rotation", headers=olga,
                        json={"reason": "again"}).status_code == 409
        job = api.post("/api/v1/jobs", files={"file": ("part.gcode", gcode.read_bytes())}).json()
        time.sleep(2.0)     # several fleet rounds: time for the printer to (wrongly) take the copy
        assert api.get(f"/api/v1/jobs/{job['id']}").json()["runs"][0]["state"] == "queued"
        assert [o["reason"] for o in api.get("/api/v1/maintenance/out-of-rotation").json()] == ["nozzle swap"]
        assert api.post("/api/v1/printers/mk3-a/back-in-rotation", headers=olga).status_code == 200
        wait_for(lambda: api.get(f"/api/v1/jobs/{job['id']}").json()["runs"][0]["state"] == "printing", 30,
                 "the copy to start once the printer is back")
        assert api.get("/api/v1/maintenance/out-of-rotation").json() == []
        kinds = [e["kind"] for e in api.get("/api/v1/events", params={"actor": "olga"}).json()]
        assert kinds == ["out_of_rotation", "back_in_rotation"]
        api.post(f"/api/v1/jobs/{job['id']}/cancel")
