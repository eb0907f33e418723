"""Device behaviour over a real pty: overrun, busy, auto-report, kill, thermal runaway, bad input, TCP, status."""
from __future__ import annotations

import os
import random
import re
import threading
import time

import pytest
import serial

from controller.link.transport import Transport
from tests.sim_helpers import checksum_line, command, read_until_line, running_sim


@pytest.fixture(scope="module")
def sim():
    with running_sim("--speed", "max", "--tcp", "0") as s:
        yield s


def test_flooding_more_than_the_rx_buffer_loses_bytes_and_the_board_says_so(sim, ser):
    lost_before = sim.status()["rx_bytes_lost"]
    command(ser, "M109 S0")  # nothing to wait for; warms nothing
    flood = b"".join(checksum_line(i, f"G1 X{i % 100 + 10} Y{i % 50 + 10} F6000") for i in range(1, 41))
    assert len(flood) > 128 * 4
    ser.write(b"G4 S5\n" + flood)  # the dwell keeps the queue full, so the RX ring overruns
    time.sleep(0.3)
    ser.write(b"\n")  # terminate whatever partial line survived
    replies = read_until_line(ser, lambda s: s.startswith("Resend:"))
    errors = [r for r in replies if r.startswith("Error:")]
    assert errors and re.match(r"Error:(checksum mismatch|Line Number is not Last Line Number\+1|No Checksum)", errors[0])
    resend = int(replies[-1].split()[1])
    assert 1 < resend < 40
    assert sim.status()["rx_bytes_lost"] > lost_before


def test_busy_processing_while_m109_waits_and_temperatures_are_reported(ser):
    replies = command(ser, "M109 S200")
    assert "echo:busy: processing" in replies
    assert any(re.match(r" T:\d+\.\d\d /200\.00 B:", r) for r in replies)
    assert float(re.match(r"ok T:(\d+\.\d+)", command(ser, "M105")[-1]).group(1)) >= 198.0
    command(ser, "M104 S0")


def test_busy_processing_while_g28_and_m400_block(ser):
    command(ser, "G28")
    command(ser, "G1 Z40 F600")
    assert "echo:busy: processing" in command(ser, "G28")
    command(ser, "G1 X200 F600")  # 20 s at 10 mm/s
    assert command(ser, "M400").count("echo:busy: processing") >= 5


def test_m113_changes_the_keepalive_interval(ser):
    command(ser, "M113 S5")
    command(ser, "G28")
    command(ser, "G1 X200 F600")
    replies = command(ser, "M400")
    assert 2 <= replies.count("echo:busy: processing") <= 4


def test_m155_auto_reports_temperatures(ser):
    command(ser, "M155 S1")
    lines = read_until_line(ser, lambda s: s.startswith(" T:"), limit=5)
    assert re.fullmatch(r" T:\d+\.\d\d /\d+\.\d\d B:\d+\.\d\d /\d+\.\d\d @:\d+ B@:\d+", lines[-1])
    command(ser, "M155 S0")


def test_m112_halts_and_nothing_moves_after(sim, ser):
    command(ser, "G28")
    command(ser, "G1 X10 Y10 F6000")
    command(ser, "M400")
    ser.write(b"M112\n")
    assert read_until_line(ser, lambda s: s.startswith("Error:"))[-1] == "Error:Printer halted. kill() called!"
    executed = len(sim.log())
    ser.write(b"G1 X100 Y100 F6000\nM400\n")
    ser.timeout = 0.5
    assert ser.read(100) == b""
    st = sim.status()
    assert st["state"] == "halted"
    assert (st["position"]["x"], st["position"]["y"]) == (10.0, 10.0)
    assert len(sim.log()) == executed


def test_garbage_binary_noise_and_overlong_lines_never_crash_or_hang(sim, ser):
    rng = random.Random(5)
    noise = bytes(rng.randrange(256) for _ in range(3000))
    for i in range(0, len(noise), 100):
        ser.write(noise[i:i + 100])
    ser.write(b"\n" + b"G1 X" + b"9" * 400 + b"\n" + b"\xff\xfe\x00\x01garbage\n")
    time.sleep(0.5)
    ser.reset_input_buffer()
    for _ in range(3):  # the ring was flooded; a few bare newlines flush any partial line
        ser.write(b"\n")
    time.sleep(0.2)
    ser.reset_input_buffer()
    assert command(ser, "M105")[-1].startswith("ok T:")
    assert sim.proc.poll() is None


def test_tcp_socket_url_serves_the_same_printer(sim):
    tcp = serial.serial_for_url(sim.info["tcp"], timeout=3)
    try:
        first = tcp.readline().decode().strip()  # the banner, when it arrives (it did not, twice, under 3 workers)
        assert first in ("start", ""), first
        tcp.timeout = 15
        assert command(tcp, checksum_line(1, "M105"))[-1].startswith("ok T:")
        command(tcp, "G28")
        command(tcp, "G1 X33 Y44 F6000")
        assert command(tcp, "M114")[0].startswith("X:33.00 Y:44.00")
    finally:
        tcp.close()


def test_status_json_fields(sim, ser):
    command(ser, "G28")
    command(ser, "G1 X50 Y60 Z0.2 F6000")
    command(ser, "M400")
    st = sim.status()
    for key in ("state", "temperatures", "position", "layer", "sim_time", "print_time", "lines_executed",
                "faults_fired"):
        assert key in st
    assert st["state"] == "idle"
    assert st["position"] == {"x": 50.0, "y": 60.0, "z": 0.2, "e": 0.0}
    assert st["print_time"] > 0 and st["sim_time"] >= st["print_time"]
    assert st["serial"] == sim.info["serial"]


def test_sigterm_exits_zero_and_a_host_holding_the_pty_sees_it_hang_up(tmp_path):
    log = tmp_path / "exec.jsonl"
    closed: list[str] = []
    hung_up = threading.Event()

    def on_closed(why: str) -> None:
        closed.append(why)
        hung_up.set()

    with running_sim("--speed", "max", "--executed-log", str(log)) as s:
        ser = s.open()
        command(ser, "G28")
        ser.close()
        path = s.info["serial"]
        received = bytearray()
        host = Transport(path, 115200, received.extend, on_closed)  # a host keeps the port open throughout
        try:
            deadline = time.monotonic() + 5
            while b"start" not in received and time.monotonic() < deadline:
                time.sleep(0.02)
            assert b"start" in received  # the port is live: opening it reset the idle board
            s.proc.terminate()
            assert s.proc.wait(timeout=15) == 0
            assert hung_up.wait(5), "the host's open port never saw the simulator hang up"
            # the node goes with the pty's master; the host's open slave keeps its number from being reused
            assert not os.path.exists(path)
        finally:
            host.close()
    assert len(closed) == 1 and closed[0].startswith(f"serial port {path} failed: [Errno 5]")  # EIO: hung up
    assert '"cmd": "G28"' in log.read_text()
