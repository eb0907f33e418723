"""Counts over the whole history, for monitoring: copies by printer and outcome, jobs by state, layer verdicts."""
from __future__ import annotations

from sqlalchemy import func, select

from controller.store.db import Store
from controller.store.models import JobRow, LayerCheckRow, PrinterRow, RunRow


def runs_by_printer_and_state(store: Store) -> dict[tuple[str, str], int]:
    """(printer name, run state) -> number of runs; copies not yet claimed have the printer name ""."""
    with store.session() as s:
        q = (select(PrinterRow.name, RunRow.state, func.count(RunRow.id))
             .outerjoin(PrinterRow, RunRow.printer_id == PrinterRow.id).group_by(PrinterRow.name, RunRow.state))
        return {(name or "", state): int(n) for name, state, n in s.execute(q)}


def jobs_by_state(store: Store) -> dict[str, int]:
    """Job state -> number of jobs."""
    with store.session() as s:
        return {state: int(n) for state, n in s.execute(select(JobRow.state, func.count(JobRow.id))
                                                        .group_by(JobRow.state))}


def verdicts_by_printer(store: Store) -> dict[tuple[str, str], int]:
    """(printer name, verdict class) -> number of layer checks."""
    with store.session() as s:
        q = (select(PrinterRow.name, LayerCheckRow.verdict, func.count(LayerCheckRow.id))
             .join(RunRow, LayerCheckRow.run_id == RunRow.id)
             .outerjoin(PrinterRow, RunRow.printer_id == PrinterRow.id)
             .group_by(PrinterRow.name, LayerCheckRow.verdict))
        return {(name or "", verdict): int(n) for name, verdict, n in s.execute(q)}
