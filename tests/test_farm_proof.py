"""The farm's proof with real processes: three `printloop serve` hosts drive twelve simulated printers (four
each) from one PostgreSQL queue and make a batch of 36 copies. A pause sent to host A for a printer of host B
pauses it within a second; a fourth host started against the same database leaves the live runs alone; host C
is killed with SIGKILL mid-print, its runs are interrupted only once its heartbeat is host_timeout_s old (and
no more than 10 s later), and hosts A and B make the replacements. The simulators' executed logs show every
copy made exactly once, each printer driven by one host only, and no run row is missing."""
from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from controller.commands.farm import serve_host, stop_farm, wait_up
from controller.sim_procs import SimProcess, launch_sim
from tests.farm_rig import full_prints, printers_open_by, remote_pause_s, sim_file_commands
from tests.sim_rig import small_part_gcode, take_part_off, wait_for

KEY = "proof-key"
TIMEOUT_S = 5.0
HOSTS = ("farm-a", "farm-b", "farm-c")
PRINTERS = 12
COPIES = 36
SPEED = "30"   # a copy takes a few seconds: long enough to be paused and killed mid-print, short enough for 36


def _technician(api: httpx.Client, sims: dict[str, SimProcess], skip: set[str], stop: threading.Event) -> None:
    """Take finished parts off and confirm the bed through host A (whichever host drives the printer)."""
    while not stop.wait(0.5):
        try:
            for p in api.get("/api/v1/printers").json():
                if p["state"] == "awaiting_clear" and p["host"] not in skip:
                    take_part_off(sims[p["name"]])
                    api.post(f"/api/v1/printers/{p['name']}/clear-bed")
        except httpx.HTTPError:
            continue


