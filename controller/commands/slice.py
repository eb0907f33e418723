"""`printloop slice MODEL -o OUT.gcode`: slice a mesh with a profile, with a progress bar and a summary."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from slicing.errors import SlicingError
from slicing.layer_pool import default_workers
from slicing.profile import load_profile, parse_override
from slicing.slicer import SliceResult, slice_file

_STAGES = {
    "load": "loading mesh",
    "sections": "cutting sections",
    "walls": "walls",
    "infill": "skins and infill",
    "order": "path order",
    "gcode": "writing G-code",
    "layers": "layers",  # (over worker processes: planned and written as they come)
}


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `slice` subcommand."""
    p = sub.add_parser("slice", help="slice a mesh (STL/OBJ/3MF) into Marlin G-code")
    p.add_argument("model", help="mesh file to slice")
    p.add_argument("-o", "--output", required=True, help="G-code file to write")
    p.add_argument("--profile", help="TOML profile (defaults: slicing/default_profile.toml)")
    p.add_argument("--copies", type=int, default=1, help="number of copies on the plate (default 1)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one profile option (repeatable), value as TOML scalar")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="worker processes for the layers (default: one per core; 0: none)")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(func=run)


def format_duration(seconds: float) -> str:
    """Seconds as h:mm (rounded to the minute)."""
    minutes = round(seconds / 60.0)
    return f"{minutes // 60}:{minutes % 60:02d}"


def summary(result: SliceResult, model: str, output: str) -> str:
    """Plain-text summary of a slice for the terminal."""
    lines = [
        f"sliced {model} -> {output}",
        f"  layers    {result.layer_count}",
        f"  time      {format_duration(result.estimated_time_s)} (h:mm, {result.estimated_time_s:.0f} s)",
        f"  filament  {result.filament_mm / 1000.0:.2f} m, {result.filament_g:.1f} g",
        f"  copies    {result.copies}",
    ]
    if result.warnings:
        lines.append(f"  warnings  {len(result.warnings)}")
        lines.extend(f"    - {w}" for w in result.warnings)
    else:
        lines.append("  warnings  none")
    return "\n".join(lines)


@contextmanager
def progress_bar(quiet: bool) -> Iterator[Callable[[str, int, int], None] | None]:
    """A rich progress bar on stderr fed by the slicer's progress callback (nothing when quiet)."""
    if quiet:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(file=sys.stderr)
    with Progress(TextColumn("{task.description:<18}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("starting", total=1)

        def update(stage: str, done: int, total: int) -> None:
            bar.update(task, description=_STAGES.get(stage, stage), completed=done, total=max(total, 1))

        yield update


def slice_to_file(model: str, output: str, profile_path: str | None, overrides: list[str], copies: int,
                  quiet: bool, jobs: int | None = None) -> SliceResult:
    """Load the profile, slice over `jobs` worker processes (None: one per core), write the G-code; SlicingError
    on any input problem."""
    if jobs is not None and jobs < 0:
        raise SlicingError(f"--jobs must be 0 or more (got {jobs})")
    profile = load_profile(profile_path, dict(parse_override(o) for o in overrides))
    with progress_bar(quiet) as progress:
        result = slice_file(model, profile, copies=copies, progress=progress,
                            workers=default_workers() if jobs is None else jobs)
    out = Path(output)
    try:
        if out.parent and not out.parent.exists():
            out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(result.gcode)
    except OSError as exc:
        raise SlicingError(f"cannot write {output}: {exc.strerror or exc}") from None
    return result


def run(args: argparse.Namespace) -> int:
    """Slice args.model into args.output and print the summary unless quiet."""
    result = slice_to_file(args.model, args.output, args.profile, args.overrides, args.copies, args.quiet,
                           args.jobs)
    if not args.quiet:
        print(summary(result, args.model, args.output))
    return 0
