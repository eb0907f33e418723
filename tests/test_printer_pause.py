"""A printer's own pause (filament runout, M600) pauses the job with its reason; resume goes on, nothing lost."""
from __future__ import annotations

import time

from controller.printer.session import PrinterSession
from tests.simproc import Sim
from tests.test_session_sim import numbered, wait_log


def test_runout_pauses_with_its_reason_then_resume_completes_with_every_line_once(tmp_path):
    cmds = ["M104 S200", "M109 S200", "G28", "G92 E0"]
    for layer in range(6):
        cmds.append(f"G1 Z{0.2 * (layer + 1):.2f} F600")
        cmds += [f"G1 X{20 + i * 0.5:.1f} Y{20 + layer} E{layer * 50 + i * 0.5:.2f} F3000" for i in range(100)]
    (tmp_path / "r.gcode").write_text("\n".join(cmds) + "\n")
    events = []
    with Sim("--speed", "max", "--faults", "runout@2") as sim:
        s = PrinterSession(sim.serial, timeout=2.0, on_event=events.append)
        s.connect()
        job = s.start_job(tmp_path / "r.gcode")
        deadline = time.monotonic() + 60
        while job.progress().state != "paused" and not job.finished and time.monotonic() < deadline:
            time.sleep(0.02)
        paused = job.progress()
        assert paused.state == "paused", [(e.kind, e.message) for e in events if e.kind not in ("echo",)][-15:]
        assert "runout" in (paused.reason or "")
        job.resume()
        final = job.wait(120)
        s.close()
        log = [e["cmd"] for e in numbered(wait_log(sim, len(cmds)))]
    assert final.state == "completed", final.reason
    assert [c for c in log if c in set(cmds)] == cmds
    kinds = [e.kind for e in events]
    assert kinds.index("paused") < kinds.index("resumed") < kinds.index("completed")
    assert any(e.kind == "action" and e.data["action"] == "paused" for e in events)
