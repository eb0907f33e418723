"""What a G-code handler hands back to the board: text for its `ok`, or a `Wait` to finish first."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Wait:
    """Something the board must complete before the command's ok: `until` a time, `sync`, `dwell` (seconds
    after the moves), `heat` (a heater reaching its target), `home` (the named axes), `user` (a filament
    change parked until the user confirms)."""

    kind: str
    until: float = 0.0
    heater: str = ""
    axes: str = ""
    tolerance: float = 0.0
    cooling: bool = False      # heat waits: also wait while cooling down to the target (M109 R)


@dataclass(frozen=True)
class Outcome:
    """Result of one handler: text after `ok`, a wait, or no ok at all (kill)."""

    ok_text: str = ""
    wait: Wait | None = None
    no_ok: bool = False


OK = Outcome()
