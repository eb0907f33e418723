"""Commands taken over MQTT: `{"command", "key", "id"}` on `<base>/<printer>/command`, answered with
`{"id", "ok", "message"}`. They follow the API's rules: the key must be one the service accepts, and pause,
resume and cancel act on the job of the copy the printer prints, as the OctoPrint-compatible job route does."""
from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from controller.errors import ConflictError, ControllerError
from controller.farm.fleet import Fleet
from controller.store import Store, printers

COMMANDS = ("pause", "resume", "cancel", "clear_bed")


@dataclass(frozen=True)
class Command:
    """A parsed command: what, the key it came with, the id to answer with."""

    command: str
    key: str
    id: Any = None


@dataclass(frozen=True)
class Reply:
    """The answer on `…/command/response`."""

    id: Any
    ok: bool
    message: str

    def to_dict(self) -> dict[str, Any]:
        """The reply's JSON body."""
        return {"id": self.id, "ok": self.ok, "message": self.message}


def parse_command(payload: bytes) -> Command | Reply:
    """A Command from a message's payload, or the Reply that refuses it (not JSON, unknown command, no key)."""
    try:
        body = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return Reply(None, False, 'the command must be JSON: {"command": "pause", "key": "<API key>", "id": "1"}')
    if not isinstance(body, dict):
        return Reply(None, False, "the command must be a JSON object")
    ident = body.get("id")
    if ident is not None and not isinstance(ident, str | int | float):
        ident = None
    command, key = body.get("command"), body.get("key")
    if command not in COMMANDS:
        return Reply(ident, False, f"unknown command {command!r}; one of {', '.join(COMMANDS)}")
    if not isinstance(key, str) or not key:
        return Reply(ident, False, "missing key: send an API key of the service in \"key\"")
    return Command(command, key, ident)


def key_accepted(key: str, keys: Sequence[str]) -> bool:
    """Is this one of the service's API keys (compared in constant time, as the API does)?"""
    return any(secrets.compare_digest(key.encode(), k.encode()) for k in keys)


def execute(cmd: Command, printer: str, fleet: Fleet, store: Store, keys: Sequence[str]) -> Reply:
    """Check the key, then carry out the command on the fleet; every refusal names why and changes nothing."""
    if not key_accepted(cmd.key, keys):
        return Reply(cmd.id, False, "wrong API key: nothing was done")
    actor = next(f"key:config-{i}" for i, k in enumerate(keys, start=1)
                 if secrets.compare_digest(cmd.key.encode(), k.encode()))
    try:
        printers.get_printer(store, printer)  # NotFoundError for a printer the service does not know
        if cmd.command == "clear_bed":
            fleet.clear_bed(printer, actor)
            return Reply(cmd.id, True, f"{printer}: bed confirmed clear")
        _, run, _ = fleet.live(printer)
        if run is None:
            raise ConflictError(f"printer {printer!r} is not printing")
        if cmd.command == "pause":
            n = fleet.pause_job(run.job_id, actor)
            return Reply(cmd.id, True, f"{printer}: pause requested for {n} copies of job {run.job_id}")
        if cmd.command == "resume":
            n = fleet.resume_job(run.job_id, actor)
            return Reply(cmd.id, True, f"{printer}: resume requested for {n} copies of job {run.job_id}")
        n = fleet.cancel_job(run.job_id, actor)
        return Reply(cmd.id, True, f"{printer}: job {run.job_id} cancelled; {n} printing copies stopped")
    except ControllerError as exc:
        return Reply(cmd.id, False, str(exc))
