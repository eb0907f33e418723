"""The lab service as one object: config, store, fleet and intake, started and stopped together."""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from controller.config import ServiceConfig
from controller.events import LAYER_CHECKED, LOGGED, EventBus
from controller.events import Event as BusEvent
from controller.farm.driver import PrinterDriver
from controller.farm.fleet import Fleet
from controller.farm.heartbeat import Heartbeat
from controller.farm.intake import Intake
from controller.farm.remote_commands import CommandListener
from controller.store import Store, build_seal, history, hosts, printers
from controller.store.records import LayerCheck, Printer
from controller.store.spoolman import SpoolmanSpools
from controller.store.spools import LocalSpools, SpoolStore


class Publisher(Protocol):
    """A subscriber of the bus that leaves the house (MQTT, OPC UA; see controller.publish.wiring)."""

    def start(self) -> None: ...
    def stop(self) -> None: ...


def session_driver(printer: Printer, bus: EventBus | None = None) -> PrinterDriver:
    """The default driver factory: a real serial session publishing on the service's bus."""
    from controller.farm.session_driver import SessionDriver

    return SessionDriver(printer, bus)


class LabService:
    """Everything `printloop serve` runs; the API holds one of these."""

    def __init__(self, config: ServiceConfig, make_driver: Callable[[Printer], PrinterDriver] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        """Open the store, register the configured printers and prepare the fleet (not started yet)."""
        self.config, self.clock = config, clock
        self.bus = EventBus(clock)
        if make_driver is None:
            def make_driver(p: Printer) -> PrinterDriver:
                return session_driver(p, self.bus)
        self.data_dir = Path(config.data_dir).resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(config.db_url)
        self._history = history.record_printer_events(self.store, self.bus)
        self._sealer = build_seal.seal_on_bus(self.store, self.bus, clock)  # build records, as copies end
        self.store.listeners.append(self._logged)
        self.host = config.host_name
        hosts.heartbeat(self.store, self.host, clock())
        for p in config.printers:
            hosts.claim_printer(self.store, p.name, self.host, clock(), config.host_timeout_s)
            printers.upsert_printer(self.store, p.name, p.port, p.baud, p.camera, p.profile, p.on_failure, clock(),
                                    host=self.host, caps=p.capabilities)
        hosts.adopt_printers(self.store, self.host)
        self.spools: SpoolStore = SpoolmanSpools(config.spoolman_url) if config.spoolman_url \
            else LocalSpools(self.store)
        self.fleet = Fleet(self.store, self.data_dir, make_driver, clock, config.temperature_interval_s,
                           host=self.host, spool_store=self.spools)
        self.heartbeat = Heartbeat(self.store, self.fleet, self.host, config.host_timeout_s, clock)
        self.commands = CommandListener(self.store, self.fleet, self.host, clock)
        self.intake = Intake(self.store, self.data_dir, config.default_profile, clock)
        self.fleet.recover()
        self.publishers: dict[str, Publisher] = {}  # added by the layer above (controller.publish.wiring)

    def _logged(self, record: history.Event | LayerCheck) -> None:
        """A history event or layer check was committed: publish it (the live stream pushes events to every
        client; publishers send layer verdicts on)."""
        if isinstance(record, LayerCheck):
            self.bus.publish(BusEvent(LAYER_CHECKED, f"layer {record.layer}: {record.verdict}", record.t,
                                      {"check": record}))
        else:
            self.bus.publish(BusEvent(LOGGED, record.message, record.t, {"event": record}, record.printer))

    @property
    def upload_dir(self) -> Path:
        """Where uploads are kept."""
        return self.data_dir / "uploads"

    def add_publisher(self, name: str, publisher: Publisher) -> None:
        """Run a publisher with the service (started and stopped with it); one per name."""
        self.publishers.setdefault(name, publisher)

    def start(self, interval_s: float = 0.2) -> None:
        """Start the publishers, then the fleet's loop."""
        for publisher in self.publishers.values():
            publisher.start()
        self.heartbeat.start()
        self.commands.start()
        self.fleet.start(interval_s)

    def stop(self) -> None:
        """Stop the fleet, the heartbeat, the publishers, the slicer and the store."""
        self.commands.stop()
        self.fleet.stop()
        self.heartbeat.stop()
        for publisher in self.publishers.values():
            publisher.stop()
        self.intake.close()
        if isinstance(self.spools, SpoolmanSpools):
            self.spools.close()
        self.bus.close()
        self.store.close()
