"""A simulated printer (Marlin, Prusa-Firmware or Klipper replies) served on a pseudo-terminal and TCP;
independent of the host code."""
