"""SQLAlchemy 2 tables: a job asks for N copies of a file; each copy is printed by a run on one printer."""
from __future__ import annotations

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base of the printloop schema."""


class PrinterRow(Base):
    """A printer known to the service (from the config or added through the API)."""

    __tablename__ = "printers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    port: Mapped[str] = mapped_column(String(512))
    baud: Mapped[int] = mapped_column(Integer, default=115200)
    camera: Mapped[str | None] = mapped_column(String(512), nullable=True)
    profile: Mapped[str | None] = mapped_column(String(512), nullable=True)
    on_failure: Mapped[str] = mapped_column(String(16), default="pause")
    state: Mapped[str] = mapped_column(String(32), default="offline")
    message: Mapped[str] = mapped_column(Text, default="")
    removed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float] = mapped_column(Float)
    host: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)  # the host that drives it
    # capabilities (from the config): nozzle mm, materials it may print ([] = any), tags, bed [x, y, z] mm
    nozzle: Mapped[float | None] = mapped_column(Float, nullable=True)
    materials: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")
    tags: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")
    bed: Mapped[list | None] = mapped_column(JSON, nullable=True)
    spool_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the loaded spool (ours or Spoolman's)


class FileRow(Base):
    """An uploaded G-code or mesh file stored under the data directory."""

    __tablename__ = "files"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(String(1024))
    kind: Mapped[str] = mapped_column(String(16))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float)


class JobRow(Base):
    """A request for N copies of a file, with a priority; meshes are sliced first."""

    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("files.id"))
    name: Mapped[str] = mapped_column(String(255))
    copies: Mapped[int] = mapped_column(Integer, default=1)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    profile: Mapped[str | None] = mapped_column(String(512), nullable=True)
    printers: Mapped[list] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(16))
    slice_progress: Mapped[float] = mapped_column(Float, default=0.0)
    gcode_path: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    layer_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[float] = mapped_column(Float)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    # what the job asks of a printer: {material, colour, nozzle, tags}
    requires: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")
    # filament per copy from the job plan: {mm, objects: {name: mm}, reach: [x, y, z]} (see farm/matching.py)
    needs: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")
    waiting: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")  # printer -> why it did not take it


class RunRow(Base):
    """One copy of a job printed (or waiting to be printed) on one printer."""

    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), index=True)
    copy_index: Mapped[int] = mapped_column(Integer)
    printer_id: Mapped[int | None] = mapped_column(ForeignKey("printers.id"), nullable=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    excluded: Mapped[list] = mapped_column(JSON, default=list)
    layer: Mapped[int] = mapped_column(Integer, default=-1)
    layer_count: Mapped[int] = mapped_column(Integer, default=0)
    percent: Mapped[float] = mapped_column(Float, default=0.0)
    failed_layer: Mapped[int | None] = mapped_column(Integer, nullable=True)
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[float] = mapped_column(Float)
    started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    objects: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")  # only these objects; [] = all
    skipped: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")  # dropped while printing
    replaces: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), nullable=True)  # the run it remakes
    spool_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)  # the spool it printed from
    used_g: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")     # filament deducted so far


class SpoolRow(Base):
    """A spool of filament in printloop's own spool store (a lab running Spoolman keeps its spools there)."""

    __tablename__ = "spools"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    material: Mapped[str] = mapped_column(String(32))
    brand: Mapped[str] = mapped_column(String(64), default="")
    colour: Mapped[str] = mapped_column(String(32), default="")
    diameter: Mapped[float] = mapped_column(Float)      # mm
    density: Mapped[float] = mapped_column(Float)       # g/cm³
    lot: Mapped[str] = mapped_column(String(64), default="")
    initial_g: Mapped[float] = mapped_column(Float)
    remaining_g: Mapped[float] = mapped_column(Float)
    cost_per_kg: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[float] = mapped_column(Float)


class EventRow(Base):
    """Something that happened to a job or printer, in order."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"), nullable=True, index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), nullable=True)
    printer: Mapped[str | None] = mapped_column(String(64), nullable=True)
    t: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    # who or what caused it: a user's name, key:NAME, service:queue|vision|timeout, printer:NAME
    actor: Mapped[str] = mapped_column(String(128), server_default="unknown", index=True)


class LayerCheckRow(Base):
    """The camera check of one layer of a run: verdict, figures and where its images are."""

    __tablename__ = "layer_checks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    layer: Mapped[int] = mapped_column(Integer)
    ok: Mapped[bool] = mapped_column(Boolean)
    verdict: Mapped[str] = mapped_column(String(32))
    figures: Mapped[dict] = mapped_column(JSON, default=dict)
    image_path: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    annotated_path: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    t: Mapped[float] = mapped_column(Float)


class TemperatureRow(Base):
    """A sampled temperature reading of one printer."""

    __tablename__ = "temperatures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    printer_id: Mapped[int] = mapped_column(ForeignKey("printers.id"))
    t: Mapped[float] = mapped_column(Float)
    hotend: Mapped[float] = mapped_column(Float)
    hotend_target: Mapped[float] = mapped_column(Float)
    bed: Mapped[float] = mapped_column(Float)
    bed_target: Mapped[float] = mapped_column(Float)


Index("ix_temperatures_printer_t", TemperatureRow.printer_id, TemperatureRow.t)


# -- a farm of hosts sharing one database (controller/store/hosts.py, controller/store/commands_queue.py) ----------
class HostRow(Base):
    """A `printloop serve` host sharing the database: its name and when it last said it was alive."""

    __tablename__ = "hosts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    url: Mapped[str | None] = mapped_column(String(512), nullable=True)
    started_at: Mapped[float] = mapped_column(Float)
    last_heartbeat: Mapped[float] = mapped_column(Float)


class CommandRow(Base):
    """A command for a printer sent through another host's API, waiting for the printer's own host."""

    __tablename__ = "commands"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host: Mapped[str] = mapped_column(String(64), index=True)
    printer: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    sent_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float)
    done_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    result: Mapped[str] = mapped_column(Text, default="")
