"""`--faults` parsing (a table of good and bad specs) and the determinism of the rate faults per seed."""
from __future__ import annotations

import random

import pytest

from firmware_sim.errors import FaultSpecError
from firmware_sim.faults import ByteCorrupter, FaultSchedule, FaultSpec, parse_faults

GOOD = [
    ("", FaultSpec()),
    ("corrupt=1e-3", FaultSpec(corrupt_rx=1e-3, corrupt_tx=1e-3)),
    ("corrupt_rx=0.5,drop_ok=0.01", FaultSpec(corrupt_rx=0.5, drop_ok=0.01)),
    ("resend=0.1, busy_storm=0.2", FaultSpec(resend=0.1, busy_storm=0.2)),
    ("reset@line=5000,runaway@s=600", FaultSpec(reset_line=5000, runaway_s=600.0)),
    ("layer_shift@12=2.5:0,clog@20", FaultSpec(layer_shift=(12, 2.5, 0.0), clog_layer=20)),
    ("layer_shift@3", FaultSpec(layer_shift=(3, 2.5, 0.0))),
    ("under@15=0.5,spaghetti@30", FaultSpec(under=(15, 0.5), spaghetti_layer=30)),
    ("warp@6=1.5", FaultSpec(warp=(6, 1.5))),
    ("warp@6", FaultSpec(warp=(6, 2.0))),
]

BAD = [
    ("bogus=1", "unknown fault 'bogus=1'"),
    ("corrupt=2", "rate must be between 0 and 1"),
    ("corrupt=abc", "is not a number"),
    ("drop_ok", "needs a rate"),
    ("reset@5", "reset@line=N"),
    ("reset@line=x", "is not an integer"),
    ("runaway@s=", "runaway@s=SECONDS"),
    ("layer_shift@12=2.5", "DX:DY"),
    ("clog@x", "layer 'x' is not an integer"),
    ("clog@5=1", "takes no value"),
    ("under@4", "under@L=FACTOR"),
    ("spaghetti@-1", "layer must be between 0"),
    ("warp@6=high", "lift 'high' is not a number"),
    ("warp@6=-1", "lift must be between 0"),
]


@pytest.mark.parametrize("spec,expected", GOOD)
def test_valid_specs_parse(spec, expected):
    assert parse_faults(spec) == expected


@pytest.mark.parametrize("spec,message", BAD)
def test_malformed_specs_raise_with_a_clear_message(spec, message):
    with pytest.raises(FaultSpecError, match=message.replace("(", r"\(").replace("@", "@")):
        parse_faults(spec)


def test_corruption_schedule_is_deterministic_per_seed_and_matches_its_rate():
    data = bytes(range(256)) * 400
    a = FaultSchedule(parse_faults("corrupt=0.01"), seed=7).rx.apply(data)
    b = FaultSchedule(parse_faults("corrupt=0.01"), seed=7).rx.apply(data)
    c = FaultSchedule(parse_faults("corrupt=0.01"), seed=8).rx.apply(data)
    assert a == b and a != c
    flips = sum(x != y for x, y in zip(a, data))
    assert 0.007 * len(data) < flips < 0.013 * len(data)


def test_corruption_does_not_depend_on_how_the_stream_is_chunked():
    data = b"N1 G1 X1 Y1*12\n" * 2000
    whole = ByteCorrupter(0.02, random.Random("s")).apply(data)
    cor = ByteCorrupter(0.02, random.Random("s"))
    parts = b"".join(cor.apply(data[i:i + 37]) for i in range(0, len(data), 37))
    assert whole == parts


def test_ok_drops_and_resends_are_deterministic_per_seed():
    def run(seed):
        s = FaultSchedule(parse_faults("drop_ok=0.1,resend=0.2,busy_storm=0.05"), seed)
        return ([s.drop_ok() for _ in range(500)], [s.spurious_resend() for _ in range(500)],
                [s.busy_storm() for _ in range(500)])
    assert run(1) == run(1) != run(2)
    drops, resends, storms = run(1)
    assert 25 < sum(drops) < 80 and 60 < sum(resends) < 150 and sum(1 for x in storms if x) > 5
