"""The board without any IO: bytes in, replies out, simulated time, deposition and the physical faults."""
from __future__ import annotations

import numpy as np
import pytest

from firmware_sim.board import Board, BoardConfig
from firmware_sim.deposition import Deposition
from firmware_sim.faults import parse_faults
from tests.test_sim_fault_injection import squares


def run(lines: list[str], faults: str = "", seed: int = 0) -> Board:
    """Feed lines one at a time as a ping-pong host would, then let the board finish its moves."""
    board = Board(BoardConfig(faults=parse_faults(faults), seed=seed), deposition=Deposition())
    port = board.open_port(banner=False)
    for line in lines:
        board.receive(port, line.encode() + b"\n")
        board.work()
        board.outgoing()
    board.starve()
    board.idle_to(board.printhead.exec_end)
    board.printhead.flush()
    return board


def covered(board: Board, layer: int) -> np.ndarray:
    """Cells whose top was laid by `layer`."""
    assert board.printhead.deposition is not None
    return board.printhead.deposition.layer == layer


def centroid(mask: np.ndarray, cell: float = 0.1) -> tuple[float, float]:
    rows, cols = np.nonzero(mask)
    return float(cols.mean() * cell), float(rows.mean() * cell)


def test_a_clean_print_stacks_layers_and_accounts_time():
    b = run(squares(4))
    st = b.status()
    assert st["layer"] == 3 and st["state"] == "idle"
    assert covered(b, 3).sum() > 500
    assert b.printhead.deposition.height.max() == np.float32(0.8)
    assert st["print_time"] > 0 and st["sim_time"] > st["print_time"]  # heating took time too


def test_layer_shift_offsets_material_from_its_layer():
    clean = run(squares(4))
    shifted = run(squares(4), "layer_shift@2=3:-2")
    # layers below the shift stay where the clean print put them (its top layer follows the same path)
    assert np.allclose(centroid(covered(shifted, 1)), centroid(covered(clean, 3)), atol=0.05)
    dx = centroid(covered(shifted, 3))[0] - centroid(covered(clean, 3))[0]
    dy = centroid(covered(shifted, 3))[1] - centroid(covered(clean, 3))[1]
    assert abs(dx - 3.0) < 0.1 and abs(dy + 2.0) < 0.1


def test_clog_deposits_nothing_from_its_layer():
    b = run(squares(4), "clog@2")
    assert covered(b, 1).sum() > 500
    assert covered(b, 2).sum() == 0 and covered(b, 3).sum() == 0
    assert b.printhead.deposition.height.max() == np.float32(0.4)


def test_under_extrusion_gives_thinner_beads_from_its_layer():
    clean = run(squares(4))
    under = run(squares(4), "under@3=0.4")
    assert covered(clean, 2).sum() == 0 < covered(under, 2).sum()  # the thin top no longer hides the layer below
    assert covered(under, 3).sum() < 0.7 * covered(clean, 3).sum()


def test_spaghetti_lays_loose_strands_off_the_path():
    clean = run(squares(4))
    loose = run(squares(4), "spaghetti@2")
    assert covered(loose, 2).sum() > 0
    assert not np.array_equal(covered(loose, 2), covered(clean, 2))
    assert loose.printhead.deposition.height.max() < 0.8


def test_warping_lifts_the_corners_of_what_is_printed_growing_layer_by_layer():
    clean = run(squares(4))
    warped = run(squares(4), "warp@2=2")
    dep = warped.printhead.deposition
    assert np.array_equal(dep.height, clean.printhead.deposition.height)   # the material itself is as printed
    surface = dep.surface(0, dep.height.shape[0], 0, dep.height.shape[1])
    rise = surface - dep.height
    # the square's corners (100, 100) and (120, 120): lifted by half of 2 mm at its second layer (of four to the
    # full lift); the middle of a side much less, the bed not at all
    assert rise[990:1010, 990:1010].max() == pytest.approx(1.0, abs=0.05)
    assert rise[1190:1210, 1190:1210].max() == pytest.approx(1.0, abs=0.05)
    assert rise[1000, 1100] < 0.3 and rise[1100, 1100] == 0.0 and rise.min() == 0.0
    assert [f["fault"] for f in warped.fired] == ["warp"]


def test_cold_extrusion_is_prevented_with_marlins_echo():
    board = Board(deposition=Deposition())
    port = board.open_port(banner=False)
    board.receive(port, b"G28\nG1 X10 Y10 E5 F1200\n")
    board.work()
    out = b"".join(d for _, d in board.outgoing())
    assert b"echo: cold extrusion prevented" in out
    board.starve()
    board.idle_to(board.printhead.exec_end)
    assert board.status()["position"]["e"] == 0.0


