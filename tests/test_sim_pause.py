"""M600 and the runout fault at the device level: bytes in, lines out, simulated time (firmware_sim.pause)."""
from __future__ import annotations

from pathlib import Path

from firmware_sim.board import Board, BoardConfig
from firmware_sim.executed_log import ExecutedLog, read_executed_log
from firmware_sim.faults import parse_faults
from firmware_sim.pause import PARK_XY
from tests.sim_helpers import command, read_until_line, running_sim

PAUSE_PROMPT = ["//action:prompt_end", "//action:prompt_begin Pause", "//action:prompt_button Dismiss",
                "//action:prompt_show"]
PARKED_PROMPT = ["echo:Insert filament and send M108", "//action:prompt_end",
                 "//action:prompt_begin Nozzle Parked", "//action:prompt_button Continue", "//action:prompt_show"]


class Device:
    """A board on one port, fed like a host that sends a line whenever it has one."""

    def __init__(self, faults: str = "", log: Path | None = None) -> None:
        self.log = ExecutedLog(log) if log else None
        self.board = Board(BoardConfig(faults=parse_faults(faults)), self.log)
        self.port = self.board.open_port(banner=False)
        self.lines: list[str] = []

    def send(self, *lines: str) -> list[str]:
        """Send lines; return what came back."""
        out = []
        for line in lines:
            self.board.receive(self.port, line.encode() + b"\n")
            self.board.work()
            out += self.read()
        return out

    def read(self) -> list[str]:
        got = b"".join(d for _, d in self.board.outgoing()).decode().splitlines()
        self.lines += got
        return got

    def wait(self, seconds: float) -> list[str]:
        """Simulated time passes while parked."""
        self.board.pass_user_wait(self.board.now + seconds)
        return self.read()

    def finish(self) -> None:
        self.board.work()
        self.board.starve()
        self.board.idle_to(self.board.printhead.exec_end)
        self.read()


def printing(layers: int = 4) -> list[str]:
    """A small print: hot, homed, a few extruding layers."""
    lines = ["M104 S200", "M109 S200", "G28", "G92 E0"]
    for layer in range(layers):
        lines.append(f"G1 Z{0.2 * (layer + 1):.2f} F600")
        lines += [f"G1 X{20 + i * 5} Y{20 + layer} E{layer * 10 + i * 0.5:.2f} F3000" for i in range(10)]
    return lines


def subsequence(got: list[str], want: list[str]) -> bool:
    """Whether `want` appears in `got` in order, each line right after the previous one."""
    n = len(want)
    return any(got[i:i + n] == want for i in range(len(got) - n + 1))


def test_m600_parks_waits_for_m108_then_returns_and_the_print_goes_on():
    d = Device()
    d.send(*printing(1), "G1 X60 Y40 F3000")
    before = d.board.planned_position()
    out = d.send("M600")
    assert out[0] == "//action:paused" and subsequence(out, PAUSE_PROMPT)
    assert d.board.waiting_for_user and subsequence(d.lines, PARKED_PROMPT)
    x, y, _, _ = d.board.stepper_position()
    assert (round(x, 3), round(y, 3)) == PARK_XY
    t0 = d.board.now
    waiting = d.wait(10.0)
    assert waiting.count("echo:busy: paused for user") == 5 and not any(s.startswith("ok") for s in waiting)
    assert d.board.now == t0 + 10.0
    out = d.send("M108")
    d.finish()
    assert "//action:resumed" in d.lines and d.lines[-1].startswith("ok")
    assert not d.board.waiting_for_user and d.board.status()["paused"] is None
    assert tuple(round(v, 6) for v in d.board.stepper_position()[:3]) == tuple(round(v, 6) for v in before[:3])
    d.send("G1 X70 E12 F3000")
    d.finish()
    assert round(d.board.stepper_position()[0], 6) == 70.0


