"""The `printloop` command: each module in controller/commands/ registers one subcommand."""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from controller import commands


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser from every module in controller.commands that defines `register`."""
    parser = argparse.ArgumentParser(
        prog="printloop",
        description="Slice designs, drive FDM printers over serial, check every layer with a camera.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand and return its exit code; errors of the project print as one line, not a traceback."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    from controller.errors import ControllerError
    from firmware_sim.errors import SimError
    from slicing.errors import SlicingError
    from vision.errors import VisionError

    try:
        return int(func(args) or 0)
    except (SlicingError, ControllerError, SimError, VisionError) as exc:
        print(f"printloop {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
