"""Tracked runs in SQL: batched metric writes and search as one indexed join."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    String,
    Table,
    and_,
    delete,
    insert,
    literal_column,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.sql import ColumnElement

from leanops.adapters.sql.tables import (
    run_datasets,
    run_latest_metrics,
    run_metrics,
    run_params,
    run_tags,
    runs,
)
from leanops.runs.models import (
    PARAM_INDEX_LENGTH,
    CodeVersion,
    DatasetUse,
    Environment,
    MetricPoint,
    ParamRow,
    RunFilter,
    RunRecord,
    RunStatus,
    SearchPage,
    flagged_value,
)

PAGE_COLUMNS = (
    "id",
    "status",
    "owner",
    "purpose",
    "zone",
    "start_time",
    "end_time",
    "approval",
    "code_commit",
    "data_class",
)
RAW_TIME_COLUMNS = ("start_time", "end_time")
STATS_MIN_RUNS = 500  # below this every plan is fast; statistics start to matter above it


class SqlRunRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- writes ---------------------------------------------------------------------------

    def add(self, run: RunRecord) -> None:
        self.conn.execute(
            insert(runs).values(
                id=run.id,
                owner=run.owner,
                purpose=run.purpose,
                status=str(run.status),
                approval=str(run.approval),
                zone=run.zone,
                start_time=run.start_time,
                end_time=run.end_time,
                code_commit=run.code.commit,
                code_dirty=run.code.dirty,
                code_remote=run.code.remote,
                features=list(run.features),
                environment=run.environment.model_dump() if run.environment else {},
                data_class=run.data_class,
                missing=list(run.missing),
                pid=run.pid,
                hostname=run.hostname,
                heartbeat_at=run.heartbeat_at,
            )
        )

    def finish(self, run_id: str, status: RunStatus, end_time: datetime, missing: list[str]) -> None:
        self.conn.execute(
            update(runs).where(runs.c.id == run_id).values(status=str(status), end_time=end_time, missing=list(missing))
        )

    def heartbeat(self, run_id: str, at: datetime) -> None:
        self.conn.execute(update(runs).where(runs.c.id == run_id).values(heartbeat_at=at))

    def add_params(self, run_id: str, params: Sequence[ParamRow]) -> None:
        rows = [
            {"run_id": run_id, "key": k, "value": v, "value_key": v[:PARAM_INDEX_LENGTH], "value_num": n}
            for k, v, n in params
        ]
        if rows:
            self.conn.execute(insert(run_params), rows)

    def add_metrics(
        self, run_id: str, points: Sequence[MetricPoint], first_seq: int, latest: Mapping[str, MetricPoint]
    ) -> None:
        """Every point in one executemany INSERT, then one upsert per metric of its latest point."""
        if not points:
            return
        _executemany(
            self.conn,
            run_metrics,
            ("run_id", "seq", "key", "step", "value", "ts", "flag"),
            [(run_id, seq, *point) for seq, point in enumerate(points, first_seq)],
        )
        self._upsert_latest(run_id, list(latest.values()))

    def _upsert_latest(self, run_id: str, points: list[MetricPoint]) -> None:
        if self.conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as upsert
        else:
            from sqlalchemy.dialects.sqlite import insert as upsert
        t = run_latest_metrics
        stmt = upsert(t)
        new = stmt.excluded
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c.run_id, t.c.key],
            set_={"value": new.value, "step": new.step, "ts": new.ts, "flag": new.flag},
            where=(new.step > t.c.step) | ((new.step == t.c.step) & (new.ts >= t.c.ts)),
        )
        self.conn.execute(
            stmt,
            [{"run_id": run_id, "key": k, "step": s, "value": v, "ts": ts, "flag": f} for k, s, v, ts, f in points],
        )

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        if not tags:
            return
        self.conn.execute(delete(run_tags).where(run_tags.c.run_id == run_id, run_tags.c.key.in_(list(tags))))
        self.conn.execute(insert(run_tags), [{"run_id": run_id, "key": k, "value": v} for k, v in tags.items()])

    def add_datasets(self, run_id: str, datasets: Sequence[DatasetUse]) -> None:
        if datasets:
            self.conn.execute(
                insert(run_datasets),
                [
                    {"run_id": run_id, "dataset_id": d.id, "ref": d.ref, "name": d.name, "data_class": d.data_class}
                    for d in datasets
                ],
            )

    # -- reads ----------------------------------------------------------------------------

    def get(self, run_id: str) -> RunRecord | None:
        row = self.conn.execute(select(runs).where(runs.c.id == run_id)).mappings().first()
        if row is None:
            return None
        record = _record(row)
        record.params = {
            k: v
            for k, v in self.conn.execute(
                select(run_params.c.key, run_params.c.value)
                .where(run_params.c.run_id == run_id)
                .order_by(run_params.c.key)
            )
        }
        t = run_latest_metrics.c
        record.metrics = {
            k: flagged_value(v, f)
            for k, v, f in self.conn.execute(select(t.key, t.value, t.flag).where(t.run_id == run_id).order_by(t.key))
        }
        record.tags = {
            k: v
            for k, v in self.conn.execute(
                select(run_tags.c.key, run_tags.c.value).where(run_tags.c.run_id == run_id).order_by(run_tags.c.key)
            )
        }
        d = run_datasets.c
        record.datasets = [
            DatasetUse(id=i, ref=ref, name=name, data_class=c)
            for i, ref, name, c in self.conn.execute(
                select(d.dataset_id, d.ref, d.name, d.data_class).where(d.run_id == run_id).order_by(d.dataset_id)
            )
        ]
        return record

    def running(self) -> list[RunRecord]:
        rows = self.conn.execute(select(runs).where(runs.c.status == str(RunStatus.RUNNING))).mappings()
        return [_record(r) for r in rows]

    def metric_history(self, run_id: str, key: str) -> list[MetricPoint]:
        c = run_metrics.c
        q = select(c.key, c.step, c.value, c.ts, c.flag).where(c.run_id == run_id, c.key == key).order_by(c.step, c.seq)
        return [tuple(r) for r in self.conn.execute(q)]  # type: ignore[misc]

    def search(self, flt: RunFilter) -> SearchPage:
        """The page of matching runs, then the params, latest metrics and tags of that page only.

        One SELECT finds the page: an inner query over the key/value tables, whose covering
        indexes (key, value, run_id) answer each filter without touching a row, picks the
        ordered, limited run ids; the runs table joins only those.
        """
        self._refresh_statistics()
        page_q = self._page_query(flt).subquery("page")
        sort_columns = [c for c in page_q.c if c.name.startswith("s")]
        descending = _descending(flt)
        # Times come back as the driver gives them; the frame converts them in one vectorised step.
        columns = [
            type_coerce(runs.c[n], String).label(n) if n in RAW_TIME_COLUMNS else runs.c[n] for n in PAGE_COLUMNS
        ]
        query = (
            select(*columns)
            .join_from(runs, page_q, runs.c.id == page_q.c.run_id)
            .order_by(*_order(sort_columns, descending), runs.c.id.desc() if descending else runs.c.id.asc())
        )
        page = self.conn.execute(query).all()
        ids = [row[0] for row in page]
        if not ids:
            return SearchPage(columns=PAGE_COLUMNS, runs=[], params=[], metrics=[], tags=[])
        return SearchPage(
            columns=PAGE_COLUMNS,
            runs=page,
            params=_rows_of(self.conn, run_params, ("run_id", "key", "value"), ids),
            metrics=_rows_of(self.conn, run_latest_metrics, ("run_id", "key", "value", "flag"), ids),
            tags=_rows_of(self.conn, run_tags, ("run_id", "key", "value"), ids),
        )

    def _refresh_statistics(self) -> None:
        """Keep SQLite's planner statistics for the run tables fresh (PostgreSQL's autovacuum
        does this by itself).

        Without statistics SQLite drives "lr=0.01 and auc>0.8, best auc first" from the metric
        index, because that order needs no sort, even when the param visits a fraction of the
        rows; with them it picks the cheaper side. ANALYZE runs again whenever the number of
        runs has doubled since the last time, so its cost (~0.2 s per 50,000 runs) stays small.
        """
        if self.conn.dialect.name != "sqlite":
            return
        count = self.conn.exec_driver_sql("SELECT max(rowid) FROM runs").scalar() or 0
        if count < STATS_MIN_RUNS:
            return
        analyzed = 0
        if self.conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first():
            stat = self.conn.exec_driver_sql(
                "SELECT stat FROM sqlite_stat1 WHERE tbl = 'runs' AND idx = 'sqlite_autoindex_runs_1'"
            ).scalar()
            analyzed = int(stat.split()[0]) if stat else 0
        if count >= 2 * analyzed:
            for table in ("runs", "run_params", "run_latest_metrics", "run_tags", "run_datasets"):
                self.conn.exec_driver_sql(f"ANALYZE {table}")
            # Statuses are skewed (nearly all finished; every read looks for the few running
            # ones to reap), which an average per value cannot say: without this row the
            # planner keeps using the status index instead of scanning every run.
            self.conn.exec_driver_sql("DELETE FROM sqlite_stat1 WHERE tbl = 'runs' AND idx = 'ix_runs_status'")
            self.conn.exec_driver_sql("ANALYZE sqlite_schema")  # reload the statistics just edited

    def _page_query(self, flt: RunFilter) -> Select[Any]:
        """run_id plus sort columns (s0, s1, …) of the matching runs, ordered and limited."""
        joins: list[tuple[Any, list[ColumnElement[bool]]]] = []
        metric_alias: dict[str, Any] = {}
        for i, pf in enumerate(flt.params):
            p = run_params.alias(f"p{i}")
            cond: list[ColumnElement[bool]] = [p.c.key == pf.key]
            if pf.op == "=":
                cond.append(p.c.value_key == pf.value[:PARAM_INDEX_LENGTH])
                if len(pf.value) >= PARAM_INDEX_LENGTH:  # the indexed prefix alone may not decide
                    cond.append(p.c.value == pf.value)
            elif pf.op == "!=":
                cond.append(p.c.value != pf.value)
            else:
                cond.append(_compare(p.c.value_num, pf.op, float(pf.value)))
            joins.append((p, cond))
        for i, mf in enumerate(flt.metrics):
            m = run_latest_metrics.alias(f"m{i}")
            joins.append((m, [m.c.key == mf.key, _compare(m.c.value, mf.op, mf.value)]))
            metric_alias.setdefault(mf.key, m)
        for i, (key, value) in enumerate(sorted(flt.tags.items())):
            t = run_tags.alias(f"t{i}")
            joins.append((t, [t.c.key == key, t.c.value == value]))
        if flt.dataset:
            d = run_datasets.alias("d")
            joins.append((d, [or_(d.c.dataset_id == flt.dataset, d.c.ref == flt.dataset, d.c.name == flt.dataset)]))
        kind, _, key = (flt.sort or "").partition(".")
        by_run_column = bool(flt.sort) and not key
        if flt.status or flt.owner or by_run_column or not flt.sort or not joins:
            # Filters or order on the run itself: the runs table leads.
            joins.insert(
                0,
                (
                    runs,
                    [
                        c
                        for c in (
                            runs.c.status == str(flt.status) if flt.status else None,
                            runs.c.owner == flt.owner if flt.owner else None,
                        )
                        if c is not None
                    ],
                ),
            )
        anchor_table, anchor_cond = joins[0]
        anchor = anchor_table.c.id if anchor_table is runs else anchor_table.c.run_id
        source: Any = anchor_table
        where: list[ColumnElement[bool]] = list(anchor_cond)
        for table, cond in joins[1:]:
            column = table.c.id if table is runs else table.c.run_id
            source = source.join(table, and_(column == anchor, *cond))
        if key:
            if kind == "metrics" and key in metric_alias:
                sort_cols = [metric_alias[key].c.value]
            else:
                sorter = {"metrics": run_latest_metrics, "params": run_params, "tags": run_tags}[kind].alias("s")
                source = source.outerjoin(sorter, and_(sorter.c.run_id == anchor, sorter.c.key == key))
                sort_cols = [sorter.c.value_num, sorter.c.value] if kind == "params" else [sorter.c.value]
        else:
            sort_cols = [runs.c[flt.sort or "start_time"]]
        descending = _descending(flt)
        labelled = [c.label(f"s{i}") for i, c in enumerate(sort_cols)]
        return (
            select(anchor.label("run_id"), *labelled)
            .select_from(source)
            .where(*where)
            .order_by(*_order(sort_cols, descending), anchor.desc() if descending else anchor.asc())
            # A literal LIMIT (a validated int): with a bound one SQLite's planner cannot weigh
            # "stop after N" and prefers the sort-free but far longer index walk.
            .limit(literal_column(str(int(flt.limit))))
        )


def _executemany(conn: Connection, table: Table, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """One executemany INSERT of plain tuples on the transaction's connection.

    Core's per-row parameter processing costs several microseconds a row, ten times what the
    database spends on it; these columns need no conversion, so the rows go to the driver as is.
    """
    quote = conn.dialect.identifier_preparer.quote
    marker = "?" if conn.dialect.paramstyle in ("qmark", "numeric") else "%s"
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({', '.join([marker] * len(columns))})"
    )
    conn.exec_driver_sql(sql, rows)


def _rows_of(conn: Connection, table: Table, columns: tuple[str, ...], run_ids: list[str]) -> list[tuple[Any, ...]]:
    """Plain driver tuples of these runs' rows, straight from a DB-API cursor on the unit's
    connection: a page holds thousands of rows whose columns need no conversion, and building
    a Core row for each costs more than the database spends finding it."""
    quote = conn.dialect.identifier_preparer.quote
    marker = "?" if conn.dialect.paramstyle in ("qmark", "numeric") else "%s"
    sql = (
        f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(table.name)} "
        f"WHERE run_id IN ({', '.join([marker] * len(run_ids))})"
    )
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, tuple(run_ids))
        return cursor.fetchall()
    finally:
        cursor.close()


def _descending(flt: RunFilter) -> bool:
    """Newest first unless a sort is named."""
    return flt.descending if flt.sort else True


def _order(columns: list[Any], descending: bool) -> list[Any]:
    return [(c.desc() if descending else c.asc()).nulls_last() for c in columns]


def _compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    return {
        "=": column == value,
        "!=": column != value,
        ">": column > value,
        ">=": column >= value,
        "<": column < value,
        "<=": column <= value,
    }[op]


def _record(row: Mapping[str, Any]) -> RunRecord:
    env = row["environment"] or None
    return RunRecord(
        id=row["id"],
        owner=row["owner"],
        purpose=row["purpose"],
        status=row["status"],
        approval=row["approval"],
        zone=row["zone"],
        start_time=row["start_time"],
        end_time=row["end_time"],
        code=CodeVersion(commit=row["code_commit"], dirty=row["code_dirty"], remote=row["code_remote"]),
        data_class=row["data_class"],
        features=list(row["features"] or []),
        environment=Environment(**env) if env else None,
        missing=list(row["missing"] or []),
        pid=row["pid"],
        hostname=row["hostname"],
        heartbeat_at=row["heartbeat_at"],
    )
