"""Lost `ok`s: the line number of an ADVANCED_OK and the `ok T:` answer of an M105 sync re-align the count."""
from __future__ import annotations

from controller.link.framing import frame
from controller.link.protocol import SYNC, Accepted, Link, LinkConfig, LinkEvent

OK_T = b"ok T:200.00 /200.00 B:60.00 /60.00 @:127 B@:64\n"


def _link_with(commands: int, queue_size: int = 4) -> Link:
    """A numbered link (M110 confirmed) with `commands` moves queued and the first window sent."""
    link = Link(LinkConfig(queue_size=queue_size, rx_buffer=512, sync_after=0.5, timeout=10.0))
    link.receive_data(b"start\n", 0.0)
    assert link.bytes_to_send(0.0) == frame(0, "M110 N0")
    link.receive_data(b"ok N0 P15 B3\n", 0.0)
    for i in range(commands):
        link.send(f"G1 X{i + 1}", i + 1)
    return link


def _accepted(events: list[LinkEvent]) -> list[int]:
    """Line numbers of the acceptances among events."""
    return [e.n for e in events if isinstance(e, Accepted)]


def test_advanced_ok_line_number_retires_the_lines_whose_oks_were_lost():
    link = _link_with(8)
    assert link.bytes_to_send(0.0) == b"".join(frame(n, f"G1 X{n}") for n in range(1, 5))
    # the oks of lines 1 and 2 were lost on the wire; line 3's names itself
    events = link.receive_data(b"ok N3 P13 B1\n", 0.1)
    assert _accepted(events) == [1, 2, 3]
    assert link.in_flight == 1
    # the window really is free again: three more lines go out at once, not one
    assert link.bytes_to_send(0.1) == b"".join(frame(n, f"G1 X{n}") for n in range(5, 8))
    assert _accepted(link.receive_data(b"ok N7 P13 B1\n", 0.2)) == [4, 5, 6, 7]
    assert link.in_flight == 0


def test_advanced_oks_after_a_realignment_retire_each_line_once():
    link = _link_with(4)
    link.bytes_to_send(0.0)
    assert _accepted(link.receive_data(b"ok N2 P13 B1\n", 0.1)) == [1, 2]
    assert _accepted(link.receive_data(b"ok N3 P13 B1\nok N4 P13 B1\n", 0.1)) == [3, 4]
    assert link.idle


def test_early_m105_sync_after_a_quiet_spell_recovers_lost_plain_oks():
    link = _link_with(3)
    assert link.bytes_to_send(0.0).count(b"\n") == 3
    # oks of lines 1 and 2 lost; line 3's plain `ok` can only retire the oldest
    assert _accepted(link.receive_data(b"ok\n", 0.1)) == [1]
    assert link.in_flight == 2 and not link.idle
    assert link.tick(0.3) == [] and link.bytes_to_send(0.3) == b""   # not quiet long enough yet
    link.tick(0.7)
    assert link.bytes_to_send(0.7) == frame(4, SYNC)  # quiet while lines are in flight: an M105 sync
    events = link.receive_data(OK_T, 0.8)
    assert [(e.n, e.proven) for e in events if isinstance(e, Accepted)] == [(2, False), (3, False), (4, True)]
    assert link.idle


def test_the_ok_of_a_later_sync_also_answers_an_earlier_sync_whose_ok_was_lost():
    link = _link_with(2)
    link.bytes_to_send(0.0)
    link.tick(0.6)
    assert link.bytes_to_send(0.6) == frame(3, SYNC)
    link.tick(1.2)
    assert link.bytes_to_send(1.2) == frame(4, SYNC)  # no answer at all yet: another sync
    # every ok was lost except the second sync's
    events = link.receive_data(OK_T, 1.3)
    assert [(e.n, e.proven) for e in events if isinstance(e, Accepted)] == [(1, False), (2, False), (3, False),
                                                                             (4, True)]
    assert link.idle


def test_plain_ok_t_of_a_command_that_is_no_sync_retires_only_the_oldest_line():
    link = _link_with(3)
    link.bytes_to_send(0.0)
    # Smoothieware-like `ok T:` to a move is no proof about later lines: nothing beyond the oldest is taken
    assert _accepted(link.receive_data(OK_T, 0.1)) == [1]
    assert link.in_flight == 2
