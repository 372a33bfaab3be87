"""HTTP rules that hold for every URL, before any view runs."""
from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed

# TRACE echoes the request back (cookies included: cross-site tracing); CONNECT is for
# proxies. No view of Choreo answers either.
_REFUSED_METHODS = frozenset({"TRACE", "CONNECT"})
_ALLOWED = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class RefuseUnsafeMethods:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in _REFUSED_METHODS:
            return HttpResponseNotAllowed(_ALLOWED)
        return self.get_response(request)
