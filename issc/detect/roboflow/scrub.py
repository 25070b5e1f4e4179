"""The API key removed from any text before it leaves the Roboflow backend.

The API key never leaves :mod:`issc.detect.roboflow` in clear: messages of the errors raised there
are scrubbed (the SDK quotes request URLs carrying ``api_key=``, masking only part of the key), SDK
exceptions are not chained, and ``repr`` shows the server and the models only.
"""

from __future__ import annotations

import re

__all__ = ["scrub_secret"]
_KEY_IN_TEXT = re.compile(r"(api_key=)[^&\s'\"<>]*|(Bearer\s+)[^\s'\"<>]+", re.IGNORECASE)
_MASK = "***"


def scrub_secret(text: str, secret: str | None) -> str:
    """Remove an API key from ``text``: the key itself and any ``api_key=`` or ``Bearer`` value.

    Args:
        text: Any message, typically an SDK error quoting a request URL.
        secret: The key to remove verbatim; None to remove only the patterns.

    Returns:
        ``text`` with every trace of the key replaced by ``***``.
    """
    if secret:
        text = text.replace(secret, _MASK)
    return _KEY_IN_TEXT.sub(lambda m: (m.group(1) or m.group(2)) + _MASK, text)
