"""The store keeps every committed write across a killed process and never restarts an interrupted copy."""
from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from controller.errors import ConflictError, NotFoundError
from controller.farm.fleet import Fleet
from controller.store import Store, history, jobs, printers
from tests.conftest import REPO


def _queue(store: Store, copies: int = 2, priority: int = 0, name: str = "part.gcode", **kw) -> jobs.Job:
    f = jobs.add_file(store, name, "/tmp/" + name, "gcode", 10, "0" * 64, 0.0)
    return jobs.create_job(store, f.id, name, copies, priority, 0.0, gcode_path="/tmp/" + name, layer_count=10, **kw)


def test_jobs_claimed_by_priority_then_age(db_url: str) -> None:
    store = Store(db_url)
    printers.upsert_printer(store, "a", "/dev/null")
    low = _queue(store, copies=1, priority=0)
    high = _queue(store, copies=1, priority=5)
    first, _ = jobs.claim_next_run(store, "a", 1.0)
    second, _ = jobs.claim_next_run(store, "a", 2.0)
    assert (first.job_id, second.job_id) == (high.id, low.id)
    assert jobs.claim_next_run(store, "a", 3.0) is None


def test_requeued_copy_never_goes_back_to_the_printer_that_failed_it(db_url: str) -> None:
    store = Store(db_url)
    for name in ("a", "b"):
        printers.upsert_printer(store, name, "/dev/null")
    job = _queue(store, copies=1)
    run, _ = jobs.claim_next_run(store, "a", 1.0)
    jobs.finish_run(store, run.id, "failed", 2.0, "spaghetti", failed_layer=6)
    again = jobs.requeue_copy(store, run.id, "a", 2.0)
    assert again.copy_index == run.copy_index and again.excluded == ["a"]
    assert jobs.claim_next_run(store, "a", 3.0) is None
    taken, _ = jobs.claim_next_run(store, "b", 3.0)
    assert taken.id == again.id
    jobs.finish_run(store, taken.id, "completed", 4.0)
    assert jobs.get_job(store, job.id).state == "done"


def test_job_fails_when_copies_end_without_being_made(db_url: str) -> None:
    store = Store(db_url)
    printers.upsert_printer(store, "a", "/dev/null")
    job = _queue(store, copies=1)
    run, _ = jobs.claim_next_run(store, "a", 1.0)
    jobs.finish_run(store, run.id, "cancelled", 2.0)
    got = jobs.get_job(store, job.id)
    assert got.state == "failed" and "0 of 1" in got.message


def test_jobs_restricted_to_named_printers_and_matching_profile(db_url: str) -> None:
    store = Store(db_url)
    printers.upsert_printer(store, "a", "/dev/null", profile="pla.toml")
    printers.upsert_printer(store, "b", "/dev/null", profile="petg.toml")
    _queue(store, copies=1, printers=["b"])
    assert jobs.claim_next_run(store, "a", 1.0) is None
    assert jobs.claim_next_run(store, "b", 1.0) is not None
    _queue(store, copies=1, profile="pla.toml")
    assert jobs.claim_next_run(store, "b", 2.0) is None
    assert jobs.claim_next_run(store, "a", 2.0) is not None


def test_cancel_drops_queued_copies_and_returns_printing_ones(db_url: str) -> None:
    store = Store(db_url)
    printers.upsert_printer(store, "a", "/dev/null")
    job = _queue(store, copies=3)
    run, _ = jobs.claim_next_run(store, "a", 1.0)
    active = jobs.cancel_job(store, job.id, 2.0)
    assert [r.id for r in active] == [run.id]
    assert jobs.get_job(store, job.id).counts == {"printing": 1, "cancelled": 2}
    with pytest.raises(ConflictError):
        jobs.cancel_job(store, job.id, 3.0)


def test_printer_names_are_unique_and_unknown_ones_are_not_found(db_url: str) -> None:
    store = Store(db_url)
    printers.add_printer(store, "a", "/dev/null")
    with pytest.raises(ConflictError):
        printers.add_printer(store, "a", "/dev/ttyUSB1")
    printers.remove_printer(store, "a")
    with pytest.raises(NotFoundError):
        printers.get_printer(store, "a")
    assert printers.add_printer(store, "a", "/dev/ttyUSB1").port == "/dev/ttyUSB1"


WRITER = textwrap.dedent("""
    import os, signal, sys
    from controller.store import Store, history, jobs, printers
    store = Store(sys.argv[1])
    printers.upsert_printer(store, "a", "/dev/null")
    f = jobs.add_file(store, "p.gcode", "/tmp/p.gcode", "gcode", 10, "0" * 64, 0.0)
    done = jobs.create_job(store, f.id, "p.gcode", 1, 0, 0.0, gcode_path="/tmp/p.gcode", layer_count=10)
    run, _ = jobs.claim_next_run(store, "a", 1.0)
    jobs.finish_run(store, run.id, "completed", 2.0)
    job = jobs.create_job(store, f.id, "p.gcode", 1, 0, 3.0, gcode_path="/tmp/p.gcode", layer_count=10)
    run, _ = jobs.claim_next_run(store, "a", 4.0)
    for layer in range(8):
        history.add_layer_check(store, run.id, layer, True, "ok", 5.0 + layer, {"iou": 0.97}, "/x.jpg")
        jobs.confirm_layer(store, run.id, layer)
    print(done.id, job.id, run.id, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
""")


def test_killed_process_keeps_finished_jobs_and_checks_and_restart_marks_run_interrupted(tmp_path: Path,
                                                                                        db_url: str) -> None:
    url = db_url
    out = subprocess.run([sys.executable, "-c", WRITER, url], cwd=REPO, capture_output=True, text=True, timeout=60,
                         check=False)
    assert out.returncode == -signal.SIGKILL, out.stderr
    done_id, _job_id, run_id = map(int, out.stdout.split())
    store = Store(url)
    assert jobs.get_job(store, done_id).state == "done"
    assert [c.layer for c in history.list_layer_checks(store, run_id=run_id)] == list(range(8))
    fleet = Fleet(store, tmp_path, make_driver=lambda p: None)  # type: ignore[arg-type, return-value]
    interrupted = fleet.recover()
    assert [(r.id, r.layer) for r in interrupted] == [(run_id, 7)]
    run = jobs.get_run(store, run_id)
    assert run.state == "interrupted" and "last confirmed layer 7" in run.message
    assert printers.get_printer(store, "a").state == "needs_attention"
    assert fleet.recover() == []
    again, _ = jobs.claim_next_run(store, "a", 10.0) or (None, None)
    assert again is not None and again.id != run_id, "the interrupted run never resumes; a new run remakes it"
    assert (again.job_id, again.copy_index) == (run.job_id, run.copy_index)
    assert jobs.claim_next_run(store, "a", 11.0) is None
