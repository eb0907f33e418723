"""`printloop sim`: run one simulated Marlin printer on a pty (and TCP), print its endpoints as JSON, serve."""
from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from firmware_sim.app import SimOptions, Simulator, parse_resolution, parse_speed
from firmware_sim.errors import FaultSpecError, SimOptionError
from slicing.estimate import clock


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `sim` subcommand."""
    p = sub.add_parser("sim", help="run a simulated Marlin printer on a pseudo-terminal",
                       description="Serve a simulated Marlin printer on a pty (and TCP) with an HTTP camera. "
                                   "Prints one JSON line with its endpoints, then serves until SIGINT/SIGTERM.")
    p.add_argument("--tcp", type=int, default=None, metavar="PORT", help="also serve on TCP (0 = a free port)")
    p.add_argument("--baud", type=int, default=None, help="throttle the link to BAUD/10 bytes/s each way")
    p.add_argument("--speed", default="1", help="simulated time per wall time, or 'max' (default 1)")
    p.add_argument("--faults", default="", help="e.g. corrupt=1e-3,drop_ok=1e-3,reset@line=5000,clog@20")
    p.add_argument("--seed", type=int, default=0, help="seed for every fault decision and camera noise")
    p.add_argument("--resolution", default="1280x960", help="camera resolution WxH (default 1280x960)")
    p.add_argument("--executed-log", default=None, metavar="PATH",
                   help="keep the JSON lines of executed commands here (default: a temporary file, removed on exit)")
    p.add_argument("--http-port", type=int, default=0, help="port of snapshot.jpg/status.json (0 = free)")
    p.add_argument("--no-advanced-ok", action="store_true", help="plain `ok` instead of `ok N.. P.. B..`")
    p.add_argument("--rx-buffer", type=int, default=None, help="UART receive buffer in bytes (default 128)")
    p.add_argument("--bufsize", type=int, default=None, help="command queue entries (default 4)")
    p.add_argument("--firmware", default="marlin", choices=("marlin", "prusa", "klipper"),
                   help="reply spellings and protocol of Marlin 2.1, Prusa-Firmware 3.x or Klipper (default marlin)")
    p.add_argument("--dry-run", default=None, metavar="GCODE",
                   help="no port: run this G-code file through the board in simulated time, print its print time "
                        "as JSON and exit (the same board, motion and heaters as a served simulator)")
    p.add_argument("--link-path", default=None, metavar="PATH",
                   help="also make a symlink to the pty here (e.g. /tmp/printer, as Klipper does)")
    cam = p.add_argument_group("camera scene", "what the simulated webcam sees (defaults: the original look)")
    cam.add_argument("--filament", default="orange", metavar="NAME",
                     help="filament colour and finish: orange, white, black, grey (PETG), translucent, silk")
    cam.add_argument("--bed", default="black", metavar="SURFACE",
                     help="print sheet: black, textured-pei, smooth-pei, glass (default black)")
    cam.add_argument("--bed-logo", action="store_true", help="a logo printed on the sheet, in the print area")
    cam.add_argument("--camera-tilt", type=float, default=None, metavar="DEG",
                     help="camera at the front looking down and back, DEG from vertical (0..60); material is "
                          "projected at its height (default: 4, drawn on the bed plane)")
    cam.add_argument("--shadow", type=float, default=0.0, metavar="S",
                     help="the part casts a soft shadow from the lamp, S of its light (0..1, default 0)")
    cam.add_argument("--light-drift", type=float, default=0.0, metavar="X",
                     help="room light drifts slowly between photos by up to ±X (0..0.9, default 0)")
    cam.add_argument("--auto-exposure", type=float, default=0.0, metavar="S",
                     help="the camera's gain follows the scene toward a mid-grey mean, S of the way (0..1)")
    cam.add_argument("--head-in-view", action="store_true",
                     help="the print head and its gantry show in the photos, wherever the head is (parked)")
    cam.add_argument("--bed-slinger", action="store_true",
                     help="the bed moves in Y under the fixed camera and nozzle (an i3-style printer): the sheet, "
                          "its markers and the print show where the head's Y puts the bed; the bed is framed "
                          "when the head is at the view's centre (Y 110)")
    add_webcam_lag_arguments(p)
    p.set_defaults(func=run)


# -- a webcam that buffers frames (stale-frame faults) ------------------------------------------------------------
def add_webcam_lag_arguments(p: argparse.ArgumentParser) -> None:
    """Options that make the simulated webcam serve old frames, as buffering webcams and caching proxies do."""
    p.add_argument("--camera-lag", type=float, default=0.0, metavar="S",
                   help="snapshots and /stream.mjpg frames are those captured S seconds ago (default 0)")
    p.add_argument("--camera-behind", type=int, default=0, metavar="N",
                   help="each snapshot is the frame captured at the N-th request before it (default 0)")
    p.add_argument("--camera-fps", type=float, default=5.0, help="frame rate of the capture loop and stream")
    p.add_argument("--camera-no-timestamp", action="store_true",
                   help="send no X-Timestamp (capture time) with snapshots and stream frames")


def webcam_lag_options(args: argparse.Namespace) -> dict[str, object]:
    """SimOptions fields of the buffering-webcam options."""
    return {"camera_lag": args.camera_lag, "camera_behind": args.camera_behind, "camera_fps": args.camera_fps,
            "camera_timestamps": not args.camera_no_timestamp}
# -----------------------------------------------------------------------------------------------------------------


def dry_run(args: argparse.Namespace) -> int:
    """`--dry-run FILE`: the file's simulated print time as one JSON line; 2 when the file or options are bad."""
    from pathlib import Path

    from firmware_sim.board_config import BoardConfig
    from firmware_sim.dry_run import dry_run_file
    from firmware_sim.faults import parse_faults
    from firmware_sim.flavours import FLAVOURS

    path = Path(args.dry_run)
    if not path.is_file():
        print(f"printloop sim: no such G-code file: {path}", file=sys.stderr)
        return 2
    try:
        faults = parse_faults(args.faults)
    except FaultSpecError as exc:
        print(f"printloop sim: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    config = BoardConfig(seed=args.seed, faults=faults, flavour=FLAVOURS[args.firmware])
    result = dry_run_file(path, config, lambda n: print(f"  {n:,} lines", file=sys.stderr, flush=True))
    print(json.dumps({"file": str(path), "simulated_s": round(result.sim_s, 1), "moving_s": round(result.print_s, 1),
                      "simulated": clock(result.sim_s), "lines": result.lines,
                      "moves": result.moves, "layers": result.layer + 1, "halted": result.halted or None,
                      "wall_s": round(result.wall_s, 2)}))
    return 1 if result.halted else 0


def run(args: argparse.Namespace) -> int:
    """Start the simulator, print the endpoints line, serve until a signal; 2 on bad options."""
    if args.dry_run is not None:
        return dry_run(args)
    try:
        opts = SimOptions(
            tcp=args.tcp, baud=args.baud, speed=parse_speed(args.speed), faults=args.faults, seed=args.seed,
            resolution=parse_resolution(args.resolution), executed_log=args.executed_log,
            http_port=args.http_port, advanced_ok=not args.no_advanced_ok, rx_buffer=args.rx_buffer,
            bufsize=args.bufsize, firmware=args.firmware, link_path=args.link_path,
            filament=args.filament, bed=args.bed, bed_logo=args.bed_logo, camera_tilt=args.camera_tilt,
            shadow=args.shadow, light_drift=args.light_drift, auto_exposure=args.auto_exposure,
            head_in_view=args.head_in_view, bed_slinger=args.bed_slinger,
            **webcam_lag_options(args),  # type: ignore[arg-type]
        )
        sim = Simulator(opts)
    except (FaultSpecError, SimOptionError) as exc:
        print(f"printloop sim: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    done = threading.Event()
    previous = {s: signal.signal(s, lambda *_: done.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            endpoints = sim.start()
        except SimOptionError as exc:
            print(f"printloop sim: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 2
        print(json.dumps(endpoints), flush=True)
        done.wait()
        sim.stop()
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    return 0
