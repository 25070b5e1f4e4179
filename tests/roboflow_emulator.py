"""A small Roboflow inference server on 127.0.0.1, for tests of ``RoboflowDetector``.

It speaks the two request forms that ``inference_sdk.InferenceHTTPClient`` really sends (see
``issc/detect/roboflow/__init__.py``): the hosted "v0" form ``POST /{project}/{version}?api_key=...`` with
a base64 body, and the self-hosted "v1" form (``GET /model/registry``, ``POST /model/add``,
``POST /infer/object_detection`` with a JSON body), and the health route ``GET /info`` of an
``inference`` server, which needs no key. It answers Roboflow's detection JSON::

    {"predictions": [{"x", "y", "width", "height", "confidence", "class", "class_id",
                      "detection_id"}], "image": {"width", "height"}, "time", "inference_id"}

The key may come as ``Authorization: Bearer`` (what ISSC sends), in the query or in the body; each
request records where it was and whether it appeared in the URL. On demand it answers 401/403/
429/500/503 (with ``Retry-After`` when ``retry_after`` is set), garbage, JSON without the expected
keys, a slow answer, or drops the connection without answering. Every request is recorded, so
tests can assert model ids, parameters and the image sent.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import cv2
import numpy as np

OBJECT_DETECTION = "object-detection"


@dataclass(frozen=True)
class RecordedRequest:
    """One request the emulator received, decoded."""

    method: str
    path: str
    api_key: str | None
    model_id: str | None
    params: dict[str, Any]
    image_shape: tuple[int, ...] | None  # (h, w, 3) of the decoded image, if one was sent
    key_in_url: bool = False  # the key appeared in the request line (where proxies log it)
    key_from: str | None = None  # "header", "query" or "body"
    received_mono: float = 0.0  # time.monotonic() when it arrived


@dataclass
class Behaviour:
    """What the emulator answers. Tests change it between calls.

    Attributes:
        mode: ``"ok"``, ``"401"``, ``"403"``, ``"429"``, ``"500"``, ``"503"``, ``"garbage"`` (not
            JSON), ``"missing_keys"`` (JSON without ``predictions``), ``"slow"`` (sleep
            ``delay_s``), or ``"drop"`` (close the connection without an answer).
        valid_key: Requests with another key get 401 like Roboflow; None accepts any key.
        predictions: Prediction dicts per model id; unknown models get none.
        delay_s: How long ``"slow"`` waits before answering normally.
        retry_after: The ``Retry-After`` header sent with 429 and 503 (seconds or an HTTP date).
    """

    mode: str = "ok"
    valid_key: str | None = None
    predictions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    delay_s: float = 5.0
    retry_after: str | None = None


def prediction(
    x: float, y: float, width: float, height: float, confidence: float, cls: str, class_id: int = 0
) -> dict[str, Any]:
    """One Roboflow prediction: ``x``, ``y`` are the box centre."""
    return {
        "x": x,
        "y": y,
        "width": width,
        "height": height,
        "confidence": confidence,
        "class": cls,
        "class_id": class_id,
        "detection_id": str(uuid.uuid4()),
    }


class RoboflowEmulator:
    """Threaded HTTP server; use as a context manager. ``url`` is its base URL."""

    def __init__(self, behaviour: Behaviour | None = None, port: int = 0) -> None:
        self.behaviour = behaviour or Behaviour()
        self.requests: list[RecordedRequest] = []
        self.loaded_models: set[str] = set()
        self._released = threading.Event()  # set on stop: slow handlers return at once
        self._lock = threading.Lock()
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet test output
                pass

            def do_GET(self) -> None:
                emulator._handle(self, "GET")

            def do_POST(self) -> None:
                emulator._handle(self, "POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)  # 0: any free port
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="roboflow-emulator"
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> RoboflowEmulator:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def inference_requests(self) -> list[RecordedRequest]:
        """The requests that carried an image (the inference calls, either form)."""
        return [r for r in self.requests if r.image_shape is not None]

    # --- request handling ---------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        split = urlsplit(handler.path)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        payload: dict[str, Any] = {}
        if body[:1] == b"{":
            payload = json.loads(body)
        params = {**query, **{k: v for k, v in payload.items() if k not in ("image", "api_key")}}
        bearer = handler.headers.get("Authorization", "")
        api_key, key_from = None, None
        if bearer.startswith("Bearer "):
            api_key, key_from = bearer[len("Bearer ") :], "header"
        elif "api_key" in query:
            api_key, key_from = query["api_key"], "query"
        elif "api_key" in payload:
            api_key, key_from = payload["api_key"], "body"
        key_in_url = "api_key=" in handler.path or bool(api_key and api_key in handler.path)
        image_b64 = None
        path = split.path
        model_id = payload.get("model_id")
        if method == "POST" and path == "/infer/object_detection":
            image_b64 = payload["image"]["value"]
        elif method == "POST" and path.count("/") == 2 and not path.startswith("/model/"):
            model_id = path.strip("/")  # v0: /{project}/{version}, the image is the body
            image_b64 = body.decode()
        shape = None
        if image_b64 is not None:
            decoded = cv2.imdecode(np.frombuffer(base64.b64decode(image_b64), np.uint8), cv2.IMREAD_COLOR)
            shape = None if decoded is None else tuple(decoded.shape)
        record = RecordedRequest(
            method, path, api_key, model_id, params, shape, key_in_url, key_from, time.monotonic()
        )
        with self._lock:
            self.requests.append(record)
        self._answer(handler, record)

    def _answer(self, handler: BaseHTTPRequestHandler, request: RecordedRequest) -> None:
        behaviour = self.behaviour
        needs_key = request.path != "/info"  # inference exempts its info route from the key check
        if needs_key and behaviour.valid_key is not None and request.api_key != behaviour.valid_key:
            return self._send(handler, 401, {"message": "Unauthorized api_key"})
        mode = behaviour.mode
        if mode == "drop":
            handler.close_connection = True
            return None  # no status line at all: the client sees the connection close
        if mode in ("401", "403", "429", "500", "503"):
            messages = {
                "401": "Unauthorized api_key",
                "403": "Forbidden: out of credits",
                "429": "Too many requests",
                "500": "Internal error",
                "503": "Service unavailable",
            }
            extra = {}
            if mode in ("429", "503") and behaviour.retry_after is not None:
                extra["Retry-After"] = behaviour.retry_after
            return self._send(handler, int(mode), {"message": messages[mode]}, extra)
        if mode == "slow" and self._released.wait(behaviour.delay_s):
            return None  # stopped while waiting: drop the connection
        if request.method == "GET" and request.path == "/info":
            return self._send(
                handler,
                200,
                {"name": "Roboflow Inference Server", "version": "emulator", "uuid": "issc-test"},
            )
        if request.path == "/model/registry":
            return self._send(handler, 200, self._registry())
        if request.path == "/model/add":
            assert request.model_id is not None
            self.loaded_models.add(request.model_id)
            return self._send(handler, 200, self._registry())
        if request.image_shape is None:
            return self._send(handler, 404, {"message": f"no route {request.method} {request.path}"})
        if mode == "garbage":
            return self._send_raw(handler, 200, b"<html>surprise</html>", "application/json")
        if mode == "missing_keys":
            return self._send(handler, 200, {"time": 0.01, "inference_id": str(uuid.uuid4())})
        height, width = request.image_shape[:2]
        return self._send(
            handler,
            200,
            {
                "predictions": behaviour.predictions.get(request.model_id or "", []),
                "image": {"width": width, "height": height},
                "time": 0.012,
                "inference_id": str(uuid.uuid4()),
            },
        )

    def _registry(self) -> dict[str, Any]:
        models = [
            {"model_id": m, "task_type": OBJECT_DETECTION, "batch_size": 1}
            for m in sorted(self.loaded_models)
        ]
        return {"models": models}

    @staticmethod
    def _send(
        handler: BaseHTTPRequestHandler,
        status: int,
        document: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> None:
        body = json.dumps(document).encode()
        RoboflowEmulator._send_raw(handler, status, body, "application/json", headers)

    @staticmethod
    def _send_raw(
        handler: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", content_type)
            for name, value in (headers or {}).items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout tests)
