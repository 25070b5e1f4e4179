"""SDK and transport failures of a Roboflow call mapped to our errors, the key scrubbed.

Auth, quota and unknown models (401/402/403/404) become :class:`~issc.errors.DetectorAuthError`;
429, 5xx, timeouts and lost connections :class:`~issc.errors.DetectorUnavailableError` (with the
server's ``Retry-After`` where known); anything else the server answered
:class:`~issc.errors.DetectorResponseError`.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
from inference_sdk.http.errors import (
    HTTPCallErrorError,
    HTTPClientError,
    HTTPServerConnectionError,
    ModelNotInitializedError,
)

from issc.detect.roboflow.calls import HttpStatus
from issc.detect.roboflow.scrub import scrub_secret
from issc.errors import DetectorAuthError, DetectorError, DetectorResponseError, DetectorUnavailableError

AUTH_STATUSES = frozenset({401, 402, 403})


def translate(exc: Exception, server: str, key: str | None, model_list: str) -> DetectorError:
    """Our error for an SDK or transport failure at ``server``, its message free of the key.

    Args:
        exc: What the SDK, aiohttp or :mod:`~issc.detect.roboflow.calls` raised.
        server: The server's display name.
        key: The API key, scrubbed from every message.
        model_list: The models asked for, quoted (``'a/1' or 'b/2'``), for a missing model.
    """
    where = f"Roboflow at {server}"
    status = _retry_giveup_status(exc)
    if status is not None:
        return DetectorUnavailableError(f"{where} is busy or failing (HTTP {status}, retried)")
    retry_after_s = None
    if isinstance(exc, HttpStatus | HTTPCallErrorError):
        if isinstance(exc, HttpStatus):
            status, retry_after_s = exc.status, exc.retry_after_s
            detail = scrub_secret(_api_message(exc.detail), key)[:200]
        else:
            status = exc.status_code
            detail = scrub_secret(str(exc.api_message or exc.description or ""), key)[:200]
        if status in AUTH_STATUSES:
            return DetectorAuthError(
                f"Roboflow rejected the API key or quota (HTTP {status}): check API_KEY and the "
                f"workspace's plan and credits ({detail})"
            )
        if status == 404:
            return DetectorAuthError(
                f"{where} has no model {model_list} (HTTP 404): check HUMAN_MODEL and "
                "PLATE_MODEL, and that API_KEY belongs to their workspace"
            )
        if status == 429 or status >= 500:
            wait = f", asks to wait {retry_after_s:g} s" if retry_after_s is not None else ""
            return DetectorUnavailableError(
                f"{where} is busy or failing (HTTP {status}{wait}): {detail}", retry_after_s=retry_after_s
            )
        return DetectorResponseError(f"{where} refused the request (HTTP {status}): {detail}")
    if isinstance(exc, HTTPServerConnectionError | aiohttp.ClientConnectionError | ConnectionError):
        return DetectorUnavailableError(f"cannot reach {where}: {scrub_secret(str(exc), key)[:200]}")
    if isinstance(exc, ModelNotInitializedError):
        return DetectorResponseError(
            f"{where} could not load {model_list}: {scrub_secret(str(exc), key)[:200]}"
        )
    if isinstance(exc, HTTPClientError | aiohttp.ClientError | asyncio.TimeoutError):
        return DetectorUnavailableError(f"{where} failed: {scrub_secret(str(exc), key)[:200]}")
    if isinstance(exc, KeyError | TypeError | ValueError | AttributeError):
        return DetectorResponseError(
            f"{where} answered something that is not detection JSON "
            f"({type(exc).__name__}: {scrub_secret(str(exc), key)[:200]})"
        )
    return DetectorUnavailableError(
        f"{where} failed: {type(exc).__name__}: {scrub_secret(str(exc), key)[:200]}"
    )


def _api_message(body: str) -> str:
    """The ``message`` of a Roboflow JSON error body, else the body itself."""
    try:
        document = json.loads(body)
    except ValueError:
        return body
    return str(document.get("message", body)) if isinstance(document, dict) else body


def _retry_giveup_status(exc: Exception) -> int | None:
    """The HTTP status behind the SDK's failed give-up handler, or None.

    inference-sdk 1.8.3 retries 429/503/504 in ``make_request_async`` and, when it gives up, its
    ``raise_client_error`` looks up ``details["kwargs"]["request_data"]``, which its own callers
    pass positionally: the caller sees a ``KeyError`` instead of the HTTP error. The status is
    still in that frame's ``details``.
    """
    if not isinstance(exc, KeyError):
        return None
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None or tb.tb_frame.f_code.co_name != "raise_client_error":
        return None
    try:
        return int(tb.tb_frame.f_locals["details"]["value"][0])
    except (KeyError, IndexError, TypeError, ValueError):
        return 429
