"""Spools and printer capabilities: the matching rules, the spool API (printloop's own store and Spoolman's over
real HTTP), a job's requirements from its upload, and the Spoolman client against a Spoolman-shaped server."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from controller.api.app import create_app
from controller.config import parse_config
from controller.errors import NotFoundError
from controller.farm.matching import grams, needs_of, parse_requirements, refusal
from controller.farm.service import LabService
from controller.store.records import Capabilities, Spool
from controller.store.spoolman import SpoolmanError, SpoolmanSpools
from controller.store.spools import NewSpool
from slicing.job_plan import plan_file
from tests.conftest import GCODE_SAMPLES
from tests.sim_rig import small_part_gcode
from tests.spoolman_rig import SpoolmanServer

KEY = "spool-key"
ADMIN = {"X-Api-Key": KEY}
NEEDS = {"mm": 1000.0, "objects": {"": 10.0, "a": 495.0, "b": 495.0}, "reach": [120.0, 120.0, 2.0]}
PETG = Spool(7, "PETG", "Prusament", "black", 1.75, 1.27, "L1", 1000.0, 500.0, 30.0)
CAPS = Capabilities(0.6, ("PLA", "PETG"), ("enclosed", "rack A"), (250.0, 210.0, 210.0))


@pytest.mark.parametrize(("requires", "caps", "spool", "why"), [
    ({"material": "PETG", "nozzle": 0.6}, CAPS, PETG, None),
    ({"material": "petg", "colour": "Black", "tags": ["Enclosed"]}, CAPS, PETG, None),
    ({"material": "ASA"}, CAPS, PETG, "does not print ASA (only PLA, PETG)"),
    ({"nozzle": 0.4}, CAPS, PETG, "has a 0.6 mm nozzle; the job needs 0.4 mm"),
    ({"tags": ["enclosed", "dry box"]}, CAPS, PETG, "lacks the tag dry box"),
    ({"material": "PLA"}, CAPS, PETG, "has PETG loaded (spool 7); the job needs PLA"),
    ({"colour": "white"}, CAPS, PETG, "has black loaded (spool 7); the job needs white"),
    ({"material": "PETG"}, CAPS, None, "has no spool loaded; the job needs PETG"),
    ({}, CAPS, None, None),
    ({}, Capabilities(0.4, (), (), (100.0, 100.0, 100.0)), None,
     "the part reaches 120 × 120 × 2 mm, beyond its bed of 100 × 100 × 100 mm"),
])
def test_a_printer_takes_a_copy_only_when_it_and_its_spool_meet_every_requirement(requires, caps, spool, why) -> None:
    assert refusal(requires, caps, spool, NEEDS) == why


def test_a_copy_needing_more_than_the_spool_has_left_is_refused_saying_both_weights() -> None:
    need = grams(1000.0, 1.75, 1.27)
    low = Spool(3, "PETG", "", "black", 1.75, 1.27, "", 1000.0, need - 0.05, 30.0)
    assert refusal({}, CAPS, low, NEEDS) == f"spool 3 has {need - 0.05:.1f} g left; the copy needs {need:.1f} g"
    assert refusal({}, CAPS, low, NEEDS, objects=["a"]) is None     # a replacement of one object needs less


def test_grams_of_a_plan_are_its_net_filament_times_section_times_density(tmp_path: Path) -> None:
    from slicing.slicer import slice_file

    gcode = small_part_gcode(tmp_path)
    needs = needs_of(plan_file(gcode))
    assert math.isclose(grams(needs["mm"], 1.75, 1.24), needs["mm"] * math.pi * 0.875 ** 2 * 1.24 / 1000)
    stated = slice_file(tmp_path / "block.stl").filament_g        # the slicer's own figure, from its own sums
    assert math.isclose(grams(needs["mm"], 1.75, 1.24), stated, rel_tol=1e-6)
    assert math.isclose(sum(needs["objects"].values()), needs["mm"], rel_tol=1e-9)
    assert 0 < needs["reach"][2] <= 2.2


def test_a_printers_nozzle_and_bed_default_to_its_slicing_profiles(tmp_path: Path) -> None:
    prof = tmp_path / "mk4.toml"
    prof.write_text("nozzle_diameter = 0.6\nline_width = 0.65\nbed_x = 250.0\nbed_y = 210.0\nbed_z = 220.0\n")
    cfg = parse_config({"printers": [
        {"name": "a", "port": "/dev/a", "profile": str(prof), "materials": ["PETG"], "tags": ["enclosed"]},
        {"name": "b", "port": "/dev/b"},
        {"name": "c", "port": "/dev/c", "profile": str(prof), "nozzle": 0.8, "bed": [180, 180, 180]}]})
    assert cfg.printers[0].capabilities == Capabilities(0.6, ("PETG",), ("enclosed",), (250.0, 210.0, 220.0))
    assert cfg.printers[1].capabilities == Capabilities(0.4, (), (), None)
    assert cfg.printers[2].capabilities == Capabilities(0.8, (), (), (180.0, 180.0, 180.0))


def test_upload_fields_become_the_jobs_requirements() -> None:
    assert parse_requirements(" PETG ", "", 0.6, "enclosed, rack A,") == {
        "material": "PETG", "nozzle": 0.6, "tags": ["enclosed", "rack A"]}
    assert parse_requirements(None, None, None, None) == {}


@pytest.fixture()
def svc(tmp_path: Path) -> LabService:
    cfg = parse_config({"data_dir": str(tmp_path / "data"), "api_keys": [KEY], "printers": [
        {"name": "mk3-a", "port": "/dev/null-a", "nozzle": 0.6, "materials": ["PETG"], "tags": ["enclosed"],
         "bed": [250, 210, 210]},
        {"name": "mk3-b", "port": "/dev/null-b"}]})
    service = LabService(cfg)
    yield service
    service.stop()


def test_spools_are_added_read_loaded_and_unloaded_through_the_api(svc: LabService) -> None:
    with TestClient(create_app(svc, run_fleet=False)) as api:
        r = api.post("/api/v1/spools", headers=ADMIN, json={"material": "PETG", "colour": "black", "diameter": 1.75,
                                                            "density": 1.27, "lot": "L-0042", "weight_g": 1000,
                                                            "cost_per_kg": 29.9})
        assert r.status_code == 201, r.text
        spool = r.json()
        assert spool["remaining_g"] == 1000 and spool["lot"] == "L-0042" and spool["printer"] is None
        assert api.get(f"/api/v1/spools/{spool['id']}", headers=ADMIN).json() == spool
        assert api.get("/api/v1/spools/99", headers=ADMIN).status_code == 404
        r = api.post("/api/v1/printers/mk3-a/spool", headers=ADMIN, json={"spool_id": spool["id"]})
        assert r.status_code == 200 and r.json()["printer"] == "mk3-a"
        r = api.post("/api/v1/printers", headers=ADMIN, json={"name": "xl", "port": "/dev/null-x", "nozzle": 0.8,
                                                              "materials": ["PC"], "tags": ["enclosed"]})
        assert r.status_code == 201 and (r.json()["nozzle"], r.json()["materials"]) == (0.8, ["PC"])
        printer = api.get("/api/v1/printers/mk3-a", headers=ADMIN).json()
        assert printer["spool_id"] == spool["id"] and printer["nozzle"] == 0.6 and printer["tags"] == ["enclosed"]
        assert printer["materials"] == ["PETG"] and printer["bed"] == [250, 210, 210]
        r = api.post("/api/v1/printers/mk3-b/spool", headers=ADMIN, json={"spool_id": spool["id"]})
        assert r.status_code == 409 and "loaded on mk3-a" in r.json()["message"]
        assert api.post("/api/v1/printers/mk3-b/spool", headers=ADMIN, json={"spool_id": 99}).status_code == 404
        assert api.delete("/api/v1/printers/mk3-a/spool", headers=ADMIN).status_code == 200
        assert api.get("/api/v1/spools", headers=ADMIN).json()[0]["printer"] is None


def test_a_jobs_requirements_come_from_its_native_or_octoprint_upload(svc: LabService) -> None:
    data = (GCODE_SAMPLES / "cube.prusa.gcode").read_bytes()
    fields = {"material": "PETG", "colour": "black", "nozzle": "0.6", "tags": "enclosed,rack A"}
    with TestClient(create_app(svc, run_fleet=False)) as api:
        r = api.post("/api/v1/jobs", headers=ADMIN, files={"file": ("cube.gcode", data)}, data=fields)
        assert r.status_code == 201, r.text
        job = r.json()
        assert job["requires"] == {"material": "PETG", "colour": "black", "nozzle": 0.6, "tags": ["enclosed", "rack A"]}
        assert job["needs"]["mm"] > 1000 and set(job["needs"]) == {"mm", "objects", "reach"}
        r = api.post("/api/files/local", headers=ADMIN, files={"file": ("cube.gcode", data)},
                     data={"print": "true", **fields})
        assert r.status_code == 201, r.text
        assert api.get(f"/api/v1/jobs/{r.json()['job_id']}", headers=ADMIN).json()["requires"] == job["requires"]
        assert api.post("/api/v1/jobs", headers=ADMIN, files={"file": ("cube.gcode", data)},
                        data={"nozzle": "-1"}).status_code == 422


def test_spoolman_client_adds_reads_and_uses_spools_over_http() -> None:
    with SpoolmanServer() as server:
        client = SpoolmanSpools(server.url)
        try:
            a = client.add(NewSpool("PETG", 1.75, 1.27, 1000.0, "#1A2B3C", "Prusament", "L-7", 30.0), 0.0)
            b = client.add(NewSpool("PETG", 1.75, 1.27, 1000.0, "#1a2b3c", "Prusament", "L-8", 30.0), 0.0)
            assert len(server.state.vendors) == 1 and len(server.state.filaments) == 1   # found again, not re-added
            assert (a.material, a.brand, a.colour, a.lot, a.initial_g, a.remaining_g, a.cost_per_kg) == (
                "PETG", "Prusament", "#1a2b3c", "L-7", 1000.0, 1000.0, 30.0)
            used = client.use(a.id, 12.5)
            assert used.remaining_g == 987.5 and server.state.uses == [(a.id, 12.5)]
            assert server.state.spool_json(a.id)["used_weight"] == 12.5
            assert client.get(a.id) == used and {s.id for s in client.list()} == {a.id, b.id}
            named = client.add(NewSpool("PLA", 1.75, 1.24, 750.0, "galaxy black"), 0.0)
            assert named.colour == "galaxy black" and named.remaining_g == 750.0 and named.brand == ""
            with pytest.raises(NotFoundError):
                client.get(99)
        finally:
            client.close()
    with pytest.raises(SpoolmanError, match="did not answer"):
        SpoolmanSpools(server.url, timeout_s=1.0).get(a.id)


def test_with_spoolman_url_the_api_keeps_spools_in_spoolman(tmp_path: Path) -> None:
    with SpoolmanServer() as server:
        cfg = parse_config({"data_dir": str(tmp_path / "data"), "api_keys": [KEY], "spoolman_url": server.url,
                            "printers": [{"name": "mk3-a", "port": "/dev/null-a"}]})
        service = LabService(cfg)
        try:
            with TestClient(create_app(service, run_fleet=False)) as api:
                r = api.post("/api/v1/spools", headers=ADMIN, json={"material": "PLA", "colour": "#ffffff",
                                                                    "diameter": 1.75, "density": 1.24, "lot": "9",
                                                                    "weight_g": 500, "cost_per_kg": 20})
                assert r.status_code == 201, r.text
                sid = r.json()["id"]
                assert server.state.spools[sid]["lot_nr"] == "9" and server.state.spools[sid]["price"] == 10.0
                api.post("/api/v1/printers/mk3-a/spool", headers=ADMIN, json={"spool_id": sid}).raise_for_status()
                server.state.spools[sid]["used_weight"] = 120.0       # used by another printer Spoolman follows
                got = api.get(f"/api/v1/spools/{sid}", headers=ADMIN).json()
                assert got["remaining_g"] == 380.0 and got["printer"] == "mk3-a" and got["colour"] == "#ffffff"
        finally:
            service.stop()
