"""The executed log goes where the caller says; a temporary one the simulator made is gone when it exits."""
from __future__ import annotations

import os
from pathlib import Path

from tests.sim_helpers import command, running_sim
from tests.simproc import Sim


def test_a_temporary_executed_log_is_removed_when_the_simulator_exits():
    with Sim("--speed", "max") as sim:                      # stopped with SIGTERM
        path = Path(sim.endpoints["executed_log"])
        assert path.exists()
    assert sim.proc.returncode == 0 and not path.exists()
    with running_sim("--speed", "max") as sim2:             # stopped with SIGINT
        path2 = Path(sim2.info["executed_log"])
        ser = sim2.open()
        command(ser, "G28")
        ser.close()
        assert path2.exists()
    assert not path2.exists()


def test_an_executed_log_the_caller_names_stays_with_what_ran(tmp_path):
    wanted = tmp_path / "run" / "executed.jsonl"
    wanted.parent.mkdir()
    with running_sim("--speed", "max", "--executed-log", str(wanted)) as sim:
        assert sim.info["executed_log"] == os.path.abspath(wanted)
        ser = sim.open()
        command(ser, "G28")
        ser.close()
    assert [r["cmd"] for r in sim.log()] == ["G28"]
