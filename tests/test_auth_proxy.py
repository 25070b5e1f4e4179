"""A proxy never opens the door: the real dashboard (``streamlit run app.py``) with `make run`'s
defaults and with the README's proxy recipe, a real Debian nginx in front.

* Defaults (``AUTH=auto`` on 127.0.0.1): a request that carries ``X-Forwarded-For`` (or comes
  through nginx) must sign in on every route, pages and websocket included; direct loopback is open
  as before.
* The recipe (``TRUSTED_PROXY_HEADER=X-Forwarded-User``, nginx ``auth_basic`` setting the header):
  no credentials get nginx's 401; a proxy user gets their own role (a viewer may read, not
  ``PATCH``); a proxy user nobody created gets nothing; a header forged by the client is replaced.
* Bodies are bounded while they are read: a 50 MB login body gets 413 and the server's memory stays
  flat.
"""

from __future__ import annotations

import base64
import http.client
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from conftest import free_port, serving
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from test_auth import CHEAP_HASHER, run_cli, ws_status
from test_pages_history import seed_history

from issc.auth import Accounts, AuthMiddleware, Gate, auth_routes
from issc.config import load_settings
from issc.store import create_engine
from issc.store.migrate import migrate

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
needs_nginx = pytest.mark.skipif(
    NGINX is None, reason="Debian's nginx is not installed (apt-get install nginx)"
)

#: The README's recipe, with the paths of a throwaway prefix (see README "Behind a reverse proxy").
NGINX_CONF = """{user}
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
{auth}
            proxy_pass http://127.0.0.1:{upstream};
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-User $remote_user;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_buffering off;
            proxy_read_timeout 1h;
        }}
    }}
}}
"""
AUTH_BASIC = """            auth_basic "ISSC";
            auth_basic_user_file {prefix}/htpasswd;"""
PROXY_USERS = {"alice": "alice-pw", "ana": "ana-pw", "mallory": "mallory-pw"}


