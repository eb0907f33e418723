"""Simulated printers as child processes (`printloop sim`), for the demo, the browser test and benchmarks."""
from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controller.errors import ControllerError

REPO = Path(__file__).resolve().parents[1]
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: get SIGKILL if the parent dies, so no simulator outlives a crashed demo."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


@dataclass
class SimProcess:
    """A running `printloop sim` and the endpoints it printed."""

    proc: subprocess.Popen[str]
    serial: str
    camera: str
    status: str
    executed_log: str | None
    endpoints: dict[str, Any] = field(default_factory=dict)  # the whole JSON line it printed

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def launch_sim(*args: str, timeout: float = 60.0, log: Path | None = None) -> SimProcess:
    """Start `printloop sim ARGS` and wait for its endpoints line; its stderr goes to `log` if given."""
    err = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - handed to the child
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "controller", "sim", *args], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=err, text=True, env=env,
                            preexec_fn=_die_with_parent)  # noqa: PLW1509 - only prctl, before exec
    if log:
        err.close()  # type: ignore[union-attr]
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline()
            if line.strip().startswith("{"):
                info = json.loads(line)
                return SimProcess(proc, info["serial"], info["camera"], info.get("status", ""),
                                  info.get("executed_log"), info)
        if proc.poll() is not None:
            break
    proc.kill()
    proc.wait()
    raise ControllerError(f"simulated printer `printloop sim {' '.join(args)}` did not start "
                          f"(exit code {proc.returncode})")
