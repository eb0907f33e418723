"""Every copy as one CSV row (with a header): what it was, where and by whom, how it ended, what it used and cost."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import UTC, datetime

from controller.store.stats import RunFacts

COLUMNS = ("run_id", "job_id", "job", "copy", "printer", "user", "material", "state", "disposition", "queued_at",
           "started_at", "finished_at", "queue_wait_s", "print_s", "last_layer", "failed_layer", "filament_mm",
           "grams", "material_cost", "machine_cost", "cost")


def _iso(t: float | None) -> str:
    """A time as ISO 8601 UTC, or empty."""
    return "" if t is None else datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def _num(x: float | None, digits: int = 3) -> str:
    """A number rounded for a spreadsheet, or empty."""
    return "" if x is None else f"{x:.{digits}f}"


def runs_csv(runs: Iterable[RunFacts], hourly_rate: float) -> str:
    """The CSV text: a header, then one row per copy in the order given."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in runs:
        disposition = "rejected" if r.rejected else ("good" if r.good else "")
        machine = r.hours * hourly_rate
        w.writerow([r.run_id, r.job_id, r.job_name, r.copy_index + 1, r.printer or "", r.user, r.filament.material,
                    r.state, disposition, _iso(r.created_at), _iso(r.started_at), _iso(r.finished_at),
                    _num(r.queue_wait_s, 1), _num(r.hours * 3600.0 if r.ended else None, 1), r.layer,
                    "" if r.failed_layer is None else r.failed_layer, _num(r.filament_mm, 1), _num(r.grams),
                    _num(r.material_cost, 4), _num(machine, 4), _num(r.material_cost + machine, 4)])
    return buf.getvalue()
