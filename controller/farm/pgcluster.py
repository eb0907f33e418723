"""A throw-away PostgreSQL cluster in a folder: initdb and pg_ctl on loopback, for tests and `printloop farm`.

PostgreSQL refuses to run as root, so when we are root the cluster belongs to an unprivileged system user
(`postgres` when it exists, else `nobody`) and its programs run through `runuser`.
"""
from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Self

from controller.errors import DatabaseError

PG_BIN = Path(os.environ.get("PRINTLOOP_PG_BIN", "/usr/lib/postgresql/15/bin"))
SUPERUSER = "printloop"


def _free_port() -> int:
    """A TCP port free on loopback now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as() -> pwd.struct_passwd | None:
    """The unprivileged account the cluster runs as when we are root; None when we are not root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise DatabaseError("running as root and neither a 'postgres' nor a 'nobody' account exists; PostgreSQL "
                        "will not run as root: create one (useradd --system postgres)")


class PgCluster:
    """One PostgreSQL server of our own: started in `folder` (a new temporary one by default), stopped and
    deleted by `stop`."""

    def __init__(self, folder: Path | None = None, port: int | None = None) -> None:
        """Remember where the cluster lives; `start` makes and runs it."""
        self._owned = folder is None
        self.folder = Path(folder or tempfile.mkdtemp(prefix="printloop-pg-"))
        self.port = port or _free_port()
        self._user = _run_as()
        self.running = False

    def _cmd(self, program: str, *args: str) -> list[str]:
        """A command line for one of PostgreSQL's programs, run as the cluster's owner."""
        exe = PG_BIN / program
        if not exe.exists():
            raise DatabaseError(f"{exe} not found: install Debian's postgresql package "
                                f"(scripts/install-system-packages.sh) or set PRINTLOOP_PG_BIN")
        line = [str(exe), *args]
        return ["runuser", "-u", self._user.pw_name, "--", *line] if self._user else line

    def _call(self, program: str, *args: str) -> None:
        """Run a PostgreSQL program to its end; DatabaseError with its output when it fails."""
        out = subprocess.run(self._cmd(program, *args), capture_output=True, text=True, timeout=120, check=False)
        if out.returncode != 0:
            raise DatabaseError(f"{program} failed in {self.folder}: {(out.stderr or out.stdout).strip()[-800:]}")

    def start(self) -> Self:
        """initdb (trust on loopback, no fsync: the data is thrown away) and start the server; waits until it
        accepts connections."""
        data, sock = self.folder / "data", self.folder / "sock"
        sock.mkdir(parents=True, exist_ok=True)
        if self._user:
            for p in (self.folder, sock):
                os.chown(p, self._user.pw_uid, self._user.pw_gid)
        self._call("initdb", "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-sync",
                   "--no-instructions")
        opts = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {sock} -c fsync=off -c synchronous_commit=off "
                f"-c full_page_writes=off -c max_connections=200")
        self._call("pg_ctl", "-D", str(data), "-l", str(self.folder / "server.log"), "-o", opts, "-w", "-t", "60",
                   "start")
        self.running = True
        return self

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of a database in this cluster (psycopg 3)."""
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Make a new empty database and return its URL."""
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
        return self.url(name)

    def stop(self) -> None:
        """Stop the server at once and remove a folder we made."""
        if self.running:   # already gone when a Ctrl-C reached the server too (pg_ctl status exits 3)
            status = subprocess.run(self._cmd("pg_ctl", "-D", str(self.folder / "data"), "status"),
                                    capture_output=True, timeout=60, check=False)
            if status.returncode == 0:
                self._call("pg_ctl", "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop")
            self.running = False
        if self._owned:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Self:
        """Start on entering a with-block."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop on leaving it."""
        self.stop()
