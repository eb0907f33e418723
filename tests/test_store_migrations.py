"""The store's schema is made and kept by its Alembic migrations: they build exactly what the models describe,
a database from before migrations is taken over with its rows, and one from a newer printloop is refused."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import JSON, Connection, Engine, create_engine, inspect, text

from controller.errors import StoreSchemaError
from controller.store import Store, history, jobs, printers
from controller.store.models import Base
from controller.store.schema import alembic_config
from tests.conftest import REPO

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


@pytest.fixture
def other_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A second empty database on the same engine as `db_url`."""
    if request.node.callspec.params["db_url"] == "sqlite":
        return f"sqlite:///{tmp_path / 'other.db'}"
    return str(request.getfixturevalue("pg_cluster").create_database(f"other_{tmp_path.name[-20:].lower()}"))


def _reflected(engine: Engine) -> dict[str, Any]:
    """Everything the database says about each printloop table, in a comparable form."""
    insp = inspect(engine)
    out: dict[str, Any] = {}
    for t in sorted(set(insp.get_table_names()) - {"alembic_version"}):
        out[t] = {
            "columns": [(c["name"], str(c["type"]), c["nullable"], c["default"]) for c in insp.get_columns(t)],
            "pk": insp.get_pk_constraint(t)["constrained_columns"],
            "fks": sorted((tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))
                          for f in insp.get_foreign_keys(t)),
            "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                              for i in insp.get_indexes(t)),
            "unique": sorted(tuple(u["column_names"]) for u in insp.get_unique_constraints(t)),
        }
    return out


def _versions(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))]


def _migrate(url: str, revision: str = "head") -> Engine:
    """An empty database brought to `revision` by the migrations alone."""
    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(connection=conn), revision)
    return engine


def _json_default_differs(_ctx: Any, _inspected: Any, column: Any, inspected: str | None, _meta: Any,
                          rendered: str | None) -> bool | None:
    """PostgreSQL's json type has no `=`, so Alembic cannot ask the server to compare its defaults: compare text."""
    if not isinstance(column.type, JSON):
        return None
    return (inspected or "").removesuffix("::json").strip("'") != (rendered or "").strip("'")


def _diff(conn: Connection) -> list[Any]:
    ctx = MigrationContext.configure(conn, opts={"compare_type": True,
                                                 "compare_server_default": _json_default_differs})
    return compare_metadata(ctx, Base.metadata)


def _database_with_rows(url: str, revision: str) -> Engine:
    """A database brought to `revision` by the migrations, with a printer, a file, a queued job and its run and
    an event in it (rows the database numbers itself, as the store writes them)."""
    engine = _migrate(url, revision)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO printers (name, port, baud, on_failure, state, message, removed, "
                          "created_at) VALUES ('mk3', '/dev/ttyACM0', 115200, 'pause', 'offline', '', false, 1.0)"))
        conn.execute(text("INSERT INTO files (name, path, kind, size, sha256, created_at) "
                          "VALUES ('cube.gcode', '/data/cube.gcode', 'gcode', 10, :h, 1.0)"), {"h": "0" * 64})
        conn.execute(text("INSERT INTO jobs (file_id, name, copies, priority, printers, state, slice_progress, "
                          "gcode_path, layer_count, message, created_at) VALUES (1, 'cube', 1, 0, '[\"mk3\"]', "
                          "'queued', 0.0, '/data/cube.gcode', 5, '', 2.0)"))
        conn.execute(text("INSERT INTO runs (job_id, copy_index, state, excluded, layer, layer_count, percent, "
                          "message, created_at) VALUES (1, 0, 'queued', '[]', -1, 5, 0.0, '', 2.0)"))
        conn.execute(text("INSERT INTO events (job_id, t, kind, message, data) "
                          "VALUES (1, 2.0, 'job_created', 'cube queued', '{}')"))
    return engine


def _legacy_database(url: str) -> None:
    """A database as the store made it before migrations (the baseline revision's tables, no
    `alembic_version`), with a few rows in it."""
    from controller.store.schema import baseline_revision

    engine = _database_with_rows(url, baseline_revision())
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
    engine.dispose()


def test_migrations_build_exactly_the_schema_the_models_describe(db_url: str, other_db_url: str) -> None:
    engine = _migrate(db_url)
    with engine.connect() as conn:
        assert _diff(conn) == [], "a model changed without a migration: run python -m controller.store.migrate"
    made_by_create_all = create_engine(other_db_url)
    Base.metadata.create_all(made_by_create_all)
    assert _reflected(engine) == _reflected(made_by_create_all)
    assert _versions(engine) == [HEAD]


