"""Flows and their revisions: deploying is rare and not on the hot path, so it goes
through the ORM, behind the store like every other database access of the engine."""
from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from flows.models import Flow, FlowRevision


@dataclass(frozen=True)
class FlowRef:
    namespace: str
    flow_id: str
    revision: int
    disabled: bool


@dataclass(frozen=True)
class RevisionRef:
    id: int
    number: int


class FlowRegistry:
    def save_revision(self, namespace: str, flow_id: str, text: str, checksum: str, author: str,
                      disabled: bool) -> tuple[FlowRef, RevisionRef, bool]:
        """Store ``text`` as the flow's next revision unless it is the current text already;
        returns (flow, revision, created)."""
        with transaction.atomic():
            flow, _ = Flow.objects.select_for_update().get_or_create(namespace=namespace, flow_id=flow_id)
            current = flow.revisions.filter(number=flow.revision).first()
            if current is not None and current.checksum == checksum and not flow.deleted:
                return _flow_ref(flow), RevisionRef(current.id, current.number), False
            number = flow.revision + 1
            revision = FlowRevision.objects.create(flow=flow, number=number, source=text, checksum=checksum,
                                                   author=author)
            flow.revision = number
            flow.deleted = False
            flow.disabled = disabled
            flow.save(update_fields=["revision", "deleted", "disabled", "updated_at"])
        return _flow_ref(flow), RevisionRef(revision.id, revision.number), True


def _flow_ref(flow: Flow) -> FlowRef:
    return FlowRef(flow.namespace, flow.flow_id, flow.revision, flow.disabled)
