"""Hosts sharing one store: each recovers only its own runs, a silent host's runs are taken over only after the
timeout (their copies queued again), and concurrent claimers on PostgreSQL never take one copy twice."""
from __future__ import annotations

import threading
from collections import Counter

import pytest

from controller.errors import ConflictError
from controller.store import Store, hosts, jobs, printers

TIMEOUT = 30.0


def _farm(url: str, copies: int = 4) -> tuple[Store, jobs.Job]:
    """Printers a1, a2 on host A and b1, b2 on host B, and a queued job of `copies` copies."""
    store = Store(url)
    for name, host in (("a1", "A"), ("a2", "A"), ("b1", "B"), ("b2", "B")):
        printers.upsert_printer(store, name, "/dev/null", host=host)
    f = jobs.add_file(store, "p.gcode", "/tmp/p.gcode", "gcode", 10, "0" * 64, 0.0)
    job = jobs.create_job(store, f.id, "p.gcode", copies, 0, 0.0, gcode_path="/tmp/p.gcode", layer_count=10)
    return store, job


def _claim(store: Store, printer: str, t: float, layers: int = 0) -> jobs.Run:
    claimed = jobs.claim_next_run(store, printer, t)
    assert claimed is not None
    for layer in range(layers):
        jobs.confirm_layer(store, claimed[0].id, layer)
    return claimed[0]


def test_restarted_host_interrupts_only_its_own_runs_and_queues_their_copies_again(db_url: str) -> None:
    store, job = _farm(db_url, copies=2)
    mine, theirs = _claim(store, "a1", 1.0, layers=3), _claim(store, "b1", 1.0, layers=5)
    interrupted = jobs.interrupt_active_runs(store, 2.0, host="A")
    assert [(r.id, r.layer) for r in interrupted] == [(mine.id, 2)]
    assert jobs.get_run(store, theirs.id).state == "printing", "another host's live run is not touched"
    again = jobs.list_runs(store, job_id=job.id, states=("queued",))
    assert [(r.copy_index, r.printer) for r in again] == [(mine.copy_index, None)]
    assert "last confirmed layer 2" in jobs.get_run(store, mine.id).message
    store.close()


def test_silent_host_is_taken_over_only_after_the_timeout_and_its_copies_are_made_elsewhere(db_url: str) -> None:
    store, _job = _farm(db_url, copies=2)
    hosts.heartbeat(store, "A", 100.0)
    hosts.heartbeat(store, "B", 100.0)
    run_b = _claim(store, "b1", 101.0, layers=4)
    _claim(store, "a1", 101.0)
    hosts.heartbeat(store, "A", 140.0)
    assert hosts.take_over(store, "A", 100.0 + TIMEOUT - 0.01, TIMEOUT) == {}
    assert jobs.get_run(store, run_b.id).state == "printing"
    taken = hosts.take_over(store, "A", 100.0 + TIMEOUT, TIMEOUT)
    assert [(r.id, r.layer) for r in taken["B"]] == [(run_b.id, 3)]
    run = jobs.get_run(store, run_b.id)
    assert run.state == "interrupted" and "host B fell silent" in run.message and "taken over by A" in run.message
    assert printers.get_printer(store, "b1").state == "needs_attention"
    assert hosts.take_over(store, "A", 200.0, TIMEOUT) == {}, "a host is taken over once"
    again = _claim(store, "a2", 141.0)
    assert again.copy_index == run_b.copy_index
    alive = {h.name: h.alive for h in hosts.list_hosts(store, 141.0, TIMEOUT)}
    assert alive == {"A": True, "B": False}
    store.close()


def test_run_taken_over_stays_interrupted_when_its_old_host_reports_it_completed(db_url: str) -> None:
    store, job = _farm(db_url, copies=1)
    hosts.heartbeat(store, "B", 0.0)
    run = _claim(store, "b1", 1.0)
    hosts.take_over(store, "A", TIMEOUT + 1, TIMEOUT)
    assert jobs.finish_run(store, run.id, "completed", TIMEOUT + 2).state == "interrupted"
    again = _claim(store, "a1", TIMEOUT + 3)
    jobs.finish_run(store, again.id, "completed", TIMEOUT + 4)
    got = jobs.get_job(store, job.id)
    assert got.state == "done" and got.counts == {"interrupted": 1, "completed": 1}
    store.close()


def test_printer_driven_by_a_live_host_cannot_be_claimed_by_another(db_url: str) -> None:
    store, _ = _farm(db_url)
    hosts.heartbeat(store, "B", 10.0)
    with pytest.raises(ConflictError, match="driven by host 'B', which is alive"):
        hosts.claim_printer(store, "b1", "A", 20.0, TIMEOUT)
    hosts.claim_printer(store, "b1", "A", 10.0 + TIMEOUT, TIMEOUT)   # B is silent: A may take the printer
    store.close()


def test_concurrent_claimers_on_postgresql_never_take_one_copy_twice(pg_url: str) -> None:
    copies, claimers = 120, 8
    setup, job = _farm(pg_url, copies=copies)
    for i in range(claimers):
        printers.upsert_printer(setup, f"c{i}", "/dev/null", host=f"H{i % 3}")
    setup.close()
    barrier = threading.Barrier(claimers)
    taken: list[tuple[str, int]] = []
    errors: list[BaseException] = []

    def claimer(i: int) -> None:
        store = Store(pg_url)   # each claimer has its own engine and connections, like a host of its own
        try:
            barrier.wait()
            while (claimed := jobs.claim_next_run(store, f"c{i}", 1.0)) is not None:
                taken.append((f"c{i}", claimed[0].id))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=claimer, args=(i,)) for i in range(claimers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    ids = Counter(run_id for _, run_id in taken)
    assert len(ids) == copies and max(ids.values()) == 1, "every copy claimed exactly once"
    check = Store(pg_url)
    runs = jobs.list_runs(check, job_id=job.id)
    assert Counter(r.state for r in runs) == {"printing": copies}
    assert {r.id: r.printer for r in runs} == {run_id: name for name, run_id in taken}
    assert len({name for name, _ in taken}) > 1, "the claims were spread over several claimers"
    check.close()
