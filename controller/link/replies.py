"""Pure parsers of firmware reply lines (Marlin, Prusa, Klipper, Repetier, Smoothie spellings): text in, typed
reply out."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

_OK_LINE = re.compile(r"\bN(-?\d+)", re.ASCII)
_OK_P = re.compile(r"\bP(\d+)", re.ASCII)
_OK_B = re.compile(r"\bB(\d+)", re.ASCII)
_RESEND = re.compile(r"^(?:resend|rs)\s*:?\s*(?:N)?(\d+)\s*$", re.IGNORECASE | re.ASCII)
_TEMP = re.compile(r"(?P<key>B@|@\d*|[TBCPW]\d*):\s*(?P<actual>-?[\d.]+|\?)(?:\s*/\s*(?P<target>-?[\d.]+))?", re.ASCII)
_ACTION = re.compile(r"^//\s*action:\s*(\S+)\s*(.*)$", re.ASCII)
_CAP = re.compile(r"^Cap:\s*([A-Za-z0-9_]+)\s*:\s*([01])\s*$", re.ASCII)
# a reset cuts the line being sent: its tail (no spaces) can share a line with the new banner, "o:Mstart"
_GARBLED_START = re.compile(r"^.{1,40}(?<!\s)start$", re.ASCII)   # a line cut by the reset, then `start`
_KLIPPER_SHUTDOWN = re.compile(r"^//\s*klipper state:\s*shutdown", re.ASCII)
_REPLY_HEADS = ("ok", "echo:", "error:", "//", "!!", "resend", "rs", "busy", "cap:", "fw")
_FATAL_WORDS = ("halted", "shutdown", "kill", "runaway", "maxtemp", "mintemp", "heating failed", "stopped", "emergency")


@dataclass(frozen=True)
class Temps:
    """Temperatures in one report: tool name ('T', 'T0', 'B', 'C') → (actual °C, target °C or None)."""

    readings: dict[str, tuple[float, float | None]] = field(default_factory=dict)
    waiting: bool = False  # a heat-and-wait report (Marlin's `W:` field): the firmware is busy heating

    def hotend(self) -> tuple[float, float | None] | None:
        """First hotend reading (T, else T0)."""
        return self.readings.get("T") or self.readings.get("T0")

    def bed(self) -> tuple[float, float | None] | None:
        """Bed reading, if reported."""
        return self.readings.get("B")


@dataclass(frozen=True)
class Ok:
    """`ok`, optionally with Marlin's ADVANCED_OK counts (`N` line, `P` planner free, `B` queue free) or temps."""

    line: int | None = None
    planner_free: int | None = None
    queue_free: int | None = None
    temps: Temps | None = None
    firmware: dict[str, str] | None = None  # M115's fields when the firmware answers inside the ok (Klipper)


@dataclass(frozen=True)
class Resend:
    """`Resend: n` (Marlin) or `rs n` (Repetier, Teacup): the firmware wants line n and all after it again."""

    line: int


@dataclass(frozen=True)
class TempReport:
    """An unsolicited temperature line (auto-report, or heat-and-wait progress)."""

    temps: Temps


@dataclass(frozen=True)
class Busy:
    """`echo:busy: processing` / `busy:` — the firmware is alive but working on a long command."""

    text: str


@dataclass(frozen=True)
class Echo:
    """An `echo:` line, logged."""

    text: str


@dataclass(frozen=True)
class Action:
    """A `//action:NAME ARG` host action command (pause, resume, cancel, ...)."""

    name: str
    argument: str


@dataclass(frozen=True)
class FirmwareError:
    """An `Error:` / `!!` line; fatal when the firmware halted (kill, thermal runaway, min/max temp)."""

    text: str
    fatal: bool


@dataclass(frozen=True)
class Start:
    """`start`: the board (re)booted and forgot line numbers and queued commands."""


@dataclass(frozen=True)
class Capability:
    """One M115 `Cap:NAME:0|1` line."""

    name: str
    enabled: bool


@dataclass(frozen=True)
class FirmwareName:
    """The M115 `FIRMWARE_NAME:...` line split into its KEY:value fields."""

    fields: dict[str, str]


