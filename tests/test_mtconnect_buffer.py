"""The agent's circular buffer: sequence numbers, the window (first, last, next) as the ring wraps, pages that
never skip or repeat an observation, OUT_OF_RANGE, and the latest value per data item."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.publish.mtconnect_buffer import ObservationBuffer, SequenceOutOfRange


def test_window_of_an_empty_and_a_wrapped_buffer() -> None:
    buf = ObservationBuffer(4)
    w = buf.window()
    assert (w.first, w.last, w.next) == (1, 0, 1)
    for i in range(10):
        buf.add(f"item{i % 3}", float(i), str(i))
    w = buf.window()
    assert (w.first, w.last, w.next) == (7, 10, 11)
    found, _w, nxt = buf.sample(None, 4)
    assert [o.sequence for o in found] == [7, 8, 9, 10] and nxt == 11


def test_from_outside_the_buffer_is_out_of_range() -> None:
    buf = ObservationBuffer(4)
    for i in range(10):
        buf.add("x", float(i), str(i))
    with pytest.raises(SequenceOutOfRange, match="between 7 and 11"):
        buf.sample(6, 2)
    with pytest.raises(SequenceOutOfRange):
        buf.sample(12, 2)
    with pytest.raises(SequenceOutOfRange, match="'count'"):
        buf.sample(7, 0)
    assert buf.sample(11, 2)[0] == []


def test_a_repeated_value_is_not_observed_again() -> None:
    buf = ObservationBuffer(8)
    assert buf.add("temp", 1.0, "20.0") is not None
    assert buf.add("temp", 2.0, "20.0") is None
    assert buf.add("temp", 3.0, "20.5") is not None
    assert buf.add("cond", 3.0, "", "NORMAL") is not None
    assert buf.add("cond", 4.0, "hot", "FAULT", "THERMAL_RUNAWAY") is not None
    assert buf.window().next == 5


@given(capacity=st.integers(1, 40), values=st.lists(st.sampled_from("abcde"), max_size=150),
       page=st.integers(1, 50))
def test_paging_from_first_reads_the_window_exactly_once(capacity: int, values: list[str], page: int) -> None:
    buf = ObservationBuffer(capacity)
    for i, v in enumerate(values):
        buf.add(v, float(i), str(i))
    w = buf.window()
    assert w.next == len(values) + 1 and w.first == max(1, w.next - capacity) and w.last == w.next - 1
    seen: list[int] = []
    start = None
    while True:
        found, _w, nxt = buf.sample(start, min(page, capacity))
        seen += [o.sequence for o in found]
        if not found:
            break
        assert nxt == found[-1].sequence + 1
        start = nxt
    assert seen == list(range(w.first, w.next))
    latest, _w = buf.latest()
    assert {o.item: o.value for o in latest} == {v: str(i) for i, v in enumerate(values)}
