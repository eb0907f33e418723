"""Serial transport on pyserial: any port or URL (/dev/ttyUSB0, /dev/pts/N, socket://, rfc2217://, loop://).

A reader thread splits received bytes into lines and hands them over in batches; `write` sends what the link
says. No protocol logic here.
"""
from __future__ import annotations

import threading
from collections.abc import Callable

import serial

from controller.errors import ControllerError


class TransportError(ControllerError):
    """The serial port could not be opened or failed while open."""


class Transport:
    """An open serial port with a reader thread delivering decoded lines."""

    def __init__(self, port: str, baud: int, on_lines: Callable[[list[str]], None],
                 on_closed: Callable[[str], None], read_timeout: float = 0.05) -> None:
        """Open `port` at `baud`; received lines go to `on_lines`, a failure of the port to `on_closed`."""
        try:
            self._serial = serial.serial_for_url(port, baud, timeout=read_timeout, write_timeout=10.0)
        except (serial.SerialException, ValueError, OSError) as exc:
            raise TransportError(f"cannot open serial port {port!r} at {baud} baud: {exc}") from exc
        self.port = port
        self._on_lines = on_lines
        self._on_closed = on_closed
        self._closing = threading.Event()
        self._write_lock = threading.Lock()
        self._thread = threading.Thread(target=self._read_loop, name=f"serial-reader {port}", daemon=True)
        self._thread.start()

    def write(self, data: bytes) -> None:
        """Send bytes (blocking until the OS took them)."""
        if not data:
            return
        try:
            with self._write_lock:
                self._serial.write(data)
        except (serial.SerialException, OSError) as exc:
            raise TransportError(f"writing to {self.port} failed: {exc}") from exc

    def _read_loop(self) -> None:
        """Read whatever arrives, split on newlines, deliver complete lines in one batch per read."""
        buf = b""
        ser = self._serial
        try:
            while not self._closing.is_set():
                waiting = ser.in_waiting
                data = ser.read(waiting if waiting > 0 else 1)
                if not data:
                    continue
                buf += data
                if b"\n" not in data:
                    continue
                *complete, buf = buf.split(b"\n")
                lines = [c.decode("latin-1").strip("\r") for c in complete]
                self._on_lines([ln for ln in lines if ln])
        except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
            if not self._closing.is_set():
                self._on_closed(f"serial port {self.port} failed: {exc}")

    def close(self) -> None:
        """Stop the reader and close the port."""
        self._closing.set()
        try:
            self._serial.cancel_read()
        except (AttributeError, NotImplementedError, serial.SerialException, OSError):
            pass
        self._thread.join(timeout=2.0)
        try:
            self._serial.close()
        except (serial.SerialException, OSError):
            pass
