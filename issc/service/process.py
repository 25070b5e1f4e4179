"""One service per process: started by the server's lifespan, found by pages and routes.

The server's lifespan starts the process's service (:func:`start`) and stops it; pages and routes
find it with :func:`current`. A wrong configuration is found once, at the start, and kept as its
one sentence (:class:`~issc.errors.ConfigError`), which every page and route then shows; nothing
re-reads the settings on a request. Something the configuration names that cannot be reached yet
(:class:`~issc.errors.UnavailableError`: a database server that is down) is retried on a
background thread with backoff instead, never on a request.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from issc.config import load_settings
from issc.errors import ConfigError, UnavailableError
from issc.redact import error_line
from issc.service.build import Service

logger = logging.getLogger(__name__)

#: The first retry of a service that could not be built for a passing reason, then doubling.
RETRY_FIRST_S = 2.0
RETRY_MAX_S = 60.0

_lock = threading.Lock()
_current: Service | None = None
_failed: ConfigError | None = None  # a wrong configuration: kept, never retried
_retrying: _Retry | None = None  # a passing failure (UnavailableError): retried on a thread


def _build_and_start(build: Any) -> Service:
    if build is None:
        settings = load_settings()
        configure_logging(settings.web.log_level)
        service = Service.build(settings)
    else:
        service = build()
    try:
        return service.start()
    except BaseException:
        service.stop()  # cameras that started, the store's and the webhook's threads
        raise


class _Retry:
    """Builds the service again on a thread of its own, every 2 s doubling to 60 s, until it starts,
    the configuration turns out wrong, or :func:`stop` is called."""

    def __init__(self, build: Any, error: UnavailableError) -> None:
        self._build = build
        self._cause = error
        self._attempts = 1
        self._delay = RETRY_FIRST_S
        self._next_at = time.monotonic() + self._delay
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="issc-service-retry", daemon=True)

    def error(self) -> UnavailableError:
        """What pages and routes show meanwhile: the cause, and when the next try comes."""
        wait = max(self._next_at - time.monotonic(), 0.0)
        return UnavailableError(
            f"{str(self._cause).rstrip('.')}. Retrying in {wait:.0f} s "
            f"({self._attempts} attempt{'s' if self._attempts > 1 else ''} so far)."
        )

    def cancel(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        global _current, _failed, _retrying
        while not self._stop.wait(max(self._next_at - time.monotonic(), 0.0)):
            try:
                service = _build_and_start(self._build)
            except UnavailableError as exc:
                self._failed_again(exc)
                continue
            except ConfigError as exc:
                with _lock:
                    if _retrying is self:
                        _failed, _retrying = exc, None
                logger.error("ISSC configuration error: %s", exc)
                return
            except Exception as exc:  # a worker never dies: report, retry
                logger.exception("building the service failed")
                self._failed_again(
                    UnavailableError(f"the service could not start ({type(exc).__name__}: {error_line(exc)})")
                )
                continue
            with _lock:
                keep = _retrying is self and not self._stop.is_set()
                if keep:
                    _current, _retrying = service, None
            if not keep:
                service.stop()  # stop() came while this build ran: leave nothing running
                return
            logger.info("service started after %d attempts", self._attempts + 1)
            return

    def _failed_again(self, exc: UnavailableError) -> None:
        self._cause = exc
        self._attempts += 1
        self._delay = min(self._delay * 2, RETRY_MAX_S)
        self._next_at = time.monotonic() + self._delay
        logger.warning("%s (retrying in %.0f s)", exc, self._delay)


def start(build: Any = None) -> Service:
    """Build and start the process's service once (``build``: a no-argument factory, for tests).

    A wrong configuration is kept as its sentence; something it names that cannot be reached now
    (:class:`~issc.errors.UnavailableError`: a database server that is down) is retried on a
    background thread with backoff, and meanwhile every call raises at once, without building.

    Raises:
        ConfigError: the configuration is wrong (kept: later calls raise the same sentence).
        UnavailableError: the service cannot start yet; says when it is tried again.
    """
    global _current, _failed, _retrying
    with _lock:
        if _current is not None:
            return _current
        if _failed is not None:
            raise _failed
        if _retrying is not None:
            raise _retrying.error()
        try:
            _current = _build_and_start(build)
        except UnavailableError as exc:
            _retrying = _Retry(build, exc)
            _retrying.thread.start()
            logger.warning("%s (retrying in %.0f s)", exc, RETRY_FIRST_S)
            raise _retrying.error() from None
        except ConfigError as exc:
            _failed = exc
            raise
        return _current


def current() -> Service:
    """The process's service, started on first use (pages run without the server in tests).

    Raises:
        ConfigError: the configuration is wrong (one sentence, found once at the start).
        UnavailableError: the service is being retried (never built on the caller meanwhile).
    """
    service = _current
    return service if service is not None else start()


def stop() -> None:
    """Stop the process's service or its retries; the next :func:`current` builds a new one."""
    global _current, _failed, _retrying
    with _lock:
        service, retrying = _current, _retrying
        _current, _failed, _retrying = None, None, None
    if retrying is not None:
        retrying.cancel()
        retrying.thread.join(30)  # a build under way finishes, then stops what it started
    if service is not None:
        service.stop()


def configure_logging(level: str = "INFO") -> None:
    """ISSC's log lines on stderr, once per process; every log record of the process is redacted
    (:func:`issc.redact.install_log_redaction`: credentials and known secrets become ``***``)."""
    from issc.redact import install_log_redaction

    root = logging.getLogger("issc")
    if not root.handlers:
        import sys

        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        root.propagate = False
    root.setLevel(level)
    install_log_redaction()
