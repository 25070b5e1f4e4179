"""Secrets apart from the shared data (issue 18, item 5): the cookie key in a 0600 file, private
SQLite files, the first admin's password in a 0600 file, and a worker role that cannot touch the
auth tables on PostgreSQL."""

from __future__ import annotations

import logging
import os
import secrets
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from conftest import ROOT

from issc.auth import Accounts, Gate
from issc.auth import gate as gate_module
from issc.auth.keyfile import (
    ADMIN_PASSWORD_FILE_NAME,
    SecretFileError,
    default_secret_key_file,
    read_or_create_key,
)
from issc.config import load_settings
from issc.store import Store, create_engine
from issc.store import __main__ as store_cli
from issc.store.database import drop_database
from issc.store.migrate import migrate
from issc.store.roles import worker_grants


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///data/issc.db", Path("data/secret.key")),
        ("sqlite:////var/lib/issc/h.db", Path("/var/lib/issc/secret.key")),
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("postgresql+psycopg://u:p@db/issc", Path("data/secret.key")),
    ],
)
def test_default_key_file_is_beside_a_sqlite_database_else_under_data(
    url: str, expected: Path | None
) -> None:
    assert default_secret_key_file(url) == expected


def test_the_signing_key_is_a_private_file_made_once_and_sessions_survive_a_restart(tmp_path: Path) -> None:
    # given a history database with a user, and no key yet
    url = f"sqlite:///{tmp_path}/data/issc.db"
    with Store(url) as store:
        accounts = Accounts(store.engine)
        accounts.add_user("ana", "viewer", "right password")
        key_file = default_secret_key_file(url)
        settings = load_settings(auth="on").auth
        # when the dashboard starts, a 0600 key file appears beside the database
        first = Gate(settings, accounts, bind_address="127.0.0.1", secret_file=key_file)
        assert key_file == tmp_path / "data" / "secret.key" and mode(key_file) == 0o600
        _, cookie = first.login("ana", "right password", "10.0.0.1")
        # then after a restart the same key signs, and a cookie made before still works
        again = Gate(settings, accounts, bind_address="127.0.0.1", secret_file=key_file)
        assert again.identify({}, {"issc_session": cookie}, None).name == "ana"
        # and nothing of it is in the database the workers write to
        with store.engine.connect() as conn:
            values = " ".join(conn.execute(sa.text("SELECT key || value FROM settings")).scalars())
        assert key_file.read_text().strip() not in values and "session_secret" not in values
        # a new key (the file deleted) ends the old sessions
        key_file.unlink()
        fresh = Gate(settings, accounts, bind_address="127.0.0.1", secret_file=key_file)
        assert fresh.identify({}, {"issc_session": cookie}, None) is None


def test_a_key_file_readable_by_others_is_made_private_and_an_empty_one_is_refused(tmp_path: Path) -> None:
    loose = tmp_path / "loose.key"
    loose.write_text("k" * 64)
    loose.chmod(0o644)
    assert read_or_create_key(loose) == b"k" * 64 and mode(loose) == 0o600
    empty = tmp_path / "empty.key"
    empty.write_text("\n")
    empty.chmod(0o600)
    with pytest.raises(SecretFileError, match="holds no key"):
        read_or_create_key(empty)


def test_secret_key_file_setting_wins_and_auth_secret_over_both(tmp_path: Path, monkeypatch) -> None:
    chosen = tmp_path / "elsewhere" / "cookie.key"
    settings = load_settings(
        auth="on", secret_key_file=str(chosen), database_url=f"sqlite:///{tmp_path}/h.db"
    )
    assert settings.auth.secret_key_file == chosen
    with Store(settings.store.database_url) as store:
        service = SimpleNamespace(settings=settings, store=store)
        monkeypatch.setattr(gate_module, "_slot", None)
        gate_module.gate_for(service)
        assert chosen.exists() and mode(chosen) == 0o600
        assert not (tmp_path / "secret.key").exists()
    monkeypatch.setattr(gate_module, "_slot", None)


