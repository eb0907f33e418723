"""The `printloop` command: each module in controller/commands/ registers one subcommand."""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from controller import commands


def _command_modules(argv: list[str] | None) -> list[str]:
    """The command modules to load: only the named subcommand's when the command line names one (so `slice` does
    not import the web service, the store or OpenCV), else all of them (for the help)."""
    names = sorted(info.name for info in pkgutil.iter_modules(commands.__path__))
    args = sys.argv[1:] if argv is None else argv
    first = next((a for a in args if not a.startswith("-")), None)
    for candidate in (first, f"{first}_"):
        if first is not None and candidate in names and not any(a in ("-h", "--help") for a in args[:1]):
            return [candidate]
    return names


def build_parser(argv: list[str] | None = None, every: bool = True) -> argparse.ArgumentParser:
    """Build the top-level parser from the modules in controller.commands that define `register` (every one, or
    only the subcommand `argv` names)."""
    parser = argparse.ArgumentParser(
        prog="printloop",
        description="Slice designs, drive FDM printers over serial, check every layer with a camera.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = _command_modules(argv) if not every else sorted(i.name for i in pkgutil.iter_modules(commands.__path__))
    for name in wanted:
        module = importlib.import_module(f"{commands.__name__}.{name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand and return its exit code; errors of the project print as one line, not a traceback."""
    parser = build_parser(argv, every=False)
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
