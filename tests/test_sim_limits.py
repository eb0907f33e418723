"""A file's own motion limits (M201/M203/M204/M205) set the simulated print time, and M503 reports them."""
from __future__ import annotations

from firmware_sim.board import Board

MOVES = ["G28", *[f"G1 X{20 + 80 * (i % 2)} Y{20 + 5 * i} F12000" for i in range(20)]]


def run(lines: list[str]) -> tuple[Board, str]:
    """Bytes in one line at a time, replies out, then the moves finish in simulated time."""
    board = Board()
    port = board.open_port(banner=False)
    out = b""
    for line in lines:
        board.receive(port, line.encode() + b"\n")
        board.work()
        out += b"".join(d for _, d in board.outgoing())
    board.starve()
    board.idle_to(board.printhead.exec_end)
    return board, out.decode()


def test_lower_max_acceleration_and_feed_rate_make_the_same_moves_slower():
    fast, _ = run(MOVES)
    slow_acc, _ = run(["M201 X100 Y100", *MOVES])
    slow_feed, _ = run(["M203 X20", *MOVES])
    assert slow_acc.printhead.print_time > 1.5 * fast.printhead.print_time
    assert slow_feed.printhead.print_time > 2.0 * fast.printhead.print_time


def test_print_and_travel_acceleration_and_junction_deviation_apply():
    base, _ = run(MOVES)
    travel, _ = run(["M204 T100", *MOVES])        # the moves do not extrude: travel acceleration
    printing, _ = run(["M204 P100", *MOVES])
    assert travel.printhead.print_time > 1.5 * base.printhead.print_time
    assert abs(printing.printhead.print_time - base.printhead.print_time) < 1e-9
    corners = ["G28", *[f"G1 X{20 + 10 * (i % 2)} Y{20 + 10 * (i // 2 % 2)} F12000" for i in range(40)]]
    sharp, _ = run(["M205 J0.01", *corners])
    smooth, _ = run(["M205 J0.5", *corners])
    assert sharp.printhead.print_time > 1.1 * smooth.printhead.print_time


def test_m503_reports_the_limits_the_file_set():
    _, out = run(["M201 X100 Y120", "M203 X20", "M204 P800 R900 T1000", "M205 J0.02", "M503"])
    assert "echo:  M203 X20.00 Y500.00 Z5.00 E25.00" in out
    assert "echo:  M201 X100.00 Y120.00 Z100.00 E5000.00" in out
    assert "echo:  M204 P800.00 R900.00 T1000.00" in out
    assert "J0.020" in out


def test_limits_return_to_the_defaults_on_a_reset():
    board, _ = run(["M203 X20", "M503"])
    board.reset()
    assert board.motion_limits().max_feedrate[0] == 500.0


def test_classic_jerk_becomes_a_junction_deviation():
    corners = ["G28", *[f"G1 X{20 + 10 * (i % 2)} Y{20 + 10 * (i // 2 % 2)} F12000" for i in range(40)]]
    low, _ = run(["M205 X2 Y2", *corners])
    high, _ = run(["M205 X20 Y20", *corners])
    assert low.printhead.print_time > 1.1 * high.printhead.print_time
    assert abs(low.motion_limits().junction_deviation - 0.4 * 4 / 500) < 1e-6
