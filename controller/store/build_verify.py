"""Verification of an exported folder of build records (see controller.store.build_export), without the database:
the chain links up, every record hashes to what it and the chain say (a changed record names its changed fields),
and every photo, annotated photo and timelapse has the SHA-256 its record states. One line per difference, each
naming the file (relative to the folder) and, for a record, the field."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller.store.build_chain import GENESIS, changed_fields, record_hash
from controller.store.build_export import CHAIN_FILE, named_files, record_file
from controller.store.build_record import file_sha256


@dataclass(frozen=True)
class Verified:
    """The differences found (none: the folder holds), and how many records and files were checked."""

    differences: list[str]
    records: int
    files: int


def _load(path: Path) -> Any:
    """A JSON file's value, or None when it is missing or not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _chain_links(entries: list[dict[str, Any]], head: Any) -> list[str]:
    """Differences in the chain itself: places out of order, a link not following its predecessor, the head."""
    out: list[str] = []
    prev: Any = GENESIS
    for i, e in enumerate(entries, start=1):
        if e.get("seq") != i:
            out.append(f"{CHAIN_FILE}: entry {i} has seq {e.get('seq')!r}, expected {i}")
        if e.get("prev_hash") != prev:
            out.append(f"{CHAIN_FILE}: entry {i} ({e.get('serial')}) prev_hash does not follow the hash before it")
        prev = e.get("hash")
    if head != prev:
        out.append(f"{CHAIN_FILE}: head is not the hash of the last entry")
    return out


def _expected(entries: list[dict[str, Any]], job: Any) -> dict[str, dict[str, Any]]:
    """records/ file name -> chain entry, for every record version the export was to write."""
    newest = {e.get("run_id"): e.get("seq") for e in entries}
    return {record_file(str(e.get("serial")), int(e.get("version") or 0), newest[e.get("run_id")] == e.get("seq")): e
            for e in entries if job is None or e.get("job_id") == job}


def _record(rel: str, body: Any, entry: dict[str, Any] | None) -> list[str]:
    """Differences of one record: its fields against their digests, its hash, and its place in the chain."""
    if not isinstance(body, dict):
        return [f"{rel}: not a JSON record"]
    out = [f"{rel}: field {p} changed" for p in changed_fields(body)]
    if record_hash(body) != body.get("hash") and not out:
        out.append(f"{rel}: field hash does not match the record's content")
    if entry is None:
        return [*out, f"{rel}: not in {CHAIN_FILE}"]
    for key in ("hash", "prev_hash", "seq", "serial"):
        if body.get(key) != entry.get(key):
            out.append(f"{rel}: field {key} differs from {CHAIN_FILE} entry {entry.get('seq')}")
    return out


def _photos(root: Path, records: list[dict[str, Any]]) -> tuple[list[str], int]:
    """Differences of the files the records name, and files nobody names; returns them and how many were read."""
    out: list[str] = []
    named: dict[Path, str | None] = {}
    for body in records:
        folder = root / "photos" / str(body.get("serial"))
        for name, sha in named_files(body).items():
            named.setdefault(folder / name, sha)
    for path, sha in sorted(named.items()):
        rel = path.relative_to(root).as_posix()
        got = file_sha256(path)
        if got is None:
            out.append(f"{rel}: missing")
        elif got != sha:
            out.append(f"{rel}: content changed (sha256 {got[:16]}…, its record says {str(sha)[:16]}…)")
    photos = root / "photos"
    extra = sorted(p for p in photos.rglob("*") if p.is_file() and p not in named) if photos.is_dir() else []
    out += [f"{p.relative_to(root).as_posix()}: not named by any record" for p in extra]
    return out, len(named)


def verify(root: Path) -> Verified:
    """Check an exported folder: the chain, every record against its hash and the chain, every file it names."""
    chain = _load(root / CHAIN_FILE)
    if not isinstance(chain, dict) or not isinstance(chain.get("entries"), list):
        return Verified([f"{CHAIN_FILE}: missing or not a chain"], 0, 0)
    entries = chain["entries"]
    out = _chain_links(entries, chain.get("head"))
    expected = _expected(entries, chain.get("job"))
    folder = root / "records"
    present = {p.name: p for p in folder.glob("*.json")} if folder.is_dir() else {}
    out += [f"records/{name}: missing (seq {e.get('seq')} in {CHAIN_FILE})"
            for name, e in sorted(expected.items()) if name not in present]
    bodies = []
    for name, path in sorted(present.items()):
        body = _load(path)
        out += _record(f"records/{name}", body, expected.get(name))
        if isinstance(body, dict):
            bodies.append(body)
    photo_diffs, files = _photos(root, bodies)
    return Verified(out + photo_diffs, len(present), files)
