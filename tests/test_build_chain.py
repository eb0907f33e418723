"""The build records' chain without printers: sealing appends in order after the previous hash, the canonical
hash covers every field, `printloop verify` finds a removed, reordered or re-chained record, and the slicer,
version and nozzle are read from the headers of PrusaSlicer's, Cura's and printloop's G-code."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from controller.store import Store, build_chain, build_seal, disposition, history, jobs, printers
from controller.store.build_export import export
from controller.store.build_verify import verify
from slicing.gcode_origin import slicer_origin
from slicing.job_plan import plan_file
from tests.conftest import GCODE_SAMPLES


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    s = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    yield s
    s.close()


def _printed(store: Store, tmp_path: Path, copies: int = 3) -> list[int]:
    """A job of `copies` copies of the Cura sample printed (no camera) on printer p, each ended."""
    gcode = tmp_path / "cube.gcode"
    shutil.copyfile(GCODE_SAMPLES / "cube.cura.gcode", gcode)
    printers.upsert_printer(store, "p", "/dev/null", 115200, None, None, "pause", 0.0)
    f = jobs.add_file(store, "cube.gcode", str(gcode), "gcode", gcode.stat().st_size, "ab" * 32, 0.0)
    job = jobs.create_job(store, f.id, "cube.gcode", copies, 0, 0.0, gcode_path=str(gcode), layer_count=3)
    ids = []
    for i in range(copies):
        claimed = jobs.claim_next_run(store, "p", 10.0 * i)
        assert claimed is not None
        run = claimed[0]
        history.add_event(store, "started", "started", 10.0 * i, job_id=job.id, run_id=run.id, printer="p")
        history.add_layer_check(store, run.id, 0, True, "ok", 10.0 * i + 1, {"iou": 0.9})
        jobs.finish_run(store, run.id, "completed", 10.0 * i + 5)
        ids.append(run.id)
    return ids


def test_sealing_chains_each_ended_copy_after_the_one_before(store: Store, tmp_path: Path) -> None:
    ids = _printed(store, tmp_path)
    sealed = build_seal.seal_ready(store, 100.0)
    assert [r["run_id"] for r in sealed] == ids and [r["seq"] for r in sealed] == [1, 2, 3]
    assert sealed[0]["prev_hash"] == build_chain.GENESIS
    assert [r["prev_hash"] for r in sealed[1:]] == [r["hash"] for r in sealed[:-1]]
    assert all(r["hash"] == build_chain.record_hash(r) for r in sealed)
    assert build_seal.seal_ready(store, 200.0) == [], "a sealed record is sealed once"
    assert sealed[0]["gcode"]["slicer"] == "Cura_SteamEngine" and sealed[0]["gcode"]["slicer_version"] == "4.13.0"
    again = build_seal.dispose(store, ids[0], "accepted", "dimensions in tolerance", "ola", 300.0)
    assert again["seq"] == 4 and again["version"] == 2 and again["prev_hash"] == sealed[-1]["hash"]
    assert again["disposition"] == {"decision": "accepted", "reason": "dimensions in tolerance", "by": "ola",
                                    "at": "1970-01-01T00:05:00.000+00:00"}
    assert disposition.latest_decision(store, ids[0]) is not None


def test_the_hash_covers_every_field_and_names_the_changed_one(store: Store, tmp_path: Path) -> None:
    _printed(store, tmp_path, copies=1)
    (rec,) = build_seal.seal_ready(store, 100.0)
    for path, value in ((("printer", "name"), "q"), (("layers", 0, "figures"), {"iou": 0.1}),
                        (("gcode", "sha256"), "0" * 64), (("people", "submitted_by"), "eve")):
        changed = json.loads(json.dumps(rec))
        target = changed
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        assert build_chain.record_hash(changed) != rec["hash"]
        name = ".".join(str(k) for k in path).replace(".0.", "[0].")
        assert build_chain.changed_fields(changed) == [name]
    assert build_chain.changed_fields(rec) == []


def test_verify_finds_a_removed_reordered_or_rechained_record(store: Store, tmp_path: Path,
                                                              ) -> None:
    _printed(store, tmp_path)
    out = tmp_path / "out"
    made = export(store, out, 100.0)
    assert made.records == 3 and verify(out).differences == []
    names = sorted(p.name for p in (out / "records").glob("*.json"))

    gone = tmp_path / "gone"
    shutil.copytree(out, gone)
    (gone / "records" / names[1]).unlink()
    assert verify(gone).differences == [f"records/{names[1]}: missing (seq 2 in chain.json)"]

    swapped = tmp_path / "swapped"       # two entries of the chain exchanged
    shutil.copytree(out, swapped)
    chain = json.loads((swapped / "chain.json").read_text())
    chain["entries"][0], chain["entries"][1] = chain["entries"][1], chain["entries"][0]
    (swapped / "chain.json").write_text(json.dumps(chain))
    found = verify(swapped).differences
    assert "chain.json: entry 1 has seq 2, expected 1" in found
    assert any(line.startswith("chain.json: entry 1 (") and "prev_hash" in line for line in found)

    extra = tmp_path / "extra"
    shutil.copytree(out, extra)
    (extra / "photos" / "stray").mkdir(parents=True)
    (extra / "photos" / "stray" / "x.jpg").write_bytes(b"x")
    assert verify(extra).differences == ["photos/stray/x.jpg: not named by any record"]


@pytest.mark.parametrize(("sample", "slicer", "version", "nozzle"), [
    ("cube.prusa.gcode", "PrusaSlicer", "2.5.0", 0.4),
    ("cube.cura.gcode", "Cura_SteamEngine", "4.13.0", None),
])
def test_the_slicer_and_its_version_come_from_the_files_header(sample: str, slicer: str, version: str,
                                                               nozzle: float | None) -> None:
    origin = slicer_origin(plan_file(GCODE_SAMPLES / sample).header)
    assert (origin.slicer, origin.version, origin.nozzle_mm) == (slicer, version, nozzle)


def test_printloops_own_header_names_it_and_its_nozzle() -> None:
    from slicing.gcode_writer import header
    from slicing.profile import load_profile

    text = header(load_profile(None), 60.0, 100.0, 0.3, 1, (0, 0, 0, 1, 1, 1)) + "G1 X1 Y1 E1\n"
    origin = slicer_origin(plan_file_text(text))
    assert origin.slicer == "printloop" and origin.nozzle_mm == 0.4
    assert slicer_origin({"generator": "SuperSlicer v2.5.59", "print_settings_id": '"0.2mm QUALITY"',
                          "filament_settings_id": '""'}).profile == {"print": "0.2mm QUALITY"}


def plan_file_text(text: str) -> dict[str, str]:
    """The header the job plan reads from a G-code text."""
    from slicing.job_plan import plan

    return plan(text).header
