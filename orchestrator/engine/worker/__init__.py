"""Workers: run runnable task runs from small job references (see worker.worker)."""
from orchestrator.engine.worker.context import Assignment, Running, WorkerContext
from orchestrator.engine.worker.worker import SHUTDOWN, Outcome, Worker

__all__ = ["Assignment", "Running", "Outcome", "SHUTDOWN", "Worker", "WorkerContext"]
