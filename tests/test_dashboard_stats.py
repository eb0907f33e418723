"""The dashboard's numbers in headless Chromium over a seeded history: one bar per printer for yield, cost and
filament lost, one per day (or week) for yield by period, a utilisation bar split by category per printer, and a
temperature chart with one point per stored sample of the chosen printer."""
from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from controller.api.app import create_app
from controller.api.live import LiveServer
from controller.config import parse_config
from controller.farm.service import LabService
from controller.store import printers
from tests.stats_history import DAYS, PRINTERS, T0, seed
from tests.test_dashboard import ARGS, CHROMIUM
from tests.test_stats import FROM, TO, _iso

KEY = "dash-stats-key"
SAMPLES = 37


@pytest.fixture()
def live(tmp_path: Path):
    cfg = parse_config({"data_dir": str(tmp_path / "data"), "api_keys": [KEY],
                        "costs": {"hourly_rate": 2.0, "filament_cost_per_kg": 25.0}})
    svc = LabService(cfg, clock=lambda: T0 + DAYS * 86400)
    seed(svc.store, tmp_path)
    for k in range(SAMPLES):
        printers.add_temperature(svc.store, "mk3-b", T0 + 5 * k, 20 + 5 * k, 210, 20 + k, 60)
    printers.add_temperature(svc.store, "mk3-a", T0, 25, 0, 24, 0)
    server = LiveServer(create_app(svc, run_fleet=False)).start()
    try:
        yield server
    finally:
        server.stop()
        svc.stop()


def test_numbers_are_drawn_as_charts_with_a_bar_per_printer_and_period(live) -> None:
    api = httpx.Client(base_url=live.url, headers={"X-Api-Key": KEY}, timeout=10)
    want = api.get("/api/v1/stats", params={"from": _iso(FROM), "to": _iso(TO)}).json()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{live.url}/?key={KEY}")
            expect(page.locator("#numbers")).to_be_visible(timeout=15_000)
            page.fill('#stats-form [name="from"]', _iso(FROM))
            page.fill('#stats-form [name="to"]', _iso(TO))
            page.click('#stats-form button[type="submit"]')
            expect(page.locator("#stats-summary")).to_contain_text(_iso(FROM), timeout=10_000)
            expect(page.locator("#stats-summary")).to_contain_text(_iso(TO), timeout=10_000)   # the period asked
            bars = page.locator("#chart-yield rect.col")
            expect(bars).to_have_count(len(PRINTERS))
            for k, name in enumerate(PRINTERS):
                assert bars.nth(k).get_attribute("data-label") == name
                assert float(bars.nth(k).get_attribute("data-value") or "nan") == \
                    pytest.approx(want["by_printer"][name]["yield"])
                box = bars.nth(k).bounding_box()   # drawn as tall as its share of the plot (140 of 200 px)
                assert box is not None
                assert box["height"] == pytest.approx(140 * want["by_printer"][name]["yield"], abs=2)
            expect(page.locator("#chart-cost rect.col")).to_have_count(len(PRINTERS))
            expect(page.locator("#chart-lost rect.col")).to_have_count(len(PRINTERS))
            expect(page.locator("#chart-period rect.col")).to_have_count(len(want["by_period"]))
            assert len(want["by_period"]) == 3
            shares = [(n, c) for n, f in want["by_printer"].items() for c, v in f["utilisation"].items() if v > 0]
            segs = page.locator("#chart-utilisation rect.seg")
            expect(segs).to_have_count(len(shares))
            assert [(segs.nth(k).get_attribute("data-printer"), segs.nth(k).get_attribute("data-category"))
                    for k in range(len(shares))] == shares
            assert "csv" in (page.locator("#stats-csv").get_attribute("href") or "")

            page.select_option('#stats-form [name="period"]', "week")
            page.click('#stats-form button[type="submit"]')
            expect(page.locator("#chart-period rect.col")).to_have_count(1)

            page.select_option("#temp-printer", "mk3-b")
            hotend = page.locator('#chart-temps polyline[data-series="hotend"]')
            expect(hotend).to_have_attribute("data-count", str(SAMPLES), timeout=10_000)
            assert len((hotend.get_attribute("points") or "").split()) == SAMPLES
            assert len((page.locator('#chart-temps polyline[data-series="bed"]').get_attribute("points") or "")
                       .split()) == SAMPLES
            page.select_option("#temp-printer", "mk3-a")
            expect(hotend).to_have_attribute("data-count", "1", timeout=10_000)
        finally:
            browser.close()
