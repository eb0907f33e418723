"""The tamper-evident chain of build records: each sealed record is kept as its canonical JSON with `prev_hash`
(the hash of the record sealed before it, zeros for the first) and `hash` = SHA-256 of its canonical JSON without
`hash`; it also carries `field_sha256`, a short digest per field, so a changed record says which field changed.

Canonical JSON: keys sorted, no spaces, UTF-8, no NaN. The chain order is the order of sealing (`seq` 1, 2, …);
the database refuses a second record after the same hash (`prev_hash` is unique), so the chain never forks, even
with several hosts sealing at once on one PostgreSQL database.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, ForeignKey, Integer, String, Text, UniqueConstraint, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from controller.errors import ConflictError
from controller.store.db import Store
from controller.store.models import Base

GENESIS = "0" * 64
"""The `prev_hash` of the first record."""
DIGEST_DEPTH = 3     # field_sha256 names fields down to e.g. `layers[3].verdict`; deeper values are digested whole
DIGEST_HEX = 16      # 64 bits per field: enough to name the field (the record's own SHA-256 is the guard)
_RETRIES = 5


class BuildRecordRow(Base):
    """One sealed build record (a run's record, or a later version of it after a disposition)."""

    __tablename__ = "build_records"
    __table_args__ = (UniqueConstraint("run_id", "version"),)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)   # the chain's order
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    job_id: Mapped[int] = mapped_column(Integer, index=True)
    version: Mapped[int] = mapped_column(Integer)
    serial: Mapped[str] = mapped_column(String(64), index=True)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    body: Mapped[str] = mapped_column(Text)   # the canonical JSON, exactly as hashed (with `hash` added)
    sealed_at: Mapped[float] = mapped_column(Float)


@dataclass(frozen=True)
class ChainEntry:
    """Where a sealed record sits in the chain."""

    seq: int
    run_id: int
    job_id: int
    version: int
    serial: str
    prev_hash: str
    hash: str


def canonical(value: Any) -> bytes:
    """The canonical JSON of a value: sorted keys, no spaces, UTF-8 (NaN refused)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def plain(value: Any) -> Any:
    """A JSON value with non-finite floats as None and tuples as lists, so it can be hashed canonically."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def record_hash(body: dict[str, Any]) -> str:
    """SHA-256 (hex) of the record's canonical JSON without its `hash`."""
    return hashlib.sha256(canonical({k: v for k, v in body.items() if k != "hash"})).hexdigest()


def _walk(path: str, value: Any, depth: int, out: dict[str, str]) -> None:
    """Digest `value` at `path`, or each of its items while above DIGEST_DEPTH."""
    if depth < DIGEST_DEPTH and isinstance(value, dict) and value:
        for k, v in value.items():
            _walk(f"{path}.{k}" if path else str(k), v, depth + 1, out)
    elif depth < DIGEST_DEPTH and isinstance(value, list) and value and path:
        for i, v in enumerate(value):
            _walk(f"{path}[{i}]", v, depth + 1, out)
    else:
        out[path] = hashlib.sha256(canonical(value)).hexdigest()[:DIGEST_HEX]


def field_digests(body: dict[str, Any]) -> dict[str, str]:
    """A short digest of every field of a record (down to DIGEST_DEPTH), leaving out `hash` and the digests."""
    out: dict[str, str] = {}
    _walk("", {k: v for k, v in body.items() if k not in ("hash", "field_sha256")}, 0, out)
    return out


def changed_fields(body: dict[str, Any]) -> list[str]:
    """The fields of a record whose content no longer matches its `field_sha256` (changed, added or removed)."""
    stated = body.get("field_sha256")
    if not isinstance(stated, dict):
        return ["field_sha256"]
    now = field_digests(body)
    return sorted(p for p in set(stated) | set(now) if stated.get(p) != now.get(p))


def _entry(row: BuildRecordRow) -> ChainEntry:
    """ORM row to entry."""
    return ChainEntry(row.seq, row.run_id, row.job_id, row.version, row.serial, row.prev_hash, row.hash)


def append(store: Store, run_id: int, job_id: int, serial: str, body: dict[str, Any], t: float) -> dict[str, Any]:
    """Seal `body` as the next version of a run's record at the head of the chain; returns the sealed record.

    `seq`, `version`, `prev_hash`, `field_sha256` and `hash` are set here. A concurrent seal (another thread or
    host) that took the same place makes the database refuse this one; it is then placed after that one."""
    for _ in range(_RETRIES):
        try:
            with store.session() as s:
                head = s.scalar(select(BuildRecordRow).order_by(BuildRecordRow.seq.desc()).limit(1))
                version = int(s.scalar(select(func.max(BuildRecordRow.version))
                                       .where(BuildRecordRow.run_id == run_id)) or 0) + 1
                sealed = plain({**body, "seq": (head.seq + 1) if head else 1, "version": version,
                                "prev_hash": head.hash if head else GENESIS})
                sealed["field_sha256"] = field_digests(sealed)
                sealed["hash"] = record_hash(sealed)
                s.add(BuildRecordRow(seq=sealed["seq"], run_id=run_id, job_id=job_id, version=version,
                                     serial=serial, prev_hash=sealed["prev_hash"], hash=sealed["hash"],
                                     body=canonical(sealed).decode(), sealed_at=t))
            return sealed
        except IntegrityError:
            continue
    raise ConflictError(f"could not seal the record of run {run_id}: the chain kept moving ({_RETRIES} tries)")


def latest(store: Store, run_id: int) -> dict[str, Any] | None:
    """The newest sealed version of a run's record, or None when it is not sealed yet."""
    with store.session() as s:
        row = s.scalar(select(BuildRecordRow).where(BuildRecordRow.run_id == run_id)
                       .order_by(BuildRecordRow.version.desc()).limit(1))
        return json.loads(row.body) if row is not None else None


def entries(store: Store) -> list[ChainEntry]:
    """The whole chain, in order."""
    with store.session() as s:
        return [_entry(r) for r in s.scalars(select(BuildRecordRow).order_by(BuildRecordRow.seq))]


def bodies(store: Store, seqs: list[int]) -> dict[int, dict[str, Any]]:
    """The sealed records at the given places of the chain, by seq."""
    with store.session() as s:
        rows = s.scalars(select(BuildRecordRow).where(BuildRecordRow.seq.in_(seqs)))
        return {r.seq: json.loads(r.body) for r in rows}


def head_hash(store: Store) -> str:
    """The hash of the newest sealed record (GENESIS when there is none): what the next record follows."""
    with store.session() as s:
        return s.scalar(select(BuildRecordRow.hash).order_by(BuildRecordRow.seq.desc()).limit(1)) or GENESIS
