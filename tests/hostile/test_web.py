"""The web server, over real HTTP against the real `serve` process, to a client with no account."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli import Cli, Server, serving


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    cli = Cli(tmp_path)
    ran = cli("flows", "run", cli.flow("hello.yaml", "id: hello\nnamespace: acme.secret\ntasks:\n"
                                       "  - {id: hi, type: log, message: hi}\n"), "--json")
    assert ran.returncode == 0, ran.stderr
    with serving(cli, role="web") as server:
        yield server


def test_the_home_page_shows_a_stranger_nothing_but_the_sign_in_link(server: Server) -> None:
    execution_id = server.cli("executions", "list", "--json").stdout.split('"id": "')[1].split('"')[0]
    page = httpx.get(f"{server.url}/")
    assert page.status_code == 200
    assert "acme.secret" not in page.text and "hello" not in page.text and execution_id not in page.text
    assert re.findall(r'href="([^"]+)"', page.text) == ["/admin/login/?next=/"]


def test_a_signed_in_user_sees_the_flows_and_executions(server: Server) -> None:
    server.cli.env["DJANGO_SUPERUSER_PASSWORD"] = "correct horse"
    made = server.cli("createsuperuser", "--noinput", "--username", "ada", "--email", "ada@example.com")
    assert made.returncode == 0, made.stderr
    with httpx.Client(base_url=server.url, follow_redirects=True) as browser:
        form = browser.get("/admin/login/?next=/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        assert token is not None
        page = browser.post("/admin/login/?next=/", data={
            "csrfmiddlewaretoken": token.group(1), "username": "ada", "password": "correct horse", "next": "/"})
    assert page.status_code == 200
    assert "acme.secret" in page.text and "Signed in as <strong>ada</strong>" in page.text


@pytest.mark.parametrize("path", ["/", "/health", "/admin/login/", "/no-such-page"])
def test_trace_is_refused_everywhere(server: Server, path: str) -> None:
    answer = httpx.request("TRACE", f"{server.url}{path}", headers={"Cookie": "sessionid=abc"})
    assert answer.status_code == 405
    assert "sessionid" not in answer.text
    assert "TRACE" not in answer.headers["Allow"]


def test_a_bad_host_header_gets_400_and_one_line_in_the_log(server: Server) -> None:
    for _ in range(3):
        answer = httpx.get(f"{server.url}/", headers={"Host": "evil.example"})
        assert answer.status_code == 400
    logged = server.stderr_after_stop()
    assert "Traceback" not in logged
    said = [line for line in logged.splitlines() if "evil.example" in line]
    assert len(said) == 3 and all(line.startswith("Invalid HTTP_HOST header: 'evil.example'") for line in said)
