"""A simulated Marlin-style printer served on a pseudo-terminal and TCP; independent of the host code."""
