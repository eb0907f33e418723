"""A farm of hosts on one PostgreSQL: copies per simulated hour, claim latency, API latency per host, and the time
from a host's death to its copies being queued again.

    python bench/farm.py [--printers 24] [--hosts 3] [--copies 72] [--speed max] [--host-timeout 10]
                         [--height 1.6] [--side 10] [--rate 5] [--postgres URL] [--keep DIR]

Starts a throw-away PostgreSQL cluster (unless given `--postgres`), N simulated printers (`printloop sim`) and H
`printloop serve` hosts dividing them, as `printloop farm` does, and submits one batch. A technician thread takes
each finished part off and confirms the bed through the first host; every host's `GET /api/v1/printers` is asked
`--rate` times a second throughout. Once a third of the copies are made, the last host is killed with SIGKILL mid-
print; the batch is then finished by the others.

Figures:
- copies per hour of simulated time: for each printer, the copies it made over the simulated seconds its clock
  advanced from the batch's start to its end, summed over the printers (they print side by side);
- claim latency: from a printer's bed being confirmed clear to it starting its next copy (owner host's events);
- API p50/p99 of each host (the killed one until it died);
- take-over: from the SIGKILL to the dead host's runs being interrupted and their copies queued again (and from
  its last heartbeat, which the issue bounds to host_timeout_s .. host_timeout_s + 10 s).
"""
from __future__ import annotations

import argparse
import json
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from controller.commands.farm import serve_host, stop_farm, wait_up
from controller.farm.pgcluster import PgCluster
from controller.sim_procs import SimProcess, launch_sim


def _pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of values, nearest rank; nan when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _block_gcode(folder: Path, height: float, side: float) -> Path:
    """A small square block sliced by printloop: the batch's part."""
    import trimesh

    from slicing.slicer import slice_file

    mesh = folder / "block.stl"
    trimesh.creation.box(extents=(side, side, height)).export(mesh)
    out = folder / "block.gcode"
    out.write_text(slice_file(mesh).gcode)
    return out


def _poll_api(url: str, key: str, rate: float, stop: threading.Event, out: list[float]) -> None:
    """Ask a host for the printers list `rate` times a second until stopped (or the host is gone); keep latencies."""
    with httpx.Client(base_url=url, headers={"X-Api-Key": key}, timeout=10) as client:
        while not stop.wait(1.0 / rate):
            t0 = time.perf_counter()
            try:
                client.get("/api/v1/printers").raise_for_status()
            except httpx.HTTPError:
                return
            out.append(time.perf_counter() - t0)


def _technician(url: str, key: str, sims: dict[str, SimProcess], dead: set[str], stop: threading.Event) -> None:
    """Take finished parts off the simulated beds and confirm them clear through one host."""
    with httpx.Client(base_url=url, headers={"X-Api-Key": key}, timeout=30) as client:
        while not stop.wait(0.2):
            try:
                for p in client.get("/api/v1/printers").json():
                    if p["state"] == "awaiting_clear" and p["host"] not in dead:
                        httpx.post(sims[p["name"]].camera.rsplit("/", 1)[0] + "/clear-bed", timeout=10)
                        client.post(f"/api/v1/printers/{p['name']}/clear-bed")
            except httpx.HTTPError:
                continue


def _sim_time(sim: SimProcess) -> float:
    """A simulator's clock (simulated seconds)."""
    return float(httpx.get(sim.status, timeout=10).json()["sim_time"])


def _claim_latencies(client: httpx.Client, job_id: int) -> list[float]:
    """Seconds from each confirmed-clear bed to its printer's next start, from the job's events (recorded by the
    printer's owner)."""
    events = client.get("/api/v1/events", params={"job_id": job_id, "limit": 5000}).json()
    cleared = client.get("/api/v1/events", params={"kind": "bed_cleared", "limit": 5000}).json()
    out = []
    for e in cleared:
        later = [s["t"] for s in events if s["kind"] == "started" and s["printer"] == e["printer"] and s["t"] >= e["t"]]
        if later:
            out.append(min(later) - e["t"])
    return out


