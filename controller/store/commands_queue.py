"""Commands for a printer driven by another host: written to the shared `commands` table and, on PostgreSQL,
announced with NOTIFY so the owner wakes at once; the owner takes them in order and records what it did."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select, text

from controller.store.db import Store, get_row
from controller.store.models import CommandRow
from controller.store.records import Record

CHANNEL = "printloop_commands"
ACTIONS = ("pause", "resume", "cancel", "clear_bed", "emergency_stop")


@dataclass(frozen=True)
class Command(Record):
    """One command for a printer, sent by one host to the host that drives the printer."""

    id: int
    host: str
    printer: str
    action: str
    sent_by: str
    created_at: float
    done_at: float | None
    result: str


def _command(row: CommandRow) -> Command:
    """ORM row to record."""
    return Command(row.id, row.host, row.printer, row.action, row.sent_by, row.created_at, row.done_at, row.result)


def send(store: Store, host: str, printer: str, action: str, sent_by: str, t: float) -> Command:
    """Queue `action` for `printer` on `host`; on PostgreSQL the owner is notified when this commits."""
    assert action in ACTIONS, action
    with store.session() as s:
        row = CommandRow(host=host, printer=printer, action=action, sent_by=sent_by, created_at=t, result="")
        s.add(row)
        s.flush()
        if s.get_bind().dialect.name == "postgresql":
            s.execute(text("SELECT pg_notify(:channel, :host)"), {"channel": CHANNEL, "host": host})
        return _command(row)


def take_pending(store: Store, host: str, handle: Callable[[Command], str], clock: Callable[[], float]) \
        -> list[Command]:
    """Run `handle(command) -> result text` on each of `host`'s pending commands in order, each marked done in
    the transaction that holds it (SKIP LOCKED: a command is handled once even by two takers)."""
    done: list[Command] = []
    while True:
        with store.session() as s:
            row = s.scalar(select(CommandRow).where(CommandRow.host == host, CommandRow.done_at.is_(None))
                           .order_by(CommandRow.id).limit(1).with_for_update(skip_locked=True))
            if row is None:
                return done
            row.result = handle(_command(row))
            row.done_at = clock()
            done.append(_command(row))


def get_command(store: Store, command_id: int) -> Command:
    """One command, as sent or as done."""
    with store.session() as s:
        return _command(get_row(s, CommandRow, command_id, "command"))
