"""The store's schema kept at the newest Alembic revision: fresh databases are built by the migrations,
databases made by `create_all` before migrations existed are recognised as the baseline, newer ones refused."""
from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, create_engine, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool

from controller.errors import StoreSchemaError

MIGRATIONS = Path(__file__).with_name("migrations")
# Any fixed number: hosts sharing one PostgreSQL database take this lock so only one migrates at a time.
_PG_LOCK_KEY = 0x7072_6C6F

Layout = dict[str, tuple[frozenset[str], frozenset[str]]]


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    """The Alembic config of the store, built in code: the packaged migrations and the database to act on."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["connection"] = connection
    return cfg


def baseline_revision() -> str:
    """The first revision: the schema as `create_all` made it before the store had migrations."""
    base = ScriptDirectory.from_config(alembic_config()).get_base()
    assert base is not None, f"no migrations under {MIGRATIONS}"
    return base


def _layout(conn: Connection, tables: set[str] | frozenset[str]) -> Layout:
    """Column and index names of the given tables as the database has them."""
    insp = inspect(conn)
    have = set(insp.get_table_names())
    return {t: (frozenset(c["name"] for c in insp.get_columns(t)),
                frozenset(str(i["name"]) for i in insp.get_indexes(t))) for t in tables if t in have}


@cache
def baseline_layout() -> Layout:
    """Tables, columns and indexes of the baseline revision, built once in a scratch in-memory database."""
    engine = create_engine("sqlite://", poolclass=StaticPool)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(connection=conn), baseline_revision())
            return _layout(conn, set(inspect(conn).get_table_names()) - {"alembic_version"})
    finally:
        engine.dispose()


def _has_baseline_tables(conn: Connection) -> bool:
    """Whether any table of the baseline is there (a database from before migrations, not a new one)."""
    tables = set(inspect(conn).get_table_names())
    return bool(tables and tables & set(baseline_layout()))


def _check_is_baseline(conn: Connection, where: str) -> None:
    """Refuse an unversioned database whose tables differ from the baseline's (stamping it would hide that)."""
    want = baseline_layout()
    have = _layout(conn, frozenset(want))
    problems = [f"table {t} is missing" for t in sorted(set(want) - set(have))]
    for t in sorted(have):
        (want_cols, want_ix), (have_cols, have_ix) = want[t], have[t]
        problems += [f"{t}.{c} is missing" for c in sorted(want_cols - have_cols)]
        problems += [f"{t}.{c} is not printloop's" for c in sorted(have_cols - want_cols)]
        problems += [f"index {i} is missing" for i in sorted(want_ix - have_ix)]
    if problems:
        raise StoreSchemaError(
            f"the database {where} has printloop tables but no schema revision (no alembic_version), and they "
            f"differ from the first printloop schema: {'; '.join(problems)}. Point database_url at a new "
            f"database, or repair these tables, then start again")


def _check_known(conn: Connection, cfg: Config, where: str) -> bool:
    """Whether the database has a schema revision; refuse one the migrations here do not know."""
    current = MigrationContext.configure(conn).get_current_heads()
    script = ScriptDirectory.from_config(cfg)
    for rev in current:
        try:
            known = script.get_revision(rev) is not None
        except CommandError:
            known = False
        if not known:
            raise StoreSchemaError(
                f"the database {where} is at schema revision {rev!r}, which this printloop does not know "
                f"(newest known: {script.get_current_head()!r}); it was written by a newer printloop. Install "
                f"that version (or newer) again, or point database_url at another database")
    return bool(current)


def upgrade_to_head(engine: Engine) -> None:
    """Bring the database to the newest revision, stamping a pre-migration one first.

    On PostgreSQL this is one transaction under an advisory lock, so hosts starting together migrate once.
    """
    where = engine.url.render_as_string(hide_password=True)
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:  # batch migrations copy tables; with foreign keys on, dropping the old copy would fail
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.commit()
        try:
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
                cfg = alembic_config(connection=conn)
                if not _check_known(conn, cfg, where) and _has_baseline_tables(conn):
                    _check_is_baseline(conn, where)
                    command.stamp(cfg, baseline_revision())
                command.upgrade(cfg, "head")
        finally:
            if sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()
