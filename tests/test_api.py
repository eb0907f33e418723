"""The HTTP API: keys, uploads (limits, names, content), JSON errors, jobs and the queue, over Starlette's client."""
from __future__ import annotations

import struct
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from controller.api.app import create_app
from controller.config import parse_config
from controller.farm.service import LabService
from tests.conftest import GCODE_SAMPLES, MODELS

KEY = "test-key-123"
H = {"X-Api-Key": KEY}


@pytest.fixture()
def svc(tmp_path: Path) -> LabService:
    cfg = parse_config({"data_dir": str(tmp_path / "data"), "api_keys": [KEY], "max_upload_mb": 1.0,
                        "printers": [{"name": "mk3-a", "port": "/dev/null-a"}, {"name": "mk3-b", "port": "/dev/nb"}]})
    service = LabService(cfg)
    yield service
    service.stop()


@pytest.fixture()
def client(svc: LabService) -> TestClient:
    with TestClient(create_app(svc, run_fleet=False)) as c:
        yield c


def test_health_needs_no_key_but_everything_else_does(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok", "printers": 2}
    for path in ("/api/v1/printers", "/api/v1/jobs", "/api/v1/queue", "/api/version", "/api/job"):
        r = client.get(path)
        assert r.status_code == 401, path
        assert "X-Api-Key" in r.json()["message"]
    assert client.get("/api/v1/printers", headers={"X-Api-Key": "wrong"}).status_code == 401
    assert client.get("/api/v1/printers", headers=H).status_code == 200
    assert client.get(f"/api/v1/printers?api_key={KEY}").status_code == 200


def test_printers_from_config_and_added_and_removed_through_api(client: TestClient) -> None:
    names = [p["name"] for p in client.get("/api/v1/printers", headers=H).json()]
    assert names == ["mk3-a", "mk3-b"]
    r = client.post("/api/v1/printers", headers=H, json={"name": "mini-c", "port": "socket://127.0.0.1:5555",
                                                          "baud": 250000, "on_failure": "cancel"})
    assert r.status_code == 201 and r.json()["baud"] == 250000 and r.json()["state"] == "offline"
    dup = client.post("/api/v1/printers", headers=H, json={"name": "mini-c", "port": "/dev/x"})
    assert dup.status_code == 409 and "already exists" in dup.json()["message"]
    bad = client.post("/api/v1/printers", headers=H, json={"name": "../etc", "port": "/dev/x"})
    assert bad.status_code == 422 and "name" in bad.json()["message"]
    assert client.delete("/api/v1/printers/mini-c", headers=H).status_code == 200
    assert client.get("/api/v1/printers/mini-c", headers=H).status_code == 404


def test_gcode_upload_queues_copies_with_layers_counted(client: TestClient) -> None:
    data = (GCODE_SAMPLES / "cube.prusa.gcode").read_bytes()
    r = client.post("/api/v1/jobs", headers=H, files={"file": ("cube.prusa.gcode", data)},
                    data={"copies": "3", "priority": "2"})
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["state"] == "queued" and job["layer_count"] == 100 and job["copies"] == 3
    assert [run["state"] for run in job["runs"]] == ["queued"] * 3
    queue = client.get("/api/v1/queue", headers=H).json()
    assert [q["copy_index"] for q in queue] == [0, 1, 2]
    assert client.get(f"/api/v1/jobs/{job['id']}", headers=H).json()["name"] == "cube.prusa.gcode"
    events = client.get(f"/api/v1/jobs/{job['id']}/events", headers=H).json()
    assert events[0]["kind"] == "queued"


def test_cancel_of_queued_job_then_cancel_again_is_a_conflict(client: TestClient) -> None:
    data = (GCODE_SAMPLES / "cube.cura.gcode").read_bytes()
    job = client.post("/api/v1/jobs", headers=H, files={"file": ("cube.gcode", data)}).json()
    assert client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=H).status_code == 200
    assert client.get(f"/api/v1/jobs/{job['id']}", headers=H).json()["state"] == "cancelled"
    again = client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=H)
    assert again.status_code == 409 and "already cancelled" in again.json()["message"]
    assert client.post(f"/api/v1/jobs/{job['id']}/pause", headers=H).status_code == 409


def test_upload_names_are_sanitised_against_path_traversal(client: TestClient, svc: LabService) -> None:
    data = (GCODE_SAMPLES / "cube.cura.gcode").read_bytes()
    r = client.post("/api/v1/jobs", headers=H, files={"file": ("../../../etc/evil name.gcode", data)})
    assert r.status_code == 201
    assert r.json()["name"] == "evil_name.gcode"
    stored = list(svc.upload_dir.iterdir())
    assert len(stored) == 1 and stored[0].name.endswith("_evil_name.gcode")
    assert stored[0].resolve().parent == svc.upload_dir.resolve()


