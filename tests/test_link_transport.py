"""The pyserial transport and session edges: URLs, line splitting, a silent printer."""
from __future__ import annotations

import os
import threading
import time
import tty

import pytest

from controller.errors import PrinterLostError
from controller.session import PrinterSession
from controller.transport import Transport, TransportError


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
