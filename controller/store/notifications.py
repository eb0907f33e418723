"""Every attempt to deliver a notification (Apprise target or webhook) and its outcome, for the technician to see."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Boolean, Float, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from controller.store.db import Store
from controller.store.models import Base
from controller.store.records import Record


class NotificationAttemptRow(Base):
    """One try at sending one notice to one target."""

    __tablename__ = "notification_attempts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    t: Mapped[float] = mapped_column(Float)
    event: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(512))   # the URL with any password or secret cut out
    event_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    attempt: Mapped[int] = mapped_column(Integer)
    ok: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[str] = mapped_column(Text, default="")
    seconds: Mapped[float] = mapped_column(Float)


@dataclass(frozen=True)
class NotificationAttempt(Record):
    """An attempt as the API shows it."""

    id: int
    t: float
    event: str
    target: str
    event_id: int | None
    attempt: int
    ok: bool
    detail: str
    seconds: float


def record_attempt(store: Store, t: float, event: str, target: str, event_id: int | None, attempt: int, ok: bool,
                   detail: str, seconds: float) -> None:
    """Keep one attempt."""
    with store.session() as s:
        s.add(NotificationAttemptRow(t=t, event=event, target=target, event_id=event_id, attempt=attempt, ok=ok,
                                     detail=detail, seconds=seconds))


def list_attempts(store: Store, limit: int = 200) -> list[NotificationAttempt]:
    """The newest attempts first."""
    with store.session() as s:
        rows = s.scalars(select(NotificationAttemptRow).order_by(NotificationAttemptRow.id.desc()).limit(limit))
        return [NotificationAttempt(r.id, r.t, r.event, r.target, r.event_id, r.attempt, r.ok, r.detail, r.seconds)
                for r in rows]
