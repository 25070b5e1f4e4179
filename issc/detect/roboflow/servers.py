"""Which servers and models the Roboflow backend calls: its settings checked, its SDK clients made.

``API_URL`` is split into servers, the model ids and thresholds are checked once at construction
(a ``ConfigError`` names the setting), and each server gets one configured
``InferenceHTTPClient`` per model, the key sent only as ``Authorization: Bearer <key>``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from inference_sdk import InferenceConfiguration, InferenceHTTPClient
from inference_sdk.http.utils.aliases import resolve_roboflow_model_alias

from issc.errors import ConfigError

ApiVersion = Literal["auto", "v0", "v1"]
Model = tuple[str, int, InferenceHTTPClient]  # (model id, canonical class, client)

_MODEL_ID = re.compile(r"^[\w.-]+/\d+$")


@dataclass(frozen=True)
class Server:
    """One inference server of ``API_URL``: its URL, the name shown for it, a client per model."""

    url: str
    name: str
    models: tuple[Model, ...]


def server_urls(api_url: str | Sequence[str]) -> list[str]:
    """The servers of ``API_URL`` (comma-separated, or a sequence), without a trailing slash.

    Raises:
        ConfigError: An item is empty.
    """
    urls = [u.strip().rstrip("/") for u in (api_url.split(",") if isinstance(api_url, str) else api_url)]
    if not urls or not all(urls):
        raise ConfigError("API_URL has an empty item: expected one or more comma-separated server URLs")
    return urls


def check_models(human_model: str | None, plate_model: str | None) -> None:
    """Check that at least one model is set and each set one is a Roboflow model id or alias.

    Raises:
        ConfigError: No model, or a malformed model id.
    """
    if not (human_model or plate_model):
        raise ConfigError("Roboflow detector needs HUMAN_MODEL or PLATE_MODEL (a project/version id)")
    for setting, model in (("HUMAN_MODEL", human_model), ("PLATE_MODEL", plate_model)):
        if model is not None and not _MODEL_ID.match(resolve_roboflow_model_alias(model)):
            raise ConfigError(
                f"{setting}={model!r} is not a Roboflow model id: expected 'project/version' or an alias such as 'yolov8n-640'"
            )


def check_limits(person_conf: float, plate_conf: float, iou: float, timeout_s: float) -> None:
    """Check the thresholds (in [0, 1]) and the timeout (> 0).

    Raises:
        ConfigError: A value out of range.
    """
    for setting, value in (("PERSON_CONF", person_conf), ("PLATE_CONF", plate_conf), ("IOU", iou)):
        if not 0.0 <= value <= 1.0:
            raise ConfigError(f"{setting}={value!r} is out of range: expected a number in [0, 1]")
    if not timeout_s > 0:
        raise ConfigError(f"DETECTOR_TIMEOUT_S={timeout_s!r} is out of range: expected seconds > 0")


def make_client(
    url: str, key: str | None, conf: float, iou: float, api_version: ApiVersion
) -> InferenceHTTPClient:
    """An SDK client for one model at ``url``: its request format, thresholds, key in the header."""
    client = InferenceHTTPClient(api_url=url, api_key=key)
    if api_version == "v0":
        client.select_api_v0()
    elif api_version == "v1":
        client.select_api_v1()
    client.configure(
        InferenceConfiguration(confidence_threshold=conf, iou_threshold=iou, api_key_transport="header")
    )
    return client
