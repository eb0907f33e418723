"""`printloop demo`: three simulated printers, one with a fault, a batch of six through the API, a summary."""
from __future__ import annotations

import argparse
import json
import secrets
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import controller
from controller.errors import ControllerError
from controller.sim_procs import SimProcess, launch_sim

MODELS = Path(controller.__file__).resolve().parents[1].parent / "shared" / "models"
FAULT = "spaghetti@6"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `demo` subcommand."""
    p = sub.add_parser("demo", help="run the whole loop: 3 simulated printers, slice, queue, watch, summary")
    p.add_argument("--model", default="20mm-xyz-cube.stl", help="a mesh in ../shared/models")
    p.add_argument("--copies", type=int, default=6)
    p.add_argument("--fault", default=FAULT, help=f"fault of the third printer (default {FAULT})")
    p.add_argument("--timeout", type=float, default=270.0, help="give up after this many seconds")
    p.add_argument("--out", type=Path, default=None, help="folder for database, photos and report")
    p.set_defaults(func=run)


def _printers(sims: list[SimProcess]) -> list[dict[str, Any]]:
    """Config entries for the simulated printers; the last carries the fault."""
    names = ["sim-a", "sim-b", "sim-faulty"]
    return [{"name": n, "port": s.serial, "baud": 250000, "camera": s.camera, "on_failure": "cancel"}
            for n, s in zip(names, sims)]


def _take_part_off(sim: SimProcess) -> None:
    """The technician's hands: empty the simulated bed (a real lab lifts the part off)."""
    import httpx

    httpx.post(sim.camera.rsplit("/", 1)[0] + "/clear-bed", timeout=10).raise_for_status()


def _drive(client: Any, job_id: int, deadline: float, sims: dict[str, SimProcess]) -> dict[str, Any]:
    """Take parts off and confirm bed clearing as printers finish, print progress, until the job ends."""
    cleared: dict[str, int] = defaultdict(int)
    last_line = ""
    while True:
        job = client.get(f"/api/v1/jobs/{job_id}").json()
        printers = client.get("/api/v1/printers").json()
        for p in printers:
            if p["state"] == "awaiting_clear" and job["state"] in ("queued", "printing"):
                _take_part_off(sims[p["name"]])
                client.post(f"/api/v1/printers/{p['name']}/clear-bed").raise_for_status()
                cleared[p["name"]] += 1
                print(f"  technician: bed of {p['name']} cleared (through the API)", flush=True)
        line = "  " + " | ".join(f"{p['name']}: {p['state']}"
                                 + (f" L{p['current_run']['layer'] + 1}/{p['current_run']['layer_count']}"
                                    if p["current_run"] else "") for p in printers)
        line += f" | job {job['state']} {job['counts']}"
        if line != last_line:
            print(line, flush=True)
            last_line = line
        if job["state"] in ("done", "failed", "cancelled") or time.monotonic() > deadline:
            return job
        if all(p["state"] in ("needs_attention", "offline", "error") for p in printers):
            print("  every printer needs attention: nothing left to print on", flush=True)
            return job
        time.sleep(0.5)


def _summary(client: Any, job: dict[str, Any], faulty: str) -> tuple[list[dict[str, Any]], bool, int]:
    """Per printer: copies started, parts made, failures caught and at which layer."""
    rows: dict[str, dict[str, Any]] = {}
    for p in client.get("/api/v1/printers").json():
        rows[p["name"]] = {"printer": p["name"], "jobs": 0, "parts": 0, "failures": []}
    for run in job["runs"]:
        if run["printer"] is None:
            continue
        row = rows[run["printer"]]
        row["jobs"] += 1
        row["parts"] += run["state"] == "completed"
        if run["state"] == "failed":
            row["failures"].append(run["failed_layer"])
    made = sum(r["parts"] for r in rows.values())
    caught = bool(rows.get(faulty, {}).get("failures"))
    return list(rows.values()), caught, made


