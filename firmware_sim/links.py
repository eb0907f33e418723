"""Byte pipes between host programs and the board: a pty master or a TCP client, each with a writer thread and
(unless the owner reads it directly) a reader thread, optional baud throttling (B/10 bytes/s each way, as a
UART) and a wake pipe for clean shutdown."""
from __future__ import annotations

import fcntl
import os
import queue
import select
import socket
import struct
import termios
import threading
import time
from collections.abc import Callable

Deliver = Callable[[bytes], None]
Writer = Callable[[bytes | memoryview], int]
TIOCPKT_IOCTL = 0x40     # packet-mode status: the slave's termios changed (reported with EXTPROC set)
EXTPROC = 0o200000       # Linux c_lflag bit: report the slave's termios changes to the master
WRITE_STALL_S = 1.0     # a host that reads nothing for this long loses what the board sends (as USB CDC drops)


class Throttle:
    """Paces bytes to a rate with a schedule on the monotonic clock (no polling)."""

    def __init__(self, baud: int | None) -> None:
        self.rate = baud / 10.0 if baud else None
        self._next = 0.0

    def pace(self, nbytes: int, stop: threading.Event) -> None:
        """Block until `nbytes` more bytes may pass (returns at once when unthrottled or stopping)."""
        if self.rate is None:
            return
        now = time.monotonic()
        self._next = max(self._next, now) + nbytes / self.rate
        delay = self._next - now - nbytes / self.rate
        if delay > 0:
            stop.wait(delay)

    def chunk(self) -> int:
        """Largest slice to deliver at once so timing stays within a few ms."""
        return 4096 if self.rate is None else max(1, int(self.rate * 0.004))


