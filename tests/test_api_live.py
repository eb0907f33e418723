"""Live updates over a real socket: the server-sent event stream sends a snapshot, then each new event as it happens."""
from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx

from controller.api.app import create_app
from controller.api.live import LiveServer
from controller.config import parse_config
from controller.farm.service import LabService
from tests.conftest import GCODE_SAMPLES

KEY = "live-key"


def test_stream_sends_snapshot_then_new_events(tmp_path: Path) -> None:
    svc = LabService(parse_config({"data_dir": str(tmp_path), "api_keys": [KEY],
                                   "printers": [{"name": "mk3-a", "port": "/dev/null-nothing"}]}))
    server = LiveServer(create_app(svc, run_fleet=False)).start()
    frames: list[tuple[str, dict]] = []
    got_event = threading.Event()
    try:
        assert httpx.get(f"{server.url}/api/v1/stream", timeout=5).status_code == 401

        def listen() -> None:
            with httpx.stream("GET", f"{server.url}/api/v1/stream?api_key={KEY}", timeout=20) as r:
                kind = ""
                for line in r.iter_lines():
                    if line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("data: "):
                        frames.append((kind, json.loads(line[6:])))
                        if kind == "event":
                            got_event.set()
                            return

        t = threading.Thread(target=listen, daemon=True)
        t.start()
        data = (GCODE_SAMPLES / "cube.cura.gcode").read_bytes()
        for _ in range(50):
            if frames:
                break
            got_event.wait(0.1)
        r = httpx.post(f"{server.url}/api/v1/jobs", headers={"X-Api-Key": KEY},
                       files={"file": ("cube.gcode", data)}, data={"copies": "2"})
        assert r.status_code == 201
        assert got_event.wait(15), f"no event frame arrived; frames: {frames}"
        kinds = [k for k, _ in frames]
        assert kinds[0] == "snapshot" and frames[0][1]["printers"][0]["name"] == "mk3-a"
        assert frames[-1][1]["kind"] == "queued" and frames[-1][1]["job_id"] == r.json()["id"]
        t.join(5)
    finally:
        server.stop()
        svc.stop()


def _event_frames(url: str, headers: dict[str, str], want: int) -> list[tuple[int, dict]]:
    """Read the stream until `want` event frames arrived: (SSE id, data) of each."""
    out: list[tuple[int, dict]] = []
    with httpx.stream("GET", url, headers=headers, timeout=20) as r:
        frame_id, kind = 0, ""
        for line in r.iter_lines():
            if line.startswith("id: "):
                frame_id = int(line[4:])
            elif line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: ") and kind == "event":
                out.append((frame_id, json.loads(line[6:])))
                if len(out) >= want:
                    return out
    return out


def test_stream_starts_with_recent_events_and_resumes_after_last_event_id(tmp_path: Path) -> None:
    from controller.store import history

    svc = LabService(parse_config({"data_dir": str(tmp_path), "api_keys": [KEY],
                                   "printers": [{"name": "mk3-a", "port": "/dev/null-nothing"}]}))
    server = LiveServer(create_app(svc, run_fleet=False)).start()
    try:
        before = history.last_event_id(svc.store)
        for i in range(3):
            history.add_event(svc.store, "note", f"earlier {i}", 1000.0 + i)
        url = f"{server.url}/api/v1/stream?api_key={KEY}"
        first = _event_frames(url, {}, before + 3)
        assert [d["message"] for _, d in first[-3:]] == ["earlier 0", "earlier 1", "earlier 2"]
        assert all(i == d["id"] for i, d in first)
        resume = first[-2][0]

        def later() -> None:
            history.add_event(svc.store, "note", "later", 2000.0)

        timer = threading.Timer(0.5, later)
        timer.start()
        again = _event_frames(url, {"Last-Event-ID": str(resume)}, 2)
        timer.join()
        assert [d["message"] for _, d in again] == ["earlier 2", "later"]
    finally:
        server.stop()
        svc.stop()


def test_events_are_pushed_from_the_bus_not_read_from_the_store_per_client(tmp_path: Path, monkeypatch) -> None:
    from controller.api.routes import stream
    from controller.store import history

    reads: list[int] = []
    real = history.list_events

    def counting(*args, **kwargs):
        reads.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(stream.history, "list_events", counting)
    svc = LabService(parse_config({"data_dir": str(tmp_path), "api_keys": [KEY],
                                   "printers": [{"name": "mk3-a", "port": "/dev/null-nothing"}]}))
    server = LiveServer(create_app(svc, run_fleet=False)).start()
    try:
        start = history.last_event_id(svc.store)

        def later() -> None:
            for i in range(5):
                history.add_event(svc.store, "note", f"pushed {i}", 3000.0 + i)
                threading.Event().wait(0.3)

        timer = threading.Timer(0.5, later)
        timer.start()
        got = _event_frames(f"{server.url}/api/v1/stream?api_key={KEY}", {"Last-Event-ID": str(start)}, 5)
        timer.join()
        assert [d["message"] for _, d in got] == [f"pushed {i}" for i in range(5)]
        assert len(reads) == 1  # the backlog, once; everything after came from the bus
    finally:
        server.stop()
        svc.stop()
