"""Dispositions: an operator's decision on a finished copy, accepted (a good part) or rejected (scrap), with a
reason and who decided; the newest decision counts and every one is kept."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Float, ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from controller.errors import ConflictError
from controller.store.db import Store, get_row
from controller.store.models import Base, RunRow
from controller.store.records import RUN_FINAL, Record

DECISIONS = ("accepted", "rejected")


class DispositionRow(Base):
    """One decision on one run."""

    __tablename__ = "dispositions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(128))
    t: Mapped[float] = mapped_column(Float)


@dataclass(frozen=True)
class Disposition(Record):
    """An operator's decision on a copy."""

    run_id: int
    decision: str
    reason: str
    actor: str
    t: float


def decide(store: Store, run_id: int, decision: str, reason: str, actor: str, t: float) -> Disposition:
    """Record a decision on a copy that has finished printing (ConflictError for one still queued or printing)."""
    if decision not in DECISIONS:
        raise ConflictError(f"a disposition is one of {', '.join(DECISIONS)}, not {decision!r}")
    with store.session() as s:
        run = get_row(s, RunRow, run_id, "run")
        if run.state not in RUN_FINAL or run.started_at is None:
            raise ConflictError(f"run {run_id} is {run.state}: only a copy that was printed and has ended can be "
                                "accepted or rejected")
        s.add(DispositionRow(run_id=run_id, decision=decision, reason=reason, actor=actor, t=t))
    return Disposition(run_id, decision, reason, actor, t)


def latest_decision(store: Store, run_id: int) -> Disposition | None:
    """The newest decision on a run, or None while nobody decided."""
    with store.session() as s:
        row = s.scalar(select(DispositionRow).where(DispositionRow.run_id == run_id)
                       .order_by(DispositionRow.id.desc()).limit(1))
        return Disposition(row.run_id, row.decision, row.reason, row.actor, row.t) if row is not None else None
