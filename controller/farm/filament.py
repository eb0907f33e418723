"""Filament on the printers: which loaded spool may start which copy, and deducting what each copy prints from
its spool, layer by layer as the printer acknowledges them (a failed or cancelled copy so keeps what it used)."""
from __future__ import annotations

import logging
from collections.abc import Callable

from controller.errors import ControllerError
from controller.farm.matching import grams, refusal
from controller.store import Store, printers, spools
from controller.store.jobs import Judge
from controller.store.records import Capabilities, Printer, Run, Spool
from controller.store.spools import SpoolStore
from slicing.errors import SlicingError
from slicing.plan_filament import read_plan_filament

log = logging.getLogger(__name__)
SPOOL_READ_S = 2.0   # how long a spool read for judging copies is taken as current


def capabilities(p: Printer) -> Capabilities:
    """A printer's capabilities from its stored record."""
    bed = (float(p.bed[0]), float(p.bed[1]), float(p.bed[2])) if p.bed and len(p.bed) == 3 else None
    return Capabilities(p.nozzle, tuple(p.materials), tuple(p.tags), bed)


class Ledger:
    """Matches copies to printers by their loaded spool, and deducts what copies print from the spool store."""

    def __init__(self, store: Store, spool_store: SpoolStore, clock: Callable[[], float]) -> None:
        """Spools are kept in `spool_store` (printloop's own or Spoolman); runs and printers in `store`."""
        self.store, self.spools, self.clock = store, spool_store, clock
        self._spool_of_run: dict[int, tuple[float, float]] = {}   # run id -> (diameter, density) of its spool
        self._done: dict[int, tuple[int, tuple[str, ...]]] = {}    # run id -> layers done and dropped, last charged
        self._read: dict[int, tuple[float, Spool]] = {}            # spool id -> (when read, spool)

    def judge(self, name: str) -> tuple[Printer, Judge]:
        """A printer's stored record, and why it, with the spool loaded on it, may not make a copy of a job (None:
        it may). The spool is read when a first copy is judged, at most once per SPOOL_READ_S (an idle printer
        looks at the queue several times a second); a spool store that does not answer refuses every copy."""
        p = printers.get_printer(self.store, name)
        caps = capabilities(p)
        got: list[Spool | None] = []

        def why(requires: dict, needs: dict, objects: list[str]) -> str | None:
            if not got:
                got.append(self._spool(p.spool_id) if p.spool_id is not None else None)
            if p.spool_id is not None and got[0] is None:
                return f"cannot read its spool {p.spool_id} from the spool store"
            return refusal(requires, caps, got[0], needs, objects)
        return p, why

    def _spool(self, spool_id: int) -> Spool | None:
        """A spool as recently read (None, logged, when the spool store does not answer)."""
        now = self.clock()
        seen = self._read.get(spool_id)
        if seen is not None and now - seen[0] < SPOOL_READ_S:
            return seen[1]
        try:
            spool = self.spools.get(spool_id)
        except ControllerError as exc:
            log.warning("cannot read spool %s: %s", spool_id, exc)
            return None
        self._read[spool_id] = (now, spool)
        return spool

    def charge(self, run: Run, gcode: str, line: int | None, skipped: tuple[str, ...] = ()) -> float:
        """Deduct from the run's spool what its layers done by command `line` (None: every layer) used, less what
        was deducted already; returns the grams deducted now. A spool store that does not answer is logged and
        tried again at the next call."""
        if run.spool_id is None:
            return 0.0
        try:
            pf = read_plan_filament(gcode)
            done = pf.layer_count if line is None else pf.layers_done(line)
            if self._done.get(run.id) == (done, skipped):
                return 0.0    # nothing new finished since the last call
            diameter, density = self._spool_figures(run)
            total = grams(pf.used_mm(done, run.objects, skipped), diameter, density)
            delta = total - self._used(run)
            if delta > 1e-9:
                self._read[run.spool_id] = (self.clock(), self.spools.use(run.spool_id, delta))
                spools.set_used(self.store, run.id, total)
            self._done[run.id] = (done, skipped)
            return max(delta, 0.0)
        except (ControllerError, SlicingError, OSError) as exc:
            log.warning("filament of run %s not deducted from spool %s yet: %s", run.id, run.spool_id, exc)
            return 0.0

    def _used(self, run: Run) -> float:
        """Grams already deducted for a run (kept in the store, so a restart never deducts twice)."""
        from controller.store import jobs

        return jobs.get_run(self.store, run.id).used_g

    def _spool_figures(self, run: Run) -> tuple[float, float]:
        """Diameter and density of the run's spool (asked once per run)."""
        if run.id not in self._spool_of_run:
            assert run.spool_id is not None
            s = self.spools.get(run.spool_id)
            self._spool_of_run[run.id] = (s.diameter, s.density)
        return self._spool_of_run[run.id]
