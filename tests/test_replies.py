"""Reply parsers against a table of real Marlin, Repetier, Smoothie and Klipper lines; frame padding."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.link import replies as r
from controller.link.framing import checksum, frame
from firmware_sim.protocol import CommandQueue, DeviceProtocol

TABLE = [
    ("ok", r.Ok()),
    ("ok N123 P15 B3", r.Ok(123, 15, 3)),
    ("ok N0 P0 B0", r.Ok(0, 0, 0)),
    ("ok 42", r.Ok(42)),  # Repetier: ok with the line number
    ("Resend: 47", r.Resend(47)),
    ("Resend:47", r.Resend(47)),
    ("rs 12", r.Resend(12)),  # Repetier / Teacup
    ("rs N12", r.Resend(12)),
    ("start", r.Start()),
    ("o:Mstart", r.Start()),  # the tail of a line cut by the reset, then the new banner
    ("\x00\xfestart", r.Start()),
    ("in 2.1start", r.Start()),  # the banner's version line cut mid-word (a slow link)
    ("printing will start", r.Other("printing will start")),  # a word in a sentence is no reset
    ("echo:restart", r.Echo("restart")),
    ("echo:busy: processing", r.Busy("echo:busy: processing")),
    ("busy: paused for user", r.Busy("busy: paused for user")),
    ("wait", r.Busy("wait")),  # Repetier idle keep-alive
    ("echo:Unknown command: \"G999\"", r.Echo('Unknown command: "G999"')),
    ("echo:SD card ok", r.Echo("SD card ok")),
    ("//action:pause", r.Action("pause", "")),
    ("//action:prompt_begin Filament runout", r.Action("prompt_begin", "Filament runout")),
    ("Error:checksum mismatch, Last Line: 41", r.FirmwareError("checksum mismatch, Last Line: 41", False)),
    ("Error:Line Number is not Last Line Number+1, Last Line: 7",
     r.FirmwareError("Line Number is not Last Line Number+1, Last Line: 7", False)),
    ("Error:No Checksum with line number, Last Line: 3", r.FirmwareError("No Checksum with line number, Last Line: 3",
                                                                         False)),
    ("Error:Printer halted. kill() called!", r.FirmwareError("Printer halted. kill() called!", True)),
    ("Error:Thermal Runaway, system stopped! Heater_ID: 0",
     r.FirmwareError("Thermal Runaway, system stopped! Heater_ID: 0", True)),
    ("Error:MAXTEMP triggered, system stopped! Heater_ID: bed",
     r.FirmwareError("MAXTEMP triggered, system stopped! Heater_ID: bed", True)),
    ("!! Move out of range: 250.000 0.000 [0.000]", r.FirmwareError("Move out of range: 250.000 0.000 [0.000]",
                                                                    False)),
    ("!! Shutdown due to webhooks request", r.FirmwareError("Shutdown due to webhooks request", True)),
    ("Cap:AUTOREPORT_TEMP:1", r.Capability("AUTOREPORT_TEMP", True)),
    ("Cap:EMERGENCY_PARSER:0", r.Capability("EMERGENCY_PARSER", False)),
    ("X:10.00 Y:20.00 Z:0.30 E:1.50 Count X:800 Y:1600 Z:120", r.Other(
        "X:10.00 Y:20.00 Z:0.30 E:1.50 Count X:800 Y:1600 Z:120")),
]


@pytest.mark.parametrize(("line", "expected"), TABLE)
def test_reply_table(line, expected):
    assert r.parse_reply(line) == expected


TEMPS = [
    # Marlin M105 answer and auto-report
    ("ok T:200.00 /200.00 B:60.00 /60.00 @:127 B@:64", (200.0, 200.0), (60.0, 60.0)),
    ("T:21.52 /0.00 B:21.30 /0.00 @:0 B@:0", (21.52, 0.0), (21.3, 0.0)),
    # Marlin dual extruder
    ("T:210.0 /210.0 B:60.1 /60.0 T0:210.0 /210.0 T1:25.0 /0.0 @:60 B@:30 @0:60 @1:0", (210.0, 210.0), (60.1, 60.0)),
    # Marlin M109 wait report
    ("T:187.32 /200.00 B:59.87 /60.00 @:127 B@:0 W:?", (187.32, 200.0), (59.87, 60.0)),
    # Repetier
    ("T:20.52 B:20.67 B@:0 @:0", (20.52, None), (20.67, None)),
    ("ok T:20.5 /0.0 B:20.7 /0.0 T0:20.5 /0.0 @:0 B@:0", (20.5, 0.0), (20.7, 0.0)),
    # Smoothieware
    ("ok T:23.1 /0.0 @0 B:22.7 /0.0 @0", (23.1, 0.0), (22.7, 0.0)),
]


@pytest.mark.parametrize(("line", "hotend", "bed"), TEMPS)
def test_temperature_table(line, hotend, bed):
    reply = r.parse_reply(line)
    temps = reply.temps if isinstance(reply, (r.Ok, r.TempReport)) else None
    assert temps is not None
    assert temps.hotend() == hotend
    assert temps.bed() == bed


def test_heat_wait_report_is_marked_waiting():
    reply = r.parse_reply("T:187.32 /200.00 B:59.87 /60.00 @:127 B@:0 W:5")
    assert isinstance(reply, r.TempReport) and reply.temps.waiting


def test_m115_fields():
    line = ("FIRMWARE_NAME:Marlin 2.1.2.1 (Jul 10 2023 12:00:00) SOURCE_CODE_URL:github.com/MarlinFirmware/Marlin "
            "PROTOCOL_VERSION:1.0 MACHINE_TYPE:Ender-3 EXTRUDER_COUNT:1 UUID:cede2a2f-41a2-4748-9b12-c55c62f367ff")
    reply = r.parse_reply(line)
    assert isinstance(reply, r.FirmwareName)
    assert reply.fields["FIRMWARE_NAME"] == "Marlin 2.1.2.1 (Jul 10 2023 12:00:00)"
    assert reply.fields["EXTRUDER_COUNT"] == "1"


def test_checksum_matches_reprap_examples():
    assert checksum("N0 M110 N0") == 125
    assert frame(0, "M110 N0") == b"N0 M110 N0*125\n"


def _unpadded(n: int, command: str) -> bytes:
    """The frame without the link's padding."""
    payload = f"N{n} {command}"
    return f"{payload}*{checksum(payload)}\n".encode()


