"""The job's layer hook: at each layer boundary wait for moves, park out of view, photograph, check, act.

Policy on a failed layer: `pause` (default), `cancel` or `warn`. On a plate of copies (objects labelled in the
file) each copy is judged in its own region: when some copies fail and the rest are sound, the failed ones are
skipped and the plate goes on (with `warn`, only said); a layer shift or every copy failing is the plate's failure. A layer the camera cannot show (unreachable, no
markers in view, a black frame) is failed as `unseen` and the policy acts on it too. Every verdict is kept with the job as files in
its folder: `layer_NNNN.json` (figures), `layer_NNNN.jpg` (photo), `layer_NNNN_check.jpg` (annotated), and one
line per layer in `verdicts.jsonl`; `bed_before.jpg` is the bed as the job started (`photograph_bed`).
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from controller.printer.job_state import clearing_lift
from slicing.job_plan import CheckPoint, JobPlan
from slicing.toolpath import LayerPaths
from vision.camera import Camera, Frame, StaleFrameError, grab_frame
from vision.check import LayerChecker, Verdict
from vision.classify import unseen
from vision.config import VisionConfig
from vision.errors import CameraError, VisionError
from vision.registration import Registration, ensure_registration


class JobControl(Protocol):
    """What the hook needs from a running job (controller.printer.job.Job)."""

    def step_aside(self, lines: list[str], timeout: float = 120.0) -> None: ...
    def pause(self, reason: str | None = None) -> None: ...
    def cancel(self, reason: str | None = None, failure: dict[str, Any] | None = None) -> None: ...
    def note_failure(self, failure: dict[str, Any]) -> None: ...
    def skip_object(self, name: str, reason: str = "") -> None: ...
    @property
    def skipped_objects(self) -> tuple[str, ...]: ...


def park_commands(config: VisionConfig, z: float = 0.0, clear_z: float = 0.0) -> list[str]:
    """G-code that lifts the head and parks it out of the camera's view once the moves in flight are done
    (millimetres, relative lift first, so nothing printed is crossed; the job brings the head back). The head is
    at `z`; the lift clears `clear_z` too, the tallest material printed so far (a sequential print's finished
    copies)."""
    if config.park is None:
        return ["M400"]
    f = config.park_feedrate
    lift = clearing_lift(config.park_lift_mm, z, clear_z)
    return ["M400", "G21", "G91", f"G1 Z{lift:.3f} F{min(f, 1200.0):.0f}", "G90",
            f"G1 X{config.park[0]:.3f} Y{config.park[1]:.3f} F{f:.0f}", "M400"]


BED_PHOTO = "bed_before.jpg"
"""The photo of the bed taken as a run starts, in the run's photo folder."""
BLANK_STD = 3.0
"""A frame whose grey levels vary less than this shows nothing (lens covered, lights off, a dead sensor)."""


def blank_frame(image: np.ndarray) -> None:
    """Refuse a frame that shows nothing, naming why (a black or uniform frame has no markers and no part)."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    mean, std = cv2.meanStdDev(grey)
    if float(std[0][0]) < BLANK_STD:
        what = "black" if float(mean[0][0]) < 20 else "uniform"
        raise CameraError(f"the camera sent a {what} frame (grey level {float(mean[0][0]):.0f} ± "
                          f"{float(std[0][0]):.1f}): is the lens covered or the light off?")


SAME_FRAME_MEAN = 0.5
"""Two captures of a still scene differ by the sensor's noise (a mean grey difference of 1 and more); frames
closer than this, with fewer than SAME_FRAME_PIXELS pixels changed by more than SAME_FRAME_STEP, are one frame."""
SAME_FRAME_STEP = 12
SAME_FRAME_PIXELS = 50


def same_frame(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two grey frames are one capture sent twice (identical within less than any sensor's noise)."""
    if a.shape != b.shape:
        return False
    diff = cv2.absdiff(a, b)
    return float(diff.mean()) < SAME_FRAME_MEAN and int(np.count_nonzero(diff > SAME_FRAME_STEP)) < SAME_FRAME_PIXELS


def _grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image


