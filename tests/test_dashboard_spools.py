"""Each printer card on the dashboard shows the spool loaded on it (material, colour, lot, grams left), and a
spool loaded while the page is open shows at once, marked when it is nearly empty."""
from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from controller.api.app import create_app
from controller.api.live import LiveServer
from controller.config import parse_config
from controller.farm.service import LabService
from tests.stats_history import DAYS, T0, seed
from tests.test_dashboard import ARGS, CHROMIUM

KEY = "dash-spool-key"


@pytest.fixture()
def live(tmp_path: Path):
    svc = LabService(parse_config({"data_dir": str(tmp_path / "data"), "api_keys": [KEY]}),
                     clock=lambda: T0 + DAYS * 86400)
    seed(svc.store, tmp_path)            # three printers with a history, none of them in the config
    server = LiveServer(create_app(svc, run_fleet=False)).start()
    try:
        yield server
    finally:
        server.stop()
        svc.stop()


def _spool(api: httpx.Client, printer: str, grams: float, lot: str) -> int:
    made = api.post("/api/v1/spools", json={"material": "PETG", "colour": "black", "diameter": 1.75, "density": 1.27,
                                            "lot": lot, "weight_g": grams, "cost_per_kg": 29.9})
    assert made.status_code == 201, made.text
    loaded = api.post(f"/api/v1/printers/{printer}/spool", json={"spool_id": made.json()["id"]})
    assert loaded.status_code == 200, loaded.text
    return int(made.json()["id"])


def test_a_printer_card_shows_its_spool_and_a_spool_loaded_later_appears_marked_low(live) -> None:
    api = httpx.Client(base_url=live.url, headers={"X-Api-Key": KEY}, timeout=10)
    first = _spool(api, "mk3-a", 750, "L-0042")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{live.url}/?key={KEY}")
            card_a = page.locator('.card[data-printer="mk3-a"] .spool')
            expect(card_a).to_have_text(f"spool {first} · PETG black · lot L-0042 · 750 g left", timeout=15_000)
            card_b = page.locator('.card[data-printer="mk3-b"] .spool')
            expect(card_b).to_have_text("no spool loaded")
            second = _spool(api, "mk3-b", 30, "L-0043")
            expect(card_b).to_have_text(f"spool {second} · PETG black · lot L-0043 · 30 g left", timeout=10_000)
            expect(card_b).to_have_class("spool low")
            expect(card_a).to_have_class("spool")
        finally:
            browser.close()
