"""HTTP: send a request and keep the response (Request), or stream a body to storage (Download).

The exchange runs in a helper thread. Closing a client does not wake a thread blocked in a
socket read, so on a stop the task returns at once and the helper, which checks the stop
between chunks, ends by itself within its read timeout.
"""
from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from email.message import Message
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar, Literal, TypeVar
from urllib.parse import unquote, urlparse

import httpx
from pydantic import BaseModel, ConfigDict

from orchestrator.engine.durations import Duration
from orchestrator.engine.numbers import Int32
from orchestrator.engine.secrets import MASK
from orchestrator.engine.storage import SCHEME, StorageError, storage
from orchestrator.engine.tasks.base import Level, RunContext, RunnableTask, TaskFailed, TaskKilled

_CONNECT_TIMEOUT = timedelta(seconds=30)
_READ_TIMEOUT = timedelta(minutes=5)  # Kestra 1.x's readIdleTimeout default
_MAX_CONTENT = 10 * 1024 * 1024  # Kestra's default maxContentLength for Request
_EXCERPT = 500
_CHUNK = 64 * 1024
_REDACTED_HEADERS = ("authorization", "proxy-authorization")

# Most specific first: the timeouts are not ConnectErrors, and all are HTTPErrors.
_NETWORK_ERRORS: tuple[tuple[type[httpx.HTTPError], str], ...] = (
    (httpx.ConnectTimeout, "connection timed out"),
    (httpx.ReadTimeout, "no response within the read timeout"),
    (httpx.TimeoutException, "timed out ({error})"),
    (httpx.ConnectError, "cannot connect ({error})"),
    (httpx.TooManyRedirects, "too many redirects"),
    (httpx.HTTPError, "failed ({error})"),
)

T = TypeVar("T")


