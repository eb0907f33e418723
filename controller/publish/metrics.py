"""Prometheus metrics of the lab, for `GET /metrics`.

Two sources, each used where it is simplest and exact:
- a bus subscriber counts what printers report as it happens (resends, errors, pauses, jobs started…) and
  samples each link's byte count on every temperature report, for a bytes/s gauge without a polling thread;
- a custom collector reads the rest at scrape time: state, temperatures and progress from the fleet, lines and
  bytes from the links, and copies, jobs and layer verdicts from the store (counted over the whole history, so
  they survive a restart of the service).
"""
from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

from prometheus_client import GC_COLLECTOR, CollectorRegistry, Counter, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from controller.events import Event
from controller.farm.service import LabService
from controller.store import printers, tallies
from controller.store.records import RUN_FINAL

PRINTER_STATES = ("offline", "idle", "printing", "paused", "awaiting_clear", "needs_attention", "error")
"""Every state a printer can be in (see `controller.store.records`); one series each, 1 for the current."""
JOB_STATES = ("slicing", "queued", "printing", "done", "failed", "cancelled")
COUNTED_KINDS = frozenset({"connected", "error", "firmware_error", "reset", "poke", "resend_ignored", "action",
                           "job_started", "layer", "paused", "resumed", "completed", "cancelled", "failed",
                           "object_skipped"})
"""Printer events counted by kind in printloop_printer_events_total."""
RATE_WINDOW_S = 10.0
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class LinkRates:
    """Bytes/s written on each printer's link over the last few seconds, from (time, bytes) samples."""

    def __init__(self, window_s: float = RATE_WINDOW_S) -> None:
        """Keep samples for `window_s` seconds."""
        self.window_s = window_s
        self._samples: dict[str, deque[tuple[float, int]]] = {}
        self._lock = threading.Lock()

    def add(self, printer: str, t: float, sent: int) -> None:
        """Record that `sent` bytes had been written by time `t` (a smaller count means the link reconnected)."""
        with self._lock:
            samples = self._samples.setdefault(printer, deque())
            if samples and sent < samples[-1][1]:
                samples.clear()
            samples.append((t, sent))
            while len(samples) > 2 and t - samples[1][0] >= self.window_s:
                samples.popleft()

    def rate(self, printer: str) -> float:
        """Bytes/s between the oldest kept sample and the newest; 0 until two samples half a second apart."""
        with self._lock:
            samples = self._samples.get(printer)
            if not samples or len(samples) < 2:
                return 0.0
            (t0, b0), (t1, b1) = samples[0], samples[-1]
        return (b1 - b0) / (t1 - t0) if t1 - t0 >= 0.5 else 0.0


