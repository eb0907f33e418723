"""Framing both ways: host lines out as `N<n> <command>*<checksum>` (padded where one flipped bit could merge two
frames), reply bytes in assembled into lines."""
from __future__ import annotations

from functools import reduce
from operator import xor


def checksum(payload: str) -> int:
    """Marlin/RepRap line checksum: XOR of every byte of `N<n> <cmd>`."""
    return reduce(xor, payload.encode("latin-1", "replace"), 0)


def _merge_prone(cs: int) -> bool:
    """Would one flipped bit in this frame's newline merge it with the next frame into a line that passes?

    The merged line `A*csA?B` carries B's checksum; it matches when cs ^ xor("*csA") equals the garbled newline.
    """
    return (cs ^ checksum(f"*{cs}") ^ 0x0A).bit_count() == 1


_PADS = (" ", "\t", " \t")
_PAD_FOR: dict[int, str] = {
    cs: next(p for p in _PADS if not _merge_prone(cs ^ checksum(p))) for cs in range(256) if _merge_prone(cs)
}


def frame(number: int, command: str) -> bytes:
    """The bytes sent for command number `number`: `N<n> <cmd>*<checksum>\\n`.

    Trailing blanks (ignored by firmware) are added to the few frames whose checksum would let a single flipped
    bit in the newline merge two frames into one line that still passes the XOR checksum.
    """
    payload = f"N{number} {command}"
    cs = checksum(payload)
    if cs in _PAD_FOR:
        pad = _PAD_FOR[cs]
        payload += pad
        cs ^= checksum(pad)
    return f"{payload}*{cs}\n".encode("latin-1", "replace")


MAX_LINE = 1024  # a received line longer than this keeps only its end (line noise without a newline)


class LineAssembler:
    """Received bytes into reply lines: ends at CR, LF or CRLF, drops NULs, decodes with U+FFFD for bad bytes.

    A partial line waits for the next bytes; the result does not depend on how the bytes were split up. Empty
    lines are dropped; a runaway line keeps its last `MAX_LINE` bytes, where a garbled `...start` banner ends.
    """

    def __init__(self) -> None:
        """Start with no partial line."""
        self._partial = b""

    def feed(self, data: bytes) -> list[str]:
        """Add received bytes; return the lines they completed, in order."""
        if b"\x00" in data:
            data = data.replace(b"\x00", b"")
        if b"\n" not in data and b"\r" not in data:
            self._partial = (self._partial + data)[-MAX_LINE:]
            return []
        if self._partial:
            data = self._partial + data
        if b"\r" in data:
            data = data.replace(b"\r", b"\n")
        *complete, rest = data.split(b"\n")
        self._partial = rest[-MAX_LINE:]
        if len(data) > MAX_LINE:  # only then can a line be too long
            complete = [c[-MAX_LINE:] for c in complete]
        return [c.decode("utf-8", "replace") for c in complete if c]
