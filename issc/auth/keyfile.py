"""Secrets kept in private files beside the database, out of the history database itself.

Every camera worker writes to the history database, so nothing there may decide who is an admin:
the key that signs session cookies lives in ``SECRET_KEY_FILE`` (made on the first start, mode
0600), and the first admin's password is written to a 0600 file whose *name* is logged.

Default places (:func:`default_secret_key_file`):

* SQLite file ``sqlite:///data/issc.db`` → ``data/secret.key`` (beside the database);
* PostgreSQL (or any server database) → ``data/secret.key`` under the working directory: the
  dashboard's own disk, never the shared server. Several dashboards behind one load balancer need
  the same file (or ``AUTH_SECRET``), or a session made on one is refused by the others;
* an in-memory SQLite database → none: a random key per process.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

import sqlalchemy as sa

logger = logging.getLogger(__name__)

#: File name of the signing key beside the database (or under ``data/`` for a database server).
KEY_FILE_NAME = "secret.key"
#: File name of the first admin's password, beside the signing key.
ADMIN_PASSWORD_FILE_NAME = "initial-admin-password"
#: Folder of the key for a database that is not a local file (PostgreSQL).
SERVER_DATABASE_KEY_DIR = Path("data")
_KEY_BYTES = 32


class SecretFileError(OSError):
    """A secret file cannot be read or made; the message names the file and what to do."""


def default_secret_key_file(database_url: str) -> Path | None:
    """Where the signing key lives when ``SECRET_KEY_FILE`` is unset (None: a random key per process)."""
    try:
        url = sa.make_url(database_url)
    except sa.exc.ArgumentError:
        return SERVER_DATABASE_KEY_DIR / KEY_FILE_NAME
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:") or str(url.database).startswith("file::memory:"):
            return None
        return Path(url.database).expanduser().parent / KEY_FILE_NAME
    return SERVER_DATABASE_KEY_DIR / KEY_FILE_NAME


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to a new file readable by its owner only (0600), refusing to follow a link."""
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o600)
    try:
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def read_or_create_key(path: Path) -> bytes:
    """The signing key in ``path``; made (32 random bytes, hex, mode 0600) when the file is missing.

    A key file that others may read is made private (0600) when this process owns it, and refused
    otherwise.

    Raises:
        SecretFileError: the file cannot be made or read, is empty, or is readable by others.
    """
    try:
        write_private(path, secrets.token_hex(_KEY_BYTES) + "\n")
        logger.info("made a new session-cookie key in %s (mode 0600)", path)
    except FileExistsError:
        pass  # made earlier, or by another process starting at the same time
    except OSError as exc:
        raise SecretFileError(
            f"SECRET_KEY_FILE={str(path)!r} cannot be made ({exc.strerror or exc}): make its folder "
            "writable, or point SECRET_KEY_FILE at a file this user may write."
        ) from None
    try:
        info = path.stat()
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            if info.st_uid != os.getuid():
                raise SecretFileError(
                    f"SECRET_KEY_FILE={str(path)!r} may be read by other users and belongs to another "
                    f"user: run chmod 600 {path} as its owner."
                )
            os.chmod(path, 0o600)
            logger.warning("SECRET_KEY_FILE %s could be read by other users: made it 0600", path)
        key = path.read_text(encoding="utf-8").strip()
    except SecretFileError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretFileError(
            f"SECRET_KEY_FILE={str(path)!r} cannot be read ({getattr(exc, 'strerror', None) or exc})."
        ) from None
    if len(key) < 16:
        raise SecretFileError(
            f"SECRET_KEY_FILE={str(path)!r} holds no key (fewer than 16 characters): delete it to make "
            "a new one (everyone signs in again), or write a long random text into it."
        )
    return key.encode("utf-8")


def write_admin_password(folder: Path | None, password: str) -> Path:
    """Write the first admin's password to a new 0600 file in ``folder`` and return its path.

    A file left from an earlier first start is replaced. Without a folder (an in-memory database),
    or when the folder cannot be written, the file goes to the system's temporary folder: the
    admin exists already, so its password must land somewhere only this user can read.
    """
    if folder is not None:
        path = folder / ADMIN_PASSWORD_FILE_NAME
        try:
            path.unlink(missing_ok=True)
            write_private(path, password + "\n")
            return path
        except OSError as exc:
            logger.warning("cannot write %s (%s): the admin password goes to a temporary file", path, exc)
    import tempfile

    fd, name = tempfile.mkstemp(prefix="issc-admin-password-")  # 0600
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(password + "\n")
    return Path(name)
