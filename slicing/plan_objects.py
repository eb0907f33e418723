"""Which object (copy) each command of a G-code file prints, from the labels slicers write.

Commands: Marlin's `M486 S<id>` (S-1: none) with `M486 A<name>`, and Klipper's `EXCLUDE_OBJECT_DEFINE NAME=…`,
`EXCLUDE_OBJECT_START NAME=…` / `EXCLUDE_OBJECT_END`. Comments: PrusaSlicer's `; printing object NAME` /
`; stop printing object NAME` and Cura's `;MESH:name` (`;MESH:NONMESH`: none). Labels in commands win when a
file has both; an object that Klipper's `EXCLUDE_OBJECT_DEFINE` only defines under the name an `M486 A` gave is the
same object (printloop writes both).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from slicing.gcode_comments import CommentIndex


@dataclass(frozen=True)
class PlanObject:
    """One labelled object of a file: its index in the plan and its name."""

    index: int
    name: str


_M486 = re.compile(r"^M486\b(.*)$", re.IGNORECASE)
_M486_S = re.compile(r"\bS\s*(-?\d+)", re.IGNORECASE)
_M486_A = re.compile(r"\bA\s*\"?(.*?)\"?\s*$", re.IGNORECASE)
_NAME = re.compile(r"\bNAME=(\"[^\"]*\"|'[^']*'|\S+)", re.IGNORECASE)


def _name_of(args: str) -> str | None:
    """The NAME= argument of an EXCLUDE_OBJECT command."""
    m = _NAME.search(args)
    return m.group(1).strip("\"'") if m else None


def _command_events(commands: tuple[str, ...]) -> tuple[list[tuple[int, str | None]], dict[str, str]]:
    """(command index, object key or None) where the current object changes, and a display name per key."""
    events: list[tuple[int, str | None]] = []
    names: dict[str, str] = {}
    defined: list[str] = []
    current: str | None = None
    for i, c in enumerate(commands):
        head = c[:4].upper()
        if head == "M486":
            args = _M486.match(c)
            rest = args.group(1) if args else ""
            s = _M486_S.search(rest)
            a = _M486_A.search(rest) if re.search(r"\bA", rest, re.IGNORECASE) else None
            if s is not None:
                sid = int(s.group(1))
                current = None if sid < 0 else f"#{sid}"
                if current is not None:
                    names.setdefault(current, f"object {sid}")
                events.append((i, current))
            if a is not None and current is not None and a.group(1):
                names[current] = a.group(1)
        elif head == "EXCL" and c[:14].upper() == "EXCLUDE_OBJECT":
            words = c.split(None, 1)
            verb, rest = words[0].upper(), (words[1] if len(words) > 1 else "")
            name = _name_of(rest)
            if verb == "EXCLUDE_OBJECT_DEFINE" and name:
                defined.append(name)
            elif verb == "EXCLUDE_OBJECT_START" and name:
                names.setdefault(name, name)
                events.append((i, name))
            elif verb == "EXCLUDE_OBJECT_END":
                events.append((i, None))
    aliases = {name for key, name in names.items() if key != name}     # names M486 A gave to numbered objects
    merged = {name: name for name in defined if name not in aliases}  # defined objects first, in their order
    merged.update(names)
    return events, merged


def object_spans(commands: tuple[str, ...], command_line: np.ndarray,
                 notes: CommentIndex) -> tuple[tuple[PlanObject, ...], np.ndarray]:
    """The file's objects and, per command, the index of the object it belongs to (-1: none)."""
    events, names = _command_events(commands)
    if not events and notes.object_lines:
        at = np.searchsorted(command_line, np.asarray(notes.object_lines, dtype=np.int64), side="left")
        events = list(zip(at.tolist(), notes.object_names))
        names = {n: n for n in notes.object_names if n is not None}
    order: dict[str, int] = {}
    for name in names:
        order.setdefault(name, len(order))
    for _i, key in events:
        if key is not None and key not in order:
            order[key] = len(order)
    objects = tuple(PlanObject(k, names.get(key, key)) for key, k in order.items())
    out = np.full(len(commands), -1, dtype=np.int32)
    if events:
        idx = np.asarray([e[0] for e in events], dtype=np.int64)
        val = np.asarray([-1 if e[1] is None else order[e[1]] for e in events], dtype=np.int32)
        pos = np.searchsorted(idx, np.arange(len(commands)), side="right") - 1
        out = np.where(pos >= 0, val[np.maximum(pos, 0)], -1).astype(np.int32)
    return objects, out
