"""The host's reply parser on Prusa-Firmware's and Klipper's spellings (captured from the firmwares' sources and
their hosts' logs): temperatures, errors that halt and errors that do not."""
from __future__ import annotations

import pytest

from controller.link import protocol as lk
from controller.link import replies as r

TABLE = [
    ("ok T:21.8 /0.0 B:22.1 /0.0 T0:21.8 /0.0 @:0 B@:0 P:0.0 A:25.3",
     r.Ok(temps=r.Temps({"T": (21.8, 0.0), "B": (22.1, 0.0), "T0": (21.8, 0.0), "P": (0.0, None)}))),
    ("T:155.5 E:0 W:?", r.TempReport(r.Temps({"T": (155.5, None)}, waiting=True))),
    ("ok B:60.0 /60.0 T0:200.0 /200.0", r.Ok(temps=r.Temps({"B": (60.0, 60.0), "T0": (200.0, 200.0)}))),
    ("B:59.1 /60.0 T0:187.2 /200.0", r.TempReport(r.Temps({"B": (59.1, 60.0), "T0": (187.2, 200.0)}))),
    ("!! Move out of range: 300.000 0.000 0.000 [0.000]",
     r.FirmwareError("Move out of range: 300.000 0.000 0.000 [0.000]", False)),
    ("!! Extrude below minimum temp", r.FirmwareError("Extrude below minimum temp", False)),
    ("!! Shutdown due to M112 command", r.FirmwareError("Shutdown due to M112 command", True)),
    ("// Klipper state: Shutdown", r.FirmwareError("Klipper state: Shutdown", True)),
    ("// Klipper state: Ready", r.Other("// Klipper state: Ready")),
    ("ok FIRMWARE_NAME:Klipper FIRMWARE_VERSION:v0.12.0",
     r.Ok(firmware={"FIRMWARE_NAME": "Klipper", "FIRMWARE_VERSION": "v0.12.0"})),
    ('// Unknown command:"M600"', r.Other('// Unknown command:"M600"')),
    ("// action:paused", r.Action("paused", "")),
    ("Error:Line Number is not Last Line Number+1, Last Line: 0",
     r.FirmwareError("Line Number is not Last Line Number+1, Last Line: 0", False)),
]


@pytest.mark.parametrize(("line", "want"), TABLE)
def test_prusa_and_klipper_replies_parse(line: str, want: r.Reply) -> None:
    assert r.parse_reply(line) == want


def test_a_klipper_shutdown_halts_the_link_at_once():
    link = lk.Link()
    link.give_up_waiting_for_start()       # Klipper sends no `start`
    events = link.receive_data(b"// Klipper state: Shutdown\n", 0.0)
    assert any(isinstance(e, lk.Halted) for e in events)
    assert link.state is lk.LinkState.HALTED