@pytest.mark.parametrize(
    ("value", "expected"), [("", None), ("  ", None), ("/srv/issc/cookie.key", Path("/srv/issc/cookie.key"))]
)
def test_secret_key_file_setting_values(value: str, expected: Path | None) -> None:
    assert load_settings(secret_key_file=value).auth.secret_key_file == expected


def test_a_folder_is_not_a_key_file(tmp_path: Path) -> None:
    from issc.errors import ConfigError

    with pytest.raises(ConfigError, match=r"SECRET_KEY_FILE=.* got a folder"):
        load_settings(secret_key_file=str(tmp_path))


def test_first_admin_password_goes_to_a_private_file_that_the_log_names(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    # given a new history database and authentication on
    settings = load_settings(auth="on", database_url=f"sqlite:///{tmp_path}/data/issc.db")
    with Store(settings.store.database_url) as store:
        monkeypatch.setattr(gate_module, "_slot", None)
        # when the gate is built the first time
        gate_module.gate_for(SimpleNamespace(settings=settings, store=store))
        printed = capsys.readouterr().err
        # then the password is in a 0600 file beside the key, the console names the file only
        password_file = tmp_path / "data" / ADMIN_PASSWORD_FILE_NAME
        password = password_file.read_text().strip()
        assert mode(password_file) == 0o600 and len(password) >= 16
        assert str(password_file) in printed and password not in printed
        assert Accounts(store.engine).check_password("admin", password).role == "admin"
    monkeypatch.setattr(gate_module, "_slot", None)


def test_sqlite_files_are_private_and_old_loose_ones_are_tightened(tmp_path: Path) -> None:
    # a new database, its WAL and shared-memory files: 0600
    with Store(f"sqlite:///{tmp_path}/new/h.db") as store:
        store.add_watchlist("AB12CDE", "x")
        files = list((tmp_path / "new").iterdir())
        assert {p.name for p in files} >= {"h.db", "h.db-wal", "h.db-shm"}
        assert all(mode(p) == 0o600 for p in files), {p.name: oct(mode(p)) for p in files}
    # a database made 0644 by an older version is made 0600 when it is opened
    old = tmp_path / "old.db"
    sa.create_engine(f"sqlite:///{old}").connect().close()
    old.chmod(0o644)
    with Store(f"sqlite:///{old}"):
        pass
    assert mode(old) == 0o600


def test_upgrade_deletes_the_old_key_from_the_database_and_says_sessions_end(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # given an install of revision 0008 whose session key was kept in the settings table
    engine = create_engine(f"sqlite:///{tmp_path}/old.db")
    try:
        migrate(engine, "0008")
        with engine.begin() as conn:
            conn.execute(
                sa.text("INSERT INTO settings (key, value) VALUES ('auth.session_secret', '\"ab12\"')")
            )
            conn.execute(sa.text("INSERT INTO settings (key, value) VALUES ('tuning', '{}')"))
        # when it is upgraded
        with caplog.at_level(logging.WARNING, logger="issc.store.migrate"):
            migrate(engine)
        with engine.connect() as conn:
            keys = set(conn.execute(sa.text("SELECT key FROM settings")).scalars())
    finally:
        engine.dispose()
    # then the key is gone, the rest kept, and the log says what happens to old sessions
    assert keys == {"tuning"}
    assert any("sign in again" in r.getMessage() for r in caplog.records)


def test_store_command_uses_database_url_and_redacts_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, caplog: pytest.LogCaptureFixture
) -> None:
    # as a real command: DATABASE_URL from the environment, the database made where it says
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path}/cli.db",
        "ISSC_CONFIG": str(tmp_path / "none.toml"),
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-m", "issc.store"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "cli.db").exists() and not (tmp_path / "data").exists()
    assert done.stdout.startswith(f"sqlite:///{tmp_path}/cli.db: revision ")
    # its main() in this process for the refusals (the same DATABASE_URL path; what it logs, at
    # INFO as the command's stderr would show it, is checked with what it prints)
    caplog.set_level(logging.INFO)

    def everything_said() -> str:
        printed = capsys.readouterr()
        said = printed.out + printed.err + caplog.text
        caplog.clear()
        return said

    # a URL with a password is printed without it
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://issc:Sup3rSecretPw@127.0.0.1:1/issc")
    assert store_cli.main(["--show"]) == 1
    said = everything_said()
    assert "Sup3rSecretPw" not in said and "postgresql+psycopg://***@127.0.0.1:1/issc" in said
    # and so is a mistyped one (no colon after the scheme), which SQLAlchemy cannot even parse
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg//issc:Sup3rSecretPw@db/issc")
    assert store_cli.main([]) == 2
    said = everything_said()
    assert "Sup3rSecretPw" not in said and "is not a database URL" in said


