"""The dashboard's farm view in headless Chromium: three hosts on one PostgreSQL database, one of them gone silent;
host A's page lists every host (alive or silent, with its last heartbeat) and which host drives each printer, and
its Pause button on a printer of host B pauses that printer on B."""
from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from controller.api.app import create_app
from controller.api.live import LiveServer
from controller.config import parse_config
from controller.farm.service import LabService
from tests.sim_rig import small_part_gcode, start_sims, wait_for
from tests.test_dashboard import ARGS, CHROMIUM

KEY = "farm-dash-key"


def _host(folder: Path, name: str, db_url: str, printers: list[dict]) -> LabService:
    """One host of the farm, in this process, on the shared database."""
    return LabService(parse_config({"data_dir": str(folder / name), "api_keys": [KEY], "host_name": name,
                                    "database_url": db_url, "host_timeout_s": 2.0, "printers": printers}))


@pytest.mark.timeout(300)
def test_farm_view_shows_hosts_alive_or_silent_and_each_printers_host(tmp_path: Path, pg_url: str) -> None:
    gcode = small_part_gcode(tmp_path, height_mm=4.0)
    (sim,) = start_sims([""], tmp_path, speed="20")
    started: list[LabService] = []
    server: LiveServer | None = None
    try:
        silent = _host(tmp_path, "bench-c", pg_url, [])   # beats once on start-up, then is gone
        silent.stop()
        b = _host(tmp_path, "bench-b", pg_url, [{"name": "pb", "port": sim.serial}])
        started.append(b)
        b.start()
        a = _host(tmp_path, "bench-a", pg_url, [])
        started.append(a)
        server = LiveServer(create_app(a)).start()
        api = httpx.Client(base_url=server.url, headers={"X-Api-Key": KEY}, timeout=10)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                page = browser.new_page()
                page.goto(f"{server.url}/?key={KEY}")
                row = {h: page.locator(f'#farm-hosts tr[data-host="{h}"]') for h in ("bench-a", "bench-b",
                                                                                      "bench-c")}
                expect(row["bench-a"].locator(".host-state")).to_have_text("alive", timeout=20_000)
                expect(row["bench-b"].locator(".host-state")).to_have_text("alive")
                expect(row["bench-c"].locator(".host-state")).to_have_text("silent", timeout=10_000)
                expect(row["bench-b"].locator(".host-beat")).to_contain_text("s ago")
                expect(row["bench-b"].locator('.host-printers [data-printer="pb"]')).to_be_visible()
                expect(row["bench-a"].locator(".host-printers")).to_have_text("none")

                # host A's card for host B's printer: Pause reaches B and pauses that printer's copy
                job = api.post("/api/v1/jobs", files={"file": ("block.gcode", gcode.read_bytes())},
                               data={"copies": "1"}).json()
                wait_for(lambda: (api.get(f"/api/v1/jobs/{job['id']}").json()["runs"][0]["layer"]) >= 1, 120,
                         "pb past its first layer")
                card = page.locator('.card[data-printer="pb"]')
                card.locator('button[data-action="pause"]').click()
                expect(card.locator(".state")).to_have_text("paused", timeout=10_000)
                assert b.fleet.planned("pb").state == "paused"   # type: ignore[union-attr]
                card.locator('button[data-action="resume"]').click()
                expect(card.locator(".state")).to_have_text("printing", timeout=10_000)
            finally:
                browser.close()
    finally:
        if server is not None:
            server.stop()
        for svc in reversed(started):
            svc.stop()
        sim.stop()