def _check_options(args: argparse.Namespace) -> None:
    """Reject bad options before any printer is started, naming the option and the limit."""
    from firmware_sim.faults import parse_faults

    if not (MODELS / args.model).is_file():
        raise ControllerError(f"--model {args.model!r}: no such mesh in {MODELS}")
    if args.copies < 1:
        raise ControllerError(f"--copies must be at least 1, got {args.copies}")
    if not args.timeout > 0:
        raise ControllerError(f"--timeout must be above 0 seconds, got {args.timeout:g}")
    parse_faults(args.fault)  # FaultSpecError names the fault and what is wrong with it


def run(args: argparse.Namespace) -> int:
    """Start everything, run the batch, print the summary; non-zero if the loop did not work."""
    import httpx

    from controller.api.app import create_app
    from controller.api.live import LiveServer
    from controller.config import parse_config
    from controller.farm.service import LabService

    _check_options(args)
    t0 = time.monotonic()
    out = (args.out or Path("out") / time.strftime("demo-%Y%m%d-%H%M%S")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    model = MODELS / args.model
    sims: list[SimProcess] = []
    server = service = None
    try:
        print(f"printloop demo: starting 3 simulated printers (the third with fault {args.fault})", flush=True)
        for i in range(3):
            extra = ["--faults", args.fault] if i == 2 else []
            sims.append(launch_sim("--speed", "max", "--seed", str(i + 1), *extra,
                                   log=out / f"sim-{i}.log"))
        key = secrets.token_urlsafe(16)
        cfg = parse_config({"data_dir": str(out), "api_keys": [key], "printers": _printers(sims)})
        service = LabService(cfg)
        server = LiveServer(create_app(service)).start()
        print(f"printloop demo: service on {server.url}/?key={key}", flush=True)
        client = httpx.Client(base_url=server.url, headers={"X-Api-Key": key}, timeout=30)
        with model.open("rb") as fh:
            r = client.post("/api/v1/jobs", files={"file": (model.name, fh)}, data={"copies": str(args.copies)})
        r.raise_for_status()
        job_id = r.json()["id"]
        print(f"printloop demo: job {job_id}: {args.copies} copies of {model.name} submitted; slicing", flush=True)
        by_name = {p["name"]: s for p, s in zip(_printers(sims), sims)}
        job = _drive(client, job_id, t0 + args.timeout, by_name)
        rows, caught, made = _summary(client, job, "sim-faulty")
        events = client.get(f"/api/v1/jobs/{job_id}/events").json()
        checks = client.get(f"/api/v1/jobs/{job_id}/layer-checks").json()
        report = out / "report.json"
        report.write_text(json.dumps({"job": job, "printers": rows, "events": events,
                                      "layer_checks": len(checks),
                                      "simulators": [{"pid": s.proc.pid, "serial": s.serial} for s in sims]},
                                     indent=1))
        print()
        print(f"{'printer':<12} {'jobs':>5} {'parts made':>11}  failures caught (layer)")
        for row in rows:
            fails = ", ".join(f"layer {layer}" for layer in row["failures"]) or "-"
            print(f"{row['printer']:<12} {row['jobs']:>5} {row['parts']:>11}  {fails}")
        print(f"\njob {job_id}: {job['state']}, {made} of {args.copies} parts made, {len(checks)} layers checked "
              f"in {time.monotonic() - t0:.0f} s")
        print(f"report: {report}\nphotos: {out / 'photos'}\ndatabase: {out / 'printloop.db'}")
        ok = made >= args.copies and caught
        if not caught:
            print("printloop demo: FAILED: the faulty printer's failure was not caught")
        if made < args.copies:
            print(f"printloop demo: FAILED: only {made} of {args.copies} parts made")
        return 0 if ok else 1
    finally:
        for s in sims:
            s.stop()
        for stop in (server.stop if server else None, service.stop if service else None):
            try:
                if stop is not None:
                    stop()
            except Exception as exc:  # noqa: BLE001 - a failed shutdown must not hide the result or leave processes
                print(f"printloop demo: shutdown: {type(exc).__name__}: {exc}")
