"""Store functions for printers and their temperature history."""
from __future__ import annotations

from sqlalchemy import select

from controller.errors import ConflictError, NotFoundError
from controller.store.db import Store
from controller.store.models import PrinterRow, TemperatureRow
from controller.store.records import Capabilities, Printer, TemperatureSample


def _printer(row: PrinterRow) -> Printer:
    """ORM row to record."""
    return Printer(row.id, row.name, row.port, row.baud, row.camera, row.profile, row.on_failure,
                   row.state, row.message, row.host, row.nozzle, list(row.materials or []), list(row.tags or []),
                   list(row.bed) if row.bed else None, row.spool_id)


def upsert_printer(store: Store, name: str, port: str, baud: int = 115200, camera: str | None = None,
                   profile: str | None = None, on_failure: str = "pause", t: float = 0.0,
                   host: str | None = None, caps: Capabilities | None = None) -> Printer:
    """Add a printer, or update the connection settings of one with that name (config reload); with `host`,
    that host drives it from now on; with `caps`, these are its capabilities from now on."""
    with store.session() as s:
        row = s.scalar(select(PrinterRow).where(PrinterRow.name == name))
        if row is None:
            row = PrinterRow(name=name, created_at=t, state="offline", message="")
            s.add(row)
        row.port, row.baud, row.camera, row.profile, row.on_failure = port, baud, camera, profile, on_failure
        row.removed = False
        if host is not None:
            row.host = host
        if caps is not None:
            row.nozzle, row.materials, row.tags = caps.nozzle, list(caps.materials), list(caps.tags)
            row.bed = list(caps.bed) if caps.bed else None
        s.flush()
        return _printer(row)


def add_printer(store: Store, name: str, port: str, baud: int = 115200, camera: str | None = None,
                profile: str | None = None, on_failure: str = "pause", t: float = 0.0,
                host: str | None = None, caps: Capabilities | None = None) -> Printer:
    """Add a new printer; a name already in use is a conflict."""
    with store.session() as s:
        row = s.scalar(select(PrinterRow).where(PrinterRow.name == name))
        if row is not None and not row.removed:
            raise ConflictError(f"a printer named {name!r} already exists")
    return upsert_printer(store, name, port, baud, camera, profile, on_failure, t, host, caps)


def remove_printer(store: Store, name: str) -> None:
    """Mark a printer removed; its history stays."""
    with store.session() as s:
        row = s.scalar(select(PrinterRow).where(PrinterRow.name == name, PrinterRow.removed.is_(False)))
        if row is None:
            raise NotFoundError(f"no printer named {name!r}")
        row.removed = True
        row.state = "offline"


def list_printers(store: Store, host: str | None = None) -> list[Printer]:
    """All printers not removed (only `host`'s when given), by name."""
    with store.session() as s:
        q = select(PrinterRow).where(PrinterRow.removed.is_(False)).order_by(PrinterRow.name)
        if host is not None:
            q = q.where(PrinterRow.host == host)
        return [_printer(r) for r in s.scalars(q)]


def get_printer(store: Store, name: str) -> Printer:
    """One printer by name."""
    with store.session() as s:
        row = s.scalar(select(PrinterRow).where(PrinterRow.name == name, PrinterRow.removed.is_(False)))
        if row is None:
            raise NotFoundError(f"no printer named {name!r}")
        return _printer(row)


def set_printer_state(store: Store, name: str, state: str, message: str = "") -> None:
    """Record a printer's state as it changes."""
    with store.session() as s:
        row = s.scalar(select(PrinterRow).where(PrinterRow.name == name))
        if row is not None:
            row.state, row.message = state, message


def add_temperature(store: Store, name: str, t: float, hotend: float, hotend_target: float,
                    bed: float, bed_target: float) -> None:
    """Append one temperature sample to a printer's history."""
    with store.session() as s:
        pid = s.scalar(select(PrinterRow.id).where(PrinterRow.name == name))
        if pid is not None:
            s.add(TemperatureRow(printer_id=pid, t=t, hotend=hotend, hotend_target=hotend_target,
                                 bed=bed, bed_target=bed_target))


def temperature_history(store: Store, name: str, since: float = 0.0, limit: int = 1000) -> list[TemperatureSample]:
    """A printer's temperature samples since a time, oldest first."""
    with store.session() as s:
        pid = s.scalar(select(PrinterRow.id).where(PrinterRow.name == name))
        if pid is None:
            raise NotFoundError(f"no printer named {name!r}")
        rows = s.scalars(select(TemperatureRow).where(TemperatureRow.printer_id == pid, TemperatureRow.t >= since)
                         .order_by(TemperatureRow.t.desc()).limit(limit))
        return [TemperatureSample(r.t, r.hotend, r.hotend_target, r.bed, r.bed_target) for r in rows][::-1]
