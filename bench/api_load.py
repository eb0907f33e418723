"""API latency under load while a printer streams at 250,000 baud, and the link utilisation with and without it.

    python bench/api_load.py [--rate 200] [--duration 60] [--baud 250000] [--endpoint /api/v1/printers]

Starts one simulated printer throttled to the baud rate, the service in this process (as `printloop serve` runs
it: API, fleet and serial link share one interpreter), streams a long G-code file, measures the link's byte rate
for an unloaded window, then again while a separate process sends status requests at a fixed rate.
Goal: p99 < 50 ms and loaded utilisation within 2 % of the unloaded one.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


async def _load(url: str, key: str, rate: float, duration: float, endpoint: str, connections: int = 16) -> dict:
    """Open-loop load over keep-alive connections: request i is due at t0 + i/rate; its latency is counted from
    when it was due (so time spent waiting for a free connection counts too)."""
    host, port = url.removeprefix("http://").split(":")
    request = (f"GET {endpoint} HTTP/1.1\r\nHost: {host}\r\nX-Api-Key: {key}\r\n\r\n").encode()
    due: asyncio.Queue[float | None] = asyncio.Queue()
    latencies: list[float] = []
    errors = 0

    async def worker() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, int(port))
        while (t_due := await due.get()) is not None:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length"))
            await reader.readexactly(length)
            if not head.startswith(b"HTTP/1.1 200"):
                errors += 1
            latencies.append(time.perf_counter() - t_due)
        writer.close()

    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    t0 = time.perf_counter()
    n = int(rate * duration)
    for i in range(n):
        t_due = t0 + i / rate
        delay = t_due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        due.put_nowait(t_due)
    for _ in workers:
        due.put_nowait(None)
    await asyncio.gather(*workers)
    return {"sent": n, "errors": errors, "wall_s": time.perf_counter() - t0, "latencies": latencies}


def _bytes_sent(svc, name: str) -> tuple[int, float]:
    """Bytes the link has written for the running copy, and when."""
    slot = svc.fleet.slots[name]
    assert slot.handle is not None, "the printer is not streaming"
    return slot.handle.progress().bytes_sent, time.perf_counter()


def _utilisation(svc, name: str, seconds: float, baud: int) -> float:
    """Share of the line's capacity (baud/10 bytes/s) used over a window."""
    b0, t0 = _bytes_sent(svc, name)
    time.sleep(seconds)
    b1, t1 = _bytes_sent(svc, name)
    return (b1 - b0) / ((t1 - t0) * baud / 10)


def main() -> int:
    """Run the benchmark and print its figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--baud", type=int, default=250000)
    ap.add_argument("--endpoint", default="/api/v1/printers")
    ap.add_argument("--switch-interval", type=float, default=0.001,
                    help="sys.setswitchinterval for the service process (printloop serve uses 0.001)")
    ap.add_argument("--load-only", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.load_only:
        url, key = args.load_only.split(" ")
        res = asyncio.run(_load(url, key, args.rate, args.duration, args.endpoint))
        print(json.dumps(res))
        return 0

    import httpx

    from controller.api.app import create_app
    from controller.api.live import LiveServer
    from controller.config import parse_config
    from controller.farm.service import LabService
    from controller.sim_procs import launch_sim

    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval)
    tmp = Path(tempfile.mkdtemp(prefix="printloop-bench-"))
    needed = args.baud / 10 * (args.duration + 40)
    sample = (REPO.parent / "shared" / "gcode-samples" / "cube.prusa.gcode").read_text()
    gcode = tmp / "long.gcode"
    gcode.write_text(sample * max(1, int(needed / len(sample)) + 1))
    sim = launch_sim("--speed", "max", "--baud", str(args.baud))
    svc = server = None
    try:
        key = "bench"
        cfg = parse_config({"data_dir": str(tmp / "data"), "api_keys": [key],
                            "printers": [{"name": "p", "port": sim.serial, "baud": args.baud}]})
        svc = LabService(cfg)
        server = LiveServer(create_app(svc)).start()
        client = httpx.Client(base_url=server.url, headers={"X-Api-Key": key}, timeout=30)
        with gcode.open("rb") as fh:
            client.post("/api/v1/jobs", files={"file": ("long.gcode", fh)}).raise_for_status()
        deadline = time.monotonic() + 60
        while svc.fleet.slots.get("p") is None or svc.fleet.slots["p"].handle is None:
            if time.monotonic() > deadline:
                raise SystemExit("the printer never started streaming")
            time.sleep(0.2)
        time.sleep(5.0)  # past heating and homing into steady streaming
        window = min(20.0, args.duration)
        unloaded = _utilisation(svc, "p", window, args.baud)
        load = subprocess.Popen([sys.executable, __file__, "--load-only", f"{server.url} {key}", "--rate",
                                 str(args.rate), "--duration", str(args.duration), "--endpoint", args.endpoint],
                                stdout=subprocess.PIPE, text=True)
        time.sleep(2.0)
        loaded = _utilisation(svc, "p", args.duration - 4.0, args.baud)
        out, _ = load.communicate(timeout=args.duration + 60)
        res = json.loads(out)
        lat = sorted(res["latencies"])
        p50 = statistics.median(lat) * 1000
        p99 = lat[int(0.99 * (len(lat) - 1))] * 1000
        print(f"load: {res['sent']} GET {args.endpoint} in {res['wall_s']:.1f} s "
              f"({res['sent'] / res['wall_s']:.0f}/s), errors {res['errors']}")
        print(f"latency: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {lat[-1] * 1000:.1f} ms (goal p99 < 50 ms)")
        print(f"link utilisation at {args.baud} baud: unloaded {100 * unloaded:.1f} %, loaded {100 * loaded:.1f} %"
              f" (difference {100 * (loaded - unloaded):+.1f} points; goal within 2 %)")
        return 0
    finally:
        if server is not None:
            server.stop()
        if svc is not None:
            svc.stop()
        sim.stop()


if __name__ == "__main__":
    sys.exit(main())
