"""Roboflow backend: people and plates from two hosted (or self-hosted) Roboflow models.

The real ``inference_sdk.InferenceHTTPClient`` does the HTTP work. What it sends depends on the
server, and both forms are exercised by ``tests/roboflow_emulator.py``:

* hosted (``https://detect.roboflow.com`` and the other Roboflow URLs), SDK "v0" mode:
  ``POST {api_url}/{project}/{version}?confidence=...&overlap=...`` with the base64 JPEG as the
  body;
* anything else (a self-hosted ``inference`` server, e.g. ``http://localhost:9001``), "v1" mode:
  ``GET /model/registry``, ``POST /model/add`` the first time, then
  ``POST /infer/object_detection`` with a JSON body ``{"model_id", "image": {"type": "base64",
  "value"}, "confidence", "iou_threshold"}``.

The key travels only as ``Authorization: Bearer <key>`` (the SDK's ``api_key_transport="header"``),
never in a URL, where proxies and access logs would keep it: the SDK's default ("legacy") puts it
in the v0 query string (``?api_key=``) and in the v1 registry URL. Roboflow's hosted API and
``inference`` servers from release 1.5.0 read the header; an older self-hosted server receives no
key (upgrade it, or run it without one).

For v0 the SDK prepares the request (URL, parameters, headers, resized base64 image) and this
module sends it, once: the SDK's own sender drops the response headers, so it could not honour a
``Retry-After``, and it retries 429/503/504 three times one second apart whatever the server asks.
A 429 or 503 with ``Retry-After`` (seconds or an HTTP date) raises
:class:`~issc.errors.DetectorUnavailableError` with ``retry_after_s`` set, and the analysis worker
waits that long instead of its own backoff. v1 (self-hosted) goes through the SDK's
``infer_async``, which loads models on the server first; its 429/503 answers fall back to our
backoff, since the SDK does not expose ``Retry-After`` there.

The answer is Roboflow's detection JSON (box centres ``x``, ``y`` and sizes), turned into
``sv.Detections`` by ``Detections.from_inference`` and relabelled: every box of the person model
is a ``PERSON``, every box of the plate model a ``PLATE``, whatever the model calls its classes.

The SDK's synchronous calls have no timeout at all and retry 429/503/504 and refused connections
three times, one second apart. So ``detect`` drives asynchronous calls under
``asyncio.wait_for``: both models run at once and the whole call, retries included, ends after
``timeout_s``.

``API_URL`` may list several servers: :mod:`issc.detect.pool` spreads the frames over them and
backs off a failing one; ``timeout_s`` then bounds each server's try.

The API key never leaves this module in clear: messages of the errors raised here are scrubbed
(the SDK quotes request URLs carrying ``api_key=``, masking only part of the key), SDK exceptions
are not chained, and ``repr`` shows the server and the models only.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import aiohttp
import numpy as np
import supervision as sv
from inference_sdk import InferenceConfiguration, InferenceHTTPClient
from inference_sdk.http.errors import (
    HTTPCallErrorError,
    HTTPClientError,
    HTTPServerConnectionError,
    ModelNotInitializedError,
)
from inference_sdk.http.utils.aliases import resolve_roboflow_model_alias
from inference_sdk.http.utils.post_processing import adjust_prediction_to_client_scaling_factor
from pydantic import SecretStr

from issc.detect.pool import (
    RETRY_AFTER_MAX_S,
    ServerPool,
    ServerState,
    display_url,
    health_problem,
    parse_retry_after,
)
from issc.detections import PERSON, PLATE, empty_detections, make_detections
from issc.errors import (
    ConfigError,
    DetectorAuthError,
    DetectorError,
    DetectorResponseError,
    DetectorUnavailableError,
)

T = TypeVar("T")
ApiVersion = Literal["auto", "v0", "v1"]
Model = tuple[str, int, InferenceHTTPClient]  # (model id, canonical class, client)

__all__ = ["RETRY_AFTER_MAX_S", "RoboflowDetector", "ServerState", "parse_retry_after", "scrub_secret"]
AUTH_STATUSES = frozenset({401, 402, 403})
HEALTH_TIMEOUT_S = 2.0  # longest health check of a down server (DETECTOR_TIMEOUT_S if shorter)
_MODEL_ID = re.compile(r"^[\w.-]+/\d+$")
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


def _run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to the end from synchronous code, even inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="issc-roboflow") as pool:
        return pool.submit(asyncio.run, coroutine).result()


class _HttpStatus(Exception):
    """A v0 answer other than 200 (raised inside this module, translated by ``_translate``)."""

    def __init__(self, status: int, detail: str, retry_after_s: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.detail = detail
        self.retry_after_s = retry_after_s


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


@dataclass(frozen=True)
class _Server:
    """One inference server of ``API_URL``: its URL, the name shown for it, a client per model."""

    url: str
    name: str
    models: tuple[Model, ...]


class RoboflowDetector:
    """People and plates from Roboflow object-detection models, through ``inference_sdk``.

    Several servers (a comma-separated ``api_url`` or a list) form a pool: calls take turns over
    the healthy ones, a failing one is backed off and the frame goes to the next at once (see
    :mod:`issc.detect.pool`).

    Args:
        api_url: Hosted API (``https://detect.roboflow.com``) or self-hosted server URL; several
            separated by commas, or a sequence of them.
        api_key: Roboflow API key; None only for a self-hosted server that needs none.
        human_model: Model id (``project/version``) whose boxes are people; None: no people.
        plate_model: Model id whose boxes are plates; None: no plates.
        person_conf: Confidence threshold sent with person requests, in [0, 1].
        plate_conf: Confidence threshold sent with plate requests, in [0, 1].
        iou: IoU threshold of the server's non-maximum suppression, in [0, 1].
        timeout_s: Longest time one server may take for a frame, both models and retries included.
        api_version: ``"auto"`` lets the SDK pick by URL (hosted: v0, other: v1); ``"v0"`` or
            ``"v1"`` force a request format.
        human_classes: Keep only these class names of the person model (for a multi-class model
            such as COCO's ``yolov8n-640``: ``("person",)``); None keeps every box.
        plate_classes: The same for the plate model.

    Raises:
        ConfigError: No model, a malformed model id, a bad threshold or timeout, an empty server
            URL, or no key for the hosted API.
    """

    name = "roboflow"

    def __init__(
        self,
        api_url: str | Sequence[str],
        api_key: SecretStr | str | None,
        human_model: str | None,
        plate_model: str | None,
        *,
        person_conf: float = 0.5,
        plate_conf: float = 0.3,
        iou: float = 0.5,
        timeout_s: float = 5.0,
        api_version: ApiVersion = "auto",
        human_classes: Sequence[str] | None = None,
        plate_classes: Sequence[str] | None = None,
    ) -> None:
        key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        self._key = key or None
        urls = [u.strip().rstrip("/") for u in (api_url.split(",") if isinstance(api_url, str) else api_url)]
        if not urls or not all(urls):
            raise ConfigError("API_URL has an empty item: expected one or more comma-separated server URLs")
        self.api_url = ", ".join(display_url(url) for url in urls)
        if not (human_model or plate_model):
            raise ConfigError("Roboflow detector needs HUMAN_MODEL or PLATE_MODEL (a project/version id)")
        for setting, model in (("HUMAN_MODEL", human_model), ("PLATE_MODEL", plate_model)):
            if model is not None and not _MODEL_ID.match(resolve_roboflow_model_alias(model)):
                raise ConfigError(
                    f"{setting}={model!r} is not a Roboflow model id: expected 'project/version' or an alias such as 'yolov8n-640'"
                )
        for setting, value in (("PERSON_CONF", person_conf), ("PLATE_CONF", plate_conf), ("IOU", iou)):
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{setting}={value!r} is out of range: expected a number in [0, 1]")
        if not timeout_s > 0:
            raise ConfigError(f"DETECTOR_TIMEOUT_S={timeout_s!r} is out of range: expected seconds > 0")
        self.human_model = human_model
        self.plate_model = plate_model
        self.timeout_s = float(timeout_s)
        self._keep: dict[int, frozenset[str] | None] = {
            PERSON: None if human_classes is None else frozenset(human_classes),
            PLATE: None if plate_classes is None else frozenset(plate_classes),
        }
        wanted = [(human_model, PERSON, person_conf), (plate_model, PLATE, plate_conf)]
        # One client per server and model, configured once, so that concurrent detect() calls
        # from several engine workers share no mutable state.
        self._servers = [
            _Server(
                url,
                display_url(url),
                tuple((m, c, self._client(url, f, iou, api_version)) for m, c, f in wanted if m),
            )
            for url in urls
        ]
        for server in self._servers:
            if self._key is None and any(client.client_mode.value == "v0" for _, _, client in server.models):
                raise ConfigError(f"API_KEY is required by the Roboflow API at {server.name}")
        self._pool = ServerPool([server.name for server in self._servers])

    def _client(self, url: str, conf: float, iou: float, api_version: ApiVersion) -> InferenceHTTPClient:
        client = InferenceHTTPClient(api_url=url, api_key=self._key)
        if api_version == "v0":
            client.select_api_v0()
        elif api_version == "v1":
            client.select_api_v1()
        client.configure(
            InferenceConfiguration(confidence_threshold=conf, iou_threshold=iou, api_key_transport="header")
        )
        return client

    def __repr__(self) -> str:
        return (
            f"RoboflowDetector(api_url={self.api_url!r}, human_model={self.human_model!r}, "
            f"plate_model={self.plate_model!r}, timeout_s={self.timeout_s})"
        )

    def servers(self) -> list[ServerState]:
        """Each server of ``API_URL`` with its state: in rotation, calls, failures, next check."""
        return self._pool.states()

    def detect(self, image: np.ndarray) -> sv.Detections:
        """Run both models on ``image`` on the next healthy server and return their boxes.

        A server that is unavailable is backed off and the frame goes to the next one at once.

        Args:
            image: BGR uint8 array of shape (h, w, 3).

        Returns:
            People (``PERSON``) then plates (``PLATE``), in the pixels of ``image``.

        Raises:
            DetectorAuthError: The key, quota or model id was rejected (401/402/403/404).
            DetectorUnavailableError: 429, 5xx, timeout or no connection, on every server; with
                several servers, ``retry_after_s`` says when the first is checked again.
            DetectorResponseError: The answer is not Roboflow detection JSON.
        """
        last: DetectorUnavailableError | None = None
        for index, check in self._pool.plan():
            server = self._servers[index]
            if check and not self._pool.check(index, lambda url=server.url: self._health(url)):
                continue
            self._pool.started(index)
            try:
                results = self._infer(server, image)
            except DetectorUnavailableError as exc:
                last = exc
                self._pool.failed(index, exc.retry_after_s, exc)
                continue
            self._pool.succeeded(index)
            found = [self._to_detections(result, model, class_id) for (model, class_id, _), result in results]
            return sv.Detections.merge(found) if found else empty_detections()
        raise self._all_down(last)

    def _all_down(self, last: DetectorUnavailableError | None) -> DetectorUnavailableError:
        """The error when no server took the frame: the last one's, or how many are down."""
        if len(self._servers) == 1 and last is not None:
            return last  # one server: exactly what it said; the analysis worker backs off
        soonest = self._pool.soonest_s() or 0.0
        detail = f"; last error: {last}" if last is not None else ""
        return DetectorUnavailableError(
            f"{self._pool.down()} of {len(self._servers)} Roboflow servers are down (API_URL); the "
            f"first is checked again in {soonest:.1f} s{detail}",
            retry_after_s=soonest,
        )

    def _health(self, url: str) -> str | None:
        problem = _run_coroutine(health_problem(url, min(self.timeout_s, HEALTH_TIMEOUT_S)))
        return None if problem is None else self._scrub(problem)

    def _infer(self, server: _Server, image: np.ndarray) -> list[tuple[Model, object]]:
        try:
            return _run_coroutine(self._infer_all(server, image))
        except DetectorError:
            raise
        except Exception as exc:  # SDK and aiohttp errors: translated, scrubbed, not chained
            raise self._translate(exc, server.name) from None

    async def _infer_all(self, server: _Server, image: np.ndarray) -> list[tuple[Model, object]]:
        async with aiohttp.ClientSession() as session:
            calls = [
                self._infer_v0(session, client, model, image)
                if client.client_mode.value == "v0"
                else client.infer_async(image, model_id=model)
                for model, _, client in server.models
            ]
            try:
                answers: Sequence[object] = await asyncio.wait_for(asyncio.gather(*calls), self.timeout_s)
            except TimeoutError:
                raise DetectorUnavailableError(
                    f"Roboflow at {server.name} did not answer within {self.timeout_s:g} s "
                    "(DETECTOR_TIMEOUT_S): the server is slow or unreachable"
                ) from None
        return list(zip(server.models, answers, strict=True))

    @staticmethod
    async def _infer_v0(
        session: aiohttp.ClientSession, client: InferenceHTTPClient, model: str, image: np.ndarray
    ) -> object:
        """One v0 call as the SDK builds it (key in the header), sent once, ``Retry-After`` kept."""
        (request,) = client._prepare_infer_from_api_v0_request_data(image, model_id=model)
        params = [
            (name, str(item))
            for name, value in (request.parameters or {}).items()
            for item in (value if isinstance(value, list) else [value])
        ]
        async with session.post(
            request.url, headers=request.headers, params=params, data=request.data
        ) as answer:
            body = await answer.read()
            if answer.status != 200:
                raise _HttpStatus(
                    answer.status,
                    body.decode("utf-8", "replace"),
                    parse_retry_after(answer.headers.get("Retry-After")),
                )
        result = json.loads(body)  # ValueError: not JSON, translated as such
        if isinstance(result, dict):
            result = adjust_prediction_to_client_scaling_factor(result, request.image_scaling_factors[0])
        return result

    def _to_detections(self, result: object, model: str, class_id: int) -> sv.Detections:
        try:
            if not isinstance(result, dict) or not isinstance(result.get("predictions"), list):
                raise KeyError("predictions")
            found = sv.Detections.from_inference(result)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DetectorResponseError(
                f"Roboflow model {model} answered something that is not detection JSON "
                f"({type(exc).__name__}: {self._scrub(str(exc))})"
            ) from None
        keep = self._keep[class_id]
        if keep is not None and len(found):
            found = found[np.isin(found.data["class_name"].astype(str), list(keep))]
        confidence = np.clip(np.nan_to_num(found.confidence, nan=0.0), 0.0, 1.0)
        return make_detections(found.xyxy, confidence, np.full(len(found), class_id, dtype=int))

    def _scrub(self, text: str) -> str:
        return scrub_secret(text, self._key)

    def _translate(self, exc: Exception, server: str) -> DetectorError:
        """Our error for an SDK or transport failure at ``server``, its message free of the key."""
        where = f"Roboflow at {server}"
        status = _retry_giveup_status(exc)
        if status is not None:
            return DetectorUnavailableError(f"{where} is busy or failing (HTTP {status}, retried)")
        retry_after_s = None
        if isinstance(exc, _HttpStatus | HTTPCallErrorError):
            if isinstance(exc, _HttpStatus):
                status, retry_after_s = exc.status, exc.retry_after_s
                detail = self._scrub(_api_message(exc.detail))[:200]
            else:
                status = exc.status_code
                detail = self._scrub(str(exc.api_message or exc.description or ""))[:200]
            if status in AUTH_STATUSES:
                return DetectorAuthError(
                    f"Roboflow rejected the API key or quota (HTTP {status}): check API_KEY and the "
                    f"workspace's plan and credits ({detail})"
                )
            if status == 404:
                return DetectorAuthError(
                    f"{where} has no model {self._model_list()} (HTTP 404): check HUMAN_MODEL and "
                    "PLATE_MODEL, and that API_KEY belongs to their workspace"
                )
            if status == 429 or status >= 500:
                wait = f", asks to wait {retry_after_s:g} s" if retry_after_s is not None else ""
                return DetectorUnavailableError(
                    f"{where} is busy or failing (HTTP {status}{wait}): {detail}", retry_after_s=retry_after_s
                )
            return DetectorResponseError(f"{where} refused the request (HTTP {status}): {detail}")
        if isinstance(exc, HTTPServerConnectionError | aiohttp.ClientConnectionError | ConnectionError):
            return DetectorUnavailableError(f"cannot reach {where}: {self._scrub(str(exc))[:200]}")
        if isinstance(exc, ModelNotInitializedError):
            return DetectorResponseError(
                f"{where} could not load {self._model_list()}: {self._scrub(str(exc))[:200]}"
            )
        if isinstance(exc, HTTPClientError | aiohttp.ClientError | asyncio.TimeoutError):
            return DetectorUnavailableError(f"{where} failed: {self._scrub(str(exc))[:200]}")
        if isinstance(exc, KeyError | TypeError | ValueError | AttributeError):
            return DetectorResponseError(
                f"{where} answered something that is not detection JSON "
                f"({type(exc).__name__}: {self._scrub(str(exc))[:200]})"
            )
        return DetectorUnavailableError(
            f"{where} failed: {type(exc).__name__}: {self._scrub(str(exc))[:200]}"
        )

    def _model_list(self) -> str:
        return " or ".join(repr(model) for model, _, _ in self._servers[0].models)
