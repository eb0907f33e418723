"""`printloop farm`: a whole simulated farm on one machine: simulated printers, several `printloop serve` hosts
sharing one PostgreSQL database (started here unless given), running one batch to its end."""
from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import controller
from controller.errors import ControllerError
from controller.farm.pgcluster import PgCluster
from controller.sim_procs import REPO, SimProcess, _die_with_parent, launch_sim

MODELS = Path(controller.__file__).resolve().parents[1].parent / "shared" / "models"
FARM_ENV = "PRINTLOOP_FARM"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `farm` subcommand."""
    p = sub.add_parser("farm", help="a simulated farm: N printers over H hosts on one PostgreSQL, one batch")
    p.add_argument("--printers", type=int, default=12, help="simulated printers (default 12)")
    p.add_argument("--hosts", type=int, default=3, help="`printloop serve` hosts sharing them (default 3)")
    p.add_argument("--postgres", default=None, help="database_url of an existing PostgreSQL database "
                   "(default: a throw-away cluster started here)")
    p.add_argument("--copies", type=int, default=None, help="copies in the batch (default 3 per printer)")
    p.add_argument("--model", default="20mm-xyz-cube.stl", help="a mesh, or a mesh in ../shared/models")
    p.add_argument("--speed", default="max", help="simulators' speed: a factor or max (default max)")
    p.add_argument("--out", type=Path, default=None, help="folder for the hosts' data and logs")
    p.add_argument("--host-timeout", type=float, default=None,
                   help="host_timeout_s of every host (default: the serve config's default, 30 s)")
    p.add_argument("--timeout", type=float, default=3600.0, help="give up after this many seconds")
    p.set_defaults(func=run)


def _check(args: argparse.Namespace) -> Path:
    """Refuse bad options before anything starts, naming the option; returns the mesh."""
    if args.printers < 1 or args.hosts < 1 or args.hosts > args.printers:
        raise ControllerError(f"--printers ({args.printers}) and --hosts ({args.hosts}) must be at least 1, "
                              "with no more hosts than printers")
    if args.copies is not None and args.copies < 1:
        raise ControllerError(f"--copies must be at least 1, got {args.copies}")
    model = Path(args.model) if Path(args.model).is_file() else MODELS / args.model
    if not model.is_file():
        raise ControllerError(f"--model {args.model!r}: no such file, nor a mesh in {MODELS}")
    return model


def serve_host(out: Path, host: str, key: str, db_url: str, printers: list[dict[str, Any]],
               host_timeout_s: float | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """Start one `printloop serve` host on a free port, driving `printers` (dicts of name, port and optional
    camera); returns the process and its URL."""
    from controller.api.live import free_port

    port = free_port()
    config = out / f"{host}.toml"
    timeout = f"host_timeout_s = {host_timeout_s}\n" if host_timeout_s is not None else ""
    config.write_text(f'data_dir = "{out / host}"\napi_keys = ["{key}"]\nhost_name = "{host}"\n'
                      f'database_url = "{db_url}"\n{timeout}' + "".join(
                          f'[[printers]]\nname = "{p["name"]}"\nport = "{p["port"]}"\n'
                          + (f'camera = "{p["camera"]}"\n' if p.get("camera") else "")
                          + f'on_failure = "{p.get("on_failure", "cancel")}"\n' for p in printers))
    with (out / f"{host}.log").open("ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "controller", "serve", "--config", str(config), "--port",
                                 str(port)], cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                preexec_fn=_die_with_parent)  # noqa: PLW1509 - only prctl, before exec
    return proc, f"http://127.0.0.1:{port}"


def wait_up(url: str, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    """Wait until a host answers /health; ControllerError when it exits or stays silent."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ControllerError(f"host at {url} exited with code {proc.returncode}; see its log")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise ControllerError(f"host at {url} did not answer within {timeout:.0f} s")


def stop_farm(hosts: list[subprocess.Popen[bytes]], sims: list[SimProcess], cluster: PgCluster | None = None,
              grace_s: float = 30.0) -> None:
    """Stop what a farm started: the hosts (SIGTERM, then SIGKILL after `grace_s`; at once with 0), the
    simulators, then the database cluster."""
    for proc in hosts:
        if proc.poll() is None and grace_s > 0:
            proc.terminate()
        elif proc.poll() is None:
            proc.kill()
    for proc in hosts:
        try:
            proc.wait(max(grace_s, 10.0))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    for s in sims:
        s.stop()
    if cluster is not None:
        cluster.stop()


def _drive(client: Any, job_id: int, sims: dict[str, SimProcess], deadline: float) -> dict[str, Any]:
    """The technician: take finished parts off and confirm the bed (through one host, whichever host drives the
    printer) until the batch ends."""
    while True:
        job = client.get(f"/api/v1/jobs/{job_id}").json()
        if job["state"] in ("done", "failed", "cancelled") or time.monotonic() > deadline:
            return job
        for p in client.get("/api/v1/printers").json():
            if p["state"] == "awaiting_clear":
                import httpx

                httpx.post(sims[p["name"]].camera.rsplit("/", 1)[0] + "/clear-bed", timeout=10)
                client.post(f"/api/v1/printers/{p['name']}/clear-bed")
        time.sleep(0.5)


def run(args: argparse.Namespace) -> int:
    """Start the database, simulators and hosts, run the batch, stop everything; 0 when every copy was made."""
    import httpx

    model = _check(args)
    out = (args.out or Path("out") / time.strftime("farm-%Y%m%d-%H%M%S")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    os.environ[FARM_ENV] = str(out)   # every process started here carries it (and can be found by it)
    cluster: PgCluster | None = None
    sims: list[SimProcess] = []
    hosts: list[tuple[Any, str, str]] = []
    try:
        if args.postgres:
            db_url = args.postgres
        else:
            cluster = PgCluster().start()
            db_url = cluster.create_database("printloop")
        for i in range(args.printers):
            sims.append(launch_sim("--speed", args.speed, "--seed", str(i + 1), log=out / f"sim-{i}.log"))
        printers = [{"name": f"sim-{i + 1:02d}", "port": s.serial, "camera": s.camera} for i, s in enumerate(sims)]
        key = secrets.token_urlsafe(16)
        for h in range(args.hosts):
            name = f"farm-{h + 1}"
            proc, url = serve_host(out, name, key, db_url, printers[h::args.hosts], args.host_timeout)
            hosts.append((proc, url, name))
        for proc, url, _ in hosts:
            wait_up(url, proc)
        print(json.dumps({"hosts": [{"name": n, "url": u, "key": key} for _, u, n in hosts],
                          "database_url": db_url}), flush=True)
        client = httpx.Client(base_url=hosts[0][1], headers={"X-Api-Key": key}, timeout=30)
        copies = args.copies or 3 * args.printers
        with model.open("rb") as fh:
            r = client.post("/api/v1/jobs", files={"file": (model.name, fh)}, data={"copies": str(copies)})
        r.raise_for_status()
        job = _drive(client, r.json()["id"], dict(zip([p["name"] for p in printers], sims)),
                     time.monotonic() + args.timeout)
        print(json.dumps({"job": job["id"], "state": job["state"], "counts": job["counts"]}), flush=True)
        return 0 if job["state"] == "done" else 1
    finally:
        stop_farm([proc for proc, _, _ in hosts], sims, cluster)
