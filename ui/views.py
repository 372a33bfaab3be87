"""The status page: what is deployed and what ran, until the full UI arrives."""
from __future__ import annotations

from django.db.models import Count
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from flows.models import Execution, Flow


@require_safe
def status(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        # Flow names and execution ids are not for whoever reaches the port.
        return render(request, "ui/signin.html")
    flows = Flow.objects.filter(deleted=False).order_by("namespace", "flow_id")
    by_state = dict(Execution.objects.values_list("state").annotate(n=Count("id")).values_list("state", "n"))
    recent = Execution.objects.order_by("-created_at")[:20]
    return render(request, "ui/status.html", {"flows": flows, "by_state": sorted(by_state.items()), "recent": recent})


@require_safe
def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})