def _merging_bits(a: bytes, b: bytes) -> list[int]:
    """Bits of a's newline whose flip turns `a` and `b` into one line that passes the XOR checksum."""
    bits = []
    for bit in range(8):
        merged = a[:-1] + bytes([0x0A ^ (1 << bit)]) + b[:-1]
        star = merged.rfind(b"*")
        if int(merged[star + 1:]) == checksum(merged[:star].decode("latin-1")):
            bits.append(bit)
    return bits


NEXT_FRAMES = [(1, "G1 X1"), (7, "M105"), (123, "G1 X100.125 Y99.875 E12.34567 F1800")]


def _merge_prone_commands() -> dict[int, tuple[int, str]]:
    """One (number, command) per unpadded checksum that a single flipped newline bit can merge with the next."""
    found: dict[int, tuple[int, str]] = {}
    for n in range(1, 100):
        for command in (f"G1 X{n}.{n % 9} Y{n}", "M400"):
            a = _unpadded(n, command)
            if _merging_bits(a, _unpadded(n + 1, "G1 X1")):
                found.setdefault(checksum(f"N{n} {command}"), (n, command))
    return found


MERGE_PRONE = _merge_prone_commands()


def test_some_unpadded_frames_could_merge_with_the_next_under_one_flipped_newline_bit():
    assert sorted(MERGE_PRONE) == [*range(10), 32, 33, 36, 37]  # every prone checksum, reached by plain moves
    assert MERGE_PRONE[0] == (88, "G1 X88.7 Y88")  # `N88 G1 X88.7 Y88*0` + 0x1A + `N89 ...`: one valid line


@pytest.mark.parametrize(("n", "command"), sorted(MERGE_PRONE.values()))
def test_frames_are_padded_so_a_flipped_newline_cannot_merge_two_valid_frames(n, command):
    padded = frame(n, command)
    assert padded != _unpadded(n, command)
    body, _, cs = padded[:-1].rpartition(b"*")
    assert int(cs) == checksum(body.decode()) and body.decode().rstrip(" \t") == f"N{n} {command}"
    for m, nxt in NEXT_FRAMES:
        assert _merging_bits(_unpadded(n, command), frame(m, nxt))  # unpadded, some flipped bit merges
        assert _merging_bits(padded, frame(m, nxt)) == []


def test_the_device_takes_a_merged_unpadded_pair_as_one_command_but_rejects_a_merged_padded_pair():
    n, command = MERGE_PRONE[0]
    (bit,) = _merging_bits(_unpadded(n, command), _unpadded(n + 1, "G1 X1"))
    for first, expect_queued in ((_unpadded(n, command), True), (frame(n, command), False)):
        queue = CommandQueue()
        device = DeviceProtocol(queue)
        device.last_n = n - 1
        device.receive_data(first[:-1] + bytes([0x0A ^ (1 << bit)]) + frame(n + 1, "G1 X1"))
        device.process()
        assert (len(queue) == 1) is expect_queued
        assert device.data_to_send().startswith(b"Error:checksum mismatch") is not expect_queued


@settings(max_examples=300, deadline=None)
@given(n=st.integers(0, 10**6), command=st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1,
                                               max_size=40).map(str.strip).filter(bool))
def test_no_frame_merges_with_the_next_under_a_flipped_or_dropped_newline(n, command):
    a = frame(n, command)
    assert a.startswith(f"N{n} {command}".encode())
    for m, nxt in NEXT_FRAMES:
        b = frame(m, nxt)
        assert _merging_bits(a, b) == []
        dropped = a[:-1] + b[:-1]
        star = dropped.rfind(b"*")
        assert int(dropped[star + 1:]) != checksum(dropped[:star].decode())
