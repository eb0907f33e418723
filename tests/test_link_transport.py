"""The pyserial transport and session edges: URLs, raw bytes handed over as they arrive, a silent printer."""
from __future__ import annotations

import os
import select
import threading
import time
import tty

import pytest

from controller.errors import PrinterLostError
from controller.link.transport import Transport, TransportError
from controller.printer.session import PrinterSession


def test_loop_url_delivers_the_received_bytes_unchanged_and_in_order():
    got = bytearray()
    done = threading.Event()
    sent = b"ok N1 P15 B3\r\nT:20.0 /0.0 B:20.0 /0.0\n" + b"echo:busy: proc" + b"\x00\xfe\x85essing\nstart\n"

    def on_data(data: bytes) -> None:
        got.extend(data)
        if got.endswith(b"start\n"):
            done.set()

    t = Transport("loop://", 115200, on_data, lambda why: None)
    try:
        t.write(sent[:30])
        t.write(sent[30:45])
        t.write(sent[45:])
        assert done.wait(5)
    finally:
        t.close()
    assert bytes(got) == sent  # framing (CR, NUL, partial lines) is the link's job, not the transport's


def test_unknown_port_is_a_typed_error_naming_the_port():
    with pytest.raises(TransportError, match="/dev/nonexistent-printer"):
        Transport("/dev/nonexistent-printer", 115200, lambda lines: None, lambda why: None)


def test_connect_to_a_silent_printer_fails_with_printer_lost_and_closes():
    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        s = PrinterSession(os.ttyname(slave), timeout=0.5, lost_after=1.0, start_wait=0.2)
        t0 = time.monotonic()
        with pytest.raises(PrinterLostError):
            s.connect(timeout=1.5)
        assert time.monotonic() - t0 < 5
        assert s.state == "disconnected"
        assert b"N0 M110 N0*125" in os.read(master, 4096)
    finally:
        os.close(master)
        os.close(slave)


def test_pty_port_reads_bursts_whole_writes_large_blocks_and_closes_promptly():
    master, slave = os.openpty()
    tty.setraw(slave)
    chunks: list[bytes] = []
    done = threading.Event()

    def on_data(data: bytes) -> None:
        chunks.append(data)
        if b"".join(chunks).endswith(b"start\n"):
            done.set()

    t = Transport(os.ttyname(slave), 115200, on_data, lambda why: None)
    try:
        assert t._fd is not None  # a tty takes the file-descriptor path, not pyserial's generic one
        os.write(master, b"ok N1 P15 B3\r\necho:busy: proc")
        time.sleep(0.1)
        burst = b"essing\n" + b"ok\n" * 50 + b"start\n"
        os.write(master, burst)
        assert done.wait(5)
        block = b"".join(b"N%d G1 X%d*1\n" % (i, i) for i in range(3000))  # beyond one pty write
        writer = threading.Thread(target=t.write, args=(block,))
        writer.start()
        received = bytearray()
        deadline = time.monotonic() + 5
        while len(received) < len(block) and time.monotonic() < deadline:
            if select.select([master], [], [], 0.2)[0]:
                received += os.read(master, 65536)
        writer.join(5)
        assert bytes(received) == block
    finally:
        t0 = time.monotonic()
        t.close()
        closed_in = time.monotonic() - t0
        os.close(master)
        os.close(slave)
    assert b"".join(chunks) == b"ok N1 P15 B3\r\necho:busy: proc" + burst
    assert any(burst in c for c in chunks)  # what arrived together is handed over with one read, in one call
    assert closed_in < 0.5
