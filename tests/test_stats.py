"""Statistics over a seeded history of a few hundred copies on three printers (in SQLite and PostgreSQL) equal
the figures worked out here another way: counting the seeded lists copy by copy, and utilisation by sampling each
printer's state once a minute. The API answers them, and the CSV has a header and one row per copy."""
from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from controller.api.app import create_app
from controller.config import parse_config
from controller.errors import ConfigError
from controller.farm.service import LabService
from controller.store import Store, stats, stats_rows
from tests.stats_history import DAYS, PRINTERS, T0, History, SeedRun, seed

RATE, PER_KG = 1.5, 24.0
FROM, TO = T0 + 12 * 3600, T0 + 60 * 3600          # from the first day's noon to the third day's noon
PLA = stats.Filament("PLA", 1.75, 1.24, PER_KG)
KEY = "stats-key"
CATEGORY = {"printing": "printing", "idle": "idle", "awaiting_clear": "waiting_for_bed", "paused": "attention",
            "needs_attention": "attention", "offline": "offline"}


def _e_used(r: SeedRun) -> float:
    """The E length a copy used, from the seeded table: every layer printed, of the objects it printed."""
    total = 0.0
    last = len(r.job.e) - 1 if r.state == "completed" else max(r.layer, -1 if r.failed_layer is None else r.failed_layer)
    for k, (a, b, none) in enumerate(r.job.e):
        if k <= last:
            total += none + b + (0.0 if r.objects == ["part_b"] else a)
    return total


def _grams(r: SeedRun) -> float:
    area = math.pi * 1.75 * 1.75 / 4.0     # mm²
    return _e_used(r) * area / 1000.0 * 1.24


def _expected(runs: list[SeedRun]) -> dict[str, float | int | None]:
    """The figures of some copies, counted one by one."""
    ended = [r for r in runs if r.finished is not None and r.state != "printing"]
    good = [r for r in ended if r.state == "completed" and (not r.verdicts or r.verdicts[-1] != "rejected")]
    lost = [r for r in ended if r not in good]
    hours = {r.id: (r.finished - r.started) / 3600 for r in ended}  # type: ignore[operator]
    cost = sum(_grams(r) / 1000 * PER_KG + hours[r.id] * RATE for r in ended)
    waits = [r.started - r.created for r in runs if r.started is not None]
    return {"started": len(ended), "good": len(good), "yield": len(good) / len(ended) if ended else None,
            "failed": sum(r.state == "failed" for r in ended), "cancelled": sum(r.state == "cancelled" for r in ended),
            "grams": sum(_grams(r) for r in ended), "failure_grams": sum(_grams(r) for r in lost),
            "print_hours": sum(hours.values()), "failure_hours": sum(hours[r.id] for r in lost),
            "queue_wait_s": sum(waits) / len(waits) if waits else None,
            "cost_per_good_part": cost / len(good) if good else None}


def _check(got: dict, want: dict) -> None:
    for k, v in want.items():
        assert got[k] == pytest.approx(v, rel=1e-9, abs=1e-9), k


