"""Tracked runs in SQL: batched metric writes and search as one indexed join."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, and_, delete, insert, or_, select, update
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

PAGE_COLUMNS = ("id", "status", "owner", "purpose", "zone", "start_time", "end_time", "approval", "code_commit", "data_class")


class SqlRunRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- writes ---------------------------------------------------------------------------

    def add(self, run: RunRecord) -> None:
        self.conn.execute(insert(runs).values(
            id=run.id, owner=run.owner, purpose=run.purpose, status=str(run.status), approval=str(run.approval),
            zone=run.zone, start_time=run.start_time, end_time=run.end_time,
            code_commit=run.code.commit, code_dirty=run.code.dirty, code_remote=run.code.remote,
            features=list(run.features), environment=run.environment.model_dump() if run.environment else {},
            data_class=run.data_class, missing=list(run.missing), pid=run.pid, hostname=run.hostname,
            heartbeat_at=run.heartbeat_at,
        ))

    def finish(self, run_id: str, status: RunStatus, end_time: datetime, missing: list[str]) -> None:
        self.conn.execute(update(runs).where(runs.c.id == run_id).values(
            status=str(status), end_time=end_time, missing=list(missing)))

    def heartbeat(self, run_id: str, at: datetime) -> None:
        self.conn.execute(update(runs).where(runs.c.id == run_id).values(heartbeat_at=at))

    def add_params(self, run_id: str, params: Sequence[ParamRow]) -> None:
        rows = [{"run_id": run_id, "key": k, "value": v, "value_key": v[:PARAM_INDEX_LENGTH], "value_num": n}
                for k, v, n in params]
        if rows:
            self.conn.execute(insert(run_params), rows)

    def add_metrics(self, run_id: str, points: Sequence[MetricPoint]) -> None:
        """Every point in one executemany INSERT, then one upsert per metric of its latest point."""
        if not points:
            return
        _executemany(self.conn, run_metrics, ("key", "step", "value", "ts", "flag", "run_id"),
                     [point + (run_id,) for point in points])
        latest: dict[str, MetricPoint] = {}
        for point in points:
            seen = latest.get(point[0])
            if seen is None or (point[1], point[3]) >= (seen[1], seen[3]):
                latest[point[0]] = point
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
        self.conn.execute(stmt, [{"run_id": run_id, "key": k, "step": s, "value": v, "ts": ts, "flag": f}
                                 for k, s, v, ts, f in points])

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        if not tags:
            return
        self.conn.execute(delete(run_tags).where(run_tags.c.run_id == run_id, run_tags.c.key.in_(list(tags))))
        self.conn.execute(insert(run_tags), [{"run_id": run_id, "key": k, "value": v} for k, v in tags.items()])

    def add_datasets(self, run_id: str, datasets: Sequence[DatasetUse]) -> None:
        if datasets:
            self.conn.execute(insert(run_datasets), [
                {"run_id": run_id, "dataset_id": d.id, "ref": d.ref, "name": d.name, "data_class": d.data_class}
                for d in datasets])

    # -- reads ----------------------------------------------------------------------------

    def get(self, run_id: str) -> RunRecord | None:
        row = self.conn.execute(select(runs).where(runs.c.id == run_id)).mappings().first()
        if row is None:
            return None
        record = _record(row)
        record.params = {k: v for k, v in self.conn.execute(
            select(run_params.c.key, run_params.c.value).where(run_params.c.run_id == run_id).order_by(run_params.c.key))}
        t = run_latest_metrics.c
        record.metrics = {k: flagged_value(v, f) for k, v, f in self.conn.execute(
            select(t.key, t.value, t.flag).where(t.run_id == run_id).order_by(t.key))}
        record.tags = {k: v for k, v in self.conn.execute(
            select(run_tags.c.key, run_tags.c.value).where(run_tags.c.run_id == run_id).order_by(run_tags.c.key))}
        d = run_datasets.c
        record.datasets = [DatasetUse(id=i, ref=ref, name=name, data_class=c) for i, ref, name, c in self.conn.execute(
            select(d.dataset_id, d.ref, d.name, d.data_class).where(d.run_id == run_id).order_by(d.dataset_id))]
        return record

    def running(self) -> list[RunRecord]:
        rows = self.conn.execute(select(runs).where(runs.c.status == str(RunStatus.RUNNING))).mappings()
        return [_record(r) for r in rows]

    def metric_history(self, run_id: str, key: str) -> list[MetricPoint]:
        c = run_metrics.c
        q = select(c.key, c.step, c.value, c.ts, c.flag).where(c.run_id == run_id, c.key == key).order_by(c.step, c.ts, c.id)
        return [tuple(r) for r in self.conn.execute(q)]  # type: ignore[misc]

    def search(self, flt: RunFilter) -> SearchPage:
        """The page of matching runs: one SELECT joining the indexed key/value tables, then the
        params, latest metrics and tags of that page only."""
        r = runs.c
        query = select(*(runs.c[name] for name in PAGE_COLUMNS))
        source: Any = runs
        metric_alias: dict[str, Any] = {}
        for i, pf in enumerate(flt.params):
            p = run_params.alias(f"p{i}")
            cond: list[ColumnElement[bool]] = [p.c.run_id == r.id, p.c.key == pf.key]
            if pf.op == "=":
                cond += [p.c.value_key == pf.value[:PARAM_INDEX_LENGTH], p.c.value == pf.value]
            elif pf.op == "!=":
                cond.append(p.c.value != pf.value)
            else:
                cond.append(_compare(p.c.value_num, pf.op, float(pf.value)))
            source = source.join(p, and_(*cond))
        for i, mf in enumerate(flt.metrics):
            m = run_latest_metrics.alias(f"m{i}")
            source = source.join(m, and_(m.c.run_id == r.id, m.c.key == mf.key, _compare(m.c.value, mf.op, mf.value)))
            metric_alias.setdefault(mf.key, m)
        for i, (key, value) in enumerate(sorted(flt.tags.items())):
            t = run_tags.alias(f"t{i}")
            source = source.join(t, and_(t.c.run_id == r.id, t.c.key == key, t.c.value == value))
        if flt.dataset:
            d = run_datasets.alias("d")
            named = or_(d.c.dataset_id == flt.dataset, d.c.ref == flt.dataset, d.c.name == flt.dataset)
            source = source.join(d, and_(d.c.run_id == r.id, named))
        order: list[Any] = []
        if flt.sort and "." in flt.sort:
            kind, key = flt.sort.split(".", 1)
            if kind == "metrics" and key in metric_alias:
                columns = [metric_alias[key].c.value]
            else:
                table = {"metrics": run_latest_metrics, "params": run_params, "tags": run_tags}[kind]
                s = table.alias("s")
                source = source.outerjoin(s, and_(s.c.run_id == r.id, s.c.key == key))
                columns = [s.c.value_num, s.c.value] if kind == "params" else [s.c.value]
            order += [(c.desc() if flt.descending else c.asc()).nulls_last() for c in columns]
        elif flt.sort:
            order.append(r[flt.sort].desc() if flt.descending else r[flt.sort].asc())
        else:
            order.append(r.start_time.desc())
        order.append(r.id.desc() if flt.descending else r.id.asc())
        if flt.status:
            query = query.where(r.status == str(flt.status))
        if flt.owner:
            query = query.where(r.owner == flt.owner)
        rows = self.conn.execute(query.select_from(source).order_by(*order).limit(flt.limit)).mappings().all()
        page = [dict(row) for row in rows]
        ids = [row["id"] for row in page]
        if not ids:
            return SearchPage(runs=[], params=[], metrics=[], tags=[])
        lm = run_latest_metrics.c
        return SearchPage(
            runs=page,
            params=[tuple(x) for x in self.conn.execute(
                select(run_params.c.run_id, run_params.c.key, run_params.c.value).where(run_params.c.run_id.in_(ids)))],
            metrics=[tuple(x) for x in self.conn.execute(
                select(lm.run_id, lm.key, lm.value, lm.flag).where(lm.run_id.in_(ids)))],
            tags=[tuple(x) for x in self.conn.execute(
                select(run_tags.c.run_id, run_tags.c.key, run_tags.c.value).where(run_tags.c.run_id.in_(ids)))],
        )


def _executemany(conn: Connection, table: Table, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """One executemany INSERT of plain tuples on the transaction's connection.

    Core's per-row parameter processing costs several microseconds a row, ten times what the
    database spends on it; these columns need no conversion, so the rows go to the driver as is.
    """
    quote = conn.dialect.identifier_preparer.quote
    marker = "?" if conn.dialect.paramstyle in ("qmark", "numeric") else "%s"
    sql = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
           f"VALUES ({', '.join([marker] * len(columns))})")
    conn.exec_driver_sql(sql, rows)


def _compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    return {
        "=": column == value, "!=": column != value, ">": column > value,
        ">=": column >= value, "<": column < value, "<=": column <= value,
    }[op]


def _record(row: Mapping[str, Any]) -> RunRecord:
    env = row["environment"] or None
    return RunRecord(
        id=row["id"], owner=row["owner"], purpose=row["purpose"], status=row["status"], approval=row["approval"],
        zone=row["zone"], start_time=row["start_time"], end_time=row["end_time"],
        code=CodeVersion(commit=row["code_commit"], dirty=row["code_dirty"], remote=row["code_remote"]),
        data_class=row["data_class"], features=list(row["features"] or []),
        environment=Environment(**env) if env else None, missing=list(row["missing"] or []),
        pid=row["pid"], hostname=row["hostname"], heartbeat_at=row["heartbeat_at"],
    )
