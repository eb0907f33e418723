"""A seeded lab history of a few hundred copies on three printers over three days, written straight into the store,
kept beside it as plain Python lists so tests can work out the figures their own way."""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from controller.store.db import Store
from controller.store.disposition import DispositionRow
from controller.store.models import EventRow, FileRow, JobRow, PrinterRow, RunRow
from controller.store.users import JobSubmitterRow

T0 = datetime(2026, 11, 30, tzinfo=UTC).timestamp()   # a Monday, 00:00 UTC
DAYS = 3
PRINTERS = ("mk3-a", "mk3-b", "mk4-c")
USERS = ("sam", "kim", None)
OBJECTS = ("part_a", "part_b")


@dataclass
class SeedJob:
    """A job and its G-code's E length per layer: (part_a, part_b, no object)."""

    id: int
    name: str
    user: str | None
    e: list[tuple[float, float, float]]
    copies: int = 0


@dataclass
class SeedRun:
    """A copy as seeded."""

    id: int
    job: SeedJob
    copy_index: int
    printer: str | None
    state: str
    created: float
    started: float | None = None
    finished: float | None = None
    layer: int = -1
    failed_layer: int | None = None
    objects: list[str] = field(default_factory=list)
    verdicts: list[str] = field(default_factory=list)   # operators' dispositions, in order


@dataclass
class History:
    """What was seeded: jobs, copies and, per printer, its (time, state) changes ("out"/"back" of rotation)."""

    jobs: list[SeedJob]
    runs: list[SeedRun]
    changes: dict[str, list[tuple[float, str]]]


def gcode_text(e: list[tuple[float, float, float]]) -> str:
    """A G-code file of two labelled objects (M486) and an unlabelled skirt, relative E, extruding exactly `e`."""
    out = ["M83", "G28", f'M486 S0 A"{OBJECTS[0]}"', f'M486 S1 A"{OBJECTS[1]}"', "M486 S-1"]
    for k, (a, b, n) in enumerate(e):
        out += [f";LAYER:{k}", f"G1 Z{0.2 * (k + 1):.1f} F600", "G1 X50 Y50 F3000", f"G1 X60 Y50 E{n}",
                "M486 S0", "G1 X10 Y10", f"G1 X20 Y10 E{a}", "M486 S-1", "M486 S1", "G1 X30 Y30",
                f"G1 X40 Y30 E{b}", "M486 S-1"]
    return "\n".join(out) + "\nG1 X0 Y200\n"


def _jobs(rng: random.Random, folder: Path) -> list[SeedJob]:
    """Twelve jobs over three G-code files of 4-9 layers."""
    files = []
    for i in range(3):
        e = [(round(rng.uniform(100, 900), 2), round(rng.uniform(100, 900), 2), round(rng.choice([0, 20, 35]), 2))
             for _ in range(rng.randint(4, 9))]
        path = folder / f"part{i}.gcode"
        path.write_text(gcode_text(e))
        files.append((path, e))
    return [SeedJob(j + 1, str(files[j % 3][0]), USERS[j % 3], files[j % 3][1]) for j in range(12)]


