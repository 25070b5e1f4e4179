"""The requests of one frame to one Roboflow server: both models at once, under one timeout.

For v0 (the hosted API) the SDK prepares the request (URL, parameters, headers, resized base64
image) and this module sends it, once: the SDK's own sender drops the response headers, so it
could not honour a ``Retry-After``, and it retries 429/503/504 three times one second apart
whatever the server asks. A non-200 answer raises :class:`HttpStatus` with the ``Retry-After``
(seconds or an HTTP date) parsed; :mod:`~issc.detect.roboflow.failures` turns a 429 or 503 into
:class:`~issc.errors.DetectorUnavailableError` with ``retry_after_s`` set, and the analysis worker
waits that long instead of its own backoff. v1 (self-hosted) goes through the SDK's
``infer_async``, which loads models on the server first; its 429/503 answers fall back to our
backoff, since the SDK does not expose ``Retry-After`` there.

The SDK's synchronous calls have no timeout at all and retry 429/503/504 and refused connections
three times, one second apart. So a frame is sent as asynchronous calls under
``asyncio.wait_for``: both models run at once and the whole call, retries included, ends after
``timeout_s``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import aiohttp
import numpy as np
from inference_sdk import InferenceHTTPClient
from inference_sdk.http.utils.post_processing import adjust_prediction_to_client_scaling_factor

from issc.detect.pool import parse_retry_after
from issc.detect.roboflow.servers import Model, Server
from issc.errors import DetectorUnavailableError

T = TypeVar("T")


def run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to the end from synchronous code, even inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="issc-roboflow") as pool:
        return pool.submit(asyncio.run, coroutine).result()


class HttpStatus(Exception):
    """A v0 answer other than 200 (raised by ``infer_v0``, translated by ``failures.translate``)."""

    def __init__(self, status: int, detail: str, retry_after_s: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.detail = detail
        self.retry_after_s = retry_after_s


async def infer_all(server: Server, image: np.ndarray, timeout_s: float) -> list[tuple[Model, object]]:
    """Each model of ``server`` with its answer for ``image``, all within ``timeout_s``.

    Raises:
        DetectorUnavailableError: The server did not answer within ``timeout_s``.
    """
    async with aiohttp.ClientSession() as session:
        calls = [
            infer_v0(session, client, model, image)
            if client.client_mode.value == "v0"
            else client.infer_async(image, model_id=model)
            for model, _, client in server.models
        ]
        try:
            answers: Sequence[object] = await asyncio.wait_for(asyncio.gather(*calls), timeout_s)
        except TimeoutError:
            raise DetectorUnavailableError(
                f"Roboflow at {server.name} did not answer within {timeout_s:g} s "
                "(DETECTOR_TIMEOUT_S): the server is slow or unreachable"
            ) from None
    return list(zip(server.models, answers, strict=True))


async def infer_v0(
    session: aiohttp.ClientSession, client: InferenceHTTPClient, model: str, image: np.ndarray
) -> object:
    """One v0 call as the SDK builds it (key in the header), sent once, ``Retry-After`` kept."""
    (request,) = client._prepare_infer_from_api_v0_request_data(image, model_id=model)
    params = [
        (name, str(item))
        for name, value in (request.parameters or {}).items()
        for item in (value if isinstance(value, list) else [value])
    ]
    async with session.post(request.url, headers=request.headers, params=params, data=request.data) as answer:
        body = await answer.read()
        if answer.status != 200:
            raise HttpStatus(
                answer.status,
                body.decode("utf-8", "replace"),
                parse_retry_after(answer.headers.get("Retry-After")),
            )
    result = json.loads(body)  # ValueError: not JSON, translated as such
    if isinstance(result, dict):
        result = adjust_prediction_to_client_scaling_factor(result, request.image_scaling_factors[0])
    return result
