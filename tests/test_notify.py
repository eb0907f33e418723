"""Notifications against real local receivers: Apprise's json:// target and a webhook on loopback HTTP servers the
test starts. A failed layer's notice carries its annotated photo; the webhook's signature verifies; a refusing
target is retried with backoff and every attempt is recorded; the test button reaches every target."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from controller.api.app import create_app
from controller.api.live import free_port
from controller.config import parse_config
from controller.farm.service import LabService
from controller.publish.notify import Notifier
from controller.store import history, jobs
from controller.store.notifications import list_attempts
from tests.sim_rig import wait_for

KEY = "notify-key"
SECRET = "webhook-secret-123"


class Receiver:
    """A loopback HTTP server keeping each POST's headers and raw body."""

    def __init__(self) -> None:
        self.got: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                outer.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def receivers() -> Iterator[tuple[Receiver, Receiver]]:
    hook, apprise_json = Receiver(), Receiver()
    yield hook, apprise_json
    hook.close()
    apprise_json.close()


def _service(tmp_path: Path, hook: Receiver, apprise_json: Receiver, refused_port: int) -> LabService:
    cfg = parse_config({
        "data_dir": str(tmp_path / "data"), "api_keys": [KEY], "printers": [{"name": "mk3-a", "port": "/dev/x"}],
        "notify": [{"url": f"json://127.0.0.1:{apprise_json.port}/", "events": ["layer_failed", "job_done"]}],
        "webhooks": [{"url": f"http://127.0.0.1:{hook.port}/hook", "secret": SECRET, "events": ["*"],
                      "printers": ["mk3-a"]},
                     {"url": f"http://127.0.0.1:{refused_port}/down", "secret": SECRET, "events": ["layer_failed"]}]})
    svc = LabService(cfg)
    svc.add_publisher("notify", Notifier(cfg, svc.bus, svc.store, svc.clock, backoff_s=(0.05, 0.1)))
    return svc


def _failed_layer(svc: LabService, tmp_path: Path) -> int:
    """A copy whose layer 3 check failed, with its annotated photo on disk, and the vision_failure event."""
    photo = tmp_path / "data" / "layer3-annotated.jpg"
    img = np.zeros((120, 160, 3), np.uint8)
    cv2.rectangle(img, (20, 20), (140, 100), (0, 0, 255), 3)
    cv2.imwrite(str(photo), img)
    f = jobs.add_file(svc.store, "part.gcode", str(tmp_path / "part.gcode"), "gcode", 1, "0" * 64, 0.0)
    job = jobs.create_job(svc.store, f.id, "part.gcode", 1, 0, 0.0, gcode_path=str(tmp_path / "p.gcode"),
                          layer_count=9)
    run = jobs.list_runs(svc.store, job_id=job.id)[0]
    history.add_layer_check(svc.store, run.id, 3, False, "spaghetti", 1.0, {}, str(photo), str(photo))
    history.add_event(svc.store, "vision_failure", "vision caught spaghetti at layer 3 on mk3-a", 1.0,
                      job_id=job.id, run_id=run.id, printer="mk3-a", actor="service:vision")
    return run.id


def test_failed_layer_reaches_apprise_with_the_photo_and_a_signed_webhook(tmp_path: Path, receivers) -> None:
    hook, apprise_json = receivers
    svc = _service(tmp_path, hook, apprise_json, free_port())
    svc.start()
    try:
        run_id = _failed_layer(svc, tmp_path)
        wait_for(lambda: hook.got and apprise_json.got, 20, "both receivers to be told")
        headers, raw = hook.got[0]
        expected = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["x-printloop-signature"], expected)
        body = json.loads(raw)
        assert body["event"] == "layer_failed" and body["printer"] == "mk3-a" and body["run_id"] == run_id
        assert body["photo_url"].startswith("/api/v1/layer-checks/") and "spaghetti" in body["message"]
        told = json.loads(apprise_json.got[0][1])
        assert "spaghetti" in told["message"] and "layer_failed" in told["title"]
        (attached,) = told["attachments"]
        assert base64.b64decode(attached["base64"])[:2] == b"\xff\xd8", "the annotated JPEG is attached"

        attempts = wait_for(lambda: [a for a in list_attempts(svc.store) if a.target.endswith("/down")]
                            if len([a for a in list_attempts(svc.store) if a.target.endswith("/down")]) == 3
                            else None, 20, "three attempts at the refusing target")
        assert [a.attempt for a in sorted(attempts, key=lambda a: a.id)] == [1, 2, 3]
        assert not any(a.ok for a in attempts) and all("ConnectError" in a.detail for a in attempts)
        assert any(a.ok and a.target.endswith("/hook") for a in list_attempts(svc.store))
        assert all(SECRET not in a.detail and SECRET not in a.target for a in list_attempts(svc.store))
    finally:
        svc.stop()


def test_the_test_button_reaches_every_target_and_only_an_admin_may_press_it(tmp_path: Path, receivers) -> None:
    hook, apprise_json = receivers
    svc = _service(tmp_path, hook, apprise_json, free_port())
    try:
        with TestClient(create_app(svc)) as client:
            viewer = client.post("/api/v1/users", headers={"X-Api-Key": KEY},
                                 json={"name": "vic", "role": "viewer", "password": "long password"}).json()
            assert client.post("/api/v1/notifications/test",
                               headers={"X-Api-Key": viewer["api_key"]}).status_code == 403
            r = client.post("/api/v1/notifications/test", headers={"X-Api-Key": KEY})
            assert r.status_code == 200 and "3 targets" in r.json()["message"]
            wait_for(lambda: hook.got and apprise_json.got, 20, "both receivers to get the test")
            assert json.loads(hook.got[0][1])["event"] == "test"
            shown = client.get("/api/v1/notifications", headers={"X-Api-Key": KEY}).json()
            assert {a["event"] for a in shown} == {"test"}
    finally:
        svc.stop()


def test_failed_layer_e_mail_reaches_a_local_smtp_server_with_the_photo_attached(tmp_path: Path) -> None:
    import email

    from aiosmtpd.controller import Controller

    mails: list[bytes] = []

    class Inbox:
        async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
            mails.append(envelope.content)
            return "250 OK"

    port = free_port()
    smtp = Controller(Inbox(), hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        cfg = parse_config({"data_dir": str(tmp_path / "data"), "api_keys": [KEY], "notify": [
            {"url": f"mailto://lab@127.0.0.1:{port}?mode=insecure&from=printloop@lab.example&to=tech@lab.example",
             "events": ["layer_failed"]}]})
        svc = LabService(cfg)
        svc.add_publisher("notify", Notifier(cfg, svc.bus, svc.store, svc.clock, backoff_s=(0.05,)))
        svc.start()
        try:
            _failed_layer(svc, tmp_path)
            wait_for(lambda: mails, 20, "the e-mail")
        finally:
            svc.stop()
    finally:
        smtp.stop()
    message = email.message_from_bytes(mails[0])
    assert message["To"] == "tech@lab.example" and "layer_failed" in message["Subject"]
    parts = list(message.walk())
    assert any("spaghetti" in str(p.get_payload(decode=True) or b"", "utf-8", "replace") for p in parts)
    photos = [p for p in parts if p.get_content_type() == "image/jpeg"]
    assert photos and photos[0].get_payload(decode=True)[:2] == b"\xff\xd8"
