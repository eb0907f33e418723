"""Typed errors of the vision room."""


class VisionError(Exception):
    """Base class for vision errors a technician can act on."""


class RegistrationError(VisionError):
    """The bed cannot be found in the camera image (markers missing, calibration absent)."""


class CameraError(VisionError):
    """The camera source cannot be opened or gave no image."""


class VisionConfigError(VisionError):
    """A `[vision]` option in the profile is unknown or out of range."""
