"""Alembic environment, configured in code by `controller.store.schema.alembic_config` (no alembic.ini).

Online, the caller hands over an open connection in `config.attributes["connection"]`, so the migrations run
inside its transaction (and on the very connection of an in-memory SQLite store). Offline (`--sql`), the SQL for
the URL's dialect is written out instead.
"""
from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from controller.store.models import Base

config = context.config
target_metadata = Base.metadata


def _batch(dialect_name: str) -> bool:
    """Batch mode (copy and move tables) on SQLite, which cannot ALTER most things in place."""
    return dialect_name == "sqlite"


def run_offline() -> None:
    """Write the migrations' SQL for the configured URL without connecting."""
    url = config.get_main_option("sqlalchemy.url")
    assert url, "offline migrations need sqlalchemy.url"
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True,
                      dialect_opts={"paramstyle": "named"}, render_as_batch=_batch(url.split(":", 1)[0].split("+")[0]),
                      compare_type=True, compare_server_default=True)
    with context.begin_transaction():
        context.run_migrations()


def run_on(connection: Connection) -> None:
    """Run the migrations on an open connection (inside its transaction, if it has one)."""
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=_batch(connection.dialect.name), compare_type=True,
                      compare_server_default=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Run on the caller's connection, or on a fresh one to the configured URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    assert url, "online migrations need a connection or sqlalchemy.url"
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            run_on(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
