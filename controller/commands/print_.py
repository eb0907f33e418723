"""`printloop print FILE --port PORT`: stream a G-code file to a printer with a live progress bar (or JSON lines).

Ctrl-C pauses the job (moves in flight finish, head parks, heaters stay on) and asks whether to resume or cancel.
Exit code 0 only when the job completed.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from controller.errors import ControllerError
from controller.events import Event, EventBus
from controller.printer.job import Job, JobProgress
from controller.printer.layer_check import add_arguments, hook_from_args
from controller.printer.session import PrinterSession
from slicing.job_plan import plan_file

_REFRESH_S = 0.25


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `print` subcommand."""
    p = sub.add_parser("print", help="stream a G-code file to a printer",
                       description="Stream a G-code file to a Marlin-compatible printer on a serial port or URL.")
    p.add_argument("file", type=Path, help="G-code file")
    p.add_argument("--port", required=True, help="serial device or pyserial URL (/dev/ttyUSB0, socket://h:p)")
    p.add_argument("--baud", type=int, default=115200, help="baud rate (default 115200)")
    p.add_argument("--window", choices=("window", "ok"), default="window",
                   help="flow control: send ahead within the firmware's buffers (default), or one line per ok")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds without an answer before poking (10)")
    p.add_argument("--json", action="store_true", help="print one JSON progress object per line")
    add_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Connect, stream, show progress; Ctrl-C pauses and asks; 0 only when completed."""
    if not args.file.is_file():
        raise ControllerError(f"G-code file {args.file} not found")
    plan = plan_file(args.file)
    bus = EventBus()
    bus.subscribe(_json_event if args.json else _said_event, kinds=SHOWN_EVENTS, name="print")
    session = PrinterSession(args.port, args.baud, flow=args.window, timeout=args.timeout,
                             lost_after=max(60.0, 6 * args.timeout), bus=bus)
    info = session.connect()
    if not args.json:
        print(f"connected: {info.name} on {args.port}", file=sys.stderr)
    check = hook_from_args(args, plan, lambda msg: print(msg, file=sys.stderr, flush=True))
    if check is not None and args.json:
        said = check.on_verdict

        def verdict_line(verdict: Any) -> None:
            if said is not None:
                said(verdict)
            with _OUT:  # every layer's verdict, with each copy's when the plate has several
                print(json.dumps({"event": "verdict", **verdict.to_dict()}), flush=True)
        check.on_verdict = verdict_line
    if check is not None:
        check.photograph_bed()  # the bare bed, before anything is printed: what every layer is told from
    try:
        job = session.start_job(plan, layer_hook=check, name=str(args.file))
        final = _follow(job, args.json)
    finally:
        session.close()
        bus.close()
        if check is not None:
            check.camera.close()
    if args.json:
        print(json.dumps(asdict(final)), flush=True)  # the last line: state, reason and failure
    else:
        msg = f"job {final.state}" + (f": {final.reason}" if final.reason else "")
        print(msg, file=sys.stderr)
    return 0 if final.state == "completed" else 1


SHOWN_EVENTS = ("action", "firmware_error", "error", "reset", "paused", "resumed", "resend", "object_skipped")
"""What the printer says that `print` shows as it happens (one JSON object per line with --json)."""
_OUT = threading.Lock()


def _json_event(event: Event) -> None:
    """One JSON line for a printer event, between the progress lines."""
    with _OUT:
        print(json.dumps({"event": event.kind, "message": event.message, "t": event.t, **dict(event.data)},
                         default=str), flush=True)


def _said_event(event: Event) -> None:
    """A printer event on stderr (resends are only counted in the bar's run, not shown one by one)."""
    if event.kind != "resend":
        print(f"printer: {event.message}", file=sys.stderr, flush=True)


def _follow(job: Job, as_json: bool) -> JobProgress:
    """Show progress until the job ends, handling Ctrl-C (pause, then ask)."""
    while True:
        try:
            final = _json_loop(job) if as_json else _bar_loop(job)
            if final.state != "paused":
                return final
            _ask(job, as_json)  # the layer check or the printer paused the job
        except KeyboardInterrupt:
            if not job.finished:
                job.pause("paused from the keyboard")
                _ask(job, as_json)


def _ask(job: Job, as_json: bool) -> None:
    """Ask whether to resume or cancel a paused job (EOF or anything else than resume cancels)."""
    while not job.finished and job.progress().state != "paused":
        job.wait(0.05)  # the pause completes (moves in flight, park)
    if job.finished:
        return
    p = job.progress()
    if as_json:
        print(json.dumps({"event": "paused", "line": p.line, "reason": p.reason, "failure": p.failure}), flush=True)
    else:
        print(f"paused: {p.reason}", file=sys.stderr, flush=True)
    answer = ""
    while answer not in ("r", "c"):
        print("paused. [r]esume or [c]ancel? ", end="", file=sys.stderr, flush=True)
        try:
            line = sys.stdin.readline()
        except KeyboardInterrupt:
            line = ""
        if not line:
            answer = "c"
            break
        answer = line.strip().lower()[:1]
    if answer == "r":
        job.resume()
        while not job.finished and job.progress().state == "paused":
            job.wait(0.05)  # the return to the print (or the firmware's own resume) completes
    else:
        job.cancel(f"{job.progress().reason or 'paused'}; cancelled at the prompt" if answer == "c" and line
                   else f"{job.progress().reason or 'paused'}; cancelled (no answer on standard input)")


def _json_loop(job: Job) -> JobProgress:
    """One JSON progress object per refresh until the job ends (or pauses)."""
    while True:
        p = job.progress()
        if job.finished:
            return p  # `run` prints it last, once the printer's events are all out
        if p.state == "paused":
            return p
        with _OUT:
            print(json.dumps(asdict(p)), flush=True)
        job.wait(_REFRESH_S)


def _bar_loop(job: Job) -> JobProgress:
    """A rich progress bar with layer, temperatures and ETA."""
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    columns = (TextColumn("[bold]{task.description}"), BarColumn(), TaskProgressColumn(),
               TextColumn("{task.fields[detail]}"), TimeElapsedColumn())
    with Progress(*columns, transient=False) as bar:
        p = job.progress()
        task = bar.add_task("printing", total=max(p.total_lines, 1), detail="")
        while True:
            p = job.progress()
            eta = "?" if p.eta_s is None else time.strftime("%H:%M:%S", time.gmtime(p.eta_s))
            detail = (f"layer {p.layer + 1}/{p.layer_count}  hotend {p.hotend:.0f}°C  bed {p.bed:.0f}°C  ETA {eta}"
                      f"  [{p.state}]")
            bar.update(task, completed=p.line, detail=detail)
            if job.finished or p.state == "paused":
                return p
            job.wait(_REFRESH_S)
