"""Authentication: users, tokens, sessions and the rate limit on real SQLite and PostgreSQL stores,
the command line (in-process, and once as a real ``python -m issc.auth`` command), and a real
``streamlit run app.py`` server with ``AUTH=on`` where every route and the Streamlit websocket answer
401 without credentials and 200 with them."""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
import sqlalchemy as sa
from argon2 import PasswordHasher
from conftest import ROOT, free_port
from postgres import reset_postgres
from test_pages_history import seed_history
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from issc.auth import Accounts, AuthError, Gate, LoginRefused, Principal
from issc.auth import __main__ as cli
from issc.auth import gate as gate_module
from issc.auth.gate import OPEN, RECHECK_S
from issc.auth.keyfile import default_secret_key_file, read_or_create_key
from issc.auth.sessions import Busy, HashPool, RateLimit, SessionSigner
from issc.config import load_settings
from issc.errors import ConfigError
from issc.store import create_engine
from issc.store.migrate import current_revision, migrate

#: argon2id at its smallest cost, for the throwaway databases of the ``accounts`` fixture: what those
#: tests check (who may sign in, sessions, limits) does not depend on the hash's cost. The production
#: parameters (``Accounts(engine)``) stay under test where the cost matters: the stored hash's
#: parameters, the hash queue, the command line and every server.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PRODUCTION_HASH = re.compile(r"\$argon2id\$v=19\$m=65536,t=3,p=4\$")


#: A SQLite history database brought to the latest revision once (at the first use); tests get copies.
_MIGRATED_SQLITE: list[Path] = []


def _migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not _MIGRATED_SQLITE:
        path = tmp_path_factory.mktemp("migrated") / "history.db"
        engine = create_engine(f"sqlite:///{path}")
        migrate(engine)
        engine.dispose()  # the last connection closed: the WAL is in the file
        assert not path.with_name("history.db-wal").exists()
        _MIGRATED_SQLITE.append(path)
    return _MIGRATED_SQLITE[0]


#: The tables and revision of a PostgreSQL database freshly migrated (noted at the first migration).
_MIGRATED_TABLES: set[str] = set()
_MIGRATED_HEAD: list[str | None] = [None]