def test_m876_s0_answers_the_nozzle_parked_prompt_and_an_early_answer_only_dismisses():
    d = Device()
    d.send("G28", "M600")
    assert d.board.waiting_for_user
    d.send("M876 S0")
    d.finish()
    assert "//action:resumed" in d.lines
    d = Device()
    d.send("G28", "G1 X100 Y100 F600")     # still moving when M600 and its answer come: parking is not done
    d.board.receive(d.port, b"M600\nM876 S0\n")
    d.board.work(d.board.now)
    d.board.work()
    assert d.board.waiting_for_user, "an answer before the Nozzle Parked prompt must not resume"


def test_lines_sent_while_parked_are_kept_and_run_after_the_resume_in_order(tmp_path):
    d = Device(log=tmp_path / "x.jsonl")
    d.send("G28", "M600")
    later = [f"G1 X{10 + i} F3000" for i in range(8)]     # 4 fill the command queue, 4 wait in the RX buffer
    d.send(*later)
    assert d.board.waiting_for_user
    d.send("M108")
    d.finish()
    assert d.board.log is not None
    d.board.log.close()
    executed = [r["cmd"] for r in read_executed_log(tmp_path / "x.jsonl")]
    assert executed[executed.index("M600") + 1:] == [*later, "M108"]
    assert sum(s.startswith("ok") for s in d.lines) == 2 + len(later) + 1


def test_runout_at_a_layer_sends_the_host_actions_and_runs_the_runout_script():
    d = Device("runout@2")
    d.send(*printing(4))
    assert d.board.waiting_for_user
    runout = ["//action:prompt_end", "//action:prompt_begin FilamentRunout T0", "//action:prompt_show",
              "//action:paused filament_runout 0"]
    assert subsequence(d.lines, runout)
    assert not subsequence(d.lines, PAUSE_PROMPT)                 # the runout prompt is still open
    assert subsequence(d.lines, PARKED_PROMPT)
    assert d.lines.index("//action:paused") < d.lines.index("//action:prompt_begin Nozzle Parked")
    assert d.board.status()["fault_counts"] == {"runout": 1}
    assert [f["layer"] for f in d.board.fired] == [2]   # the moves already planned then still ran
    d.send("M108")
    d.finish()
    assert subsequence(d.lines, ["//action:prompt_button PurgeMore", "//action:prompt_button DisableRunout"])
    assert d.board.printhead.layer == 3 and not d.board.busy


def test_with_host_handling_the_firmware_only_tells_the_host_and_keeps_printing():
    d = Device("runout@2")
    d.send("M412 H1", *printing(4))
    d.finish()
    assert subsequence(d.lines, ["//action:prompt_show", "//action:filament_runout T0",
                                 "//action:pause filament_runout 0"])
    assert "//action:paused" not in d.lines and not d.board.waiting_for_user
    assert d.board.printhead.layer == 3


def test_a_disabled_sensor_ignores_the_runout_and_m412_reports_it():
    d = Device("runout@1")
    assert d.send("M412") == ["echo:Filament runout ON", "ok P16 B4"]
    d.send("M412 S0", *printing(3))
    d.finish()
    assert not any("action:" in s for s in d.lines)
    assert d.send("M412")[0] == "echo:Filament runout OFF"


def test_m115_tells_the_host_about_actions_prompts_and_the_runout_sensor():
    out = Device().send("M115")
    for cap in ("Cap:HOST_ACTION_COMMANDS:1", "Cap:PROMPT_SUPPORT:1", "Cap:RUNOUT:1"):
        assert cap in out


def test_printloop_sim_keeps_a_host_informed_while_parked_and_resumes_on_m876():
    with running_sim("--speed", "max") as sim:
        ser = sim.open()
        command(ser, "G28")
        ser.write(b"M600\n")
        got = read_until_line(ser, lambda s: s == "echo:busy: paused for user")
        assert got[0] == "//action:paused" and "//action:prompt_begin Nozzle Parked" in got
        assert sim.status()["paused"] == "waiting"
        ser.write(b"M876 S0\n")
        got = read_until_line(ser, lambda s: s.startswith("ok"))
        assert "//action:resumed" in got
        assert command(ser, "M876 S0")[-1].startswith("ok")   # the queued M876 line itself: a plain ok
        ser.close()
