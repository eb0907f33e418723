"""Fault injection: parse `--faults`, and decide deterministically (per `--seed`) when each link fault fires.

Spec grammar (comma separated): `corrupt=RATE`, `corrupt_rx=RATE`, `corrupt_tx=RATE`, `drop_ok=RATE`,
`resend=RATE`, `busy_storm=RATE`, `reset@line=N`, `runaway@s=T`, `layer_shift@L=DX:DY`, `clog@L`,
`under@L=F`, `spaghetti@L`, `runout@L` (the filament sensor trips when the print reaches layer L), `loose@L=K`
(the copy labelled `M486 S<K>` comes loose at layer L: what is laid for it from then on lands as loose strands),
`warp@L=MM` (the part's corners curl up off the bed from layer L, by MM at its farthest corners `WARP_LAYERS`
layers later; 2 mm without a value). Rates are probabilities per byte (corruption), per ok, per line or per command.
Every random decision comes from its own `random.Random` seeded with (seed, fault kind), so a given seed and
input gives the same faults in the same places on every run.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from firmware_sim.errors import FaultSpecError

RATE_KEYS = ("corrupt", "corrupt_rx", "corrupt_tx", "drop_ok", "resend", "busy_storm")
AT_KEYS = ("reset", "runaway", "layer_shift", "clog", "under", "spaghetti", "runout", "loose", "warp")
DEFAULT_SHIFT = (2.5, 0.0)
DEFAULT_WARP_MM = 2.0
WARP_LAYERS = 4       # layers a warp takes to lift the corners all the way
GRAMMAR = ("corrupt=RATE, corrupt_rx=RATE, corrupt_tx=RATE, drop_ok=RATE, resend=RATE, busy_storm=RATE, "
           "reset@line=N, runaway@s=T, layer_shift@L=DX:DY, clog@L, under@L=F, spaghetti@L, runout@L, loose@L=OBJECT, "
           "warp@L=MM")


@dataclass(frozen=True)
class FaultSpec:
    """The parsed `--faults` option; None/0 means the fault is off."""

    corrupt_rx: float = 0.0
    corrupt_tx: float = 0.0
    drop_ok: float = 0.0
    resend: float = 0.0
    busy_storm: float = 0.0
    reset_line: int | None = None
    runaway_s: float | None = None
    layer_shift: tuple[int, float, float] | None = None
    clog_layer: int | None = None
    under: tuple[int, float] | None = None
    spaghetti_layer: int | None = None
    runout_layer: int | None = None
    loose: tuple[int, int] | None = None      # (layer, object): one copy of a plate comes loose
    warp: tuple[int, float] | None = None     # (layer, mm): the corners lift from that layer, that far at most
    text: str = field(default="", compare=False)


def _number(item: str, value: str, kind: type, lo: float, hi: float, what: str) -> float:
    """Parse one number of a fault item, naming the item and the allowed range on error."""
    try:
        v = kind(value)
    except ValueError:
        raise FaultSpecError(f"fault {item!r}: {what} {value!r} is not a{'n integer' if kind is int else ' number'}")
    if not (lo <= v <= hi) or (isinstance(v, float) and not math.isfinite(v)):
        raise FaultSpecError(f"fault {item!r}: {what} must be between {lo:g} and {hi:g}, got {value}")
    return v


def warp_lift(warp: tuple[int, float] | None, layer: int) -> float:
    """How far (mm) a warp has lifted the corners by the time `layer` is printed: growing over `WARP_LAYERS`."""
    if warp is None or layer < warp[0]:
        return 0.0
    return warp[1] * min(1.0, (layer - warp[0] + 1) / WARP_LAYERS)


def parse_faults(spec: str | None) -> FaultSpec:
    """Parse a `--faults` string into a FaultSpec; raise FaultSpecError naming the bad item."""
    values: dict = {}
    if not spec or not spec.strip():
        return FaultSpec()
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            continue
        key, _, value = item.partition("=")
        name, at, where = key.partition("@")
        name = name.strip()
        if not at:
            if name not in RATE_KEYS:
                raise FaultSpecError(f"unknown fault {item!r}; known: {GRAMMAR}")
            if not value:
                raise FaultSpecError(f"fault {item!r} needs a rate, e.g. {name}=1e-3")
            rate = _number(item, value, float, 0.0, 1.0, "rate")
            if name == "corrupt":
                values["corrupt_rx"] = values["corrupt_tx"] = rate
            else:
                values[name] = rate
            continue
        if name not in AT_KEYS:
            raise FaultSpecError(f"unknown fault {item!r}; known: {GRAMMAR}")
        if name == "reset":
            if where != "line" or not value:
                raise FaultSpecError(f"fault {item!r}: write it as reset@line=N")
            values["reset_line"] = int(_number(item, value, int, 0, 10**9, "line"))
        elif name == "runaway":
            if where != "s" or not value:
                raise FaultSpecError(f"fault {item!r}: write it as runaway@s=SECONDS")
            values["runaway_s"] = _number(item, value, float, 0.0, 1e7, "time")
        else:
            layer = int(_number(item, where, int, 0, 100000, "layer"))
            if name == "layer_shift":
                if value:
                    dx, sep, dy = value.partition(":")
                    if not sep:
                        raise FaultSpecError(f"fault {item!r}: write the shift as DX:DY in mm, e.g. 2.5:0")
                    shift = (_number(item, dx, float, -220, 220, "DX"), _number(item, dy, float, -220, 220, "DY"))
                else:
                    shift = DEFAULT_SHIFT
                values["layer_shift"] = (layer, float(shift[0]), float(shift[1]))
            elif name == "loose":
                if not value:
                    raise FaultSpecError(f"fault {item!r}: write it as loose@L=OBJECT, e.g. loose@8=2")
                values["loose"] = (layer, int(_number(item, value, int, 0, 10000, "object")))
            elif name == "warp":
                lift = _number(item, value, float, 0.0, 50.0, "lift") if value else DEFAULT_WARP_MM
                values["warp"] = (layer, float(lift))
            elif name == "under":
                if not value:
                    raise FaultSpecError(f"fault {item!r}: write it as under@L=FACTOR, e.g. under@15=0.5")
                values["under"] = (layer, _number(item, value, float, 0.0, 10.0, "factor"))
            else:
                if value:
                    raise FaultSpecError(f"fault {item!r}: {name} takes no value, write {name}@L")
                values[{"clog": "clog_layer", "runout": "runout_layer"}.get(name, "spaghetti_layer")] = layer
    return FaultSpec(**values, text=spec)


class ByteCorrupter:
    """Flips bytes of a stream at a given rate; gaps drawn geometrically so it costs nothing per clean byte."""

    def __init__(self, rate: float, rng: random.Random) -> None:
        self.rate = rate
        self.rng = rng
        self.count = 0
        self._gap = self._draw()

    def _draw(self) -> int:
        """Clean bytes before the next flip."""
        if self.rate <= 0:
            return -1
        if self.rate >= 1:
            return 0
        u = self.rng.random()
        return int(math.log(1.0 - u) / math.log(1.0 - self.rate))

    def apply(self, data: bytes) -> bytes:
        """Return data with the scheduled bytes flipped (one random bit each)."""
        if self._gap < 0 or not data:
            return data
        if self._gap >= len(data):
            self._gap -= len(data)
            return data
        out = bytearray(data)
        pos = self._gap
        while pos < len(out):
            out[pos] ^= 1 << self.rng.randrange(8)
            self.count += 1
            pos += 1 + self._draw()
        self._gap = pos - len(out)
        return bytes(out)


class FaultSchedule:
    """Deterministic per-seed decisions for the rate faults, one RNG stream per fault kind."""

    def __init__(self, spec: FaultSpec, seed: int = 0) -> None:
        self.spec = spec
        self.seed = seed
        self.rx = ByteCorrupter(spec.corrupt_rx, self._rng("corrupt_rx"))
        self.tx = ByteCorrupter(spec.corrupt_tx, self._rng("corrupt_tx"))
        self._drop = self._rng("drop_ok")
        self._resend = self._rng("resend")
        self._busy = self._rng("busy_storm")

    def _rng(self, kind: str) -> random.Random:
        """An RNG stream for one fault kind, fixed by the seed."""
        return random.Random(f"{self.seed}:{kind}")

    def drop_ok(self) -> bool:
        """Should this `ok` be swallowed?"""
        return self.spec.drop_ok > 0 and self._drop.random() < self.spec.drop_ok

    def spurious_resend(self) -> bool:
        """Should this correct line be refused with a Resend?"""
        return self.spec.resend > 0 and self._resend.random() < self.spec.resend

    def busy_storm(self) -> int:
        """Number of `busy: processing` lines to burst before this command's ok (0 most of the time)."""
        if self.spec.busy_storm > 0 and self._busy.random() < self.spec.busy_storm:
            return 5 + self._busy.randrange(16)
        return 0
