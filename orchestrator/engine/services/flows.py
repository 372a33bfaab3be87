"""Deploying flows: the YAML text is stored exactly as written, one revision per change."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from orchestrator.engine.dsl import FlowIssue, parse_flow
from orchestrator.engine.errors import InvalidFlow
from orchestrator.engine.infra import infra
from orchestrator.engine.store.flows import FlowRef, RevisionRef


@dataclass
class Deployed:
    flow: FlowRef
    revision: RevisionRef
    created: bool
    warnings: list[FlowIssue] = field(default_factory=list)
    inputs: tuple[str, ...] = ()  # the ids of the inputs the flow declares


def deploy(text: str, source: str = "<flow>", author: str = "") -> Deployed:
    """Store ``text`` as the flow's new revision, unless it is the current text already."""
    result = parse_flow(text, source)
    if result.flow is None:
        raise InvalidFlow(result.errors)
    spec = result.flow
    checksum = hashlib.sha256(text.encode()).hexdigest()
    parts = infra()
    flow, revision, created = parts.store.save_revision(spec.namespace, spec.id, text, checksum, author,
                                                        bool(spec.disabled))
    if created:
        # The parse is done: the first execution of the revision need not do it again.
        parts.specs.get(revision.id, text)
    return Deployed(flow, revision, created, result.warnings, tuple(i.id for i in spec.inputs))
