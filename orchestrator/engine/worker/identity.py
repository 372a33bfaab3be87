"""Names of engine and worker instances in the registry (flows.EngineInstance)."""
from __future__ import annotations

import os
import socket
import uuid


def new_instance_id(kind: str) -> str:
    """``kind:host:pid:random``: readable in lease_owner and owner columns, never reused."""
    return f"{kind}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
