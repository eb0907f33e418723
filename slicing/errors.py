"""Typed errors of the slicing room; messages are written for the person who gave the input."""


class SlicingError(Exception):
    """Base class: anything the slicer refuses, with a message a technician can act on."""


class MeshError(SlicingError):
    """The mesh file is unreadable, empty, broken beyond repair, or does not fit the machine."""


class ProfileError(SlicingError):
    """A profile option is unknown, of the wrong type, or outside its allowed range."""


class GcodeReadError(SlicingError):
    """A G-code file cannot be read back into toolpaths."""


class SequentialError(SlicingError):
    """Copies cannot be printed one after another without the head or the gantry hitting a finished copy."""
