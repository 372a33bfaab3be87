"""Throwaway databases for the benchmark: one per metric, created empty, dropped afterwards.

Each metric gets a database of its own so that work a metric leaves unfinished when its
time budget runs out (executions still running) cannot run on in the next metric's engine, which
resumes every active execution it finds.

On PostgreSQL the benchmark creates databases (``CREATE DATABASE``, so the role needs
CREATEDB) rather than schemas: a schema would be written into the database named in the
URL, which may be in use, and ``DROP DATABASE ... WITH (FORCE)`` removes everything at
once even while a killed benchmark process still holds a connection. The database named in
the URL is only connected to, to issue those two statements.
"""
from __future__ import annotations

import secrets
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import LiteralString
from urllib.parse import urlsplit

import dj_database_url
import psycopg
from psycopg import sql

_VENDORS = {"django.db.backends.sqlite3": "sqlite", "django.db.backends.postgresql": "postgresql"}
PREFIX = "choreo_bench_"


class DatabaseError(Exception):
    """The database to measure cannot be used: the message says why and what to do."""


@dataclass(frozen=True)
class Target:
    """What ``bench --database URL`` asked for: a PostgreSQL server or a folder for SQLite files."""

    vendor: str
    url: str

    @classmethod
    def parse(cls, url: str | None) -> Target:
        if url is None:
            return cls("sqlite", "")
        try:
            engine = dj_database_url.parse(url)["ENGINE"]
        except ValueError as exc:
            raise DatabaseError(f"--database {url!r}: {exc}") from None
        vendor = _VENDORS.get(engine)
        if vendor is None:
            raise DatabaseError(f"--database {url!r}: bench measures SQLite (sqlite:///PATH) or PostgreSQL "
                                "(postgres://user@host:port/db)")
        if vendor == "sqlite" and not urlsplit(url).path.strip("/"):
            raise DatabaseError(f"--database {url!r}: give a file path (sqlite:///PATH); the engine's threads "
                                "share one file, so an in-memory database cannot be measured")
        return cls(vendor, url)

    def folder(self) -> Path | None:
        """Where the throwaway files go: next to the SQLite file named, else the system's temp folder."""
        if self.vendor != "sqlite" or not self.url:
            return None
        parent = Path(dj_database_url.parse(self.url)["NAME"]).resolve().parent
        if not parent.is_dir():
            raise DatabaseError(f"--database {self.url!r}: folder {parent} does not exist")
        return parent


@dataclass(frozen=True)
class Database:
    name: str
    url: str
    # What the benchmark process's connection reports as its NAME: the database or the file.
    connects_to: str


@dataclass
class Throwaways:
    """Creates a database per label and drops it; ``drop_all`` drops whatever is left."""

    target: Target
    folder: Path
    run_id: str = field(default_factory=lambda: secrets.token_hex(4))
    created: list[Database] = field(default_factory=list)

    @property
    def prefix(self) -> str:
        return f"{PREFIX}{self.run_id}_"

    def describe(self) -> str:
        if self.target.vendor == "sqlite":
            return f"throwaway SQLite files in {self.folder}"
        server = urlsplit(self.target.url)
        return f"throwaway databases {self.prefix}* on {server.hostname}:{server.port or 5432}"

    def create(self, label: str) -> Database:
        name = f"{self.prefix}{label.lower()}"
        if self.target.vendor == "sqlite":
            path = str(self.folder / f"{name}.sqlite3")
            db = Database(name, f"sqlite:///{path}", path)
        else:
            self._execute("CREATE DATABASE {}", name)
            db = Database(name, urlsplit(self.target.url)._replace(path=f"/{name}").geturl(), name)
        self.created.append(db)
        return db

    def drop(self, db: Database) -> None:
        if db not in self.created:
            return
        if self.target.vendor == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(db.connects_to + suffix).unlink(missing_ok=True)
        else:
            self._execute("DROP DATABASE IF EXISTS {} WITH (FORCE)", db.name)
        self.created.remove(db)

    def drop_all(self) -> None:
        for db in list(self.created):
            self.drop(db)

    def _execute(self, statement: LiteralString, name: str) -> None:
        try:
            conn = psycopg.connect(self.target.url, autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as exc:
            raise DatabaseError(f"cannot reach PostgreSQL at {_safe(self.target.url)}: {exc}".strip()) from None
        with conn:
            # CREATE DATABASE copies template1 and fails while another session is connected
            # to it (another process creating its test database, say): retry for a moment.
            for attempt in range(5):
                try:
                    conn.execute(sql.SQL(statement).format(sql.Identifier(name)))
                    return
                except psycopg.errors.ObjectInUse:
                    if attempt == 4:
                        raise
                    time.sleep(0.5)
                except psycopg.errors.InsufficientPrivilege as exc:
                    raise DatabaseError(f"{statement.format(name)} refused on {_safe(self.target.url)}: {exc}. "
                                        "bench creates a database per metric: it needs a role with CREATEDB") from None


@contextmanager
def throwaways(target: Target, folder: Path) -> Iterator[Throwaways]:
    """Everything created inside is dropped on the way out, also on an error or Ctrl-C."""
    dbs = Throwaways(target, folder)
    try:
        yield dbs
    finally:
        with _signals_held():
            dbs.drop_all()


@contextmanager
def _signals_held() -> Iterator[None]:
    """A second Ctrl-C during the clean-up waits until the databases are dropped."""
    held = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, held)


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")).geturl()
