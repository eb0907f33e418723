"""When was a webcam frame captured? What the timing headers of real webcam servers say, read without IO.

- mjpg-streamer (`?action=snapshot`, `?action=stream`): `X-Timestamp: sec.usec` is the V4L2 buffer time of the
  frame. With `input_uvc` on a current kernel that is the camera host's *monotonic* clock (seconds since boot),
  with some other inputs the wall clock: a value within `WALL_WINDOW_S` of our wall clock is taken as a wall-clock
  capture time, any other value only tells frames apart (two replies with the same stamp are the same frame).
- ustreamer (PiKVM, crowsnest): `X-Timestamp` is the wall clock when the reply was *sent*;
  `X-UStreamer-Grab-Timestamp` and `X-UStreamer-Send-Timestamp` are the same host's monotonic clock, so their
  difference is the frame's age when it left the server, whatever the two hosts' clocks say.
- the printloop simulator: `X-Timestamp` is the wall clock of capture (as mjpg-streamer's wall-clock inputs).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

WALL_WINDOW_S = 300.0
"""An X-Timestamp this close to our wall clock is a wall-clock time; farther, it is another clock's (boot time)."""


@dataclass(frozen=True)
class CaptureTime:
    """What a reply's headers say about its frame: capture time on our wall clock (None: not known) and the
    server's own stamp of the frame (None: none sent), which tells two frames apart even when it is no wall time."""

    captured_at: float | None
    stamp: str | None


def _number(headers: Mapping[str, str], name: str) -> float | None:
    """A header as a float, None when absent or not a number."""
    text = headers.get(name)
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def capture_time(headers: Mapping[str, str], received_at: float) -> CaptureTime:
    """Capture time of a frame from its reply headers (names lower-case), `received_at` our wall clock (s) when
    the whole frame had arrived."""
    stamp_text = headers.get("x-ustreamer-grab-timestamp") or headers.get("x-timestamp")
    stamp = stamp_text.strip() if stamp_text else None
    grab, sent = _number(headers, "x-ustreamer-grab-timestamp"), _number(headers, "x-ustreamer-send-timestamp")
    x_ts = _number(headers, "x-timestamp")
    if grab is not None and sent is not None and sent >= grab:
        age = sent - grab                                  # one host's monotonic clock: no skew between hosts
        sent_wall = x_ts if x_ts is not None and abs(x_ts - received_at) <= WALL_WINDOW_S else received_at
        return CaptureTime(min(sent_wall, received_at) - age, stamp)
    if x_ts is not None and abs(x_ts - received_at) <= WALL_WINDOW_S:
        return CaptureTime(x_ts, stamp)
    return CaptureTime(None, stamp)
