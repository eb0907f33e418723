"""Secrets and keys never appear in logs or events: with a config key, a user's password and key, a webhook
secret, an Apprise URL holding a password and an MQTT password, a session of sign-ins (one with a wrong
password), uploads, a cancel, a service log, users listed and notices sent to receivers that accept and refuse
leaves none of them in the service's log output (every logger at DEBUG), the history's events, the notification
attempts, the API's answers after the one that shows a new key, or the database file."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from controller.api.app import create_app
from controller.api.live import free_port
from controller.config import parse_config
from controller.farm.service import LabService
from controller.publish.notify import Notifier
from tests.conftest import GCODE_SAMPLES
from tests.sim_rig import wait_for
from tests.test_notify import Receiver

KEY = "config-key-Zq81vX"
PASSWORD = "sam-password-Hy72pL"
WRONG = "wrong-password-Kd55rT"
HOOK_SECRET = "hook-secret-Wm39tB"
URL_PASSWORD = "apprise-pass-Nc64sJ"
MQTT_PASSWORD = "mqtt-pass-Ge17uF"


def test_no_secret_or_key_reaches_logs_events_attempts_or_the_database(tmp_path: Path,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    hook, refused = Receiver(), free_port()
    cfg = parse_config({
        "data_dir": str(tmp_path / "data"), "api_keys": [KEY],
        "printers": [{"name": "mk3-a", "port": "/dev/null-a", "maintenance": [{"task": "nozzle",
                                                                                 "every_hours": 100}]}],
        "notify": [{"url": f"json://bot:{URL_PASSWORD}@127.0.0.1:{hook.port}/apprise", "events": ["*"]},
                   {"url": f"json://bot:{URL_PASSWORD}@127.0.0.1:{refused}/apprise", "events": ["*"]}],
        "webhooks": [{"url": f"http://127.0.0.1:{hook.port}/hook", "secret": HOOK_SECRET, "events": ["*"]},
                     {"url": f"http://127.0.0.1:{refused}/hook", "secret": HOOK_SECRET, "events": ["*"]}],
        "mqtt": {"broker": f"mqtt://127.0.0.1:{free_port()}", "username": "lab", "password": MQTT_PASSWORD}})
    svc = LabService(cfg)
    svc.add_publisher("notify", Notifier(cfg, svc.bus, svc.store, svc.clock, backoff_s=(0.05, 0.1)))
    admin = {"X-Api-Key": KEY}
    shown: list[str] = []
    try:
        with TestClient(create_app(svc, run_fleet=False)) as client:
            for publisher in svc.publishers.values():
                publisher.start()
            made = client.post("/api/v1/users", headers=admin, json={"name": "sam", "role": "operator",
                                                                     "password": PASSWORD}).json()
            user_key = made["api_key"]
            sam = {"X-Api-Key": user_key}
            assert client.post("/api/v1/login", json={"name": "sam", "password": WRONG}).status_code == 401
            csrf = client.post("/api/v1/login", json={"name": "sam", "password": PASSWORD}).json()["csrf_token"]
            data = (GCODE_SAMPLES / "cube.prusa.gcode").read_bytes()
            job = client.post("/api/v1/jobs", headers={"X-CSRF-Token": csrf},
                              files={"file": ("cube.gcode", data)}).json()
            client.post("/api/v1/logout")
            client.post("/api/files/local", headers=sam, files={"file": ("cube.gcode", data)})
            client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=sam)
            client.post("/api/v1/printers/mk3-a/maintenance/log", headers=sam, json={"task": "nozzle"})
            client.post("/api/v1/notifications/test", headers=admin)
            wait_for(lambda: len(hook.got) >= 2, 20, "the accepting receiver to get the test notice")
            wait_for(lambda: sum(1 for a in client.get("/api/v1/notifications", headers=admin).json()
                                 if not a["ok"]) >= 4, 20, "the refused deliveries to be retried")
            for path in ("/api/v1/events?limit=5000", "/api/v1/notifications", "/api/v1/users", "/api/v1/me",
                         "/api/v1/printers", "/api/v1/snapshot", "/api/v1/jobs", "/api/v1/maintenance"):
                r = client.get(path, headers=admin)
                assert r.status_code == 200, path
                shown.append(r.text)
            events = client.get("/api/v1/events?limit=5000", headers=admin).json()
            assert {"queued", "cancel", "maintenance_done"} <= {e["kind"] for e in events}
    finally:
        svc.stop()
        hook.close()
    database = b"".join(p.read_bytes() for p in (tmp_path / "data").glob("printloop.db*"))
    logs = caplog.text + "\n".join(json.dumps(r.args, default=str) for r in caplog.records if r.args)
    assert "127.0.0.1" in logs, "the log capture saw the notifier at work"
    for secret in (KEY, PASSWORD, WRONG, HOOK_SECRET, URL_PASSWORD, MQTT_PASSWORD, user_key):
        assert secret not in logs, f"{secret} in the log output"
        assert all(secret not in text for text in shown), f"{secret} in an API answer"
        assert secret.encode() not in database, f"{secret} in the database"
    assert any(h.get("x-printloop-signature", "").startswith("sha256=") for h, _ in hook.got)
