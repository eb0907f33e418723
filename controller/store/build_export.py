"""Export of build records to a folder an auditor can be handed:

    DIR/chain.json                      the whole chain: seq, serial, version, run, job, prev_hash, hash of each
    DIR/records/<serial>.json           each copy's newest sealed record (older versions: <serial>.v<N>.json)
    DIR/photos/<serial>/…               its layer photos, annotated photos and timelapse, as the records name them

`printloop verify DIR` (controller.store.build_verify) checks it without the database.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller.store import build_chain, build_record, build_seal, history
from controller.store.db import Store

CHAIN_FILE = "chain.json"


@dataclass(frozen=True)
class Exported:
    """What an export wrote: records, files beside them, the chain's head, and copies not sealed yet."""

    records: int
    files: int
    head: str
    unsealed: int


def record_file(serial: str, version: int, newest: bool) -> str:
    """The file name of a record version under records/."""
    return f"{serial}.json" if newest else f"{serial}.v{version}.json"


def _write_json(path: Path, value: Any) -> None:
    """A JSON file, indented for reading (verification re-hashes its content, not its bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def file_sources(store: Store, run_id: int) -> dict[str, Path]:
    """File name -> path of a run's photos and timelapse in the data directory."""
    checks = history.list_layer_checks(store, run_id=run_id)
    found = {Path(p).name: Path(p) for c in checks for p in (c.image_path, c.annotated_path) if p}
    folder = build_record.photo_folder(checks)
    if folder is not None:
        found.update({n: folder / n for n in build_record.TIMELAPSE_FILES})
    return found


def named_files(record: dict[str, Any]) -> dict[str, str | None]:
    """Every file a record names (photos, annotated photos, timelapse) with the SHA-256 it states."""
    out: dict[str, str | None] = {}
    for layer in record.get("layers") or []:
        for name_key, hash_key in (("photo", "photo_sha256"), ("annotated", "annotated_sha256")):
            if layer.get(name_key):
                out[str(layer[name_key])] = layer.get(hash_key)
    for f in (record.get("timelapse") or {}).get("files") or []:
        out[str(f["file"])] = f.get("sha256")
    return out


def _copy_files(store: Store, record: dict[str, Any], folder: Path) -> int:
    """Copy the files a record names into folder; returns how many were there to copy."""
    sources = file_sources(store, int(record["run_id"]))
    copied = 0
    for name in named_files(record):
        src = sources.get(name)
        if src is not None and src.is_file():
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, folder / name)
            copied += 1
    return copied


def export(store: Store, out: Path, now: float, job_id: int | None = None) -> Exported:
    """Seal what has settled, then write the chain, the records (of one job, or all) and their files."""
    build_seal.seal_ready(store, now)
    chain = build_chain.entries(store)
    newest = {e.run_id: e.seq for e in chain}
    chosen = [e for e in chain if job_id is None or e.job_id == job_id]
    _write_json(out / CHAIN_FILE, {"job": job_id, "head": chain[-1].hash if chain else build_chain.GENESIS,
                                   "entries": [{"seq": e.seq, "serial": e.serial, "version": e.version,
                                                "run_id": e.run_id, "job_id": e.job_id, "prev_hash": e.prev_hash,
                                                "hash": e.hash} for e in chain]})
    bodies = build_chain.bodies(store, [e.seq for e in chosen])
    files = 0
    for e in chosen:
        is_newest = newest[e.run_id] == e.seq
        _write_json(out / "records" / record_file(e.serial, e.version, is_newest), bodies[e.seq])
        if is_newest:
            files += _copy_files(store, bodies[e.seq], out / "photos" / e.serial)
    unsealed = len(build_seal.unsealed(store))
    return Exported(len(chosen), files, chain[-1].hash if chain else build_chain.GENESIS, unsealed)
