"""``RoboflowDetector``: a frame's people and plates from Roboflow models, over a pool of servers.

Each frame goes to the next healthy server of ``API_URL`` (:mod:`issc.detect.pool`); a server that
is unavailable is backed off and the frame goes to the next at once. The requests are
:mod:`~issc.detect.roboflow.calls`', the answers read by :mod:`~issc.detect.roboflow.answers`, the
failures mapped by :mod:`~issc.detect.roboflow.failures`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import supervision as sv
from pydantic import SecretStr

from issc.detect.pool import ServerPool, ServerState, display_url, health_problem
from issc.detect.roboflow.answers import to_detections
from issc.detect.roboflow.calls import infer_all, run_coroutine
from issc.detect.roboflow.failures import translate
from issc.detect.roboflow.scrub import scrub_secret
from issc.detect.roboflow.servers import (
    ApiVersion,
    Model,
    Server,
    check_limits,
    check_models,
    make_client,
    server_urls,
)
from issc.detections import PERSON, PLATE, empty_detections
from issc.errors import ConfigError, DetectorError, DetectorUnavailableError

__all__ = ["RoboflowDetector"]
HEALTH_TIMEOUT_S = 2.0  # longest health check of a down server (DETECTOR_TIMEOUT_S if shorter)


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
        urls = server_urls(api_url)
        self.api_url = ", ".join(display_url(url) for url in urls)
        check_models(human_model, plate_model)
        check_limits(person_conf, plate_conf, iou, timeout_s)
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
            Server(
                url,
                display_url(url),
                tuple((m, c, make_client(url, self._key, f, iou, api_version)) for m, c, f in wanted if m),
            )
            for url in urls
        ]
        for server in self._servers:
            if self._key is None and any(client.client_mode.value == "v0" for _, _, client in server.models):
                raise ConfigError(f"API_KEY is required by the Roboflow API at {server.name}")
        self._pool = ServerPool([server.name for server in self._servers])

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
            found = [
                to_detections(result, model, class_id, self._keep[class_id], self._key)
                for (model, class_id, _), result in results
            ]
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
        problem = run_coroutine(health_problem(url, min(self.timeout_s, HEALTH_TIMEOUT_S)))
        return None if problem is None else self._scrub(problem)

    def _infer(self, server: Server, image: np.ndarray) -> list[tuple[Model, object]]:
        try:
            return run_coroutine(infer_all(server, image, self.timeout_s))
        except DetectorError:
            raise
        except Exception as exc:  # SDK and aiohttp errors: translated, scrubbed, not chained
            raise translate(exc, server.name, self._key, self._model_list()) from None

    def _scrub(self, text: str) -> str:
        return scrub_secret(text, self._key)

    def _model_list(self) -> str:
        return " or ".join(repr(model) for model, _, _ in self._servers[0].models)
