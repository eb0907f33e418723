"""The simulated board's line protocol over a real pty with pyserial: banner, errors, resends, replies."""
from __future__ import annotations

import re

import pytest

from tests.sim_helpers import checksum_line, command, running_sim


@pytest.fixture(scope="module")
def sim():
    with running_sim("--speed", "max") as s:
        yield s


def test_opening_the_port_prints_start_and_echo_banner(sim):
    ser = sim.open()
    ser.close()
    # the banner was checked by open(); a second open resets the idle board again
    ser = sim.open()
    assert command(ser, "M105")[-1].startswith("ok T:")
    ser.close()


def test_m105_reports_marlin_temperature_format(ser):
    reply = command(ser, "M105")
    assert re.fullmatch(r"ok T:\d+\.\d\d /\d+\.\d\d B:\d+\.\d\d /\d+\.\d\d @:\d+ B@:\d+", reply[-1]), reply


def test_numbered_lines_are_acknowledged_with_advanced_ok(ser):
    assert command(ser, checksum_line(1, "G21")) == ["ok N1 P16 B4"]
    assert re.fullmatch(r"ok N2 P\d+ B\d+", command(ser, checksum_line(2, "G90"))[-1])


def test_checksum_mismatch_gives_error_resend_ok(ser):
    command(ser, checksum_line(1, "G21"))
    bad = checksum_line(2, "G1 X5").replace(b"*", b"*1")
    assert command(ser, bad) == ["Error:checksum mismatch, Last Line: 1", "Resend: 2", "ok"]


def test_wrong_line_number_gives_error_resend_ok(ser):
    command(ser, checksum_line(1, "G21"))
    assert command(ser, checksum_line(5, "G21")) == [
        "Error:Line Number is not Last Line Number+1, Last Line: 1", "Resend: 2", "ok"]


def test_numbered_line_without_checksum_is_refused(ser):
    assert command(ser, "N1 G21") == ["Error:No Checksum with line number, Last Line: 0", "Resend: 1", "ok"]


def test_m110_sets_the_line_number(ser):
    command(ser, checksum_line(7, "M110 N41"))
    assert command(ser, checksum_line(42, "G21"))[-1].startswith("ok N42")
    command(ser, "M110 N99")
    assert command(ser, checksum_line(100, "G21"))[-1].startswith("ok N100")


def test_printcore_style_m110_n_minus_1(ser):
    command(ser, checksum_line(-1, "M110 N-1"))
    assert command(ser, checksum_line(0, "G21"))[-1].startswith("ok N0")


def test_lines_without_numbers_are_accepted(ser):
    assert command(ser, "G21")[-1].startswith("ok")
    assert command(ser, "G90 ; a comment")[-1].startswith("ok")


def test_unknown_command_is_echoed_then_acknowledged(ser):
    assert command(ser, "M9999 S1") == ['echo:Unknown command: "M9999 S1"', "ok P16 B4"]
    reply = command(ser, "G777")
    assert reply[0] == 'echo:Unknown command: "G777"'
    assert reply[-1].startswith("ok")


def test_m115_reports_firmware_and_capabilities(ser):
    reply = command(ser, "M115")
    assert reply[0].startswith("FIRMWARE_NAME:Marlin")
    caps = {line[4:] for line in reply if line.startswith("Cap:")}
    for cap in ("AUTOREPORT_TEMP:1", "BUSY_PROTOCOL:1", "EMERGENCY_PARSER:1", "THERMAL_PROTECTION:1"):
        assert cap in caps


def test_m114_reports_position_after_moves(ser):
    command(ser, "G28")
    command(ser, "G1 X12.5 Y30 Z0.3 F6000")
    reply = command(ser, "M114")
    assert reply[0].startswith("X:12.50 Y:30.00 Z:0.30 E:0.00 Count X:")
    command(ser, "G92 X0")
    assert command(ser, "M114")[0].startswith("X:0.00 Y:30.00")


def test_moves_outside_the_bed_are_clamped_with_an_echo(ser):
    command(ser, "G28")
    reply = command(ser, "G1 X300 Y-5 F6000")
    assert reply[0] == "echo:Move out of range, clamped to X220.00 Y0.00 Z0.00"
    command(ser, "M400")
    assert command(ser, "M114")[0].startswith("X:220.00 Y:0.00")


def test_flushing_input_mid_session_is_not_a_reset(ser):
    command(ser, checksum_line(1, "G21"))
    ser.reset_input_buffer()
    assert command(ser, checksum_line(2, "G21")) == ["ok N2 P16 B4"]


def test_advanced_ok_reports_planner_and_queue_room_over_the_pty(ser):
    command(ser, "G28")
    ser.write(b"".join(checksum_line(i, f"G1 X{i} Y{i} F6000") for i in range(1, 6)))
    oks = [command(ser, b"")[-1] for _ in range(5)]
    got = [re.fullmatch(r"ok N(\d+) P(\d+) B(\d+)", o) for o in oks]
    assert all(got), oks
    assert [int(m.group(1)) for m in got] == [1, 2, 3, 4, 5]
    assert [int(m.group(2)) for m in got] == [15, 14, 13, 12, 11]
    assert all(0 <= int(m.group(3)) <= 4 for m in got)
