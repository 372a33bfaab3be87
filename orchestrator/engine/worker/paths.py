"""Where workers keep files of an execution on this machine."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from django.conf import settings


def shared_dir_path(execution_id: str, taskrun_id: str) -> Path:
    """The folder the children of a WorkingDirectory task run share."""
    return shared_root(execution_id) / taskrun_id


def shared_root(execution_id: str) -> Path:
    return Path(settings.CHOREO_DATA_DIR) / "work" / "shared" / execution_id


def remove_shared(execution_id: str) -> None:
    """Delete the execution's shared folders, if it has any (most have none: checked
    without building paths, once per execution that ends)."""
    root = os.path.join(settings.CHOREO_DATA_DIR, "work", "shared", execution_id)
    if os.path.isdir(root):
        shutil.rmtree(root, ignore_errors=True)
