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


def test_a_busy_tcp_port_is_reported_in_one_line_with_exit_2():
    import socket
    import subprocess
    import sys

    from tests.conftest import REPO

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        out = subprocess.run([sys.executable, "-m", "controller", "sim", "--tcp", str(port)], cwd=REPO,
                             capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.strip() == f"printloop sim: SimOptionError: --tcp {port}: Address already in use"


def test_a_host_that_never_reads_does_not_wedge_the_board():
    with running_sim("--speed", "max") as sim:
        ser = sim.open()
        for _ in range(60):  # ~70 kB of M115 replies nobody reads
            ser.write(b"M115\n")
            time.sleep(0.01)
        time.sleep(1.5)
        ser.reset_input_buffer()
        time.sleep(0.3)
        ser.reset_input_buffer()
        assert command(ser, "M105")[-1].startswith("ok T:")
        assert sim.status()["lines_executed"] >= 61


def test_first_stdout_line_names_every_endpoint():
    with running_sim("--speed", "max") as sim:
        info = sim.info
        assert set(info) == {"serial", "link", "tcp", "camera", "status", "executed_log", "firmware"}
        assert info["serial"].startswith("/dev/pts/") and info["tcp"] is None and info["link"] is None
        assert info["firmware"] == "marlin"
        assert info["camera"].startswith("http://127.0.0.1:") and info["camera"].endswith("/snapshot.jpg")
        assert info["status"].endswith("/status.json")
        assert sim.status()["serial"] == info["serial"]


def test_m108_breaks_a_heating_wait_and_m410_stops_moves_at_once():
    with running_sim("--speed", "1") as sim:
        ser = sim.open()
        ser.write(b"M109 S240\n")
        time.sleep(0.3)
        t = time.monotonic()
        ser.write(b"M108\n")
        assert command(ser, b"")[-1].startswith("ok")  # M109's ok, seconds before 240 degrees
        assert time.monotonic() - t < 1.5
        assert sim.status()["temperatures"]["hotend"]["actual"] < 100
        assert command(ser, b"")[-1].startswith("ok")  # M108 reaches the queue too and is acknowledged
        command(ser, "G28")
        command(ser, "G1 X200 F600")  # 20 s of motion at 1x
        ser.write(b"M410\n")
        time.sleep(0.3)
        st = sim.status()
        assert st["state"] != "printing" or st["planner_queued"] == 0
        assert st["position"]["x"] < 50