class Freshness:
    """The check's own guard against stale frames, whatever the camera claims: a frame captured (by its own
    timestamp) before the park finished, or the very frame of the previous layer's photo while the plan says this
    layer deposited material, is taken again (`retakes` times, `wait` s apart, `within` s at most); still stale,
    it raises StaleFrameError naming the layer whose frame came back."""

    def __init__(self, retakes: int = 4, wait: float = 0.25, within: float = 15.0,
                 wall: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep,
                 tolerance_s: float = 0.0) -> None:
        self.retakes, self.wait, self.within = retakes, wait, within
        self.wall, self.sleep, self.tolerance_s = wall, sleep, tolerance_s
        self.previous: tuple[int, np.ndarray, str | None] | None = None   # (layer, grey photo, stamp)
        self.retakes_made = 0                                              # by the last photo()

    def stale(self, frame: Frame, parked_at: float, deposits: bool) -> str | None:
        """Why this frame cannot be the layer's photo, or None."""
        if frame.captured_at is not None and frame.captured_at < parked_at - self.tolerance_s:
            return (f"the camera sent a frame captured {parked_at - frame.captured_at:.1f} s before the head "
                    "was parked")
        if self.previous is None or not deposits:
            return None
        layer, grey, stamp = self.previous
        if frame.stamp is not None and frame.stamp == stamp:
            return f"the camera sent the same frame as layer {layer}: same timestamp {stamp}"
        if same_frame(_grey(frame.image), grey):
            return (f"the camera sent the same frame as layer {layer}: identical beyond any sensor noise although "
                    "this layer deposited material")
        return None

    def photo(self, camera: Camera, parked_at: float, deposits: bool) -> tuple[Frame, int]:
        """A frame that is not stale and the retakes it took."""
        deadline = self.wall() + self.within
        retakes = self.retakes_made = 0
        while True:
            frame = grab_frame(camera, self.wall)
            why = self.stale(frame, parked_at, deposits)
            if why is None:
                return frame, retakes
            if retakes >= self.retakes or self.wall() + self.wait > deadline:
                raise StaleFrameError(f"{why} (still after {retakes} retakes): is the camera stalled, or a "
                                      "proxy caching it?")
            retakes = self.retakes_made = retakes + 1
            self.sleep(self.wait)

    def keep(self, layer: int, frame: Frame) -> None:
        """Remember the layer's photo for the next layer's comparison."""
        self.previous = (layer, _grey(frame.image), frame.stamp)


