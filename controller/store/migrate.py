"""Schema migrations from the command line, with the config in code (no alembic.ini).

    python -m controller.store.migrate revision -m "runs: nozzle diameter"   # autogenerate a new revision
    python -m controller.store.migrate upgrade --url postgresql://host/printloop [--sql]
    python -m controller.store.migrate current --url sqlite:////var/lib/printloop/printloop.db

`revision` compares the models with a scratch SQLite database built by the existing migrations (or with
`--url`'s database, which must be at head) and writes the difference under `migrations/versions/`.
"""
from __future__ import annotations

import argparse
import sys

from alembic import command
from sqlalchemy import create_engine
from sqlalchemy.pool import StaticPool

from controller.errors import ControllerError
from controller.store.schema import alembic_config, upgrade_to_head


def revision(message: str, url: str | None) -> None:
    """Write a new revision holding what the models have and the migrations do not yet make."""
    engine = create_engine(url or "sqlite://", poolclass=None if url else StaticPool)
    try:
        if url is None:
            upgrade_to_head(engine)
        with engine.begin() as conn:
            command.revision(alembic_config(connection=conn), message=message, autogenerate=True)
    finally:
        engine.dispose()


def upgrade(url: str, sql: bool) -> None:
    """Bring a database to head (as the store does on start), or print the SQL that would, for review."""
    if sql:
        command.upgrade(alembic_config(url=url), "head", sql=True)
        return
    engine = create_engine(url)
    try:
        upgrade_to_head(engine)
    finally:
        engine.dispose()


def current(url: str) -> None:
    """Print the database's schema revision."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            command.current(alembic_config(connection=conn), verbose=True)
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    """Parse the subcommand and run it; project errors are printed, not raised."""
    ap = argparse.ArgumentParser(prog="python -m controller.store.migrate", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    rev = sub.add_parser("revision", help="autogenerate a revision from the models")
    rev.add_argument("-m", "--message", required=True, help="what the revision changes")
    rev.add_argument("--url", help="compare with this database (at head) instead of a scratch SQLite one")
    up = sub.add_parser("upgrade", help="bring a database to the newest revision")
    up.add_argument("--url", required=True)
    up.add_argument("--sql", action="store_true", help="print the SQL instead of running it")
    cur = sub.add_parser("current", help="show a database's revision")
    cur.add_argument("--url", required=True)
    args = ap.parse_args(argv)
    try:
        if args.cmd == "revision":
            revision(args.message, args.url)
        elif args.cmd == "upgrade":
            upgrade(args.url, args.sql)
        else:
            current(args.url)
    except ControllerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