@dataclass(frozen=True)
class Other:
    """Any line no parser claims (e.g. M114 position output, banners)."""

    text: str


Reply = Ok | Resend | TempReport | Busy | Echo | Action | FirmwareError | Start | Capability | FirmwareName | Other


def parse_temperatures(text: str) -> Temps | None:
    """Parse `T:200.0 /200.0 B:60.0 /60.0 @:127 B@:64` (Marlin), `T0:..`, Repetier's `T:20.5 B:20.7`; None if none."""
    readings: dict[str, tuple[float, float | None]] = {}
    waiting = False
    for m in _TEMP.finditer(text):
        key = m.group("key")
        if key.startswith("@") or key == "B@":
            continue
        if key == "W":
            waiting = True
            continue
        if key.startswith("P") and key != "P":
            continue
        actual = m.group("actual")
        if actual == "?":
            continue
        try:
            value = float(actual)
            target = float(m.group("target")) if m.group("target") else None
        except ValueError:
            return None
        readings.setdefault(key, (value, target))
    if not any(k == "T" or k.startswith("T") or k == "B" for k in readings):
        return None
    return Temps(readings, waiting)


def _parse_ok(rest: str) -> Ok:
    """Parse what follows `ok`: Marlin's `N12 P15 B3`, Repetier's bare line number, or temperatures."""
    rest = rest.strip()
    if rest.startswith("FIRMWARE_NAME:"):
        return Ok(firmware=parse_m115_fields(rest))
    temps = parse_temperatures(rest) if ":" in rest else None
    line = planner = queue = None
    if m := _OK_LINE.search(rest):
        line = int(m.group(1))
    elif rest.isdigit():
        line = int(rest)
    if m := _OK_P.search(rest):
        planner = int(m.group(1))
    if m := _OK_B.search(rest):
        queue = int(m.group(1))
    return Ok(line, planner, queue, temps)


def _parse_error(text: str) -> FirmwareError:
    """Classify an error line: link-level complaints (checksum, line number) are not fatal; halts are."""
    low = text.lower()
    fatal = any(word in low for word in _FATAL_WORDS)
    return FirmwareError(text, fatal)


def parse_reply(raw: str) -> Reply:
    """Turn one received line (without line ending) into a typed reply."""
    line = raw.strip().replace("\x00", "")
    low = line.lower()
    if low == "ok" or low.startswith("ok "):
        return _parse_ok(line[2:])
    if low == "start" or (_GARBLED_START.match(low) and not low.startswith(_REPLY_HEADS)):
        return Start()
    if m := _RESEND.match(line):
        return Resend(int(m.group(1)))
    if low.startswith(("error:", "!!")):
        return _parse_error(line.split(":", 1)[1].strip() if low.startswith("error:") else line[2:].strip())
    if _KLIPPER_SHUTDOWN.match(low):
        return FirmwareError(line[2:].strip(), True)   # Klipper's host process shut down (M112, a heater fault)
    if "busy:" in low or low == "wait":
        return Busy(line)
    if low.startswith("echo:"):
        return Echo(line[5:].strip())
    if m := _ACTION.match(line):
        return Action(m.group(1), m.group(2).strip())
    if m := _CAP.match(line):
        return Capability(m.group(1).upper(), m.group(2) == "1")
    if line.startswith("FIRMWARE_NAME:"):
        return FirmwareName(parse_m115_fields(line))
    if (temps := parse_temperatures(line)) is not None and line[:1] in "TB ":
        return TempReport(temps)
    return Other(line)


def parse_m115_fields(line: str) -> dict[str, str]:
    """Split `FIRMWARE_NAME:Marlin 2.1.2 (Github) SOURCE_CODE_URL:... EXTRUDER_COUNT:1` into its fields."""
    keys = list(re.finditer(r"([A-Z_]{3,}):", line))
    fields: dict[str, str] = {}
    for i, m in enumerate(keys):
        end = keys[i + 1].start() if i + 1 < len(keys) else len(line)
        fields[m.group(1)] = line[m.end():end].strip()
    return fields
