"""Spools: printloop's own spool store, the spool loaded on each printer and the grams each run used.

Where a lab runs Spoolman, its spools live there instead (controller/store/spoolman.py, the same `SpoolStore`
interface); which spool is loaded on which printer, and what each run used, are kept here either way.
"""
from __future__ import annotations

import dataclasses
from typing import Protocol

from sqlalchemy import select

from controller.errors import ConflictError, NotFoundError
from controller.store.db import Store, get_row
from controller.store.models import PrinterRow, RunRow, SpoolRow
from controller.store.records import Printer, Spool


@dataclasses.dataclass(frozen=True)
class NewSpool:
    """A spool to add: what it is, its net filament weight and its price."""

    material: str
    diameter: float
    density: float
    weight_g: float
    colour: str = ""
    brand: str = ""
    lot: str = ""
    cost_per_kg: float = 0.0


class SpoolStore(Protocol):
    """Where spools are kept: printloop's database (`LocalSpools`) or a Spoolman server (`SpoolmanSpools`)."""

    def add(self, new: NewSpool, t: float) -> Spool:
        """Add a spool; returns it with its id."""
        ...

    def get(self, spool_id: int) -> Spool:
        """One spool (NotFoundError when there is none with that id)."""
        ...

    def list(self) -> list[Spool]:
        """Every spool the store holds (Spoolman leaves its archived spools out)."""
        ...

    def use(self, spool_id: int, grams: float) -> Spool:
        """Take `grams` of filament off a spool's remaining weight; returns it after."""
        ...


def _spool(row: SpoolRow) -> Spool:
    """ORM row to record (where it is loaded is added by `placed`)."""
    return Spool(row.id, row.material, row.brand, row.colour, row.diameter, row.density, row.lot, row.initial_g,
                 row.remaining_g, row.cost_per_kg)


class LocalSpools:
    """Spools in printloop's own database."""

    def __init__(self, store: Store) -> None:
        """Keep spools in `store`."""
        self.store = store

    def add(self, new: NewSpool, t: float) -> Spool:
        """Add a full spool."""
        with self.store.session() as s:
            row = SpoolRow(material=new.material, brand=new.brand, colour=new.colour, diameter=new.diameter,
                           density=new.density, lot=new.lot, initial_g=new.weight_g, remaining_g=new.weight_g,
                           cost_per_kg=new.cost_per_kg, created_at=t)
            s.add(row)
            s.flush()
            return _spool(row)

    def get(self, spool_id: int) -> Spool:
        """One spool."""
        with self.store.session() as s:
            return _spool(get_row(s, SpoolRow, spool_id, "spool"))

    def list(self) -> list[Spool]:
        """Every spool, oldest first."""
        with self.store.session() as s:
            return [_spool(r) for r in s.scalars(select(SpoolRow).order_by(SpoolRow.id))]

    def use(self, spool_id: int, grams: float) -> Spool:
        """Deduct filament, in one transaction with the row locked (hosts sharing PostgreSQL never lose one)."""
        with self.store.session() as s:
            row = s.scalar(select(SpoolRow).where(SpoolRow.id == spool_id).with_for_update())
            if row is None:
                raise NotFoundError(f"no spool with id {spool_id}")
            row.remaining_g -= grams
            return _spool(row)


def loaded(store: Store) -> dict[int, str]:
    """Spool id -> the printer it is loaded on."""
    with store.session() as s:
        q = select(PrinterRow.spool_id, PrinterRow.name).where(PrinterRow.spool_id.is_not(None),
                                                                 PrinterRow.removed.is_(False))
        return {i: n for i, n in s.execute(q) if i is not None}


def placed(store: Store, spool: Spool) -> Spool:
    """The spool with the printer it is loaded on."""
    return dataclasses.replace(spool, printer=loaded(store).get(spool.id))


def load(store: Store, printer: str, spool_id: int | None) -> Printer:
    """Load a spool on a printer (None: unload it); a spool already on another printer is a conflict."""
    from controller.store.printers import get_printer

    with store.session() as s:
        row = s.scalar(select(PrinterRow).where(PrinterRow.name == printer, PrinterRow.removed.is_(False)))
        if row is None:
            raise NotFoundError(f"no printer named {printer!r}")
        if spool_id is not None:
            other = s.scalar(select(PrinterRow.name).where(PrinterRow.spool_id == spool_id,
                                                           PrinterRow.name != printer,
                                                           PrinterRow.removed.is_(False)))
            if other is not None:
                raise ConflictError(f"spool {spool_id} is loaded on {other}; unload it there first")
        row.spool_id = spool_id
    return get_printer(store, printer)


def set_used(store: Store, run_id: int, grams: float) -> None:
    """Record the filament a run has used so far (what has been deducted from its spool)."""
    with store.session() as s:
        row = s.get(RunRow, run_id)
        if row is not None:
            row.used_g = grams
