"""Property tests of the sans-IO link against a small Marlin-like acceptor: faults never lose or repeat a command."""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.link.framing import checksum
from controller.link.protocol import (
    Accepted,
    BoardReset,
    Halted,
    Link,
    LinkConfig,
    LinkState,
    Lost,
    Poked,
    ResendIgnored,
    Rewound,
)

_FRAME = re.compile(rb"^N(-?\d+) (.*)\*(\d+)$")


@dataclass
class Acceptor:
    """A Marlin-like device: bounded RX buffer that loses overrun bytes, N/checksum checks, one ok per line."""

    rx_capacity: int = 128
    advanced_ok: bool = False
    flush_on_error: bool = True
    rx: bytearray = field(default_factory=bytearray)
    last_n: int = 0
    executed: list[str] = field(default_factory=list)
    overruns: int = 0

    def receive(self, data: bytes) -> None:
        """Bytes from the wire; what does not fit is lost, as with a UART overrun."""
        room = self.rx_capacity - len(self.rx)
        if len(data) > room:
            self.overruns += 1
        self.rx += data[:room]

    def process(self, max_lines: int) -> list[str]:
        """Take up to max_lines complete lines from RX and return the replies."""
        out: list[str] = []
        for _ in range(max_lines):
            end = self.rx.find(b"\n")
            if end < 0:
                break
            raw = bytes(self.rx[:end]).strip()
            del self.rx[: end + 1]
            out += self._line(raw)
        return out

    def _reject(self, why: str) -> list[str]:
        """Marlin's error/resend/ok triple; like Marlin it flushes what is left in its receive buffer."""
        if self.flush_on_error:
            self.rx.clear()
        return [f"Error:{why}, Last Line: {self.last_n}", f"Resend: {self.last_n + 1}", "ok"]

    def _line(self, raw: bytes) -> list[str]:
        """Check one line and execute it if it is the next one."""
        if not raw:
            return []
        m = _FRAME.match(raw)
        if not m:
            return self._reject("No Checksum with line number") if raw.startswith(b"N") else self._reject("bad")
        try:
            payload = raw[: raw.rindex(b"*")].decode("ascii")
        except UnicodeDecodeError:
            return self._reject("checksum mismatch")
        if checksum(payload) != int(m.group(3)):
            return self._reject("checksum mismatch")
        n = int(m.group(1))
        cmd = m.group(2).decode("ascii").strip()
        if cmd.startswith("M110"):
            self.last_n = int(cmd.split("N")[1]) if "N" in cmd else n
            self.executed.append(cmd)
            return [self._ok(n)]
        if n != self.last_n + 1:
            return self._reject("Line Number is not Last Line Number+1")
        self.last_n = n
        self.executed.append(cmd)
        if cmd == "M105":
            return ["ok T:200.00 /200.00 B:60.00 /60.00 @:127 B@:64"]
        return [self._ok(n)]

    def _ok(self, n: int) -> str:
        """Plain or ADVANCED_OK acknowledgement."""
        return f"ok N{n} P15 B3" if self.advanced_ok else "ok"


def _garble(line: bytes, rng: random.Random) -> bytes:
    """Flip one bit of a reply, as line noise would (it may become a line end, a NUL or a non-UTF-8 byte)."""
    data = bytearray(line)
    i = rng.randrange(len(data))
    data[i] ^= 1 << rng.randrange(8)
    return bytes(data)


