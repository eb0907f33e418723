"""The dashboard's sign-in in headless Chromium against a live service with a simulated printer: a wrong password
is refused on the page, a submitter signs in, queues a file through the page (the cookie and CSRF token carry it),
watches it print, and sees only their own job; with approval on, an operator approves it on the page, it prints,
and the audit trail names both."""
from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from controller.api.app import create_app
from controller.api.live import LiveServer
from controller.config import parse_config
from controller.farm.service import LabService
from tests.sim_rig import cube_gcode, start_sims, wait_for
from tests.test_dashboard import ARGS, CHROMIUM

KEY = "dash-accounts-key"
PASSWORD = "sam's long password"


@pytest.fixture(params=[False], ids=["no-approval"])
def live(tmp_path: Path, request: pytest.FixtureRequest):
    gcode = cube_gcode(tmp_path)
    sims = start_sims([""], tmp_path, speed="20")
    cfg = parse_config({"data_dir": str(tmp_path / "data"), "api_keys": [KEY], "require_approval": request.param,
                        "printers": [
        {"name": "mk3-a", "port": sims[0].serial, "camera": sims[0].camera}]})
    svc = LabService(cfg)
    server = LiveServer(create_app(svc)).start()
    try:
        yield server, gcode
    finally:
        server.stop()
        svc.stop()
        sims[0].stop()


def test_submitter_signs_in_queues_a_file_and_watches_it_print(live) -> None:
    server, gcode = live
    admin = httpx.Client(base_url=server.url, headers={"X-Api-Key": KEY}, timeout=10)
    sam = admin.post("/api/v1/users", json={"name": "sam", "role": "submitter", "password": PASSWORD}).json()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{server.url}/")
            expect(page.locator("#loginform")).to_be_visible(timeout=10_000)
            page.fill("#login-name", "sam")
            page.fill("#login-password", "not it")
            page.click('#loginform button[type="submit"]')
            expect(page.locator("#login-msg")).to_contain_text("wrong name or password", timeout=10_000)
            page.fill("#login-password", PASSWORD)
            page.click('#loginform button[type="submit"]')
            expect(page.locator("#whoami")).to_have_text("sam (submitter)", timeout=10_000)
            assert "dash-accounts-key" not in page.content() and sam["api_key"] not in page.content()

            page.set_input_files('#upload input[name="file"]', str(gcode))
            page.click('#upload button[type="submit"]')
            expect(page.locator("#upload-msg")).to_contain_text("queued", timeout=10_000)
            mine = httpx.get(f"{server.url}/api/v1/jobs", headers={"X-Api-Key": sam["api_key"]}).json()
            assert len(mine) == 1
            other = admin.post("/api/v1/jobs", files={"file": ("other.gcode", gcode.read_bytes())}).json()
            card = page.locator('.card[data-printer="mk3-a"]')
            expect(card.locator(".state")).to_have_text("printing", timeout=30_000)
            assert admin.get(f"/api/v1/jobs/{mine[0]['id']}").json()["runs"][0]["state"] == "printing"
            expect(page.locator(f'#jobs tr[data-job="{mine[0]["id"]}"]')).to_be_visible(timeout=10_000)
            expect(page.locator(f'#jobs tr[data-job="{other["id"]}"]')).to_have_count(0)

            page.click("#logout")
            expect(page.locator("#loginform")).to_be_visible(timeout=10_000)
        finally:
            browser.close()
    admin.post(f"/api/v1/jobs/{other['id']}/cancel")
    admin.post(f"/api/v1/jobs/{mine[0]['id']}/cancel")


def _sign_in(page, name: str, password: str, role: str) -> None:  # type: ignore[no-untyped-def]
    expect(page.locator("#loginform")).to_be_visible(timeout=10_000)
    page.fill("#login-name", name)
    page.fill("#login-password", password)
    page.click('#loginform button[type="submit"]')
    expect(page.locator("#whoami")).to_have_text(f"{name} ({role})", timeout=10_000)


@pytest.mark.parametrize("live", [True], ids=["approval"], indirect=True)
def test_operator_approves_a_submitted_job_on_the_page_and_the_audit_trail_names_both(live) -> None:
    server, gcode = live
    admin = httpx.Client(base_url=server.url, headers={"X-Api-Key": KEY}, timeout=10)
    admin.post("/api/v1/users", json={"name": "sam", "role": "submitter", "password": PASSWORD})
    admin.post("/api/v1/users", json={"name": "olga", "role": "operator", "password": PASSWORD})
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{server.url}/")
            _sign_in(page, "sam", PASSWORD, "submitter")
            page.set_input_files('#upload input[name="file"]', str(gcode))
            page.click('#upload button[type="submit"]')
            expect(page.locator("#upload-msg")).to_contain_text("awaiting_approval", timeout=10_000)
            job_id = admin.get("/api/v1/jobs").json()[0]["id"]
            row = page.locator(f'#jobs tr[data-job="{job_id}"]')
            expect(row.locator(".job-state")).to_have_text("awaiting_approval", timeout=10_000)
            expect(row.locator('button[data-action="approve"]')).to_have_count(0)
            page.click("#logout")

            _sign_in(page, "olga", PASSWORD, "operator")
            row.locator('button[data-action="approve"]').click()
            card = page.locator('.card[data-printer="mk3-a"]')
            expect(card.locator(".state")).to_have_text("printing", timeout=30_000)
            expect(row.locator(".job-state")).to_have_text("printing", timeout=10_000)

            page.fill('#audit [name="actor"]', "olga")
            page.click('#audit button[type="submit"]')
            expect(page.locator('#audit-list li[data-kind="approved"]')).to_contain_text("olga", timeout=10_000)
            expect(page.locator("#audit-list li")).to_have_count(1)
            page.fill('#audit [name="actor"]', "sam")
            page.click('#audit button[type="submit"]')
            expect(page.locator('#audit-list li[data-kind="queued"]')).to_be_visible(timeout=10_000)
            card.locator('button[data-action="cancel"]').click()
            expect(card.locator(".state")).to_have_text("awaiting_clear", timeout=30_000)
        finally:
            browser.close()


def test_the_test_notice_button_reaches_a_webhook(tmp_path: Path) -> None:
    from tests.test_notify import Receiver

    hook = Receiver()
    cfg = parse_config({"data_dir": str(tmp_path / "data"), "api_keys": [KEY], "webhooks": [
        {"url": f"http://127.0.0.1:{hook.port}/hook", "secret": "a webhook secret", "events": ["job_done"]}]})
    svc = LabService(cfg)
    server = LiveServer(create_app(svc)).start()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                page = browser.new_page()
                page.goto(f"{server.url}/?key={KEY}")
                page.click("#notify-test")
                expect(page.locator("#notify-msg")).to_have_text("test notice sent to 1 targets", timeout=10_000)
            finally:
                browser.close()
        wait_for(lambda: hook.got, 20, "the webhook to be told")
    finally:
        server.stop()
        svc.stop()
        hook.close()
