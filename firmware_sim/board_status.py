"""What the board reports of itself (status.json), how it halts when a heater runs away, and how a halted
Klipper answers."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from firmware_sim.board import Board


def board_status(board: Board) -> dict:
    """Everything status.json reports (a filament change in progress shows in `paused`)."""
    board.settle_heaters()
    t, b = board.heaters["T"], board.heaters["B"]
    x, y, z, e = board.printhead.position_at(board.now)
    state = "halted" if board.halted else ("printing" if board.busy else "idle")
    return {
        "state": state,
        "temperatures": {
            "hotend": {"actual": round(t.temperature, 2), "target": t.target, "power": t.power},
            "bed": {"actual": round(b.temperature, 2), "target": b.target, "power": b.power},
        },
        "position": {"x": round(x, 4), "y": round(y, 4), "z": round(z, 4), "e": round(e, 5)},
        "layer": board.printhead.layer,
        "sim_time": round(board.now, 6),
        "print_time": round(board.printhead.print_time, 6),
        "lines_executed": board.lines_executed,
        "moves_executed": board.printhead.blocks_done,
        "planner_queued": board.planner.queued,
        "command_queue": len(board.queue),
        "rx_bytes_lost": board.ports.bytes_lost,
        "fan": board.interp.fan,
        "paused": board.pause.phase or None,
        "faults": board.config.faults.text,
        "faults_fired": list(board.fired),
        "fault_counts": dict(board.fault_counts),
    }


def halt_on_runaway(board: Board) -> None:
    """A heater that ran away halts the board with the flavour's words (Marlin's error line, Klipper's shutdown)."""
    for hid, heater in board.heaters.items():
        if heater.runaway:
            if board.flavour.temps == "klipper":
                board.kill(f"Heater {'extruder' if hid == 'T' else 'heater_bed'} not heating at expected rate")
                return
            reason = "Heating failed" if heater.fault == "heating_failed" else "Thermal Runaway"
            board.broadcast(f"Error:{reason}, system stopped! Heater_ID: {'0' if hid == 'T' else 'bed'}")
            board.kill()
            return


def answer_halted(board: Board) -> None:
    """Klipper after a shutdown: every line read gets the shutdown reason as an error, then `ok`."""
    board._pull_lines()
    while (cmd := board.queue.pop()) is not None:
        proto = board.ports.get(cmd.port)
        name = cmd.text.split(" ", 1)[0].upper()
        if proto is not None and name == "M115":    # the few commands Klipper runs when not ready
            proto.write_line(f"ok {board.flavour.m115}")
        elif proto is not None:
            if name not in ("M110", "M112"):
                proto.write_line(f"!! {board.halt_reason}")
            proto.write_line("ok")
        board._pull_lines()
