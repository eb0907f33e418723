"""Two `printloop serve` hosts on one PostgreSQL database, each driving its own simulated printer: each API shows
the whole farm, a pause sent to one host reaches the other's printer within a second, and a host silent past
host_timeout_s has its copy taken over (no earlier, no more than 10 s later), remade by the other host, and
stopped on its own printer when it comes back."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from controller.commands.farm import serve_host, wait_up
from tests.farm_rig import remote_pause_s
from tests.sim_rig import small_part_gcode, start_sims, take_part_off, wait_for

KEY = "farm-key"
TIMEOUT_S = 4.0


def _serve(folder: Path, host: str, printer: str, sim, db_url: str) -> tuple[subprocess.Popen[bytes], httpx.Client]:
    """One host with one printer, on a port of its own."""
    proc, url = serve_host(folder, host, KEY, db_url, [{"name": printer, "port": sim.serial, "camera": sim.camera,
                                                       "on_failure": "pause"}],
                           TIMEOUT_S)
    wait_up(url, proc, 60)
    return proc, httpx.Client(base_url=url, headers={"X-Api-Key": KEY}, timeout=10)


def _printer(client: httpx.Client, name: str) -> dict:
    return next(p for p in client.get("/api/v1/printers").json() if p["name"] == name)


@pytest.mark.timeout(600)
def test_two_hosts_share_the_queue_and_a_silent_host_is_taken_over(tmp_path: Path, pg_url: str) -> None:
    gcode = small_part_gcode(tmp_path, height_mm=4.0)
    sims = start_sims(["", ""], tmp_path, speed="20")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        a_proc, a = _serve(tmp_path, "bench-a", "pa", sims[0], pg_url)
        b_proc, b = _serve(tmp_path, "bench-b", "pb", sims[1], pg_url)
        procs += [a_proc, b_proc]
        job = a.post("/api/v1/jobs", files={"file": ("block.gcode", gcode.read_bytes())},
                     data={"copies": "2"}).json()

        def runs() -> list[dict]:
            return a.get(f"/api/v1/jobs/{job['id']}").json()["runs"]
        wait_for(lambda: sorted(r["printer"] or "" for r in runs() if r["state"] == "printing") == ["pa", "pb"],
                 60, "one copy printing on each host")

        # each host's API shows the whole farm, and the hosts
        def shown(client: httpx.Client) -> dict:
            return {p["name"]: (p["host"], (p["current_run"] or {}).get("state"))
                    for p in client.get("/api/v1/printers").json()}
        for client in (a, b):   # the list is cached for a quarter of a second
            wait_for(lambda c=client: shown(c) == {"pa": ("bench-a", "printing"), "pb": ("bench-b", "printing")},
                     5, "the whole farm in the printers list")
            farm = {h["name"]: h["alive"] for h in client.get("/api/v1/hosts").json()}
            assert farm == {"bench-a": True, "bench-b": True}

        # a pause sent to host A for host B's printer (laying down layers, heated): B applies it within a second
        wait_for(lambda: (_printer(b, "pb")["current_run"] or {}).get("layer", -1) >= 1, 120, "pb past layer 1")
        r = a.post("/api/v1/printers/pb/pause")
        assert r.status_code == 200 and "sent to host bench-b" in r.json()["message"], r.text
        wait_for(lambda: _printer(b, "pb")["state"] == "paused", 10, "pb paused", every=0.05)
        applied, parked = remote_pause_s(b, "pb", "bench-b")
        assert applied < 1.0, f"pause applied after {applied:.2f} s"
        assert parked < 3.0, f"paused (parked) after {parked:.2f} s"
        assert a.post("/api/v1/printers/pb/resume").status_code == 200
        wait_for(lambda: _printer(b, "pb")["state"] == "printing", 5, "pb printing again", every=0.05)

        # host B falls silent (stopped, not dead: it may come back)
        b_run = next(r for r in runs() if r["printer"] == "pb")
        os.kill(b_proc.pid, signal.SIGSTOP)
        stopped = time.time()
        wait_for(lambda: next(r for r in runs() if r["id"] == b_run["id"])["state"] == "interrupted",
                 TIMEOUT_S + 20, "host B's copy taken over", every=0.1)
        taken = time.time()
        last_beat = next(h for h in a.get("/api/v1/hosts").json() if h["name"] == "bench-b")["last_heartbeat"]
        assert TIMEOUT_S <= taken - last_beat <= TIMEOUT_S + 10, (taken - last_beat, taken - stopped)
        interrupted = next(r for r in runs() if r["id"] == b_run["id"])
        assert "host bench-b fell silent" in interrupted["message"] and "last confirmed layer" in interrupted["message"]
        assert not next(h for h in a.get("/api/v1/hosts").json() if h["name"] == "bench-b")["alive"]

        # host B comes back: it finds its copy taken over, stops it on its printer and says so
        os.kill(b_proc.pid, signal.SIGCONT)
        wait_for(lambda: _printer(b, "pb")["current_run"] is None, 20, "host B to stop its taken-over copy")
        events = b.get(f"/api/v1/jobs/{job['id']}/events").json()
        assert any(e["kind"] == "taken_over" for e in events), [e["kind"] for e in events]
        assert _printer(b, "pb")["state"] == "needs_attention"

        # host A makes its own copy, then (bed cleared) the replacement: the batch is complete, nothing twice
        wait_for(lambda: _printer(a, "pa")["state"] == "awaiting_clear", 240, "host A's first copy")
        take_part_off(sims[0])
        assert a.post("/api/v1/printers/pa/clear-bed").status_code == 200
        wait_for(lambda: a.get(f"/api/v1/jobs/{job['id']}").json()["state"] in ("done", "failed"), 200,
                 "the replacement copy")
        final = a.get(f"/api/v1/jobs/{job['id']}").json()
        assert final["state"] == "done" and final["counts"] == {"completed": 2, "interrupted": 1}
        assert [r["printer"] for r in final["runs"] if r["state"] == "completed"] == ["pa", "pa"]
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
                proc.kill()
                proc.wait(10)
        for s in sims:
            s.stop()
