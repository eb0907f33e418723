"""The simulated printer: protocol + interpreter + planner + heaters + print head, on a simulated clock.

Driven from outside (serve.py) without any IO of its own: `receive()` bytes from a port, `work(limit)` to run
commands without letting simulated time pass `limit`, `idle_to(t)` when nothing waits, `outgoing()` for the
bytes to transmit. Simulated time advances by the durations of executed blocks and the waits of blocking
commands; heaters, auto-reports, busy keepalives and time-based faults follow that clock.
"""
from __future__ import annotations

import math
from typing import Any

from firmware_sim.board_config import BoardConfig
from firmware_sim.board_status import answer_halted, board_status, halt_on_runaway
from firmware_sim.deposition import Deposition
from firmware_sim.executed_log import ExecutedLog
from firmware_sim.faults import FaultSchedule
from firmware_sim.flavours import heating_line, temperature_report
from firmware_sim.interpreter import HOMING_FEED, Interpreter, Wait
from firmware_sim.pause import FilamentChange
from firmware_sim.planner import MotionConfig, Planner
from firmware_sim.ports import Ports
from firmware_sim.printhead import PrintHead
from firmware_sim.protocol import MAX_CMD_SIZE, Command, CommandQueue
from firmware_sim.thermal import BED, HOTEND, Heater

HEAT_POLL = 0.25        # s of simulated time between checks of a heating wait (fixed schedule)
HEATER_LAG = 0.1        # heaters are stepped lazily in chunks of at least this many simulated seconds
MAX_FAULT_EVENTS = 1000
HOMING_BUMP_S = 0.5     # s per homed axis for the slow second touch of the endstop

__all__ = ["Board", "BoardConfig"]


