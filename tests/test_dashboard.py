"""The dashboard in headless Chromium against a live service with a simulated printer: progress shows, Pause
pauses the job on the printer, Resume and Cancel work, the layer strip shows photos."""
from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from controller.api.app import create_app
from controller.api.live import LiveServer
from controller.config import parse_config
from controller.farm.service import LabService
from tests.sim_rig import cube_gcode, start_sims, wait_for

KEY = "dash-key"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]


@pytest.fixture()
def live(tmp_path: Path):
    gcode = cube_gcode(tmp_path)
    sims = start_sims([""], tmp_path, speed="20")
    cfg = parse_config({"data_dir": str(tmp_path / "data"), "api_keys": [KEY], "printers": [
        {"name": "mk3-a", "port": sims[0].serial, "camera": sims[0].camera}]})
    svc = LabService(cfg)
    server = LiveServer(create_app(svc)).start()
    try:
        yield server, gcode, sims[0]
    finally:
        server.stop()
        svc.stop()
        sims[0].stop()


def test_page_shows_progress_and_pause_button_pauses_the_job(live) -> None:
    server, gcode, sim = live
    api = httpx.Client(base_url=server.url, headers={"X-Api-Key": KEY}, timeout=10)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{server.url}/?key={KEY}")
            card = page.locator('.card[data-printer="mk3-a"]')
            expect(card.locator(".state")).to_have_text("idle", timeout=30_000)
            page.set_input_files('#upload input[name="file"]', str(gcode))
            page.click('#upload button[type="submit"]')
            expect(page.locator("#upload-msg")).to_contain_text("queued", timeout=10_000)
            expect(card.locator(".state")).to_have_text("printing", timeout=30_000)
            expect(card.locator(".percent")).not_to_have_text("0.0 %", timeout=30_000)
            expect(card.locator(".photo img")).to_be_visible(timeout=30_000)

            card.locator('button[data-action="pause"]').click()
            expect(card.locator(".state")).to_have_text("paused", timeout=30_000)
            job = api.get("/api/v1/jobs").json()[0]
            assert job["runs"][0]["state"] == "paused"
            layer = job["runs"][0]["layer"]
            status = httpx.get(sim.status).json()
            wait_for(lambda: httpx.get(sim.status).json()["state"] == "idle", 20, "the printer to stop moving")
            lines = httpx.get(sim.status).json()["lines_executed"]
            page.wait_for_timeout(1500)
            assert httpx.get(sim.status).json()["lines_executed"] == lines, "a paused printer executes nothing"
            assert status["layer"] <= layer + 2

            card.locator('button[data-action="resume"]').click()
            expect(card.locator(".state")).to_have_text("printing", timeout=30_000)
            card.locator('button[data-action="cancel"]').click()
            expect(card.locator(".state")).to_have_text("awaiting_clear", timeout=30_000)
            expect(page.locator(f'#jobs tr[data-job="{job["id"]}"] .job-state')).to_have_text("cancelled")

            page.click(f'#jobs button[data-action="history"][data-job="{job["id"]}"]')
            expect(page.locator("#strip figure").first).to_be_visible(timeout=10_000)
            assert re.search(r"layer \d+", page.locator("#strip figcaption").first.inner_text())
            card.locator('button[data-action="clear-bed"]').click()
            expect(card.locator(".state")).to_have_text("idle", timeout=10_000)
            expect(page.locator("#events")).to_contain_text("cancel", timeout=10_000)

            page.reload()  # a page opened later still shows what just happened, once each
            expect(page.locator("#events")).to_contain_text("cancel", timeout=10_000)
            ids = [li.get_attribute("data-id") for li in page.locator("#events li").all()]
            assert len(ids) == len(set(ids)) >= 3, ids
        finally:
            browser.close()
