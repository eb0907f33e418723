"""`printloop records export DIR`: the build records of every printed copy (or of one job), their hash chain
and their photos, written to a folder an auditor can be handed (checked by `printloop verify DIR`)."""
from __future__ import annotations

import argparse
import time
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `records` subcommand (with `export`)."""
    p = sub.add_parser("records", help="export the build records of printed copies (JSON, hash chain, photos)")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    e = actions.add_parser("export", help="write DIR/chain.json, DIR/records/<serial>.json, DIR/photos/<serial>/",
                           description="Seal the records of copies that have settled, then write the chain, the "
                                       "records and the photos and timelapses they name.")
    e.add_argument("dir", type=Path, metavar="DIR", help="folder to write (created if missing)")
    e.add_argument("--job", type=int, default=None, metavar="N", help="only the copies of job N")
    e.add_argument("--config", type=Path, default=None, help="the service's TOML config (its database)")
    e.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    """Export the records and say how many, and the chain's head hash."""
    from controller.config import ServiceConfig, load_config
    from controller.errors import ConfigError
    from controller.store import Store, jobs
    from controller.store.build_export import export

    cfg = load_config(args.config) if args.config else ServiceConfig()
    if cfg.database_url is None and not (cfg.data_dir / "printloop.db").is_file():
        raise ConfigError(f"no printloop database in {cfg.data_dir.resolve()}: give the service's config with "
                          "--config (its data_dir or database_url)")
    store = Store(cfg.db_url)
    try:
        if args.job is not None:
            jobs.get_job(store, args.job)   # NotFoundError names a job that does not exist
        made = export(store, args.dir, time.time(), args.job)
    finally:
        store.close()
    print(f"printloop records: {made.records} records and {made.files} files written to {args.dir} "
          f"(chain head {made.head})")
    if made.unsealed:
        print(f"printloop records: {made.unsealed} ended copies are not sealed yet (timelapse being written); "
              "export again later to include them")
    return 0
