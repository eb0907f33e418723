"""Build records of a demo batch on real simulated printers (one of them faulty): each printed copy's record is
sealed in a hash chain, exported with its photos, verified, and verification fails naming the file (and the
field) after one byte of a photo or one field of a record is changed; the report renders to PDF and, drawn by
pdftoppm, shows the part, the verdict strip and the failed layer's photo."""
from __future__ import annotations

import hashlib
import itertools
import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from controller.api.app import create_app
from controller.api.record_report import COLOURS, thumbnail
from controller.cli import main
from controller.config import parse_config
from controller.farm.service import LabService
from controller.store import build_chain, build_seal, history, jobs, printers
from controller.store.build_record import serial_of
from tests.sim_rig import small_part_gcode, start_sims, take_part_off, wait_for

KEY = "records-key"
PASSWORD = "records password"


@dataclass(frozen=True)
class Batch:
    """A finished batch: the service (still open), its API client, the config file, the job and its runs."""

    svc: LabService
    api: TestClient
    config: Path
    job_id: int
    operator: dict[str, str]
    viewer: dict[str, str]


def _user(api: TestClient, name: str, role: str) -> dict[str, str]:
    r = api.post("/api/v1/users", headers={"X-Api-Key": KEY}, json={"name": name, "role": role,
                                                                     "password": PASSWORD})
    assert r.status_code == 201, r.text
    return {"X-Api-Key": r.json()["api_key"]}


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Batch]:
    """Two copies submitted by a submitter, approved by an operator, printed on a good and a faulty printer
    (the faulty one's copy is caught by vision and made again on the good one), beds cleared by the operator."""
    folder = tmp_path_factory.mktemp("batch")
    gcode = small_part_gcode(folder)
    sims = start_sims(["", "spaghetti@3"], folder)
    names = ["good", "bad"]
    data = {"data_dir": str(folder / "data"), "api_keys": [KEY], "require_approval": True, "printers": [
        {"name": n, "port": s.serial, "camera": s.camera, "on_failure": "cancel"} for n, s in zip(names, sims)]}
    config = folder / "printloop.toml"
    config.write_text(f'data_dir = "{folder / "data"}"\n')
    svc = LabService(parse_config(data))
    try:
        with TestClient(create_app(svc, run_fleet=False)) as api:
            sam, ola = _user(api, "sam", "submitter"), _user(api, "ola", "operator")
            viewer = _user(api, "vic", "viewer")
            r = api.post("/api/v1/jobs", headers=sam, files={"file": ("block.gcode", gcode.read_bytes())},
                         data={"copies": "2"})
            assert r.status_code == 201, r.text
            job_id = int(r.json()["id"])
            assert api.post(f"/api/v1/jobs/{job_id}/approve", headers=ola).status_code == 200
            spool = api.post("/api/v1/spools", headers=ola, json={
                "material": "PLA", "colour": "orange", "diameter": 1.75, "density": 1.24, "lot": "L-0042",
                "weight_g": 750, "cost_per_kg": 21.0})
            assert spool.status_code == 201, spool.text
            loaded = api.post("/api/v1/printers/good/spool", headers=ola, json={"spool_id": spool.json()["id"]})
            assert loaded.status_code == 200, loaded.text
            svc.start(0.1)

            def progress() -> bool:
                if printers.get_printer(svc.store, "good").state == "awaiting_clear":
                    take_part_off(sims[0])
                    assert api.post("/api/v1/printers/good/clear-bed", headers=ola).status_code == 200
                return jobs.get_job(svc.store, job_id).state in ("done", "failed")
            try:
                wait_for(progress, 180, "both copies made", every=0.3)
            except AssertionError as exc:
                runs = [(r.id, r.printer, r.state, r.message) for r in jobs.list_runs(svc.store, job_id=job_id)]
                states = {n: printers.get_printer(svc.store, n).state for n in names}
                raise AssertionError(f"{exc}: printers {states}, runs {runs}") from None
            wait_for(lambda: not build_seal.unsealed(svc.store), 120, "every printed copy's record sealed")
            yield Batch(svc, api, config, job_id, ola, viewer)
    finally:
        svc.stop()
        for s in sims:
            s.stop()


def _runs(b: Batch, state: str) -> list[int]:
    return [r.id for r in jobs.list_runs(b.svc.store, job_id=b.job_id, states=(state,))]


