"""Helpers for tests of a farm of hosts: which process holds each printer's serial device, how many whole prints
of a file a simulator's executed log shows, and how long a pause sent through another host took."""
from __future__ import annotations

import json
import os
from pathlib import Path

import httpx

from tests.simproc import HOST_INSERTED


def printers_open_by(serials: dict[str, str], pids: dict[str, int]) -> dict[str, list[str]]:
    """For each printer (name -> serial device), the names of the processes (name -> pid) that hold it open."""
    devices = {os.path.realpath(path): name for name, path in serials.items()}
    held: dict[str, list[str]] = {name: [] for name in serials}
    for who, pid in sorted(pids.items()):
        fds = Path(f"/proc/{pid}/fd")
        for fd in fds.iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target in devices and who not in held[devices[target]]:
                held[devices[target]].append(who)
    return held


def sim_file_commands(gcode: Path) -> list[str]:
    """The commands of a G-code file as a simulator executes them (comments and blank lines dropped)."""
    cmds = (line.split(";", 1)[0].strip() for line in gcode.read_text().splitlines())
    return [c for c in cmds if c and not c.upper().startswith(HOST_INSERTED)]


def full_prints(executed_log: Path, file_cmds: list[str]) -> int:
    """How many times a simulator executed the whole file, in order (commands a host adds between them, to pause
    and resume, are allowed; a print stopped part way does not count)."""
    if not executed_log.exists():
        return 0
    whole, at = 0, 0
    for line in executed_log.read_text().splitlines():
        if not line.strip():
            continue
        if json.loads(line)["cmd"] == file_cmds[at]:
            at += 1
            if at == len(file_cmds):
                whole, at = whole + 1, 0
    return whole


def remote_pause_s(client: httpx.Client, printer: str, owner: str) -> tuple[float, float]:
    """Seconds from a host sending the latest pause for `printer` to `owner` until the owner applied it to the
    printer's job, and until it recorded the printer paused (the moves in flight finished, the head parked), from
    the history both wrote (timed by the record, not by a test's polls: on a busy machine a status request may
    wait its turn longer than the pause itself takes)."""
    events = client.get("/api/v1/events", params={"printer": printer, "limit": 5000}).json()
    sent = [e["t"] for e in events if e["kind"] == "remote_command" and e["data"].get("to") == owner
            and e["message"].startswith("pause ")]
    assert sent, f"no pause for {printer} was sent to host {owner}"
    # the owner may apply it before the sender has written down that it sent it (it is woken by the commit)
    near = [e["t"] for e in events if e["kind"] == "pause" and e["t"] >= sent[-1] - 1.0]
    assert near, f"host {owner} never applied the pause to {printer}'s copy"
    applied = min(near, key=lambda t: abs(t - sent[-1]))
    paused = [e["t"] for e in events if e["kind"] == "printer" and e["data"].get("state") == "paused"
              and e["t"] >= applied]
    assert paused, f"host {owner} never recorded {printer} paused"
    return max(0.0, float(applied - sent[-1])), float(paused[0] - sent[-1])
