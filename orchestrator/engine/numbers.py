"""The range of the whole numbers a flow writes, as Kestra's Java types bound them.

Kestra reads counts (``maxAttempt``, ``concurrencyLimit``, ``revision``...) as Java
``Integer``s; Python's integers have no bound, so without one a count of a thousand digits
would validate and then fail deep in the engine.
"""
from __future__ import annotations

from typing import Annotated

from pydantic import Field

INT_MAX = 2**31 - 1  # java.lang.Integer.MAX_VALUE
INT_MIN = -(2**31)

# A whole number as a Java Integer holds it.
Int32 = Annotated[int, Field(ge=INT_MIN, le=INT_MAX)]
