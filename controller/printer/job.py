"""A print job on one printer: streams a job plan, stops where each layer is finished for the hook, pauses,
resumes, cancels, and reports progress with the time left from the plan (corrected by the pace measured).

Whatever the host inserts (a layer check's park, a pause) is followed by a return to exactly where the file left
the head: position, Z, feed rate, E and modes, so the file's next move is drawn as if nothing had happened.

A labelled object (a copy on the plate) can be skipped from any point on, as Klipper's exclude_object does: its
moves are not sent (its other commands are, fan and temperatures stay right), and before the next move of the rest
the head lifts and goes to where the file expects it, with E and modes restored.

The job's own thread runs the layer hook and the pause/resume/cancel sequences; the session's pump thread pulls
file commands from `_take` and reports acceptances through `_accepted`.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from controller.errors import ControllerError, JobError
from controller.events import Event as JobEvent
from controller.printer.job_state import (
    MachineState,
    advance,
    eta_seconds,
    heat_injections,
    is_move,
    pause_sequence,
    resume_sequence,
    return_sequence,
    skip_return,
)
from slicing.job_plan import CheckPoint, JobPlan

if TYPE_CHECKING:
    from controller.printer.session import PrinterSession

__all__ = ["CheckPoint", "Job", "JobEvent", "JobProgress", "JobTag"]


@dataclass(frozen=True)
class JobProgress:
    """A snapshot of a job's progress (lines and bytes acknowledged by the firmware)."""

    state: str  # "running" | "paused" | "completed" | "cancelled" | "failed"
    line: int
    total_lines: int
    bytes_sent: int
    total_bytes: int
    layer: int
    layer_count: int
    percent: float
    elapsed_s: float
    eta_s: float | None
    reason: str | None
    hotend: float
    bed: float
    failure: dict[str, Any] | None = None  # {"class", "layer", "message"} when the layer check ended the job
    skipped: tuple[str, ...] = ()          # objects (copies) no longer printed


@dataclass(frozen=True)
class JobTag:
    """Link tag of a file command: which job, which command index."""

    job: Job
    index: int


class _Stopped(Exception):
    """The job was cancelled or failed while its thread waited."""


_EXEC_TIMEOUT = 3600.0


