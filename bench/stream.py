"""Streaming figures for the host link (printed, never asserted).

1. Lines/s into a peer that answers `ok` at once over a pty (a tiny peer process started here), for printloop
   (windowed and one-per-ok) and Printrun's printcore, and the ratio.
2. Link utilisation (wire bytes/s ÷ baud/10, and payload bytes/s ÷ baud/10) streaming a sliced file into
   `printloop sim --speed max --baud B` at 250000 and 115200, for printloop windowed, one-per-ok, and printcore;
   with the simulator's executed log checked for loss.
3. Whole processes on the same file: `printloop print` against Printrun's `printcore.py`, wall time each.
4. `--soak`: 20 runs × 10,000 lines with `--faults corrupt=1e-3,drop_ok=1e-3`, executed log checked each run.

Usage: python bench/stream.py [--gcode FILE] [--lines N] [--whole-lines N] [--repeat N] [--util-lines N] [--skip-util] [--soak]
"""
from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from controller.link.framing import checksum, frame
from controller.printer.session import PrinterSession
from slicing.job_plan import plan_file
from tests.simproc import Sim, file_part

SHARED = REPO.parent / "shared"

PEER = r"""
import os, sys, tty
master, slave = os.openpty()
tty.setraw(slave)
print(os.ttyname(slave), flush=True)
os.write(master, b"start\n")
buf = b""
while True:
    data = os.read(master, 65536)
    if not data:
        break
    buf += data
    *lines, buf = buf.split(b"\n")
    out = [b"ok T:20.0 /0.0 B:20.0 /0.0\n" if b"M105" in ln else b"ok\n" for ln in lines]
    if out:
        os.write(master, b"".join(out))
"""


def synthetic(n: int) -> list[str]:
    """n short extruding moves, like a sliced file's small segments."""
    return ["G92 E0"] + [f"G1 X{10 + (i % 200) * 0.25:.3f} Y{20 + (i % 77) * 0.5:.3f} E{i * 0.0123:.5f}"
                         for i in range(n)]


SAMPLES: list[tuple[float, int]] = []


def _sample(progress: Callable[[], int], done: Callable[[], bool]) -> None:
    """Record (time, lines done) every 20 ms into SAMPLES until done."""
    SAMPLES.clear()
    while not done():
        SAMPLES.append((time.perf_counter(), progress()))
        time.sleep(0.02)
    SAMPLES.append((time.perf_counter(), progress()))


def steady_rate(cum_bytes: list[int]) -> float:
    """Bytes/s between 10 % and 90 % of the lines (excludes heat-up waits at the start and the end sync)."""
    total = len(cum_bytes)
    a = next(s for s in SAMPLES if s[1] >= total * 0.1)
    b = next(s for s in SAMPLES if s[1] >= total * 0.9)
    return (cum_bytes[b[1] - 1] - cum_bytes[a[1] - 1]) / max(b[0] - a[0], 1e-9)


def run_printloop(port: str, path: Path, flow: str, baud: int = 115200, rx_buffer: int = 128,
                  queue_size: int = 4) -> tuple[float, int]:
    """Stream a file with PrinterSession; return (seconds from start to completion, lines)."""
    s = PrinterSession(port, baud, flow=flow, timeout=5.0, start_wait=1.0, rx_buffer=rx_buffer,
                       queue_size=queue_size)
    s.connect()
    t0 = time.perf_counter()
    job = s.start_job(path, wait_for_temperatures=False)
    sampler = threading.Thread(target=_sample, args=(lambda: job.progress().line, lambda: job.finished))
    sampler.start()
    p = job.wait(3600)
    sampler.join()
    dt = time.perf_counter() - t0
    s.close()
    if p.state != "completed":
        raise SystemExit(f"printloop job {p.state}: {p.reason}")
    return dt, p.total_lines


def run_printcore(port: str, commands: list[str], baud: int = 115200) -> float:
    """Stream with Printrun's printcore; return seconds from startprint to the end of the print."""
    from printrun import gcoder
    from printrun.printcore import printcore

    p = printcore()
    done = threading.Event()
    p.endcb = done.set
    p.connect(port, baud)
    deadline = time.time() + 20
    while not p.online and time.time() < deadline:
        time.sleep(0.05)
    if not p.online:
        raise SystemExit("printcore did not come online")
    gcode = gcoder.LightGCode(commands)
    t0 = time.perf_counter()
    p.startprint(gcode)
    sampler = threading.Thread(target=_sample, args=(lambda: p.queueindex, done.is_set))
    sampler.start()
    done.wait(3600)
    sampler.join()
    dt = time.perf_counter() - t0
    p.disconnect()
    return dt