def test_new_store_is_built_by_the_migrations_at_head(db_url: str) -> None:
    store = Store(db_url)
    assert _versions(store.engine) == [HEAD]
    with store.engine.connect() as conn:
        assert _diff(conn) == []
    store.close()


def test_database_made_by_create_all_is_recognised_as_baseline_and_keeps_its_rows(db_url: str) -> None:
    url = db_url
    _legacy_database(url)
    store = Store(url)
    assert _versions(store.engine) == [HEAD]
    assert [p.name for p in printers.list_printers(store)] == ["mk3"]
    job = jobs.list_jobs(store)[0]
    assert (job.name, job.printers, job.counts) == ("cube", ["mk3"], {"queued": 1})
    assert [e.message for e in history.list_events(store)] == ["cube queued"]
    run, gcode = jobs.claim_next_run(store, "mk3", 3.0) or (None, None)
    assert run is not None and gcode == "/data/cube.gcode"
    assert (run.objects, run.skipped, run.replaces) == ([], [], None)   # an old run prints the whole plate
    store.close()


def test_unversioned_database_with_other_tables_is_refused_naming_what_differs(db_url: str) -> None:
    url = db_url
    _legacy_database(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE temperatures"))
        conn.execute(text("ALTER TABLE printers ADD COLUMN colour VARCHAR(16)"))
    with pytest.raises(StoreSchemaError) as err:
        Store(url)
    assert "table temperatures is missing" in str(err.value)
    assert "printers.colour" in str(err.value)
    assert "alembic_version" not in inspect(engine).get_table_names()


def test_database_from_a_newer_printloop_is_refused_naming_its_revision(db_url: str) -> None:
    url = db_url
    Store(url).close()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed1234'"))
    with pytest.raises(StoreSchemaError) as err:
        Store(url)
    message = str(err.value)
    assert "'f00dfeed1234'" in message and "newer printloop" in message and str(HEAD) in message
    assert _versions(engine) == ["f00dfeed1234"]


def test_opening_twice_changes_nothing(db_url: str) -> None:
    url = db_url
    first = Store(url)
    printers.upsert_printer(first, "mk3", "/dev/ttyACM0")
    first.close()
    schema = _reflected(create_engine(url))
    second = Store(url)
    assert _versions(second.engine) == [HEAD]
    assert _reflected(second.engine) == schema
    assert [p.name for p in printers.list_printers(second)] == ["mk3"]
    second.close()


def test_in_memory_store_is_migrated_on_its_single_connection() -> None:
    store = Store("sqlite://")
    printers.upsert_printer(store, "mk3", "/dev/ttyACM0")
    assert _versions(store.engine) == [HEAD]
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    store.close()


def test_postgresql_sql_of_the_migrations_is_written_by_the_helper() -> None:
    out = subprocess.run([sys.executable, "-m", "controller.store.migrate", "upgrade", "--url",
                          "postgresql://printloop@db.example/printloop", "--sql"], cwd=REPO, capture_output=True,
                         text=True, timeout=60, check=True).stdout
    assert "CREATE TABLE runs (" in out and "id SERIAL NOT NULL" in out
    assert "CREATE INDEX ix_temperatures_printer_t ON temperatures (printer_id, t)" in out
    assert "INSERT INTO alembic_version" in out and f"'{HEAD}'" in out


def test_database_of_the_previous_head_upgrades_to_hosts_keeping_every_row(db_url: str) -> None:
    engine = _database_with_rows(db_url, "4941e68421c9")
    before = {t: _rows(engine, t) for t in ("printers", "files", "jobs", "runs", "events")}
    engine.dispose()
    store = Store(db_url)
    assert _versions(store.engine) == [HEAD]
    after = {t: _rows(store.engine, t) for t in before}
    assert {t: [r[:len(before[t][0])] for r in rows] for t, rows in after.items()} == before
    printer = printers.get_printer(store, "mk3")
    assert printer.host is None, "a printer from before hosts belongs to no host until one adopts it"
    run, _ = jobs.claim_next_run(store, "mk3", 3.0) or (None, None)
    assert run is not None and run.job_id == 1
    store.close()


def _rows(engine: Engine, table: str) -> list[tuple[Any, ...]]:
    """Every row of a table in id order, its columns in table order."""
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY id"))]
