"""G-code semantics of the interpreter, in-process: units, relative modes, offsets, feed and flow overrides."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_sim.board import Board
from firmware_sim.gcode_words import parse_words


def session(lines: list[str]) -> tuple[Board, str]:
    board = Board()
    port = board.open_port(banner=False)
    out = b""
    for line in lines:
        board.receive(port, line.encode("latin-1") + b"\n")
        board.work()
        out += b"".join(d for _, d in board.outgoing())
    board.starve()
    board.idle_to(board.printhead.exec_end)
    return board, out.decode("latin-1")


HOT = ["M109 S200", "G28"]


def position(board: Board) -> tuple[float, ...]:
    return tuple(round(v, 6) for v in board.printhead.position)


def test_words_parse_like_marlin():
    w = parse_words("G1X10 Y-2.5E.3 F1200")
    assert w is not None and w.name == "G1"
    assert w.params == {"X": 10.0, "Y": -2.5, "E": 0.3, "F": 1200.0}
    assert parse_words("M117 Hello X9").args == "Hello X9" and parse_words("M117 Hello X9").params == {}
    assert parse_words("hello") is None


def test_inches_relative_moves_and_offsets():
    b, _ = session(["G28", "G20", "G1 X1 Y2 F600", "G21", "G91", "G1 X5 Y-10", "G90", "G92 X0 Y0", "G1 X1 Y1"])
    assert position(b)[:2] == (31.4, 41.8)


def test_relative_extrusion_and_g92_e_reset():
    b, _ = session([*HOT, "M83", "G1 X10 E1 F1200", "G1 X20 E1", "M82", "G92 E0", "G1 X30 E0.5"])
    assert position(b)[3] == 2.5


def test_m221_flow_scales_the_filament_pushed():
    b, _ = session([*HOT, "M221 S50", "G1 X10 E2 F1200", "M221 S100", "G1 X20 E4"])
    assert position(b)[3] == 3.0  # 1 mm at 50 % then 2 mm at 100 %


def test_m220_feed_percentage_changes_print_time():
    slow, _ = session(["G28", "M220 S50", "G1 X200 F3000"])
    fast, _ = session(["G28", "G1 X200 F3000"])
    assert slow.printhead.print_time > 1.8 * fast.printhead.print_time


def test_m106_m107_set_the_fan_reported_in_status():
    b, _ = session(["M106 S128"])
    assert b.status()["fan"] == 128
    b, _ = session(["M106 S128", "M107"])
    assert b.status()["fan"] == 0


def test_m400_reports_after_every_move_finished():
    b, out = session(["G28", "G1 X100 F6000", "M400", "M114"])
    assert "X:100.00 Y:0.00 Z:0.00 E:0.00 Count X:8000 Y:0 Z:0" in out
    assert b.printhead.inflight == type(b.printhead.inflight)()


WORDS = st.sampled_from(["G0", "G1", "G2", "G3", "G4", "G28", "G90", "G91", "G92", "M82", "M83", "M104", "M106",
                         "M107", "M114", "M140", "M220", "M221", "G20", "G21", "M105", "M999", "Q5", ""])
PARAM = st.tuples(st.sampled_from("XYZEFIJRSP"),
                  st.one_of(st.floats(-500, 500, allow_nan=False).map(lambda v: f"{v:.3f}"), st.just("")))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(WORDS, st.lists(PARAM, max_size=5)), max_size=30))
def test_any_command_sequence_is_answered_and_never_crashes(cmds):
    lines = [" ".join([w] + [a + v for a, v in params]) for w, params in cmds]
    lines = [ln if ln.strip() else "M105" for ln in lines]
    b, out = session(lines)
    assert out.count("ok") >= len(lines)
    x, y, z, _ = b.printhead.position
    assert 0 <= x <= 220 and 0 <= y <= 220 and 0 <= z <= 250
