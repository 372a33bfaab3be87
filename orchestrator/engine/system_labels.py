"""Kestra's system labels: ``system.*`` keys the engine sets on executions, not the flow."""
from __future__ import annotations

from collections.abc import Mapping

SYSTEM_PREFIX = "system."
# The id of the first execution of a chain: subflow executions, replays and the new
# executions of CREATE_NEW_EXECUTION retries carry the id of the execution they come from.
CORRELATION_ID = "system.correlationId"
RESTARTED = "system.restarted"
REPLAY = "system.replay"


def without_system(labels: Mapping[str, str]) -> dict[str, str]:
    """The labels a user or a flow set (system labels are the engine's to set)."""
    return {k: v for k, v in labels.items() if not k.startswith(SYSTEM_PREFIX)}


def correlation_id(labels: Mapping[str, str], execution_id: str) -> str:
    """The chain's correlation id; an execution created before system labels is its own."""
    return labels.get(CORRELATION_ID) or execution_id
