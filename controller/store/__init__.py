"""History and queue state in SQL (SQLite by default): printers, files, jobs, runs, events, layer checks, users."""
from controller.store import build_chain as build_chain  # registers the build records table
from controller.store import disposition as disposition  # registers the dispositions table
from controller.store import maintenance as maintenance  # registers its table on the schema's metadata
from controller.store import notifications as notifications  # registers its table on the schema's metadata
from controller.store import upkeep as upkeep  # registers maintenance_log and run_filament on the metadata
from controller.store import users as users  # registers the account tables on the schema's metadata
from controller.store.db import Store

__all__ = ["Store"]