def _printer_day(rng: random.Random, name: str, jobs: list[SeedJob], runs: list[SeedRun],
                 changes: list[tuple[float, str]]) -> None:
    """One printer's three days: connecting, offline spells, maintenance, and copy after copy."""
    t = T0 + 60 * rng.randint(1, 30)
    changes.append((t, "idle"))
    end = T0 + DAYS * 86400
    while t < end - 4 * 3600:
        roll = rng.random()
        if roll < 0.05:
            changes += [(t, "offline"), (t + 60 * rng.randint(5, 90), "idle")]
            t = changes[-1][0] + 60
            continue
        if roll < 0.08:
            changes += [(t, "out"), (t + 60 * rng.randint(10, 120), "back")]
            t = changes[-1][0] + 60
            continue
        job = rng.choice(jobs)
        run = SeedRun(len(runs) + 1, job, job.copies, name, rng.choices(
            ("completed", "failed", "cancelled", "interrupted"), (70, 15, 10, 5))[0],
            created=max(T0, t - 60 * rng.randint(0, 180)), started=t)
        job.copies += 1
        if rng.random() < 0.1:
            run.objects = [OBJECTS[1]]
        layers = len(job.e)
        changes.append((t, "printing"))
        dur = 60 * rng.randint(8, 40)
        if rng.random() < 0.15:
            p = t + 60 * rng.randint(1, 5)
            changes += [(p, "paused"), (p + 60 * rng.randint(1, 20), "printing")]
            dur += changes[-1][0] - p
        run.finished = t + dur
        run.layer = layers - 1 if run.state == "completed" else rng.randint(-1, layers - 2)
        if run.state == "failed":
            run.failed_layer = max(0, run.layer)
        if run.state == "completed":
            run.verdicts = rng.choice([[]] * 7 + [["rejected"], ["accepted"], ["rejected", "accepted"]])
        runs.append(run)
        waits = "needs_attention" if run.state == "failed" and rng.random() < 0.5 else "awaiting_clear"
        changes += [(run.finished, waits), (run.finished + 60 * rng.randint(1, 20), "idle")]
        t = changes[-1][0] + 60 * rng.randint(0, 15)


def seed(store: Store, folder: Path, seed_value: int = 15) -> History:
    """Write the history into `store` (printers, files, jobs, copies, submitters, state and verdict events)."""
    rng = random.Random(seed_value)
    jobs = _jobs(rng, folder)
    runs: list[SeedRun] = []
    changes: dict[str, list[tuple[float, str]]] = {}
    for name in PRINTERS:
        changes[name] = []
        _printer_day(rng, name, jobs, runs, changes[name])
    last = T0 + DAYS * 86400 - 3600
    runs.append(SeedRun(len(runs) + 1, jobs[0], jobs[0].copies, PRINTERS[0], "printing", last - 600, last))
    for k in range(3):
        runs.append(SeedRun(len(runs) + 1, jobs[1], jobs[1].copies + k, None, "queued", last - 60 * k))
    _write(store, jobs, runs, changes)
    return History(jobs, runs, changes)


def _write(store: Store, jobs: list[SeedJob], runs: list[SeedRun], changes: dict[str, list[tuple[float, str]]]) -> None:
    """The seeded lists as rows."""
    with store.session() as s:
        ids = {}
        for name in PRINTERS:
            row = PrinterRow(name=name, port=f"/dev/null-{name}", baud=115200, on_failure="pause", state="idle",
                             message="", removed=False, created_at=T0)
            s.add(row)
            s.flush()
            ids[name] = row.id
        for job in jobs:
            f = FileRow(name=Path(job.name).name, path=job.name, kind="gcode", size=1, sha256="0" * 64, created_at=T0)
            s.add(f)
            s.flush()
            jrow = JobRow(file_id=f.id, name=Path(job.name).name, copies=max(1, job.copies), priority=0,
                          printers=[], state="printing", gcode_path=job.name, layer_count=len(job.e), message="",
                          created_at=T0)
            s.add(jrow)
            s.flush()
            job.id = jrow.id
            if job.user:
                s.add(JobSubmitterRow(job_id=job.id, user=job.user))
        s.flush()
        for r in runs:
            rrow = RunRow(job_id=r.job.id, copy_index=r.copy_index,
                          printer_id=ids[r.printer] if r.printer else None, state=r.state, excluded=[], layer=r.layer,
                          layer_count=len(r.job.e), failed_layer=r.failed_layer, message="", created_at=r.created,
                          started_at=r.started, finished_at=r.finished, objects=r.objects, skipped=[])
            s.add(rrow)
            s.flush()
            r.id = rrow.id
        for r in runs:
            for k, verdict in enumerate(r.verdicts):
                s.add(DispositionRow(run_id=r.id, decision=verdict, reason="seeded", actor="sam",
                                     t=(r.finished or 0) + 600 * (k + 1)))
        kinds = {"out": "out_of_rotation", "back": "back_in_rotation"}
        for name, seq in changes.items():
            for t, state in seq:
                s.add(EventRow(kind=kinds.get(state, "printer"), printer=name, t=t, message=f"{name} is {state}",
                               data={} if state in kinds else {"state": state}, actor=f"printer:{name}"))
