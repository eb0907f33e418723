"""Telemetry latency, message rate and link utilisation with the MQTT and OPC UA publishers on a printing farm.

    python bench/telemetry.py [--printers 12] [--repeat 1] [--height 2.0] [--util-height 10] [--baud 250000]
                              [--opcua-publish-ms 50]      (quick check: --printers 3 --util-height 4)

Each repeat is two whole runs of the same farm, without publishers and with `[mqtt]` (a real Mosquitto broker on
a free loopback port) and `[opcua]` (order alternating over repeats). The service runs in this process as
`printloop serve` runs it (LabService behind the API on uvicorn); the printers are `printloop sim --speed max`
processes. p02… print a small block each (14 mm, `--height`) with cameras and layer checks; p01 is throttled to
`--baud`, has no camera (its figure is about the link alone) and prints a taller 20 mm block (`--util-height`),
so that it streams for about as long as the farm prints. The consumers write to files, read after the run, so
nothing in this process competes with the service while it prints.

- Latency: from a layer event (`layer`, stamped by the printer session with CLOCK_MONOTONIC when it publishes it
  on the bus) to its arrival at a real `mosquitto_sub` (topic `<base>/<printer>/event/ZChange`, stamped by
  mosquitto_sub itself with CLOCK_REALTIME, `-F %U`, converted to monotonic by the offset time.time() −
  time.monotonic() read in this process before and after the run), and to an asyncua client subscription on
  `Machines/<printer>/Production/ActiveProgram/CurrentLayer` in a separate process (stamped with CLOCK_MONOTONIC
  when the data change is handed to its handler). One host, one kernel clock; layer 0 is left out for OPC UA
  (job start already sets CurrentLayer to 0, so it is no change).
- Messages/s: everything a second mosquitto_sub sees under `#` while the farm prints (first start to last end).
- Link utilisation of p01: wire bytes written (fleet link counts, resends included) from just before its job is
  queued to its `completed` event ÷ (baud/10 × the time from its `job_started` to its `completed` event).
  Goal (issue 13): with publishers within 1 point of without.
"""
from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

BASE = "printloop"
KEY = "bench"
UTIL = "p01"
FINAL = ("completed", "failed", "cancelled")
CONSUMER_NICE = 0   # nice value of the consumers (mosquitto_sub, the OPC UA client): --consumer-nice


def _niced(cmd: list[str]) -> list[str]:
    """A consumer's command line, run at CONSUMER_NICE: it takes only the CPU the farm leaves (as elsewhere)."""
    return ["nice", "-n", str(CONSUMER_NICE), *cmd] if CONSUMER_NICE else cmd


def free_port() -> int:
    """A loopback TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def block_gcode(folder: Path, name: str, height_mm: float, side_mm: float) -> Path:
    """A small square block sliced by printloop (0.2 mm layers): the job every printer prints."""
    import trimesh

    from slicing.slicer import slice_file

    mesh = folder / f"{name}.stl"
    trimesh.creation.box(extents=(side_mm, side_mm, height_mm)).export(mesh)
    out = folder / f"{name}.gcode"
    out.write_text(slice_file(mesh).gcode)
    return out


class Broker:
    """`mosquitto` on a free loopback port, without persistence."""

    def __init__(self, folder: Path) -> None:
        """Write its config and start it; wait until it accepts connections."""
        self.port = free_port()
        conf = folder / "mosquitto.conf"
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                        f"log_dest none\nuser {getpass.getuser()}\n")
        self.proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("mosquitto did not start (apt-get install mosquitto)") from None
                time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM and wait."""
        self.proc.terminate()
        self.proc.wait(timeout=10)