class Board:
    """One simulated Marlin board."""

    def __init__(self, config: BoardConfig | None = None, log: ExecutedLog | None = None,
                 deposition: Deposition | None = None) -> None:
        config = config or BoardConfig()
        self.config = config
        self.flavour = config.flavour
        self.log = log
        self.now = 0.0
        self.bed = config.motion.bed
        self.queue = CommandQueue(config.bufsize,
                                  config.bufsize * (MAX_CMD_SIZE + 1) if config.flavour.byte_queue else None)
        self.faults = FaultSchedule(config.faults, config.seed)
        self.fired: list[dict] = []
        self.fault_counts: dict[str, int] = {}
        self.ports = Ports(self.queue, config.rx_buffer_size, config.advanced_ok and config.flavour.advanced_ok,
                           self.faults, self.record_fault, config.flavour)
        self.printhead = PrintHead(config.faults, deposition, self.record_fault, config.seed)
        self.planner = Planner(config.motion)
        self.heaters = {"T": Heater(HOTEND), "B": Heater(BED)}
        self._heat_lag = 0.0
        self.pause = FilamentChange(self)
        self.interp = Interpreter(self)
        self.keepalive_interval = config.keepalive if self.flavour.busy_lines else 0.0
        self.autoreport_interval = 0.0
        self._next_autoreport = math.inf
        self.halted = False
        self.halt_reason = ""
        self.current_object = -1
        self.lines_executed = 0
        self.current: Command | None = None
        self._wait: Wait | None = None
        self._wait_target = 0.0
        self._next_busy = math.inf
        self._next_temp_line = math.inf
        self._reset_pending = config.faults.reset_line is not None
        self._runaway_pending = config.faults.runaway_s is not None

    # -- ports -----------------------------------------------------------------------------------------------------
    def open_port(self, banner: bool = True) -> int:
        """Attach a host port (the pty or a TCP client); it gets the `start` banner as on a reset."""
        return self.ports.open(banner)

    def close_port(self, port: int) -> None:
        """Detach a host port; commands it queued still run, replies to it are dropped."""
        self.ports.close(port)

    def resets_on_open(self) -> bool:
        """Whether a host opening the port now resets the board (not while a command is queued or running:
        a host reopening mid-print keeps the print, as with DTR reset disabled)."""
        if not self.flavour.resets_on_open:
            return False
        return self.halted or (self.current is None and not len(self.queue))

    def host_opened(self, port: int) -> None:
        """A host opened the serial port: like Marlin on a DTR reset, restart with the `start` banner."""
        if self.ports.get(port) is not None and self.resets_on_open():
            self.reset()

    def receive(self, port: int, data: bytes) -> None:
        """Bytes arrive on a port's UART; emergency commands (M112, M108, M410) act at once."""
        if self.halted and not self.flavour.answers_when_halted:
            return
        for cmd in self.ports.receive(port, data):
            if cmd == "M112":
                self.kill()
                return
            if cmd == "M108" and self._wait is not None and self._wait.kind == "heat":
                self._wait_target = self.now
                self._wait = Wait("until", until=self.now)
            elif cmd == "M108":
                self.pause.user_continue()
            elif cmd.startswith("M876"):
                self.pause.respond(int(cmd[6:] or 0))
            if not self.pause.waiting and self._wait_target == math.inf:
                self._wait_target = self.now     # the user answered: the filament change goes on
            if cmd == "M410":
                self.planner.flush()
                self.printhead.drop_unfinished(self.now)
                self.planner.set_position(self.printhead.position)

    def outgoing(self) -> list[tuple[int, bytes]]:
        """Bytes each port should transmit now."""
        return self.ports.outgoing()

    def broadcast(self, text: str) -> None:
        """A line for every port (auto-report, errors)."""
        self.ports.broadcast(text)

    def reply(self, text: str) -> None:
        """A line for the port whose command is executing (every port when none is, or it was injected)."""
        if self.current is not None and self.current.port >= 0:
            self.ports.write(self.current.port, text)
        else:
            self.ports.broadcast(text)

    def echo(self, text: str) -> None:
        """An `echo:` line for the executing command's port."""
        self.reply(f"echo:{text}")

    def error(self, key: str, **values: float) -> None:
        """A non-fatal command error in the flavour's spelling, for the executing command's port."""
        self.reply(self.flavour.messages[key].format(**values))

    # -- faults --------------------------------------------------------------------------------------------------
    def record_fault(self, kind: str, **detail: Any) -> None:
        """Note a fault that fired (kept for status.json)."""
        self.fault_counts[kind] = self.fault_counts.get(kind, 0) + 1
        if len(self.fired) < MAX_FAULT_EVENTS:
            self.fired.append({"fault": kind, "t": round(self.now, 6), **detail})

    # -- machine services for the interpreter ----------------------------------------------------------------------
    def planned_position(self) -> tuple[float, float, float, float]:
        """Machine position after the last queued move."""
        return self.planner.position

    def stepper_position(self) -> tuple[float, float, float, float]:
        """Where the head physically is now."""
        return self.printhead.position_at(self.now)

    def move(self, target: list[float], feed_mm_s: float) -> float | None:
        """Queue a move (clamped to the bed with an echo, or refused with an error where the flavour says);
        return when the planner has room again."""
        x, y, z, e = target
        bx, by, bz = self.bed
        if not (0.0 <= x <= bx and 0.0 <= y <= by and 0.0 <= z <= bz):
            if self.flavour.refuses_bad_moves:
                self.error("out_of_range", x=x, y=y, z=z, e=e)
                return None
            x, y, z = min(max(x, 0.0), bx), min(max(y, 0.0), by), min(max(z, 0.0), bz)
            self.error("out_of_range", x=x, y=y, z=z, e=e)
        blocks = self.planner.queue_move((x, y, z, e), max(0.01, feed_mm_s), self.current_object)
        if not blocks:
            return None
        start = self.printhead.schedule(blocks, self.now)
        return start if start is not None and start > self.now else None

    def motion_limits(self) -> MotionConfig:
        """The planner's limits now."""
        return self.planner.config

    def set_motion_limits(self, limits: MotionConfig) -> None:
        """M201/M203/M204/M205: limits for the moves queued from now on."""
        self.planner.set_limits(limits)

    def finish_moves(self) -> float:
        """Hand every planned move to the steppers; the simulated time they will all be done."""
        self.printhead.schedule(self.planner.flush(), self.now)
        return max(self.printhead.exec_end, self.now)

    def set_planned_e(self, e: float) -> None:
        """Declare the extruder position without moving (the planner must be empty)."""
        x, y, z, _ = self.planner.position
        self.planner.set_position((x, y, z, e))

    @property
    def waiting_for_user(self) -> bool:
        """Parked in a filament change until M108 / M876 S0."""
        return self._wait is not None and self._wait.kind == "user" and self.pause.waiting

    def pass_user_wait(self, t: float) -> None:
        """Let simulated time pass while parked for the user (busy lines, heaters, reports)."""
        if self.waiting_for_user and t > self.now:
            self._advance(t)

    @property
    def next_keepalive(self) -> float:
        """Simulated time of the next busy line (inf when none is due)."""
        return self._next_busy

    def hotend_temperature(self) -> float:
        """Current hotend reading (for cold-extrusion prevention)."""
        self.settle_heaters()
        return self.heaters["T"].temperature

    def set_target(self, heater: str, target: float) -> None:
        """M104/M140 and friends."""
        self.settle_heaters()
        self.heaters[heater].set_target(target)

    def set_fan(self, fraction: float) -> None:
        """M106/M107: the part fan also cools the hotend block."""
        self.settle_heaters()
        self.heaters["T"].set_fan(fraction)

    def set_object(self, k: int) -> None:
        """M486 S: label the moves queued from now on."""
        self.current_object = k

    def set_line_number(self, n: int) -> None:
        """M110: the executing command's port continues from line n."""
        cmd = self.current
        proto = self.ports.get(cmd.port) if cmd is not None else None
        if proto is not None:
            proto.last_n = n

    def _readings(self) -> tuple[tuple[float, float, int], tuple[float, float, int]]:
        """(actual, target, power) of the hotend and the bed, heaters brought up to date."""
        self.settle_heaters()
        t, b = self.heaters["T"], self.heaters["B"]
        return (t.temperature, t.target, t.power), (b.temperature, b.target, b.power)

    def temperature_report(self) -> str:
        """The flavour's M105 report, e.g. Marlin's `T:200.00 /200.00 B:60.00 /60.00 @:127 B@:64`."""
        return temperature_report(self.flavour, *self._readings())

    # -- running -------------------------------------------------------------------------------------------------
    def work(self, limit: float = math.inf) -> float | None:
        """Run queued commands without passing simulated time `limit`; return the time a wait ends, else None."""
        if self.halted and self.flavour.answers_when_halted:
            answer_halted(self)
        while not self.halted:
            if self.waiting_for_user:    # nothing to do until M108 / M876 arrives
                if limit < math.inf:
                    self._advance(limit)
                return None
            if self.current is None:
                self._pull_lines()
                cmd = self.queue.pop()
                if cmd is None:
                    return None
                self._begin(cmd)
                continue
            target = self._wait_target  # a heating wait's next check: fixed on the simulated clock, so calls
            if target > limit:          # more frequent than HEAT_POLL cannot push it ahead for ever
                self._advance(limit)
                return target
            self._advance(target)
            if self.halted:
                return None
            self._pull_lines()
            if self._wait_done():
                self._complete()
            elif self._wait is not None and self._wait.kind == "heat":
                self._wait_target = target + HEAT_POLL
        return None

    def idle_to(self, t: float) -> None:
        """Let simulated time pass while no command waits (blocks finish, heaters run, reports go out)."""
        if t > self.now and self.current is None:
            self._advance(t)

    def starve(self) -> None:
        """The host went quiet: the planner's remaining moves run (Marlin would not wait for more)."""
        if self.planner.queued and not self.halted:
            self.printhead.schedule(self.planner.flush(), self.now)

    def next_event(self) -> float:
        """Earliest simulated time at which something happens while idle (block end, report, fault)."""
        t = self._next_autoreport
        if self.printhead.inflight:
            t = min(t, self.printhead.inflight[0][0])
        if self._runaway_pending:
            t = min(t, self.config.faults.runaway_s or 0.0)
        return t

    @property
    def busy(self) -> bool:
        """Whether anything is queued, waiting or moving."""
        return bool(self.current is not None or len(self.queue) or self.planner.queued or self.printhead.inflight)

    def _pull_lines(self) -> None:
        """Let every port move complete lines from its RX ring into the command queue."""
        self.ports.pull_lines()

    def _begin(self, cmd: Command) -> None:
        """Execute one command from the queue; it either completes or leaves a wait behind."""
        if self._reset_pending and cmd.line == self.config.faults.reset_line:
            self._reset_pending = False
            self.record_fault("reset", line=cmd.line)
            self.reset()
            return
        self.current = cmd
        if self.log is not None:
            self.log.record(cmd.line, cmd.text, self.now)
        self.lines_executed += 1
        storm = self.faults.busy_storm()
        if storm:
            self.record_fault("busy_storm", line=cmd.line, count=storm)
            for _ in range(storm):
                self.reply("echo:busy: processing")
        outcome = self.interp.execute(cmd.text)
        if self.halted or outcome.no_ok:
            self.current = None
            return
        if outcome.wait is None:
            self._ok(cmd, outcome.ok_text)
            self.current = None
            return
        self._start_wait(outcome.wait)
        if self._wait_done():
            self._complete()

    def _start_wait(self, wait: Wait) -> None:
        """Turn a handler's wait into an absolute target on the simulated clock."""
        if wait.kind != "until":
            self.printhead.schedule(self.planner.flush(), self.now)
        end = max(self.printhead.exec_end, self.now)
        if wait.kind == "until":
            self._wait_target = wait.until
        elif wait.kind == "sync":
            self._wait_target = end
        elif wait.kind == "dwell":
            self._wait_target = end + wait.until
        elif wait.kind == "user":
            self._wait_target = end      # parking moves done: then the pause goes on (_wait_done)
        elif wait.kind == "home":
            pos = self.planner.position
            homing = sum(abs(pos[i]) / feed + HOMING_BUMP_S for i, feed in enumerate(HOMING_FEED) if "XYZ"[i] in wait.axes)
            self._wait_target = end + homing
        else:
            self._wait_target = self.now + HEAT_POLL  # _begin checks at once; then every HEAT_POLL
            self._next_temp_line = self.now + 1.0
        self._wait = wait
        self._next_busy = self.now + self.keepalive_interval if self.keepalive_interval > 0 else math.inf

    def _wait_done(self) -> bool:
        """Whether the executing command's wait is over."""
        w = self._wait
        if w is None:
            return True
        if w.kind == "user":
            if self.now < self._wait_target - 1e-12:
                return False
            nxt = self.pause.step(self.now)
            if nxt is None:
                return True
            self._wait_target = nxt
            return self.now >= nxt
        if w.kind == "heat":
            self.settle_heaters()
            h = self.heaters[w.heater]
            if h.target <= 0 or (not w.cooling and h.temperature >= h.target - w.tolerance):
                return True
            return h.at_target(w.tolerance)
        return self.now >= self._wait_target - 1e-12

    def _complete(self) -> None:
        """Finish a waiting command: apply homing, send its ok."""
        cmd, w = self.current, self._wait
        if w is not None and w.kind == "home":
            x, y, z, e = self.planner.position
            pos = (0.0 if "X" in w.axes else x, 0.0 if "Y" in w.axes else y, 0.0 if "Z" in w.axes else z, e)
            self.planner.set_position(pos)
            self.printhead.position = pos
        self._wait = None
        self._next_busy = self._next_temp_line = math.inf
        if cmd is not None:
            self._ok(cmd, "")
        self.current = None

    def _ok(self, cmd: Command, text: str) -> None:
        """Acknowledge a command on its port, unless the drop_ok fault swallows it."""
        proto = self.ports.get(cmd.port)
        if proto is None:
            return
        if self.faults.drop_ok():
            self.record_fault("drop_ok", line=cmd.line)
            return
        proto.ok(cmd, self.planner.free, text)

    def _advance(self, t: float) -> None:
        """Move the clock to t, stopping at each report, keepalive and fault time on the way."""
        while self.now < t and not self.halted:
            nxt = min(t, self._next_autoreport, self._next_busy, self._next_temp_line)
            if self._runaway_pending:
                nxt = min(nxt, max(self.config.faults.runaway_s or 0.0, self.now))
            self._heat_lag += nxt - self.now
            self.now = nxt
            if self._heat_lag >= HEATER_LAG:
                self.settle_heaters()
            self.printhead.finish_until(self.now)
            self._events()

    def _events(self) -> None:
        """Emit what is due at `now`: auto-report, busy, heating progress, runaway."""
        now = self.now
        if self._runaway_pending and now >= (self.config.faults.runaway_s or 0.0):
            self._runaway_pending = False
            self.heaters["T"].inject_failure()
            self.record_fault("runaway", heater="T")
        if now >= self._next_autoreport:
            self.broadcast(" " + self.temperature_report())
            self._next_autoreport = now + self.autoreport_interval if self.autoreport_interval > 0 else math.inf
        if self.printhead.runout_tripped:
            self.printhead.runout_tripped = False
            if self.pause.runout():
                self.queue.inject(Command("M600", None, -1))   # the runout script, ahead of the queue
        if now >= self._next_busy:
            self.reply("echo:busy: paused for user" if self.waiting_for_user else "echo:busy: processing")
            self._next_busy = now + self.keepalive_interval
        if now >= self._next_temp_line:
            self.reply(heating_line(self.flavour, *self._readings()))
            self._next_temp_line = now + 1.0
        halt_on_runaway(self)

    def settle_heaters(self) -> None:
        """Step the heaters by the simulated time they are behind."""
        if self._heat_lag > 0:
            for h in self.heaters.values():
                h.step(self._heat_lag)
            self._heat_lag = 0.0

    @property
    def autoreport_interval(self) -> float:
        """M155 interval in seconds (0 = off)."""
        return self._autoreport

    @autoreport_interval.setter
    def autoreport_interval(self, s: float) -> None:
        self._autoreport = s
        self._next_autoreport = self.now + s if s > 0 else math.inf

    # -- halting and resetting -----------------------------------------------------------------------------------
    def kill(self, reason: str = "Shutdown due to M112 command") -> None:
        """Marlin's kill() (Klipper's shutdown): heaters off, motion stopped, nothing more is executed."""
        if self.halted:
            return
        self.broadcast(self.flavour.halted_line)
        self.halted = True
        self.halt_reason = reason
        self.queue.clear()
        self.current = None
        self._wait = None
        self.planner.flush()
        self.printhead.drop_unfinished(self.now)
        self.printhead.flush()
        for h in self.heaters.values():
            h.set_target(0.0)

    def reset(self) -> None:
        """A board reset: `start` again, line numbers from 0, queue and moves lost, heaters off."""
        self.halted = False
        self.queue.clear()
        self.current = None
        self._wait = None
        self._next_busy = self._next_temp_line = math.inf
        self.planner.flush()
        self.printhead.drop_unfinished(self.now)
        self.printhead.flush()
        self.planner = Planner(self.config.motion)
        self.planner.set_position(self.printhead.position)
        self.settle_heaters()
        # the controller restarts: protection latches clear, heaters off, blocks as hot as they are
        self.heaters = {"T": Heater(HOTEND, self.heaters["T"].temperature),
                        "B": Heater(BED, self.heaters["B"].temperature)}
        self.interp.reset()
        self.pause.reset()
        self.autoreport_interval = 0.0
        self.keepalive_interval = self.config.keepalive if self.flavour.busy_lines else 0.0
        self.ports.reset()

    # -- status --------------------------------------------------------------------------------------------------
    def status(self) -> dict:
        """Everything status.json reports."""
        return board_status(self)
