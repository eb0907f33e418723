"""Typed errors of the simulated printer (configuration and serving; device-side errors are protocol replies)."""


class SimError(Exception):
    """Base class for simulator errors a person can act on."""


class FaultSpecError(SimError):
    """A `--faults` specification cannot be parsed."""


class SimOptionError(SimError):
    """A `printloop sim` option is out of range (speed, resolution, buffer sizes, ports)."""
