"""Helpers importable by every Python script task as ``choreo`` and ``kestra``.

This folder (not the package) is put first on the scripts' PYTHONPATH; the modules use
the standard library only, since they run in any environment a task builds.
"""
from pathlib import Path

SCRIPTLIB_DIR = Path(__file__).resolve().parent
