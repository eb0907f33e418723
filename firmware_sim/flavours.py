"""Firmware flavours: the reply spellings of Marlin 2.1, Prusa-Firmware 3.x (MK3) and Klipper, in one place.

Everything a host can tell the firmwares apart by is data here; behaviour differences are explicit switches
that the protocol, ports and board read (none of them looks at `name`):

| switch | marlin | prusa | klipper |
|---|---|---|---|
| `line_numbers` (N/checksum checked, Resend asked) | yes | yes | no: `N..` and `*..` stripped, never a resend |
| `advanced_ok` (`ok N.. P.. B..`) | yes | no | no |
| `byte_queue` (command buffer of BUFSIZE·97 bytes, not BUFSIZE lines) | no | yes | no |
| `sends_start` / `resets_on_open` | yes | yes | no (the host process keeps running) |
| `busy_lines` (`echo:busy: processing`) | yes | yes | no |
| `pause_feature` (M600, runout sensor, host prompts) | yes | yes | no (M600 is a macro there) |
| `refuses_bad_moves` (out-of-range or cold moves refused with an error, not clamped / done dry) | no | no | yes |
| `answers_when_halted` (after a shutdown every line still gets an error and `ok`) | no | no | yes |

Prusa's M600 and runout are LCD-driven on a real MK3; the simulator gives the prusa flavour Marlin 2.1's
host-action sequence (`firmware_sim.pause`) so a host can be tested against one contract.
"""
from __future__ import annotations

from dataclasses import dataclass

MARLIN_CAPS = (
    "SERIAL_XON_XOFF:0", "BINARY_FILE_TRANSFER:0", "EEPROM:0", "VOLUMETRIC:0", "AUTOREPORT_POS:0",
    "AUTOREPORT_TEMP:1", "PROGRESS:0", "PRINT_JOB:1", "AUTOLEVEL:0", "RUNOUT:1", "Z_PROBE:0", "LEVELING_DATA:0",
    "BUILD_PERCENT:0", "SOFTWARE_POWER:0", "TOGGLE_LIGHTS:0", "CASE_LIGHT_BRIGHTNESS:0", "EMERGENCY_PARSER:1",
    "BUSY_PROTOCOL:1", "ADVANCED_OK:1", "HOST_ACTION_COMMANDS:1", "PROMPT_SUPPORT:1", "SDCARD:0", "REPEAT:0", "SD_WRITE:0", "AUTOREPORT_SD_STATUS:0",
    "LONG_FILENAME:0", "THERMAL_PROTECTION:1", "MOTION_MODES:0", "ARCS:1", "BABYSTEPPING:0",
    "CHAMBER_TEMPERATURE:0", "COOLER_TEMPERATURE:0", "MEATPACK:0", "CONFIG_EXPORT:0",
)
PRUSA_CAPS = ("AUTOREPORT_TEMP:1", "AUTOREPORT_FANS:1", "AUTOREPORT_POSITION:1", "EXTENDED_M20:1",
              "PRUSA_MMU2:1")
MARLIN_MESSAGES = {"cold_extrusion": "echo: cold extrusion prevented",
                   "out_of_range": "echo:Move out of range, clamped to X{x:.2f} Y{y:.2f} Z{z:.2f}"}


@dataclass(frozen=True)
class Flavour:
    """One firmware's spellings and behaviour switches (see the module docstring's table)."""

    name: str
    firmware: str                   # shown in the banner and M115
    m115: str                       # the whole FIRMWARE_NAME line
    caps: tuple[str, ...]
    banner: tuple[str, ...]         # lines after `start`, `{rx}`/`{bufsize}` filled in
    temps: str                      # temperature report style: marlin | prusa | klipper
    unknown: str                    # reply to an unknown command, `{cmd}` = the line, `{name}` = its word
    messages: dict[str, str]        # non-fatal command errors by key, `{…}` filled in by the caller
    rx_buffer_size: int = 128
    bufsize: int = 4
    byte_queue: bool = False
    line_numbers: bool = True
    advanced_ok: bool = True
    sends_start: bool = True
    resets_on_open: bool = True
    busy_lines: bool = True
    pause_feature: bool = True
    refuses_bad_moves: bool = False
    answers_when_halted: bool = False
    m115_in_ok: bool = False        # Klipper answers M115 within its `ok`
    halted_line: str = "Error:Printer halted. kill() called!"


