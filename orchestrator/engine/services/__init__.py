"""What users do to flows and executions. The CLI and the API call these, nothing lower.

Each function validates, writes through the store's one door in one transaction, tells
the engines on the bus (delivered at commit) and publishes the journal's events.
"""
from orchestrator.engine.errors import ExecutionNotFound, FlowNotFound, InvalidFlow, NotAllowed, ServiceError
from orchestrator.engine.services.control import kill, replay, restart, resume
from orchestrator.engine.services.executions import create_execution, get_execution, purge, retried_by
from orchestrator.engine.services.flows import Deployed, deploy

__all__ = [
    "Deployed", "ExecutionNotFound", "FlowNotFound", "InvalidFlow", "NotAllowed", "ServiceError",
    "create_execution", "deploy", "get_execution", "kill", "purge", "replay", "restart", "resume", "retried_by",
]