def run_link(commands: list[str], seed: int, corrupt: float, drop_ok: float, garble: float, bogus: float,
             flow: str, advanced: bool) -> tuple[Acceptor, Link]:
    """Stream commands through Link into the Acceptor over a faulty channel until the end sync is proven."""
    rng = random.Random(seed)
    dev = Acceptor(advanced_ok=advanced)
    link = Link(LinkConfig(flow=flow, timeout=2.0, lost_after=1e9, sync_after=0.5))
    link.receive_data(b"start\n", 0.0)
    for i, c in enumerate(commands):
        link.send(c, i)
    now, end_tag, proven, bogus_run = 0.0, None, False, 0
    # Line noise flips single bits, at most one in any two consecutive frames: Marlin's XOR checksum detects one
    # flipped bit per line (and the link pads frames so a flipped newline never merges two into a valid line),
    # but no 8-bit XOR can detect two errors in one line.
    quiet_lines = 0
    for _step in range(20000):
        now += 0.05
        data = bytearray(link.bytes_to_send(now))
        for i in range(len(data)):
            was_newline = data[i] == 10
            if quiet_lines == 0 and rng.random() < corrupt:
                data[i] ^= 1 << rng.randrange(8)
                quiet_lines = 3
            elif was_newline and quiet_lines:
                quiet_lines -= 1
        dev.receive(bytes(data))
        replies = dev.process(rng.randrange(0, 4))
        for line in replies:
            if line.startswith("ok") and rng.random() < drop_ok:
                continue
            if bogus_run < 3 and rng.random() < bogus:
                bogus_run += 1
                fake = dev.last_n + 1 if rng.random() < 0.5 else dev.last_n + rng.randrange(50, 5000)
                link.receive_data(f"Resend: {fake}\n".encode(), now)
            wire = line.encode() + b"\n"
            if rng.random() < garble:
                wire = _garble(wire, rng)
            for ev in link.receive_data(wire, now):
                if isinstance(ev, Accepted):
                    bogus_run = 0
                    if end_tag is not None and ev.tag == end_tag and ev.proven:
                        proven = True
        link.tick(now)
        if proven:
            break
        if link.idle and (end_tag is None or end_tag not in {t for _c, t in link._pending}):
            end_tag = ("end", _step)
            link.send("M105", end_tag)
    assert proven, f"end sync never proven (state {link.state}, outstanding {link.outstanding})"
    return dev, link


def file_commands(dev: Acceptor) -> list[str]:
    """What the device executed, without host-inserted M105/M110."""
    return [c for c in dev.executed if not c.startswith(("M105", "M110"))]


COMMANDS = st.lists(st.sampled_from(["G1 X10 Y20 E0.5", "G1 X1.25 Y3.5", "M106 S255", "G28", "G1 Z0.3 F600",
                                     "M104 S210", "G92 E0", "G1 X100.125 Y99.875 E12.34567 F1800"]),
                    min_size=1, max_size=60).map(lambda cs: [f"{c} ; {i}".split(" ;")[0] for i, c in enumerate(cs)])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commands=COMMANDS, seed=st.integers(0, 2**32 - 1),
       corrupt=st.sampled_from([0.0, 0.002, 0.01, 0.03]), drop_ok=st.sampled_from([0.0, 0.02, 0.1]),
       garble=st.sampled_from([0.0, 0.02, 0.1]), bogus=st.sampled_from([0.0, 0.05]),
       flow=st.sampled_from(["window", "ok"]), advanced=st.booleans())
def test_any_fault_interleaving_executes_each_command_once_in_order(commands, seed, corrupt, drop_ok, garble,
                                                                     bogus, flow, advanced):
    dev, _link = run_link(commands, seed, corrupt, drop_ok, garble, bogus, flow, advanced)
    assert file_commands(dev) == commands


@pytest.mark.parametrize("flow", ["window", "ok"])
def test_clean_link_never_overruns_the_receive_buffer(flow):
    commands = [f"G1 X{i}.123 Y{i}.456 E{i}.78901 F1800" for i in range(300)]
    dev, link = run_link(commands, 1, 0.0, 0.0, 0.0, 0.0, flow, False)
    assert dev.overruns == 0
    assert file_commands(dev) == commands
    assert link.state is LinkState.READY


def _numbered_link(flow: str = "window") -> Link:
    """A link whose board booted and confirmed `N0 M110 N0`."""
    link = Link(LinkConfig(flow=flow))
    link.receive_data(b"start\n", 0.0)
    assert link.bytes_to_send(0.0) == b"N0 M110 N0*125\n"
    link.receive_data(b"ok\n", 0.0)
    return link


def _frames(*pairs: tuple[int, str]) -> bytes:
    """Expected wire bytes."""
    return b"".join(f"N{n} {c}*{checksum(f'N{n} {c}')}\n".encode() for n, c in pairs)


