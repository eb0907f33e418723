"""Framing of host lines: `N<n> <command>*<checksum>`, padded where one flipped bit could merge two frames."""
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