class MqttWatcher:
    """Two `mosquitto_sub` processes writing to files (nothing read in this process while the farm prints):
    one counts everything under `#` (receive time, topic, length), one keeps the ZChange payloads."""

    def __init__(self, port: int, folder: Path) -> None:
        """Subscribe both; each stamps a message with its own receive time (`%U`, CLOCK_REALTIME)."""
        self.all, self.layers = folder / "mqtt-all.txt", folder / "mqtt-zchange.txt"
        common = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port)]
        self.procs: list[subprocess.Popen[bytes]] = []
        for out, topic, fmt in ((self.all, "#", "%U %l %t"), (self.layers, f"{BASE}/+/event/ZChange", "%U %p")):
            with out.open("w") as fh:
                self.procs.append(subprocess.Popen(_niced([*common, "-t", topic, "-F", fmt]), stdout=fh,
                                                   stderr=subprocess.DEVNULL))

    def stop(self) -> tuple[list[float], list[tuple[float, dict[str, Any]]]]:
        """End both clients; every message's receive time, and each ZChange's with its payload."""
        for proc in self.procs:
            proc.terminate()
            proc.wait(timeout=10)
        stamps = [float(line.split(" ", 1)[0]) for line in self.all.read_text().splitlines() if line.strip()]
        layers = [(float(stamp), json.loads(body)) for stamp, body in
                  (line.split(" ", 1) for line in self.layers.read_text().splitlines() if line.strip())]
        return stamps, layers


