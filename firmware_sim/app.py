"""Assembles one simulated printer from options: board, executed log, pty/TCP server, HTTP camera and status."""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

from firmware_sim.board import Board, BoardConfig
from firmware_sim.camera_config import MAX_LIGHT_DRIFT, MAX_TILT_DEG, CameraConfig
from firmware_sim.camera_surfaces import FILAMENTS, SURFACES
from firmware_sim.deposition import Deposition
from firmware_sim.errors import SimOptionError
from firmware_sim.executed_log import ExecutedLog
from firmware_sim.faults import parse_faults
from firmware_sim.flavours import FLAVOURS
from firmware_sim.http import Camera, SimHTTPServer, WebcamLag
from firmware_sim.serve import SimServer

BED_XY = (220.0, 220.0)
DEPOSITION_CELL_MM = 0.1


@dataclass(frozen=True)
class SimOptions:
    """Everything `printloop sim` accepts, validated by `parse_*` helpers at the boundary."""

    tcp: int | None = None
    baud: int | None = None
    speed: float | None = None        # None = max
    faults: str = ""
    seed: int = 0
    resolution: tuple[int, int] = (1280, 960)
    executed_log: str | None = None
    http_port: int = 0
    advanced_ok: bool = True
    rx_buffer: int | None = None      # None: the flavour's
    bufsize: int | None = None        # None: the flavour's
    firmware: str = "marlin"
    link_path: str | None = None      # a symlink to the pty, as Klipper's /tmp/printer
    filament: str = "orange"          # the camera's scene: filament colour and finish
    bed: str = "black"                # print sheet: black, textured-pei, smooth-pei, glass
    bed_logo: bool = False            # a logo printed on the sheet
    camera_tilt: float | None = None  # None: 4°, material drawn on the bed plane; else a pinhole with parallax
    shadow: float = 0.0               # 0..1: strength of the part's cast shadow
    light_drift: float = 0.0          # room light drifts by up to ± this fraction between photos
    auto_exposure: float = 0.0        # 0..1: how far the camera's gain follows the scene's mean brightness
    head_in_view: bool = False        # the print head and gantry show in the photos, where the head is
    bed_slinger: bool = False         # the bed moves in Y under the fixed camera (an i3-style printer)
    # -- a webcam that buffers frames (stale-frame faults); the defaults leave the camera as it was --
    camera_lag: float = 0.0           # snapshots/stream frames are those captured this many seconds ago
    camera_behind: int = 0            # a snapshot is the frame of the N-th request before (a caching proxy)
    camera_fps: float = 5.0           # capture loop and /stream.mjpg frame rate
    camera_timestamps: bool = True    # X-Timestamp on snapshots and stream parts


def parse_speed(text: str) -> float | None:
    """`--speed`: a positive factor, or `max` (None)."""
    if text.strip().lower() == "max":
        return None
    try:
        v = float(text)
    except ValueError:
        raise SimOptionError(f"--speed must be a number > 0 or 'max', got {text!r}") from None
    if not 0 < v < float("inf"):
        raise SimOptionError(f"--speed must be a number > 0 or 'max', got {text!r}")
    return v


def parse_resolution(text: str) -> tuple[int, int]:
    """`--resolution WxH` with 64..8192 pixels a side."""
    w, sep, h = text.lower().partition("x")
    try:
        wh = (int(w), int(h))
    except ValueError:
        raise SimOptionError(f"--resolution must look like 1280x960, got {text!r}") from None
    if not sep or not all(64 <= v <= 8192 for v in wh):
        raise SimOptionError(f"--resolution sides must be between 64 and 8192 pixels, got {text!r}")
    return wh


def _check(opts: SimOptions) -> None:
    """Reject option values no board could run with, naming the option and its limit."""
    if opts.firmware not in FLAVOURS:
        raise SimOptionError(f"--firmware must be one of {', '.join(FLAVOURS)}, got {opts.firmware!r}")
    if opts.baud is not None and opts.baud < 300:
        raise SimOptionError(f"--baud must be at least 300, got {opts.baud}")
    if opts.rx_buffer is not None and not 16 <= opts.rx_buffer <= 65536:
        raise SimOptionError(f"--rx-buffer must be between 16 and 65536 bytes, got {opts.rx_buffer}")
    if opts.bufsize is not None and not 1 <= opts.bufsize <= 256:
        raise SimOptionError(f"--bufsize must be between 1 and 256 commands, got {opts.bufsize}")
    for name, port in (("--tcp", opts.tcp), ("--http-port", opts.http_port)):
        if port is not None and not 0 <= port <= 65535:
            raise SimOptionError(f"{name} must be a port between 0 and 65535, got {port}")


def webcam_lag(opts: SimOptions) -> WebcamLag:
    """The buffering-webcam options, checked: `--camera-lag` 0..60 s, `--camera-behind` 0..10, `--camera-fps`
    0.5..60."""
    if not 0.0 <= opts.camera_lag <= 60.0:
        raise SimOptionError(f"--camera-lag must be between 0 and 60 seconds, got {opts.camera_lag}")
    if not 0 <= opts.camera_behind <= 10:
        raise SimOptionError(f"--camera-behind must be between 0 and 10 requests, got {opts.camera_behind}")
    if not 0.5 <= opts.camera_fps <= 60.0:
        raise SimOptionError(f"--camera-fps must be between 0.5 and 60 frames a second, got {opts.camera_fps}")
    return WebcamLag(lag_s=opts.camera_lag, behind=opts.camera_behind, fps=opts.camera_fps,
                     timestamps=opts.camera_timestamps)