class Link:
    """One host connection: reads into `deliver`, writes what `send` is given, until closed."""

    def __init__(self, name: str, read_fd: int, write: Writer, deliver: Deliver,
                 on_eof: Callable[[], None], baud: int | None,
                 on_flush: Callable[[], None] | None = None, direct: bool = False) -> None:
        self.name = name
        self.direct = direct and baud is None   # no reader thread: the owner calls read_now() when readable
        self._configured = False       # pty: the host just set the line up (tcsetattr), as pyserial does on open
        self._on_flush = on_flush      # pty in packet mode: called when a host opens the port
        self._fd = read_fd
        self._write = write
        self._deliver = deliver
        self._on_eof = on_eof
        self._rx = Throttle(baud)
        self._tx = Throttle(baud)
        self._out: queue.Queue[bytes | None] = queue.Queue()
        self._wlock = threading.Lock()
        self._busy = False             # the writer thread owns the fd until its queue is empty
        self._generation = 0           # bumped by discard_pending to abandon the item being written
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        self.dropped = 0
        self._threads = [threading.Thread(target=self._writer, name=f"{name}-tx", daemon=True)]
        if not self.direct:
            self._threads.append(threading.Thread(target=self._reader, name=f"{name}-rx", daemon=True))

    def fileno(self) -> int:
        """The fd to watch for host bytes (direct links)."""
        return self._fd

    def read_now(self) -> None:
        """Read what the host sent (the fd is readable) and hand it on; for direct links."""
        try:
            data = os.read(self._fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._on_eof()
            return
        data = self._unpack(data)
        if data:
            self._deliver(data)

    def _unpack(self, data: bytes) -> bytes:
        """Strip the pty packet-mode status byte, reporting a host opening the port; data only otherwise."""
        if self._on_flush is None:
            return data
        status, data = data[0], data[1:]
        if status & TIOCPKT_IOCTL:
            self._configured = True
        if status & termios.TIOCPKT_FLUSHREAD and self._configured:
            self._on_flush()
        if data:
            self._configured = False
        return data

    def start(self) -> None:
        """Start the reader and writer threads."""
        for t in self._threads:
            t.start()

    def send(self, data: bytes) -> None:
        """Send bytes to the host: written at once when unthrottled and nothing is pending, else queued."""
        if self._tx.rate is not None:
            self._out.put(data)
            return
        with self._wlock:
            if not self._busy:
                try:
                    n = self._write(data)
                except (BlockingIOError, InterruptedError):
                    n = 0
                except OSError:
                    self.dropped += len(data)
                    return
                if n == len(data):
                    return
                data = data[n:]
            self._busy = True
            self._out.put(data)

    def discard_pending(self) -> None:
        """Forget bytes not yet written (the board reset; its UART buffer is gone)."""
        with self._wlock:
            self._generation += 1
            try:
                while True:
                    item = self._out.get_nowait()
                    if item is None:
                        self._out.put(None)
                        break
            except queue.Empty:
                pass

    def close(self) -> None:
        """Stop both threads and wait for them."""
        self._stop.set()
        self._out.put(None)
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(timeout=5)
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass

    def _reader(self) -> None:
        """Wait for host bytes (or the wake pipe); hand them on at the link's rate."""
        step = self._rx.chunk()
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._fd, self._wake_r], [], [])
            except (OSError, ValueError):
                break
            if self._wake_r in ready or self._stop.is_set():
                break
            try:
                data = os.read(self._fd, 4096)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                self._on_eof()
                break
            data = self._unpack(data)
            for i in range(0, len(data), step):
                piece = data[i:i + step]
                self._rx.pace(len(piece), self._stop)
                self._deliver(piece)

    def _writer(self) -> None:
        """Write queued bytes to the host at the link's rate; drop them if the host stops reading."""
        step = self._tx.chunk()
        while True:
            data = self._out.get()
            if data is None or self._stop.is_set():
                break
            view = memoryview(data)
            stalled_since = None
            generation = self._generation
            while view and not self._stop.is_set() and generation == self._generation:
                piece = view[:step]
                try:
                    n = self._write(piece)
                except (BlockingIOError, InterruptedError):
                    n = 0
                except OSError:
                    self.dropped += len(view)
                    break
                if n:
                    self._tx.pace(n, self._stop)
                    view = view[n:]
                    stalled_since = None
                    continue
                now = time.monotonic()
                stalled_since = stalled_since or now
                if now - stalled_since > WRITE_STALL_S:
                    self.dropped += len(view)
                    self._drop_queued()
                    break
                self._wait_writable()
            with self._wlock:
                if self._out.empty():
                    self._busy = False

    def _drop_queued(self) -> None:
        """The host is not reading: everything else waiting for it is lost too (keeps the queue bounded)."""
        try:
            while True:
                item = self._out.get_nowait()
                if item is None:
                    self._out.put(None)
                    return
                self.dropped += len(item)
        except queue.Empty:
            pass

    def _wait_writable(self) -> None:
        """Block until the fd can take bytes again (or a short while passes)."""
        try:
            select.select([], [self._fd], [], 0.05)
        except (OSError, ValueError):
            self._stop.wait(0.05)


def pty_link(master: int, slave: int, deliver: Deliver, on_open: Callable[[], None], baud: int | None) -> Link:
    """A link on a pty master; non-blocking writes so a silent host cannot wedge the board.

    Packet mode with EXTPROC reports the host's tcsetattr and tcflush: a host opening the port (pyserial
    configures the line, then flushes its input) is seen as Marlin sees the DTR reset of a USB open. A flush
    alone (a host clearing its input mid-session) is not an open."""
    os.set_blocking(master, False)
    attrs = termios.tcgetattr(slave)
    attrs[3] |= EXTPROC
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    fcntl.ioctl(master, termios.TIOCPKT, struct.pack("i", 1))
    return Link("pty", master, lambda b: os.write(master, b), deliver, lambda: None, baud, on_flush=on_open,
                direct=True)


def tcp_link(conn: socket.socket, deliver: Deliver, on_eof: Callable[[], None], baud: int | None) -> Link:
    """A link on an accepted TCP connection."""
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn.setblocking(False)
    return Link(f"tcp{conn.fileno()}", conn.fileno(), conn.send, deliver, on_eof, baud)