def test_window_keeps_several_lines_in_flight_but_ok_mode_only_one():
    for flow, expected in (("window", 4), ("ok", 1)):
        link = _numbered_link(flow)
        for i in range(10):
            link.send(f"G1 X{i}", i)
        link.bytes_to_send(0.0)
        assert link.in_flight == expected


def test_nothing_follows_m110_until_the_board_confirms_it():
    link = Link()
    link.receive_data(b"start\n", 0.0)
    link.send("G1 X1", 0)
    assert link.bytes_to_send(0.0) == b"N0 M110 N0*125\n"
    assert link.bytes_to_send(0.1) == b""
    link.receive_data(b"ok\n", 0.2)
    assert link.bytes_to_send(0.2) == _frames((1, "G1 X1"))


def test_resend_after_checksum_error_replays_from_requested_line():
    link = _numbered_link()
    for i in range(3):
        link.send(f"G1 X{i}", i)
    assert link.bytes_to_send(0.0) == _frames((1, "G1 X0"), (2, "G1 X1"), (3, "G1 X2"))
    link.receive_data(b"ok\n", 0.1)
    link.receive_data(b"Error:checksum mismatch, Last Line: 1\n", 0.1)
    assert Rewound(2) in link.receive_data(b"Resend: 2\n", 0.1)
    link.receive_data(b"ok\n", 0.1)
    assert link.bytes_to_send(0.2) == _frames((2, "G1 X1"), (3, "G1 X2"))


def test_repeated_resend_for_same_line_is_honoured_once():
    link = _numbered_link()
    for i in range(3):
        link.send(f"G1 X{i}", i)
    link.bytes_to_send(0.0)
    link.receive_data(b"ok\n", 0.1)
    assert Rewound(2) in link.receive_data(b"Resend: 2\n", 0.1)
    link.receive_data(b"ok\n", 0.1)
    again = link.receive_data(b"Resend: 2\n", 0.1)  # from line 3, sent before the first resend
    assert not any(isinstance(e, Rewound) for e in again)
    link.receive_data(b"ok\n", 0.1)
    assert link.bytes_to_send(0.2) == _frames((2, "G1 X1"), (3, "G1 X2"))


def test_resend_of_a_line_never_sent_is_reported_not_obeyed():
    link = _numbered_link()
    link.send("G1 X0", 0)
    link.bytes_to_send(0.0)
    events = link.receive_data(b"Resend: 4711\n", 0.1)
    assert next(e for e in events if isinstance(e, ResendIgnored)).n == 4711


def test_start_mid_stream_drops_outstanding_lines_and_never_resends_them():
    link = _numbered_link()
    for i in range(10):
        link.send(f"G1 X{i}", i)
    link.bytes_to_send(0.0)
    events = link.receive_data(b"start\n", 0.1)
    assert BoardReset(10) in events
    assert link.state is LinkState.RESET
    assert link.bytes_to_send(0.2) == b""
    link.resync()
    assert link.bytes_to_send(0.3) == b"N0 M110 N0*125\n"


def test_halt_message_halts_the_link_with_the_firmware_reason():
    link = _numbered_link()
    link.send("G1 X0", 0)
    link.bytes_to_send(0.0)
    events = link.receive_data(b"Error:Thermal Runaway, system stopped! Heater_ID: 0\n", 0.1)
    assert Halted("Thermal Runaway, system stopped! Heater_ID: 0") in events
    assert link.state is LinkState.HALTED


def test_silence_pokes_with_m105_then_declares_the_printer_lost():
    link = Link(LinkConfig(timeout=2.0, lost_after=5.0, sync_after=10.0 - 9.0))
    link.receive_data(b"start\n", 0.0)
    link.bytes_to_send(0.0)
    link.receive_data(b"ok\n", 0.0)
    link.send("G4 P0", 0)
    link.bytes_to_send(0.0)
    assert any(isinstance(e, Poked) for e in link.tick(2.5))
    assert b"M105" in link.bytes_to_send(2.5)
    link.receive_data(b"echo:busy: processing\n", 3.0)
    assert link.tick(4.0) == []
    assert any(isinstance(e, Lost) for e in link.tick(8.5))
    assert link.state is LinkState.LOST
