"""Serial transport on pyserial: any port or URL (/dev/ttyUSB0, /dev/pts/N, socket://, rfc2217://, loop://).

A reader thread hands over the received bytes as they arrive (the link assembles lines); `write` sends what the
link says. No protocol or framing logic here. On a POSIX port (a real tty or pty) both directions go straight to the file
descriptor: one `select` and one `read` per wake-up take everything that arrived, and a write is one `os.write`
when the OS takes it whole; pyserial's generic path (URLs, other platforms) is used otherwise.
"""
from __future__ import annotations

import errno
import os
import select
import threading
from collections.abc import Callable

import serial

from controller.errors import ControllerError


class TransportError(ControllerError):
    """The serial port could not be opened or failed while open."""


class Transport:
    """An open serial port with a reader thread delivering received bytes."""

    def __init__(self, port: str, baud: int, on_data: Callable[[bytes], None],
                 on_closed: Callable[[str], None], read_timeout: float = 0.05) -> None:
        """Open `port` at `baud`; received bytes go to `on_data`, a failure of the port to `on_closed`."""
        try:
            self._serial = serial.serial_for_url(port, baud, timeout=read_timeout, write_timeout=10.0)
        except (serial.SerialException, ValueError, OSError) as exc:
            raise TransportError(f"cannot open serial port {port!r} at {baud} baud: {exc}") from exc
        self.port = port
        self._on_data = on_data
        self._on_closed = on_closed
        self._read_timeout = read_timeout
        self._closing = threading.Event()
        self._write_lock = threading.Lock()
        self._fd, self._abort_fd = _posix_fds(self._serial)
        self._thread = threading.Thread(target=self._read_loop, name=f"serial-reader {port}", daemon=True)
        self._thread.start()

    def write(self, data: bytes) -> None:
        """Send bytes (blocking until the OS took them)."""
        if not data:
            return
        try:
            with self._write_lock:
                if self._fd is not None:
                    data = data[_write_some(self._fd, data):]
                if data:
                    self._serial.write(data)  # the rest (or everything off POSIX) with pyserial's write timeout
        except (serial.SerialException, OSError) as exc:
            raise TransportError(f"writing to {self.port} failed: {exc}") from exc

    def _read_some(self) -> bytes:
        """Everything that arrived (waiting up to the read timeout for something): b"" when nothing did."""
        ser = self._serial
        if self._fd is None:
            waiting = ser.in_waiting
            return bytes(ser.read(waiting if waiting > 0 else 1))
        watch = [self._fd] if self._abort_fd is None else [self._fd, self._abort_fd]
        ready, _, _ = select.select(watch, [], [], self._read_timeout)
        if self._abort_fd is not None and self._abort_fd in ready:
            os.read(self._abort_fd, 1000)  # `close` woke us: the loop sees `_closing`
            return b""
        if self._fd not in ready:
            return b""
        try:
            data = os.read(self._fd, _READ_SIZE)
        except BlockingIOError:
            return b""
        if not data:
            raise OSError(errno.EIO, "device reports readiness to read but returned no data (disconnected?)")
        return data

    def _read_loop(self) -> None:
        """Read whatever arrives and deliver it at once, one call per read."""
        try:
            while not self._closing.is_set():
                data = self._read_some()
                if data:
                    self._on_data(data)
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


_READ_SIZE = 65536


def _posix_fds(ser: object) -> tuple[int | None, int | None]:
    """The port's file descriptor and pyserial's abort-read pipe when it is a POSIX serial port, else Nones."""
    try:
        import serial.serialposix as sp
    except ImportError:  # not a POSIX platform
        return None, None
    if not isinstance(ser, sp.Serial) or type(ser) is not sp.Serial:  # URL handlers (socket://, loop://, rfc2217://) and subclasses keep pyserial's IO
        return None, None
    return ser.fileno(), getattr(ser, "pipe_abort_read_r", None)


def _write_some(fd: int, data: bytes) -> int:
    """Write what the OS takes at once (the fd is non-blocking); return how many bytes that was."""
    try:
        return os.write(fd, data)
    except BlockingIOError:
        return 0