class OpcUaWatcher:
    """This script in `--opcua-consumer` mode: an asyncua client subscribed to every printer's CurrentLayer,
    writing its data changes to a file (read after the run)."""

    def __init__(self, endpoint: str, names: list[str], publish_ms: float, folder: Path) -> None:
        """Start the client and wait until its subscription is in place."""
        self.out = folder / "opcua-changes.txt"
        with self.out.open("w") as fh:
            self.proc = subprocess.Popen(_niced([sys.executable, __file__, "--opcua-consumer", endpoint, "--names",
                                                 ",".join(names), "--opcua-publish-ms", str(publish_ms)]),
                                         stdin=subprocess.PIPE, stdout=fh, text=True, cwd=REPO)
        deadline = time.monotonic() + 90
        while not self.out.read_text().startswith("ready\n"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                raise SystemExit(f"the OPC UA client did not subscribe: {self.out.read_text()[:300]!r}")
            time.sleep(0.1)

    def stop(self) -> list[dict[str, Any]]:
        """End the client and return its data changes."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        return [json.loads(line) for line in self.out.read_text().splitlines()[1:] if line.startswith("{")]


async def _child(node: Any, name: str) -> Any:
    """The child of a node with this browse name, whatever its namespace (None when absent)."""
    for child in await node.get_children():
        if (await child.read_browse_name()).Name == name:
            return child
    return None


async def opcua_consume(endpoint: str, names: list[str], publish_ms: float) -> None:
    """Subscribe to CurrentLayer of every machine; print `ready`, then one JSON line per data change."""
    from asyncua import Client, ua

    logging.getLogger("asyncua").setLevel(logging.ERROR)  # its notes on revised session values are noise here
    path = ("Production", "ActiveProgram", "CurrentLayer")
    async with Client(endpoint, timeout=30) as client:
        nodes: dict[Any, str] = {}
        deadline = time.monotonic() + 60
        while len(nodes) < len(names):
            nodes.clear()
            machines = await _child(client.nodes.objects, "Machines")
            for name in names:
                node = await _child(machines, name) if machines is not None else None
                for step in path:
                    node = await _child(node, step) if node is not None else None
                if node is not None:
                    nodes[node] = name
            if len(nodes) < len(names):
                if time.monotonic() > deadline:
                    print(f"only {len(nodes)} of {len(names)} machines found", flush=True)
                    return
                await asyncio.sleep(0.5)

        ready = False

        class Handler:
            """Stamps each data change with CLOCK_MONOTONIC as asyncua hands it over."""

            def datachange_notification(self, node: Any, val: Any, _data: Any) -> None:
                """Print (monotonic time, printer, layer), once the initial values are past."""
                if ready:
                    print(json.dumps({"m": time.monotonic(), "p": nodes[node], "layer": int(val)}), flush=True)

        sub = await client.create_subscription(publish_ms, Handler())
        await sub.subscribe_data_change(list(nodes), sampling_interval=ua.Double(0))
        await asyncio.sleep(1.0)  # the initial values arrive before the first print starts
        ready = True
        print("ready", flush=True)
        # until the bench closes our stdin (or dies)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


@dataclass
class Run:
    """What one whole run measured."""

    publishers: bool
    util: float = 0.0
    util_bytes: int = 0
    util_s: float = 0.0
    mqtt_ms: list[float] = field(default_factory=list)
    opcua_ms: list[float] = field(default_factory=list)
    msgs_per_s: float = 0.0
    msgs: int = 0
    layers: int = 0
    print_s: float = 0.0
    bus_lag_ms: float = 0.0
    bus_per_s: float = 0.0
    temps_per_s: float = 0.0
    offset_drift_us: float = 0.0
    outcomes: dict[str, str] = field(default_factory=dict)


class BusLog:
    """A subscriber of the service's bus: layer, start and end events with their stamps, and p01's link bytes."""

    def __init__(self, svc: Any) -> None:
        """Subscribe to the kinds the figures need."""
        self.svc = svc
        self.layers: dict[tuple[str, int], float] = {}
        self.started: dict[str, float] = {}
        self.ended: dict[str, tuple[str, float]] = {}
        self.util_bytes_end: int | None = None
        self.lags: list[float] = []
        self.done = threading.Event()
        self.expected = 0
        self.counting = False
        self.counts: Counter[str] = Counter()
        svc.bus.subscribe(self.on_event, name="bench", capacity=100_000)

    def on_event(self, event: Any) -> None:
        """Count every event while the farm prints; keep the stamps (and p01's byte count at its end)."""
        if self.counting:
            self.counts[event.kind] += 1
        if event.printer is None or event.kind not in ("layer", "job_started", *FINAL):
            return
        if event.kind == "layer":
            self.layers[(event.printer, int(event.data["layer"]))] = event.t
            self.lags.append(time.monotonic() - event.t)
        elif event.kind == "job_started":
            self.started[event.printer] = event.t
        else:
            if event.printer == UTIL:
                counts = self.svc.fleet.link_counts(UTIL)
                self.util_bytes_end = counts.bytes_sent if counts is not None else None
            self.ended[event.printer] = (event.kind, event.t)
            if len(self.ended) >= self.expected:
                self.done.set()


def _launch(args: argparse.Namespace, i: int, folder: Path) -> Any:
    """Printer i (1-based): p01 throttled to the baud rate, the others unthrottled."""
    from controller.sim_procs import launch_sim

    extra = ("--baud", str(args.baud)) if i == 1 else ()
    return launch_sim("--speed", "max", "--seed", str(i), *extra, log=folder / f"sim-{i:02d}.log")


def whole_run(args: argparse.Namespace, gcode: Path, util_gcode: Path, broker: Broker | None, folder: Path) -> Run:
    """One farm, every printer printing the block once; publishers on when a broker is given."""
    from controller.api.app import create_app
    from controller.api.live import LiveServer
    from controller.config import parse_config
    from controller.farm.intake import count_layers
    from controller.farm.service import LabService
    from controller.publish.wiring import attach_publishers
    from controller.store import jobs, printers

    run = Run(publishers=broker is not None)
    folder.mkdir(parents=True)
    names = [f"p{i:02d}" for i in range(1, args.printers + 1)]
    sims: list[Any] = []  # one at a time: launch_sim's preexec_fn is not safe with other threads forking
    svc = server = mqtt = opcua = None
    try:
        for i in range(1, args.printers + 1):
            sims.append(_launch(args, i, folder))
        cfg: dict[str, Any] = {
            "data_dir": str(folder / "data"), "api_keys": [KEY],
            "printers": [{"name": n, "port": s.serial, "baud": args.baud if n == UTIL else 115200,
                          **({} if n == UTIL else {"camera": s.camera})} for n, s in zip(names, sims)]}
        if broker is not None:
            cfg["mqtt"] = {"broker": f"mqtt://127.0.0.1:{broker.port}", "base_topic": BASE}
            cfg["opcua"] = {"endpoint": f"opc.tcp://127.0.0.1:{free_port()}"}
            mqtt = MqttWatcher(broker.port, folder)
        svc = attach_publishers(LabService(parse_config(cfg)))
        log = BusLog(svc)
        log.expected = len(names)
        server = LiveServer(create_app(svc)).start()
        deadline = time.monotonic() + 120
        while any(printers.get_printer(svc.store, n).state != "idle" for n in names):
            if time.monotonic() > deadline:
                states = {n: printers.get_printer(svc.store, n).state for n in names}
                raise SystemExit(f"not every printer connected within 120 s: {states}")
            time.sleep(0.2)
        if broker is not None:
            server, client = svc.publishers["opcua"], svc.publishers["mqtt"]
            if not server.wait_ready(60):  # type: ignore[attr-defined]
                raise SystemExit(f"OPC UA server not ready: {server.error}")  # type: ignore[attr-defined]
            endpoint = server.endpoint  # type: ignore[attr-defined]
            opcua = OpcUaWatcher(endpoint, [n for n in names if n != UTIL], args.opcua_publish_ms, folder)
            while not client.connected:  # type: ignore[attr-defined]
                time.sleep(0.05)
        offset0 = time.time() - time.monotonic()
        counts = svc.fleet.link_counts(UTIL)
        bytes0 = counts.bytes_sent if counts is not None else 0
        log.counting = True
        for path, on in ((util_gcode, [UTIL]), (gcode, names[1:])):
            f = jobs.add_file(svc.store, path.name, str(path), "gcode", path.stat().st_size, "0" * 64, svc.clock())
            jobs.create_job(svc.store, f.id, path.name, len(on), 0, svc.clock(), printers=on, gcode_path=str(path),
                            layer_count=count_layers(path))
        if not log.done.wait(args.timeout):
            raise SystemExit(f"the farm did not finish in {args.timeout:.0f} s: {len(log.ended)} of {len(names)}")
        log.counting = False
        time.sleep(2.0)  # the last messages reach the consumers
        offset1 = time.time() - time.monotonic()
        offset = (offset0 + offset1) / 2
        run.offset_drift_us = abs(offset1 - offset0) * 1e6
        run.outcomes = {n: k for n, (k, _t) in log.ended.items()}
        t_start, t_end = min(log.started.values()), max(t for _k, t in log.ended.values())
        run.print_s = t_end - t_start
        run.util_bytes = (log.util_bytes_end or 0) - bytes0
        run.util_s = log.ended[UTIL][1] - log.started[UTIL]
        run.util = run.util_bytes / (args.baud / 10 * run.util_s)
        run.layers = len(log.layers)
        run.bus_per_s = sum(log.counts.values()) / run.print_s
        run.temps_per_s = log.counts["temperature"] / run.print_s
        run.bus_lag_ms = 1000 * statistics.median(log.lags) if log.lags else 0.0
        if mqtt is not None and opcua is not None:
            stamps, zchanges = mqtt.stop()
            mqtt = None
            run.msgs = sum(1 for stamp in stamps if t_start <= stamp - offset <= t_end)
            run.msgs_per_s = run.msgs / run.print_s
            for stamp, body in zchanges:
                t = log.layers.get((body["printer"], int(body["layer"])))
                if t is not None:
                    run.mqtt_ms.append(1000 * (stamp - offset - t))
            first: dict[tuple[str, int], float] = {}
            for change in opcua.stop():
                first.setdefault((change["p"], change["layer"]), change["m"])
            opcua = None
            for (name, layer), t in log.layers.items():
                if layer > 0 and (name, layer) in first:
                    run.opcua_ms.append(1000 * (first[(name, layer)] - t))
        return run
    finally:
        for watcher in (mqtt, opcua):
            if watcher is not None:
                watcher.stop()
        if server is not None:
            server.stop()
        if svc is not None:
            svc.stop()
        for s in sims:
            s.stop()


def pct(values: list[float], q: float) -> float:
    """The q-quantile by nearest rank (NaN for no values)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def med(runs: list[Run], key: Callable[[Run], float]) -> float:
    """Median over runs of one figure."""
    return statistics.median(key(r) for r in runs)


def report(args: argparse.Namespace, off: list[Run], on: list[Run]) -> None:
    """Print the table of figures (medians over repeats) and the command."""
    rows = [
        ("MQTT latency p50 (layer event -> mosquitto_sub)", f"{med(on, lambda r: pct(r.mqtt_ms, 0.5)):.1f} ms"),
        ("MQTT latency p99", f"{med(on, lambda r: pct(r.mqtt_ms, 0.99)):.1f} ms"),
        ("OPC UA latency p50 (layer event -> subscription)", f"{med(on, lambda r: pct(r.opcua_ms, 0.5)):.1f} ms"),
        ("OPC UA latency p99", f"{med(on, lambda r: pct(r.opcua_ms, 0.99)):.1f} ms"),
        ("MQTT messages/s seen by mosquitto_sub", f"{med(on, lambda r: r.msgs_per_s):.1f} /s"),
        (f"{UTIL} link utilisation at {args.baud} baud, publishers off", f"{100 * med(off, lambda r: r.util):.1f} %"),
        (f"{UTIL} link utilisation at {args.baud} baud, publishers on", f"{100 * med(on, lambda r: r.util):.1f} %"),
    ]
    diff = 100 * (med(on, lambda r: r.util) - med(off, lambda r: r.util))
    rows.append(("difference (goal: within 1 point)", f"{diff:+.1f} points"))
    width = max(len(a) for a, _ in rows)
    print()
    print(f"telemetry: {args.printers} printers, {args.repeat} repeat(s), medians over repeats "
          f"(OPC UA publishing interval {args.opcua_publish_ms:g} ms)")
    for a, b in rows:
        print(f"  {a:<{width}}  {b:>12}")
    print(f"command: {shlex.join([Path(sys.executable).name, *sys.argv])}")


def main() -> int:
    """Run the benchmark (or, with --opcua-consumer, be its OPC UA client) and print its figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--printers", type=int, default=12)
    ap.add_argument("--repeat", type=int, default=1, help="pairs of whole runs (off, on); medians are printed")
    ap.add_argument("--height", type=float, default=2.0, help="block height in mm (0.2 mm layers)")
    ap.add_argument("--util-height", type=float, default=10.0,
                    help="height in mm of the 20 mm block the measured printer prints")
    ap.add_argument("--baud", type=int, default=250000, help="baud rate of the printer whose link is measured")
    ap.add_argument("--opcua-publish-ms", type=float, default=50.0, help="the OPC UA subscription's interval")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds a run may take to print")
    ap.add_argument("--consumer-nice", type=int, default=0,
                    help="run the consumers (mosquitto_sub, the OPC UA client) at this nice value, as if on another "
                         "machine: they then take only the CPU the farm leaves")
    ap.add_argument("--opcua-consumer", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--names", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    global CONSUMER_NICE
    CONSUMER_NICE = args.consumer_nice
    if args.opcua_consumer:
        asyncio.run(opcua_consume(args.opcua_consumer, args.names.split(","), args.opcua_publish_ms))
        return 0
    if args.printers < 2:
        ap.error("--printers must be at least 2 (p01 measures the link, the others the latency)")
    sys.setswitchinterval(0.001)  # as printloop serve does
    tmp = Path(tempfile.mkdtemp(prefix="printloop-telemetry-"))
    gcode = block_gcode(tmp, "block", args.height, 14.0)
    util_gcode = block_gcode(tmp, "tall-block", args.util_height, 20.0)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; jobs {gcode.name} "
          f"({gcode.stat().st_size} bytes) on p02-p{args.printers:02d}, {util_gcode.name} "
          f"({util_gcode.stat().st_size} bytes) on {UTIL}; data in {tmp}", flush=True)
    broker = Broker(tmp)
    off: list[Run] = []
    on: list[Run] = []
    try:
        for r in range(args.repeat):
            for publishers in (False, True) if r % 2 == 0 else (True, False):  # alternate: no order bias
                res = whole_run(args, gcode, util_gcode, broker if publishers else None, tmp / f"run{r}-{int(publishers)}")
                (on if publishers else off).append(res)
                bad = {n: k for n, k in res.outcomes.items() if k != "completed"}
                print(f"run {r + 1} publishers {'on ' if publishers else 'off'}: {res.layers} layer events in "
                      f"{res.print_s:.1f} s; {UTIL} {res.util_bytes} bytes in {res.util_s:.2f} s = "
                      f"{100 * res.util:.1f} %; bus {res.bus_per_s:.0f} events/s ({res.temps_per_s:.0f} temperature), "
                      f"lag p50 {res.bus_lag_ms:.2f} ms"
                      + (f"; MQTT {len(res.mqtt_ms)} ZChange matched, p50 {pct(res.mqtt_ms, 0.5):.1f} ms, "
                         f"p99 {pct(res.mqtt_ms, 0.99):.1f} ms; OPC UA {len(res.opcua_ms)} matched, "
                         f"p50 {pct(res.opcua_ms, 0.5):.1f} ms, p99 {pct(res.opcua_ms, 0.99):.1f} ms; "
                         f"{res.msgs} MQTT messages ({res.msgs_per_s:.1f}/s); clock offset moved "
                         f"{res.offset_drift_us:.0f} us" if publishers else "")
                      + (f"; NOT COMPLETED: {bad}" if bad else ""), flush=True)
    finally:
        broker.stop()
    report(args, off, on)
    return 0


if __name__ == "__main__":
    sys.exit(main())
