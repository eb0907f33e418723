"""`printloop demo`: slice the shared 20 mm cube four times on one plate into ./out/demo.gcode."""
from __future__ import annotations

import argparse
from pathlib import Path

import controller
from controller.commands.slice import slice_to_file, summary
from slicing.errors import MeshError

DEMO_MODEL = "20mm-xyz-cube.stl"
DEMO_COPIES = 4


def models_dir() -> Path:
    """The shared models folder beside the repository (../shared/models)."""
    return Path(controller.__file__).resolve().parents[1].parent / "shared" / "models"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `demo` subcommand."""
    p = sub.add_parser("demo", help=f"slice {DEMO_MODEL} x{DEMO_COPIES} into ./out/demo.gcode")
    p.add_argument("--output", default="out/demo.gcode", help="where to write the G-code (default out/demo.gcode)")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Slice the demo cube with four copies and print the summary."""
    model = models_dir() / DEMO_MODEL
    if not model.is_file():
        raise MeshError(f"demo model not found: looked for {model}")
    result = slice_to_file(str(model), args.output, None, [], DEMO_COPIES, args.quiet)
    if not args.quiet:
        print(summary(result, DEMO_MODEL, args.output))
    return 0
