"""The host link against the simulator's own board (its sans-IO device protocol, command queue and interpreter),
with line noise between them: flipped bits and dropped bytes both ways, lost `ok`s. Every command runs once, in order.
"""
from __future__ import annotations

import os
import random
import tempfile
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.link.protocol import Accepted, Link, LinkConfig, LinkState
from firmware_sim.board import Board, BoardConfig
from firmware_sim.executed_log import ExecutedLog, read_executed_log

STEP_S = 0.05
MAX_STEPS = 20000


@dataclass(frozen=True)
class Noise:
    """Line noise: per-byte rates host → board, per-line rates board → host."""

    flip: float = 0.0        # a byte sent to the board gets one bit flipped
    drop: float = 0.0        # a byte sent to the board is lost
    lose_ok: float = 0.0     # an `ok` line from the board is lost whole
    garble: float = 0.0      # a reply line gets one bit flipped
    cut: float = 0.0         # a reply line loses one byte (its newline, too, merging it with the next)


class Wire:
    """The faulty serial line. Towards the board at most one fault in any three frames: Marlin's XOR checksum
    finds one error per line, and nothing finds two."""

    def __init__(self, noise: Noise, rng: random.Random) -> None:
        self.noise = noise
        self.rng = rng
        self._quiet_lines = 0
        self.faults = 0

    def to_board(self, data: bytes) -> bytes:
        """What of the host's bytes reaches the board."""
        n, rng = self.noise, self.rng
        if not (n.flip or n.drop):
            return data
        out = bytearray()
        for i, byte in enumerate(data):
            if self._quiet_lines == 0 and rng.random() < n.flip + n.drop:
                self._quiet_lines = 3
                self.faults += 1
                if rng.random() * (n.flip + n.drop) < n.flip:
                    flipped = byte ^ (1 << rng.randrange(8))
                    out.append(byte if _spells_m112(out, flipped, data[i + 1:i + 4]) else flipped)
                continue  # otherwise the byte is lost (a lost newline runs the frame into the next)
            if byte == 10 and self._quiet_lines:
                self._quiet_lines -= 1
            out.append(byte)
        return bytes(out)

    def to_host(self, data: bytes) -> bytes:
        """What of the board's reply bytes reaches the host."""
        n, rng = self.noise, self.rng
        out = bytearray()
        for line in data.splitlines(keepends=True):
            if line.startswith(b"ok") and rng.random() < n.lose_ok:
                self.faults += 1
                continue
            if rng.random() < n.garble:
                self.faults += 1
                i = rng.randrange(len(line))
                line = line[:i] + bytes([line[i] ^ (1 << rng.randrange(8))]) + line[i + 1:]
            if rng.random() < n.cut:
                self.faults += 1
                i = rng.randrange(len(line))
                line = line[:i] + line[i + 1:]
            out += line
        return bytes(out)


def _spells_m112(before: bytearray, byte: int, after: bytes) -> bool:
    """Whether a flipped byte would spell M112 in the stream. Marlin's emergency parser stops the printer on
    M112 as the bytes arrive, before any checksum, which no host can prevent: such a flip is out of this
    model's noise (it was found as a halted link, `N0 M110` arriving as `N0 M112`)."""
    return b"M112" in bytes(before[-3:]) + bytes([byte]) + after


def stream_to_board(commands: list[str], noise: Noise, seed: int, flow: str = "window",
                    advanced_ok: bool = True) -> tuple[list[str], Link, Wire]:
    """Stream commands from a host `Link` into a simulated board until an end M105 is proven; return what the
    board executed (from its executed log), the link and the wire."""
    rng = random.Random(seed)
    wire = Wire(noise, rng)
    fd, path = tempfile.mkstemp(suffix=".executed.jsonl")
    os.close(fd)
    try:
        log = ExecutedLog(path)
        board = Board(BoardConfig(advanced_ok=advanced_ok, seed=seed), log)
        port = board.open_port()  # the `start` banner, as after a reset
        link = Link(LinkConfig(flow=flow, timeout=2.0, lost_after=1e9, sync_after=0.5))
        for i, c in enumerate(commands):
            link.send(c, i)
        now, end_tag, proven = 0.0, None, False
        for step in range(MAX_STEPS):
            now += STEP_S
            board.work(now)
            board.idle_to(now)
            for _port, data in board.outgoing():
                for ev in link.receive_data(wire.to_host(data), now):
                    if isinstance(ev, Accepted) and end_tag is not None and ev.tag == end_tag and ev.proven:
                        proven = True
            if proven:
                break
            link.tick(now)
            if link.state is LinkState.WAITING_START and now > 1.0:
                link.give_up_waiting_for_start()  # the banner itself was garbled
            if link.state is LinkState.READY and link.idle:
                end_tag = ("end", step)
                link.send("M105", end_tag)
            board.receive(port, wire.to_board(link.bytes_to_send(now)))
        log.close()
        executed = [rec["cmd"] for rec in read_executed_log(path)]
    finally:
        os.unlink(path)
    assert proven, f"end sync never proven (link {link.state.value}, {link.outstanding} outstanding)"
    return [c for c in executed if not c.startswith(("M105", "M110"))], link, wire


QUICK = ["G92 E0", "M106 S255", "M107", "G90", "M82", "G21", "M220 S100", "M221 S95", "M104 S0", "M140 S0",
         "G1 X10.5 Y20.25 F12000", "G1 X11 Y21 E0.05", "G1 X100.125 Y99.875 E12.34567 F1800", "G1 Z0.3 F600"]
COMMANDS = st.lists(st.sampled_from(QUICK), min_size=1, max_size=40)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commands=COMMANDS, seed=st.integers(0, 2**32 - 1),
       flip=st.sampled_from([0.0, 0.002, 0.01]), drop=st.sampled_from([0.0, 0.002, 0.01]),
       lose_ok=st.sampled_from([0.0, 0.05, 0.2]), garble=st.sampled_from([0.0, 0.03]),
       cut=st.sampled_from([0.0, 0.03]), flow=st.sampled_from(["window", "ok"]), advanced_ok=st.booleans())
def test_line_noise_between_link_and_board_never_loses_or_repeats_a_command(commands, seed, flip, drop, lose_ok,
                                                                             garble, cut, flow, advanced_ok):
    noise = Noise(flip=flip, drop=drop, lose_ok=lose_ok, garble=garble, cut=cut)
    executed, _link, _wire = stream_to_board(commands, noise, seed, flow, advanced_ok)
    assert executed == commands


def test_a_clean_line_streams_everything_without_a_fault():
    commands = [QUICK[i % len(QUICK)] for i in range(200)]
    executed, link, wire = stream_to_board(commands, Noise(), 7)
    assert executed == commands
    assert wire.faults == 0 and link.state is LinkState.READY


def test_heavy_noise_both_ways_still_executes_each_command_once_in_order():
    commands = [f"G1 X{10 + i % 50}.5 Y{20 + i % 30}.25 F12000" for i in range(300)]
    noise = Noise(flip=0.01, drop=0.01, lose_ok=0.2, garble=0.03, cut=0.03)
    executed, _link, wire = stream_to_board(commands, noise, 11)
    assert wire.faults > 50  # the noise really was there
    assert executed == commands
