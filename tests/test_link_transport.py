"""The pyserial transport and session edges: URLs, line splitting, a silent printer."""
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


def test_loop_url_delivers_complete_lines_in_order():
    got: list[str] = []
    done = threading.Event()

    def on_lines(lines: list[str]) -> None:
        got.extend(lines)
        if "start" in got:
            done.set()

    t = Transport("loop://", 115200, on_lines, lambda why: None)
    try:
        t.write(b"ok N1 P15 B3\r\nT:20.0 /0.0 B:20.0 /0.0\n")
        t.write(b"echo:busy: proc")
        t.write(b"essing\nstart\n")
        assert done.wait(5)
    finally:
        t.close()
    assert got == ["ok N1 P15 B3", "T:20.0 /0.0 B:20.0 /0.0", "echo:busy: processing", "start"]


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


def test_pty_port_reads_split_lines_writes_large_blocks_and_closes_promptly():
    master, slave = os.openpty()
    tty.setraw(slave)
    got: list[str] = []
    batches: list[int] = []
    done = threading.Event()

    def on_lines(lines: list[str]) -> None:
        got.extend(lines)
        batches.append(len(lines))
        if "start" in got:
            done.set()

    t = Transport(os.ttyname(slave), 115200, on_lines, lambda why: None)
    try:
        assert t._fd is not None  # a tty takes the file-descriptor path, not pyserial's generic one
        os.write(master, b"ok N1 P15 B3\r\necho:busy: proc")
        time.sleep(0.1)
        os.write(master, b"essing\n" + b"ok\n" * 50 + b"start\n")
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
    assert got == ["ok N1 P15 B3", "echo:busy: processing"] + ["ok"] * 50 + ["start"]
    assert max(batches) > 1  # lines that arrived together are handed over together
    assert closed_in < 0.5
