"""Hosts sharing one database: heartbeats, who is alive, printers without a host, and taking over the runs of a
host that has gone silent."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, text, update

from controller.errors import ConflictError
from controller.store.db import Store
from controller.store.jobs import interrupt_runs_in
from controller.store.models import HostRow, PrinterRow, RunRow
from controller.store.records import RUN_ACTIVE, Record, Run


@dataclass(frozen=True)
class Host(Record):
    """A host as the farm sees it: its last heartbeat (epoch s) and whether that is within the timeout."""

    name: str
    url: str | None
    started_at: float
    last_heartbeat: float
    alive: bool


def heartbeat(store: Store, name: str, t: float, url: str | None = None) -> None:
    """Say that host `name` is alive at `t` (the first beat registers it)."""
    with store.session() as s:
        row = s.scalar(select(HostRow).where(HostRow.name == name))
        if row is None:
            s.add(HostRow(name=name, url=url, started_at=t, last_heartbeat=t))
            return
        row.last_heartbeat = max(row.last_heartbeat, t)
        if url is not None:
            row.url = url


def list_hosts(store: Store, t: float, timeout_s: float) -> list[Host]:
    """Every host that ever beat, by name, alive when its last beat is less than `timeout_s` before `t`."""
    with store.session() as s:
        return [Host(r.name, r.url, r.started_at, r.last_heartbeat, t - r.last_heartbeat < timeout_s)
                for r in s.scalars(select(HostRow).order_by(HostRow.name))]


def claim_printer(store: Store, printer: str, host: str, t: float, timeout_s: float) -> None:
    """Make `host` the driver of a configured printer; ConflictError while another live host drives it."""
    with store.session() as s:
        row = s.scalar(select(PrinterRow).where(PrinterRow.name == printer).with_for_update())
        if row is None or row.host in (None, host):
            return
        other = s.scalar(select(HostRow).where(HostRow.name == row.host))
        if other is not None and t - other.last_heartbeat < timeout_s:
            raise ConflictError(f"printer {printer!r} is driven by host {row.host!r}, which is alive; take it out "
                                f"of that host's config (or stop that host) before giving it to {host!r}")


def adopt_printers(store: Store, host: str) -> list[str]:
    """Printers from before hosts (no host yet) become `host`'s; returns their names."""
    with store.session() as s:
        names = list(s.scalars(select(PrinterRow.name).where(PrinterRow.host.is_(None))))
        s.execute(update(PrinterRow).where(PrinterRow.host.is_(None)).values(host=host))
        return names


def silent_hosts(store: Store, me: str, t: float, timeout_s: float) -> list[str]:
    """Other hosts whose last heartbeat is `timeout_s` or more before `t` and whose printers still have a run
    printing or paused."""
    with store.session() as s:
        q = (select(HostRow.name).where(HostRow.name != me, HostRow.last_heartbeat <= t - timeout_s)
             .where(select(RunRow.id).join(PrinterRow, PrinterRow.id == RunRow.printer_id)
                    .where(PrinterRow.host == HostRow.name, RunRow.state.in_(RUN_ACTIVE)).exists())
             .order_by(HostRow.name))
        return list(s.scalars(q))


def take_over(store: Store, me: str, t: float, timeout_s: float) -> dict[str, list[Run]]:
    """Runs of every silent host become interrupted at their last confirmed layer and their copies are queued
    again, in one transaction holding the host's row (a late heartbeat waits for it; a second taker skips it);
    returns the interrupted runs by host."""
    out: dict[str, list[Run]] = {}
    for host in silent_hosts(store, me, t, timeout_s):
        with store.session() as s:
            if s.get_bind().dialect.name == "postgresql":   # a stopped host may hold a row: try again next round
                s.execute(text("SET LOCAL lock_timeout = '2s'"))
            row = s.scalar(select(HostRow).where(HostRow.name == host).with_for_update(skip_locked=True))
            if row is None or row.last_heartbeat > t - timeout_s:
                continue   # beating again, or another host is taking it over right now
            why = (f"host {host} fell silent (last heartbeat {t - row.last_heartbeat:.0f} s before); "
                   f"taken over by {me}")
            runs = interrupt_runs_in(s, t, host, why)
            if runs:
                s.execute(update(PrinterRow).where(PrinterRow.host == host, PrinterRow.id.in_(
                    select(RunRow.printer_id).where(RunRow.id.in_([r.id for r in runs])))).values(
                    state="needs_attention", message=f"{why}: check the bed before the next print"))
                out[host] = runs
    return out
