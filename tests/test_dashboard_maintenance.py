"""Maintenance on the dashboard in headless Chromium, against a live service driving a simulated printer: a part
prints, the printer's card shows its counters (the filament as much as the printer itself executed, by its own
executed-command log) and the task due after every copy highlighted; an operator logs the service with a note on
the page, the task is no longer due, and the log and the audit trail name her."""
from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from controller.api.app import create_app
from controller.api.live import LiveServer
from controller.config import parse_config
from controller.farm.service import LabService
from firmware_sim.executed_log import read_executed_log
from slicing.job_plan import plan
from tests.sim_rig import small_part_gcode, start_sims
from tests.test_dashboard import ARGS, CHROMIUM
from tests.test_dashboard_accounts import _sign_in

KEY = "dash-maintenance-key"
PASSWORD = "olga's long password"


def test_counters_and_a_due_task_show_on_the_card_and_an_operator_logs_the_service(tmp_path: Path) -> None:
    gcode = small_part_gcode(tmp_path)
    (sim,) = start_sims([""], tmp_path)
    cfg = parse_config({"data_dir": str(tmp_path / "data"), "api_keys": [KEY], "printers": [
        {"name": "mk3-a", "port": sim.serial, "camera": sim.camera, "maintenance": [
            {"task": "wipe", "every_jobs": 1}, {"task": "nozzle", "every_hours": 200}]}]})
    svc = LabService(cfg)
    server = LiveServer(create_app(svc)).start()
    admin = httpx.Client(base_url=server.url, headers={"X-Api-Key": KEY}, timeout=10)
    try:
        admin.post("/api/v1/users", json={"name": "olga", "role": "operator", "password": PASSWORD})
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                page = browser.new_page()
                page.goto(f"{server.url}/")
                _sign_in(page, "olga", PASSWORD, "operator")
                card = page.locator('.card[data-printer="mk3-a"]')
                expect(card.locator(".upkeep .counters")).to_contain_text("0 copies", timeout=10_000)
                expect(card.locator(".task.due")).to_have_count(0)

                job = admin.post("/api/v1/jobs", files={"file": ("block.gcode", gcode.read_bytes())}).json()
                expect(card.locator(".state")).to_have_text("awaiting_clear", timeout=60_000)
                wipe = card.locator('.task[data-task="wipe"]')
                expect(wipe).to_have_class("task due", timeout=10_000)
                expect(wipe).to_contain_text("1.0 of every 1 copies")
                expect(card.locator('.task[data-task="nozzle"]')).to_have_class("task")
                expect(card.locator(".upkeep .counters")).to_contain_text("1 copy · 0 failed")
                assert admin.get(f"/api/v1/jobs/{job['id']}").json()["state"] == "done"

                upkeep = admin.get("/api/v1/printers/mk3-a/maintenance").json()
                executed = "\n".join(r["cmd"] for r in read_executed_log(sim.executed_log or ""))
                assert upkeep["usage"]["metres"] == pytest.approx(plan(executed).filament_mm / 1000, rel=0.02)
                assert upkeep["usage"]["metres"] > 0.05 and 0 < upkeep["usage"]["hours"] < 0.1
                due = admin.get("/api/v1/events", params={"kind": "maintenance_due"}).json()
                assert [e["data"]["task"] for e in due] == ["wipe"]

                page.once("dialog", lambda d: d.accept("wiped the nozzle with brass"))
                wipe.locator('button[data-action="log-service"]').click()
                expect(wipe).to_have_class("task", timeout=10_000)
                expect(card.locator(".upkeep .counters")).to_contain_text("0 copies")
                log = admin.get("/api/v1/printers/mk3-a/maintenance/log").json()
                assert [(e["task"], e["note"], e["by"]) for e in log] == [("wipe", "wiped the nozzle with brass",
                                                                         "olga")]
                page.fill('#audit [name="actor"]', "olga")
                page.click('#audit button[type="submit"]')
                expect(page.locator('#audit-list li[data-kind="maintenance_done"]')).to_contain_text("wipe")
            finally:
                browser.close()
    finally:
        admin.close()
        server.stop()
        svc.stop()
        sim.stop()
