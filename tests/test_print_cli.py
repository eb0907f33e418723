"""`printloop print` as a user runs it: subprocess against `printloop sim` on a real pty."""
from __future__ import annotations

import json
import signal
import subprocess
import sys

from tests.simproc import REPO, Sim, file_part
from tests.test_session_sim import numbered, wait_log, write_gcode


def _print(*args: str, **kw) -> subprocess.Popen:
    """Start `printloop print ARGS`."""
    return subprocess.Popen([sys.executable, "-m", "controller", "print", *args], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def test_print_json_streams_the_file_and_exits_zero(tmp_path):
    cmds = write_gcode(tmp_path / "a.gcode", 800, layers=4)
    (tmp_path / "a.gcode").write_text(";TIME:120\n" + (tmp_path / "a.gcode").read_text())
    with Sim("--speed", "max") as sim:
        proc = _print(str(tmp_path / "a.gcode"), "--port", sim.serial, "--json")
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        rows = [json.loads(ln) for ln in out.splitlines()]
        assert rows[-1]["state"] == "completed"
        assert rows[-1]["line"] == rows[-1]["total_lines"] == len(cmds)
        assert rows[-1]["layer_count"] == 4
        assert {"percent", "eta_s", "hotend", "bed", "bytes_sent", "elapsed_s"} <= set(rows[-1])
        assert rows[0]["eta_s"] is not None and rows[0]["eta_s"] <= 120  # from the ;TIME: header
        assert rows[-1]["eta_s"] == 0.0
        assert file_part(numbered(wait_log(sim, len(cmds)))) == cmds


def test_print_with_progress_bar_in_ok_mode(tmp_path):
    write_gcode(tmp_path / "b.gcode", 300)
    with Sim("--speed", "max") as sim:
        proc = _print(str(tmp_path / "b.gcode"), "--port", sim.serial, "--window", "ok")
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert "job completed" in err


def test_print_reports_a_port_that_does_not_exist_in_one_line(tmp_path):
    write_gcode(tmp_path / "n.gcode", 10)
    proc = _print(str(tmp_path / "n.gcode"), "--port", "/dev/does-not-exist")
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert err.strip().splitlines()[-1].startswith("printloop print: TransportError: cannot open serial port")


def test_print_exits_nonzero_with_the_reason_when_the_board_resets(tmp_path):
    write_gcode(tmp_path / "r.gcode", 1500)
    with Sim("--speed", "max", "--faults", "reset@line=500") as sim:
        proc = _print(str(tmp_path / "r.gcode"), "--port", sim.serial)
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 1
        assert "failed" in err and "reset" in err


def test_ctrl_c_pauses_then_cancel_turns_heaters_off_and_exits_nonzero(tmp_path):
    write_gcode(tmp_path / "c.gcode", 20000)
    with Sim("--speed", "max") as sim:
        proc = _print(str(tmp_path / "c.gcode"), "--port", sim.serial, "--json", stdin=subprocess.PIPE)
        assert proc.stdout is not None
        while json.loads(proc.stdout.readline()).get("line", 0) < 100:
            pass
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate("c\n", timeout=60)
        assert proc.returncode == 1, err
        assert "[r]esume or [c]ancel" in err
        rows = [json.loads(ln) for ln in out.splitlines()]
        assert any(r.get("event") == "paused" for r in rows)
        assert rows[-1]["state"] == "cancelled"
        tail = [e["cmd"] for e in numbered(sim.executed())][-4:]
        assert tail == ["M104 S0", "M140 S0", "M107", "M84"]


def test_ctrl_c_then_resume_completes_with_exit_zero(tmp_path):
    cmds = write_gcode(tmp_path / "d.gcode", 8000)
    with Sim("--speed", "max") as sim:
        proc = _print(str(tmp_path / "d.gcode"), "--port", sim.serial, "--json", stdin=subprocess.PIPE)
        assert proc.stdout is not None
        while json.loads(proc.stdout.readline()).get("line", 0) < 100:
            pass
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate("r\n", timeout=120)
        assert proc.returncode == 0, err
        rows = [json.loads(ln) for ln in out.splitlines()]
        assert any(r.get("event") == "paused" for r in rows)
        assert rows[-1]["state"] == "completed"
        log = [e["cmd"] for e in numbered(wait_log(sim, len(cmds)))]
        assert [c for c in log if c in set(cmds)] == cmds
