"""Reply spellings and protocol switches of each `--firmware` flavour, at the device level (bytes in, lines
out), from a table; and the flavour and link path options of `printloop sim`."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import serial

from firmware_sim.board import Board, BoardConfig
from firmware_sim.flavours import FLAVOURS
from tests.conftest import REPO
from tests.sim_helpers import checksum_line, read_until_line, running_sim


def device(flavour: str) -> tuple[Board, int]:
    board = Board(BoardConfig(flavour=FLAVOURS[flavour]))
    return board, board.open_port(banner=False)


def exchange(board: Board, port: int, *lines: bytes) -> list[str]:
    """Send raw lines one at a time; every line the board sent back."""
    out = b"".join(d for _, d in board.outgoing())
    for data in lines:
        board.receive(port, data)
        board.work()
        out += b"".join(d for _, d in board.outgoing())
    return out.decode("latin-1").splitlines()


HOT = (b"M104 S0\n",)
TABLE = [
    # (flavour, what is sent, what must come back: exact lines or a regex per line)
    ("marlin", [checksum_line(1, "G28")], ["ok N1 P16 B4"]),
    ("prusa", [checksum_line(1, "G28")], ["ok"]),
    ("klipper", [checksum_line(1, "G28")], ["ok"]),
    ("marlin", [b"N1 G28*99\n"], ["Error:checksum mismatch, Last Line: 0", "Resend: 1", "ok"]),
    ("prusa", [b"N1 G28*99\n"], ["Error:checksum mismatch, Last Line: 0", "Resend: 1", "ok"]),
    ("klipper", [b"N1 G28*99\n"], ["ok"]),
    ("marlin", [checksum_line(5, "G28")],
     ["Error:Line Number is not Last Line Number+1, Last Line: 0", "Resend: 1", "ok"]),
    ("prusa", [checksum_line(5, "G28")],
     ["Error:Line Number is not Last Line Number+1, Last Line: 0", "Resend: 1", "ok"]),
    ("klipper", [checksum_line(5, "G28")], ["ok"]),
    ("marlin", [b"M9999 S1\n"], ['echo:Unknown command: "M9999 S1"', "ok P16 B4"]),
    ("prusa", [b"M9999 S1\n"], ['echo:Unknown command: "M9999 S1"', "ok"]),
    ("klipper", [b"M9999 S1\n"], ['// Unknown command:"M9999"', "ok"]),
    ("marlin", [b"M105\n"], [r"ok T:\d+\.\d\d /0\.00 B:\d+\.\d\d /0\.00 @:0 B@:0"]),
    ("prusa", [b"M105\n"], [r"ok T:\d+\.\d /0\.0 B:\d+\.\d /0\.0 T0:\d+\.\d /0\.0 @:0 B@:0 P:0\.0 A:\d+\.\d"]),
    ("klipper", [b"M105\n"], [r"ok B:\d+\.\d /0\.0 T0:\d+\.\d /0\.0"]),
    ("klipper", [b"M115\n"], [r"ok FIRMWARE_NAME:Klipper FIRMWARE_VERSION:v\S+"]),
    ("klipper", [b"G28\n", b"G1 X300 F3000\n"], ["ok", "!! Move out of range: 300.000 0.000 0.000 [0.000]", "ok"]),
    ("klipper", [b"G28\n", b"G1 X10 E1 F3000\n"], ["ok", "!! Extrude below minimum temp", "ok"]),
    ("marlin", [b"G28\n", b"G1 X10 E1 F3000\n"], ["ok P16 B4", "echo: cold extrusion prevented", "ok P15 B4"]),
    ("klipper", [b"M600\n"], ['// Unknown command:"M600"', "ok"]),
    ("marlin", [b"M112\n", b"M105\n"], ["Error:Printer halted. kill() called!"]),
    ("klipper", [b"M112\n", b"M105\n", b"G28\n"],
     ["// Klipper state: Shutdown", "ok", "!! Shutdown due to M112 command", "ok", "!! Shutdown due to M112 command",
      "ok"]),
    ("klipper", [b"M112\n", b"M115\n"], ["// Klipper state: Shutdown", "ok", r"ok FIRMWARE_NAME:Klipper \S+"]),
]


@pytest.mark.parametrize(("flavour", "sent", "want"), TABLE)
def test_replies_per_flavour(flavour: str, sent: list[bytes], want: list[str]) -> None:
    board, port = device(flavour)
    got = exchange(board, port, *sent)
    assert len(got) == len(want), got
    for line, pattern in zip(got, want):
        assert re.fullmatch(pattern, line) if "\\" in pattern else line == pattern, (line, pattern)


def test_m115_names_each_firmware_as_it_does():
    for flavour, first in (("marlin", "FIRMWARE_NAME:Marlin 2.1"),
                           ("prusa", "FIRMWARE_NAME:Prusa-Firmware 3.13.3 based on Marlin FIRMWARE_URL:")):
        board, port = device(flavour)
        got = exchange(board, port, b"M115\n")
        assert got[0].startswith(first) and got[-1].startswith("ok")
        assert ("Cap:AUTOREPORT_TEMP:1" in got) and (("Cap:ADVANCED_OK:1" in got) == (flavour == "marlin"))


def test_only_marlin_and_prusa_greet_and_reset_on_open():
    for flavour, greets in (("marlin", True), ("prusa", True), ("klipper", False)):
        board = Board(BoardConfig(flavour=FLAVOURS[flavour]))
        port = board.open_port()
        lines = exchange(board, port)
        assert (lines[:1] == ["start"]) == greets, lines
        assert board.resets_on_open() == greets


def test_prusa_queues_short_commands_beyond_bufsize_by_bytes():
    counts = {}
    for flavour in ("marlin", "prusa"):
        board, port = device(flavour)
        board.receive(port, b"G4 S5\n")           # a long dwell keeps everything after it queued
        board.work(0.0)
        for _ in range(2):
            board.receive(port, b"G1 X1\n" * 20)
            board.ports.pull_lines()
        counts[flavour] = len(board.queue)
    assert counts["marlin"] == 4
    assert counts["prusa"] == 33   # 9 bytes each of 388, read while a longest line (99 bytes) still fits


def test_klipper_never_asks_for_a_resend_and_runs_every_line_once():
    board, port = device("klipper")
    got = exchange(board, port, checksum_line(7, "G28"), b"N3 G1 X5*0\n", b"G1 X6\n", checksum_line(3, "M400"))
    assert got == ["ok"] * 4
    assert board.lines_executed == 4 and round(board.stepper_position()[0], 6) == 6.0


def test_printloop_sim_serves_klipper_on_a_link_path_and_removes_it(tmp_path):
    link = tmp_path / "printer"
    with running_sim("--speed", "max", "--firmware", "klipper", "--link-path", str(link)) as sim:
        assert sim.info["firmware"] == "klipper" and sim.info["link"] == str(link)
        assert os.path.realpath(link) == sim.info["serial"]
        ser = serial.Serial(str(link), 115200, timeout=5)
        ser.write(b"N0 M110 N0*125\nM115\n")
        got = read_until_line(ser, lambda s: s.startswith("ok FIRMWARE_NAME:Klipper"))
        assert got[0] == "ok"
        ser.close()
    assert not os.path.lexists(link)


def test_bad_flavour_options_are_refused_at_start():
    for args in (["--firmware", "repetier"], ["--firmware", "klipper", "--faults", "runout@3"]):
        proc = subprocess.run([sys.executable, "-m", "controller", "sim", *args], check=False, cwd=REPO,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2, proc.stderr
    assert "runout" in proc.stderr and "klipper" in proc.stderr