# --- PostgreSQL: the workers' role -----------------------------------------------------------------


@pytest.fixture
def pg_database(postgres_url: str) -> Iterator[tuple[sa.Engine, str]]:
    """A throwaway migrated database (owner: the test role) and its URL."""
    PG_URL = postgres_url
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"issc_roles_{secrets.token_hex(4)}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.DBAPIError as exc:
        admin.dispose()
        pytest.skip(f"the test role cannot create databases: {type(exc).__name__}")
    url = sa.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url)
    try:
        migrate(engine)
        yield engine, url
    finally:
        engine.dispose()
        drop_database(admin, name)
        admin.dispose()


def test_a_worker_role_writes_the_history_but_is_refused_on_the_auth_tables(
    pg_database: tuple[sa.Engine, str], postgres_url: str, no_thread_leak: None
) -> None:
    from issc.cluster import CameraClaim, Registry
    from tests.test_store import plate_event

    owner, url = pg_database
    admin_url = postgres_url
    role, password = f"issc_worker_{secrets.token_hex(3)}", secrets.token_urlsafe(16)
    with owner.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        try:
            conn.execute(sa.text(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'"))
        except sa.exc.DBAPIError as exc:
            pytest.skip(
                f"the test role cannot create roles (give it CREATEROLE, as tests/postgres.py does): {exc.orig}"
            )
        statements = worker_grants(conn, role)
        for statement in statements:  # the statements docs/deploy.md tells operators to run
            conn.execute(sa.text(statement))
    worker_url = sa.make_url(url).set(username=role, password=password).render_as_string(hide_password=False)
    try:
        # when a worker connects with that role, it opens the store and writes as a worker does
        with Store(worker_url, flush_interval_s=0.05) as store:
            store.add_plate_event(plate_event(0))
            store.flush()
            assert [r.text for r in store.search_plates()] == ["AB12CDE"]
            Registry(store.engine).register(
                "w1", host="h", url="http://h:8600", version="1", standby=[CameraClaim("gate", "x")]
            )
            worker = store.engine
            # then inserting an admin, reading password hashes or changing the schema is refused
            for sql in (
                "INSERT INTO auth_users (name, role, password_hash, created_ms) VALUES ('eve', 'admin', 'x', 0)",
                "SELECT password_hash FROM auth_users",
                "UPDATE auth_tokens SET role = 'admin'",
                "DROP TABLE plate_events",
            ):
                with pytest.raises(sa.exc.ProgrammingError) as refused, worker.begin() as conn:
                    conn.execute(sa.text(sql))
                assert "permission denied" in str(refused.value.orig) or "must be owner" in str(
                    refused.value.orig
                )
    finally:
        with owner.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for statement in (
                f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}",
                f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role}",
                f"REVOKE ALL ON SCHEMA public FROM {role}",
                f'REVOKE ALL ON DATABASE "{owner.url.database}" FROM {role}',
            ):
                conn.execute(sa.text(statement))
        owner.dispose()  # the role's sessions are gone with the store; drop it
        with sa.create_engine(admin_url, isolation_level="AUTOCOMMIT").connect() as conn:
            conn.execute(sa.text(f"DROP ROLE IF EXISTS {role}"))
    assert any(s.startswith('REVOKE ALL ON TABLE "auth_users"') for s in statements)
    assert not any("auth_" in s and s.startswith("GRANT") for s in statements)