def _sampled(h: History, name: str) -> dict[str, float]:
    """Seconds per category between FROM and TO, by looking at the printer once in the middle of every minute."""
    seconds: dict[str, float] = defaultdict(float)
    for minute in range(int((TO - FROM) // 60)):
        at = FROM + 60 * minute + 30
        state, out = "offline", False
        for t, s in h.changes[name]:
            if t > at:
                break
            if s in ("out", "back"):
                out = s == "out"
            else:
                state = s
        kind = CATEGORY[state]
        seconds["maintenance" if out and kind != "printing" else kind] += 60
    return seconds


def _inside(h: History) -> list[SeedRun]:
    return [r for r in h.runs if r.started is not None and FROM <= r.started < TO]


def test_statistics_of_a_seeded_history_equal_an_independent_count(db_url: str, tmp_path: Path) -> None:
    store = Store(db_url)
    h = seed(store, tmp_path)
    assert len(h.runs) > 250
    runs = stats_rows.load_runs(store, FROM, TO, PLA)
    changes, since = stats_rows.load_states(store, TO)
    got = stats.summary(runs, changes, since, FROM, TO, RATE, "day")
    inside = _inside(h)
    assert 150 < len(inside) < len(h.runs) and any(r.state == "printing" for r in h.runs)
    _check(got, _expected(inside))
    assert got["in_progress"] == 0 and got["rejected"] > 0 and 0 < got["yield"] < 1
    assert sorted(got["by_printer"]) == sorted(PRINTERS)
    for name in PRINTERS:
        _check(got["by_printer"][name], _expected([r for r in inside if r.printer == name]))
        want = _sampled(h, name)
        assert got["by_printer"][name]["utilisation_s"] == pytest.approx({k: want.get(k, 0.0)
                                                                          for k in stats.UTILISATION})
        assert sum(got["by_printer"][name]["utilisation"].values()) == pytest.approx(1.0)
        assert all(want[k] > 0 for k in ("printing", "idle", "waiting_for_bed", "attention"))
    for user in ("sam", "kim"):
        _check(got["by_user"][user], _expected([r for r in inside if r.job.user == user]))
    _check(got["by_user"][stats.NO_USER], _expected([r for r in inside if r.job.user is None]))
    _check(got["by_material"]["PLA"], _expected(inside))
    days = defaultdict(list)
    for r in inside:
        days[datetime.fromtimestamp(r.started, UTC).strftime("%Y-%m-%d")].append(r)  # type: ignore[arg-type]
    assert sorted(got["by_period"]) == sorted(days) and len(days) == 3
    for day, some in days.items():
        _check(got["by_period"][day], _expected(some))
    store.close()


def test_a_week_holds_every_copy_and_a_month_too(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'p.db'}")
    h = seed(store, tmp_path)
    runs = stats_rows.load_runs(store, T0, T0 + DAYS * 86400, PLA)
    weeks = stats.summary(runs, [], {}, T0, T0 + DAYS * 86400, RATE, "week")["by_period"]
    assert list(weeks) == ["2026-11-30"]
    _check(weeks["2026-11-30"], _expected([r for r in h.runs if r.started is not None]))
    months = stats.summary(runs, [], {}, T0, T0 + DAYS * 86400, RATE, "month")["by_period"]
    assert sorted(months) == ["2026-11", "2026-12"]
    store.close()


@pytest.fixture()
def seeded(tmp_path: Path):
    cfg = parse_config({"data_dir": str(tmp_path / "data"), "api_keys": [KEY],
                        "costs": {"hourly_rate": RATE, "filament_cost_per_kg": PER_KG, "material": "PLA",
                                  "currency": "EUR"}})
    svc = LabService(cfg, clock=lambda: T0 + DAYS * 86400)
    h = seed(svc.store, tmp_path)
    with TestClient(create_app(svc, run_fleet=False)) as client:
        yield client, h
    svc.stop()


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def test_stats_endpoint_answers_the_period_asked_for(seeded) -> None:
    client, h = seeded
    r = client.get("/api/v1/stats", params={"from": _iso(FROM), "to": _iso(TO)}, headers={"X-Api-Key": KEY})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["from"] == _iso(FROM) and body["to"] == _iso(TO) and body["currency"] == "EUR"
    _check(body, _expected(_inside(h)))
    for name in PRINTERS:
        _check(body["by_printer"][name], _expected([r for r in _inside(h) if r.printer == name]))
    everything = client.get("/api/v1/stats", headers={"X-Api-Key": KEY}).json()
    _check(everything, _expected([r for r in h.runs if r.started is not None]))
    assert everything["in_progress"] == 1
    bad = client.get("/api/v1/stats", params={"from": _iso(TO), "to": _iso(FROM)}, headers={"X-Api-Key": KEY})
    assert bad.status_code == 422 and "before" in bad.json()["message"]


def test_runs_csv_has_a_header_and_one_row_per_copy(seeded) -> None:
    client, h = seeded
    r = client.get("/api/v1/runs.csv", headers={"X-Api-Key": KEY})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert r.text.splitlines()[0].startswith("run_id,job_id,job,copy,printer,user,material,state")
    assert len(rows) == len(h.runs)
    by_id = {int(row["run_id"]): row for row in rows}
    for run in h.runs:
        row = by_id[run.id]
        assert (row["printer"], row["state"], row["user"]) == (run.printer or "", run.state, run.job.user or "(none)")
        if run.finished is not None and run.state != "printing":
            assert float(row["grams"]) == pytest.approx(_grams(run), abs=1e-3)
            assert row["disposition"] == ("rejected" if run.verdicts[-1:] == ["rejected"] else
                                          "good" if run.state == "completed" else "")
    window = client.get("/api/v1/runs.csv", params={"from": _iso(FROM), "to": _iso(TO)}, headers={"X-Api-Key": KEY})
    assert len(window.text.splitlines()) == 1 + len(_inside(h))


def test_costs_config_knows_common_densities_and_refuses_an_unknown_material_without_one() -> None:
    assert parse_config({"costs": {"material": "petg"}}).costs.material_density == 1.27
    assert parse_config({}).costs.material_density == 1.24
    with pytest.raises(ConfigError, match=r"costs: no density known for material 'wood'"):
        parse_config({"costs": {"material": "wood"}})
    assert parse_config({"costs": {"material": "wood", "density": 1.15}}).costs.material_density == 1.15


def test_copies_printed_from_a_spool_are_costed_by_its_material_density_and_price(tmp_path: Path) -> None:
    from sqlalchemy import update

    from controller.store.models import RunRow, SpoolRow

    store = Store(f"sqlite:///{tmp_path / 'p.db'}")
    h = seed(store, tmp_path)
    on_spool = [r for r in _inside(h) if r.printer == PRINTERS[1] and r.finished is not None]
    with store.session() as s:
        spool = SpoolRow(material="PETG", diameter=1.75, density=1.27, initial_g=1000.0, remaining_g=1000.0,
                         cost_per_kg=40.0, created_at=T0)
        s.add(spool)
        s.flush()
        s.execute(update(RunRow).where(RunRow.id.in_([r.id for r in on_spool])).values(spool_id=spool.id))
    got = stats.summary(stats_rows.load_runs(store, FROM, TO, PLA), [], {}, FROM, TO, RATE, "day")
    store.close()
    assert sorted(got["by_material"]) == ["PETG", "PLA"]
    petg = got["by_material"]["PETG"]
    assert petg["started"] == len(on_spool)
    assert petg["grams"] == pytest.approx(sum(_grams(r) for r in on_spool) * 1.27 / 1.24)
    hours = sum((r.finished - r.started) / 3600 for r in on_spool)  # type: ignore[operator]
    assert petg["material_cost"] + petg["machine_cost"] == pytest.approx(petg["grams"] / 1000 * 40.0 + hours * RATE)
