"""History and queue state in SQL (SQLite by default): printers, files, jobs, runs, events, layer checks."""
from controller.store.db import Store

__all__ = ["Store"]
