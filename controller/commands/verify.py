"""`printloop verify DIR`: check an export of build records: the hash chain, every record and every photo."""
from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `verify` subcommand."""
    p = sub.add_parser("verify", help="check exported build records: the hash chain and every photo",
                       description="Exit 0 when the chain links up and every record and photo has its hash; "
                                   "else print one line per difference (the file and, for a record, the field) "
                                   "and exit 1.")
    p.add_argument("dir", type=Path, metavar="DIR", help="a folder written by `printloop records export`")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Verify the folder; print the differences or a one-line confirmation."""
    from controller.store.build_verify import verify

    found = verify(args.dir)
    for line in found.differences:
        print(line)
    if found.differences:
        n = len(found.differences)
        print(f"printloop verify: {n} difference{'' if n == 1 else 's'} in {args.dir}")
        return 1
    print(f"printloop verify: {found.records} records and {found.files} files hold")
    return 0
