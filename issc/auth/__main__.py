"""``python -m issc.auth``: manage dashboard users and API tokens in the history database.

    python -m issc.auth user add NAME --role admin        # prompts for the password
    echo "$PW" | python -m issc.auth user add NAME --password-stdin
    python -m issc.auth user list | user remove NAME | user passwd NAME | user role NAME ROLE
    python -m issc.auth sessions list | sessions end ID | sessions end --user NAME
    python -m issc.auth token create --name NAME [--role viewer|analyst|admin]   # prints the token once
    python -m issc.auth token list | token revoke NAME

The database is ``DATABASE_URL`` from the settings (``--database-url`` overrides it); it is brought
to the latest schema first, like the dashboard does when it starts.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime

from issc.auth.accounts import ROLES, Accounts, AuthError
from issc.config import load_settings, redact_url
from issc.errors import ISSCError
from issc.redact import error_line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m issc.auth", description="Manage ISSC users and API tokens."
    )
    parser.add_argument("--database-url", help="history database (default: DATABASE_URL of the settings)")
    kinds = parser.add_subparsers(dest="kind", required=True)

    user = kinds.add_parser("user", help="dashboard users (name, role, password)").add_subparsers(
        dest="action", required=True
    )
    add = user.add_parser("add", help="add a user (prompts for the password)")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, default="viewer")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    passwd = user.add_parser("passwd", help="set a user's password (their sessions end)")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    user.add_parser("list", help="list users")
    remove = user.add_parser("remove", help="remove a user (their sessions end)")
    remove.add_argument("name")
    role = user.add_parser("role", help="give a user another role (their sessions end)")
    role.add_argument("name")
    role.add_argument("role", choices=ROLES)

    sessions = kinds.add_parser("sessions", help="open logins: list them, end them").add_subparsers(
        dest="action", required=True
    )
    sessions.add_parser("list", help="list open sessions (id, user, from, created, last seen, expires)")
    end = sessions.add_parser("end", help="end a session by its id, or every session of a user")
    end.add_argument("id", nargs="?", type=int)
    end.add_argument("--user")

    token = kinds.add_parser("token", help="API tokens for scripts (Authorization: Bearer)").add_subparsers(
        dest="action", required=True
    )
    create = token.add_parser("create", help="make a token and print it once")
    create.add_argument("--name", required=True)
    create.add_argument("--role", choices=ROLES, default="viewer")
    token.add_parser("list", help="list tokens (never their values)")
    revoke = token.add_parser("revoke", help="revoke a token by name")
    revoke.add_argument("name")
    return parser


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat it: ") != first:
        raise AuthError("the two passwords differ; nothing was changed.")
    return first


def _when(ms: int | None) -> str:
    return "never" if ms is None else datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _open(database_url: str | None) -> Accounts:
    from issc.store import create_engine
    from issc.store.migrate import migrate

    url = database_url or load_settings().store.database_url
    try:
        engine = create_engine(url)
        migrate(engine)
    except Exception as exc:
        reason = error_line(getattr(exc, "orig", None) or exc)
        raise AuthError(f"the history database {redact_url(url)!r} cannot be opened ({reason}).") from None
    return Accounts(engine)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        accounts = _open(args.database_url)
    except ISSCError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        return _run(accounts, args)
    except ISSCError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:  # a caller in a longer-lived process (a test, a script) keeps no connection open
        accounts.engine.dispose()


def _sessions(accounts: Accounts, args: argparse.Namespace) -> int:
    if args.action == "list":
        for row in accounts.sessions():
            print(
                f"{row.id}\t{row.user}\tfrom {row.client or '?'}\tcreated {_when(row.created_ms)}\t"
                f"last seen {_when(row.last_seen_ms)}\texpires {_when(row.expires_ms)}"
            )
        return 0
    if (args.id is None) == (args.user is None):
        raise AuthError("say which sessions to end: a session id from `sessions list`, or --user NAME.")
    ended = accounts.end_sessions(session_id=args.id, user=args.user)
    if args.id is not None and not ended:
        raise AuthError(f"session {args.id} does not exist (or has ended already).")
    print(f"{ended} session(s) ended")
    return 0


def _run(accounts: Accounts, args: argparse.Namespace) -> int:
    if args.kind == "sessions":
        return _sessions(accounts, args)
    if args.kind == "user":
        if args.action == "add":
            accounts.add_user(args.name, args.role, _password(args.password_stdin))
            print(f"user {args.name!r} added ({args.role})")
        elif args.action == "passwd":
            accounts.set_password(args.name, _password(args.password_stdin))
            print(f"password of {args.name!r} changed")
        elif args.action == "list":
            for row in accounts.users():
                print(f"{row.name}\t{row.role}\tcreated {_when(row.created_ms)}")
        elif args.action == "role":
            accounts.set_role(args.name, args.role)
            print(f"user {args.name!r} is now {args.role} (their sessions ended)")
        elif not accounts.remove_user(args.name):
            raise AuthError(f"user {args.name!r} does not exist.")
        else:
            print(f"user {args.name!r} removed")
    elif args.action == "create":
        token = accounts.create_token(args.name, args.role)
        print(token)
        print(
            f"token {args.name!r} ({args.role}) created: it is shown this once, keep it safe", file=sys.stderr
        )
    elif args.action == "list":
        for t in accounts.tokens():
            print(f"{t.name}\t{t.role}\tcreated {_when(t.created_ms)}\tlast used {_when(t.last_used_ms)}")
    elif not accounts.revoke_token(args.name):
        raise AuthError(f"token {args.name!r} does not exist.")
    else:
        print(f"token {args.name!r} revoked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