class LabCollector(Collector):
    """Reads the fleet, the links and the store when Prometheus scrapes."""

    def __init__(self, service: LabService, rates: LinkRates, clock: Callable[[], float]) -> None:
        """Wire the service, the link-rate samples and a monotonic clock."""
        self.service, self.rates, self.clock = service, rates, clock

    def describe(self) -> Iterable[Metric]:
        """Nothing up front: the series depend on the printers configured at scrape time."""
        return []

    def collect(self) -> Iterable[Metric]:
        """One consistent reading of every per-printer gauge and every store-backed counter."""
        yield from self._printers()
        yield from self._history()

    def _printers(self) -> Iterable[Metric]:
        """State, link, temperatures and progress of every printer."""
        fleet = self.service.fleet
        state = GaugeMetricFamily("printloop_printer_state", "1 for the printer's current state, 0 for the others",
                                  labels=["printer", "state"])
        up = GaugeMetricFamily("printloop_printer_connected", "1 while the printer's link is open",
                               labels=["printer"])
        temp = GaugeMetricFamily("printloop_temperature_celsius", "Heater temperature reported by the firmware",
                                 labels=["printer", "heater", "kind"])
        progress = GaugeMetricFamily("printloop_print_progress_ratio",
                                     "Fraction of the running copy's G-code acknowledged (0-1)", labels=["printer"])
        layer = GaugeMetricFamily("printloop_print_layer", "Layer the running copy is on (0-based)",
                                  labels=["printer"])
        layers = GaugeMetricFamily("printloop_print_layers", "Layers in the running copy", labels=["printer"])
        left = GaugeMetricFamily("printloop_print_time_left_seconds", "Time left of the running copy, planned",
                                 labels=["printer"])
        lines = CounterMetricFamily("printloop_link_sent_lines", "Numbered lines written to the printer since "
                                    "its link opened (resent lines count again)", labels=["printer"])
        sent = CounterMetricFamily("printloop_link_sent_bytes", "Bytes written to the printer since its link "
                                   "opened", labels=["printer"])
        rate = GaugeMetricFamily("printloop_link_sent_bytes_per_second",
                                 f"Bytes/s written to the printer over the last {RATE_WINDOW_S:.0f} s",
                                 labels=["printer"])
        now = self.clock()
        for p in printers.list_printers(self.service.store):
            name = p.name
            for s in PRINTER_STATES:
                state.add_metric([name, s], 1.0 if p.state == s else 0.0)
            temps, _run, connected = fleet.live(name)
            up.add_metric([name], 1.0 if connected else 0.0)
            if temps is not None:
                for heater, actual, target in (("tool0", temps.hotend, temps.hotend_target),
                                               ("bed", temps.bed, temps.bed_target)):
                    temp.add_metric([name, heater, "actual"], actual)
                    temp.add_metric([name, heater, "target"], target)
            planned = fleet.planned(name)
            if planned is not None:
                progress.add_metric([name], max(0.0, min(1.0, planned.percent / 100.0)))
                layer.add_metric([name], max(planned.layer, 0))
                layers.add_metric([name], planned.layer_count)
                if planned.time_left_s is not None:
                    left.add_metric([name], planned.time_left_s)
            counts = fleet.link_counts(name)
            if counts is not None:
                lines.add_metric([name], counts.lines_sent)
                sent.add_metric([name], counts.bytes_sent)
                self.rates.add(name, now, counts.bytes_sent)
                rate.add_metric([name], self.rates.rate(name))
        yield from (state, up, temp, progress, layer, layers, left, lines, sent, rate)

    def _history(self) -> Iterable[Metric]:
        """Copies by outcome, the queue, jobs by state and layer verdicts, counted in the store."""
        store = self.service.store
        copies = CounterMetricFamily("printloop_copies_finished", "Copies that ended, by printer and outcome",
                                     labels=["printer", "outcome"])
        active = GaugeMetricFamily("printloop_copies_printing", "Copies printing or paused now",
                                   labels=["printer"])
        queued = GaugeMetricFamily("printloop_queue_copies", "Copies waiting in the queue for a printer")
        waiting = 0
        for (printer, state), n in sorted(tallies.runs_by_printer_and_state(store).items()):
            if state in RUN_FINAL and printer:
                copies.add_metric([printer, state], n)
            elif state in ("printing", "paused") and printer:
                active.add_metric([printer], n)
            elif state == "queued":
                waiting += n
        queued.add_metric([], waiting)
        jobs = GaugeMetricFamily("printloop_jobs", "Jobs in each state", labels=["state"])
        by_state = tallies.jobs_by_state(store)
        for s in sorted(set(JOB_STATES) | set(by_state)):
            jobs.add_metric([s], by_state.get(s, 0))
        verdicts = CounterMetricFamily("printloop_layer_verdicts", "Layer checks by printer and verdict class",
                                       labels=["printer", "verdict"])
        for (printer, verdict), n in sorted(tallies.verdicts_by_printer(store).items()):
            verdicts.add_metric([printer, verdict], n)
        yield from (copies, active, queued, jobs, verdicts)


class Metrics:
    """The service's Prometheus registry: bus-fed counters, the scrape-time collector, request latency."""

    def __init__(self, service: LabService, clock: Callable[[], float] = time.monotonic) -> None:
        """Register every metric and subscribe to the service's bus."""
        self.service, self.clock = service, clock
        self.registry = CollectorRegistry()
        self.rates = LinkRates()
        self.resends = Counter("printloop_link_resends", "Lines the firmware asked to be sent again",
                               ["printer"], registry=self.registry)
        self.events = Counter("printloop_printer_events", "Printer events by kind (errors, pauses, layers...)",
                              ["printer", "kind"], registry=self.registry)
        self.requests = Histogram("printloop_http_request_duration_seconds",
                                  "API request latency, from the request to the response's start",
                                  ["method", "route", "status"], buckets=LATENCY_BUCKETS,
                                  registry=self.registry)
        self.registry.register(LabCollector(service, self.rates, clock))
        ProcessCollector(registry=self.registry)  # process_cpu_seconds_total, process_resident_memory_bytes…
        self.registry.register(GC_COLLECTOR)
        self.subscription = service.bus.subscribe(self._on_event, COUNTED_KINDS | {"resend", "temperature"},
                                                  name="prometheus")

    def _on_event(self, event: Event) -> None:
        """Count a printer's event; a temperature report also samples its link's byte count."""
        printer = event.printer or ""
        if event.kind == "resend":
            self.resends.labels(printer).inc()
        elif event.kind == "temperature":
            counts = self.service.fleet.link_counts(printer)
            if counts is not None:
                self.rates.add(printer, self.clock(), counts.bytes_sent)
        else:
            self.events.labels(printer, event.kind).inc()

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Record one API request's latency."""
        self.requests.labels(method, route, str(status)).observe(seconds)

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The metrics in the format the scraper asked for (OpenMetrics or Prometheus text) and its type."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type

    def close(self) -> None:
        """Stop listening to the bus."""
        self.service.bus.unsubscribe(self.subscription)