def instant_ok(lines: int, repeat: int = 1) -> None:
    """Lines/s into an instant-ok peer on a pty; modes interleaved `repeat` times, medians reported."""
    commands = synthetic(lines)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "instant.gcode"
        path.write_text("\n".join(commands) + "\n")
        runs: dict[str, list[float]] = {}
        for _ in range(repeat):
            for name in ("window", "window-big", "ok", "printcore"):
                peer = subprocess.Popen([sys.executable, "-c", PEER], stdout=subprocess.PIPE, text=True)
                assert peer.stdout is not None
                port = peer.stdout.readline().strip()
                try:
                    if name == "printcore":  # the same lines as printloop's runs
                        n = lines
                        dt = run_printcore(port, commands[:n])
                    elif name == "window-big":  # the peer has no 128-byte receive buffer: a window to match
                        dt, n = run_printloop(port, path, "window", rx_buffer=4096, queue_size=64)
                    else:
                        dt, n = run_printloop(port, path, name)
                    runs.setdefault(name, []).append(n / dt)
                    print(f"instant-ok peer  {name:10s} {n:7d} lines in {dt:6.2f} s = {n / dt:9.0f} lines/s",
                          flush=True)
                finally:
                    peer.terminate()
                    peer.wait()
    results = {name: statistics.median(rates) for name, rates in runs.items()}
    if repeat > 1:
        print("instant-ok medians of " + str(repeat) + " runs: "
              + ", ".join(f"{name} {rate:.0f}" for name, rate in results.items()) + " lines/s")
    pc = results["printcore"]
    print(f"instant-ok ratio vs printcore: windowed (128 B, 4 lines) {results['window'] / pc:.1f}x, "
          f"windowed (4096 B, 64 lines) {results['window-big'] / pc:.1f}x, one-per-ok {results['ok'] / pc:.1f}x")


def utilisation(gcode: Path, max_lines: int) -> None:
    """Link utilisation through the simulator's throttled pty, loss checked against its executed log."""
    commands = list(plan_file(gcode).commands[:max_lines])
    expected = file_part([{"cmd": c} for c in commands])  # the file's own M105s look host-inserted
    cum_payload = list(itertools.accumulate(len(c) + 1 for c in commands))
    cum_wire = list(itertools.accumulate(len(frame(i + 1, c)) for i, c in enumerate(commands)))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "util.gcode"
        path.write_text("\n".join(commands) + "\n")
        for baud in (250000, 115200):
            for name in ("window", "ok", "printcore"):
                with Sim("--speed", "max", "--baud", str(baud)) as sim:
                    if name == "printcore":
                        dt = run_printcore(sim.serial, commands, baud)
                    else:
                        dt, _n = run_printloop(sim.serial, path, name, baud)
                    time.sleep(0.5)
                    executed = file_part([e for e in sim.executed()])
                    lost = "zero loss" if executed == expected else \
                        f"LOSS/ORDER MISMATCH ({len(executed)} of {len(expected)} executed)"
                cap = baud / 10
                print(f"utilisation {baud:6d} baud {name:10s} {len(commands)} lines in {dt:6.2f} s; streaming "
                      f"10-90 %: wire {steady_rate(cum_wire) / cap * 100:5.1f} %  payload "
                      f"{steady_rate(cum_payload) / cap * 100:5.1f} %;  {lost}", flush=True)


