"""`printloop markers`: write the printable sheet of bed markers the layer check registers the camera by."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `markers` subcommand."""
    p = sub.add_parser("markers", help="write a printable sheet of the camera's bed markers",
                       description="Write the bed markers of a [vision] profile (default layout if none) as a "
                                   "PNG page at 300 dpi, each with its id and where its centre goes on the bed.")
    p.add_argument("-o", "--out", type=Path, default=Path("printloop-markers.png"), help="PNG file to write")
    p.add_argument("--vision-profile", type=Path, default=None, metavar="TOML",
                   help="profile whose [vision] table sets the markers (ids, centres, size)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the sheet and say where the markers go."""
    from vision.config import load_config
    from vision.marker_sheet import marker_sheet

    config = load_config(args.vision_profile)
    if not cv2.imwrite(str(args.out), marker_sheet(config)):
        print(f"printloop markers: cannot write {args.out}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: print it at 100 % and stick the markers at these bed positions (mm):")
    for marker_id, x, y in config.markers:
        print(f"  id {marker_id}: X{x:g} Y{y:g}")
    return 0
