"""The OctoPrint subset answers PrusaSlicer's and Cura's "send to printer" requests byte for byte as they send them."""
from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from controller.api.app import create_app
from controller.config import parse_config
from controller.farm.service import LabService
from tests.conftest import GCODE_SAMPLES

KEY = "0123456789ABCDEF0123456789ABCDEF"
BOUNDARY = "------------------------a5e0c1e6b3d1f2a4"


@pytest.fixture()
def client(tmp_path: Path) -> TestClient:
    cfg = parse_config({"data_dir": str(tmp_path / "data"), "api_keys": [KEY],
                        "printers": [{"name": "mk3-a", "port": "/dev/null-a"}]})
    svc = LabService(cfg)
    with TestClient(create_app(svc, run_fleet=False), base_url="http://octopi.local") as c:
        yield c
    svc.stop()


def prusaslicer_upload(gcode: bytes, filename: str, start: bool, folder: str = "") -> tuple[bytes, dict[str, str]]:
    """The body and headers libcurl builds for PrusaSlicer's OctoPrint::upload: print, path, then file."""
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="print"\r\n\r\n{"true" if start else "false"}\r\n',
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="path"\r\n\r\n{folder}\r\n',
        (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
         "Content-Type: application/octet-stream\r\n\r\n"),
    ]
    body = "".join(parts).encode() + gcode + f"\r\n--{BOUNDARY}--\r\n".encode()
    headers = {"X-Api-Key": KEY, "User-Agent": "PrusaSlicer/2.7.1", "Accept": "*/*",
               "Content-Type": f"multipart/form-data; boundary={BOUNDARY}", "Content-Length": str(len(body))}
    return body, headers


def test_version_is_what_prusaslicer_checks_for(client: TestClient) -> None:
    r = client.get("/api/version", headers={"X-Api-Key": KEY, "User-Agent": "PrusaSlicer/2.7.1"})
    body = r.json()
    assert r.status_code == 200 and body["text"].startswith("OctoPrint") and body["api"] and body["server"]


def test_prusaslicer_upload_and_print_queues_one_copy(client: TestClient) -> None:
    gcode = (GCODE_SAMPLES / "cube.prusa.gcode").read_bytes()
    body, headers = prusaslicer_upload(gcode, "cube_0.2mm_PLA_MK3S_1h2m.gcode", start=True)
    r = client.post("/api/files/local", content=body, headers=headers)
    assert r.status_code == 201, r.text
    assert r.headers["Location"] == "http://octopi.local/api/files/local/cube_0.2mm_PLA_MK3S_1h2m.gcode"
    assert r.json()["done"] is True and r.json()["files"]["local"]["name"] == "cube_0.2mm_PLA_MK3S_1h2m.gcode"
    jobs = client.get("/api/v1/jobs", headers={"X-Api-Key": KEY}).json()
    assert len(jobs) == 1 and jobs[0]["copies"] == 1 and jobs[0]["state"] == "queued"
    info = client.get(r.headers["Location"], headers={"X-Api-Key": KEY}).json()
    assert info["size"] == len(gcode) and info["type"] == "machinecode"


def test_prusaslicer_upload_only_does_not_queue(client: TestClient) -> None:
    body, headers = prusaslicer_upload(b"G28\nG1 X10 Y10 F3000\n", "part.gcode", start=False, folder="lab/jobs")
    r = client.post("/api/files/local", content=body, headers=headers)
    assert r.status_code == 201
    assert client.get("/api/v1/jobs", headers={"X-Api-Key": KEY}).json() == []


def test_prusaslicer_without_key_is_refused(client: TestClient) -> None:
    body, headers = prusaslicer_upload(b"G28\n", "part.gcode", start=True)
    headers["X-Api-Key"] = "not-the-key"
    assert client.post("/api/files/local", content=body, headers=headers).status_code == 401


def test_cura_select_then_job_start(client: TestClient) -> None:
    h = {"X-Api-Key": KEY, "User-Agent": "Cura/5.6.0"}
    gcode = (GCODE_SAMPLES / "cube.cura.gcode").read_bytes()
    r = client.post("/api/files/local", headers=h, files={"file": ("cube.gcode", gcode)},
                    data={"select": "true", "print": "false"})
    assert r.status_code == 201
    assert client.get("/api/v1/jobs", headers=h).json() == []
    assert client.post("/api/job", headers=h, json={"command": "start"}).status_code == 204
    jobs = client.get("/api/v1/jobs", headers=h).json()
    assert len(jobs) == 1 and jobs[0]["name"] == "cube.gcode"


def test_job_commands_without_a_print_are_409_and_bad_commands_422(client: TestClient) -> None:
    h = {"X-Api-Key": KEY}
    assert client.post("/api/job", headers=h, json={"command": "start"}).status_code == 409
    r = client.post("/api/job", headers=h, json={"command": "cancel"})
    assert r.status_code == 409 and "not printing" in r.json()["message"]
    assert client.post("/api/job", headers=h, json={"command": "pause", "action": "pause"}).status_code == 409
    assert client.post("/api/job", headers=h, json={"command": "explode"}).status_code == 422


def test_job_printer_and_connection_shapes(client: TestClient) -> None:
    h = {"X-Api-Key": KEY}
    job = client.get("/api/job", headers=h).json()
    assert set(job) >= {"job", "progress", "state"} and job["job"]["file"]["name"] is None
    r = client.get("/api/printer", headers=h)
    assert r.status_code == 409 and "not operational" in r.json()["message"]
    conn = client.get("/api/connection", headers=h).json()
    assert conn["current"]["state"] == "Closed" and conn["options"]["ports"] == ["/dev/null-a"]