@pytest.mark.timeout(400)
def test_three_hosts_make_every_copy_once_through_a_host_killed_mid_print(tmp_path: Path, pg_url: str) -> None:
    gcode = small_part_gcode(tmp_path, height_mm=1.6, side_mm=10.0)
    sims: dict[str, SimProcess] = {}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    stop = threading.Event()
    dead: set[str] = set()
    try:
        for i in range(PRINTERS):   # one after another from this thread: a simulator dies with the thread that
            # started it (PR_SET_PDEATHSIG), so never from a pool's thread
            sims[f"p{i + 1:02d}"] = launch_sim("--speed", SPEED, "--seed", str(i + 1), "--executed-log",
                                               str(tmp_path / f"executed-{i + 1:02d}.jsonl"),
                                               log=tmp_path / f"sim-{i + 1:02d}.log")
        owner = {name: HOSTS[i % 3] for i, name in enumerate(sims)}
        urls: dict[str, str] = {}
        for host in HOSTS:
            procs[host], urls[host] = serve_host(tmp_path, host, KEY, pg_url, [
                {"name": n, "port": s.serial} for n, s in sims.items() if owner[n] == host], TIMEOUT_S)
        for host in HOSTS:
            wait_up(urls[host], procs[host])
        api = {h: httpx.Client(base_url=urls[h], headers={"X-Api-Key": KEY}, timeout=10) for h in HOSTS}
        a, b = api["farm-a"], api["farm-b"]
        job = a.post("/api/v1/jobs", files={"file": ("block.gcode", gcode.read_bytes())},
                     data={"copies": str(COPIES)}).json()
        tech = threading.Thread(target=_technician, args=(
            httpx.Client(base_url=urls["farm-a"], headers={"X-Api-Key": KEY}, timeout=10), sims, dead, stop))
        tech.start()

        def runs() -> list[dict]:
            return a.get(f"/api/v1/jobs/{job['id']}").json()["runs"]

        def on(host: str, states: tuple[str, ...] = ("printing", "paused")) -> list[dict]:
            return [r for r in runs() if r["state"] in states and owner.get(r["printer"] or "") == host]

        # every printer is driven, by its own host only (the only process holding its serial device)
        wait_for(lambda: len({r["printer"] for r in runs() if r["printer"]}) == PRINTERS, 120,
                 "every printer to take a copy")
        holders = printers_open_by({n: s.serial for n, s in sims.items()}, {h: p.pid for h, p in procs.items()})
        assert holders == {n: [owner[n]] for n in sims}, holders

        # a pause sent to host A for a printer of host B, laying down layers: B shows it paused within a second
        def laying(host: str) -> dict | None:
            return next((r for r in on(host, ("printing",)) if r["layer"] >= 1), None)
        target = wait_for(lambda: laying("farm-b"), 60, "a copy of host B past its first layer", every=0.05)
        assert isinstance(target, dict)
        r = a.post(f"/api/v1/printers/{target['printer']}/pause")
        assert r.status_code == 200 and "sent to host farm-b" in r.json()["message"], r.text
        wait_for(lambda: next(p for p in b.get("/api/v1/printers").json()
                              if p["name"] == target["printer"])["state"] == "paused", 10, "B's printer paused",
                 every=0.05)
        applied, parked = remote_pause_s(b, target["printer"], "farm-b")
        assert applied < 1.0, f"B applied the pause {applied:.2f} s after A sent it"
        assert parked < 3.0, f"B recorded its printer paused {parked:.2f} s after A sent the pause"

        # a fourth host starts against the same database: the live runs (the paused one at least) stay as they are
        live = {r["id"]: r["state"] for r in runs() if r["state"] in ("printing", "paused")}
        procs["farm-d"], urls["farm-d"] = serve_host(tmp_path, "farm-d", KEY, pg_url, [], TIMEOUT_S)
        wait_up(urls["farm-d"], procs["farm-d"])
        d = httpx.Client(base_url=urls["farm-d"], headers={"X-Api-Key": KEY}, timeout=10)
        after = {r["id"]: r for r in runs()}
        assert after[target["id"]]["state"] == "paused"
        assert not [i for i in live if after[i]["state"] == "interrupted"], "the new host interrupted live runs"
        assert {h["name"]: h["alive"] for h in d.get("/api/v1/hosts").json()} == {h: True for h in (*HOSTS,
                                                                                                   "farm-d")}
        assert {p["name"]: p["host"] for p in d.get("/api/v1/printers").json()} == owner
        assert d.post(f"/api/v1/printers/{target['printer']}/resume").status_code == 200

        # host C dies mid-print: its runs are taken over once its heartbeat is TIMEOUT_S old, not before
        def c_mid_print() -> bool:
            """Two copies or more printing on host C, none of them near its end: a copy whose last lines are
            already in its printer's buffer would finish there after the kill, and be made again elsewhere."""
            printing = on("farm-c", ("printing",))
            return len(printing) >= 2 and all(r["layer"] <= r["layer_count"] - 3 for r in printing)
        wait_for(c_mid_print, 120, "host C printing two copies, none near its end", every=0.05)
        procs["farm-c"].send_signal(signal.SIGKILL)
        procs["farm-c"].wait(10)
        dead.add("farm-c")
        killed = {r["id"] for r in on("farm-c")}
        assert killed, "host C was printing when it was killed"
        last_beat = next(h for h in a.get("/api/v1/hosts").json() if h["name"] == "farm-c")["last_heartbeat"]
        held_until = taken = 0.0
        while time.time() < last_beat + TIMEOUT_S + 15:
            now, states = time.time(), {r["id"]: r["state"] for r in runs() if r["id"] in killed}
            if all(s == "interrupted" for s in states.values()):
                taken = now
                break
            assert all(s in ("printing", "paused") for s in states.values()), states
            held_until = now
            time.sleep(0.1)
        assert taken, "host C's runs were never taken over"
        assert held_until >= last_beat + TIMEOUT_S - 0.5, f"taken over {last_beat + TIMEOUT_S - held_until:.1f} s early"
        assert taken - last_beat <= TIMEOUT_S + 10, f"taken over {taken - last_beat:.1f} s after the last beat"
        assert not next(h for h in a.get("/api/v1/hosts").json() if h["name"] == "farm-c")["alive"]
        print(f"{len(killed)} runs of host C taken over {taken - last_beat:.1f} s after its last heartbeat")

        wait_for(lambda: a.get(f"/api/v1/jobs/{job['id']}").json()["state"] in ("done", "failed"), 240,
                 "the batch to end")
        stop.set()
        tech.join(10)
        final = a.get(f"/api/v1/jobs/{job['id']}").json()
    finally:
        stop.set()
        stop_farm(list(procs.values()), list(sims.values()), grace_s=0)

    # the record: 36 good copies, each copy index once, every interrupted copy remade by host A or B
    assert final["state"] == "done", final
    assert final["counts"] == {"completed": COPIES, "interrupted": len(killed)}, final["counts"]
    assert len(final["runs"]) == COPIES + len(killed), "a run row is missing or extra"
    done = [r for r in final["runs"] if r["state"] == "completed"]
    assert sorted(r["copy_index"] for r in done) == list(range(COPIES))
    lost = {r["copy_index"] for r in final["runs"] if r["id"] in killed}
    assert {owner[r["printer"]] for r in done if r["copy_index"] in lost} <= {"farm-a", "farm-b"}

    # the simulators: each completed run is one whole print on its printer, nothing printed twice
    file_cmds = sim_file_commands(gcode)
    made = {n: full_prints(tmp_path / f"executed-{n[1:]}.jsonl", file_cmds) for n in sims}
    per_printer = Counter(r["printer"] for r in done)
    assert made == {n: per_printer[n] for n in sims}, made
    assert sum(made.values()) == COPIES
