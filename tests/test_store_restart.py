"""`printloop serve` killed with SIGKILL mid-print: on restart the copy shows as interrupted at its last confirmed
layer, finished copies and layer checks are all there, the interrupted run never resumes and one new run of the
copy is queued."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from controller.api.live import free_port
from tests.conftest import REPO
from tests.sim_rig import cube_gcode, start_sims, wait_for

KEY = "restart-key"


def _serve(config: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as fh:
        return subprocess.Popen([sys.executable, "-m", "controller", "serve", "--config", str(config), "--port",
                                 str(port)], cwd=REPO, stdout=fh, stderr=subprocess.STDOUT)


def test_killed_service_restarts_with_interrupted_run_never_restarted(tmp_path: Path) -> None:
    gcode = cube_gcode(tmp_path)
    sims = start_sims(["", ""], tmp_path, speed="20")
    port = free_port()
    config = tmp_path / "lab.toml"
    config.write_text(f'data_dir = "data"\napi_keys = ["{KEY}"]\n' + "".join(
        f'[[printers]]\nname = "p{i}"\nport = "{s.serial}"\ncamera = "{s.camera}"\n' for i, s in enumerate(sims)))
    base = f"http://127.0.0.1:{port}"
    client = httpx.Client(base_url=base, headers={"X-Api-Key": KEY}, timeout=10)
    proc = _serve(config, port, tmp_path / "serve.log")
    try:
        wait_for(lambda: _up(client), 30, "the service to answer")
        first = client.post("/api/v1/jobs", files={"file": ("block.gcode", gcode.read_bytes())}).json()
        wait_for(lambda: client.get(f"/api/v1/jobs/{first['id']}").json()["runs"][0]["layer"] >= 3, 90,
                 "layer 3 of the copy confirmed")
        seen = client.get(f"/api/v1/jobs/{first['id']}").json()["runs"][0]
        checks_before = client.get(f"/api/v1/jobs/{first['id']}/layer-checks").json()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)

        proc = _serve(config, port, tmp_path / "serve.log")
        wait_for(lambda: _up(client), 30, "the restarted service to answer")
        time.sleep(2.0)  # several fleet rounds: time to (wrongly) restart something
        job = client.get(f"/api/v1/jobs/{first['id']}").json()
        runs = job["runs"]
        run = runs[0]
        assert run["id"] == seen["id"] and run["state"] == "interrupted", "an interrupted run never resumes"
        assert run["layer"] >= seen["layer"]
        assert [(r["copy_index"], r["state"] in ("queued", "printing")) for r in runs[1:]] == [
            (run["copy_index"], True)], "one new run remakes the interrupted copy"
        assert f"last confirmed layer {run['layer']}" in run["message"]
        after = client.get(f"/api/v1/jobs/{first['id']}/layer-checks").json()
        assert len(after) >= len(checks_before), "no committed layer check may be lost"
        printer = next(p for p in client.get("/api/v1/printers").json() if p["name"] == run["printer"])
        assert printer["state"] == "needs_attention" and printer["current_run"] is None
    finally:
        proc.kill()
        proc.wait(10)
        for s in sims:
            s.stop()


def _up(client: httpx.Client) -> bool:
    try:
        return client.get("/health").status_code == 200
    except httpx.HTTPError:
        return False
