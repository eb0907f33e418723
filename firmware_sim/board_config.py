"""Build options of a simulated board."""
from __future__ import annotations

from dataclasses import dataclass, field

from firmware_sim.faults import FaultSpec
from firmware_sim.flavours import MARLIN, Flavour
from firmware_sim.planner import MotionConfig
from firmware_sim.protocol import BUFSIZE, RX_BUFFER_SIZE


@dataclass(frozen=True)
class BoardConfig:
    """Board build options: buffer sizes, ok form, keepalive, faults and seed."""

    rx_buffer_size: int = RX_BUFFER_SIZE
    bufsize: int = BUFSIZE
    advanced_ok: bool = True
    keepalive: float = 2.0
    seed: int = 0
    faults: FaultSpec = field(default_factory=FaultSpec)
    motion: MotionConfig = field(default_factory=MotionConfig)
    flavour: Flavour = MARLIN
