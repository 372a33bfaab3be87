"""Kestra's Python helper under its own name: ``from kestra import Kestra``."""
from choreo import Kestra

__all__ = ["Kestra"]
