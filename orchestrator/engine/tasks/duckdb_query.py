"""DuckDB Query: run SQL in an embedded DuckDB over the files of the attempt's working dir.

Relative paths of files read by the SQL resolve against the working dir through DuckDB's
``file_search_path``: the server's cwd is shared by every running task and never changes.
That setting only applies to reads: write files to ``{{ outputFiles.<name> }}`` or below
``{{ workingDir }}``.
"""
from __future__ import annotations

import base64
import json
import math
import threading
import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any, ClassVar

import duckdb

from orchestrator.engine.durations import format_duration
from orchestrator.engine.numbers import Int32
from orchestrator.engine.storage import StorageError, storage
from orchestrator.engine.tasks.base import RunContext, RunnableTask, TaskFailed, TaskKilled
from orchestrator.engine.tasks.files import InputFiles, store_output_files, write_input_files

_JDBC_PREFIX = "jdbc:duckdb:"
_BATCH = 10_000
_GLOB_CHARS = frozenset("*?[")
_INTERRUPT_EVERY = 0.05


class FetchType(str, Enum):
    FETCH_ONE = "FETCH_ONE"
    FETCH = "FETCH"
    STORE = "STORE"
    NONE = "NONE"


class Query(RunnableTask):
    """Run ``sql`` (one or more statements) in DuckDB; the last statement's result is kept as
    ``fetchType`` says: FETCH_ONE outputs ``row``, FETCH outputs ``rows``, STORE outputs
    ``uri`` (the rows as JSON lines, where Kestra writes ION), each with ``size`` (row count);
    NONE (the default) keeps nothing. Values are made JSON-compatible: dates and times as ISO
    strings, intervals as ISO durations, decimals as numbers, blobs as base64.

    ``inputFiles`` maps file names to content or to a choreo:// URI; the files are written to
    the working dir, where the SQL reads them by relative path (``read_csv_auto('data.csv')``).
    ``outputFiles`` lists globs (relative to the working dir) stored after the run, output as
    ``outputFiles`` (path -> URI); a plain name ``out`` is also ``{{ outputFiles.out }}`` in
    the SQL, as in Kestra. ``url`` is ``jdbc:duckdb:`` (in memory, the default) or a database
    file (``jdbc:duckdb:/data/db.duckdb``, or relative to the working dir)."""

    short_name: ClassVar[str] = "duckdb"
    aliases: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.jdbc.duckdb.Query",)
    example: ClassVar[str] = """\
id: query_duckdb
namespace: company.team
tasks:
  - id: http_download
    type: io.kestra.plugin.core.http.Download
    uri: https://huggingface.co/datasets/kestra/datasets/raw/main/csv/orders.csv
  - id: query
    type: io.kestra.plugin.jdbc.duckdb.Query
    inputFiles:
      data.csv: "{{ outputs.http_download.uri }}"
    sql: |
      CREATE TABLE orders AS SELECT * FROM read_csv_auto('data.csv', header = true);
      COPY (SELECT customer_name, sum(total) AS total FROM orders GROUP BY 1)
        TO '{{ outputFiles.totals }}' (HEADER, DELIMITER ',');
      SELECT count(*) AS orders FROM orders;
    fetchType: FETCH_ONE
    outputFiles:
      - totals
"""
    uses_working_dir: ClassVar[bool] = True

    sql: str
    url: str = _JDBC_PREFIX
    inputFiles: InputFiles | None = None
    outputFiles: list[str] | None = None
    fetchType: FetchType = FetchType.NONE
    # Kestra's deprecated flags, in its order of precedence: fetchOne, then store, then fetch.
    fetchOne: bool = False
    store: bool = False
    fetch: bool = False
    timeZoneId: str | None = None
    # Accepted for Kestra flows: rows are always read in batches.
    fetchSize: Int32 | None = None
    databaseUri: str | None = None
    outputDbFile: bool = False

    def run(self, ctx: RunContext) -> dict[str, Any]:
        workdir = ctx.working_dir.resolve()
        write_input_files(ctx, self.inputFiles, workdir)
        sql = ctx.render_str(_with_output_paths(self.sql, workdir, self.outputFiles or []))
        database = self._database(ctx, workdir)
        try:
            conn = duckdb.connect(database)
        except duckdb.Error as exc:
            raise TaskFailed(f"Cannot open DuckDB database {database}: {exc}") from None
        try:
            conn.execute(f"SET file_search_path = {_literal(str(workdir))}")
            if self.timeZoneId:
                conn.execute(f"SET TimeZone = {_literal(ctx.render_str(self.timeZoneId))}")
            outputs = self._execute(ctx, conn, sql, self._fetch_type())
        except duckdb.Error as exc:
            raise TaskFailed(str(exc)) from None
        finally:
            conn.close()
        stored = store_output_files(ctx, self.outputFiles or [], workdir)
        if stored:
            outputs["outputFiles"] = stored
        if self.outputDbFile and database != ":memory:":
            outputs["databaseUri"] = ctx.store(Path(database), "database.duckdb")
        return outputs

    def _fetch_type(self) -> FetchType:
        if self.fetchOne:
            return FetchType.FETCH_ONE
        if self.store:
            return FetchType.STORE
        if self.fetch:
            return FetchType.FETCH
        return self.fetchType

    def _database(self, ctx: RunContext, workdir: Path) -> str:
        if self.databaseUri:
            target = workdir / f"{uuid.uuid4().hex}.duckdb"
            _copy_stored(ctx.render_str(self.databaseUri), target, "databaseUri")
            return str(target)
        url = ctx.render_str(self.url).strip()
        path = url[len(_JDBC_PREFIX):] if url.startswith(_JDBC_PREFIX) else url
        if path in ("", ":memory:"):
            return str(workdir / "database.duckdb") if self.outputDbFile else ":memory:"
        if path.startswith(("md:", "motherduck:")):
            return path
        return str(workdir / path)  # an absolute path stays as it is

    def _execute(self, ctx: RunContext, conn: duckdb.DuckDBPyConnection, sql: str,
                 fetch: FetchType) -> dict[str, Any]:
        done = threading.Event()
        lock = threading.Lock()

        def interrupt_until_done() -> None:
            # interrupt() is lost when no query is running yet: repeat it until this one returns.
            while True:
                with lock:
                    if done.is_set():
                        return
                    conn.interrupt()
                if done.wait(_INTERRUPT_EVERY):
                    return

        ctx.on_stop(lambda reason: threading.Thread(target=interrupt_until_done, daemon=True).start())
        try:
            if ctx.killed:
                raise TaskKilled("stopped before the query started")
            conn.execute(sql)
            return self._fetch(ctx, conn, fetch)
        except duckdb.Error:
            if ctx.killed:
                raise TaskKilled("query interrupted") from None
            raise
        finally:
            with lock:
                done.set()

    def _fetch(self, ctx: RunContext, conn: duckdb.DuckDBPyConnection, fetch: FetchType) -> dict[str, Any]:
        if fetch == FetchType.NONE:
            return {}
        columns = [d[0] for d in conn.description or []]
        if fetch == FetchType.FETCH_ONE:
            row = conn.fetchone() if columns else None
            return {"row": _row(columns, row) if row is not None else None, "size": 0 if row is None else 1}
        if fetch == FetchType.FETCH:
            rows = [_row(columns, r) for r in conn.fetchall()] if columns else []
            return {"rows": rows, "size": len(rows)}
        path = ctx.working_dir / f".{self.id}-{uuid.uuid4().hex}.jsonl"
        size = 0
        with path.open("w", encoding="utf-8") as out:
            while columns and (batch := conn.fetchmany(_BATCH)):
                for r in batch:
                    out.write(json.dumps(_row(columns, r), ensure_ascii=False) + "\n")
                size += len(batch)
        try:
            return {"uri": ctx.store(path, f"{self.id}.jsonl"), "size": size}
        finally:
            path.unlink(missing_ok=True)


def _with_output_paths(sql: str, workdir: Path, patterns: list[str]) -> str:
    """``sql`` preceded by a set tag defining Kestra's ``outputFiles.<name>`` (its path in the
    working dir) for each plain name; RunContext renders with the execution's variables only."""
    names = {p: str(workdir / p) for p in patterns if "/" not in p and not (_GLOB_CHARS & set(p)) and "{" not in p}
    if not names or "outputFiles" not in sql:
        return sql
    return "{% set outputFiles = " + json.dumps(names) + " %}" + sql


def _copy_stored(uri: str, target: Path, what: str) -> None:
    try:
        storage().copy_to(uri, target)
    except StorageError as exc:
        raise TaskFailed(f"{what}: {exc}") from None


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _row(columns: list[str], values: tuple[Any, ...]) -> dict[str, Any]:
    return {name: _json_value(value) for name, value in zip(columns, values)}


def _json_value(value: Any) -> Any:
    """A DuckDB value as JSON: outputs and stored rows must survive json.dumps and a JSON column."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, Decimal):
        return _json_value(float(value))
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    return str(value)  # UUID, and types DuckDB may add


TASK_TYPES = (Query,)