def _caught(b: Batch) -> int:
    """The run vision failed (the faulty printer's copy)."""
    caught = [e.run_id for e in history.list_events(b.svc.store, job_id=b.job_id) if e.kind == "vision_failure"]
    assert caught and caught[0] is not None, "vision caught no fault on the faulty printer"
    return caught[0]


def _export(b: Batch, out: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["records", "export", str(out), "--job", str(b.job_id), "--config", str(b.config)]) == 0
    return capsys.readouterr().out


def _verify(folder: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(["verify", str(folder)])
    return code, capsys.readouterr().out.splitlines()


def test_each_printed_copy_has_a_sealed_record_of_its_build(batch: Batch) -> None:
    completed, failed = _runs(batch, "completed"), _runs(batch, "failed")
    assert len(completed) == 2 and len(failed) >= 1
    gcode_sha = hashlib.sha256(Path(jobs.get_job(batch.svc.store, batch.job_id).gcode_path or "").read_bytes())
    for run_id in completed + failed:
        r = batch.api.get(f"/api/v1/runs/{run_id}/record", headers=batch.viewer)
        assert r.status_code == 200, r.text
        rec = r.json()
        assert rec["hash"] == build_chain.record_hash(rec) and len(rec["prev_hash"]) == 64
        assert rec["serial"].startswith(f"J{batch.job_id:04d}-C0") and rec["serial"].endswith(f"R{run_id:05d}")
        assert rec["gcode"]["sha256"] == gcode_sha.hexdigest() and rec["gcode"]["slicer"] == "printloop"
        assert rec["gcode"]["name"] == "block.gcode" and rec["printer"]["nozzle"] == 0.4
        assert rec["printer"]["firmware"].startswith("Marlin"), rec["printer"]
        run = jobs.get_run(batch.svc.store, run_id)
        if run.printer == "good":
            assert rec["spool"]["material"] == "PLA" and rec["spool"]["lot"] == "L-0042", rec["spool"]
            assert rec["spool"]["used_g"] == pytest.approx(run.used_g, abs=1e-3) and run.used_g > 0
        else:
            assert rec["spool"] is None      # its printer had no spool loaded
        assert rec["people"]["submitted_by"] == "sam" and rec["people"]["approved_by"] == "ola"
        assert rec["start"] and rec["end"] and rec["layers"]
        for layer in rec["layers"]:
            assert {"layer", "verdict", "figures", "photo", "photo_sha256"} <= set(layer)
        photos = {Path(c.image_path or "").name: c.image_path
                  for c in history.list_layer_checks(batch.svc.store, run_id=run_id)}
        first = rec["layers"][0]
        assert first["photo_sha256"] == hashlib.sha256(Path(photos[first["photo"]]).read_bytes()).hexdigest()
    bad = batch.api.get(f"/api/v1/runs/{_caught(batch)}/record", headers=batch.viewer).json()
    assert bad["printer"]["name"] == "bad" and bad["outcome"]["state"] == "failed"
    assert any(not la["ok"] for la in bad["layers"]), (bad["outcome"], [(la["layer"], la["verdict"]) for la in
                                                                   bad["layers"]], bad["events"])
    assert any(e["kind"] == "vision_failure" and e["actor"] == "service:vision" for e in bad["interruptions"])
    chain = build_chain.entries(batch.svc.store)
    assert [e.seq for e in chain] == list(range(1, len(chain) + 1))
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(chain))


def test_an_operator_disposition_seals_a_new_version_of_the_record(batch: Batch) -> None:
    run_id = _runs(batch, "completed")[0]
    before = batch.api.get(f"/api/v1/runs/{run_id}/record", headers=batch.viewer).json()
    body = {"decision": "rejected", "reason": "warped corner"}
    assert batch.api.post(f"/api/v1/runs/{run_id}/disposition", headers=batch.viewer, json=body).status_code == 403
    r = batch.api.post(f"/api/v1/runs/{run_id}/disposition", headers=batch.operator, json=body)
    assert r.status_code == 200, r.text
    after = r.json()
    assert after["disposition"]["decision"] == "rejected" and after["disposition"]["by"] == "ola"
    assert after["version"] == before["version"] + 1 and after["prev_hash"] == build_chain.entries(
        batch.svc.store)[-2].hash
    assert batch.api.get(f"/api/v1/runs/{run_id}/record", headers=batch.viewer).json()["hash"] == after["hash"]
    said = batch.api.get("/api/v1/events", headers=batch.viewer, params={"actor": "ola"}).json()
    assert any(e["kind"] == "disposition" and e["run_id"] == run_id for e in said), said   # the audit trail
    numbers = batch.api.get("/api/v1/stats", headers=batch.viewer).json()
    assert numbers["rejected"] == 1 and numbers["good"] == len(_runs(batch, "completed")) - 1   # and the yield
    queued = batch.api.post(f"/api/v1/runs/{run_id + 100}/disposition", headers=batch.operator, json=body)
    assert queued.status_code == 404


