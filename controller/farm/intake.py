"""Putting work in the queue: a G-code file is queued at once, a mesh is sliced in the background first."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from controller.errors import UploadError
from controller.farm.uploads import SavedUpload
from controller.store import Store, history, jobs
from controller.store.records import Job

log = logging.getLogger(__name__)
MAX_COPIES = 100


def count_layers(path: Path) -> int:
    """Layers of a G-code file, from its job plan."""
    return read_plan(path)[0]


def read_plan(path: Path) -> tuple[int, dict[str, Any]]:
    """Layers of a G-code file and the filament a copy of it needs, from its job plan (read once)."""
    from controller.farm.matching import needs_of
    from slicing.job_plan import plan_file

    job_plan = plan_file(path)
    return job_plan.layer_count, needs_of(job_plan)


# Share of the slicing time each stage of slicing.slicer reports, in order; unknown stages count as the last.
STAGES = {"load": (0.0, 0.05), "sections": (0.05, 0.2), "walls": (0.2, 0.5), "infill": (0.5, 0.7),
          "order": (0.7, 0.85), "gcode": (0.85, 1.0)}


def slice_fraction(stage: str, done: int, total: int) -> float:
    """Overall slicing progress 0..1 from the slicer's (stage, done, total) callback."""
    lo, hi = STAGES.get(stage, (0.85, 1.0))
    return lo + (hi - lo) * (done / total if total > 0 else 1.0)


class Intake:
    """Creates jobs from uploads and slices meshes one at a time in a worker thread."""

    def __init__(self, store: Store, data_dir: Path, default_profile: str | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        """Wire the store, where sliced G-code goes, and the profile used when a job names none."""
        self.store, self.data_dir, self.default_profile, self.clock = store, Path(data_dir), default_profile, clock
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="slicer")
        self.pending: dict[int, Future[None]] = {}

    def submit(self, saved: SavedUpload, file_id: int, copies: int = 1, priority: int = 0,
               profile: str | None = None, printers: list[str] | None = None, held: bool = False,
               actor: str = "service:queue", requires: dict[str, Any] | None = None) -> Job:
        """Queue N copies of an uploaded file; meshes are sliced first, in the background; a `held` job waits
        for an operator's approval; `requires` is what a printer must have to take it (material, colour,
        nozzle, tags)."""
        if not 1 <= copies <= MAX_COPIES:
            raise UploadError(f"copies must be between 1 and {MAX_COPIES}, got {copies}")
        now = self.clock()
        if saved.kind == "gcode":
            layer_count, needs = read_plan(saved.path)
            job = jobs.create_job(self.store, file_id, saved.name, copies, priority, now, profile=profile,
                                  printers=printers, gcode_path=str(saved.path), layer_count=layer_count,
                                  held=held, requires=requires, needs=needs)
            history.add_event(self.store, "queued", f"{copies} copies of {saved.name} queued"
                              + (", awaiting approval" if held else ""), now, job_id=job.id, actor=actor)
            return job
        profile = profile or self.default_profile
        job = jobs.create_job(self.store, file_id, saved.name, copies, priority, now, profile=profile,
                              printers=printers, held=held, requires=requires)
        history.add_event(self.store, "slicing", f"slicing {saved.name}", now, job_id=job.id, actor=actor)
        self.pending[job.id] = self._pool.submit(self._slice, job.id, saved.path, profile)
        return job

    def _slice(self, job_id: int, mesh: Path, profile: str | None) -> None:
        """Slice one copy of a mesh, store the G-code and queue the job's copies."""
        from slicing.errors import SlicingError

        last = [0.0]

        def progress(stage: str, done: int, total: int) -> None:
            f = slice_fraction(stage, done, total)
            if f - last[0] >= 0.02:  # a write per 2 % is plenty
                last[0] = f
                jobs.set_slice_progress(self.store, job_id, f)

        try:
            from slicing.slicer import slice_file

            loaded = None
            if profile:
                from slicing.profile import load_profile
                loaded = load_profile(Path(profile))
            result = slice_file(mesh, profile=loaded, copies=1, progress=progress)
            out = self.data_dir / "gcode" / f"job-{job_id}.gcode"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(result.gcode)
            layer_count, needs = read_plan(out)
            job = jobs.job_sliced(self.store, job_id, str(out), layer_count, self.clock(), needs=needs)
            history.add_event(self.store, "sliced", f"{mesh.name}: {result.layer_count} layers, "
                              f"{result.filament_g:.1f} g, {result.estimated_time_s / 60:.1f} min per copy",
                              self.clock(), job_id=job_id, data={"warnings": list(result.warnings)})
            log.info("job %s sliced: %s", job.id, out)
        except (SlicingError, OSError, ValueError, ImportError) as exc:
            jobs.fail_job(self.store, job_id, f"slicing failed: {exc}", self.clock())
            history.add_event(self.store, "failed", f"slicing failed: {exc}", self.clock(), job_id=job_id)
        except Exception as exc:  # a slicer bug must not leave the job 'slicing' forever
            log.exception("slicing job %s crashed", job_id)
            jobs.fail_job(self.store, job_id, f"slicing failed: {type(exc).__name__}: {exc}", self.clock())

    def wait(self, job_id: int, timeout: float | None = None) -> None:
        """Block until a job's slicing is done (for tests and the demo)."""
        fut = self.pending.get(job_id)
        if fut is not None:
            fut.result(timeout=timeout)

    def close(self) -> None:
        """Stop the slicer worker."""
        self._pool.shutdown(wait=False, cancel_futures=True)
