"""Helpers for the simulator tests: launch `printloop sim` as a subprocess and talk to it over its pty."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import serial

from controller.link.replies import Start, parse_reply
from tests.conftest import REPO


def checksum_line(n: int, cmd: str) -> bytes:
    """`N<n> <cmd>*<xor>` with a newline, as a host sends it."""
    body = f"N{n} {cmd}".encode()
    c = 0
    for b in body:
        c ^= b
    return body + b"*" + str(c).encode() + b"\n"


class Sim:
    """A running `printloop sim` subprocess and its endpoints."""

    def __init__(self, args: list[str]) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "controller", "sim", *args], cwd=REPO,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"printloop sim did not start: {self.proc.stderr.read()}")
        self.info = json.loads(line)

    def open(self, timeout: float = 5.0) -> serial.Serial:
        """Open the pty like a host does and wait for the `start` banner (opening resets the idle board)."""
        ser = serial.Serial(self.info["serial"], 115200, timeout=timeout)
        banner = read_until_line(ser, lambda s: s.startswith("echo: RX_BUFFER_SIZE"))
        assert any(isinstance(parse_reply(line), Start) for line in banner), banner  # a reset may cut a line before it
        return ser

    def status(self) -> dict:
        """Fetch status.json."""
        with urllib.request.urlopen(self.info["status"], timeout=10) as r:
            return json.loads(r.read())

    def log(self) -> list[dict]:
        """The executed log as records."""
        with open(self.info["executed_log"], encoding="utf-8") as f:
            return [json.loads(x) for x in f if x.strip()]

    def wait_idle(self, timeout: float = 30.0) -> dict:
        """Poll status.json until nothing is queued or moving."""
        end = time.monotonic() + timeout
        while True:
            st = self.status()
            if st["state"] != "printing" or time.monotonic() > end:
                return st
            time.sleep(0.02)

    def stop(self) -> int:
        """SIGINT, then the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=30)  # a loaded 2-core machine can take its time
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


@contextmanager
def running_sim(*args: str) -> Iterator[Sim]:
    """A simulator for the duration of a with-block."""
    sim = Sim(list(args))
    try:
        yield sim
    finally:
        sim.stop()


def read_until_line(ser: serial.Serial, pred, limit: int = 200) -> list[str]:
    """Read lines until one satisfies pred (included); fail on timeout."""
    lines = []
    for _ in range(limit):
        raw = ser.readline()
        if not raw:
            raise AssertionError(f"timed out; got so far: {lines}")
        line = raw.decode("latin-1").rstrip("\r\n")
        lines.append(line)
        if pred(line):
            return lines
    raise AssertionError(f"no matching line in {lines}")


def command(ser: serial.Serial, text: str | bytes) -> list[str]:
    """Send one line and return the replies up to and including its `ok`."""
    data = text if isinstance(text, bytes) else text.encode() + b"\n"
    ser.write(data)
    return read_until_line(ser, lambda s: s.startswith("ok"))