MARLIN = Flavour(
    name="marlin",
    firmware="Marlin 2.1.2.1 (printloop sim)",
    m115=("FIRMWARE_NAME:Marlin 2.1.2.1 (printloop sim) SOURCE_CODE_URL:github.com/MarlinFirmware/Marlin "
          "PROTOCOL_VERSION:1.0 MACHINE_TYPE:printloop sim EXTRUDER_COUNT:1 "
          "UUID:cede2a2f-41a2-4748-9b12-c55c62f367ff"),
    caps=MARLIN_CAPS,
    banner=("echo:Marlin 2.1.2.1 (printloop sim)",
            "echo: Last Updated: 2023-06-04 | Author: (printloop simulated board)",
            "echo: RX_BUFFER_SIZE:{rx} BUFSIZE:{bufsize}"),
    temps="marlin",
    unknown='echo:Unknown command: "{cmd}"',
    messages=MARLIN_MESSAGES,
)

# Prusa-Firmware 3.13 on an MK3S: plain `ok`, Marlin 1.x error spellings, a byte-counted command buffer of
# BUFSIZE · (MAX_CMD_SIZE + 1) = 4 · 97 bytes (cmdqueue.cpp), and its own M115 and M105 lines.
PRUSA = Flavour(
    name="prusa",
    firmware="Prusa-Firmware 3.13.3 based on Marlin",
    m115=("FIRMWARE_NAME:Prusa-Firmware 3.13.3 based on Marlin FIRMWARE_URL:https://github.com/prusa3d/Prusa-Firmware "
          "PROTOCOL_VERSION:1.0 MACHINE_TYPE:Prusa i3 MK3S EXTRUDER_COUNT:1 "
          "UUID:00000000-0000-0000-0000-000000000000"),
    caps=PRUSA_CAPS,
    banner=("echo: 3.13.3-7094", "echo: Last Updated: Feb 27 2024 09:11:04 | Author: (none, default config)"),
    temps="prusa",
    unknown='echo:Unknown command: "{cmd}"',
    messages=MARLIN_MESSAGES,
    byte_queue=True,
    advanced_ok=False,
)

# Klipper's virtual serial port (/tmp/printer): the host process answers, not a board.
KLIPPER = Flavour(
    name="klipper",
    firmware="Klipper v0.12.0-printloop",
    m115="FIRMWARE_NAME:Klipper FIRMWARE_VERSION:v0.12.0-printloop",
    caps=(),
    banner=(),
    temps="klipper",
    unknown='// Unknown command:"{name}"',
    messages={"cold_extrusion": "!! Extrude below minimum temp",
              "out_of_range": "!! Move out of range: {x:.3f} {y:.3f} {z:.3f} [{e:.3f}]"},
    line_numbers=False,
    advanced_ok=False,
    sends_start=False,
    resets_on_open=False,
    busy_lines=False,
    pause_feature=False,
    refuses_bad_moves=True,
    answers_when_halted=True,
    m115_in_ok=True,
    halted_line="// Klipper state: Shutdown",
)

FLAVOURS = {f.name: f for f in (MARLIN, PRUSA, KLIPPER)}


def temperature_report(flavour: Flavour, hot: tuple[float, float, int], bed: tuple[float, float, int]) -> str:
    """The M105 report (without `ok`) from (actual, target, power 0..127) of the hotend and the bed."""
    (t, tt, tp), (b, bt, bp) = hot, bed
    if flavour.temps == "klipper":
        return f"B:{b:.1f} /{bt:.1f} T0:{t:.1f} /{tt:.1f}"
    if flavour.temps == "prusa":
        return f"T:{t:.1f} /{tt:.1f} B:{b:.1f} /{bt:.1f} T0:{t:.1f} /{tt:.1f} @:{tp} B@:{bp} P:0.0 A:30.2"
    return f"T:{t:.2f} /{tt:.2f} B:{b:.2f} /{bt:.2f} @:{tp} B@:{bp}"


def heating_line(flavour: Flavour, hot: tuple[float, float, int], bed: tuple[float, float, int]) -> str:
    """The once-a-second progress line of a heating wait (M109/M190)."""
    if flavour.temps == "klipper":
        return temperature_report(flavour, hot, bed)
    if flavour.temps == "prusa":
        return f"T:{hot[0]:.1f} E:0 W:?"
    return " " + temperature_report(flavour, hot, bed) + " W:?"
