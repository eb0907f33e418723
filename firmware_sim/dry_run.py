"""A whole G-code file through the simulated board, no serial port and no wall clock: how long `printloop sim`
would take to print it (heating waits, acceleration, junction speeds and dwell included), in simulated seconds.

The host is an ideal ping-pong one: each line goes in once the previous one is queued, so the printer is never
starved and the figure is the board's own. It is the like-for-like time of G-code files from different slicers:
each slicer's own estimate uses its own motion model, this one uses the same simulated firmware for all of them.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from firmware_sim.board import Board, BoardConfig


@dataclass(frozen=True)
class DryRun:
    """Simulated figures of one file."""

    sim_s: float          # simulated seconds from the first line to the last move's end (heating included)
    print_s: float        # of which the head was moving
    lines: int            # lines sent (comments and blank lines are not sent)
    moves: int            # motion blocks the board executed
    layer: int            # the last layer the board counted
    halted: str           # why the board halted, "" when it did not
    wall_s: float         # wall time the simulation took


def sendable(lines: Iterable[str]) -> Iterable[str]:
    """The lines a host would send: comments stripped, blank lines dropped."""
    for raw in lines:
        line = raw.split(";", 1)[0].strip()
        if line:
            yield line


def dry_run(lines: Iterable[str], config: BoardConfig | None = None,
            progress: Callable[[int], None] | None = None) -> DryRun:
    """Run G-code lines through a fresh simulated board and return its simulated print time."""
    t0 = time.perf_counter()
    board = Board(config or BoardConfig())
    port = board.open_port(banner=False)
    sent = 0
    for line in sendable(lines):
        board.receive(port, line.encode("ascii", "replace") + b"\n")
        board.work()
        board.outgoing()
        sent += 1
        if board.halted:
            break
        if progress is not None and sent % 50_000 == 0:
            progress(sent)
    board.starve()
    board.idle_to(board.printhead.exec_end)
    board.printhead.flush()
    return DryRun(sim_s=board.now, print_s=board.printhead.print_time, lines=sent,
                  moves=board.printhead.blocks_done, layer=board.printhead.layer,
                  halted=board.halt_reason if board.halted else "", wall_s=time.perf_counter() - t0)


def dry_run_file(path: Path, config: BoardConfig | None = None,
                 progress: Callable[[int], None] | None = None) -> DryRun:
    """`dry_run` of a G-code file on disk."""
    with path.open(encoding="utf-8", errors="replace") as fh:
        return dry_run(fh, config, progress)