class Job:
    """A print job (see module docstring); created by `PrinterSession.start_job`."""

    def __init__(self, session: PrinterSession, plan: JobPlan, *,
                 layer_hook: Callable[[CheckPoint, Job], None] | None, wait_for_temperatures: bool,
                 name: str = "", only_objects: Sequence[str] = ()) -> None:
        """Bind the plan to the session; `_start` launches the thread. With `only_objects`, the plate's other
        objects are left out from the start (a replacement for copies another print dropped)."""
        self.session = session
        self.plan = plan
        self.name = name
        self.layer_hook = layer_hook
        self._cond = threading.Condition()
        self._cursor = 0           # next file command to hand to the link
        self._stop_at = 0          # the pump hands out commands below this index only
        self._acked = 0            # file commands the firmware took (max index + 1)
        self._state = "running"
        self._reason: str | None = None
        self._pause_requested = False
        self._resume_requested = False
        self._cancel_requested = False
        self._request_reason: str | None = None  # why the pause or cancel was asked for
        self.failure: dict[str, Any] | None = None
        self._held = False            # the firmware paused itself (M600, runout): feeding stops until it resumes
        self._user_awaited = False    # ... and now waits for the user (M108 resumes it)
        self._release_wanted = False  # resume asked for before the firmware was ready to take M108
        self._executing = False
        self._drained = False
        self._finished = threading.Event()
        self._t0 = session.clock()
        self._t_end: float | None = None
        self._injections = heat_injections(plan.commands) if wait_for_temperatures else {}
        self._injected: set[int] = set()
        self._sizes = np.cumsum(np.fromiter((len(c) + 1 for c in plan.commands), dtype=np.int64,
                                            count=len(plan.commands)))
        self._stepped_aside = False
        self._t_print: float | None = None  # when the first layer started (the pace is measured from there)
        self._print_start = plan.layers[0].first_command if plan.layers else 0
        self._cached_state: tuple[int, MachineState] = (0, MachineState())
        self._skipped: set[int] = set()          # indices into plan.objects no longer printed
        self._skip_mask: np.ndarray | None = None  # per command: a move of a skipped object
        self._after_skip = False                 # the last move handed out was skipped: return before the next
        self._skip_state: tuple[int, MachineState] = (0, MachineState())
        self._left_out: frozenset[int] = frozenset()  # objects this job never prints (see only_objects)
        if only_objects:
            wanted = {self._object_index(n) for n in only_objects}
            self._left_out = frozenset(o.index for o in plan.objects) - wanted
            self._skipped = set(self._left_out)
            self._skip_mask = self._mask()
        self._thread = threading.Thread(target=self._run, name=f"job {name}", daemon=True)

    # ---- public API ----------------------------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        """Completed, cancelled or failed."""
        return self._finished.is_set()

    def progress(self) -> JobProgress:
        """Lines, bytes and layer acknowledged so far, percent, elapsed and ETA, temperatures."""
        p = self.plan
        total = len(p.commands)
        line = min(self._acked, total)
        done_bytes = int(self._sizes[line - 1]) if line > 0 else 0
        frac = done_bytes / p.total_bytes if p.total_bytes else 1.0
        now = self._t_end if self._t_end is not None else self.session.clock()
        elapsed = max(0.0, now - self._t0)
        layer = max(p.layer_at(line), 0)
        temps = self.session.temperatures
        reason = self._reason if self._reason is not None or self._state != "paused" else self._request_reason
        return JobProgress(self._state, line, total, done_bytes, p.total_bytes, layer, p.layer_count,
                           100.0 * frac, elapsed, self._eta(line, now), reason, temps.hotend, temps.bed,
                           self.failure, tuple(p.objects[k].name for k in sorted(self._skipped - self._left_out)))

    @property
    def skipped_objects(self) -> tuple[str, ...]:
        """The objects (copies) this job prints no more of, or never did (`only_objects` left them out)."""
        with self._cond:
            return tuple(self.plan.objects[k].name for k in sorted(self._skipped))

    def skip_object(self, name: str, reason: str = "") -> None:
        """Print no more of the object (copy) named `name`; the rest of the plate goes on. Lines already with
        the firmware still run. Raises JobError for a name the file does not label."""
        index = self._object_index(name)
        with self._cond:
            if index in self._skipped:
                return
            self._skipped.add(index)
            self._skip_mask = self._mask()
        layer = max(self.plan.layer_at(min(self._acked, len(self.plan.commands))), 0)
        self.session._emit("object_skipped", f"object {name} skipped from layer {layer}"
                           + (f": {reason}" if reason else ""), {"object": name, "layer": layer, "reason": reason})

    def _object_index(self, name: str) -> int:
        """The plan's index of a labelled object, or JobError naming the objects there are."""
        index = next((o.index for o in self.plan.objects if o.name == name), None)
        if index is None:
            known = ", ".join(o.name for o in self.plan.objects) or "none"
            raise JobError(f"no object '{name}' in this file (objects: {known})")
        return index

    def _mask(self) -> np.ndarray:
        """Per command: whether it is a move of a skipped object."""
        moves = np.fromiter((is_move(c) for c in self.plan.commands), dtype=bool, count=len(self.plan.commands))
        return moves & np.isin(self.plan.command_object, sorted(self._skipped))

    def pause(self, reason: str | None = None) -> None:
        """Stop feeding; the job thread finishes the moves in flight, retracts and parks; heaters stay on."""
        with self._cond:
            if self.finished or self._cancel_requested:
                raise JobError(f"cannot pause a job that is {self._state}")
            self._pause_requested = True
            self._request_reason = reason
            self._cond.notify_all()
        if threading.current_thread() is not self._thread:
            self._unsent(self.session._withdraw())

    def resume(self) -> None:
        """Continue a paused job: reheat, return to position, unretract, restore E, modes and feed. A job the
        printer paused itself (M600, runout) is resumed by telling the firmware (M108) once it waits for it."""
        with self._cond:
            if self.finished or not (self._pause_requested or self._state == "paused"):
                raise JobError(f"cannot resume a job that is {self._state}")
            if self._held:
                self._release_wanted = True
                release = self._user_awaited
            else:
                self._resume_requested = True
                release = False
            self._cond.notify_all()
        if release:
            self.session._release_firmware_pause()

    def cancel(self, reason: str | None = None, failure: dict[str, Any] | None = None) -> None:
        """Stop sending; heaters and motors off (M104 S0, M140 S0, M84); the job ends "cancelled"."""
        with self._cond:
            if self.finished:
                return
            self._cancel_requested = True
            self._request_reason = reason or self._request_reason
            self.failure = failure or self.failure
            held, self._held = self._held, False
            self._cond.notify_all()
        if held:
            self.session._release_firmware_pause()  # the firmware waits in M600: let it go so it takes commands
        if threading.current_thread() is not self._thread:
            self._unsent(self.session._withdraw())

    def note_failure(self, failure: dict[str, Any]) -> None:
        """Record what the layer check found (kept on the job's final progress)."""
        self.failure = failure

    # ---- the firmware's own pause (M600, filament runout) ----------------------------------------------------
    def printer_paused(self, reason: str) -> None:
        """The firmware paused itself (`//action:paused`): stop feeding until it says it resumed."""
        with self._cond:
            if self.finished or self._held or self._state == "paused":
                return
            self._held, self._user_awaited, self._release_wanted = True, False, False
            self._state, self._request_reason = "paused", reason
            self._cond.notify_all()
        self.session._emit("paused", f"printer paused: {reason}", {"line": self._acked, "by": "printer",
                                                                   "reason": reason})

    def printer_waits_for_user(self) -> None:
        """The paused firmware now waits for the user (`busy: paused for user`): a resume asked for earlier is
        passed on now."""
        with self._cond:
            if not self._held or self._user_awaited:
                return
            self._user_awaited = True
            release = self._release_wanted
        if release:
            self.session._release_firmware_pause()

    def printer_resumed(self) -> None:
        """The firmware resumed by itself (`//action:resumed`): feeding goes on where it stopped."""
        with self._cond:
            if not self._held:
                return
            self._held = False
            self._state, self._request_reason = "running", None
            self._cond.notify_all()
        self.session._emit("resumed", f"printer resumed at line {self._acked}", {"line": self._acked,
                                                                                 "by": "printer"})
        self.session._inbox.put(("wake",))

    def wait(self, timeout: float | None = None) -> JobProgress:
        """Block until the job ended (or the timeout passed) and return its progress."""
        self._finished.wait(timeout)
        return self.progress()

    def execute(self, lines: list[str], timeout: float = 120.0) -> None:
        """From inside a layer hook: send these commands now and return once the firmware took them all."""
        if threading.current_thread() is not self._thread:
            raise JobError("Job.execute is for layer hooks, which run on the job's thread")
        commands = [c.split(";", 1)[0].strip() for c in lines]
        self.session._execute([c for c in commands if c], timeout)

    def step_aside(self, lines: list[str], timeout: float = 120.0) -> None:
        """From inside a layer hook: move the head away (park for a photo); when the hook returns, the job
        brings it back to where the file left it before the file goes on."""
        self._stepped_aside = True
        self.execute(lines, timeout)

    # ---- pump side -----------------------------------------------------------------------------------------------
    def _take(self, limit: int) -> list[tuple[str, Any]]:
        """File commands (and injected heater waits) for the link, up to the current stop."""
        with self._cond:
            if self._pause_requested or self._cancel_requested or self.finished or self._executing or self._held:
                return []
            out: list[tuple[str, Any]] = []
            cmds = self.plan.commands
            skip = self._skip_mask
            while self._cursor < self._stop_at and len(out) < limit:
                i = self._cursor
                if skip is not None:
                    if skip[i]:
                        self._after_skip = True
                        self._cursor += 1
                        continue
                    if self._after_skip and is_move(cmds[i]):
                        self._after_skip = False
                        back = skip_return(self._state_before(i), self.session.park, self._clear_z(i))
                        out += [(c, None) for c in back]
                if i in self._injections and i not in self._injected:
                    self._injected.add(i)
                    out += [(c, None) for c in self._injections[i]]
                out.append((cmds[i], JobTag(self, i)))
                self._cursor += 1
            return out

    def _clear_z(self, index: int) -> float:
        """The tallest material printed before command `index` (mm): what a host move across the bed clears."""
        layer = self.plan.layer_at(index)
        return self.plan.layers[layer].clear_z if 0 <= layer < len(self.plan.layers) else 0.0

    def _last_move_skipped(self, index: int) -> bool:
        """Whether the last move before command `index` is one of a skipped object's."""
        assert self._skip_mask is not None
        for k in range(index - 1, -1, -1):
            if self._skip_mask[k]:
                return True
            if is_move(self.plan.commands[k]):
                return False
        return False

    def _state_before(self, index: int) -> MachineState:
        """The file's machine state before command `index`, skipped moves included (where it expects the head)."""
        start, state = self._skip_state
        if index < start:
            start, state = 0, MachineState()
        for c in self.plan.commands[start:index]:
            state = advance(state, c)
        self._skip_state = (index, state)
        return state

    def _accepted(self, index: int) -> None:
        """The firmware took file command `index`."""
        self._acked = max(self._acked, index + 1)
        if self._t_print is None and index >= self._print_start:
            self._t_print = self.session.clock()

    def _pumped(self, link_idle: bool) -> None:
        """After each pump turn: wake the job thread when its segment is fully acknowledged."""
        drained = link_idle and self._cursor >= self._stop_at
        if drained != self._drained:
            with self._cond:
                self._drained = drained
                self._cond.notify_all()

    def _unsent(self, withdrawn: list[tuple[str, Any]]) -> None:
        """Withdrawn commands go back to the file cursor."""
        indices = [t.index for _c, t in withdrawn if isinstance(t, JobTag) and t.job is self]
        if indices:
            with self._cond:
                self._cursor = min(self._cursor, min(indices))
                self._after_skip = self._skip_mask is not None and self._last_move_skipped(self._cursor)

    # ---- job thread ----------------------------------------------------------------------------------------------
    def _start(self) -> None:
        """Launch the job thread."""
        self.session._emit("job_started", f"job {self.name} started", {"lines": len(self.plan.commands)})
        self._thread.start()

    def _run(self) -> None:
        """Stream up to each check point, call the hook there (and come back from wherever it moved the head),
        then prove the end with an M105 sync."""
        try:
            stops = self.plan.check_points() if self.layer_hook is not None else []
            for point in stops:
                self._segment(point.command)
                self._at_check_point(point)
            self._segment(len(self.plan.commands))
            self.session._execute(["M105"], _EXEC_TIMEOUT, need_proof=True)
            self._acked = len(self.plan.commands)
            self._finish("completed", None)
        except _Stopped:
            pass
        except Exception as exc:  # noqa: BLE001 - a failing hook or link fails the job with its message
            self._fail(str(exc) or type(exc).__name__)

    def _at_check_point(self, point: CheckPoint) -> None:
        """Layer `point.layer` is done: tell, run the hook, return to the file's state if the hook moved."""
        self.session._emit("layer", f"layer {point.layer} done at z={point.z:.3f}",
                           {"layer": point.layer, "z": point.z, "command": point.command})
        assert self.layer_hook is not None
        state = self._machine_state()
        self._stepped_aside = False
        try:
            self.layer_hook(point, self)
        finally:
            if self._stepped_aside and not (self.finished or self._cancel_requested or self._pause_requested):
                self._stepped_aside = False
                self.session._execute(return_sequence(state, self.session.park), _EXEC_TIMEOUT)
        self._check_requests()

    def _segment(self, stop: int) -> None:
        """Let the pump send commands up to `stop`, then wait until all of them are acknowledged."""
        with self._cond:
            self._stop_at = stop
            self._drained = False
        self.session._inbox.put(("wake",))
        while True:
            self._check_requests()
            with self._cond:
                if self._drained and self._cursor >= stop and not self._pause_requested:
                    return
                self._cond.wait(0.1)

    def _check_requests(self) -> None:
        """Act on cancel or pause requested from any thread (or from the hook)."""
        if self.finished:
            raise _Stopped
        if self._cancel_requested:
            self._do_cancel()
        if self._pause_requested:
            self._do_pause()

    def _machine_state(self) -> MachineState:
        """G-code state after the file commands handed out so far."""
        start, state = self._cached_state
        if self._cursor < start:
            start, state = 0, MachineState()
        for c in self.plan.commands[start:self._cursor]:
            state = advance(state, c)
        self._cached_state = (self._cursor, state)
        return state

    def _do_pause(self) -> None:
        """Withdraw unsent lines, let in-flight moves finish, retract and park, then wait for resume or cancel."""
        self._unsent(self.session._withdraw())
        self.session._wait_idle(_EXEC_TIMEOUT)
        state = self._machine_state()
        park = self.session.park
        self.session._execute(pause_sequence(state, park, self._clear_z(self._cursor)), _EXEC_TIMEOUT)
        with self._cond:
            self._state = "paused"
        why = f": {self._request_reason}" if self._request_reason else ""
        self.session._emit("paused", f"job paused at line {self._acked}{why}",
                           {"line": self._acked, "reason": self._request_reason})
        with self._cond:
            while not (self._resume_requested or self._cancel_requested or self.finished):
                self._cond.wait(0.2)
            if self.finished:
                raise _Stopped
            if self._cancel_requested:
                self._pause_requested = False
        if self._cancel_requested:
            self._do_cancel()
        self.session._execute(resume_sequence(state, park), _EXEC_TIMEOUT)
        with self._cond:
            self._state = "running"
            self._pause_requested = self._resume_requested = False
            self._request_reason = None
            self._cond.notify_all()
        self.session._emit("resumed", f"job resumed at line {self._acked}", {"line": self._acked})
        self.session._inbox.put(("wake",))

    def _do_cancel(self) -> None:
        """Stop sending, heaters and motors off, record the state."""
        self._unsent(self.session._withdraw())
        reason = self._request_reason or f"cancelled at line {self._acked} of {len(self.plan.commands)}"
        try:
            self.session._execute(["M104 S0", "M140 S0", "M107", "M84"], 120.0)
        except ControllerError as exc:
            reason = f"{reason}; heaters may still be on: {exc}"
            self.session._emit("error", f"heaters off failed on cancel: {exc}", {"line": self._acked})
        self._finish("cancelled", reason)
        raise _Stopped

    def _finish(self, state: str, reason: str | None) -> None:
        """Record the end state once."""
        with self._cond:
            if self.finished:
                return
            self._state, self._reason = state, reason
            self._t_end = self.session.clock()
            self._finished.set()
            self._cond.notify_all()
        self.session._emit(state, reason or f"job {state}", {"line": self._acked})

    def _fail(self, reason: str) -> None:
        """End the job as failed with `reason` (from any thread)."""
        self._finish("failed", reason)

    def _eta(self, done: int, now: float) -> float | None:
        """Remaining seconds (see `eta_seconds`); 0 once completed, None once cancelled or failed."""
        if self.finished:
            return 0.0 if self._state == "completed" else None
        p = self.plan
        if not p.commands:
            return 0.0
        start = p.layers[0].first_command if p.layers else 0
        planned_done = float(p.planned_s[done - 1] - (p.planned_s[start - 1] if start > 0 else 0.0)) \
            if done > start else 0.0
        printing = now - self._t_print if self._t_print is not None else 0.0
        return eta_seconds(p.time_left(done), planned_done, printing)
