"""Bench: a full 3DBenchy job through `printloop sim --speed max` over the real pty, with deposition and one
camera frame per layer; prints simulated print time, wall time and their ratio (goal >= 200x).

G-code comes from printloop's slicer if `slicing.slicer.slice_file` exists, else from CuraEngine with the shared
peer profile, else the shared Cura cube sample (noted in the output). The sender is a minimal windowed host
written here (not the controller): at most BUFSIZE lines and RX_BUFFER_SIZE-1 bytes in flight, an M400 and a
snapshot at each layer change.

    /work/venv/bin/python bench/sim_speed.py [--model PATH] [--gcode PATH] [--resolution 1280x960]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import deque
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from slicing.job_plan import plan_file

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


def slice_gcode(model: Path, out: Path) -> str:
    """Produce G-code for the model; return which slicer made it."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    try:
        from slicing.slicer import slice_file
    except ImportError:
        slice_file = None
    if slice_file is not None:
        out.write_text(slice_file(model).gcode)
        return "printloop slicer"
    engine = shutil.which("CuraEngine")
    if engine:
        settings = json.loads((SHARED / "peers" / "cura.json").read_text())
        pairs = [f"{k}={v}" for k, v in settings.items() if not k.startswith("_")]
        args = [engine, "slice", "-j", str(SHARED / "peers" / "cura-definitions" / "fdmprinter.def.json")]
        for p in pairs:
            args += ["-s", p]
        args.append("-e0")
        for p in pairs:
            args += ["-s", p]
        args += ["-l", str(model), "-o", str(out)]
        subprocess.run(args, check=True, capture_output=True)
        return "CuraEngine 4.13"
    shutil.copy(SHARED / "gcode-samples" / "cube.cura.gcode", out)
    return "shared sample cube.cura.gcode (no slicer available: NOT a Benchy)"


def commands(path: Path) -> list[tuple[str, bool]]:
    """(command, a layer is finished before it) pairs from the file's job plan."""
    job = plan_file(path)
    stops = {p.command for p in job.check_points()}
    return [(c, i in stops) for i, c in enumerate(job.commands)]


def get(url: str) -> bytes:
    """HTTP GET body."""
    with urllib.request.urlopen(url, timeout=120) as r:
        return r.read()


class Sender:
    """Windowed host: keeps the board's queue full without overrunning its RX buffer."""

    def __init__(self, fd: int, window: int = 4, rx_bytes: int = 127) -> None:
        self.fd = fd
        self.window = window
        self.rx_bytes = rx_bytes
        self.inflight: deque[int] = deque()
        self.buf = b""

    def _read(self, block: bool) -> None:
        """Consume replies; each `ok` frees one in-flight line."""
        r, _, _ = select.select([self.fd], [], [], 30 if block else 0)
        if not r:
            if block:
                raise TimeoutError(f"no reply with {len(self.inflight)} lines in flight")
            return
        self.buf += os.read(self.fd, 65536)
        *lines, self.buf = self.buf.split(b"\n")
        for line in lines:
            if line.startswith(b"ok"):
                self.inflight.popleft()
            elif line.startswith((b"Error", b"Resend")):
                raise RuntimeError(f"board replied {line!r}")

    def send(self, cmd: str) -> None:
        """Send one line once the window has room."""
        data = cmd.encode() + b"\n"
        while len(self.inflight) >= self.window or sum(self.inflight) + len(data) > self.rx_bytes:
            self._read(block=True)
        os.write(self.fd, data)
        self.inflight.append(len(data))
        self._read(block=False)

    def drain(self) -> None:
        """Wait for every ok."""
        while self.inflight:
            self._read(block=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(SHARED / "models" / "3DBenchy.stl"))
    ap.add_argument("--gcode", default=None, help="stream this G-code instead of slicing")
    ap.add_argument("--resolution", default="1280x960")
    ap.add_argument("--no-camera", action="store_true", help="skip the per-layer snapshots")
    ap.add_argument("--profile", default=None, metavar="SVG", help="record the simulator with py-spy into SVG")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sim-bench-"))
    if args.gcode:
        gcode, source = Path(args.gcode), "given file"
    else:
        gcode = tmp / "job.gcode"
        t = time.perf_counter()
        source = slice_gcode(Path(args.model), gcode)
        print(f"sliced {Path(args.model).name} with {source} in {time.perf_counter() - t:.1f} s")
    cmds = commands(gcode)
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    prefix = []
    if args.profile:
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        prefix = [spy, "record", "--nonblocking", "-r", "200", "-f", "raw", "-o", args.profile, "--"]
    proc = subprocess.Popen([*prefix, sys.executable, "-m", "controller", "sim", "--speed", "max", "--resolution",
                             args.resolution, "--executed-log", str(tmp / "executed.jsonl")],
                            cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        while line and not line.startswith("{"):   # py-spy's own banner when profiling
            line = proc.stdout.readline()
        info = json.loads(line)
        import serial  # the host opens the pty like a USB serial port
        ser = serial.Serial(info["serial"], 115200, timeout=5)
        while not ser.readline().startswith(b"echo: RX_BUFFER_SIZE"):
            pass
        sender = Sender(ser.fileno())
        frames, cam_s = 0, 0.0
        t0 = time.perf_counter()
        for cmd, new_layer in cmds:
            if new_layer and not args.no_camera and frames < 100000:
                sender.send("M400")
                sender.drain()
                tc = time.perf_counter()
                jpeg = get(info["camera"])
                cam_s += time.perf_counter() - tc
                assert jpeg[:2] == b"\xff\xd8"
                frames += 1
            sender.send(cmd)
        sender.send("M400")
        sender.drain()
        if not args.no_camera:
            tc = time.perf_counter()
            get(info["camera"])
            cam_s += time.perf_counter() - tc
            frames += 1
        wall = time.perf_counter() - t0
        st = json.loads(get(info["status"]))
        ser.close()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    sim_cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    print(f"g-code: {source}, {len(cmds)} commands, {st['layer'] + 1} layers, {st['moves_executed']} moves")
    print(f"simulated print time: {st['print_time']:.1f} s ({st['print_time'] / 3600:.2f} h); "
          f"simulated clock {st['sim_time']:.1f} s")
    print(f"wall time: {wall:.2f} s, of which camera {cam_s:.2f} s for {frames} frames at {args.resolution}")
    me = resource.getrusage(resource.RUSAGE_SELF)
    print(f"simulator process CPU time: {sim_cpu:.2f} s (start-up and shutdown included); "
          f"bench sender CPU time: {me.ru_utime + me.ru_stime:.2f} s; load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs")
    print(f"ratio simulated print time / wall time: {st['print_time'] / wall:.0f}x (goal >= 200x); "
          f"per simulator CPU second: {st['print_time'] / sim_cpu:.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