def start_nginx(prefix: Path, upstream: int, with_auth: bool) -> tuple[str, subprocess.Popen]:
    """nginx on a free loopback port in front of ``upstream``, as a child process (no daemon)."""
    prefix.mkdir(parents=True, exist_ok=True)
    (prefix / "htpasswd").write_text("".join(f"{u}:{{PLAIN}}{p}\n" for u, p in PROXY_USERS.items()))
    port = free_port()
    auth = AUTH_BASIC.format(prefix=prefix) if with_auth else ""
    conf = prefix / "nginx.conf"
    # run as root (a CI container), nginx's workers would be `nobody`, who cannot read the temp folder
    user = "user root;" if os.geteuid() == 0 else ""
    conf.write_text(NGINX_CONF.format(user=user, prefix=prefix, port=port, upstream=upstream, auth=auth))
    process = subprocess.Popen(
        [NGINX, "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"nginx exited: {(prefix / 'error.log').read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return f"http://127.0.0.1:{port}", process
        except OSError:
            time.sleep(0.1)
    process.kill()
    pytest.fail("nginx did not listen within 15 s")


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Callable[[int, bool], str]]:
    """Factory: ``start(upstream_port, with_auth) -> url``; every nginx is stopped after the test."""
    started: list[subprocess.Popen] = []

    def start(upstream: int, with_auth: bool) -> str:
        url, process = start_nginx(tmp_path / f"nginx-{len(started)}", upstream, with_auth)
        started.append(process)
        return url

    yield start
    for process in started:
        process.terminate()
        process.wait(10)


def basic(user: str) -> dict[str, str]:
    pair = f"{user}:{PROXY_USERS[user]}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


def refused(response: requests.Response) -> bool:
    """401 (API, stream) or the login page (a browser's navigation)."""
    if response.status_code == 401:
        return True
    return response.status_code == 303 and response.headers["location"].startswith("/auth/login")


ROUTES = ["/api/plates", "/api/plates.csv", "/api/plates/1/crop.jpg", "/video_feed/0/", "/api/cameras"]
PAGES = ["/", "/plates", "/tuning"]


@needs_nginx
def test_forwarded_requests_to_a_loopback_dashboard_must_sign_in(
    streamlit_server, nginx, tmp_path: Path
) -> None:
    # given `make run`'s defaults (AUTH=auto, 127.0.0.1) and one viewer
    url = f"sqlite:///{tmp_path}/history.db"
    seed_history(url)
    assert (
        run_cli(
            url, "user", "add", "vera", "--role", "viewer", "--password-stdin", stdin="vera's pw!\n"
        ).returncode
        == 0
    )
    server = streamlit_server({"CAMERAS": "demo", "DETECTOR": "none", "DATABASE_URL": url})
    proxy = nginx(server.port, False)  # a plain TLS-terminator-like proxy, no auth of its own
    html = {"Accept": "text/html"}
    ws = "/_stcore/stream"
    for path in ROUTES:
        # direct loopback: open, as before
        direct = requests.get(server.url + path, stream=True, timeout=10)
        assert direct.status_code == 200, path
        direct.close()
        # a forwarded request, or one through nginx, must sign in
        for base, headers in (
            (server.url, {"X-Forwarded-For": "203.0.113.5"}),
            (server.url, {"X-Real-IP": "203.0.113.5"}),
            (server.url, {"Forwarded": "for=203.0.113.5"}),
            (server.url, {"Host": socket.gethostname()}),
            (proxy, {}),
        ):
            answer = requests.get(
                base + path, headers=headers, allow_redirects=False, stream=True, timeout=10
            )
            assert answer.status_code == 401, (path, headers, base)
            answer.close()
    for path in PAGES:
        assert requests.get(server.url + path, headers=html, timeout=10).status_code == 200
        for base, headers in ((server.url, {"X-Forwarded-For": "203.0.113.5", **html}), (proxy, html)):
            assert refused(requests.get(base + path, headers=headers, allow_redirects=False, timeout=10)), (
                path
            )
    assert ws_status(server.url.replace("http", "ws") + ws, {}) == 101
    assert ws_status(server.url.replace("http", "ws") + ws, {"X-Forwarded-For": "203.0.113.5"}) == 401
    assert ws_status(proxy.replace("http", "ws") + ws, {}) == 401
    # a user signs in through the proxy and gets their own role, not the built-in admin
    session = requests.Session()
    login = session.post(proxy + "/auth/login", json={"name": "vera", "password": "vera's pw!"}, timeout=30)
    assert login.status_code == 200 and login.json() == {"user": "vera", "role": "viewer"}
    assert session.get(proxy + "/api/plates", timeout=10).status_code == 200
    assert session.patch(proxy + "/api/plates/1", json={"confirmed": True}, timeout=10).status_code == 403
    assert (
        requests.get(proxy + "/api/plates/1/crop.jpg", cookies=session.cookies, timeout=10).headers[
            "cache-control"
        ]
        == "no-store"
    )  # once signed in, images do not stay in the browser's cache
    assert (
        requests.get(server.url + "/api/plates/1/crop.jpg", timeout=10)
        .headers["cache-control"]
        .startswith("private")
    )


@needs_nginx
def test_the_readme_proxy_recipe_gives_each_proxy_user_their_role(
    streamlit_server, nginx, tmp_path: Path
) -> None:
    # given the recipe: TRUSTED_PROXY_HEADER, nginx with auth_basic; alice is a viewer, ana an admin
    url = f"sqlite:///{tmp_path}/history.db"
    seed_history(url)
    for name, role in (("alice", "viewer"), ("ana", "admin")):
        made = run_cli(url, "user", "add", name, "--role", role, "--password-stdin", stdin="long password\n")
        assert made.returncode == 0, made.stderr
    token = run_cli(url, "token", "create", "--name", "script").stdout.strip()
    server = streamlit_server(
        {
            "CAMERAS": "demo",
            "DETECTOR": "none",
            "DATABASE_URL": url,
            "TRUSTED_PROXY_HEADER": "X-Forwarded-User",
            "MAX_VIEWERS_PER_USER": "2",
        }
    )
    proxy = nginx(server.port, True)
    # no credentials: nginx's own 401, before the dashboard
    for path in [*ROUTES, *PAGES]:
        assert requests.get(proxy + path, timeout=10).status_code == 401, path
    # alice (a viewer) may read, pages and websocket included, and may not change anything
    alice = basic("alice")
    for path in [*ROUTES[:3], "/api/cameras", *PAGES]:
        assert requests.get(proxy + path, headers=alice, timeout=10).status_code == 200, path
    assert ws_status(proxy.replace("http", "ws") + "/_stcore/stream", alice) == 101
    patch = requests.patch(proxy + "/api/plates/1", headers=alice, json={"text": "EVIL1"}, timeout=10)
    assert patch.status_code == 403 and "alice" in patch.json()["error"]
    # a forged header is replaced by the proxy's
    forged = {**alice, "X-Forwarded-User": "ana"}
    assert (
        requests.patch(
            proxy + "/api/plates/1", headers=forged, json={"confirmed": True}, timeout=10
        ).status_code
        == 403
    )
    # ana (an admin) may correct a read
    fixed = requests.patch(
        proxy + "/api/plates/1", headers=basic("ana"), json={"confirmed": True}, timeout=10
    )
    assert fixed.status_code == 200 and fixed.json()["reviewed_by"] == "ana"
    # mallory passed the proxy but nobody created her here: no access at all
    for path in ROUTES:
        assert (
            requests.get(proxy + path, headers=basic("mallory"), stream=True, timeout=10).status_code == 401
        )
    assert refused(
        requests.get(
            proxy + "/",
            headers={**basic("mallory"), "Accept": "text/html"},
            allow_redirects=False,
            timeout=10,
        )
    )
    # a trusted proxy header turns auth on: direct loopback needs credentials too
    assert requests.get(server.url + "/api/plates", timeout=10).status_code == 401
    assert requests.get(
        server.url + "/api/plates", headers={"Authorization": f"Bearer {token}"}, timeout=10
    ).ok
    # one user cannot take every live-stream slot
    streams = [
        requests.get(proxy + "/video_feed/0/", headers=alice, stream=True, timeout=10) for _ in range(3)
    ]
    try:
        assert [s.status_code for s in streams] == [200, 200, 429]
        assert "MAX_VIEWERS_PER_USER" in streams[2].json()["error"]
        other = requests.get(proxy + "/video_feed/0/", headers=basic("ana"), stream=True, timeout=10)
        assert other.status_code == 200
        other.close()
    finally:
        for s in streams:
            s.close()


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _post_huge(url: str, path: str, size: int, chunked: bool = False) -> int:
    """POST ``size`` bytes (sent in 64 KiB pieces, never held whole); the status that came back."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.putrequest("POST", path)
    conn.putheader("Content-Type", "application/x-www-form-urlencoded")
    if chunked:
        conn.putheader("Transfer-Encoding", "chunked")
    else:
        conn.putheader("Content-Length", str(size))
    conn.endheaders()
    piece = b"a" * 65536
    try:
        sent = 0
        while sent < size:
            conn.send(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            sent += len(piece)
        if chunked:
            conn.send(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered and closed without reading the rest: that is the point
    status = conn.getresponse().status
    conn.close()
    return status


def test_a_50_mb_login_body_gets_413_and_memory_stays_flat(streamlit_server, tmp_path: Path) -> None:
    server = streamlit_server({"CAMERAS": "demo", "DETECTOR": "none", "AUTH": "on"})
    requests.get(server.url + "/auth/login", timeout=10)  # warm up the route
    before = _rss_kb(server.process.pid)
    assert _post_huge(server.url, "/auth/login", 50 * 1024 * 1024) == 413
    assert _post_huge(server.url, "/auth/login", 2 * 1024 * 1024, chunked=True) == 413
    grown_mb = (_rss_kb(server.process.pid) - before) / 1024
    assert grown_mb < 20, f"the server grew by {grown_mb:.0f} MB"
    # and the server still answers
    assert requests.get(server.url + "/_stcore/health", timeout=10).ok


# --- in-process: the middleware and the login on a loopback uvicorn ------------------------------


async def _ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def _ws_ok(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.close()


def test_writes_and_websockets_from_another_sites_page_are_refused() -> None:
    # given a dashboard open to this machine (AUTH=auto on loopback)
    gate = Gate(load_settings().auth, None, bind_address="127.0.0.1")
    app = Starlette(routes=[Route("/w", _ok, methods=["GET", "PATCH"]), WebSocketRoute("/ws", _ws_ok)])
    with serving(AuthMiddleware(app, gate=lambda: gate)) as url:
        own = url
        # a page of this server may write and open the websocket; scripts send no Origin
        assert requests.patch(url + "/w", headers={"Origin": own}, timeout=10).status_code == 200
        assert requests.patch(url + "/w", timeout=10).status_code == 200
        assert ws_status(url.replace("http", "ws") + "/ws", {"Origin": own}) == 101
        # another site's page may not, not even through the open door of a loopback dashboard
        for evil in ("http://evil.example", "http://127.0.0.1.evil.example:8501", "null"):
            refused = requests.patch(url + "/w", headers={"Origin": evil}, timeout=10)
            assert refused.status_code == 403 and "Origin" in refused.json()["error"]
            assert ws_status(url.replace("http", "ws") + "/ws", {"Origin": evil}) == 403
        assert requests.get(
            url + "/w", headers={"Origin": "http://evil.example"}, timeout=10
        ).ok  # reads pass


def test_behind_a_proxy_each_client_has_its_own_login_limit(tmp_path: Path) -> None:
    # given a dashboard behind a proxy on this machine (every peer is 127.0.0.1)
    engine = create_engine(f"sqlite:///{tmp_path}/auth.db")
    migrate(engine)
    accounts = Accounts(engine, hasher=CHEAP_HASHER)  # the per-client limit is under test, not argon2
    accounts.add_user("ana", "viewer", "right password")
    gate = Gate(load_settings(auth="on").auth, accounts, bind_address="127.0.0.1")
    with serving(Starlette(routes=auth_routes(lambda: gate))) as url:
        cookies: list[str] = []

        def login(client: str, password: str) -> int:
            body = {"name": "ana", "password": password}
            headers = {
                "X-Forwarded-For": f"203.0.113.250, {client}",  # the proxy appends the real peer
                "X-Forwarded-Proto": "https",  # the proxy terminates TLS
            }
            answer = requests.post(url + "/auth/login", json=body, headers=headers, timeout=30)
            cookies.append(answer.headers.get("set-cookie", ""))
            return answer.status_code

        # when one client fails five times, it is throttled ...
        assert [login("198.51.100.7", "wrong") for _ in range(5)] == [401] * 5
        assert login("198.51.100.7", "right password") == 429
        # ... and another client behind the same proxy is not (the leftmost, client-made entry is ignored)
        assert login("198.51.100.8", "right password") == 200
        assert "issc_session=" in cookies[-1] and "Secure" in cookies[-1]  # HTTPS at the proxy: Secure
    assert {s.client for s in accounts.sessions()} == {"198.51.100.8"}
    engine.dispose()