def test_arcs_are_split_into_chords_and_end_on_target():
    b = run(["G28", "G1 X50 Y50 F6000", "G2 X70 Y50 I10 J0 F3000", "G3 X50 Y50 R10"])
    x, y, _, _ = b.printhead.position
    assert (round(x, 6), round(y, 6)) == (50.0, 50.0)
    assert b.printhead.blocks_done > 2 * 31  # half circles of 10 mm radius in ~1 mm chords


def test_executed_times_never_go_backwards(tmp_path):
    from firmware_sim.executed_log import ExecutedLog, read_executed_log

    log = ExecutedLog(tmp_path / "x.jsonl")
    board = Board(log=log)
    port = board.open_port(banner=False)
    for line in ["G28", "G1 X100 F3000", "G1 Y100", "G4 S1", "G1 X0 Y0", "M400", "M105"]:
        board.receive(port, line.encode() + b"\n")
        board.work()
    log.close()
    rows = read_executed_log(tmp_path / "x.jsonl")
    assert [r["cmd"] for r in rows] == ["G28", "G1 X100 F3000", "G1 Y100", "G4 S1", "G1 X0 Y0", "M400", "M105"]
    times = [r["t"] for r in rows]
    assert times == sorted(times) and times[-1] > 1.0


def test_spaghetti_strands_repeat_for_a_seed():
    a = run(squares(3), "spaghetti@1", seed=4).printhead.deposition.height
    b = run(squares(3), "spaghetti@1", seed=4).printhead.deposition.height
    c = run(squares(3), "spaghetti@1", seed=5).printhead.deposition.height
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def _corrupted_session(seed: int) -> tuple[bytes, list]:
    """A fixed host script against corrupt=0.02: every byte the board sent and the faults it fired."""
    board = Board(BoardConfig(faults=parse_faults("corrupt=0.02"), seed=seed))
    port = board.open_port()
    sent = b""
    for n in range(1, 120):
        body = f"N{n} G1 X{n % 50} Y{n % 30} F6000".encode()
        c = 0
        for ch in body:
            c ^= ch
        board.receive(port, body + b"*" + str(c).encode() + b"\n")
        board.work()
        sent += b"".join(d for _, d in board.outgoing())
    return sent, board.status()["faults_fired"]


def test_byte_corruption_repeats_for_a_seed_and_shows_as_protocol_errors():
    sent_a, fired_a = _corrupted_session(1)
    sent_b, fired_b = _corrupted_session(1)
    sent_c, _ = _corrupted_session(2)
    assert (sent_a, fired_a) == (sent_b, fired_b)
    assert sent_a != sent_c
    kinds = {f["fault"] for f in fired_a}
    assert kinds == {"corrupt_rx", "corrupt_tx"}
    assert b"Resend:" in sent_a


def test_advanced_ok_counts_planner_and_queue_slots():
    board = Board()
    port = board.open_port(banner=False)
    board.receive(port, b"G28\n")
    board.work()
    board.outgoing()
    board.receive(port, b"".join(f"G1 X{i} Y{i} F6000\n".encode() for i in range(1, 6)))
    board.work()
    oks = b"".join(d for _, d in board.outgoing()).decode().splitlines()
    # four lines fit the queue at once, the fifth follows from the RX buffer as the first is taken
    assert oks == ["ok P15 B1", "ok P14 B1", "ok P13 B2", "ok P12 B3", "ok P11 B4"]


def _heat_wait_end(tmp_path, steps: list[float]) -> float:
    """Simulated time at which `M190 S60` then `M109 S200` are over, calling work() up to these limits in turn."""
    from firmware_sim.executed_log import ExecutedLog, read_executed_log

    path = tmp_path / f"heat-{len(steps)}.jsonl"
    board = Board(log=ExecutedLog(path))
    port = board.open_port(banner=False)
    board.receive(port, b"M190 S60\nM104 S200\nM109 S200\nM105\n")
    for limit in steps:
        board.work(limit)
    assert board.log is not None
    board.log.close()
    rows = read_executed_log(path)
    assert [r["cmd"] for r in rows] == ["M190 S60", "M104 S200", "M109 S200", "M105"], "a heat wait never ended"
    return float(rows[-1]["t"])


def test_heat_waits_end_whatever_the_pace_of_work_calls(tmp_path):
    # The serving loop calls work() as often as its wakeups come; at --speed 20 that is often more than once per
    # HEAT_POLL of simulated time. The check must not be pushed ahead by each call (an M109 that never ended).
    once = _heat_wait_end(tmp_path, [1e6])
    for step in (0.2, 0.01, 0.249):
        n = int(1000 / step)
        assert _heat_wait_end(tmp_path, [step * (i + 1) for i in range(n)]) == once
    jitter = np.cumsum(np.random.default_rng(3).uniform(0.001, 0.3, 20000)).tolist()
    assert _heat_wait_end(tmp_path, jitter) == once
    assert 100.0 < once < 400.0  # bed then hotend heat-up, printer-like


