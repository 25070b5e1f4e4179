"""Our own small exception hierarchy. SDK and library errors are wrapped into these."""

from __future__ import annotations


class ISSCError(Exception):
    """Base class: the message says what is wrong and what to do."""


class ConfigError(ISSCError):
    """A setting has a wrong value. The message names the key, the value and what was expected."""


class SourceError(ISSCError):
    """A camera source could not be opened or stopped delivering frames."""


class DetectorError(ISSCError):
    """Base class for detector backend failures."""


class DetectorAuthError(DetectorError):
    """The API key or quota was rejected (401/402/403). Calls stop until the config changes."""


class DetectorUnavailableError(DetectorError):
    """A passing failure (429, 5xx, timeout, connection refused): back off and retry."""


class DetectorResponseError(DetectorError):
    """The backend answered with something we cannot parse: log it, pass the frame unannotated."""