def main() -> int:
    """Run the farm's batch and print its figures as one JSON object (and a readable summary)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--printers", type=int, default=24)
    ap.add_argument("--hosts", type=int, default=3)
    ap.add_argument("--copies", type=int, default=None, help="copies in the batch (default 3 per printer)")
    ap.add_argument("--speed", default="max")
    ap.add_argument("--host-timeout", type=float, default=10.0, help="host_timeout_s of every host")
    ap.add_argument("--height", type=float, default=1.6, help="the block's height, mm")
    ap.add_argument("--side", type=float, default=10.0, help="the block's side, mm")
    ap.add_argument("--rate", type=float, default=5.0, help="API requests per second to each host")
    ap.add_argument("--postgres", default=None, help="an existing database_url (default: a cluster of our own)")
    ap.add_argument("--keep", type=Path, default=None, help="keep the hosts' data and logs here")
    args = ap.parse_args()
    copies = args.copies or 3 * args.printers
    out = (args.keep or Path(tempfile.mkdtemp(prefix="printloop-farm-bench-"))).resolve()
    out.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(12)
    cluster: PgCluster | None = None
    sims: dict[str, SimProcess] = {}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    stop = threading.Event()
    threads: list[threading.Thread] = []
    dead: set[str] = set()
    try:
        if args.postgres:
            db_url = args.postgres
        else:
            cluster = PgCluster().start()
            db_url = cluster.create_database("farm_bench")
        gcode = _block_gcode(out, args.height, args.side)
        for i in range(args.printers):
            sims[f"sim-{i + 1:02d}"] = launch_sim("--speed", args.speed, "--seed", str(i + 1),
                                                  log=out / f"sim-{i + 1:02d}.log")
        names = [f"farm-{h + 1}" for h in range(args.hosts)]
        owner = {n: names[i % args.hosts] for i, n in enumerate(sims)}
        urls: dict[str, str] = {}
        for host in names:
            procs[host], urls[host] = serve_host(out, host, key, db_url, [
                {"name": n, "port": s.serial} for n, s in sims.items() if owner[n] == host], args.host_timeout)
        for host in names:
            wait_up(urls[host], procs[host])
        api = httpx.Client(base_url=urls[names[0]], headers={"X-Api-Key": key}, timeout=30)
        latencies: dict[str, list[float]] = {h: [] for h in names}
        for host in names:
            threads.append(threading.Thread(target=_poll_api, args=(urls[host], key, args.rate, stop,
                                                                     latencies[host]), daemon=True))
        threads.append(threading.Thread(target=_technician, args=(urls[names[0]], key, sims, dead, stop),
                                        daemon=True))
        clock0 = {n: _sim_time(s) for n, s in sims.items()}
        wall0 = time.monotonic()
        job = api.post("/api/v1/jobs", files={"file": ("block.gcode", gcode.read_bytes())},
                       data={"copies": str(copies)}).json()
        for t in threads:
            t.start()

        def detail() -> dict:
            return dict(api.get(f"/api/v1/jobs/{job['id']}").json())

        victim = names[-1]
        mine = sum(1 for n in sims if owner[n] == victim)
        wanted = max(1, mine // 2)   # mid-print on half its printers, or on one if that does not come within 30 s
        since = None
        while True:
            now = detail()
            printing = sum(1 for r in now["runs"] if r["state"] == "printing" and owner.get(r["printer"] or "") == victim)
            if now["counts"].get("completed", 0) >= copies // 3:
                since = since or time.monotonic()
                if printing >= wanted or (printing and time.monotonic() - since > 30):
                    break
            time.sleep(0.1)
        procs[victim].send_signal(signal.SIGKILL)
        killed_at = time.time()
        dead.add(victim)
        procs[victim].wait(10)
        hosts_now = {h["name"]: h for h in api.get("/api/v1/hosts").json()}
        last_beat = hosts_now[victim]["last_heartbeat"]
        victims = {r["id"] for r in detail()["runs"] if r["state"] in ("printing", "paused")
                   and owner.get(r["printer"] or "") == victim}
        requeued_at = None
        while requeued_at is None and time.time() < killed_at + args.host_timeout + 60:
            runs = {r["id"]: r for r in detail()["runs"]}
            if victims and all(runs[i]["state"] == "interrupted" for i in victims):
                requeued_at = max(runs[i]["finished_at"] for i in victims)
            time.sleep(0.1)
        while detail()["state"] not in ("done", "failed", "cancelled"):
            time.sleep(0.5)
        wall = time.monotonic() - wall0
        final = detail()
        stop.set()
        made: dict[str, int] = {}
        for r in final["runs"]:
            if r["state"] == "completed":
                made[r["printer"]] = made.get(r["printer"], 0) + 1
        rate = 0.0
        for n, s in sims.items():
            if made.get(n):
                rate += made[n] / max(1e-9, _sim_time(s) - clock0[n]) * 3600
        claims = _claim_latencies(api, job["id"])
        figures = {
            "printers": args.printers, "hosts": args.hosts, "copies": copies, "speed": args.speed,
            "state": final["state"], "counts": final["counts"], "wall_s": round(wall, 1),
            "copies_per_sim_hour": round(rate, 1),
            "copies_per_wall_hour": round(final["counts"].get("completed", 0) / wall * 3600, 1),
            "claim_p50_ms": round(1000 * _pct(claims, 0.5), 1), "claim_p99_ms": round(1000 * _pct(claims, 0.99), 1),
            "claims": len(claims),
            "api_ms": {h: {"p50": round(1000 * _pct(v, 0.5), 1), "p99": round(1000 * _pct(v, 0.99), 1),
                           "n": len(v)} for h, v in latencies.items()},
            "host_timeout_s": args.host_timeout, "killed": victim, "runs_taken_over": len(victims),
            "kill_to_requeue_s": round(requeued_at - killed_at, 2) if requeued_at else None,
            "last_beat_to_requeue_s": round(requeued_at - last_beat, 2) if requeued_at else None,
        }
        print(json.dumps(figures))
        print(f"{figures['counts']} in {wall:.0f} s wall: {rate:.0f} copies per simulated hour over "
              f"{args.printers} printers; claim p50 {figures['claim_p50_ms']} ms, p99 {figures['claim_p99_ms']} ms; "
              f"API p99 " + ", ".join(f"{h} {v['p99']} ms" for h, v in figures["api_ms"].items())
              + f"; {victim} killed: its {len(victims)} copies queued again after {figures['kill_to_requeue_s']} s "
              f"({figures['last_beat_to_requeue_s']} s after its last heartbeat, timeout {args.host_timeout} s)")
        return 0 if final["state"] == "done" else 1
    finally:
        stop.set()
        stop_farm(list(procs.values()), list(sims.values()), cluster, grace_s=0)


if __name__ == "__main__":
    raise SystemExit(main())