def _layers_at(zs: list[float]) -> list[str]:
    """The 20 mm square perimeter of `squares`, one layer at each height given (in that order)."""
    out = ["M104 S200", "M109 S200", "G28", "G92 E0"]
    e = 0.0
    for z in zs:
        out += [f"G1 Z{z:.3f} F600", "G1 X100 Y100 F6000"]
        for x, y in ((120, 100), (120, 120), (100, 120), (100, 100)):
            e += 20 * 0.033
            out.append(f"G1 X{x} Y{y} E{e:.4f} F1800")
    return out


def test_a_vase_spiral_is_a_layer_per_layer_height_and_its_whole_last_turn_is_fresh():
    lines = squares(2)
    e, z = 8 * 20 * 0.033, 0.4
    for _turn in range(5):
        for x, y in ((120, 100), (120, 120), (100, 120), (100, 100)):
            z += 0.05
            e += 20 * 0.033
            lines.append(f"G1 X{x} Y{y} Z{z:.3f} E{e:.4f} F1800")
    b = run(lines)
    assert b.printhead.layer == 6                         # 2 flat layers and 5 turns
    assert covered(b, 6).sum() > 0.9 * covered(b, 1).sum()  # the camera sees the whole turn fresh
    assert b.printhead.deposition.height.max() == pytest.approx(1.4, abs=1e-5)


def test_over_an_air_gap_beads_keep_their_width_and_the_layer_printed_lower_is_seen():
    """Cura over a raft: the first layer lifted by an air gap, the next printed a little lower."""
    b = run(_layers_at([0.2, 0.4, 0.9, 0.88, 1.08]))
    assert b.printhead.layer == 4
    flat = covered(b, 1).sum()
    assert covered(b, 4).sum() > 0.8 * flat               # strands the width of a pressed bead, not a third of it
    assert b.printhead.deposition.height.max() < 1.08 + 1e-4


def test_the_next_copy_of_a_sequential_print_starts_a_layer_on_the_bed():
    """Two squares one after another: the second begins at the first layer's height beside the finished first."""
    first = _layers_at([0.2, 0.4, 0.6, 0.8, 1.0])
    second = [line.replace("X100", "X140").replace("X120", "X160") for line in _layers_at([0.2, 0.4, 0.6])[4:]]
    e_end = float(first[-1].rsplit("E", 1)[1].split()[0])
    second = [_add_e(line, e_end) for line in second]
    b = run(first + ["G1 Z3 F600"] + second)
    assert b.printhead.layer == 7                            # 5 layers, then 3 more of the second copy
    mask = covered(b, 7)
    assert mask.sum() > 0.9 * covered(b, 4).sum()            # its top layer is as whole as the first copy's
    x, _ = centroid(mask)
    assert 138 < x < 162                                     # ... where the second copy stands
    h = b.printhead.deposition.height
    assert h[:, :1250].max() == pytest.approx(1.0, abs=1e-4) and h[:, 1300:].max() == pytest.approx(0.6, abs=1e-4)


def test_the_next_copy_starts_at_the_first_layer_height_when_it_differs_from_the_layer_height():
    """A first layer of 0.3 mm under 0.2 mm layers: the second copy's first layer is 0.3 mm thick on the bed, its
    beads as wide as the first copy's first layer, not spread as thin as a 0.2 mm layer's."""
    first = _layers_at([0.3, 0.5, 0.7, 0.9])
    second = [line.replace("X100", "X140").replace("X120", "X160") for line in _layers_at([0.3])[4:]]
    second = [_add_e(line, float(first[-1].rsplit("E", 1)[1].split()[0])) for line in second]
    b = run(first + ["G1 Z3 F600"] + second)
    alone = run(_layers_at([0.3]))  # the same first layer as the only one on the bed
    assert b.printhead.layer == 4 and b.printhead.thickness == pytest.approx(0.3)
    assert b.printhead.deposition.height[:, 1300:].max() == pytest.approx(alone.printhead.deposition.height.max())
    assert covered(b, 4).sum() == pytest.approx(covered(alone, 0).sum(), rel=0.02)  # the same beads on the bed


def _add_e(line: str, base: float) -> str:
    """The line with `base` added to its E word (the second copy's extrusion continues from the first's)."""
    if " E" not in line:
        return line
    head, tail = line.split(" E", 1)
    e, *rest = tail.split(" ")
    return " ".join([f"{head} E{float(e) + base:.4f}", *rest])
