"""Layer-by-layer checking of camera images against the reference built from the G-code."""
