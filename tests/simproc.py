"""Launch `printloop sim` as a subprocess for host tests and benches; read its JSON line, stop it cleanly."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


class Sim:
    """A running simulator: its endpoints and its executed log."""

    def __init__(self, *args: str) -> None:
        """Start `printloop sim ARGS` and wait for its first stdout line."""
        self.proc = subprocess.Popen([sys.executable, "-m", "controller", "sim", *args], cwd=REPO,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise RuntimeError(f"printloop sim did not start: {err}")
        self.endpoints: dict[str, Any] = json.loads(line)
        self.serial: str = self.endpoints["serial"]

    def status(self) -> dict[str, Any]:
        """The simulator's status.json."""
        with urllib.request.urlopen(self.endpoints["status"], timeout=10) as resp:
            result: dict[str, Any] = json.load(resp)
            return result

    def executed(self) -> list[dict[str, Any]]:
        """Executed log entries so far."""
        text = Path(self.endpoints["executed_log"]).read_text()
        return [json.loads(ln) for ln in text.splitlines() if ln.strip()]

    def stop(self) -> None:
        """SIGTERM and wait."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdout, self.proc.stderr):
            if f is not None:
                f.close()

    def __enter__(self) -> Sim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


HOST_INSERTED = ("M105", "M110", "M155", "M115")


def file_part(executed: list[dict[str, Any]]) -> list[str]:
    """Executed commands minus those the host inserts."""
    return [e["cmd"] for e in executed if not e["cmd"].upper().startswith(HOST_INSERTED)]
