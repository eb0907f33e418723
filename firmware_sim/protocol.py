"""Sans-IO device side of Marlin's serial line protocol: fed bytes, yields queued commands and reply bytes.

One `DeviceProtocol` per serial port. It models the UART receive ring (RX_BUFFER_SIZE bytes, overrun loses the
bytes that do not fit), Marlin's line assembly (MAX_CMD_SIZE, comments, CR/LF), line numbers and checksums with
Marlin's exact error/Resend/ok replies (a checksum without a line number is refused too), and the emergency
parser (M112/M108/M410/M876 seen as bytes arrive). Complete commands go to a shared `CommandQueue` of BUFSIZE
entries (or Prusa-Firmware's byte ring); the board pops them and calls `ok()` once each has been executed, as
Marlin's `ok_to_send` does. With `line_numbers=False` (Klipper) `N<n>` and `*<checksum>` are dropped unchecked.
No sockets, threads or clocks in here.
"""
from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

RX_BUFFER_SIZE = 128
BUFSIZE = 4
MAX_CMD_SIZE = 96

ERR_CHECKSUM = "checksum mismatch, Last Line: "
ERR_LINE_NO = "Line Number is not Last Line Number+1, Last Line: "
ERR_NO_CHECKSUM = "No Checksum with line number, Last Line: "
ERR_NO_LINE_NO = "No Line Number with checksum, Last Line: "

# Marlin's emergency parser: a command at the start of a line (after an optional line number), as bytes arrive
_EMERGENCY = re.compile(rb"^[ \t]*(?:N-?[0-9]+[ \t]*)?M(112|108|410|876[ \t]*S[0-9]+)(?![0-9])", re.MULTILINE)
_EMERGENCY_TAIL = 24
_LINE_WORD = re.compile(rb"N\s*(-?\d+)\s*")


@dataclass(frozen=True)
class Command:
    """A validated command taken from a port: text without N/checksum/comment, its line number, its port."""

    text: str
    line: int | None
    port: int