class Auth(BaseModel):
    """Kestra 1.x ``options.auth``: BASIC (username, password) or BEARER (token)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["BASIC", "BEARER"]
    username: str | None = None
    password: str | None = None
    token: str | None = None


class Timeouts(BaseModel):
    """Kestra 1.x ``options.timeout``."""

    model_config = ConfigDict(extra="forbid")

    connectTimeout: Duration | None = None
    readIdleTimeout: Duration | None = None


class SslOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    insecureTrustAllCertificates: bool = False


class Options(BaseModel):
    """Kestra's request options, in the 1.x shape (``timeout``, ``auth``) and the 0.x one
    (``connectTimeout``, ``readTimeout``, ``basicAuthUser``/``basicAuthPassword``)."""

    model_config = ConfigDict(extra="forbid")

    timeout: Timeouts | None = None
    connectTimeout: Duration | None = None
    readTimeout: Duration | None = None
    readIdleTimeout: Duration | None = None
    # Accepted for Kestra flows; each run uses its own connection.
    connectionPoolIdleTimeout: Duration | None = None
    followRedirects: bool = True
    allowFailed: bool = False
    allowedResponseCodes: list[Int32] | None = None
    auth: Auth | None = None
    basicAuthUser: str | None = None
    basicAuthPassword: str | None = None
    maxContentLength: Int32 | None = None
    defaultCharset: str = "UTF-8"
    ssl: SslOptions | None = None
    logs: list[Literal["REQUEST_HEADERS", "REQUEST_BODY", "RESPONSE_HEADERS", "RESPONSE_BODY"]] = []


class _HttpTask(RunnableTask):
    """What Request and Download share: building the request, sending it, checking the status."""

    uri: str
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT"] = "GET"
    headers: dict[str, str] | None = None
    body: str | dict[str, Any] | list[Any] | None = None
    formData: dict[str, Any] | None = None
    contentType: str | None = None
    options: Options = Options()
    sslOptions: SslOptions | None = None
    allowFailed: bool = False

    def _client(self) -> httpx.Client:
        o = self.options
        connect = (o.timeout and o.timeout.connectTimeout) or o.connectTimeout or _CONNECT_TIMEOUT
        read = (o.timeout and o.timeout.readIdleTimeout) or o.readIdleTimeout or o.readTimeout or _READ_TIMEOUT
        insecure = any(s is not None and s.insecureTrustAllCertificates for s in (o.ssl, self.sslOptions))
        timeout = httpx.Timeout(connect=connect.total_seconds(), read=read.total_seconds(),
                                write=read.total_seconds(), pool=connect.total_seconds())
        return httpx.Client(timeout=timeout, follow_redirects=o.followRedirects, verify=not insecure)

    def _request(self, ctx: RunContext) -> httpx.Request:
        headers = {str(k): str(v) for k, v in (ctx.render(self.headers) or {}).items()}
        content_type = ctx.render_str(self.contentType) if self.contentType else None
        kwargs: dict[str, Any] = {}
        if self.formData is not None:
            form = ctx.render(self.formData)
            multipart = (content_type or "").lower().startswith("multipart/") or any(
                isinstance(v, str) and v.startswith(SCHEME) for v in form.values())
            if multipart:
                kwargs["files"] = {str(k): _part(v) for k, v in form.items()}
                content_type = None  # httpx writes multipart/form-data with its boundary
            else:
                kwargs["data"] = {str(k): json.dumps(v) if isinstance(v, dict) else v for k, v in form.items()}
        elif self.body is not None:
            body = ctx.render(self.body)
            if isinstance(body, str):
                kwargs["content"] = body.encode(self.options.defaultCharset)
            elif content_type is None or _is_json(content_type):
                kwargs["json"] = body
            else:
                kwargs["content"] = json.dumps(body).encode()
        if content_type and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = content_type
        headers.update(self._auth_header(ctx, headers))
        try:
            return httpx.Request(self.method, ctx.render_str(self.uri), headers=headers, **kwargs)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise TaskFailed(ctx.mask(f"Invalid uri: {exc}")) from None

    def _auth_header(self, ctx: RunContext, headers: dict[str, str]) -> dict[str, str]:
        o = self.options
        if any(k.lower() == "authorization" for k in headers):
            return {}
        if o.auth is not None and o.auth.type == "BEARER":
            return {"Authorization": f"Bearer {ctx.render_str(o.auth.token or '')}"}
        if o.auth is not None:
            user, password = o.auth.username, o.auth.password
        elif o.basicAuthUser is not None:
            user, password = o.basicAuthUser, o.basicAuthPassword
        else:
            return {}
        pair = f"{ctx.render_str(user or '')}:{ctx.render_str(password or '')}"
        return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}

    def _exchange(self, ctx: RunContext, consume: Callable[[httpx.Response, threading.Event], T]) -> T:
        """Send the request and hand the streamed response to ``consume`` (in the helper thread,
        with an event set on a stop); raises TaskKilled on a stop, TaskFailed on network errors."""
        request = self._request(ctx)
        self._log_request(ctx, request)
        client = self._client()
        stopped, done = threading.Event(), threading.Event()
        box: dict[str, Any] = {}

        # The helper never logs: flushing logs would open a database connection in its thread.
        def work() -> None:
            try:
                response = box["response"] = client.send(request, stream=True)
                try:
                    box["value"] = consume(response, stopped)
                finally:
                    response.close()
            except BaseException as exc:  # handed to the task thread
                box["error"] = exc
            finally:
                client.close()
                done.set()

        def stop(reason: str) -> None:
            stopped.set()
            done.set()

        ctx.on_stop(stop)
        if stopped.is_set():
            client.close()
            raise TaskKilled("stopped before the request was sent")
        threading.Thread(target=work, name=f"http-{ctx.taskrun_id}", daemon=True).start()
        done.wait()
        if stopped.is_set():
            raise TaskKilled("stopped during the request")
        if "response" in box:
            self._log_response(ctx, box["response"])
        if "error" in box:
            raise _failure(ctx, request, box["error"])
        value: T = box["value"]
        return value

    def _status_allowed(self, code: int) -> bool:
        """Kestra's rule: a code >= 400 fails unless allowFailed, or allowedResponseCodes if set."""
        if self.allowFailed or self.options.allowFailed:
            return True
        allowed = self.options.allowedResponseCodes
        return code in allowed if allowed is not None else code < 400

    def _check_status(self, ctx: RunContext, response: httpx.Response) -> None:
        """Fail on a refused status, quoting the beginning of the body (not reading all of it)."""
        if self._status_allowed(response.status_code):
            return
        excerpt = self._decode(response, next(response.iter_bytes(_EXCERPT * 2), b""))
        text = ctx.mask(excerpt)
        text = text if len(text) <= _EXCERPT else text[:_EXCERPT] + "..."
        raise TaskFailed(ctx.mask(f"{self.method} {response.request.url} failed with status "
                                  f"{response.status_code} {response.reason_phrase}"
                                  + (f": {text}" if text.strip() else "")))

    def _log_request(self, ctx: RunContext, request: httpx.Request) -> None:
        ctx.log(Level.DEBUG, f"{request.method} {request.url}")
        if "REQUEST_HEADERS" in self.options.logs:
            ctx.log(Level.INFO, "Request headers:\n" + _header_lines(request.headers))
        if "REQUEST_BODY" in self.options.logs:
            ctx.log(Level.INFO, "Request body: " + request.read().decode(self.options.defaultCharset, "replace"))

    def _log_response(self, ctx: RunContext, response: httpx.Response) -> None:
        ctx.log(Level.DEBUG, f"{response.request.method} {response.request.url} -> {response.status_code}")
        if "RESPONSE_HEADERS" in self.options.logs:
            ctx.log(Level.INFO, f"Response headers ({response.status_code}):\n" + _header_lines(response.headers))

    def _decode(self, response: httpx.Response, content: bytes) -> str:
        return content.decode(response.charset_encoding or self.options.defaultCharset, errors="replace")