def _migrated_postgres(url: str) -> None:
    """Leave ``url``'s database as a fresh migration to the latest revision leaves it: every table
    empty. When an earlier test left it at that revision with those tables, they are emptied in place
    (TRUNCATE, sequences restarted), else every table is dropped and it is migrated anew (5x slower)."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            names = set(
                conn.execute(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars()
            )
            if _MIGRATED_TABLES and names == _MIGRATED_TABLES and current_revision(conn) == _MIGRATED_HEAD[0]:
                data = ", ".join(f'"{n}"' for n in sorted(names - {"alembic_version"}))
                conn.execute(sa.text(f"TRUNCATE {data} RESTART IDENTITY CASCADE"))
                return
        reset_postgres(url)
        migrate(engine)
        with engine.connect() as conn:
            _MIGRATED_HEAD[:] = [current_revision(conn)]
            _MIGRATED_TABLES.clear()
            _MIGRATED_TABLES.update(
                conn.execute(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars()
            )
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def accounts(request: pytest.FixtureRequest, tmp_path: Path) -> Accounts:
    """Accounts on an empty database of each kind at the latest revision (a copy of a migrated SQLite
    file; the tests' PostgreSQL database emptied), with cheap argon2 parameters (:data:`CHEAP_HASHER`)."""
    if request.param == "sqlite":
        path = tmp_path / "auth.db"
        shutil.copyfile(_migrated_sqlite(request.getfixturevalue("tmp_path_factory")), path)
        path.chmod(0o600)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_url")
        _migrated_postgres(url)
    engine = create_engine(url)
    migrate(engine)  # at the latest revision already: only checks it
    yield Accounts(engine, hasher=CHEAP_HASHER)
    engine.dispose()


def run_cli(database_url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """``python -m issc.auth --database-url URL ARGS`` run in this process: the command's own
    ``main(argv)`` with ``stdin`` as its standard input, its output and exit status as a subprocess
    would give them (``test_the_command_runs_as_a_real_process`` runs it as one)."""
    argv = ["--database-url", database_url, *args]
    out, err = io.StringIO(), io.StringIO()
    stdin_before = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = cli.main(argv)
            except SystemExit as exc:  # argparse refusing the arguments
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.stdin = stdin_before
    return subprocess.CompletedProcess(
        ["python", "-m", "issc.auth", *argv], code, out.getvalue(), err.getvalue()
    )


def run_cli_process(database_url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """``python -m issc.auth ARGS`` as a real command, its database from ``DATABASE_URL``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "issc.auth", *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


# --- settings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("auth", "address", "enforced"),
    [
        ("auto", "127.0.0.1", False),
        ("auto", "localhost", False),
        ("auto", "::1", False),
        ("auto", "0.0.0.0", True),
        ("auto", "192.168.1.20", True),
        ("on", "127.0.0.1", True),
        ("off", "127.0.0.1", False),
    ],
)
def test_auth_auto_is_on_beyond_loopback(auth: str, address: str, enforced: bool) -> None:
    settings = load_settings(auth=auth, server_address=address)
    assert settings.auth.enforced() is enforced


def test_auth_off_on_the_network_refuses_with_one_sentence() -> None:
    with pytest.raises(
        ConfigError, match=r"AUTH=off while the server listens on 0\.0\.0\.0.*AUTH_INSECURE_I_KNOW"
    ):
        load_settings(auth="off", server_address="0.0.0.0")
    assert not load_settings(auth="off", server_address="0.0.0.0", auth_insecure_i_know=True).auth.enforced()


def test_default_hosts_and_a_listed_set() -> None:
    defaults = load_settings().auth.hosts("box.lan")
    assert {"localhost", "127.0.0.1", "::1", "box.lan", "box"} <= defaults
    assert load_settings(allowed_hosts="cams.example.org").auth.hosts("box") == {"cams.example.org"}


# --- accounts, tokens, sessions -------------------------------------------------------------


def test_passwords_and_tokens_are_stored_hashed_and_checked(accounts: Accounts) -> None:
    accounts = Accounts(accounts.engine)  # the production argon2 parameters, as the dashboard's
    accounts.add_user("ana", "admin", "correct horse")
    token = accounts.create_token("ci", "viewer")
    assert accounts.check_password("ana", "correct horse").role == "admin"
    assert accounts.check_password("ana", "wrong horse!") is None
    assert accounts.check_password("nobody", "correct horse") is None
    assert accounts.check_token(token).name == "ci"
    assert accounts.check_token(token + "x") is None
    with accounts.engine.connect() as conn:
        stored = " ".join(
            str(r) for t in ("auth_users", "auth_tokens") for r in conn.execute(sa.text(f"SELECT * FROM {t}"))
        )
    assert "correct horse" not in stored and token not in stored and "$argon2id$" in stored
    assert PRODUCTION_HASH.search(stored), stored  # 64 MiB, 3 passes, 4 lanes
    assert accounts.tokens()[0].last_used_ms is not None
    assert accounts.revoke_token("ci") and accounts.check_token(token) is None


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda a: a.add_user("x y", "admin", "longenough"), "name 'x y' is not valid"),
        (lambda a: a.add_user("bo", "root", "longenough"), "role 'root' is not known"),
        (lambda a: a.add_user("bo", "admin", "short"), "too short"),
        (
            lambda a: (a.add_user("bo", "viewer", "longenough"), a.add_user("bo", "viewer", "longenough")),
            "exists",
        ),
        (lambda a: (a.create_token("t"), a.create_token("t")), "exists"),
        (lambda a: a.set_password("ghost", "longenough"), "does not exist"),
    ],
)
def test_bad_requests_get_one_sentence(accounts: Accounts, call, message: str) -> None:
    with pytest.raises(AuthError, match=message):
        call(accounts)


def test_first_admin_is_made_once(accounts: Accounts) -> None:
    password = accounts.ensure_admin()
    assert password and accounts.check_password("admin", password).role == "admin"
    assert accounts.ensure_admin() is None


def _gate(accounts: Accounts, key_file: Path | None = None, **settings: str) -> Gate:
    return Gate(
        load_settings(auth="on", **settings).auth, accounts, bind_address="127.0.0.1", secret_file=key_file
    )


def test_session_cookie_is_signed_and_expires(accounts: Accounts, tmp_path: Path) -> None:
    accounts.add_user("ana", "viewer", "first password")
    key_file = tmp_path / "secret.key"
    gate = _gate(accounts, key_file)
    principal, cookie = gate.login("ana", "first password", "10.0.0.1")
    assert principal.role == "viewer"
    assert gate.identify({}, {"issc_session": cookie}, None) == Principal("ana", "viewer", "session")
    assert gate.identify({}, {"issc_session": cookie[:-2] + "AA"}, None) is None  # tampered
    assert SessionSigner(b"other key", 60).read(cookie) is None
    assert SessionSigner(read_or_create_key(key_file), -1).read(cookie) is None  # expired
    # the cookie holds a random session token, not the name: only its hash is in the database
    token = gate.signer.read(cookie)
    with accounts.engine.connect() as conn:
        stored = " ".join(str(r) for r in conn.execute(sa.text("SELECT * FROM auth_sessions")))
    assert token and token not in stored and "ana" in stored


@pytest.mark.parametrize(
    "end",
    [
        pytest.param(lambda gate, a, cookie: gate.logout(cookie), id="logout"),
        pytest.param(lambda gate, a, cookie: a.set_password("ana", "second password"), id="password change"),
        pytest.param(lambda gate, a, cookie: a.set_role("ana", "viewer"), id="role change"),
        pytest.param(lambda gate, a, cookie: a.remove_user("ana"), id="removal"),
        pytest.param(lambda gate, a, cookie: a.end_sessions(user="ana"), id="admin ends them"),
    ],
)
def test_sessions_are_server_side_and_end_at_once(accounts: Accounts, end, tmp_path: Path) -> None:
    # given a user signed in twice (two browsers), one cookie copied elsewhere
    accounts.add_user("ana", "analyst", "first password")
    key_file = tmp_path / "secret.key"
    gate = _gate(accounts, key_file)
    _, cookie = gate.login("ana", "first password", "10.0.0.1")
    _, other = gate.login("ana", "first password", "10.0.0.2")
    assert [s.user for s in accounts.sessions()] == ["ana", "ana"]
    assert {s.client for s in accounts.sessions()} == {"10.0.0.1", "10.0.0.2"}
    # when the session is ended
    end(gate, accounts, cookie)
    # then a fresh gate (no cache, same key) refuses the cookie, its copy included
    fresh = _gate(accounts, key_file)
    assert fresh.identify({}, {"issc_session": cookie}, None) is None
    logout_only = accounts.users() and len(accounts.sessions()) == 1
    assert (fresh.identify({}, {"issc_session": other}, None) is not None) == bool(logout_only)


def test_a_user_keeps_at_most_20_sessions_the_newest(accounts: Accounts) -> None:
    accounts.add_user("ana", "viewer", "right password")
    tokens = [accounts.open_session("ana", 3600, f"10.0.4.{i}") for i in range(25)]
    assert [s.client for s in accounts.sessions()] == [f"10.0.4.{i}" for i in range(5, 25)]
    assert accounts.session_user(tokens[0]) is None and accounts.session_user(tokens[-1]).name == "ana"


def test_a_page_recheck_sees_a_role_change_and_a_removal(
    accounts: Accounts, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the gate's clock, moved on by hand instead of sleeping through its cache
    now = [time.monotonic()]
    monkeypatch.setattr(gate_module, "time", SimpleNamespace(monotonic=lambda: now[0]))
    accounts.add_user("ana", "admin", "right password")
    gate = _gate(accounts, trusted_proxy_header="X-Forwarded-User")
    passed = gate.identify({"x-forwarded-user": "ana"}, {}, "127.0.0.1")
    assert passed == Principal("ana", "admin", "proxy")
    accounts.set_role("ana", "viewer")
    now[0] += RECHECK_S + 0.1  # the re-check's cache is at most RECHECK_S old
    assert gate.recheck(passed, {"x-forwarded-user": "ana"}, {}).role == "viewer"
    accounts.remove_user("ana")
    now[0] += RECHECK_S + 0.1
    assert gate.recheck(passed, {"x-forwarded-user": "ana"}, {}) is None


def test_login_rate_limit_per_client_and_name(accounts: Accounts) -> None:
    accounts.add_user("ana", "viewer", "right password")
    gate = _gate(accounts)
    for _ in range(5):
        with pytest.raises(LoginRefused) as refused:
            gate.login("ana", "wrong", "10.0.0.9")
        assert refused.value.status == 401
    with pytest.raises(LoginRefused) as refused:
        gate.login("ana", "right password", "10.0.0.9")
    assert refused.value.status == 429 and 0 < refused.value.retry_after <= 60
    assert gate.login("ana", "right password", "10.0.0.10")[0].name == "ana"  # another client
    limit = RateLimit(per_user=2, per_client=3, window_s=60)
    for name in ("a", "b", "c"):
        limit.failed("c1", name)
    assert limit.retry_after("c1", "d") > 0  # too many names from one client


def test_an_account_is_locked_whoever_tries_and_says_for_how_long(accounts: Accounts) -> None:
    accounts.add_user("ana", "viewer", "right password")
    gate = _gate(accounts)
    # given ten wrong passwords from ten different clients (each under its own limit)
    for i in range(10):
        with pytest.raises(LoginRefused) as refused:
            gate.login("ana", "wrong", f"10.0.1.{i}")
        assert refused.value.status == 401
    # then the account is locked for everybody, the right password included, and says for how long
    with pytest.raises(LoginRefused) as refused:
        gate.login("ana", "right password", "10.0.2.1")
    assert refused.value.status == 429
    assert re.fullmatch(
        r"This account is locked for \d+ s after too many failed logins.*", str(refused.value)
    )
    assert 800 < refused.value.retry_after <= 900
    # and another account is not
    accounts.add_user("bo", "viewer", "bo's password")
    assert gate.login("bo", "bo's password", "10.0.2.1")[0].name == "bo"


def test_parallel_wrong_logins_are_throttled_and_hashes_queue(accounts: Accounts) -> None:
    accounts = Accounts(accounts.engine)  # production argon2: hashes slow enough to queue
    accounts.add_user("ana", "viewer", "right password")
    gate = _gate(accounts)
    outcomes: list[int] = []

    def attempt(i: int) -> None:
        try:
            gate.login("ana", f"guess {i}", f"10.0.3.{i}")  # every client under its own limit
        except LoginRefused as exc:
            outcomes.append(exc.status)

    # when 30 wrong logins arrive at once
    with ThreadPoolExecutor(max_workers=30) as pool:
        list(pool.map(attempt, range(30)))
    # then only the account's ten were checked (the check and the count are one step) ...
    assert sorted(outcomes) == [401] * 10 + [429] * 20, outcomes
    # ... and no more than the pool's two argon2 hashes ran at once
    assert 1 <= gate.hashes.peak <= 2


def test_a_full_hash_queue_refuses_at_once() -> None:
    pool = HashPool(workers=1, queue=1)
    started, release = threading.Event(), threading.Event()

    def slow() -> int:
        started.set()
        release.wait(10)
        return 1

    with ThreadPoolExecutor(max_workers=2) as runner:
        first = runner.submit(pool.run, slow)
        started.wait(5)
        second = runner.submit(pool.run, lambda: 2)  # queued
        time.sleep(0.1)
        with pytest.raises(Busy):
            pool.run(lambda: 3)  # beyond the queue
        release.set()
        assert (first.result(5), second.result(5)) == (1, 2)


def test_trusted_proxy_header_only_from_loopback_and_only_for_known_users(accounts: Accounts) -> None:
    accounts.add_user("ana", "admin", "right password")
    gate = Gate(
        load_settings(auth="on", trusted_proxy_header="X-Forwarded-User").auth,
        accounts,
        bind_address="0.0.0.0",
    )
    assert gate.identify({"x-forwarded-user": "ana"}, {}, "127.0.0.1").role == "admin"
    assert gate.identify({"x-forwarded-user": "eve"}, {}, "127.0.0.1") is None  # nobody created eve
    assert gate.identify({"x-forwarded-user": "ana"}, {}, "10.1.1.1") is None


def test_a_trusted_proxy_header_turns_auth_on() -> None:
    settings = load_settings(trusted_proxy_header="X-Forwarded-User")  # AUTH=auto, loopback
    assert settings.auth.enforced("127.0.0.1")
    with pytest.raises(ConfigError, match="TRUSTED_PROXY_HEADER"):
        load_settings(auth="off", trusted_proxy_header="X-Forwarded-User")


@pytest.mark.parametrize(
    ("headers", "must_sign_in"),
    [
        ({}, False),
        ({"host": "127.0.0.1:8501"}, False),
        ({"host": "localhost:8501"}, False),
        ({"host": "[::1]:8501"}, False),
        ({"host": "127.0.0.1:8501", "x-forwarded-for": "203.0.113.5"}, True),
        ({"host": "127.0.0.1:8501", "x-real-ip": "203.0.113.5"}, True),
        ({"host": "127.0.0.1:8501", "forwarded": "for=203.0.113.5"}, True),
        ({"host": "127.0.0.1:8501", "x-forwarded-host": "cams.example.org"}, True),
        ({"host": "cams.example.org"}, True),
    ],
)
def test_auto_on_loopback_asks_forwarded_requests_to_sign_in(
    accounts: Accounts, headers: dict[str, str], must_sign_in: bool
) -> None:
    accounts.add_user("ana", "viewer", "right password")
    gate = Gate(load_settings().auth, accounts, bind_address="127.0.0.1")
    assert gate.required(headers) is must_sign_in
    assert (gate.identify(headers, {}, "127.0.0.1") is None) is must_sign_in
    # a forwarded request with a session gets its user, not the built-in admin
    _, cookie = gate.login("ana", "right password", "127.0.0.1")
    found = gate.identify(headers, {"issc_session": cookie}, "127.0.0.1")
    assert found == (Principal("ana", "viewer", "session") if must_sign_in else OPEN)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_revisions_0005_and_0009_make_the_tables(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = f"sqlite:///{tmp_path}/m.db" if kind == "sqlite" else request.getfixturevalue("empty_postgres_url")
    engine = create_engine(url)
    try:
        migrate(engine, "0004")
        assert migrate(engine) >= "0005"
        names = set(sa.inspect(engine).get_table_names())
        assert {"auth_users", "auth_tokens", "auth_sessions"} <= names
        from alembic import command

        from issc.store.migrate import alembic_config

        with engine.begin() as conn:  # 0009 goes down and up again
            command.downgrade(alembic_config(conn), "0008")
        assert "auth_sessions" not in set(sa.inspect(engine).get_table_names())
        migrate(engine)
        assert "auth_sessions" in set(sa.inspect(engine).get_table_names())
        Accounts(engine).add_user("ana", "admin", "right password")
        assert Accounts(engine).check_password("ana", "right password").role == "admin"
    finally:
        engine.dispose()


# --- command line ---------------------------------------------------------------------------


def test_the_command_runs_as_a_real_process(tmp_path: Path) -> None:
    # `python -m issc.auth` as a command: its database from DATABASE_URL, the password from stdin,
    # its exit status and one-sentence error (the other tests run its main() in-process)
    url = f"sqlite:///{tmp_path}/cli.db"
    added = run_cli_process(
        url, "user", "add", "ana", "--role", "admin", "--password-stdin", stdin="a long password\n"
    )
    assert added.returncode == 0 and added.stdout.strip() == "user 'ana' added (admin)", added.stderr
    bad = run_cli_process(url, "user", "add", "bo", "--password-stdin", stdin="short\n")
    assert (
        bad.returncode == 1
        and bad.stderr.strip() == "error: the password is too short: use at least 8 characters."
    )
    engine = create_engine(url)
    try:
        accounts = Accounts(engine)
        assert accounts.check_password("ana", "a long password").role == "admin"
        assert [u.name for u in accounts.users()] == ["ana"]
        assert PRODUCTION_HASH.search(accounts.user("ana")[1])
    finally:
        engine.dispose()


def test_command_line_users_and_tokens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    made = run_cli(url, "token", "create", "--name", "ci", "--role", "admin")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert re.fullmatch(r"issc_[\w-]{40,}", token)
    added = run_cli(
        url, "user", "add", "ana", "--role", "admin", "--password-stdin", stdin="a long password\n"
    )
    assert added.returncode == 0, added.stderr
    listed = run_cli(url, "user", "list").stdout + run_cli(url, "token", "list").stdout
    assert "ana\tadmin" in listed and "ci\tadmin" in listed and token not in listed
    bad = run_cli(url, "user", "add", "bo", "--password-stdin", stdin="short\n")
    assert (
        bad.returncode == 1
        and bad.stderr.strip() == "error: the password is too short: use at least 8 characters."
    )
    assert "short" not in bad.stdout
    # sessions: an admin lists them and ends one, or all of a user's
    accounts = Accounts(create_engine(url))
    accounts.open_session("ana", 3600, "10.0.0.7")
    accounts.open_session("ana", 3600, "10.0.0.8")
    listed = run_cli(url, "sessions", "list")
    assert listed.returncode == 0 and listed.stdout.count("\tana\tfrom 10.0.0.") == 2, listed.stdout
    first = listed.stdout.split("\t", 1)[0]
    assert run_cli(url, "sessions", "end", first).stdout.strip() == "1 session(s) ended"
    assert run_cli(url, "sessions", "end", first).returncode == 1
    assert "say which sessions" in run_cli(url, "sessions", "end").stderr
    accounts.open_session("ana", 3600, "10.0.0.9")
    assert cli.main(["--database-url", url, "user", "role", "ana", "analyst"]) == 0  # ends her sessions
    assert accounts.sessions() == [] and accounts.user("ana")[0] == "analyst"
    # in-process, for the remaining verbs
    monkeypatch.setattr("sys.stdin", io.StringIO("another password\n"))
    assert cli.main(["--database-url", url, "user", "passwd", "ana", "--password-stdin"]) == 0
    assert cli.main(["--database-url", url, "token", "revoke", "ci"]) == 0
    assert cli.main(["--database-url", url, "user", "remove", "ana"]) == 0
    assert cli.main(["--database-url", url, "user", "remove", "ana"]) == 1
    assert "user 'ana' does not exist" in capsys.readouterr().err


# --- a real server with AUTH=on -------------------------------------------------------------

GUARDED = [
    "/video_feed/check_cams/",
    "/api/cameras",
    "/api/plates",
    "/api/plates.csv",
    "/api/plates/1",
    "/api/plates/1/crop.jpg",
    "/_stcore/host-config",
    "/",
]


def ws_status(url: str, headers: dict[str, str]) -> int:
    try:
        with connect(url, additional_headers=headers, subprotocols=["streamlit"], open_timeout=10) as ws:
            return ws.response.status_code
    except InvalidStatus as exc:
        return exc.response.status_code


def start_auth_server(start, folder: Path):
    """A seeded history with a viewer and an admin token, served with ``AUTH=on`` by ``start``."""
    url = f"sqlite:///{folder}/history.db"
    seed_history(url)  # plate event 1 with its crop
    tokens = {
        role: run_cli(url, "token", "create", "--name", f"{role}-script", "--role", role).stdout.strip()
        for role in ("viewer", "admin")
    }
    assert all(t.startswith("issc_") for t in tokens.values())
    server = start({"CAMERAS": "demo", "DETECTOR": "none", "DATABASE_URL": url, "AUTH": "on"})
    return server, tokens, url


@pytest.fixture
def auth_server(streamlit_server, tmp_path: Path):
    """A server of the test's own (for a test that signs in, trips the rate limit or restarts it)."""
    return start_auth_server(streamlit_server, tmp_path)


@pytest.fixture(scope="module")
def shared_auth_server(shared_streamlit_server, tmp_path_factory: pytest.TempPathFactory):
    """One server for the tests that only send requests with tokens and change nothing."""
    return start_auth_server(shared_streamlit_server, tmp_path_factory.mktemp("auth"))


@pytest.mark.xdist_group("shared_auth_server")  # one worker, so the two share the server (pytest -n)
def test_every_route_and_the_websocket_need_credentials(shared_auth_server) -> None:
    server, tokens, _ = shared_auth_server
    viewer = {"Authorization": f"Bearer {tokens['viewer']}"}
    for path in GUARDED:
        anonymous = requests.get(server.url + path, timeout=10, allow_redirects=False)
        assert anonymous.status_code == 401, path
        assert anonymous.headers["content-type"] == "application/json" and "error" in anonymous.json()
        assert requests.get(server.url + path, headers=viewer, timeout=10).status_code == 200, path
    stream = requests.get(server.url + "/video_feed/0/", headers=viewer, stream=True, timeout=10)
    assert stream.status_code == 200 and stream.headers["content-type"].startswith(
        "multipart/x-mixed-replace"
    )
    stream.close()
    assert requests.get(server.url + "/video_feed/0/", timeout=10).status_code == 401
    ws = server.url.replace("http://", "ws://") + "/_stcore/stream"
    assert ws_status(ws, {}) == 401
    assert ws_status(ws, viewer) == 101
    assert ws_status(ws, {"Authorization": "Bearer issc_not-a-token"}) == 401
    # the health check stays open; a forged principal header is not a credential
    assert requests.get(server.url + "/_stcore/health", timeout=10).status_code == 200
    forged = {"X-ISSC-Principal": "eve;admin;session"}
    assert requests.get(server.url + "/api/cameras", headers=forged, timeout=10).status_code == 401


@pytest.mark.xdist_group("shared_auth_server")
def test_viewers_read_admins_change_and_browsers_are_sent_to_the_login_page(shared_auth_server) -> None:
    server, tokens, _ = shared_auth_server
    viewer = {"Authorization": f"Bearer {tokens['viewer']}"}
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    upload = "/_stcore/upload_file/session/file"
    assert requests.put(server.url + upload, headers=viewer, timeout=10).status_code == 403
    assert requests.post(server.url + "/api/plates", headers=viewer, timeout=10).status_code == 403
    assert (
        requests.post(server.url + "/api/plates", headers=admin, timeout=10).status_code == 405
    )  # past the gate
    page = requests.get(
        server.url + "/plates?q=LS15", headers={"Accept": "text/html"}, allow_redirects=False, timeout=10
    )
    assert page.status_code == 303 and page.headers["location"] == "/auth/login?next=%2Fplates%3Fq%3DLS15"
    form = requests.get(server.url + "/auth/login?next=/plates", timeout=10)
    assert form.status_code == 200 and 'name="password"' in form.text and "/_stcore" not in form.text
    evil = requests.get(server.url + "/api/cameras", headers={**admin, "Host": "evil.example"}, timeout=10)
    assert evil.status_code == 400


def test_first_admin_password_is_printed_once_and_logs_in_with_a_rate_limit(
    auth_server, streamlit_server
) -> None:
    server, _, url = auth_server
    created = r"user 'admin' was created; its password is in (\S+) "
    deadline = time.monotonic() + 10  # the log line may follow the health check by a moment
    while not re.search(created, server.log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    named = re.findall(created, server.log.read_text())
    assert len(named) == 1 and Path(named[0]).stat().st_mode & 0o777 == 0o600
    printed = [Path(named[0]).read_text().strip()]
    assert printed[0] not in server.log.read_text()  # the log names the file, never the password
    # the form carries a CSRF token bound to a cookie set with it: a post without them is refused
    no_token = requests.post(
        server.url + "/auth/login",
        data={"name": "admin", "password": printed[0], "next": "/plates"},
        allow_redirects=False,
        timeout=10,
    )
    assert no_token.status_code == 403 and "issc_session" not in no_token.headers.get("set-cookie", "")
    browser = requests.Session()
    form = browser.get(server.url + "/auth/login?next=/plates", timeout=10)
    csrf = re.search(r'name="csrf" value="([0-9a-f]{32})"', form.text).group(1)
    login = browser.post(
        server.url + "/auth/login",
        data={"name": "admin", "password": printed[0], "next": "/plates", "csrf": csrf},
        allow_redirects=False,
        timeout=10,
    )
    assert login.status_code == 303 and login.headers["location"] == "/plates"
    cookie = login.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "issc_session=" in cookie
    session = requests.Session()
    session.cookies.set("issc_session", login.cookies["issc_session"])
    copied = {"issc_session": login.cookies["issc_session"]}
    assert session.get(server.url + "/api/plates.csv", timeout=10).status_code == 200
    assert session.post(server.url + "/api/plates", timeout=10).status_code == 405  # an admin passes the gate
    # logging out is POST only, with the session's CSRF token (the pages' Sign out button)
    assert session.get(server.url + "/auth/logout", allow_redirects=False, timeout=10).status_code == 405
    assert session.post(server.url + "/auth/logout", allow_redirects=False, timeout=10).status_code == 403
    assert session.get(server.url + "/api/plates.csv", timeout=10).status_code == 200  # still signed in
    from issc.auth import Gate as _Gate  # the token is the gate's HMAC of the cookie: made here likewise

    signer = _Gate(
        load_settings(auth="on").auth,
        Accounts(create_engine(url)),
        bind_address="127.0.0.1",
        secret_file=default_secret_key_file(url),  # the server's key, beside its database
    ).signer
    token = signer.form_token("logout", login.cookies["issc_session"])
    out = session.post(server.url + "/auth/logout", data={"csrf": token}, allow_redirects=False, timeout=10)
    assert out.status_code == 303 and out.headers["location"] == "/auth/login"
    # the session ended on the server: a copy of the cookie is refused too
    assert requests.get(server.url + "/api/plates.csv", cookies=copied, timeout=10).status_code == 401
    for _ in range(5):
        wrong = requests.post(
            server.url + "/auth/login", json={"name": "admin", "password": "guess"}, timeout=10
        )
        assert wrong.status_code == 401 and wrong.json() == {"error": "Wrong name or password."}
    limited = requests.post(
        server.url + "/auth/login", json={"name": "admin", "password": printed[0]}, timeout=10
    )
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    server.stop()
    again = streamlit_server({"CAMERAS": "demo", "DETECTOR": "none", "DATABASE_URL": url, "AUTH": "on"})
    assert "was created" not in again.log.read_text()
    assert printed[0] not in again.log.read_text()


def test_make_run_listens_on_loopback_only(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("SERVER_ADDRESS", "AUTH")}
    env.update(CAMERAS="demo", DETECTOR="none", DATABASE_URL=f"sqlite:///{tmp_path}/m.db")
    log = (tmp_path / "make.log").open("wb")
    # -o: take the installed venv as it is (the test must not reinstall anything)
    process = subprocess.Popen(
        ["make", "-o", ".venv/.installed", "run", f"PORT={port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.3)
        else:
            pytest.fail((tmp_path / "make.log").read_text()[-2000:])
        listening = _listening_addresses(port)
        assert listening == {"127.0.0.1"}, listening
        assert "Network URL" not in (tmp_path / "make.log").read_text()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(20)
        log.close()


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of the sockets listening on ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state != "0A" or int(hex_port, 16) != port:  # 0A: LISTEN
                continue
            if len(address) == 8:
                found.add(".".join(str(int(address[i : i + 2], 16)) for i in (6, 4, 2, 0)))
            else:
                found.add("::" if set(address) == {"0"} else address)
    return found
