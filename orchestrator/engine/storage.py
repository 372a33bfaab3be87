"""Internal storage: files that tasks hand to each other, behind one small interface.

URIs look like ``choreo://namespace/flow/execution/task/taskrun/name``. The local
backend keeps them under ``CHOREO_DATA_DIR/storage/``; an S3-compatible backend can
implement the same interface (settings.CHOREO_STORAGE_BACKEND).
"""
from __future__ import annotations

import shutil
from functools import lru_cache
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, unquote

from django.conf import settings
from django.utils.module_loading import import_string

SCHEME = "choreo://"


class StorageError(Exception):
    """A URI that is malformed, escapes the storage, or names no stored file."""


class Storage(Protocol):
    def put(self, uri: str, source: Path) -> str:
        """Store the file at ``source`` under ``uri``; returns the URI."""

    def put_bytes(self, uri: str, data: bytes) -> str:
        """Store ``data`` under ``uri``; returns the URI."""

    def get(self, uri: str) -> bytes:
        """The stored bytes; StorageError if there are none."""

    def copy_to(self, uri: str, target: Path) -> None:
        """Write the stored file to ``target``."""

    def size(self, uri: str) -> int:
        """Size in bytes of the stored file."""

    def delete_prefix(self, uri_prefix: str) -> int:
        """Remove everything under ``uri_prefix``; the number of files removed."""


def execution_prefix(namespace: str, flow_id: str, execution_id: str) -> str:
    return f"{SCHEME}{quote(namespace)}/{quote(flow_id)}/{execution_id}/"


def task_uri(namespace: str, flow_id: str, execution_id: str, task_id: str, taskrun_id: str, name: str) -> str:
    """Where a task run's file is kept; ``name`` may contain folders (``out/a.csv``)."""
    clean = "/".join(quote(part) for part in Path(name).parts if part not in ("", ".", "..", "/"))
    return f"{execution_prefix(namespace, flow_id, execution_id)}{quote(task_id)}/{taskrun_id}/{clean}"


class LocalStorage:
    def __init__(self, root: Path | None = None) -> None:
        self.root = (root or Path(settings.CHOREO_DATA_DIR) / "storage").resolve()

    def _path(self, uri: str) -> Path:
        if not uri.startswith(SCHEME):
            raise StorageError(f"not an internal storage URI: {uri!r} (expected {SCHEME}...)")
        relative = unquote(uri[len(SCHEME):])
        path = (self.root / relative).resolve()
        if path != self.root and self.root not in path.parents:
            raise StorageError(f"URI {uri!r} points outside the storage")
        return path

    def put(self, uri: str, source: Path) -> str:
        target = self._path(uri)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        return uri

    def put_bytes(self, uri: str, data: bytes) -> str:
        target = self._path(uri)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return uri

    def get(self, uri: str) -> bytes:
        try:
            return self._path(uri).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise StorageError(f"no stored file at {uri}") from None

    def copy_to(self, uri: str, target: Path) -> None:
        source = self._path(uri)
        if not source.is_file():
            raise StorageError(f"no stored file at {uri}")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)

    def size(self, uri: str) -> int:
        path = self._path(uri)
        if not path.is_file():
            raise StorageError(f"no stored file at {uri}")
        return path.stat().st_size

    def delete_prefix(self, uri_prefix: str) -> int:
        path = self._path(uri_prefix)
        if not path.exists():
            return 0
        count = sum(1 for p in path.rglob("*") if p.is_file()) if path.is_dir() else 1
        shutil.rmtree(path) if path.is_dir() else path.unlink()
        return count


@lru_cache(maxsize=1)
def storage() -> Storage:
    backend: Storage = import_string(settings.CHOREO_STORAGE_BACKEND)()
    return backend
