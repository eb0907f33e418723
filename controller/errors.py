"""Typed errors of the controller room; the API maps them to HTTP statuses."""


class ControllerError(Exception):
    """Base class for host errors a technician can act on."""


class PrinterLostError(ControllerError):
    """The printer stopped answering within the configured limits."""


class PrinterHaltedError(ControllerError):
    """The firmware halted or reset mid-job (kill, thermal runaway, `start` seen)."""


class JobError(ControllerError):
    """A job cannot be started, paused, resumed or cancelled in its present state."""


class ProtocolError(ControllerError):
    """The firmware asked for something the host cannot honour (a resend target outside the line history)."""
