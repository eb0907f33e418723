"""Mesh to Marlin G-code, and any slicer's G-code back to per-layer toolpaths."""