def test_records_export_and_verify_and_any_change_is_named(batch: Batch, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "export"
    said = _export(batch, out, capsys)
    records = sorted((out / "records").glob("*.json"))
    started = [r for r in jobs.list_runs(batch.svc.store, job_id=batch.job_id) if r.started_at is not None]
    assert {p.name.split(".")[0] for p in records} == {serial_of(r) for r in started}
    assert "records" in said and build_chain.head_hash(batch.svc.store) in said
    photos = sorted((out / "photos").rglob("layer_*.jpg"))
    assert photos and all(p.parent.name in {q.name.split(".")[0] for q in records} for p in photos)
    assert _verify(out, capsys)[0] == 0

    photo_changed = tmp_path / "photo"
    shutil.copytree(out, photo_changed)
    victim = min((photo_changed / "photos").rglob("layer_0002.jpg"))
    raw = bytearray(victim.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    victim.write_bytes(bytes(raw))
    code, lines = _verify(photo_changed, capsys)
    rel = victim.relative_to(photo_changed).as_posix()
    assert code != 0 and [ln for ln in lines if ln.startswith(rel)] == [f"{rel}: " + lines[0].split(": ", 1)[1]]
    assert "content changed" in lines[0] and len(lines) == 2   # the difference and the summary

    field_changed = tmp_path / "field"
    shutil.copytree(out, field_changed)
    target = next(p for p in sorted((field_changed / "records").glob("*.json")) if ".v" not in p.name)
    rec: dict[str, Any] = json.loads(target.read_text())
    rec["layers"][1]["verdict"] = "spaghetti" if rec["layers"][1]["verdict"] == "ok" else "ok"
    target.write_text(json.dumps(rec))
    code, lines = _verify(field_changed, capsys)
    assert code != 0 and lines[:-1] == [f"records/{target.name}: field layers[1].verdict changed"]

    forged = tmp_path / "forged"     # the field changed and the record's digests and hash made again
    shutil.copytree(field_changed, forged)
    target = forged / "records" / target.name
    rec = json.loads(target.read_text())
    rec["field_sha256"] = build_chain.field_digests(rec)
    rec["hash"] = build_chain.record_hash(rec)
    target.write_text(json.dumps(rec))
    code, lines = _verify(forged, capsys)
    assert code != 0 and lines[:-1] == [
        f"records/{target.name}: field hash differs from chain.json entry {rec['seq']}"]


def _pdf_pages(pdf: bytes, folder: Path) -> list[np.ndarray]:
    """The PDF drawn by pdftoppm at 100 dpi, one BGR image per page."""
    (folder / "r.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "100", "-png", str(folder / "r.pdf"), str(folder / "page")], check=True,
                   timeout=60)
    pages = [cv2.imread(str(p)) for p in sorted(folder.glob("page-*.png"))]
    assert all(p is not None for p in pages)
    return pages


def _is(page: np.ndarray, hex_colour: str) -> np.ndarray:
    """Where the page has this colour."""
    bgr = np.array([int(hex_colour[i:i + 2], 16) for i in (5, 3, 1)])
    return np.abs(page.astype(int) - bgr).sum(axis=2) < 30


def _strip_rows(page: np.ndarray, ok: int, failed: int, unchecked: int) -> list[int]:
    """Rows of the page crossing the verdict strip: `ok` green layers, then `failed` red, then grey unchecked
    ones, each bar 1/n of the strip's 186 mm (at 100 dpi)."""
    bar = 186 / 25.4 * 100 / (ok + failed + unchecked)
    green, red, grey = _is(page, COLOURS["ok"]), _is(page, COLOURS["failed"]), _is(page, COLOURS["unchecked"])
    rows = []
    for y in range(page.shape[0]):
        g, r, u = (np.flatnonzero(m[y]) for m in (green, red, grey))
        if (abs(len(g) - ok * bar) < bar / 2 and abs(len(r) - failed * bar) < bar / 2
                and abs(len(u) - unchecked * bar) < bar / 2 and g.max() < r.min() and r.max() < u.min()):
            rows.append(y)
    return rows


def test_the_report_shows_the_part_the_verdict_strip_and_the_failed_layer_photo(batch: Batch, tmp_path: Path
                                                                                ) -> None:
    run_id = _caught(batch)
    rec = batch.api.get(f"/api/v1/runs/{run_id}/record", headers=batch.viewer).json()
    r = batch.api.get(f"/api/v1/runs/{run_id}/record.pdf", headers=batch.viewer)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    (page,) = _pdf_pages(r.content, tmp_path)
    text = subprocess.run(["pdftotext", str(tmp_path / "r.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert f"Part {rec['serial']}" in text and rec["gcode"]["sha256"][:32] in text.replace("\n", "")
    failed = next(la for la in rec["layers"] if not la["ok"])
    ok_layers = sum(1 for la in rec["layers"] if la["ok"])
    assert ok_layers == failed["layer"], "the sim's fault fails the first layers after the sound ones"
    strip = _strip_rows(page, ok_layers, 1, rec["outcome"]["layer_count"] - ok_layers - 1)
    assert len(strip) >= 20, "the verdict strip: green layers, then the red failed one, then grey unchecked ones"
    checks = history.list_layer_checks(batch.svc.store, run_id=run_id)
    shown = next(c.annotated_path or c.image_path for c in checks if c.layer == failed["layer"] and not c.ok)
    assert f"layer {failed['layer'] + 1}: {failed['verdict']}" in text
    photo = cv2.imread(str(shown))
    assert thumbnail(Path(str(shown))) is not None
    # where the page shows the failed layer's photo: find it at the size it is drawn (58 mm at 100 dpi)
    width = round(58 / 25.4 * 100)
    small = cv2.resize(photo, (width, round(photo.shape[0] * width / photo.shape[1])), interpolation=cv2.INTER_AREA)
    match = cv2.matchTemplate(page, small, cv2.TM_CCOEFF_NORMED)
    _, best, _, (x, y) = cv2.minMaxLoc(match)
    assert best > 0.8, f"the failed layer's photo is not on the page (best match {best:.2f})"
    region = page[y:y + small.shape[0], x:x + small.shape[1]]
    assert region.std() > 10 and region.mean() < 240, "the photo region is blank"

    batch_pdf = batch.api.get(f"/api/v1/jobs/{batch.job_id}/report.pdf", headers=batch.viewer)
    assert batch_pdf.status_code == 200
    (tmp_path / "batch").mkdir()
    pages = _pdf_pages(batch_pdf.content, tmp_path / "batch")
    started = [r for r in jobs.list_runs(batch.svc.store, job_id=batch.job_id) if r.started_at is not None]
    assert len(pages) == 1 + len(started)
    html = batch.api.get(f"/api/v1/jobs/{batch.job_id}/report.html", headers=batch.viewer).text
    assert "Good parts" in html and all(serial_of(r) in html for r in started)


def test_the_dashboard_links_each_copys_record_and_the_jobs_report(batch: Batch) -> None:
    from playwright.sync_api import expect, sync_playwright

    from controller.api.live import LiveServer
    from tests.test_dashboard import ARGS, CHROMIUM

    started = [r for r in jobs.list_runs(batch.svc.store, job_id=batch.job_id) if r.started_at is not None]
    server = LiveServer(create_app(batch.svc, run_fleet=False)).start()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                page = browser.new_page()
                page.goto(f"{server.url}/?key={KEY}")
                row = page.locator(f'#jobs tr[data-job="{batch.job_id}"]')
                expect(row.locator("a.report")).to_be_visible(timeout=30_000)
                row.locator('button[data-action="history"]').click()
                links = page.locator("#timelapses a.record")
                expect(links).to_have_count(len(started), timeout=30_000)
                for i in range(len(started)):
                    got = page.request.get(server.url + str(links.nth(i).get_attribute("href")))
                    assert got.ok and got.headers["content-type"] == "application/pdf"
                    assert got.body().startswith(b"%PDF")
                report = page.request.get(server.url + str(row.locator("a.report").get_attribute("href")))
                assert report.ok and report.body().startswith(b"%PDF")
            finally:
                browser.close()
    finally:
        server.stop()
