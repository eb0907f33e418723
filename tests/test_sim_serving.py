"""Serving options over the real pty: --speed pacing, --baud throttling, --no-advanced-ok, small buffers."""
from __future__ import annotations

import time

from tests.sim_helpers import checksum_line, command, running_sim


def test_speed_max_runs_a_minute_of_dwell_in_well_under_a_second():
    with running_sim("--speed", "max") as sim:
        ser = sim.open()
        t = time.monotonic()
        command(ser, "G4 S60")
        assert time.monotonic() - t < 1.0
        assert sim.status()["sim_time"] >= 60.0


def test_speed_factor_paces_simulated_time_against_wall_time():
    with running_sim("--speed", "5") as sim:
        ser = sim.open()
        t = time.monotonic()
        command(ser, "G4 S2")  # 2 s simulated = 0.4 s wall at 5x
        wall = time.monotonic() - t
        assert 0.36 <= wall <= 2.0, wall


def test_baud_throttles_the_link_like_a_uart():
    with running_sim("--speed", "max", "--baud", "9600") as sim:
        ser = sim.open()
        t = time.monotonic()
        reply = command(ser, "M115")
        wall = time.monotonic() - t
        nbytes = sum(len(r) + 1 for r in reply)
        assert nbytes > 800
        assert wall >= 0.9 * nbytes / 960.0, (nbytes, wall)


def test_plain_ok_when_advanced_ok_is_off():
    with running_sim("--speed", "max", "--no-advanced-ok") as sim:
        ser = sim.open()
        assert command(ser, checksum_line(1, "G21")) == ["ok"]


def test_bigger_rx_buffer_and_queue_take_a_burst_without_loss():
    with running_sim("--speed", "max", "--rx-buffer", "4096", "--bufsize", "32") as sim:
        ser = sim.open()
        burst = b"".join(checksum_line(i, f"G1 X{i} F6000") for i in range(1, 60))
        ser.write(burst)
        oks = [command(ser, b"")[-1] for _ in range(59)]
        assert all(o.startswith("ok N") for o in oks)
        assert sim.status()["rx_bytes_lost"] == 0
