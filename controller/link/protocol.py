"""Sans-IO host side of the Marlin line protocol: fed received bytes and the clock, asked for the bytes to send.

Every command is numbered and checksummed; the history answers `Resend`; a window of in-flight transmissions is
bounded by the firmware's receive buffer (bytes) and command queue (lines). Each transmission the firmware reads
ends in exactly one `ok` (after an `Error`/`Resend` pair when it was rejected), so `ok`s retire transmissions in
order; ADVANCED_OK line numbers and the `ok T:` reply of an M105 re-align the count when `ok`s are lost.
Received bytes are assembled into lines here (`receive_data`), so partial lines and line noise never reach the
transport or the session. No serial port, thread or sleep in here: the session drives it.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum
from typing import Any

from controller.errors import ProtocolError
from controller.link import replies as r
from controller.link.events import (
    Accepted,
    BoardReset,
    Halted,
    LinkConfig,
    LinkEvent,
    Lost,
    Poked,
    ResendIgnored,
    Rewound,
)
from controller.link.framing import LineAssembler, frame

__all__ = [
    "SYNC",
    "Accepted",
    "BoardReset",
    "Halted",
    "Link",
    "LinkConfig",
    "LinkEvent",
    "LinkState",
    "Lost",
    "Poked",
    "ResendIgnored",
    "Rewound",
]

SYNC = "M105"
_BAD_TARGET_SLACK = 4  # bogus future resend targets tolerated (beyond one per in-flight line) before failing


class LinkState(Enum):
    """Where the conversation with the board stands."""

    WAITING_START = "waiting_start"  # port open, waiting for the board's `start` (or for the caller to give up)
    READY = "ready"                  # numbered conversation running
    RESET = "reset"                  # the board rebooted: outstanding lines dropped, needs `resync()`
    HALTED = "halted"                # the firmware halted (kill, thermal runaway); only a reset helps
    LOST = "lost"                    # no answer within `lost_after`


_TRANSITIONS: dict[tuple[LinkState, str], LinkState] = {
    (LinkState.WAITING_START, "start"): LinkState.READY,
    (LinkState.WAITING_START, "give_up_start"): LinkState.READY,
    (LinkState.WAITING_START, "halt"): LinkState.HALTED,
    (LinkState.WAITING_START, "lost"): LinkState.LOST,
    (LinkState.READY, "start"): LinkState.RESET,
    (LinkState.READY, "halt"): LinkState.HALTED,
    (LinkState.READY, "lost"): LinkState.LOST,
    (LinkState.READY, "resync"): LinkState.READY,
    (LinkState.RESET, "start"): LinkState.RESET,
    (LinkState.RESET, "halt"): LinkState.HALTED,
    (LinkState.RESET, "resync"): LinkState.READY,
    (LinkState.HALTED, "start"): LinkState.RESET,
    (LinkState.HALTED, "halt"): LinkState.HALTED,
    (LinkState.LOST, "start"): LinkState.RESET,
    (LinkState.LOST, "halt"): LinkState.HALTED,
    (LinkState.LOST, "lost"): LinkState.LOST,
}




@dataclass
class _Tx:
    """One transmission in flight: its line number, size, and whether a resend already doomed it."""

    n: int
    size: int
    doomed: bool = False


class Link:
    """The host protocol state machine (see module docstring)."""

    def __init__(self, config: LinkConfig | None = None, now: float = 0.0) -> None:
        """Start waiting for the board's `start`; `now` is the caller's clock reading."""
        self.config = config or LinkConfig()
        self.state = LinkState.WAITING_START
        self.queue_size = self.config.queue_size
        self.halt_reason: str | None = None
        self._history: list[tuple[str, Any]] = []   # index = line number
        self._next = 0                                # next line number to transmit
        self._pending: deque[tuple[str, Any]] = deque()
        self._urgent = bytearray()
        self._fifo: deque[_Tx] = deque()
        self._in_flight_bytes = 0
        self._rejecting = False
        self._bad_target_strikes = 0
        self._numbered = False
        self._ignored_resend: int | None = None
        self._last_heard = now
        self._last_sync = now
        self._bytes_sent = 0
        self._lines_sent = 0
        self._assembler = LineAssembler()
        self._backlog: list[str] = []      # complete lines not yet handled when a line raised
        self._held: list[LinkEvent] = []   # events of lines handled before that raise, returned next time

    # ---- state -------------------------------------------------------------------------------------------------
    def _transition(self, event: str) -> None:
        """Move along the transition table; an event with no entry is a caller error."""
        try:
            self.state = _TRANSITIONS[(self.state, event)]
        except KeyError:
            raise ProtocolError(f"link cannot {event.replace('_', ' ')} while {self.state.value}") from None

    @property
    def outstanding(self) -> int:
        """Commands not yet known to be taken: pending, awaiting resend, or in flight."""
        return len(self._pending) + (len(self._history) - self._next) + len(self._fifo)

    @property
    def idle(self) -> bool:
        """Nothing pending, nothing to resend, nothing in flight."""
        return self.outstanding == 0

    @property
    def pending(self) -> int:
        """Commands queued but not yet numbered."""
        return len(self._pending)

    @property
    def in_flight(self) -> int:
        """Transmissions awaiting their `ok`."""
        return len(self._fifo)

    @property
    def bytes_sent(self) -> int:
        """Bytes written so far (including resends)."""
        return self._bytes_sent

    @property
    def lines_sent(self) -> int:
        """Numbered lines written so far (each resent line counts again)."""
        return self._lines_sent

    # ---- commands in -------------------------------------------------------------------------------------------
    def send(self, command: str, tag: Any = None) -> None:
        """Queue one command (already stripped of comments) to be numbered and sent after those before it."""
        if self.state in (LinkState.HALTED, LinkState.LOST, LinkState.RESET):
            raise ProtocolError(f"cannot send {command!r}: the printer link is {self.state.value}")
        self._pending.append((command, tag))

    def send_immediately(self, command: str) -> None:
        """Send a raw, unnumbered command ahead of everything (M112 for the firmware's emergency parser)."""
        self._urgent += command.encode("ascii") + b"\n"

    def withdraw(self) -> list[tuple[str, Any]]:
        """Take back the commands not yet numbered (for pause); in-flight and resend lines stay."""
        taken = list(self._pending)
        self._pending.clear()
        return taken

    def give_up_waiting_for_start(self) -> None:
        """No `start` came (the board was already running): go on and resynchronise line numbers."""
        self._transition("give_up_start")
        self._begin_numbering()

    def resync(self) -> None:
        """After a board reset: start numbering again with `M110 N0`."""
        self._transition("resync")
        self._begin_numbering()

    def _begin_numbering(self) -> None:
        """Forget history and in-flight accounting; line 0 is `M110 N0`."""
        self._history = []
        self._next = 0
        self._fifo.clear()
        self._in_flight_bytes = 0
        self._rejecting = False
        self._numbered = False
        self._pending.appendleft(("M110 N0", None))

    # ---- bytes out ---------------------------------------------------------------------------------------------
    def _window_open(self, size: int) -> bool:
        """Would one more transmission of `size` bytes fit the firmware's buffers?"""
        sizes = [tx.size for tx in self._fifo if tx.size]  # entries zeroed by a poke hold no buffer space
        if not sizes:
            return True
        if self.config.flow == "ok" or not self._numbered:
            return False  # one line per ok; and nothing after M110 until the board confirmed the renumbering
        return len(sizes) < self.queue_size and self._in_flight_bytes + size <= self.config.rx_buffer - 1

    def bytes_to_send(self, now: float) -> bytes:
        """Everything that may be written now: urgent bytes, then frames while the window has room."""
        out = bytearray(self._urgent)
        self._urgent.clear()
        if self.state is not LinkState.READY:
            self._bytes_sent += len(out)
            return bytes(out)
        if not self._numbered and not self._fifo:
            self._next = 0  # everything sent so far was answered, yet M110 was not taken: send it again
        while True:
            if self._next < len(self._history):
                data = frame(self._next, self._history[self._next][0])
                if not self._window_open(len(data)):
                    break
            elif self._pending:
                if not self._numbered and self._next > 0 and self._pending[0][0] != SYNC:
                    break  # until the board confirmed M110, nothing that must not run twice
                data = frame(self._next, self._pending[0][0])
                if not self._window_open(len(data)):
                    break
                self._history.append(self._pending.popleft())
            else:
                break
            self._transmit(self._next, data, now)
            self._next += 1
            out += data
        self._bytes_sent += len(out)
        return bytes(out)

    def _transmit(self, n: int, data: bytes, now: float) -> None:
        """Record a transmission in flight."""
        if not self._fifo:
            self._last_heard = now
        self._fifo.append(_Tx(n, len(data)))
        self._in_flight_bytes += len(data)
        self._lines_sent += 1

    # ---- bytes in ----------------------------------------------------------------------------------------------
    def receive_data(self, data: bytes, now: float) -> list[LinkEvent]:
        """Feed received bytes (any split, partial lines kept); returns each completed line's reply and effects.

        A `ProtocolError` from one line leaves the lines after it to the next call (`receive_data(b"", now)`),
        with the events of the lines before it.
        """
        lines = self._assembler.feed(data)
        if self._backlog:
            lines, self._backlog = self._backlog + lines, []
        events, self._held = self._held, []
        for i, line in enumerate(lines):
            try:
                events += self._receive_line(line, now)
            except ProtocolError:
                self._backlog, self._held = lines[i + 1:], events
                raise
        return events

    def _receive_line(self, line: str, now: float) -> list[LinkEvent]:
        """One received line: the parsed reply and whatever it caused."""
        reply = r.parse_reply(line)
        events: list[LinkEvent] = [reply]
        if isinstance(reply, r.Ok):
            self._last_heard = now
            events += self._on_ok(reply)
        elif isinstance(reply, r.Resend):
            self._last_heard = now
            events += self._on_resend(reply.line)
        elif isinstance(reply, r.Busy) or isinstance(reply, r.TempReport) and reply.temps.waiting:
            self._last_heard = now
        elif isinstance(reply, r.FirmwareError):
            if reply.fatal and self.state is not LinkState.HALTED:
                self.halt_reason = reply.text
                self._drop_outstanding()
                self._transition("halt")
                events.append(Halted(reply.text))
        elif isinstance(reply, r.Start):
            self._last_heard = now
            events += self._on_start()
        return events

    def _on_start(self) -> list[LinkEvent]:
        """The board (re)booted: never resend into it; outstanding lines are dropped and reported."""
        if self.state is LinkState.WAITING_START:
            self._transition("start")
            self._begin_numbering()
            return []
        lost = self._drop_outstanding()
        self._transition("start")
        return [BoardReset(lost)]

    def _drop_outstanding(self) -> int:
        """Forget pending, resend backlog and in-flight lines; return how many there were."""
        lost = self.outstanding
        self._pending.clear()
        del self._history[self._next:]
        self._fifo.clear()
        self._in_flight_bytes = 0
        return lost

    def _retire_head(self) -> _Tx:
        """Drop the oldest transmission from the window."""
        tx = self._fifo.popleft()
        self._in_flight_bytes -= tx.size
        return tx

    def _accept(self, tx: _Tx, proven: bool = False) -> Accepted | None:
        """An acceptance event for a retired transmission."""
        self._bad_target_strikes = 0
        self._numbered = True
        return Accepted(tx.n, self._history[tx.n][1], proven) if tx.n < len(self._history) else None

    def _on_ok(self, ok: r.Ok) -> list[LinkEvent]:
        """Retire transmissions: through a matching line number or M105 sync, else just the oldest."""
        if ok.queue_free is not None and ok.queue_free > self.queue_size and self.config.flow == "window":
            self.queue_size = ok.queue_free  # the firmware's BUFSIZE is at least its largest free-slot count
        rejected, self._rejecting = self._rejecting, False
        if not self._fifo:
            return []
        through = self._match(ok) if not rejected else None
        events: list[LinkEvent] = []
        if through is None:
            tx = self._retire_head()
            if not (rejected or tx.doomed) and (acc := self._accept(tx)):
                events.append(acc)
            return events
        for i in range(through + 1):
            tx = self._retire_head()
            proven = i == through and ok.temps is not None
            if not tx.doomed and (acc := self._accept(tx, proven)):
                events.append(acc)
        return events

    def _match(self, ok: r.Ok) -> int | None:
        """Index of the in-flight transmission this ok provably answers, if it says (ADVANCED_OK N, or `ok T:`)."""
        for i, tx in enumerate(self._fifo):
            if tx.doomed:
                continue
            if ok.temps is None and ok.line is not None and tx.n == ok.line:
                return i
            if ok.temps is not None and self._is_sync(tx):
                # The reply may belong to a later M105 whose predecessor's reply was lost: extend over a run
                # of M105s (harmless to over-claim; every real command before the first is taken either way).
                while i + 1 < len(self._fifo) and self._is_sync(self._fifo[i + 1]):
                    i += 1
                return i
        return None

    def _is_sync(self, tx: _Tx) -> bool:
        """Is this transmission an M105 (whose `ok T:` answer identifies it)?"""
        return tx.n < len(self._history) and not tx.doomed and \
            self._history[tx.n][0].split(" ", 1)[0].upper() == SYNC

    def _on_resend(self, n: int) -> list[LinkEvent]:
        """Honour `Resend: n` once: duplicates from already-doomed lines and impossible targets are ignored."""
        self._rejecting = True
        if self.state is not LinkState.READY:
            return [ResendIgnored(n, f"link is {self.state.value}")]
        if not self._numbered:
            n = 0  # the M110 itself was rejected: renumber again (only it and M105 syncs were sent)
        elif n == 0 and self._numbered:
            return [ResendIgnored(n, "line 0 is the M110 reset, already taken; resending it would renumber")]
        if self._fifo and self._fifo[0].doomed:
            self._ignored_resend = n
            return [ResendIgnored(n, "duplicate request from a line sent before the last resend")]
        if n == self._next:
            return [ResendIgnored(n, "line is the next to send anyway")]
        if n > len(self._history):
            self._bad_target_strikes += 1
            if self._bad_target_strikes > self.queue_size + _BAD_TARGET_SLACK:
                raise ProtocolError(
                    f"firmware keeps asking to resend line {n}, but only lines 0..{len(self._history) - 1} were sent"
                )
            return [ResendIgnored(n, f"line {n} was never sent (last sent {len(self._history) - 1})")]
        if n < 0:
            raise ProtocolError(f"firmware asked to resend line {n}, outside the host's history")
        self._bad_target_strikes = 0
        self._rewind(n)
        return [Rewound(n)]

    def _rewind(self, n: int) -> None:
        """Send again from line n; what is in flight now will be rejected (or was flushed) by the board."""
        for tx in self._fifo:
            tx.doomed = True
        self._next = n
        self._ignored_resend = None

    # ---- time --------------------------------------------------------------------------------------------------
    def tick(self, now: float) -> list[LinkEvent]:
        """Advance the clock: sync after a short quiet spell, poke after `timeout`, lost after `lost_after`."""
        if self.state is not LinkState.READY or not self._fifo:
            return []
        silent = now - self._last_heard
        if self._fifo[0].doomed and silent >= self.config.flush_quiet:
            # Marlin flushes its receive buffer after a rejected line: doomed lines that got no answer by now
            # never will. A resend request that arrived meanwhile and looked like a duplicate was genuine.
            while self._fifo and self._fifo[0].doomed:
                self._retire_head()
            if self._ignored_resend is not None and self._ignored_resend < len(self._history):
                n = self._ignored_resend
                self._rewind(n)
                return [Rewound(n)]
            if not self._fifo:
                return []
        if silent >= self.config.lost_after:
            self._drop_outstanding()
            self._transition("lost")
            return [Lost(silent)]
        if silent >= self.config.timeout and now - self._last_sync >= self.config.timeout:
            self._last_sync = now
            for tx in self._fifo:  # assume the board drained them; keep them for later retirement by a sync
                tx.size = 0
            self._in_flight_bytes = 0
            if not self._numbered:
                self._fifo.clear()
                self._next = 0  # M110 unconfirmed: send it again (only it and syncs went out)
            elif self._next == len(self._history) and not self._pending:
                self._pending.append((SYNC, None))
            return [Poked(silent)]
        if silent >= self.config.sync_after and now - self._last_sync >= self.config.sync_after:
            self._early_sync(now)
        return []

    def _early_sync(self, now: float) -> None:
        """Quiet while draining or blocked: queue an M105 whose `ok T:` re-aligns the count of lost `ok`s."""
        if self._next < len(self._history) or (self._pending and self._pending[0][0] == SYNC):
            return
        self._last_sync = now
        data = frame(self._next, SYNC)
        self._history.append((SYNC, None))
        self._transmit(self._next, data, now)
        self._next += 1
        self._urgent += data
