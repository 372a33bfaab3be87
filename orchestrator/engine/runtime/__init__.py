"""The engine of a process: an Engine advances executions and runs their task runs."""
from orchestrator.engine.clock import Clock, FakeClock, SystemClock
from orchestrator.engine.runtime.engine import Engine

__all__ = ["Clock", "Engine", "FakeClock", "SystemClock"]
