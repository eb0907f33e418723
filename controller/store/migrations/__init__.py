"""The Alembic environment of the store: `env.py`, the revision template and `versions/` (see README)."""
