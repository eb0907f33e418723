"""Serving one board: a pty (os.openpty, raw mode) and optionally TCP, the board thread pacing simulated time.

Threads: a writer per link and a reader per TCP or throttled link (links.py), a TCP acceptor, and the board
thread, which owns the board under `lock`, reads an unthrottled pty itself and otherwise sleeps in select() on
a kick pipe (events posted by the other threads) with a timeout computed from the simulated clock:
`--speed X` runs simulated time at X x wall time, `max` as fast as work allows (and at 1x while nothing at all
is queued, so heaters and auto-reports still run while a host only polls).
"""
from __future__ import annotations

import math
import os
import queue
import select
import socket
import threading
import time
import tty
from functools import partial
from typing import Any

from firmware_sim.board import Board
from firmware_sim.errors import SimOptionError
from firmware_sim.links import Link, pty_link, tcp_link

STARVE_GRACE_S = 0.02   # wall seconds without a new command before the planner's last moves run anyway
LOG_FLUSH_S = 0.25      # the executed log reaches the file at least this often while a print runs


class SimServer:
    """Serves a Board on a pty and TCP; `start()`, then `stop()` joins every thread and closes every fd."""

    def __init__(self, board: Board, speed: float | None = None, baud: int | None = None,
                 tcp_port: int | None = None, tcp_host: str = "127.0.0.1", link_path: str | None = None) -> None:
        self.board = board
        self.speed = speed if speed and speed > 0 else None
        self.baud = baud
        self.lock = threading.RLock()
        self._inbox: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self._links: dict[int, Link] = {}
        self._stop = threading.Event()
        self._master = self._slave = -1
        self.serial_path = ""
        self.link_path = link_path
        self._linked = False
        self._tcp_port = tcp_port
        self._tcp_host = tcp_host
        self._listener: socket.socket | None = None
        self.tcp_url: str | None = None
        self._threads: list[threading.Thread] = []
        self._wake_r, self._wake_w = os.pipe()
        self._kick_r, self._kick_w = os.pipe()
        os.set_blocking(self._kick_r, False)
        os.set_blocking(self._kick_w, False)

    # -- lifecycle -----------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Open the pty (and TCP port), attach the pty as port 0, start the threads."""
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.serial_path = os.ttyname(self._slave)
        if self.link_path is not None:
            self._make_link(self.link_path)
        with self.lock:
            port = self.board.open_port()
        if self.baud is None:   # read by the board thread itself: no thread hop per line
            link = pty_link(self._master, self._slave, partial(self.board.receive, port),
                            partial(self._opened, port), self.baud)
        else:
            link = pty_link(self._master, self._slave, partial(self._post, "data", port),
                            partial(self._post, "opened", port), self.baud)
        self._links[port] = link
        link.start()
        if self._tcp_port is not None:
            self._listener = socket.create_server((self._tcp_host, self._tcp_port))
            host, tport = self._listener.getsockname()[:2]
            self.tcp_url = f"socket://{host}:{tport}"
            self._spawn(self._accept, "tcp-accept")
        self._spawn(self._run, "board")
        self._post("kick")

    def _make_link(self, path: str) -> None:
        """A symlink to the pty (Klipper's /tmp/printer); an old symlink there is replaced, a file is not."""
        if os.path.lexists(path):
            if not os.path.islink(path):
                raise SimOptionError(f"--link-path {path}: exists and is not a symlink; not replacing it")
            os.unlink(path)
        try:
            os.symlink(self.serial_path, path)
        except OSError as exc:
            raise SimOptionError(f"--link-path {path}: {os.strerror(exc.errno) if exc.errno else exc}") from None
        self._linked = True

    def _remove_link(self) -> None:
        """Remove our symlink if it still points at our pty."""
        if self._linked and self.link_path is not None:
            self._linked = False
            try:
                if os.readlink(self.link_path) == self.serial_path:
                    os.unlink(self.link_path)
            except OSError:
                pass

    def stop(self) -> None:
        """Stop serving: board thread, acceptor and links joined, pty and sockets closed, log flushed."""
        if self._stop.is_set():
            return
        self._remove_link()
        self._stop.set()
        self._post("stop")
        os.write(self._wake_w, b"x")
        for t in self._threads:
            t.join(timeout=10)
        for link in list(self._links.values()):
            link.close()
        self._links.clear()
        if self._listener is not None:
            self._listener.close()
        for fd in (self._master, self._slave, self._wake_r, self._wake_w, self._kick_r, self._kick_w):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.board.log is not None:
            self.board.log.close()

    def _post(self, *item: Any) -> None:
        """Hand an event to the board thread (called from link threads) and wake it."""
        self._inbox.put(item)
        try:
            os.write(self._kick_w, b"k")
        except (BlockingIOError, OSError):
            pass   # the pipe is full (the board will see the queue anyway) or closed (stopping)

    def _spawn(self, target: Any, name: str) -> None:
        """Start a named thread that stop() joins."""
        t = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(t)
        t.start()

    # -- TCP -------------------------------------------------------------------------------------------------------
    def _accept(self) -> None:
        """Accept TCP hosts; each becomes a board port with its own line state."""
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._listener.fileno(), self._wake_r], [], [])
            except (OSError, ValueError):
                return
            if self._wake_r in ready or self._stop.is_set():
                return
            try:
                conn, _ = self._listener.accept()
            except OSError:
                continue
            with self.lock:
                port = self.board.open_port()
                link = tcp_link(conn, partial(self._post, "data", port), partial(self._post, "close", port, conn),
                                self.baud)
                self._links[port] = link
            link.start()
            self._post("kick")

    # -- the board thread ------------------------------------------------------------------------------------------
    def _handle(self, item: tuple[Any, ...]) -> bool:
        """Apply one inbox item to the board; False on stop."""
        kind = item[0]
        if kind == "data":
            self.board.receive(item[1], item[2])
        elif kind == "close":
            self.board.close_port(item[1])
            link = self._links.pop(item[1], None)
            if link is not None:
                threading.Thread(target=link.close, daemon=True).start()
            try:
                item[2].close()
            except OSError:
                pass
        elif kind == "opened":
            self._opened(item[1])
        elif kind == "stop":
            return False
        return True

    def _opened(self, port: int) -> None:
        """A host opened the pty: unsent output is gone with the reset the board does."""
        link = self._links.get(port)
        if link is not None and self.board.resets_on_open():
            link.discard_pending()
        self.board.host_opened(port)

    def _wait_input(self, timeout: float | None) -> list[int]:
        """Block until an inbox item, host bytes on a direct link, or the timeout; return readable fds."""
        if not self._inbox.empty():
            return []
        fds = [self._kick_r] + [link.fileno() for link in self._links.values() if link.direct]
        try:
            ready, _, _ = select.select(fds, [], [], timeout)
        except (OSError, ValueError):
            return []
        return ready

    def _run(self) -> None:
        """Board loop: take input, run commands up to the paced clock, send replies, sleep until the next event."""
        b = self.board
        wall0 = time.monotonic()
        sim0 = 0.0
        timeout: float | None = 0.0
        starve_armed = False
        last_flush = wall0
        while True:
            t_wait = time.monotonic()
            ready = self._wait_input(timeout)
            waited = time.monotonic() - t_wait
            with self.lock:
                running = True
                got = False
                for link in list(self._links.values()):
                    if link.direct and link.fileno() in ready:
                        link.read_now()
                        got = True
                if self._kick_r in ready:
                    try:
                        os.read(self._kick_r, 65536)
                    except BlockingIOError:
                        pass
                for _ in range(64):
                    try:
                        item = self._inbox.get_nowait()
                    except queue.Empty:
                        break
                    got = True
                    running = self._handle(item) and running
                if not running:
                    self._flush_out()
                    return
                if not got and starve_armed:
                    b.starve()
                if self.speed is None:
                    if not b.busy:
                        b.idle_to(b.now + waited)
                    elif b.waiting_for_user:     # parked for the user: time runs at 1x (busy lines go out)
                        b.pass_user_wait(b.now + waited)
                    b.work(math.inf)
                    b.idle_to(b.printhead.exec_end)
                    limit = b.now
                    wake = None
                else:
                    limit = sim0 + (time.monotonic() - wall0) * self.speed
                    wake = b.work(limit)
                    if wake is None:
                        b.idle_to(limit)
                timeout, starve_armed = self._next_timeout(wake, limit)
                now = time.monotonic()
                if b.log is not None and (not b.busy or now - last_flush > LOG_FLUSH_S):
                    b.log.flush()      # before the replies: a host that saw the last `ok` can read every command
                    last_flush = now
                self._flush_out()

    def _next_timeout(self, wake: float | None, limit: float) -> tuple[float | None, bool]:
        """Wall seconds until the board has something to do without input; and whether that is a starvation."""
        b = self.board
        if b.halted:
            return None, False
        rate = self.speed or 1.0
        cands: list[float] = []
        if wake is not None:
            cands.append((wake - limit) / rate)
        starve = False
        if wake is None and b.current is None and not len(b.queue):
            if b.planner.queued and not b.printhead.inflight:
                cands.append(STARVE_GRACE_S)
                starve = True
            ev = b.next_event()
            if ev < math.inf:
                cands.append((ev - b.now) / rate)
        if b.busy and b.log is not None:
            cands.append(LOG_FLUSH_S)
        if b.current is None and len(b.queue):
            cands.append(0.0)            # a command the board queued itself (the runout script) is due
        if b.waiting_for_user:
            ev = min(b.next_keepalive, b.next_event())
            if ev < math.inf:
                cands.append((ev - b.now) / (self.speed or 1.0))
        if not cands:
            return None, False
        t = max(0.0, min(cands))
        return t, starve and t == STARVE_GRACE_S

    def _flush_out(self) -> None:
        """Hand the board's replies to the links."""
        for port, data in self.board.outgoing():
            link = self._links.get(port)
            if link is not None:
                link.send(data)
