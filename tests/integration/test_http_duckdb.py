"""HTTP Request/Download and DuckDB Query through the real engine, a real local HTTP server
(pytest-httpserver) and a real DuckDB."""
from __future__ import annotations

import base64
import json
import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request as ServerRequest
from werkzeug import Response

from orchestrator.engine import services
from orchestrator.engine.storage import storage
from tests.helpers import Runner, terminal

CSV = "id,name,amount\n1,ann,10.5\n2,bob,20\n3,cid,7.25\n"


@pytest.fixture
def server(httpserver: HTTPServer) -> Iterator[HTTPServer]:
    yield httpserver
    httpserver.clear()


@pytest.fixture
def gate(server: HTTPServer) -> Iterator[threading.Event]:
    """An event a blocking handler waits on; set at the end so the server is free again."""
    release = threading.Event()
    yield release
    release.set()


def flow(text: str, server: HTTPServer) -> str:
    return text.replace("BASE", server.url_for("").rstrip("/"))


def recorded(server: HTTPServer) -> ServerRequest:
    assert len(server.log) == 1, server.log
    return server.log[0][0]


def error_lines(runner: Runner, exe: object) -> list[str]:
    return [e.message for e in runner.logs(exe) if e.level == "ERROR"]  # type: ignore[arg-type]


# --- Request ------------------------------------------------------------------------------------------
def test_a_get_returns_the_decoded_json_body_code_and_headers(runner: Runner, server: HTTPServer) -> None:
    server.expect_request("/api/items", method="GET").respond_with_json({"items": [1, 2], "ok": True})
    exe = runner.run(flow("""
        id: get
        namespace: t
        tasks:
          - {id: req, type: http, uri: BASE/api/items}
          - {id: use, type: return, format: "{{ outputs.req.body.items[1] }}"}
    """, server))
    assert exe.state == "SUCCESS", runner.messages(exe)
    outputs = runner.taskrun(exe, "req").outputs
    assert outputs["code"] == 200
    assert outputs["body"] == {"items": [1, 2], "ok": True}
    assert outputs["headers"]["content-type"] == ["application/json"]
    assert "uri" not in outputs
    assert runner.taskrun(exe, "use").outputs == {"value": "2"}