def soak(runs: int, lines: int) -> None:
    """Runs × lines under corruption and dropped oks; each run's executed log checked."""
    commands = synthetic(lines)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "soak.gcode"
        path.write_text("\n".join(commands) + "\n")
        bad = undetectable = 0
        t0 = time.perf_counter()
        for seed in range(runs):
            with Sim("--speed", "max", "--seed", str(seed), "--faults", "corrupt=1e-3,drop_ok=1e-3") as sim:
                _dt, _n = run_printloop(sim.serial, path, "window")
                time.sleep(0.5)
                log = [e for e in sim.executed() if e["n"] is not None]
                got = file_part(log)
                pairs = [(a, b) for a, b in zip(got, commands) if a != b]
                diff = sum(1 for a, b in pairs if checksum(a) == checksum(b))
                ok = len(got) == len(commands) and diff == len(pairs)
                undetectable += diff
                bad += 0 if ok else 1
                print(f"soak seed {seed:2d}: {len(got)} of {len(commands)} executed, {diff} altered by "
                      f"checksum-invisible double bit flips, {'ok' if ok else 'MISMATCH'}", flush=True)
        print(f"soak {runs} x {lines}: {bad} runs with lost/repeated lines, {undetectable} lines altered in ways "
              f"Marlin's XOR checksum cannot detect; {time.perf_counter() - t0:.0f} s")


def default_gcode() -> Path:
    """A sliced 3DBenchy if `printloop slice` exists, else the shared PrusaSlicer cube."""
    out = Path(tempfile.gettempdir()) / "printloop-bench-benchy.gcode"
    if out.is_file():
        return out
    res = subprocess.run([sys.executable, "-m", "controller", "slice", str(SHARED / "models" / "3DBenchy.stl"),
                          "-o", str(out)], cwd=REPO, capture_output=True, text=True, check=False)
    if res.returncode == 0 and out.is_file():
        return out
    print("(no `printloop slice` here: using the shared PrusaSlicer cube G-code instead of a sliced 3DBenchy)")
    return SHARED / "gcode-samples" / "cube.prusa.gcode"


def whole_process(lines: int, repeat: int) -> None:
    """Wall time of each host as a whole process (start-up, connect, stream, exit) on the same N-line file
    into the instant-ok peer: `printloop print FILE --port P` against Printrun's `printcore.py P FILE`."""
    commands = synthetic(lines)
    printcore_cli = Path(sys.executable).parent / "printcore.py"
    runs: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "whole.gcode"
        path.write_text("\n".join(commands) + "\n")
        for _ in range(repeat):
            for name in ("printloop", "printcore"):
                peer = subprocess.Popen([sys.executable, "-c", PEER], stdout=subprocess.PIPE, text=True)
                assert peer.stdout is not None
                port = peer.stdout.readline().strip()
                argv = ([sys.executable, "-m", "controller", "print", str(path), "--port", port, "--json"]
                        if name == "printloop" else [sys.executable, str(printcore_cli), port, str(path)])
                try:
                    t0 = time.perf_counter()
                    done = subprocess.run(argv, cwd=REPO, capture_output=True, timeout=3600, check=False)
                    dt = time.perf_counter() - t0
                finally:
                    peer.terminate()
                if done.returncode != 0:
                    raise SystemExit(f"{name} exited {done.returncode}: {done.stderr.decode()[-300:]}")
                runs.setdefault(name, []).append(dt)
                print(f"whole process    {name:10s} {lines:7d} lines in {dt:6.2f} s", flush=True)
    ours, theirs = statistics.median(runs["printloop"]), statistics.median(runs["printcore"])
    print(f"whole process medians of {repeat}: printloop {ours:.2f} s, printcore {theirs:.2f} s "
          f"(printloop / printcore = {ours / theirs:.2f}); printcore.py sleeps 2 s after connecting and polls "
          "each second, which is part of its whole-process time")


def main() -> None:
    """Parse options and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gcode", type=Path, help="file for the utilisation runs (default: sliced 3DBenchy)")
    ap.add_argument("--lines", type=int, default=10000, help="lines for the instant-ok runs (both hosts)")
    ap.add_argument("--whole-lines", type=int, default=10000, help="lines for the whole-process runs")
    ap.add_argument("--util-lines", type=int, default=4000, help="lines of the file for the utilisation runs")
    ap.add_argument("--soak", action="store_true", help="also run 20 x 10,000 lines under faults")
    ap.add_argument("--repeat", type=int, default=1, help="instant-ok runs per mode (medians are printed)")
    ap.add_argument("--skip-util", action="store_true")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (figures vary with load)")
    instant_ok(args.lines, args.repeat)
    whole_process(args.whole_lines, args.repeat)
    if not args.skip_util:
        utilisation(args.gcode or default_gcode(), args.util_lines)
    if args.soak:
        soak(20, 10000)


if __name__ == "__main__":
    main()
