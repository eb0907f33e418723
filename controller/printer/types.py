"""Plain data of a printer session, and the completion handle of host commands."""
from __future__ import annotations

import threading
from dataclasses import dataclass

from controller.errors import PrinterHaltedError, PrinterLostError


@dataclass(frozen=True)
class FirmwareInfo:
    """What M115 said: firmware name, `Cap:` flags, whether oks carry ADVANCED_OK counts, and the raw lines."""

    name: str
    capabilities: dict[str, bool]
    advanced_ok: bool
    raw: tuple[str, ...]


@dataclass(frozen=True)
class Temperatures:
    """Latest hotend and bed readings (°C)."""

    hotend: float = 0.0
    hotend_target: float = 0.0
    bed: float = 0.0
    bed_target: float = 0.0


class _Waiter:
    """Completion of a command sent by the host (handshake, `Job.execute`, end-of-job sync)."""

    def __init__(self, need_proof: bool = False) -> None:
        self.need_proof = need_proof
        self.done = threading.Event()
        self.error: str | None = None

    def wait(self, timeout: float) -> None:
        """Block until acknowledged; raise if the link failed or the time ran out."""
        if not self.done.wait(timeout):
            raise PrinterLostError(f"no acknowledgement within {timeout:.0f} s")
        if self.error is not None:
            raise PrinterHaltedError(self.error)
