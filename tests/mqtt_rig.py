"""A real Mosquitto broker on a free loopback port and real `mosquitto_sub`/`mosquitto_pub` clients, for the
MQTT tests: the broker and clients are Debian's (`mosquitto`, `mosquitto-clients`), not ours."""
from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def need_mosquitto() -> None:
    """Fail (not skip) when Debian's mosquitto packages are missing: `make system` installs them."""
    missing = [t for t in ("mosquitto", "mosquitto_sub", "mosquitto_pub") if shutil.which(t) is None]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: run `make system` (Debian mosquitto mosquitto-clients)")


class Broker:
    """`mosquitto -c <tmp config>` on 127.0.0.1:<port>, without persistence (a restart forgets retained
    messages, so what comes back after one is what the publisher republished)."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        """Write the config; `start` runs it."""
        need_mosquitto()
        self.port = port or free_port()
        self.conf = folder / "mosquitto.conf"
        self.log = folder / "mosquitto.log"
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n{self.common}")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def common(self) -> str:
        """Config lines every test broker has: no persistence, a log, and (run as root) no switch to the
        `mosquitto` user, who could not read the test's temporary files."""
        return f"persistence false\nlog_dest file {self.log}\nlog_type all\nuser {getpass.getuser()}\n"

    @property
    def url(self) -> str:
        """The broker URL as printloop's config takes it."""
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> Broker:
        """Run the broker and wait until it accepts connections."""
        self.proc = subprocess.Popen(["mosquitto", "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"mosquitto exited: {self.log.read_text() if self.log.exists() else ''}")
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not accept connections")

    def stop(self) -> None:
        """SIGTERM and wait."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@dataclass(frozen=True)
class Seen:
    """One message as mosquitto_sub printed it."""

    topic: str
    payload: bytes
    retained: bool

    @property
    def text(self) -> str:
        """The payload as text."""
        return self.payload.decode("utf-8", "replace")


def _parse(line: str) -> Seen | None:
    """A `-F '%r %t %x'` line: retain flag, topic, payload in hex."""
    parts = line.rstrip("\n").split(" ")
    if len(parts) < 2:
        return None
    hexed = parts[2] if len(parts) > 2 else ""
    return Seen(parts[1], bytes.fromhex(hexed), parts[0] == "1")


class Subscriber:
    """A `mosquitto_sub` process printing everything under some topics; `seen` fills as lines come."""

    def __init__(self, port: int, *topics: str, extra: tuple[str, ...] = ()) -> None:
        """Subscribe (with `-v`-like output: retain flag, topic and payload as hex)."""
        args = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-F", "%r %t %x", *extra]
        for t in topics or ("#",):
            args += ["-t", t]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            msg = _parse(line)
            if msg is not None:
                with self._lock:
                    self.seen.append(msg)

    def messages(self, topic: str | None = None) -> list[Seen]:
        """What arrived so far (on one topic, when given)."""
        with self._lock:
            return [m for m in self.seen if topic is None or m.topic == topic]

    def topics(self) -> set[str]:
        """Every topic seen."""
        return {m.topic for m in self.messages()}

    def wait(self, pred: Callable[[Seen], bool], timeout: float, what: str) -> Seen:
        """The first message satisfying pred, waiting for it; fail the test with `what` on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            for m in self.messages():
                if pred(m):
                    return m
            if time.monotonic() > deadline:
                raise AssertionError(f"mosquitto_sub saw no {what} in {timeout:.0f} s; topics: "
                                     f"{sorted(self.topics())}")
            time.sleep(0.05)

    def stop(self) -> None:
        """End the client."""
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=5)


def retained(port: int, topic: str = "#", wait_s: float = 1.0) -> dict[str, Seen]:
    """Every retained message the broker holds under `topic`, as a new client sees it on subscribing."""
    out = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-t", topic, "--retained-only",
                          "-W", str(max(1, round(wait_s))), "-F", "%r %t %x"],
                         check=False, capture_output=True, text=True, timeout=wait_s + 10)  # -W ends it: 27
    found = [_parse(line) for line in out.stdout.splitlines()]
    return {m.topic: m for m in found if m is not None and m.retained}


def publish(port: int, topic: str, payload: str) -> None:
    """`mosquitto_pub` one message."""
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-m", payload, "-q", "1"],
                   check=True, timeout=10)