class Request(_HttpTask):
    """Send an HTTP request. Outputs ``code``, ``headers`` (name -> list of values, names in
    lower case) and ``body`` (decoded when the response is JSON, else text). A status >= 400
    fails the task unless ``allowFailed``; responses above ``options.maxContentLength``
    (10 MB by default) fail: use Download for large bodies.

    ``body`` as a mapping or list is sent as JSON; ``formData`` is sent URL-encoded, or as
    multipart when ``contentType`` is multipart/form-data or a value is a choreo:// file."""

    short_name: ClassVar[str] = "http"
    aliases: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.core.http.Request", "io.kestra.plugin.fs.http.Request")
    example: ClassVar[str] = """\
id: api_call
namespace: company.team
tasks:
  - id: create_product
    type: io.kestra.plugin.core.http.Request
    uri: https://dummyjson.com/products/add
    method: POST
    headers:
      Authorization: "Bearer {{ secret('API_TOKEN') }}"
    body:
      title: Kestra Pen
    options:
      timeout:
        readIdleTimeout: PT30S
  - id: log_id
    type: io.kestra.plugin.core.log.Log
    message: "Created {{ outputs.create_product.body.id }} ({{ outputs.create_product.code }})"
"""

    def run(self, ctx: RunContext) -> dict[str, Any]:
        limit = self.options.maxContentLength or _MAX_CONTENT

        def consume(response: httpx.Response, stopped: threading.Event) -> tuple[httpx.Response, bytes]:
            self._check_status(ctx, response)
            content = bytearray()
            for chunk in response.iter_bytes(_CHUNK):
                if stopped.is_set():
                    break
                content += chunk
                if len(content) > limit:
                    raise TaskFailed(f"The response of {response.request.url} exceeds maxContentLength "
                                     f"({limit} bytes); use Download for large bodies")
            return response, bytes(content)

        response, content = self._exchange(ctx, consume)
        text = self._decode(response, content)
        if "RESPONSE_BODY" in self.options.logs:
            ctx.log(Level.INFO, "Response body: " + text)
        body: Any = text
        if _is_json(response.headers.get("content-type", "")):
            try:
                body = json.loads(text)
            except ValueError:
                pass
        return {"code": response.status_code, "headers": _headers(response), "body": body}


