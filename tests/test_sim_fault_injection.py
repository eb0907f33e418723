"""Each `--faults` item fires over the real pty, is recorded in status.json, and repeats exactly for a seed."""
from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO
from tests.sim_helpers import checksum_line, command, read_until_line, running_sim


def squares(layers: int, z0: float = 0.2, h: float = 0.2) -> list[str]:
    """A small hot print: `layers` layers of a 20 mm square perimeter, absolute E."""
    out = ["M104 S200", "M109 S200", "G28", "G92 E0"]
    e = 0.0
    for n in range(layers):
        z = z0 + n * h
        out.append(f"G1 Z{z:.2f} F600")
        out.append("G1 X100 Y100 F6000")
        for x, y in ((120, 100), (120, 120), (100, 120), (100, 100)):
            e += 20 * 0.033
            out.append(f"G1 X{x} Y{y} E{e:.4f} F1800")
    return out


def test_bad_fault_spec_exits_2_with_one_line():
    out = subprocess.run([sys.executable, "-m", "controller", "sim", "--faults", "clog@x"], cwd=REPO,
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr.strip().count("\n") == 0
    assert "FaultSpecError" in out.stderr and "clog@x" in out.stderr


def test_thermal_runaway_prints_marlin_errors_and_halts():
    with running_sim("--speed", "max", "--faults", "runaway@s=100") as sim:
        ser = sim.open()
        command(ser, "M109 S200")
        ser.write(b"G4 S120\n")
        lines = read_until_line(ser, lambda s: s.startswith("Error:Printer halted"), limit=400)
        assert "Error:Thermal Runaway, system stopped! Heater_ID: 0" in lines
        st = sim.status()
        assert st["state"] == "halted"
        assert [f["fault"] for f in st["faults_fired"]] == ["runaway"]
        assert st["faults_fired"][0]["t"] == 100.0


def test_reset_at_line_prints_start_and_restarts_line_numbers():
    with running_sim("--speed", "max", "--faults", "reset@line=5") as sim:
        ser = sim.open()
        command(ser, "M104 S200")
        for n in range(1, 5):
            assert command(ser, checksum_line(n, "G21"))[-1].startswith(f"ok N{n}")
        ser.write(checksum_line(5, "G21"))
        assert read_until_line(ser, lambda s: s.startswith("echo: RX_BUFFER_SIZE"))[0] == "start"
        assert command(ser, checksum_line(6, "G21"))[0] == (
            "Error:Line Number is not Last Line Number+1, Last Line: 0")
        assert command(ser, checksum_line(1, "G21"))[-1].startswith("ok N1")
        st = sim.status()
        assert st["temperatures"]["hotend"]["target"] == 0
        assert st["faults_fired"][0]["fault"] == "reset" and st["faults_fired"][0]["line"] == 5
        assert 5 not in [r["n"] for r in sim.log()]


def test_layer_faults_fire_at_their_layers():
    with running_sim("--speed", "max", "--faults", "under@1=0.5,layer_shift@2=1.5:-1,clog@3,spaghetti@4") as sim:
        ser = sim.open()
        for line in squares(6):
            command(ser, line)
        command(ser, "M400")
        st = sim.status()
    assert st["layer"] == 5
    fired = {f["fault"]: f for f in st["faults_fired"]}
    assert fired["under"]["layer"] == 1 and fired["under"]["factor"] == 0.5
    assert (fired["layer_shift"]["layer"], fired["layer_shift"]["dx"], fired["layer_shift"]["dy"]) == (2, 1.5, -1.0)
    assert fired["clog"]["layer"] == 3 and fired["spaghetti"]["layer"] == 4


def _link_fault_run(seed: int) -> list[tuple]:
    """Drive a fixed script against link faults; return the fired faults (kind, line) in order."""
    with running_sim("--speed", "max", "--seed", str(seed),
                     "--faults", "drop_ok=0.15,resend=0.15,busy_storm=0.15") as sim:
        ser = sim.open()
        ser.timeout = 0.15
        n = 1
        while n <= 40:
            ser.write(checksum_line(n, f"G1 X{n} F6000"))
            while True:
                raw = ser.readline()
                if not raw:           # dropped ok: the host times out and moves on
                    n += 1
                    break
                if raw.startswith(b"Resend:"):
                    break             # send the same line again
                if raw.startswith(b"ok N"):
                    n += 1
                    break
        st = sim.status()
    return [(f["fault"], f.get("line")) for f in st["faults_fired"]]


def test_link_faults_repeat_exactly_for_a_seed_and_differ_for_another():
    a, b, c = _link_fault_run(11), _link_fault_run(11), _link_fault_run(12)
    assert a == b
    assert a != c
    assert {"drop_ok", "resend", "busy_storm"} <= {k for k, _ in a}


def test_corruption_on_the_link_shows_as_errors_and_is_recorded():
    with running_sim("--speed", "max", "--seed", "3", "--faults", "corrupt_rx=0.03") as sim:
        ser = sim.open()
        ser.timeout = 0.3
        seen = []
        n = 1
        for _ in range(120):
            if n > 40:
                break
            ser.write(checksum_line(n, f"G1 X{n} F6000"))
            while True:
                raw = ser.readline()
                if not raw:
                    ser.write(b"\n")  # a corrupted newline left a partial line: end it
                    break
                seen.append(raw)
                if raw.startswith(b"Resend:"):
                    n = int(raw.split()[1])
                    break
                if raw.startswith(b"ok N"):
                    n += 1
                    break
        st = sim.status()
    assert any(r.startswith(b"Error:") for r in seen)
    assert st["fault_counts"]["corrupt_rx"] >= 5
    assert all(f["fault"] == "corrupt_rx" for f in st["faults_fired"])


def test_reopening_the_port_after_a_thermal_runaway_restarts_the_board():
    with running_sim("--speed", "max", "--faults", "runaway@s=100") as sim:
        ser = sim.open()
        command(ser, "M109 S200")
        ser.write(b"G4 S120\n")
        read_until_line(ser, lambda s: s.startswith("Error:Printer halted"), limit=400)
        ser.close()
        ser = sim.open()  # like a DTR reset on a real board
        assert command(ser, "M105")[-1].startswith("ok T:")
        assert sim.status()["state"] == "idle"
        ser.close()