class CommandQueue:
    """Marlin's command ring (BUFSIZE entries) shared by all ports; commands wait here until executed.

    With `size_bytes` it is Prusa-Firmware's string ring instead: each entry takes its text (with the `N<n> `
    word) plus a 3-byte header and a terminator, and a line is read only while a longest possible line
    (MAX_CMD_SIZE) would still fit, so short commands queue more than BUFSIZE deep."""

    def __init__(self, size: int = BUFSIZE, size_bytes: int | None = None) -> None:
        self.size = size
        self.size_bytes = size_bytes
        self._items: deque[Command] = deque()
        self._injected: deque[Command] = deque()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._items) + len(self._injected)

    def inject(self, cmd: Command) -> None:
        """A command of the firmware's own (the runout script), run before the queue and taking no slot."""
        self._injected.append(cmd)

    @property
    def free(self) -> int:
        """Free entries, as reported by `B` in the advanced ok (byte ring: longest lines that still fit)."""
        if self.size_bytes is not None:
            return max(0, (self.size_bytes - self._bytes) // (MAX_CMD_SIZE + _PRUSA_ENTRY_OVERHEAD))
        return self.size - len(self._items)

    def push(self, cmd: Command) -> None:
        """Append a command; callers check `free` first."""
        self._items.append(cmd)
        self._bytes += _entry_bytes(cmd)

    def pop(self) -> Command | None:
        """Oldest command, or None when empty."""
        if self._injected:
            return self._injected.popleft()
        if not self._items:
            return None
        cmd = self._items.popleft()
        self._bytes -= _entry_bytes(cmd)
        return cmd

    def clear(self) -> None:
        """Drop every queued command (reset, kill)."""
        self._items.clear()
        self._injected.clear()
        self._bytes = 0


_PRUSA_ENTRY_OVERHEAD = 4   # CMDHDRSIZE (3) + the terminating NUL


def _entry_bytes(cmd: Command) -> int:
    """Bytes a command takes in Prusa's string ring (the `N<n> ` word stays in it)."""
    number = len(str(cmd.line)) + 2 if cmd.line is not None else 0
    return len(cmd.text) + number + _PRUSA_ENTRY_OVERHEAD


def checksum(data: bytes) -> int:
    """XOR of all bytes: Marlin's line checksum."""
    c = 0
    for b in data:
        c ^= b
    return c


class DeviceProtocol:
    """The line protocol of one serial port, as Marlin 2.x implements it."""

    def __init__(
        self,
        queue: CommandQueue,
        port: int = 0,
        rx_buffer_size: int = RX_BUFFER_SIZE,
        advanced_ok: bool = True,
        line_numbers: bool = True,
    ) -> None:
        self.queue = queue
        self.line_numbers = line_numbers
        self.port = port
        self.rx_buffer_size = rx_buffer_size
        self.advanced_ok = advanced_ok
        self.last_n = 0
        self.bytes_lost = 0
        self._rx = bytearray()
        self._line = bytearray()
        self._line_overflow = False
        self._comment = False
        self._out = bytearray()
        self._emergency_tail = b""
        self.spurious_resend: Callable[[int], bool] | None = None

    # -- receiving ---------------------------------------------------------------------------------------------
    def receive_data(self, data: bytes) -> list[str]:
        """Store bytes in the RX ring (excess is lost, as a UART overrun); return emergency commands seen."""
        seen = self._scan_emergency(data)
        room = self.rx_buffer_size - len(self._rx)
        if len(data) > room:
            self.bytes_lost += len(data) - max(room, 0)
            data = data[: max(room, 0)]
        self._rx += data
        return seen

    def _scan_emergency(self, data: bytes) -> list[str]:
        """Marlin's emergency parser sees every received byte, even those the ring then drops."""
        tail = self._emergency_tail
        buf = tail + data
        found = [f"M{m.group(1).decode().replace(' ', '').replace(chr(9), '').replace('S', ' S')}"
                 for m in _EMERGENCY.finditer(buf) if m.end() > len(tail)]
        line_start = buf.rfind(b"\n") + 1
        rest = buf[line_start:]
        # keep the start of the unfinished line; a long one can no longer begin with a command
        self._emergency_tail = rest if len(rest) <= _EMERGENCY_TAIL else b"\x00"
        return found

    @property
    def rx_pending(self) -> int:
        """Bytes waiting in the RX ring."""
        return len(self._rx)

    def process(self) -> int:
        """Assemble lines from the RX ring into the command queue while it has room; return commands queued."""
        queued = 0
        i = 0
        rx = self._rx
        n = len(rx)
        while i < n and self.queue.free > 0:
            c = rx[i]
            i += 1
            if c == 10 or c == 13:
                self._comment = False
                line = bytes(self._line)
                self._line.clear()
                self._line_overflow = False
                if self._finish_line(line):
                    queued += 1
                if self._flushed:
                    self._flushed = False
                    i = n = 0
                    break
            elif self._comment:
                continue
            elif c == 59:  # ';'
                self._comment = True
            elif len(self._line) >= MAX_CMD_SIZE - 1:
                self._line_overflow = True
            else:
                self._line.append(c)
        del rx[:i]
        return queued

    _flushed = False

    def _finish_line(self, raw: bytes) -> bool:
        """Validate one assembled line; queue it or reply with Marlin's error, Resend and ok."""
        line = raw.lstrip(b" ")
        if not line:
            return False
        if not self.line_numbers:
            return self._unchecked(line)
        if line[:1] == b"N":
            is_m110 = b"M110" in line
            npos = 0
            if is_m110:
                n2 = line.find(b"N", line.find(b"M110") + 4)
                if n2 >= 0:
                    npos = n2
            number = _leading_int(line[npos + 1:])
            if number != self.last_n + 1 and not is_m110:
                self._line_error(ERR_LINE_NO)
                return False
            star = line.rfind(b"*")
            if star < 0:
                self._line_error(ERR_NO_CHECKSUM)
                return False
            if _leading_int(line[star + 1:]) != checksum(line[:star]):
                self._line_error(ERR_CHECKSUM)
                return False
            if not is_m110 and self.spurious_resend is not None and self.spurious_resend(number):
                self._flushed = True
                self._rx.clear()
                self.write_line(f"Resend: {number}")
                self.write_line("ok")
                return False
            self.last_n = number
            line_number = _leading_int(line[1:])
            body = line[:star]
            # strip the "N<n>" word
            j = 1
            while j < len(body) and (body[j:j + 1].isdigit() or body[j:j + 1] == b"-"):
                j += 1
            text = body[j:].strip().decode("latin-1")
            self.queue.push(Command(text, line_number, self.port))
            return True
        if b"*" in line:
            # a checksum without a line number: most likely a line whose `N` was garbled on the wire
            self._line_error(ERR_NO_LINE_NO)
            return False
        self.queue.push(Command(line.strip().decode("latin-1"), None, self.port))
        return True

    def _unchecked(self, line: bytes) -> bool:
        """Klipper's reading of a line: a leading `N<n>` word and a `*<checksum>` are dropped, never checked."""
        number = None
        m = _LINE_WORD.match(line)
        if m is not None:
            number = int(m.group(1))
            line = line[m.end():]
        star = line.find(b"*")
        if star >= 0:
            line = line[:star]
        text = line.strip().decode("latin-1")
        if not text:
            return False
        self.queue.push(Command(text, number, self.port))
        return True

    def _line_error(self, message: str) -> None:
        """Marlin's gcode_line_error: report, drop everything pending in RX, ask for the next line again."""
        self.write_line(f"Error:{message}{self.last_n}")
        self._flushed = True
        self._rx.clear()
        self._line.clear()
        self._comment = False
        self.write_line(f"Resend: {self.last_n + 1}")
        self.write_line("ok")

    # -- replying ------------------------------------------------------------------------------------------------
    def ok(self, cmd: Command, planner_free: int, text: str = "") -> None:
        """Acknowledge an executed command: `ok`, Marlin's advanced `ok N<n> P<p> B<b>`, or `ok <text>`."""
        if text:
            self.write_line(f"ok {text}")
        elif self.advanced_ok:
            n = f" N{cmd.line}" if cmd.line is not None else ""
            self.write_line(f"ok{n} P{planner_free} B{self.queue.free}")
        else:
            self.write_line("ok")

    def write_line(self, text: str) -> None:
        """Queue one reply line for sending."""
        self._out += text.encode("latin-1", "replace") + b"\n"

    def data_to_send(self) -> bytes:
        """Bytes the port should transmit now (and forget)."""
        out = bytes(self._out)
        self._out.clear()
        return out

    def reset(self) -> None:
        """Board reset: line numbers and buffers start over."""
        self.last_n = 0
        self._rx.clear()
        self._line.clear()
        self._comment = False
        self._flushed = False


def _leading_int(data: bytes) -> int:
    """Parse a leading (signed) integer as strtol does (0 if there is none)."""
    m = re.match(rb"\s*([-+]?\d+)", data)
    return int(m.group(1)) if m else 0
