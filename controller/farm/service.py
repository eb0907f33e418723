"""The lab service as one object: config, store, fleet and intake, started and stopped together."""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from controller.config import ServiceConfig
from controller.farm.driver import PrinterDriver
from controller.farm.fleet import Fleet
from controller.farm.intake import Intake
from controller.store import Store, printers
from controller.store.records import Printer


def session_driver(printer: Printer) -> PrinterDriver:
    """The default driver factory: a real serial session."""
    from controller.farm.session_driver import SessionDriver

    return SessionDriver(printer)


class LabService:
    """Everything `printloop serve` runs; the API holds one of these."""

    def __init__(self, config: ServiceConfig, make_driver: Callable[[Printer], PrinterDriver] = session_driver,
                 clock: Callable[[], float] = time.time) -> None:
        """Open the store, register the configured printers and prepare the fleet (not started yet)."""
        self.config, self.clock = config, clock
        self.data_dir = Path(config.data_dir).resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(config.db_url)
        for p in config.printers:
            printers.upsert_printer(self.store, p.name, p.port, p.baud, p.camera, p.profile, p.on_failure, clock())
        self.fleet = Fleet(self.store, self.data_dir, make_driver, clock, config.temperature_interval_s)
        self.intake = Intake(self.store, self.data_dir, config.default_profile, clock)
        self.fleet.recover()

    @property
    def upload_dir(self) -> Path:
        """Where uploads are kept."""
        return self.data_dir / "uploads"

    def start(self, interval_s: float = 0.2) -> None:
        """Start the fleet's loop."""
        self.fleet.start(interval_s)

    def stop(self) -> None:
        """Stop the fleet, the slicer and the store."""
        self.fleet.stop()
        self.intake.close()
        self.store.close()