class Download(_HttpTask):
    """Download an HTTP response body into internal storage. Outputs ``uri``, ``code``,
    ``length`` (bytes stored) and ``headers``. The file is named by ``saveAs``, else the
    Content-Disposition filename, else the last segment of the URI path, else ``download``.
    An empty body fails unless ``failOnEmptyResponse: false``; a status >= 400 fails unless
    ``allowFailed``."""

    short_name: ClassVar[str] = "http_download"
    aliases: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.core.http.Download", "io.kestra.plugin.fs.http.Download")
    example: ClassVar[str] = """\
id: download
namespace: company.team
tasks:
  - id: extract
    type: io.kestra.plugin.core.http.Download
    uri: https://huggingface.co/datasets/kestra/datasets/raw/main/csv/orders.csv
  - id: size
    type: io.kestra.plugin.core.log.Log
    message: "{{ outputs.extract.length }} bytes stored at {{ outputs.extract.uri }}"
"""
    uses_working_dir: ClassVar[bool] = True

    failOnEmptyResponse: bool = True
    saveAs: str | None = None

    def run(self, ctx: RunContext) -> dict[str, Any]:
        part = ctx.working_dir / f".download-{uuid.uuid4().hex}"
        try:
            return self._download(ctx, part)
        finally:
            part.unlink(missing_ok=True)

    def _download(self, ctx: RunContext, part: Path) -> dict[str, Any]:
        def consume(response: httpx.Response, stopped: threading.Event) -> tuple[httpx.Response, int]:
            self._check_status(ctx, response)
            length = 0
            with part.open("wb") as out:
                for chunk in response.iter_bytes(_CHUNK):
                    if stopped.is_set():
                        break
                    out.write(chunk)
                    length += len(chunk)
            return response, length

        response, length = self._exchange(ctx, consume)
        if length == 0 and self.failOnEmptyResponse:
            raise TaskFailed(ctx.mask(f"{response.request.url} returned an empty body "
                                      "(set failOnEmptyResponse: false to allow it)"))
        filename = (_safe_name(ctx.render_str(self.saveAs)) if self.saveAs else None) or _filename(response)
        uri = ctx.store(part, filename)
        ctx.log(Level.INFO, f"Downloaded {length} bytes from {response.request.url} as {filename}")
        return {"uri": uri, "code": response.status_code, "length": length, "headers": _headers(response)}


def _part(value: Any) -> tuple[str | None, bytes | str] | tuple[str, bytes, str]:
    """A multipart field: a choreo:// value uploads that stored file, anything else is text."""
    if isinstance(value, str) and value.startswith(SCHEME):
        try:
            data = storage().get(value)
        except StorageError as exc:
            raise TaskFailed(f"formData: {exc}") from None
        return PurePosixPath(unquote(urlparse(value).path)).name or "file", data, "application/octet-stream"
    return None, value if isinstance(value, str) else json.dumps(value)


def _failure(ctx: RunContext, request: httpx.Request, error: BaseException) -> BaseException:
    """The exception the task raises for an error of the helper thread: network errors become
    a TaskFailed with a message (no traceback); anything else is a bug and is re-raised."""
    if isinstance(error, TaskFailed):
        return TaskFailed(ctx.mask(str(error)))
    for kind, text in _NETWORK_ERRORS:
        if isinstance(error, kind):
            detail = text.format(error=str(error) or type(error).__name__)
            return TaskFailed(ctx.mask(f"{request.method} {request.url}: {detail}"))
    return error


def _headers(response: httpx.Response) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for name, value in response.headers.multi_items():
        result.setdefault(name, []).append(value)
    return result


def _header_lines(headers: httpx.Headers) -> str:
    # Credentials are redacted whatever the secrets: a Basic header is an encoding of them.
    return "\n".join(f"{k}: {MASK if k.lower() in _REDACTED_HEADERS else v}" for k, v in headers.multi_items())


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _filename(response: httpx.Response) -> str:
    disposition = response.headers.get("content-disposition")
    if disposition:
        message = Message()
        message["content-disposition"] = disposition
        name = _safe_name(message.get_filename() or "")
        if name:
            return name
    return _safe_name(unquote(response.request.url.path)) or "download"


def _safe_name(name: str) -> str | None:
    """The last path segment of ``name``: a server cannot choose where the file goes."""
    last = PurePosixPath(name.replace("\\", "/")).name
    return last if last not in ("", ".", "..") else None


TASK_TYPES = (Request, Download)
