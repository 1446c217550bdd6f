"""The MetadataStore on SQLAlchemy 2: SQLite (WAL) by default, PostgreSQL by URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, InterfaceError, NoSuchModuleError, OperationalError
from sqlalchemy.exc import IntegrityError as SqlIntegrityError
from sqlalchemy.pool import StaticPool

from leanops.errors import ConfigError, StoreUnavailable, WriteRace

MIGRATIONS = Path(__file__).parent / "migrations"


class SqlUnit:
    """One transaction; each noun's repository is a view over its connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def flush(self) -> None:
        """Nothing is buffered in a Core connection; present for the Unit protocol."""

    def lock(self, key: str) -> None:
        """Hold `key` until this transaction ends, so writers that decide by it queue up.

        SQLite's IMMEDIATE transactions serialise writers already; PostgreSQL takes an advisory lock.
        """
        if self.conn.dialect.name == "postgresql":
            self.conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})

    @cached_property
    def identity(self) -> Any:
        from leanops.adapters.sql.identity import SqlIdentityRepo

        return SqlIdentityRepo(self.conn)

    @cached_property
    def audit(self) -> Any:
        from leanops.adapters.sql.audit import SqlAuditRepo

        return SqlAuditRepo(self.conn)

    @cached_property
    def exceptions(self) -> Any:
        from leanops.adapters.sql.exceptions import SqlExceptionRepo

        return SqlExceptionRepo(self.conn)

    @cached_property
    def policies(self) -> Any:
        from leanops.adapters.sql.policies import SqlPolicyApprovalRepo

        return SqlPolicyApprovalRepo(self.conn)

    @cached_property
    def refs(self) -> Any:
        from leanops.adapters.sql.refs import SqlRefRepo

        return SqlRefRepo(self.conn)

    @cached_property
    def datasets(self) -> Any:
        from leanops.adapters.sql.datasets import SqlDatasetRepo

        return SqlDatasetRepo(self.conn)

    @cached_property
    def models(self) -> Any:
        from leanops.adapters.sql.registry import SqlModelRepo

        return SqlModelRepo(self.conn)

    @cached_property
    def runs(self) -> Any:
        from leanops.adapters.sql.runs import SqlRunRepo

        return SqlRunRepo(self.conn)

    @cached_property
    def jobs(self) -> Any:
        from leanops.adapters.sql.jobs import SqlJobRepo

        return SqlJobRepo(self.conn)

    @cached_property
    def cost(self) -> Any:
        from leanops.adapters.sql.cost import SqlCostRepo

        return SqlCostRepo(self.conn)

    @cached_property
    def alerts(self) -> Any:
        from leanops.adapters.sql.alerts import SqlAlertRepo

        return SqlAlertRepo(self.conn)

    @cached_property
    def deployments(self) -> Any:
        from leanops.adapters.sql.serving import SqlDeploymentRepo

        return SqlDeploymentRepo(self.conn)


class SqlStore:
    """Metadata in a SQL database; schema changes only through Alembic migrations."""

    def __init__(self, url: str, *, echo: bool = False, create: bool = True) -> None:
        self.url = url
        self.engine = _engine(url, echo=echo, create=create)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[SqlUnit]:
        """Everything done on the yielded unit commits together, or not at all."""
        try:
            with self.engine.begin() as conn:
                yield SqlUnit(conn)
        except SqlIntegrityError as exc:  # a concurrent writer won a unique key: the caller's Conflict
            raise WriteRace(
                f"Another writer changed the same record at the same time ({_first_line(exc.orig)}).",
                hint="Retry the command; it will see the other writer's result.",
            ) from exc
        except (OperationalError, InterfaceError) as exc:
            if _serialization_failure(exc):
                raise WriteRace(
                    "A concurrent transaction touched the same records; nothing was written.",
                    hint="Retry the command.",
                ) from exc
            raise StoreUnavailable(
                f"The metadata store at {self.safe_url} failed: {_first_line(exc.orig)}.",
                hint="Check that the database is running and reachable; then retry.",
            ) from exc

    @property
    def safe_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    def _alembic(self, conn: Connection) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = conn
        return cfg

    def heads(self) -> set[str]:
        return set(ScriptDirectory(str(MIGRATIONS)).get_heads())

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except (OperationalError, InterfaceError) as exc:
            raise StoreUnavailable(
                f"The metadata store at {self.safe_url} is out of reach: {_first_line(exc.orig)}.",
                hint="Check that the database is running and reachable, and the URL in store.url; then retry.",
            ) from None

    def revision(self) -> str | None:
        with self._connect() as conn:
            heads = MigrationContext.configure(conn).get_current_heads()
        return ",".join(sorted(heads)) or None

    def needs_upgrade(self) -> bool:
        with self._connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
        return current != self.heads()

    def upgrade(self) -> str:
        """Bring the schema to the newest revision; safe to call any number of times."""
        try:
            with self.engine.begin() as conn:
                command.upgrade(self._alembic(conn), "heads")
        except OperationalError as exc:
            raise StoreUnavailable(
                f"Cannot migrate the metadata store at {self.safe_url}: {exc.orig}.",
                hint="Check that the database is running and that the user may create tables.",
            ) from exc
        return self.revision() or ""

    def close(self) -> None:
        self.engine.dispose()


def _first_line(error: object) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _serialization_failure(exc: Exception) -> bool:
    """PostgreSQL's serialization failure or deadlock (SQLSTATE 40001 / 40P01)."""
    return getattr(exc.orig, "sqlstate", None) in ("40001", "40P01")


def _engine(url: str, *, echo: bool, create: bool = True) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(
            f"store.url {url!r} is not a database URL.",
            hint="Use sqlite:///path/to/leanops.db or postgresql+psycopg://user@host:5432/db.",
        ) from None
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            kwargs |= {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
        else:
            folder = Path(parsed.database).parent
            if not create and not folder.is_dir():
                raise StoreUnavailable(
                    f"There is no leanops store at {parsed.database}: the folder {folder} does not exist.",
                    hint="Check store.url (a typo opens nothing), or create the project with `leanops init`.",
                )
            folder.mkdir(parents=True, exist_ok=True)
            kwargs |= {"connect_args": {"timeout": 30, "check_same_thread": False}}
    else:
        kwargs |= {"pool_pre_ping": True}
    try:
        engine = create_engine(parsed, **kwargs)
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        raise ConfigError(
            f"store.url uses the driver {parsed.drivername!r}, which is not installed ({exc}).",
            hint="For PostgreSQL: pip install 'leanops[postgres]' and use postgresql+psycopg://…",
        ) from None
    if engine.dialect.name == "sqlite":
        _sqlite_pragmas(engine)
    return engine


def _sqlite_pragmas(engine: Engine) -> None:
    """WAL for concurrent readers; IMMEDIATE transactions so writers queue instead of failing."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
