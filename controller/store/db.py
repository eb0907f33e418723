"""The database handle: engine, schema kept at the newest migration, and short committed sessions."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from controller.errors import NotFoundError
from controller.store.schema import upgrade_to_head

R = TypeVar("R")


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    """WAL lets the API read while the queue writes; synchronous=FULL makes each commit survive a kill."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


class Store:
    """Owns the engine; every write happens in its own transaction, committed before returning."""

    def __init__(self, url: str) -> None:
        """Connect to `url` (SQLite file or PostgreSQL) and migrate its schema to head (StoreSchemaError if it
        cannot be)."""
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        kwargs: dict = {}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 10}
            if url in ("sqlite://", "sqlite:///:memory:"):
                kwargs["poolclass"] = StaticPool
        self.url = url
        self.engine: Engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            upgrade_to_head(self.engine)
        except BaseException:
            self.engine.dispose()
            raise
        self._factory = sessionmaker(self.engine, expire_on_commit=False)
        self.listeners: list[Callable[[Any], None]] = []  # told of each history event and layer check once committed

    def notify(self, record: Any) -> None:
        """Tell the listeners of a committed record (the service publishes history events on its bus)."""
        for listener in self.listeners:
            listener(record)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on error."""
        with self._factory() as s, s.begin():
            yield s

    def close(self) -> None:
        """Release all pooled connections."""
        self.engine.dispose()


def get_row(s: Session, model: type[R], key: int, what: str) -> R:
    """The row of `model` with primary key `key`, or NotFoundError naming `what` ("job", "run", ...)."""
    row = s.get(model, key)
    if row is None:
        raise NotFoundError(f"no {what} with id {key}")
    return row
