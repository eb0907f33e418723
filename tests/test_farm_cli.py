"""`printloop farm`: simulators, two hosts and a PostgreSQL cluster of its own make a batch on one machine; the
first line names the hosts and the database, the exit code says the batch was made, and nothing is left running."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import trimesh

from controller.commands.farm import FARM_ENV
from tests.conftest import REPO


def _left_running(marker: str) -> list[str]:
    """Processes whose environment carries the farm's marker."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if f"{FARM_ENV}={marker}".encode() in env:
            found.append(f"{pid}: {cmd}")
    return found


@pytest.mark.timeout(600)
def test_farm_makes_the_batch_over_two_hosts_on_its_own_postgresql_and_leaves_nothing_running(tmp_path: Path) -> None:
    mesh = tmp_path / "block.stl"
    trimesh.creation.box(extents=(12, 12, 1.2)).export(mesh)
    out = tmp_path / "farm"
    proc = subprocess.Popen([sys.executable, "-m", "controller", "farm", "--printers", "3", "--hosts", "2",
                             "--copies", "4", "--model", str(mesh), "--out", str(out)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    first = json.loads(proc.stdout.readline())
    assert [h["name"] for h in first["hosts"]] == ["farm-1", "farm-2"]
    assert first["database_url"].startswith("postgresql+psycopg://")
    h2 = first["hosts"][1]
    listed = httpx.get(f"{h2['url']}/api/v1/printers", headers={"X-Api-Key": h2["key"]}, timeout=10).json()
    assert {p["name"]: p["host"] for p in listed} == {"sim-01": "farm-1", "sim-02": "farm-2", "sim-03": "farm-1"}
    rest, err = proc.communicate(timeout=540)
    assert proc.returncode == 0, err[-2000:]
    summary = json.loads(rest.strip().splitlines()[-1])
    assert summary["state"] == "done" and summary["counts"].get("completed", 0) >= 4
    assert _left_running(str(out.resolve())) == []


def test_ctrl_c_stops_every_process_the_farm_started(tmp_path: Path) -> None:
    import signal
    import time

    out = tmp_path / "farm"
    proc = subprocess.Popen([sys.executable, "-m", "controller", "farm", "--printers", "2", "--hosts", "2",
                             "--copies", "4", "--out", str(out)], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    assert proc.stdout is not None
    assert "database_url" in json.loads(proc.stdout.readline())
    assert _left_running(str(out.resolve())), "the farm's processes carry its marker"
    time.sleep(2)
    os.killpg(proc.pid, signal.SIGINT)   # Ctrl-C in a terminal reaches the whole foreground group
    assert proc.wait(120) == 130
    deadline = time.monotonic() + 10
    while _left_running(str(out.resolve())) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _left_running(str(out.resolve())) == []
