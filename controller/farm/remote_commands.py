"""Commands for printers across the farm: a printer of this host is commanded at once; one of another host gets
its command through the shared `commands` table, which its owner's listener takes (woken by PostgreSQL's
LISTEN/NOTIFY, or every half second on SQLite)."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from controller.errors import ControllerError
from controller.farm.fleet import Fleet
from controller.store import Store, commands_queue, history, printers
from controller.store.commands_queue import CHANNEL, Command

log = logging.getLogger(__name__)
Clock = Callable[[], float]
POLL_S = 0.5     # without NOTIFY (SQLite), or between notifications, pending commands are looked for this often


def apply_local(fleet: Fleet, printer: str, action: str, actor: str = "service:queue") -> str:
    """Do `action` on a printer this host drives, for `actor` (who asked, for the audit trail); returns what was
    done (typed errors when it cannot be)."""
    if action == "clear_bed":
        return f"{printer}: bed confirmed clear (camera: {fleet.clear_bed(printer, actor)})"
    if action == "emergency_stop":
        fleet.emergency_stop(printer)
        return f"{printer}: emergency stop sent"
    run = fleet.signal_printer(printer, action, actor)
    return f"{printer}: {action} sent to run {run.id}"


def send_or_apply(store: Store, fleet: Fleet, me: str, printer: str, action: str, clock: Clock,
                  actor: str = "service:queue") -> str:
    """Command a printer wherever it is driven: here at once, else through its owner's commands queue (the
    sending host records who asked)."""
    owner = printers.get_printer(store, printer).host
    if owner in (None, me):
        return apply_local(fleet, printer, action, actor)
    cmd = commands_queue.send(store, owner, printer, action, me, clock())
    history.add_event(store, "remote_command", f"{action} on {printer} sent to host {owner} by {actor}", clock(),
                      printer=printer, actor=actor, data={"command": cmd.id, "to": owner})
    return f"{printer}: {action} sent to host {owner} (command {cmd.id})"


class CommandListener:
    """Takes this host's pending commands and applies them to its fleet, on a thread until `stop()`."""

    def __init__(self, store: Store, fleet: Fleet, host: str, clock: Clock = time.time) -> None:
        """Wire the store, this host's fleet and its name."""
        self.store, self.fleet, self.host, self.clock = store, fleet, host, clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _handle(self, cmd: Command) -> str:
        """Apply one command; a refusal (not printing, unknown printer) is its result, never raised."""
        try:
            result = apply_local(self.fleet, cmd.printer, cmd.action)
        except ControllerError as exc:
            result = f"refused: {exc}"
        except Exception as exc:   # a broken command must not block the ones behind it
            log.exception("command %d failed", cmd.id)
            result = f"failed: {exc}"
        history.add_event(self.store, "remote_command", f"{cmd.action} from host {cmd.sent_by}: {result}",
                          self.clock(), printer=cmd.printer, data={"command": cmd.id, "from": cmd.sent_by})
        return result

    def once(self) -> list[Command]:
        """Apply every pending command of this host, oldest first."""
        return commands_queue.take_pending(self.store, self.host, self._handle, self.clock)

    def start(self) -> None:
        """Listen on a thread (LISTEN on PostgreSQL; polling on SQLite)."""
        self._stop.clear()
        target = self._listen if self.store.engine.dialect.name == "postgresql" else self._poll
        self._thread = threading.Thread(target=target, name="commands", daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        """Look for commands every POLL_S seconds."""
        while not self._stop.wait(POLL_S):
            self._round()

    def _round(self) -> None:
        """One look at the queue; errors (database away) are logged and tried again."""
        try:
            self.once()
        except Exception:
            log.exception("taking the commands of host %s failed", self.host)

    def _listen(self) -> None:
        """Wait for NOTIFY on our own connection (woken within milliseconds), reconnecting if it drops."""
        import psycopg

        url = self.store.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not self._stop.is_set():
            try:
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._round()   # anything sent before we listened
                    while not self._stop.is_set():
                        for _note in conn.notifies(timeout=POLL_S, stop_after=1):
                            pass
                        self._round()
            except psycopg.Error:
                log.exception("listening for commands failed; again in %.1f s", POLL_S)
                self._stop.wait(POLL_S)

    def stop(self) -> None:
        """Stop listening."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
