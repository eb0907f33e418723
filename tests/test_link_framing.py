"""The link's own framing of received bytes: bytes in, events out, however the bytes were split on the way."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.errors import ProtocolError
from controller.link import replies as r
from controller.link.framing import MAX_LINE, LineAssembler
from controller.link.protocol import Accepted, BoardReset, Link, LinkConfig, LinkEvent, ResendIgnored, Rewound

ASSEMBLY = [
    (b"ok\n", ["ok"]),
    (b"ok\r\n", ["ok"]),                     # CRLF (Smoothieware, some USB bridges)
    (b"ok\rok\r", ["ok", "ok"]),             # bare CR
    (b"ok\n\n\r\n\rok\n", ["ok", "ok"]),     # empty lines dropped
    (b"\x00\x00ok\x00\n", ["ok"]),           # NULs from a board booting or line noise
    (b"\xfe\xffstart\n", ["\ufffd\ufffdstart"]),  # non-UTF-8 noise decodes, never raises
    (b"echo:T\xc2\xb0C\n", ["echo:T\u00b0C"]),  # real UTF-8 stays readable
    (b"ok", []),                              # no line end yet
    (b"ok\nResend: 3", ["ok"]),
]


@pytest.mark.parametrize(("data", "lines"), ASSEMBLY)
def test_line_assembly_table(data, lines):
    assert LineAssembler().feed(data) == lines


def test_partial_line_waits_for_its_end():
    a = LineAssembler()
    assert a.feed(b"Resend") == []
    assert a.feed(b": 4") == []
    assert a.feed(b"7\r") == ["Resend: 47"]
    assert a.feed(b"\nok\n") == ["ok"]  # the LF of the CRLF split off is no extra line


def test_runaway_noise_keeps_the_end_of_the_line_where_a_banner_is():
    a = LineAssembler()
    for _ in range(100):
        assert a.feed(b"\xaa" * 100) == []
    (line,) = a.feed(b"start\n")
    assert len(line) == MAX_LINE and line.endswith("start")
    assert r.parse_reply(line) == r.Other(line)  # noise too long to be a cut line: not taken for a reset
    assert a.feed(b"start\n") == ["start"]


REPLIES = st.sampled_from([
    "ok", "ok N12 P15 B3", "ok T:200.00 /200.00 B:60.00 /60.00 @:127 B@:64", "Resend: 5", "rs 6",
    "Error:checksum mismatch, Last Line: 4", "echo:busy: processing", " T:187.32 /200.00 B:59.87 /60.00 W:?",
    "//action:pause", "Cap:AUTOREPORT_TEMP:1", "wait", "echo:Unknown command: \"G999\"",
])
ENDINGS = st.sampled_from([b"\n", b"\r\n", b"\r", b"\n\n", b"\x00\n"])


@st.composite
def reply_streams(draw: st.DrawFn) -> tuple[bytes, list[str]]:
    """Reply bytes as a board sends them (mixed line endings, stray NULs) and the lines they hold."""
    lines = draw(st.lists(REPLIES, min_size=1, max_size=12))
    out = bytearray()
    for line in lines:
        body = line.encode()
        if draw(st.booleans()):
            at = draw(st.integers(0, len(body)))
            body = body[:at] + b"\x00" + body[at:]
        out += body + draw(ENDINGS)
    return bytes(out), lines


def _feed_in_pieces(data: bytes, cuts: list[int]) -> list[str]:
    """Lines from one assembler fed `data` cut at the given offsets."""
    a = LineAssembler()
    got: list[str] = []
    start = 0
    for cut in [*sorted(cuts), len(data)]:
        got += a.feed(data[start:cut])
        start = cut
    return got


@settings(max_examples=200, deadline=None)
@given(stream=reply_streams())
def test_lines_are_the_same_whichever_byte_boundary_splits_the_stream(stream):
    data, lines = stream
    for i in range(len(data) + 1):
        assert _feed_in_pieces(data, [i]) == lines


@settings(max_examples=200, deadline=None)
@given(stream=reply_streams(), cuts=st.lists(st.integers(0, 2000), max_size=30))
def test_lines_are_the_same_fed_byte_by_byte_or_in_any_pieces(stream, cuts):
    data, lines = stream
    assert _feed_in_pieces(data, [c % (len(data) + 1) for c in cuts]) == lines
    assert _feed_in_pieces(data, list(range(len(data)))) == lines


@settings(max_examples=200, deadline=None)
@given(noise=st.binary(max_size=300), cuts=st.lists(st.integers(0, 300), max_size=10))
def test_any_noise_assembles_the_same_in_pieces_and_never_raises(noise, cuts):
    whole = LineAssembler().feed(noise)
    assert _feed_in_pieces(noise, [c % (len(noise) + 1) for c in cuts]) == whole
    assert all(line and "\n" not in line and "\r" not in line and "\x00" not in line for line in whole)


def _streaming_link() -> Link:
    """A numbered link with six commands in flight."""
    link = Link(LinkConfig(queue_size=8, rx_buffer=512))
    link.receive_data(b"start\n", 0.0)
    link.bytes_to_send(0.0)
    link.receive_data(b"ok\n", 0.0)
    for i in range(6):
        link.send(f"G1 X{i}", i)
    assert link.bytes_to_send(0.0).count(b"\n") == 6
    return link


def _events(link: Link, data: bytes, cuts: list[int]) -> list[LinkEvent]:
    """Events from feeding `data` cut at the given offsets."""
    events: list[LinkEvent] = []
    start = 0
    for cut in [*sorted(cuts), len(data)]:
        events += link.receive_data(data[start:cut], 0.1)
        start = cut
    return events


ANSWERS = (b"ok N1 P15 B3\r\necho:busy: processing\nok\n T:20.0 /0.0 B:20.0 /0.0\n\x00"
           b"Error:checksum mismatch, Last Line: 2\r\nResend: 3\nok\n")


def test_link_events_are_the_same_at_every_split_of_the_answers():
    whole = _events(_streaming_link(), ANSWERS, [])
    assert [e.n for e in whole if isinstance(e, Accepted)] == [1, 2]
    assert Rewound(3) in whole
    for i in range(len(ANSWERS) + 1):
        assert _events(_streaming_link(), ANSWERS, [i]) == whole


@settings(max_examples=100, deadline=None)
@given(cuts=st.lists(st.integers(0, len(ANSWERS)), max_size=len(ANSWERS)))
def test_link_events_are_the_same_for_any_pieces_of_the_answers(cuts):
    whole = _events(_streaming_link(), ANSWERS, [])
    assert _events(_streaming_link(), ANSWERS, cuts) == whole


def test_a_line_is_handled_once_its_end_arrives_not_before():
    link = _streaming_link()
    assert link.receive_data(b"ok N1 P15", 0.1) == []
    assert link.in_flight == 6
    assert link.receive_data(b" B3\n", 0.1) == [r.Ok(1, 15, 3), Accepted(1, 0)]
    assert link.in_flight == 5


def test_a_failing_line_leaves_the_lines_after_it_and_the_events_before_it_to_the_next_call():
    link = _streaming_link()
    bogus = b"Resend: 9999\n" * 13  # the 13th impossible target in a row (queue of 8 + slack of 4) is an error
    with pytest.raises(ProtocolError, match="keeps asking to resend line 9999"):
        link.receive_data(bogus + b"start\n", 0.1)
    events = link.receive_data(b"", 0.1)
    assert sum(isinstance(e, ResendIgnored) for e in events) == 12
    assert events[-2:] == [r.Start(), BoardReset(6)]
    assert link.receive_data(b"", 0.1) == []
