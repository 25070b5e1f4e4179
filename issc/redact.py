"""Secrets kept out of every string that leaves the process: one function, :func:`redact`.

It hides, wherever they appear in a text:

* URL userinfo (``rtsp://user:pass@host`` → ``rtsp://***@host``), split at the *last* ``@`` before
  the host, so passwords holding ``@``, ``/`` or ``#`` without percent-encoding are hidden whole;
* path-style credentials of cheap DVRs (``/user=admin_password=X_channel=1``, ``;password=X``)
  and secret query parameters (``password``, ``token``, ``key``, ``sig`` ... in any case);
* HTTP credentials: ``Authorization=Bearer x`` or ``Authorization: Basic x``, a bare ``Bearer …``
  and an ISSC API token (``issc_…``) on its own;
* the secret path of webhook URLs (Slack, Discord, Teams): only ``scheme://host/…`` is left;
* every literal secret the process knows (:func:`register`: the API key, camera passwords, the
  webhook's path), filled once when the settings are loaded.

:class:`RedactingFilter` applies it to log records; :func:`install_log_redaction` puts it on the
log handlers and the log record factory of the process.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import quote, unquote, urlsplit

MASK = "***"
MIN_SECRET_LEN = 4  # shorter literals would blank ordinary words and numbers

#: Query and path parameter names whose values are secrets (matched in any case, also as the
#: last part of a longer name such as ``client_secret`` or ``X-Amz-Signature``).
SECRET_PARAMS = (
    "password",
    "passwd",
    "pwd",
    "pass",
    "auth",
    "key",
    "token",
    "secret",
    "api_key",
    "apikey",
    "access_token",
    "sig",
    "signature",
    "pw",
    "loginpass",
    "privatetoken",
    "jwt",
    "authorization",
)

_SCHEME = r"[A-Za-z][A-Za-z0-9+.\-]{0,31}://"  # bounded: each lookahead scans 32 characters at most
# A URL runs to whitespace, a quote or bracket, or the start of the next URL (CAMERAS lists several).
_URL_RE = re.compile(_SCHEME + r"(?:(?!" + _SCHEME + r")[^\s'\"<>`])*")
_HOST_RE = re.compile(
    r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.\-]*[A-Za-z0-9])?)(?::\d{1,5})?(?=[/?#;,]|$)"
)
#: Outside URLs only these names count: ``AUTH=off`` or ``key=person_conf`` in a sentence are no secrets.
TEXT_SECRET_PARAMS = (
    "password",
    "passwd",
    "pwd",
    "pw",
    "loginpass",
    "privatetoken",
    "jwt",
    "secret",
    "token",
    "api_key",
    "apikey",
    "signature",
)


def _param_re(names: tuple[str, ...]) -> re.Pattern[str]:
    """name=value where name is a secret name, alone or after a prefix joined by _ . or - .

    The value ends at & ; / , # whitespace, a quote, or ``_name=`` (DVR paths join fields with _).
    """
    alternatives = "|".join(sorted((re.escape(n) for n in names), key=len, reverse=True))
    return re.compile(
        r"(?i)(?P<name>(?<![A-Za-z0-9])(?:[A-Za-z0-9]{1,32}[_.\-]){0,4}(?:" + alternatives + r"))"
        r"(?P<eq>=|%3D)(?P<value>(?:(?!_[A-Za-z]+=)[^&;/\s'\"<>,#])*)"
    )


_PARAM_RE = _param_re(SECRET_PARAMS)
_TEXT_PARAM_RE = _param_re(TEXT_SECRET_PARAMS)
# user:password@host without a scheme (someone left ``rtsp://`` out).
_BARE_USERINFO_RE = re.compile(
    r"(?<![\w/:@.%-])[\w.%\-]{1,64}:(?!//)[^\s'\"<>@]{0,256}(?:@[^\s'\"<>@]{0,256}){0,4}@(?=[A-Za-z0-9\[])"
)
# An HTTP credential after its scheme word (``Authorization=Bearer x``, ``Authorization: Basic x``,
# a bare ``Bearer issc_…`` in a log line), and an ISSC API token on its own.
_AUTH_HEADER_RE = re.compile(
    r"(?i)(?P<head>(?<![A-Za-z0-9])authorization\s{0,8}(?:=|:|%3D)\s{0,8}(?:(?:bearer|basic|token|digest)\s{1,8})?)"
    r"(?P<value>[^\s'\"<>,;&]+)"
)
_BEARER_RE = re.compile(r"(?i)(?P<head>(?<![A-Za-z0-9])bearer\s{1,8})(?P<value>[A-Za-z0-9._~+/=\-]{8,})")
_ISSC_TOKEN_RE = re.compile(r"(?<![A-Za-z0-9])issc_[A-Za-z0-9_\-]{32,}")
# user:password@host after a mistyped scheme (``postgresql+psycopg//u:pw@h``, no colon): the URL
# pattern needs ``://``, and a malformed URL is exactly what an error message quotes.
_SLASHED_USERINFO_RE = re.compile(r"(?<=//)[\w.%\-]{1,64}:[^\s'\"<>@/]{0,256}@(?=[A-Za-z0-9\[])")
_WEBHOOK_HOSTS = re.compile(
    r"(?i)^(?:hooks\.slack\.com|(?:ptb\.|canary\.)?discord(?:app)?\.com|[\w.-]*webhook\.office\.com|"
    r"outlook\.office(?:365)?\.com|[\w.-]*\.logic\.azure\.com|chat\.googleapis\.com)$"
)

_lock = threading.Lock()
_secrets: frozenset[str] = frozenset()
_secrets_re: re.Pattern[str] | None = None


def register(*secrets: str | None) -> None:
    """Remember literal secrets (and their percent-encoded forms) to hide wherever they appear.

    Values shorter than :data:`MIN_SECRET_LEN` are skipped: URL patterns still hide them in URLs.
    """
    global _secrets, _secrets_re
    found = set()
    for secret in secrets:
        if not secret:
            continue
        for form in {secret, unquote(secret), quote(secret, safe=""), quote(unquote(secret), safe="")}:
            if len(form) >= MIN_SECRET_LEN and form != MASK:
                found.add(form)
    with _lock:
        if not found - _secrets:
            return
        _secrets = _secrets | found
        alternatives = sorted(_secrets, key=len, reverse=True)
        _secrets_re = re.compile("|".join(re.escape(s) for s in alternatives))


def register_url(url: str | None) -> None:
    """Register the secrets inside a URL (or a list of them): its password, secret parameters and,
    for a webhook, its path."""
    if not url:
        return
    for match in _URL_RE.finditer(url):
        part = match.group(0)
        userinfo, _ = _split_userinfo(part[part.index("://") + 3 :])
        if userinfo:
            register(userinfo.split(":", 1)[1] if ":" in userinfo else userinfo)
        register(*(m["value"] for m in _PARAM_RE.finditer(part)))
        if _is_webhook(part):
            path = part[part.index("://") + 3 :].partition("/")[2]
            register("/" + path if path else None)


def register_webhook(url: str | None) -> None:
    """Register a webhook URL's secrets: its path, each long path segment, and its credentials.

    Chat services (Slack, Discord, Teams) keep the secret token in the path.
    """
    if not url:
        return
    register_url(url)
    try:
        path = urlsplit(url).path
    except ValueError:
        path = url.split("://", 1)[-1].partition("/")[2]
    register(path if len(path.strip("/")) >= 8 else None)
    # Tokens are long and hold digits; words such as "services" or "webhooks" are left alone.
    register(*(s for s in path.split("/") if len(s) >= 8 and any(c.isdigit() for c in s)))


def clear() -> None:
    """Forget every registered secret (tests)."""
    global _secrets, _secrets_re
    with _lock:
        _secrets, _secrets_re = frozenset(), None


def redact(text: str) -> str:
    """``text`` with every credential and known secret replaced by ``***``."""
    if not text:
        return text
    text = _URL_RE.sub(lambda m: _redact_one_url(m.group(0)), text)
    text = _BARE_USERINFO_RE.sub(MASK + "@", text)
    text = _SLASHED_USERINFO_RE.sub(MASK + "@", text)
    text = _TEXT_PARAM_RE.sub(_mask_param, text)
    text = _AUTH_HEADER_RE.sub(_mask_credential, text)
    text = _BEARER_RE.sub(_mask_credential, text)
    text = _ISSC_TOKEN_RE.sub(MASK, text)
    pattern = _secrets_re
    if pattern is not None:
        text = pattern.sub(MASK, text)
    return text


def error_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of an error's message (its type when it has none), redacted and at most
    ``limit`` characters: what a log line or a status sentence quotes of it."""
    text = str(exc).strip()
    line = redact(text.splitlines()[0]) if text else type(exc).__name__
    return line if len(line) <= limit else line[: limit - 3] + "..."


