"""Configuration and events of the host link (`controller.link`): plain frozen dataclasses."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from controller.errors import ConfigError
from controller.link import replies as r


@dataclass(frozen=True)
class LinkConfig:
    """Flow and timing knobs: window mode bounded by rx_buffer bytes and queue_size lines, or one line per ok."""

    flow: str = "window"         # "window" | "ok"
    rx_buffer: int = 128         # firmware receive buffer in bytes (Marlin's default)
    queue_size: int = 4          # firmware command queue (BUFSIZE) unless `ok ... B<n>` says otherwise
    timeout: float = 10.0        # no reply for this long: poke with M105 and assume the window drained
    lost_after: float = 60.0     # no reply for this long: the printer is lost
    sync_after: float = 0.5      # nothing left to send / window blocked and quiet this long: send an M105 sync
    flush_quiet: float = 0.05    # quiet this long after a resend: lines sent before it were flushed by the board

    def __post_init__(self) -> None:
        """Reject impossible settings at the boundary, naming the option and the limit."""
        if self.flow not in ("window", "ok"):
            raise ConfigError(f"flow must be 'window' or 'ok', not {self.flow!r}")
        if self.rx_buffer < 16:
            raise ConfigError(f"rx_buffer must be at least 16 bytes, got {self.rx_buffer}")
        if self.queue_size < 1:
            raise ConfigError(f"queue_size must be at least 1, got {self.queue_size}")
        if not 0 < self.timeout <= self.lost_after:
            raise ConfigError(f"timeout must be above 0 s and not above lost_after ({self.lost_after:g} s), "
                              f"got {self.timeout:g} s")


@dataclass(frozen=True)
class Accepted:
    """The firmware took line `n` (carrying the caller's `tag`)."""

    n: int
    tag: Any
    proven: bool = False  # answered by the `ok T:` of this very M105 sync, so every earlier line was taken


@dataclass(frozen=True)
class Rewound:
    """A `Resend: n` was honoured: lines from n on are sent again."""

    n: int


@dataclass(frozen=True)
class ResendIgnored:
    """A resend request was not acted on (a duplicate, or a target never sent), and why."""

    n: int
    why: str


@dataclass(frozen=True)
class Poked:
    """No answer within the timeout: the window was assumed drained and an M105 sent."""

    silent_s: float


@dataclass(frozen=True)
class BoardReset:
    """`start` arrived while lines were outstanding: they were dropped, never resent into the fresh board."""

    outstanding: int


@dataclass(frozen=True)
class Halted:
    """The firmware halted; `reason` is its own message."""

    reason: str


@dataclass(frozen=True)
class Lost:
    """The printer stopped answering."""

    silent_s: float


LinkEvent = r.Reply | Accepted | Rewound | ResendIgnored | Poked | BoardReset | Halted | Lost
