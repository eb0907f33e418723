"""Sans-IO device protocol: bytes in, commands and reply bytes out — no pty, no threads."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_sim.protocol import CommandQueue, DeviceProtocol, checksum


def numbered(n: int, cmd: str) -> bytes:
    body = f"N{n} {cmd}".encode()
    return body + b"*" + str(checksum(body)).encode() + b"\n"


def drain(proto: DeviceProtocol, queue: CommandQueue) -> list:
    """Process everything, acknowledging each command as the board would."""
    out = []
    while True:
        proto.process()
        cmd = queue.pop()
        if cmd is None:
            return out
        out.append(cmd)
        proto.ok(cmd, 16)


def make(rx: int = 128, bufsize: int = 4, advanced: bool = True) -> tuple[DeviceProtocol, CommandQueue]:
    q = CommandQueue(bufsize)
    return DeviceProtocol(q, rx_buffer_size=rx, advanced_ok=advanced), q


def test_numbered_lines_become_commands_without_number_and_checksum():
    proto, q = make()
    proto.receive_data(numbered(1, "G1 X1 Y2") + numbered(2, "M105"))
    cmds = drain(proto, q)
    assert [(c.text, c.line) for c in cmds] == [("G1 X1 Y2", 1), ("M105", 2)]
    # both lines were queued before the first ran: B counts the free queue entries at each ok
    assert proto.data_to_send() == b"ok N1 P16 B3\nok N2 P16 B4\n"


def test_checksum_error_replies_exactly_like_marlin_and_drops_pending_input():
    proto, q = make()
    proto.receive_data(numbered(1, "G21") + b"N2 G1 X5*99\n" + numbered(3, "G90"))
    cmds = drain(proto, q)
    assert [c.line for c in cmds] == [1]
    # the bad line is read (and refused) while line 1 still waits in the queue, as on Marlin
    assert proto.data_to_send() == (b"Error:checksum mismatch, Last Line: 1\nResend: 2\nok\nok N1 P16 B4\n")


def test_checksum_without_line_number_is_refused_like_marlin_and_not_executed():
    proto, q = make()
    garbled = numbered(2, "G1 X5").replace(b"N2", b"\xce2", 1)      # the `N` garbled on the wire
    proto.receive_data(numbered(1, "G21") + garbled + numbered(2, "G1 X5") + b"M105*39\n")
    cmds = drain(proto, q)
    assert [(c.text, c.line) for c in cmds] == [("G21", 1)]
    assert proto.data_to_send() == (b"Error:No Line Number with checksum, Last Line: 1\nResend: 2\nok\n"
                                    b"ok N1 P16 B4\n")
    # line 2 resent, then an unnumbered line with a checksum: refused as well
    proto.receive_data(numbered(2, "G1 X5") + b"M105*39\n" + b"M105\n")
    assert [(c.text, c.line) for c in drain(proto, q)] == [("G1 X5", 2)]
    assert proto.data_to_send() == (b"Error:No Line Number with checksum, Last Line: 2\nResend: 3\nok\n"
                                    b"ok N2 P16 B4\n")
    proto.receive_data(b"  M105\n")                                         # no checksum: a plain command
    assert [(c.text, c.line) for c in drain(proto, q)] == [("M105", None)]


def test_comments_crlf_and_blank_lines():
    proto, q = make(advanced=False)
    proto.receive_data(b"; only a comment\r\n\r\nG28 ; home\r\n   M105\n")
    assert [c.text for c in drain(proto, q)] == ["G28", "M105"]
    assert proto.data_to_send() == b"ok\nok\n"


def test_overrun_loses_bytes_beyond_the_rx_buffer():
    proto, _ = make(rx=64, bufsize=1)
    proto.receive_data(b"G1 X1\n")  # queued, queue now full once processed
    proto.process()
    data = b"".join(numbered(i, "G1 X10 Y10") for i in range(1, 11))
    proto.receive_data(data)
    assert proto.bytes_lost == len(data) - (64 - 0)
    assert proto.rx_pending == 64


def test_overlong_line_is_truncated_to_max_cmd_size():
    proto, q = make(rx=1024)
    proto.receive_data(b"M117 " + b"A" * 300 + b"\n")
    (cmd,) = drain(proto, q)
    assert len(cmd.text) == 95


def test_emergency_parser_sees_m112_even_when_the_ring_is_full():
    proto, _ = make(rx=16, bufsize=1)
    assert proto.receive_data(b"G1 X1 Y1 Z1 E1 F1000\n") == []
    assert proto.receive_data(b"M112\n") == ["M112"]
    assert proto.receive_data(b"N5 M1") == [] and proto.receive_data(b"12*0\n") == ["M112"]


def test_spurious_resend_hook_refuses_a_good_line():
    proto, q = make()
    proto.spurious_resend = lambda n: n == 2
    proto.receive_data(numbered(1, "G21") + numbered(2, "G90"))
    assert [c.line for c in drain(proto, q)] == [1]
    assert proto.data_to_send() == b"Resend: 2\nok\nok N1 P16 B4\n"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=60))
def test_any_chunking_of_a_stream_gives_the_same_commands(cuts):
    stream = b"".join(numbered(i, f"G1 X{i} Y{i * 2}") for i in range(1, 41))
    proto, q = make(rx=4096, bufsize=4)
    got = []
    pos = 0
    for c in cuts + [len(stream)]:
        proto.receive_data(stream[pos:pos + c])
        pos += c
        got += drain(proto, q)
        if pos >= len(stream):
            break
    got += drain(proto, q)
    assert [c.line for c in got] == list(range(1, 41))
    assert b"Error" not in proto.data_to_send()


@settings(max_examples=80, deadline=None)
@given(st.binary(max_size=600))
def test_binary_noise_never_raises_and_every_queued_command_is_acknowledged(noise):
    proto, q = make()
    proto.receive_data(noise)
    cmds = drain(proto, q)
    out = proto.data_to_send()
    assert out.count(b"ok") >= len(cmds)


def test_emergency_parser_only_acts_on_commands_at_the_start_of_a_line():
    proto, _ = make()
    assert proto.receive_data(b"M117 press M112 to stop\n") == []
    assert proto.receive_data(b"N12 M112*53\n") == ["M112"]
    assert proto.receive_data(b"M1120\n") == []
    assert proto.receive_data(b"  M41") == [] and proto.receive_data(b"0\n") == ["M410"]