@pytest.mark.parametrize(("name", "content", "needle"), [
    ("part.gcode", b"\x00\x01\x02 binary junk", "binary"),
    ("part.gcode", b"hello world\nthis is a letter\n", "no G or M commands"),
    ("part.stl", b"solid x\nendsolid\n" + b"x" * 100, "not a valid STL"),
    ("part.obj", b"# just a comment\n", "not a valid OBJ"),
    ("part.3mf", b"PK not really a zip", "not a valid 3MF"),
    ("part.exe", b"MZ", "unsupported file type"),
    ("..", b"G1 X1\n", "not usable"),
    ("part.gcode", b"", "empty"),
])
def test_bad_uploads_are_refused_with_a_clear_400(client: TestClient, svc: LabService, name: str, content: bytes,
                                                  needle: str) -> None:
    r = client.post("/api/v1/jobs", headers=H, files={"file": (name, content)})
    assert r.status_code == 400, r.text
    assert needle in r.json()["message"]
    assert not svc.upload_dir.exists() or not any(svc.upload_dir.iterdir()), "refused uploads are not kept"


def test_upload_over_the_limit_is_413(client: TestClient) -> None:
    big = b"G1 X1 Y1\n" * 130_000  # 1.17 MB against a 1 MB limit
    r = client.post("/api/v1/jobs", headers=H, files={"file": ("big.gcode", big)})
    assert r.status_code == 413 and "limit" in r.json()["message"]


def test_binary_stl_is_accepted_and_sliced_in_the_background(client: TestClient, svc: LabService) -> None:
    data = (MODELS / "20mm-xyz-cube.stl").read_bytes()
    (n,) = struct.unpack("<I", data[80:84])
    assert 84 + 50 * n == len(data)
    r = client.post("/api/v1/jobs", headers=H, files={"file": ("cube.stl", data)}, data={"copies": "2"})
    assert r.status_code == 201 and r.json()["state"] == "slicing"
    job_id = r.json()["id"]
    svc.intake.wait(job_id, timeout=120)
    job = client.get(f"/api/v1/jobs/{job_id}", headers=H).json()
    assert job["state"] == "queued", job["message"]
    assert job["slice_progress"] == 1.0 and job["layer_count"] > 50 and len(job["runs"]) == 2
    events = client.get(f"/api/v1/jobs/{job_id}/events", headers=H).json()
    assert [e["kind"] for e in events] == ["slicing", "sliced"]
    gcode = Path(svc.data_dir / "gcode" / f"job-{job_id}.gcode").read_text()
    assert gcode.count(";LAYER:") == job["layer_count"] or gcode.count(";LAYER_CHANGE") == job["layer_count"]


def test_mesh_that_cannot_be_sliced_fails_the_job_with_the_slicer_message(client: TestClient,
                                                                          svc: LabService) -> None:
    flat = b"\0" * 80 + struct.pack("<I", 1) + struct.pack("<12fH", 0, 0, 1, 0, 0, 0, 10, 0, 0, 0, 10, 0, 0)
    r = client.post("/api/v1/jobs", headers=H, files={"file": ("flat.stl", flat)})
    assert r.status_code == 201
    svc.intake.wait(r.json()["id"], timeout=60)
    job = client.get(f"/api/v1/jobs/{r.json()['id']}", headers=H).json()
    assert job["state"] == "failed" and job["runs"] == []
    assert job["message"].startswith("slicing failed:") and "flat" in job["message"]


def test_unknown_ids_and_bad_parameters_are_json_4xx(client: TestClient) -> None:
    r = client.get("/api/v1/jobs/999", headers=H)
    assert r.status_code == 404 and r.json()["message"] == "no job with id 999"
    r = client.get("/api/v1/jobs/abc", headers=H)
    assert r.status_code == 422 and "job_id" in r.json()["message"]
    r = client.post("/api/v1/jobs", headers=H, files={"file": ("a.gcode", b"G1 X1\n")}, data={"copies": "0"})
    assert r.status_code == 422 and "copies" in r.json()["message"]
    assert client.get("/api/v1/layer-checks/5/image", headers=H).status_code == 404
    assert client.post("/api/v1/printers/nope/clear-bed", headers=H).status_code == 404


def test_openapi_and_docs_are_served(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    assert "/api/v1/jobs" in doc["paths"] and "/api/files/local" in doc["paths"]
    assert client.get("/docs").status_code == 200
