"""Our own small exception hierarchy. SDK and library errors are wrapped into these."""

from __future__ import annotations


class ISSCError(Exception):
    """Base class: the message says what is wrong and what to do."""


class ConfigError(ISSCError):
    """A setting has a wrong value. The message names the key, the value and what was expected."""


class UnavailableError(ConfigError):
    """Something the configuration names cannot be reached now (a database server that is down, a
    folder not yet mounted): the values may be right, so the service retries in the background.

    A subclass of :class:`ConfigError` so that every page and route shows its sentence the same way.
    """


class SourceError(ISSCError):
    """A camera source could not be opened or stopped delivering frames."""


class DetectorError(ISSCError):
    """Base class for detector backend failures."""


class DetectorAuthError(DetectorError):
    """The API key, quota or model was rejected (401/402/403/404).

    Detection stops until an admin retries the detector (``Engine.retry_detector``) or the
    periodic re-probe of the analysis worker gets an answer.
    """


class DetectorUnavailableError(DetectorError):
    """A passing failure (429, 5xx, timeout, connection refused): back off and retry.

    ``retry_after_s``: how long the server asked to wait (its ``Retry-After``), when it said.
    """

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class DetectorResponseError(DetectorError):
    """The backend answered with something we cannot parse: log it, pass the frame unannotated."""
