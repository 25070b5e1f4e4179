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

``API_URL`` may list several servers: :mod:`issc.detect.pool` spreads the frames over them and
backs off a failing one; ``timeout_s`` then bounds each server's try.

The package, one job a module:

* :mod:`~issc.detect.roboflow.detector`: ``RoboflowDetector``, a frame over the server pool;
* :mod:`~issc.detect.roboflow.servers`: settings checked, one SDK client per server and model;
* :mod:`~issc.detect.roboflow.calls`: the requests of one frame, under one timeout;
* :mod:`~issc.detect.roboflow.answers`: Roboflow detection JSON to ``sv.Detections``;
* :mod:`~issc.detect.roboflow.failures`: SDK and transport failures to our errors;
* :mod:`~issc.detect.roboflow.scrub`: the API key removed from any text.
"""

from __future__ import annotations

from issc.detect.roboflow.detector import RoboflowDetector

__all__ = ["RoboflowDetector"]
