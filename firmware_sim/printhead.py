"""The stepper side of the board: blocks that left the planner, executed in simulated time.

Tracks where the head is, the print time of finished moves, the current layer (a new layer starts when the head
extrudes at a higher Z, or far lower: the next copy of a sequential print; in vase mode, where Z rises while
extruding, a layer is one layer height of spiral, as a camera sees it: the whole last turn is fresh) and hands each
layer's extruding moves to the deposition raster in batches, applying the physical faults (layer shift, clog,
under-extrusion, spaghetti) from their layer on.
"""
from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable

import numpy as np

from firmware_sim.deposition import Deposition
from firmware_sim.faults import FaultSpec, warp_lift
from firmware_sim.planner import Block, block_position

Recorder = Callable[..., None]

SPIRAL_SLACK_MM = 0.0015   # a spiral's turn is done a little short of a layer height (slicers round Z to 1 µm)
AIR_GAP_RATIO = 2.0        # a layer that rose more than this many layer heights is laid over an air gap


class PrintHead:
    """Executes blocks on the simulated clock and deposits what they extrude."""

    def __init__(self, faults: FaultSpec, deposition: Deposition | None, record: Recorder, seed: int = 0) -> None:
        self.faults = faults
        self.deposition = deposition
        self.record = record
        self.rng = np.random.default_rng(random.Random(f"{seed}:spaghetti").getrandbits(64))
        self.inflight: deque[tuple[float, Block]] = deque()
        self.exec_end = 0.0
        self.position: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
        self.print_time = 0.0
        self.blocks_done = 0
        self.layer = -1
        self.layer_z = 0.0
        self.thickness = 0.2
        self.deposited = 0
        self._top = 0.0               # highest Z extruded at so far
        self._spiral = False          # the current layer is a turn of a spiral (Z rose while extruding)
        self._turn_base = 0.0         # Z where the current spiral turn's rise began
        self._turn_done = False       # it has risen a layer height: the next spiral move starts a layer
        self._unsupported = False     # beads not pressed onto the layer below: their own round strand's shape
        self._layer_top = 0.0         # where the current layer's beads really top out (lower when they sag)
        self._below_top = 0.0         # ... and the layer below's
        self._sag_top: float | None = None   # an unsupported layer's beads sag onto the layer below: their top
        self._batch: list[tuple[float, float, float, float, float, float, int]] = []
        self._shift = (0.0, 0.0)
        self.runout_tripped = False   # the runout fault's layer began; the board reacts and clears it

    # -- scheduling ------------------------------------------------------------------------------------------------
    def schedule(self, blocks: list[Block], now: float) -> float | None:
        """Queue blocks to run back to back from when the stepper is free; return the last one's start time."""
        last_start = None
        for b in blocks:
            start = max(self.exec_end, now)
            self.exec_end = start + b.duration
            self.inflight.append((self.exec_end, b))
            last_start = start
        return last_start

    def finish_until(self, t: float) -> None:
        """Complete every block that ends by time t."""
        q = self.inflight
        while q and q[0][0] <= t + 1e-12:
            self._finish(q.popleft()[1])

    def drop_unfinished(self, now: float) -> None:
        """Kill/reset: blocks not yet finished never happen; the head stays where it is."""
        self.finish_until(now)
        if self.inflight:
            end, b = self.inflight[0]
            start = end - b.duration
            self.position = block_position(b, now - start)
        self.inflight.clear()
        self.exec_end = now

    def position_at(self, now: float) -> tuple[float, float, float, float]:
        """Where the head is at time `now` (inside the running block if one runs)."""
        if self.inflight:
            end, b = self.inflight[0]
            start = end - b.duration
            if start <= now:
                return block_position(b, now - start)
        return self.position

    # -- execution -------------------------------------------------------------------------------------------------
    def _finish(self, b: Block) -> None:
        """One block is done: account its time, track layers, batch its bead (with the object it prints)."""
        self.position = b.end
        self.print_time += b.duration
        self.blocks_done += 1
        de = b.end[3] - b.start[3]
        if de <= 1e-9 or (b.end[0] == b.start[0] and b.end[1] == b.start[1]):
            return
        z = b.end[2]
        rising = abs(z - b.start[2]) > 1e-9
        lower = self.layer_z - z
        if self.layer < 0 or (not rising and z > self.layer_z + 1e-4 and (z > self._top + 1e-4 or not self._spiral)):
            self._new_layer(z)
        elif not rising and not self._spiral and 1e-4 < lower < 0.5 * self.thickness:
            self._new_layer(z)  # a layer printed a little lower (Cura's next layer over a raft's air gap)
        elif not rising and lower > AIR_GAP_RATIO * self.thickness:
            self._new_layer(z, restart=True)  # the next copy of a sequential print, begun again near the bed
        elif rising and z > self._top + 1e-4 and (not self._spiral or self._turn_done):
            self._new_layer(z, spiral=True)
        if self._spiral and rising and z - self._turn_base >= self.thickness - SPIRAL_SLACK_MM:
            self._turn_done, self._turn_base = True, z
        self._top = max(self._top, z)
        sx, sy = self._shift
        top = z if self._spiral else self.layer_z
        self._batch.append((b.start[0] + sx, b.start[1] + sy, b.end[0] + sx, b.end[1] + sy, de, top, b.obj))

    def _new_layer(self, z: float, spiral: bool = False, restart: bool = False) -> None:
        """Flush the finished layer's beads and start the next one; fire layer faults that begin here.

        A flat layer's thickness is its rise over the layer below; a spiral turn keeps the layer height it started
        on (its bead lies on the turn below), and the first turn's rise starts from the flat layer under it. A layer
        that rose more than `AIR_GAP_RATIO` layer heights (over a raft's air gap) or printed lower than the one
        before is not pressed flat: its beads are strands that sag onto the layer below (see flush). A `restart`
        (extrusion dropped more than that below the current layer: the next copy of a sequential print) is pressed
        flat on what lies under it, a first layer when it is within a layer height of the bed."""
        self.flush()
        previous = (self._top if self._spiral else self.layer_z) if self.layer >= 0 else 0.0
        rise = z - previous
        self._unsupported, self._sag_top = False, None
        self._below_top, self._layer_top = self._layer_top, z
        if spiral:
            if not self._spiral:
                self._turn_base = previous
        elif restart:
            self._top, self._below_top = z, 0.0
            if z <= 1.5 * self.thickness:
                self.thickness = float(min(max(z, 0.05), 1.0))
        elif self.layer >= 0 and (rise <= 0 or rise > AIR_GAP_RATIO * self.thickness):
            self._unsupported = True   # thickness follows from the first beads (see flush)
        else:
            self.thickness = float(min(max(rise, 0.05), 1.0))
        self._spiral, self._turn_done = spiral, False
        self.layer += 1
        self.layer_z = z
        f, layer = self.faults, self.layer
        if f.layer_shift is not None and layer == f.layer_shift[0]:
            self._shift = (f.layer_shift[1], f.layer_shift[2])
            self.record("layer_shift", layer=layer, dx=f.layer_shift[1], dy=f.layer_shift[2])
        if f.clog_layer is not None and layer == f.clog_layer:
            self.record("clog", layer=layer)
        if f.under is not None and layer == f.under[0]:
            self.record("under", layer=layer, factor=f.under[1])
        if f.spaghetti_layer is not None and layer == f.spaghetti_layer:
            self.record("spaghetti", layer=layer)
        if f.loose is not None and layer == f.loose[0]:
            self.record("loose", layer=layer, object=f.loose[1])
        if f.warp is not None and layer == f.warp[0]:
            self.record("warp", layer=layer, lift_mm=f.warp[1])
        if f.runout_layer is not None and layer == f.runout_layer:
            self.record("runout", layer=layer)
            self.runout_tripped = True

    def clear_bed(self) -> None:
        """The part is taken off: empty the bed and count layers from the bed again for the next job."""
        self.flush()
        if self.deposition is not None:
            self.deposition.clear()
        self.layer, self.layer_z, self.thickness, self._shift = -1, 0.0, 0.2, (0.0, 0.0)
        self._top, self._spiral, self._turn_base, self._turn_done = 0.0, False, 0.0, False
        self._unsupported, self._sag_top, self._layer_top, self._below_top = False, None, 0.0, 0.0

    def flush(self) -> None:
        """Deposit the batched beads of the current layer into the raster."""
        if not self._batch:
            return
        arr = np.asarray(self._batch, dtype=np.float64)
        self._batch.clear()
        f, layer = self.faults, self.layer
        if self.deposition is None or (f.clog_layer is not None and layer >= f.clog_layer):
            return
        seg, e, tops = arr[:, :4], arr[:, 4], arr[:, 5]
        if self._unsupported:
            self.thickness = float(min(max(self.deposition.strand_thickness(seg, e), 0.05), 1.0))
            self._sag_top = min(self.layer_z, self._below_top + self.thickness)
            self._layer_top = self._sag_top
            self._unsupported = False
        if self._sag_top is not None:
            tops = np.minimum(tops, self._sag_top)
        if f.under is not None and layer >= f.under[0]:
            e = e * f.under[1]
        if f.spaghetti_layer is not None and layer >= f.spaghetti_layer:
            self.deposition.deposit_loose(seg, e, layer, self.rng)
        else:
            if f.loose is not None and layer >= f.loose[0]:  # the loose copy's beads land as strands
                loose = arr[:, 6] == f.loose[1]
                if loose.any():
                    self.deposition.deposit_loose(seg[loose], e[loose], layer, self.rng)
                seg, e, tops = seg[~loose], e[~loose], tops[~loose]
            self.deposition.deposit(seg, e, tops, self.thickness, layer)
        if f.warp is not None and layer >= f.warp[0]:
            self.deposition.warp(warp_lift(f.warp, layer))
        self.deposited += len(arr)