class LayerCheck:
    """Callable layer hook for PrinterSession.start_job(path, layer_hook=LayerCheck(...))."""

    def __init__(self, layers: Sequence[LayerPaths], camera: Camera, out_dir: str | Path,
                 config: VisionConfig | None = None, registration: Registration | None = None,
                 registration_path: str | Path | None = None,
                 on_verdict: Callable[[Verdict], None] | None = None,
                 clock: Callable[[], float] = time.perf_counter, object_names: Sequence[str] = (),
                 left_out: Sequence[str] = (), freshness: Freshness | None = None) -> None:
        """`object_names`: the job plan's objects (copies), each judged alone; a failed copy is skipped.
        `left_out`: objects the job does not print at all (neither expected nor judged).
        `freshness`: the guard against stale frames (retakes, waits, wall clock)."""
        self.layers = list(layers)
        self.camera = camera
        self.out_dir = Path(out_dir)
        self.config = config or VisionConfig()
        self.registration_path = Path(registration_path) if registration_path else None
        if registration is None and self.registration_path is not None and self.registration_path.exists():
            registration = Registration.load(self.registration_path)
        self.registration = registration
        self.on_verdict = on_verdict
        self.clock = clock
        self.verdicts: list[Verdict] = []
        self.errors: list[str] = []
        self.action: str | None = None     # "paused" | "cancelled" once the policy acted
        self.object_names = list(object_names)
        self.left_out = [n for n in left_out if n in self.object_names]
        self.skipped: list[tuple[str, int, str]] = []   # (copy, layer, why) of each copy dropped from the plate
        self._gone: set[str] = set(self.left_out)       # copies not printed any more, by anyone's decision
        self._checker: LayerChecker | None = None
        self.bed_image: np.ndarray | None = None
        self._saved_ratio: float | None = None   # the old/fresh ratio last written to the printer's file
        self.freshness = freshness or Freshness()
        self.out_dir.mkdir(parents=True, exist_ok=True)

    def photograph_bed(self, name: str = BED_PHOTO) -> Path | None:
        """Before the first layer: keep a photo of the bed as it is (what "clear" looks like for this run, compared
        after the run by vision.bed_clear); None, with the reason in `errors`, when the camera cannot give one."""
        try:
            image = self.camera.grab()
        except VisionError as exc:
            self.errors.append(f"bed photo: {exc}")
            return None
        path = self.out_dir / name
        cv2.imwrite(str(path), image)
        self.bed_image = image   # the per-pixel bare bed this run's layers are told from
        return path

    def __call__(self, point: CheckPoint, job: JobControl) -> None:
        """Layer `point.layer` is finished: park, photograph, judge, act on a failure."""
        n = int(point.layer)
        if not 0 <= n < len(self.layers):
            return
        self._follow_skips(job)
        job.step_aside(park_commands(self.config, point.z, point.clear_z))
        parked_at = self.freshness.wall()
        image: np.ndarray | None = None
        taken: dict[str, Any] = {}
        try:
            frame, taken["retakes"] = self.freshness.photo(self.camera, parked_at, self._deposits(n))
            image = frame.image
            if frame.age_s is not None and frame.captured_at is not None:
                taken["frame_age_s"] = round(frame.age_s, 3)
                taken["captured_after_park_s"] = round(frame.captured_at - parked_at, 3)
            if frame.discarded:
                taken["frames_discarded"] = frame.discarded
            blank_frame(image)
            self.freshness.keep(n, frame)
            verdict = self.check(image, n, taken)
        except VisionError as exc:
            self.errors.append(f"layer {n}: {exc}")
            verdict = unseen(n, str(exc))
            if image is not None:  # what the camera did show, for the technician
                cv2.imwrite(str(self.out_dir / f"layer_{n:04d}.jpg"), image)
            self.verdicts.append(verdict)
            if isinstance(exc, StaleFrameError):
                taken["retakes"] = self.freshness.retakes_made
            self._write_line({**verdict.to_dict(), **taken})
            if self.on_verdict is not None:
                self.on_verdict(verdict)
        if verdict.failed and self.action is None:
            self.act(verdict, job)
        elif verdict.failed_objects and self.config.policy != "warn":
            self.drop_copies(verdict, job)

    def _deposits(self, n: int) -> bool:
        """Whether the plan's layer n extrudes anything of the copies still printed (a photo identical to the
        last one is then stale; on a sequential plate a skipped copy's layers lay nothing)."""
        layer = self.layers[n]
        printed = layer.extrusion > 0
        gone = [self.object_names.index(name) for name in self._gone]
        if gone and layer.objects is not None:
            printed &= ~np.isin(layer.objects, gone)
        return bool(np.any(printed))

    def _follow_skips(self, job: JobControl) -> None:
        """Copies the job no longer prints (skipped by a person, an API call or this check) are not expected."""
        for name in job.skipped_objects:
            if name in self.object_names and name not in self._gone:
                self._gone.add(name)
                if self._checker is not None:
                    self._checker.skip(name)

    def check(self, image: np.ndarray, n: int, taken: dict[str, Any] | None = None) -> Verdict:
        """Register (or re-check registration), judge layer n, save its files; returns the verdict.
        `taken`: figures of how the photo was taken (retakes, frame age), kept in the layer's record."""
        t0 = self.clock()
        registration, renewed = ensure_registration(self.registration, image, self.config)
        if renewed:
            self.registration = registration
            if self.registration_path is not None:
                registration.save(self.registration_path)
        if self._checker is None:
            self._checker = LayerChecker(self.layers, registration, self.config, self.object_names,
                                         bed_photo=self.bed_image, old_ratio=self._kept_old_ratio())
            for name in sorted(self._gone):
                self._checker.skip(name)
        self._checker.registration = registration
        t1 = self.clock()
        verdict, annotated = self._checker.check(image, n)
        t2 = self.clock()
        self.verdicts.append(verdict)
        record: dict[str, Any] = verdict.to_dict()
        record["check_ms"] = round(1000 * (t2 - t1), 2)
        record["registration_ms"] = round(1000 * (t1 - t0), 2)
        record.update(taken or {})
        self._keep_calibration(n, record)
        stem = self.out_dir / f"layer_{n:04d}"
        cv2.imwrite(str(stem) + ".jpg", image)
        if annotated is not None:
            cv2.imwrite(str(stem) + "_check.jpg", annotated)
        stem.with_suffix(".json").write_text(json.dumps(record, indent=1))
        self._write_line(record)
        if self.on_verdict is not None:
            self.on_verdict(verdict)
        return verdict

    def _calibration_path(self) -> Path | None:
        """calibration-<printer>.json beside the printer's stored registration (None without one)."""
        if self.registration_path is None:
            return None
        return self.registration_path.with_name(self.registration_path.name.replace("registration", "calibration", 1))

    def _kept_old_ratio(self) -> float | None:
        """The old/fresh ratio this printer's earlier jobs measured, from its calibration file."""
        path = self._calibration_path()
        try:
            value = json.loads(path.read_text()).get("old_ratio") if path is not None and path.exists() else None
        except (OSError, ValueError):
            return None
        return float(value) if isinstance(value, (int, float)) else None

    def _keep_calibration(self, n: int, record: dict[str, Any]) -> None:
        """The job's camera figures: measured on its first layer, and the old/fresh ratio as its sound layers
        measure it; in the layer's record and, per printer, beside the stored registration
        (calibration-<printer>.json), so a technician sees what the camera sees and the next job starts from it."""
        if self._checker is None:
            return
        cal, path = self._checker.calibration, self._calibration_path()
        figures = cal.to_dict() if n == 0 and cal is not None else None
        first = figures is not None
        ratio = self._checker.old_ratio
        if figures is not None:
            record["calibration"] = figures
        if ratio is not None:
            record["old_ratio"] = round(ratio, 4)
        if path is None or not (first or (ratio is not None and round(ratio, 4) != self._saved_ratio)):
            return
        kept: dict[str, Any] = {}
        if path.exists():
            try:
                kept = dict(json.loads(path.read_text()))
            except (OSError, ValueError):
                kept = {}
        if figures is not None:
            kept.update(figures)
        if ratio is not None:
            kept["old_ratio"] = self._saved_ratio = round(ratio, 4)
        path.write_text(json.dumps(kept, indent=1))

    def act(self, verdict: Verdict, job: JobControl) -> None:
        """Apply the policy to a failed layer; the job keeps the failure (class, layer, message) and the reason."""
        failure = {"class": verdict.status, "layer": int(verdict.layer), "message": verdict.message}
        job.note_failure(failure)
        if self.config.policy == "pause":
            self.action = "paused"
            job.pause(f"{verdict.message}: paused")
        elif self.config.policy == "cancel":
            self.action = "cancelled"
            job.cancel(f"{verdict.message}: cancelled", failure)

    def drop_copies(self, verdict: Verdict, job: JobControl) -> None:
        """Some copies failed, the rest are sound: stop printing those (the plate goes on) and stop judging them."""
        by_name = {str(o["name"]): str(o["message"]) for o in verdict.objects}
        for name in verdict.failed_objects:
            job.skip_object(name, by_name.get(name, ""))
            self._gone.add(name)
            if self._checker is not None:
                self._checker.skip(name)
            self.skipped.append((name, int(verdict.layer), by_name.get(name, "")))

    def _write_line(self, record: dict[str, Any]) -> None:
        """Append one JSON line to verdicts.jsonl."""
        with open(self.out_dir / "verdicts.jsonl", "a") as fh:
            fh.write(json.dumps(record) + "\n")


