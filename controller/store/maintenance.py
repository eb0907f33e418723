"""Maintenance: printers an operator took out of rotation (with a reason, by whom, since when); the queue gives
them no copies until they are put back."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Float, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from controller.errors import ConflictError
from controller.store.db import Store
from controller.store.models import Base
from controller.store.records import Record


class OutOfRotationRow(Base):
    """A printer the queue skips."""

    __tablename__ = "out_of_rotation"
    printer: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    by: Mapped[str] = mapped_column(String(128))
    since: Mapped[float] = mapped_column(Float)


@dataclass(frozen=True)
class OutOfRotation(Record):
    """Why and since when a printer takes no copies."""

    printer: str
    reason: str
    by: str
    since: float


def take_out(store: Store, printer: str, reason: str, by: str, t: float) -> OutOfRotation:
    """Take a printer out of rotation (ConflictError if it is out already)."""
    with store.session() as s:
        if s.get(OutOfRotationRow, printer) is not None:
            raise ConflictError(f"printer {printer!r} is out of rotation already")
        s.add(OutOfRotationRow(printer=printer, reason=reason, by=by, since=t))
    return OutOfRotation(printer, reason, by, t)


def put_back(store: Store, printer: str) -> None:
    """Put a printer back in rotation (ConflictError if it was not out)."""
    with store.session() as s:
        row = s.get(OutOfRotationRow, printer)
        if row is None:
            raise ConflictError(f"printer {printer!r} is in rotation")
        s.delete(row)


def out_of_rotation(store: Store) -> list[OutOfRotation]:
    """Every printer out of rotation, by name."""
    with store.session() as s:
        rows = s.scalars(select(OutOfRotationRow).order_by(OutOfRotationRow.printer))
        return [OutOfRotation(r.printer, r.reason, r.by, r.since) for r in rows]


def is_out(s: Session, printer: str) -> bool:
    """In an open session: is this printer out of rotation? (The queue asks before it gives a copy.)"""
    return s.get(OutOfRotationRow, printer) is not None