def _check_camera(opts: SimOptions) -> None:
    """Reject camera options out of range, naming the option and its limits."""
    if opts.filament not in FILAMENTS:
        raise SimOptionError(f"--filament must be one of {', '.join(FILAMENTS)}, got {opts.filament!r}")
    if opts.bed not in SURFACES:
        raise SimOptionError(f"--bed must be one of {', '.join(SURFACES)}, got {opts.bed!r}")
    if opts.camera_tilt is not None and not 0.0 <= opts.camera_tilt <= MAX_TILT_DEG:
        raise SimOptionError(f"--camera-tilt must be between 0 and {MAX_TILT_DEG:g} degrees, got {opts.camera_tilt}")
    if not 0.0 <= opts.light_drift <= MAX_LIGHT_DRIFT:
        raise SimOptionError(f"--light-drift must be between 0 and {MAX_LIGHT_DRIFT:g}, got {opts.light_drift}")
    for name, v in (("--shadow", opts.shadow), ("--auto-exposure", opts.auto_exposure)):
        if not 0.0 <= v <= 1.0:
            raise SimOptionError(f"{name} must be between 0 and 1, got {v}")


def camera_config(opts: SimOptions) -> CameraConfig:
    """The camera's settings for these options (the original look unless a scene option is given)."""
    _check_camera(opts)
    pinhole = opts.camera_tilt is not None
    return CameraConfig(resolution=opts.resolution, filament=opts.filament, bed=opts.bed, bed_logo=opts.bed_logo,
                        tilt_deg=opts.camera_tilt if opts.camera_tilt is not None else CameraConfig.tilt_deg,
                        parallax=pinhole, shadow=opts.shadow, light_drift=opts.light_drift,
                        auto_exposure=opts.auto_exposure, head_in_view=opts.head_in_view,
                        bed_slinger=opts.bed_slinger)


def make_deposition() -> Deposition:
    """The bed's height map at 0.1 mm per cell."""
    return Deposition(bed=BED_XY, cell=DEPOSITION_CELL_MM)


class Simulator:
    """One running simulated printer: start() returns the endpoints, stop() shuts everything down."""

    def __init__(self, opts: SimOptions) -> None:
        _check(opts)
        camera = camera_config(opts)
        faults = parse_faults(opts.faults)
        flavour = FLAVOURS[opts.firmware]
        if faults.runout_layer is not None and not flavour.pause_feature:
            raise SimOptionError(f"fault runout@{faults.runout_layer}: --firmware {opts.firmware} has no filament "
                                 "runout sensor in this simulator (use marlin or prusa)")
        path = opts.executed_log
        self._own_log = path is None      # a temporary log of our own is removed on stop
        if path is None:
            fd, path = tempfile.mkstemp(prefix="printloop-sim-", suffix=".executed.jsonl")
            os.close(fd)
        self.log_path = os.path.abspath(path)
        self.log = ExecutedLog(self.log_path)
        config = BoardConfig(rx_buffer_size=opts.rx_buffer or flavour.rx_buffer_size,
                             bufsize=opts.bufsize or flavour.bufsize,
                             advanced_ok=opts.advanced_ok and flavour.advanced_ok,
                             seed=opts.seed, faults=faults, flavour=flavour)
        self.board = Board(config, self.log, make_deposition())
        self.server = SimServer(self.board, speed=opts.speed, baud=opts.baud, tcp_port=opts.tcp,
                                link_path=opts.link_path)
        self.camera = Camera(self.server, camera, seed=opts.seed)
        self.camera.lag = webcam_lag(opts)
        try:
            self.http = SimHTTPServer(self.server, self.camera, port=opts.http_port)
        except OSError as exc:
            self.log.close()
            self._remove_own_log()
            raise SimOptionError(f"--http-port {opts.http_port}: {os.strerror(exc.errno) if exc.errno else exc}") from None
        self._tcp = opts.tcp

    def start(self) -> dict:
        """Start serving; return the endpoints line printed by `printloop sim`."""
        try:
            self.server.start()
        except SimOptionError:
            self.server.stop()
            self.http.server_close()
            self._remove_own_log()
            raise
        except OSError as exc:
            self.server.stop()
            self.http.server_close()
            self._remove_own_log()
            raise SimOptionError(f"--tcp {self._tcp}: {os.strerror(exc.errno) if exc.errno else exc}") from None
        self.http.start()
        base = self.http.base_url
        return {
            "serial": self.server.serial_path,
            "link": self.server.link_path,
            "firmware": self.board.flavour.name,
            "tcp": self.server.tcp_url,
            "camera": f"{base}/snapshot.jpg",
            "status": f"{base}/status.json",
            "executed_log": self.log_path,
        }

    def stop(self) -> None:
        """Stop HTTP, links and board; close the pty; flush the executed log (removed if it was our own)."""
        self.http.stop()
        self.server.stop()
        self._remove_own_log()

    def _remove_own_log(self) -> None:
        """Delete the temporary executed log this simulator created (a caller's --executed-log stays)."""
        if self._own_log:
            self.log.close()
            try:
                os.unlink(self.log_path)
            except FileNotFoundError:
                pass
