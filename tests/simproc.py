"""Launch `printloop sim` as a subprocess for host tests and benches; read its JSON line, stop it cleanly."""
from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any, Self

from controller.sim_procs import launch_sim

REPO = Path(__file__).resolve().parent.parent


class Sim:
    """A running simulator (started through `controller.sim_procs.launch_sim`): endpoints and executed log."""

    def __init__(self, *args: str) -> None:
        """Start `printloop sim ARGS` and wait for its first stdout line."""
        self._process = launch_sim(*args)
        self.proc = self._process.proc
        self.endpoints: dict[str, Any] = self._process.endpoints
        self.serial: str = self._process.serial

    def status(self) -> dict[str, Any]:
        """The simulator's status.json."""
        with urllib.request.urlopen(self.endpoints["status"], timeout=10) as resp:
            result: dict[str, Any] = json.load(resp)
            return result

    def executed(self) -> list[dict[str, Any]]:
        """Executed log entries so far."""
        text = Path(self.endpoints["executed_log"]).read_text()
        return [json.loads(ln) for ln in text.splitlines() if ln.strip()]

    def ran_from_file(self, at_least: int, tries: int = 100) -> list[str]:
        """The numbered commands executed from the first one that is not the host's own (M105, M110, ...) on,
        once at least `at_least` of them are there (the simulator flushes its log when idle)."""
        ran: list[str] = []
        for _ in range(tries):
            executed = [e["cmd"] for e in self.executed() if e["n"] is not None]
            ran = executed[next((i for i, c in enumerate(executed) if not c.startswith(HOST_INSERTED)), 0):]
            if len(ran) >= at_least:
                break
            time.sleep(0.05)
        return ran

    def stop(self) -> None:
        """SIGTERM and wait (SIGKILL after 10 s)."""
        self._process.stop(timeout=10)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


HOST_INSERTED = ("M105", "M110", "M155", "M115")


def file_part(executed: list[dict[str, Any]]) -> list[str]:
    """Executed commands minus those the host inserts."""
    return [e["cmd"] for e in executed if not e["cmd"].upper().startswith(HOST_INSERTED)]