def add_arguments(parser: Any) -> None:
    """The layer-check options of `printloop print`."""
    parser.add_argument("--camera", default=None, metavar="URL",
                        help="check every layer with this camera: snapshot or MJPEG URL, or device index")
    parser.add_argument("--on-failure", choices=("pause", "cancel", "warn"), default=None,
                        help="what a failed layer does (default: the profile's [vision] policy, else pause)")
    parser.add_argument("--checks-dir", type=Path, default=None, metavar="DIR",
                        help="where verdicts and photos are kept (default printloop-checks/<file>-<time>)")
    parser.add_argument("--vision-profile", type=Path, default=None, metavar="TOML",
                        help="profile whose [vision] table sets thresholds, park position and policy")


def hook_from_args(args: Any, plan: JobPlan, log: Callable[[str], None]) -> LayerCheck | None:
    """Build the layer check for `printloop print` from its options (None without --camera)."""
    if not getattr(args, "camera", None):
        return None
    from vision.camera import open_camera
    from vision.config import load_config

    config = load_config(args.vision_profile)
    if args.on_failure:
        config = config.replace(policy=args.on_failure)
    out = args.checks_dir or Path("printloop-checks") / f"{Path(args.file).stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    layers = plan.layer_paths()

    def report(v: Verdict) -> None:
        if v.failed:
            log(f"layer check: {v.message} -> {config.policy}")
        elif v.failed_objects:
            log(f"layer check: {v.message} -> " + ("warn" if config.policy == "warn" else "copy skipped"))

    log(f"layer checks: camera {args.camera}, on failure {config.policy}, files in {out}")
    return LayerCheck(layers, open_camera(args.camera), out, config, on_verdict=report,
                      object_names=[o.name for o in plan.objects])