def test_a_text_response_is_kept_as_text_and_repeated_headers_as_lists(runner: Runner, server: HTTPServer) -> None:
    response = Response("plain {not json}", content_type="text/plain",
                        headers=[("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])
    server.expect_request("/text").respond_with_response(response)
    exe = runner.run(flow("""
        id: text
        namespace: t
        tasks:
          - {id: req, type: io.kestra.plugin.core.http.Request, uri: BASE/text}
    """, server))
    outputs = runner.taskrun(exe, "req").outputs
    assert outputs["body"] == "plain {not json}"
    assert outputs["headers"]["set-cookie"] == ["a=1", "b=2"]


def test_a_post_sends_a_mapping_body_as_json(runner: Runner, server: HTTPServer) -> None:
    server.expect_request("/items", method="POST").respond_with_json({"id": 7}, status=201)
    exe = runner.run(flow("""
        id: post
        namespace: t
        tasks:
          - id: req
            type: io.kestra.plugin.fs.http.Request
            uri: BASE/items
            method: POST
            body:
              name: "pen-{{ flow.id }}"
              tags: [a, b]
    """, server))
    assert exe.state == "SUCCESS", runner.messages(exe)
    sent = recorded(server)
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.get_json() == {"name": "pen-post", "tags": ["a", "b"]}
    assert runner.taskrun(exe, "req").outputs["code"] == 201


def test_a_string_body_is_sent_as_written_with_its_content_type(runner: Runner, server: HTTPServer) -> None:
    server.expect_request("/raw", method="PUT").respond_with_data("ok")
    runner.run(flow("""
        id: raw
        namespace: t
        tasks:
          - {id: req, type: http, uri: BASE/raw, method: PUT, contentType: text/csv, body: "a,b\\n1,2"}
    """, server))
    sent = recorded(server)
    assert sent.headers["Content-Type"] == "text/csv"
    assert sent.get_data(as_text=True) == "a,b\n1,2"


def test_form_data_is_sent_url_encoded(runner: Runner, server: HTTPServer) -> None:
    server.expect_request("/login", method="POST").respond_with_data("ok")
    runner.run(flow("""
        id: form
        namespace: t
        tasks:
          - {id: req, type: http, uri: BASE/login, method: POST, formData: {user: ann, count: 2}}
    """, server))
    sent = recorded(server)
    assert sent.mimetype == "application/x-www-form-urlencoded"
    assert sent.form.to_dict() == {"user": "ann", "count": "2"}


def test_form_data_with_a_stored_file_is_sent_as_multipart(runner: Runner, server: HTTPServer) -> None:
    server.expect_request("/files/orders.csv").respond_with_data(CSV, content_type="text/csv")
    server.expect_request("/upload", method="POST").respond_with_data("stored")
    exe = runner.run(flow("""
        id: upload
        namespace: t
        tasks:
          - {id: dl, type: http_download, uri: BASE/files/orders.csv}
          - id: req
            type: http
            uri: BASE/upload
            method: POST
            formData:
              note: monthly
              file: "{{ outputs.dl.uri }}"
    """, server))
    assert exe.state == "SUCCESS", runner.messages(exe)
    upload = server.log[1][0]
    assert upload.mimetype == "multipart/form-data"
    assert upload.form["note"] == "monthly"
    assert upload.files["file"].filename == "orders.csv"
    assert upload.files["file"].read().decode() == CSV


def test_a_failed_status_fails_the_task_with_the_status_and_a_body_excerpt(runner: Runner, server: HTTPServer) -> None:
    server.expect_request("/broken").respond_with_data("database is down " + "x" * 2000, status=503)
    exe = runner.run(flow("""
        id: broken
        namespace: t
        tasks:
          - {id: req, type: http, uri: BASE/broken}
    """, server))
    assert exe.state == "FAILED"
    [line] = error_lines(runner, exe)
    assert "failed with status 503" in line and "database is down" in line
    assert len(line) < 800


@pytest.mark.parametrize("allow", ["allowFailed: true", "options: {allowFailed: true}"])
def test_allow_failed_keeps_the_task_successful_with_the_code(runner: Runner, server: HTTPServer, allow: str) -> None:
    server.expect_request("/missing").respond_with_json({"error": "not found"}, status=404)
    exe = runner.run(flow(f"""
        id: allowed
        namespace: t
        tasks:
          - id: req
            type: http
            uri: BASE/missing
            {allow}
    """, server))
    assert exe.state == "SUCCESS"
    assert runner.taskrun(exe, "req").outputs["code"] == 404
    assert runner.taskrun(exe, "req").outputs["body"] == {"error": "not found"}


@pytest.mark.parametrize("options", [
    "{basicAuthUser: ann, basicAuthPassword: 'pa:ss'}",
    "{auth: {type: BASIC, username: ann, password: 'pa:ss'}}",
])
def test_basic_auth_in_the_kestra_0_and_1_shapes(runner: Runner, server: HTTPServer, options: str) -> None:
    server.expect_request("/private").respond_with_data("ok")
    runner.run(flow(f"""
        id: basic
        namespace: t
        tasks:
          - {{id: req, type: http, uri: BASE/private, options: {options}}}
    """, server))
    expected = "Basic " + base64.b64encode(b"ann:pa:ss").decode()
    assert recorded(server).headers["Authorization"] == expected


def test_bearer_auth_sends_the_token(runner: Runner, server: HTTPServer) -> None:
    server.expect_request("/me").respond_with_data("ok")
    runner.run(flow("""
        id: bearer
        namespace: t
        tasks:
          - {id: req, type: http, uri: BASE/me, options: {auth: {type: BEARER, token: "tok-{{ flow.id }}"}}}
    """, server))
    assert recorded(server).headers["Authorization"] == "Bearer tok-bearer"


def test_a_secret_in_a_header_is_masked_in_logs_and_errors(
        runner: Runner, server: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_TOKEN", base64.b64encode(b"sk-live-123456").decode())
    server.expect_request("/guarded").respond_with_data("key sk-live-123456 is revoked", status=403)
    exe = runner.run(flow("""
        id: masked
        namespace: t
        tasks:
          - id: req
            type: http
            uri: BASE/guarded
            headers:
              X-Api-Key: "{{ secret('TOKEN') }}"
            options:
              logs: [REQUEST_HEADERS]
    """, server))
    assert recorded(server).headers["X-Api-Key"] == "sk-live-123456"
    assert exe.state == "FAILED"
    messages = runner.messages(exe)
    assert not any("sk-live-123456" in m for m in messages)
    assert any("x-api-key: ********" in m for m in messages)
    assert "key ******** is revoked" in error_lines(runner, exe)[0]


def test_a_refused_connection_fails_with_a_clear_message(runner: Runner) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    exe = runner.run(f"""
        id: refused
        namespace: t
        tasks:
          - {{id: req, type: http, uri: "http://127.0.0.1:{port}/x"}}
    """)
    assert exe.state == "FAILED"
    [line] = error_lines(runner, exe)
    assert f"GET http://127.0.0.1:{port}/x: cannot connect" in line
    assert "Traceback" not in line


def test_a_slow_response_fails_on_the_read_timeout(runner: Runner, server: HTTPServer, gate: threading.Event) -> None:
    server.expect_request("/slow").respond_with_handler(lambda request: (gate.wait(10), Response("late"))[1])
    started = time.monotonic()
    exe = runner.run(flow("""
        id: slow
        namespace: t
        tasks:
          - {id: req, type: http, uri: BASE/slow, options: {readTimeout: PT0.3S}}
    """, server))
    assert exe.state == "FAILED"
    assert time.monotonic() - started < 5
    assert "no response within the read timeout" in error_lines(runner, exe)[0]


def test_a_kill_aborts_a_pending_request(runner: Runner, server: HTTPServer, gate: threading.Event) -> None:
    server.expect_request("/hang").respond_with_handler(lambda request: (gate.wait(20), Response("late"))[1])
    exe = runner.run(flow("""
        id: hang
        namespace: t
        tasks:
          - {id: req, type: http, uri: BASE/hang}
    """, server), wait=False)
    runner.wait(exe, lambda e: len(server.log) > 0 or any(r.state == "RUNNING" for r in runner.taskruns(e)))
    started = time.monotonic()
    services.kill(str(exe.id))
    exe = runner.wait(exe, terminal, timeout=10)
    assert time.monotonic() - started < 5
    assert runner.states(exe) == {"req": "KILLED"}


# --- Download ------------------------------------------------------------------------------------------
def test_download_stores_the_body_under_the_uri_file_name(runner: Runner, server: HTTPServer) -> None:
    server.expect_request("/files/orders.csv").respond_with_data(CSV, content_type="text/csv")
    exe = runner.run(flow("""
        id: download
        namespace: t
        tasks:
          - {id: dl, type: io.kestra.plugin.core.http.Download, uri: BASE/files/orders.csv}
          - {id: content, type: return, format: "{{ read(outputs.dl.uri) }}"}
    """, server))
    assert exe.state == "SUCCESS", runner.messages(exe)
    outputs = runner.taskrun(exe, "dl").outputs
    assert outputs["uri"].startswith("choreo://") and outputs["uri"].endswith("/orders.csv")
    assert outputs["code"] == 200 and outputs["length"] == len(CSV)
    assert outputs["headers"]["content-type"] == ["text/csv"]
    assert runner.taskrun(exe, "content").outputs == {"value": CSV}


def test_download_names_the_file_from_content_disposition(runner: Runner, server: HTTPServer) -> None:
    server.expect_request("/export").respond_with_data(
        "x", headers={"Content-Disposition": 'attachment; filename="../report 2024.csv"'})
    exe = runner.run(flow("""
        id: disposition
        namespace: t
        tasks:
          - {id: dl, type: http_download, uri: "BASE/export?month=1"}
    """, server))
    assert runner.taskrun(exe, "dl").outputs["uri"].endswith("/report%202024.csv")


def test_download_fails_on_an_empty_body_unless_allowed(runner: Runner, server: HTTPServer) -> None:
    server.expect_request("/empty").respond_with_data("")
    exe = runner.run(flow("""
        id: empty
        namespace: t
        tasks:
          - {id: strict, type: http_download, uri: BASE/empty}
    """, server))
    assert exe.state == "FAILED"
    assert "empty body" in error_lines(runner, exe)[0]
    exe = runner.run(flow("""
        id: empty-ok
        namespace: t
        tasks:
          - {id: lenient, type: http_download, uri: BASE/empty, failOnEmptyResponse: false}
    """, server))
    assert exe.state == "SUCCESS"
    assert runner.taskrun(exe, "lenient").outputs["length"] == 0


# --- DuckDB --------------------------------------------------------------------------------------------
def test_fetch_one_outputs_the_first_row(runner: Runner) -> None:
    exe = runner.run("""
        id: answer
        namespace: t
        tasks:
          - {id: q, type: duckdb, sql: SELECT 42 AS answer, fetchType: FETCH_ONE}
          - {id: use, type: return, format: "{{ outputs.q.row.answer }}"}
    """)
    assert exe.state == "SUCCESS", runner.messages(exe)
    assert runner.taskrun(exe, "q").outputs == {"row": {"answer": 42}, "size": 1}
    assert runner.taskrun(exe, "use").outputs == {"value": "42"}


def test_fetch_outputs_json_compatible_rows_of_the_last_statement(runner: Runner) -> None:
    exe = runner.run("""
        id: rows
        namespace: t
        tasks:
          - id: q
            type: io.kestra.plugin.jdbc.duckdb.Query
            fetch: true
            sql: |
              CREATE TABLE t AS SELECT range AS n FROM range(2);
              SELECT n, ('2024-01-0' || (n + 1))::DATE AS day, 1.50::DECIMAL(5, 2) AS price,
                     'ab'::BLOB AS raw, INTERVAL 90 MINUTE AS span, [n, n] AS pair, {'k': n} AS obj,
                     'nan'::DOUBLE AS nan, TIMESTAMP '2024-01-01 10:00:00' AS at
              FROM t ORDER BY n;
    """)
    assert exe.state == "SUCCESS", runner.messages(exe)
    outputs = runner.taskrun(exe, "q").outputs
    assert outputs["size"] == 2
    assert outputs["rows"][1] == {"n": 1, "day": "2024-01-02", "price": 1.5, "raw": "YWI=", "span": "PT1H30M",
                                  "pair": [1, 1], "obj": {"k": 1}, "nan": "NaN", "at": "2024-01-01T10:00:00"}


def test_store_writes_the_rows_as_json_lines(runner: Runner) -> None:
    exe = runner.run("""
        id: stored
        namespace: t
        tasks:
          - id: q
            type: duckdb
            sql: SELECT range AS n, 'v' || range AS label FROM range(3)
            fetchType: STORE
    """)
    assert exe.state == "SUCCESS", runner.messages(exe)
    outputs = runner.taskrun(exe, "q").outputs
    assert outputs["size"] == 3 and outputs["uri"].endswith("/q.jsonl")
    lines = storage().get(outputs["uri"]).decode().splitlines()
    assert [json.loads(line) for line in lines] == [{"n": i, "label": f"v{i}"} for i in range(3)]


def test_a_downloaded_csv_is_queried_by_relative_path_without_changing_the_cwd(
        runner: Runner, server: HTTPServer) -> None:
    server.expect_request("/files/orders.csv").respond_with_data(CSV, content_type="text/csv")
    cwd = os.getcwd()
    exe = runner.run(flow("""
        id: etl
        namespace: t
        tasks:
          - {id: dl, type: http_download, uri: BASE/files/orders.csv}
          - id: q
            type: duckdb
            inputFiles:
              data.csv: "{{ outputs.dl.uri }}"
              names.txt: "ann"
            sql: |
              CREATE TABLE orders AS SELECT * FROM read_csv_auto('data.csv');
              COPY (SELECT name, amount FROM orders WHERE amount > 8 ORDER BY id) TO '{{ outputFiles.big }}' (HEADER);
              SELECT count(*) AS n, sum(amount) AS total,
                     (SELECT content FROM read_text('names.txt')) AS first FROM orders;
            fetchType: FETCH_ONE
            outputFiles: [big]
          - {id: big, type: return, format: "{{ read(outputs.q.outputFiles.big) }}"}
    """, server))
    assert exe.state == "SUCCESS", runner.messages(exe)
    assert os.getcwd() == cwd
    assert runner.taskrun(exe, "q").outputs["row"] == {"n": 3, "total": 37.75, "first": "ann"}
    assert runner.taskrun(exe, "big").outputs == {"value": "name,amount\nann,10.5\nbob,20.0\n"}


def test_output_file_globs_are_stored_by_relative_path(runner: Runner) -> None:
    exe = runner.run("""
        id: globbed
        namespace: t
        tasks:
          - id: q
            type: duckdb
            inputFiles: {out/seed.txt: makes the folder}
            sql: |
              COPY (SELECT 1 AS a) TO '{{ workingDir }}/out/a.csv' (HEADER);
              COPY (SELECT 2 AS a) TO '{{ workingDir }}/out/b.csv' (HEADER);
            outputFiles: ["out/*.csv"]
    """)
    assert exe.state == "SUCCESS", runner.messages(exe)
    stored = runner.taskrun(exe, "q").outputs["outputFiles"]
    assert sorted(stored) == ["out/a.csv", "out/b.csv"]
    assert storage().get(stored["out/b.csv"]).decode() == "a\n2\n"


def test_a_sql_error_fails_with_duckdbs_message(runner: Runner) -> None:
    exe = runner.run("""
        id: bad-sql
        namespace: t
        tasks:
          - {id: q, type: duckdb, sql: "SELECT * FROM no_such_table", fetchType: FETCH}
    """)
    assert exe.state == "FAILED"
    [line] = error_lines(runner, exe)
    assert "Catalog Error" in line and "no_such_table" in line


def test_a_kill_interrupts_a_long_query(runner: Runner) -> None:
    exe = runner.run("""
        id: long-query
        namespace: t
        tasks:
          - id: q
            type: duckdb
            sql: SELECT count(*) FROM range(1000000000) a, range(1000000000) b
            fetchType: FETCH_ONE
    """, wait=False)
    runner.wait(exe, lambda e: any(r.state == "RUNNING" for r in runner.taskruns(e)))
    time.sleep(0.2)
    started = time.monotonic()
    services.kill(str(exe.id))
    exe = runner.wait(exe, terminal, timeout=10)
    assert time.monotonic() - started < 5
    assert exe.state == "KILLED"
    assert runner.states(exe) == {"q": "KILLED"}


def test_a_task_timeout_interrupts_the_query_and_fails_the_task(runner: Runner) -> None:
    exe = runner.run("""
        id: query-timeout
        namespace: t
        tasks:
          - id: q
            type: duckdb
            timeout: PT0.5S
            sql: SELECT count(*) FROM range(1000000000) a, range(1000000000) b
    """, timeout=10)
    assert exe.state == "FAILED"
    assert "timed out" in error_lines(runner, exe)[0]


def test_kestra_flows_shapes_are_accepted(runner: Runner) -> None:
    exe = runner.run("""
        id: kestra-shapes
        namespace: t
        tasks:
          - id: q
            type: io.kestra.plugin.jdbc.duckdb.Query
            url: 'jdbc:duckdb:'
            timeZoneId: Europe/Paris
            inputFiles: '{"in.csv": "a\\n1\\n2\\n"}'
            sql: SELECT sum(a) AS s, TIMESTAMPTZ '2024-06-01 12:00:00+00' AS at FROM read_csv_auto('in.csv')
            fetchOne: true
    """)
    assert exe.state == "SUCCESS", runner.messages(exe)
    assert runner.taskrun(exe, "q").outputs["row"] == {"s": 3, "at": "2024-06-01T14:00:00+02:00"}
