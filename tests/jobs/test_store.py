"""The jobs schema: migration 0005_jobs builds exactly the tables the code declares."""

from __future__ import annotations

from pathlib import Path


def test_migration_matches_the_jobs_tables(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from leanops.adapters.sql.store import SqlStore
    from leanops.adapters.sql.tables import metadata

    store = SqlStore(f"sqlite:///{tmp_path / 'schema.db'}")
    store.upgrade()
    with store.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    store.close()
    ours = [d for d in diffs if "job" in repr(d)]
    assert ours == []