def redact_url(url: str) -> str:
    """A URL safe to show and log (the same rules as :func:`redact`)."""
    return redact(url)


def redact_webhook(url: str) -> str:
    """A webhook URL as ``scheme://host/…``: chat services keep the secret in the path."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        host = None
    if not parts.scheme or not host:
        return "<webhook>"
    return f"{parts.scheme}://{host}/…"


def _is_webhook(url: str) -> bool:
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return False
    return bool(_WEBHOOK_HOSTS.match(host))


def _split_userinfo(rest: str) -> tuple[str | None, str]:
    """(userinfo, the rest from the host on) of a URL after ``scheme://``; userinfo None if absent.

    The userinfo ends at the last ``@`` followed by a host: a password may hold ``@ / #`` unescaped.
    """
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    first = re.split(r"[/?#@]", rest, maxsplit=1)[0]
    # Credentials are there when the authority holds an @, or starts like user:word (not host:port).
    maybe = "@" in authority or (":" in first and not first.rsplit(":", 1)[1].isdigit())
    if not maybe and not re.match(r"[^/?#@]*:[^@]*@", rest):
        return None, rest
    for at in range(len(rest) - 1, -1, -1):
        if rest[at] == "@" and _HOST_RE.match(rest, at + 1):
            userinfo = rest[:at]
            if ":" in userinfo.split("/", 1)[0] or "@" in authority:
                return userinfo, rest[at + 1 :]
    return None, rest


def _redact_one_url(url: str) -> str:
    scheme, rest = url.split("://", 1)
    userinfo, rest = _split_userinfo(rest)
    head = f"{scheme}://" + (MASK + "@" if userinfo is not None else "")
    rest = _PARAM_RE.sub(_mask_param, rest)
    if _is_webhook(head + rest):
        host = re.split(r"[/?#]", rest, maxsplit=1)[0]
        return f"{head}{host}/…" if len(rest) > len(host) else head + rest
    return head + rest


def _mask_param(match: re.Match[str]) -> str:
    value = match["value"]
    if not value or value == MASK:
        return match.group(0)
    return f"{match['name']}{match['eq']}{MASK}"


def _mask_credential(match: re.Match[str]) -> str:
    return match["head"] + MASK


class RedactingFilter(logging.Filter):
    """Redacts a log record's message, arguments, exception text and stack before any handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Replace the record's message by its redacted text (once; the record is marked)."""
    if getattr(record, "_issc_redacted", False):
        return record
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: keep what can be shown
        message = f"{record.msg} {record.args}"
    shown = redact(message)
    if shown != message:
        msg, args = shown, None
        if isinstance(record.args, tuple) and isinstance(record.msg, str):
            # Formatters such as uvicorn's access log read the arguments: keep them, redacted, when
            # that hides every secret.
            redacted = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
            try:
                if redact(record.msg % redacted) == record.msg % redacted:
                    msg, args = record.msg, redacted
            except (TypeError, ValueError):
                pass
        record.msg, record.args = msg, args
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    record._issc_redacted = True
    return record


_FILTER = RedactingFilter()
_factory_installed = False
LOGGER_FAMILIES = ("", "issc", "uvicorn", "streamlit", "tornado", "libav", "sqlalchemy", "urllib3")


def install_log_redaction() -> None:
    """Redact every log record of the process: a filter on each handler of the root, ISSC, uvicorn,
    Streamlit and library loggers, and a log record factory for loggers made later. Idempotent."""
    global _factory_installed
    manager = logging.Logger.manager
    loggers = [logging.getLogger()] + [
        logger
        for name, logger in list(manager.loggerDict.items())
        if isinstance(logger, logging.Logger) and name.split(".")[0] in LOGGER_FAMILIES
    ]
    for logger in loggers:
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
        for handler in logger.handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)
    with _lock:
        if _factory_installed:
            return
        _factory_installed = True
        make_record = logging.getLogRecordFactory()

        def redacting_factory(*args: object, **kwargs: object) -> logging.LogRecord:
            return redact_record(make_record(*args, **kwargs))

        logging.setLogRecordFactory(redacting_factory)
