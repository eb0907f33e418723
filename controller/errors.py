"""Typed errors of the controller room; the API maps them to HTTP statuses."""


class ControllerError(Exception):
    """Base class for host errors a technician can act on."""


class PrinterLostError(ControllerError):
    """The printer stopped answering within the configured limits."""


class PrinterHaltedError(ControllerError):
    """The firmware halted or reset mid-job (kill, thermal runaway, `start` seen)."""


class JobError(ControllerError):
    """A job cannot be started, paused, resumed or cancelled in its present state."""


class ConfigError(ControllerError):
    """The service config is missing, unreadable or has a bad key."""


class UploadError(ControllerError):
    """An uploaded file is too big, badly named, or neither a mesh nor G-code."""


class NotFoundError(ControllerError):
    """A printer, job, file or layer check asked for does not exist."""


class ConflictError(ControllerError):
    """The request is valid but clashes with the present state (e.g. a name already in use)."""


class UploadTooLargeError(UploadError):
    """An upload is over the configured size limit."""


class ProtocolError(ControllerError):
    """The firmware asked for something the host cannot honour (a resend target outside the line history)."""


class StoreSchemaError(ControllerError):
    """The database's schema is one this version cannot use: newer than the software, or not made by printloop."""


class DatabaseError(ControllerError):
    """The database could not be started or reached (PostgreSQL missing, a cluster that would not start)."""
