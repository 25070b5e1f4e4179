"""RoboflowDetector against a local emulator that speaks what inference-sdk really sends."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterator

import numpy as np
import pytest
from pydantic import SecretStr
from roboflow_emulator import Behaviour, RoboflowEmulator, prediction

from issc.detect.pool import RETRY_AFTER_MAX_S, parse_retry_after
from issc.detect.roboflow import RoboflowDetector
from issc.detect.roboflow.scrub import scrub_secret
from issc.detections import PERSON, PLATE
from issc.errors import ConfigError, DetectorAuthError, DetectorResponseError, DetectorUnavailableError

KEY = "rf_SeCrEt_KeY_0123456789"
HUMAN, PLATES = "issc-human-detection/1", "issc-plate-recognition/3"
IMAGE = np.zeros((360, 640, 3), np.uint8)


@pytest.fixture
def emulator() -> Iterator[RoboflowEmulator]:
    with RoboflowEmulator(Behaviour(valid_key=KEY)) as server:
        yield server


def detector(
    server: RoboflowEmulator, version: str, key: str | SecretStr = KEY, **kwargs
) -> RoboflowDetector:
    models = {"human_model": HUMAN, "plate_model": PLATES} | kwargs.pop("models", {})
    return RoboflowDetector(server.url, key, api_version=version, timeout_s=3.0, **models, **kwargs)


@pytest.mark.parametrize("version", ["v0", "v1"])
def test_boxes_are_converted_from_centres_and_relabelled(emulator: RoboflowEmulator, version: str) -> None:
    # given: the person model calls its class "human" (id 7), the plate model "license-plate"
    emulator.behaviour.predictions = {
        HUMAN: [prediction(100, 50, 20, 40, 0.9, "human", 7)],
        PLATES: [prediction(300.5, 200, 60, 21, 0.8, "license-plate", 0)],
    }
    # when
    found = detector(emulator, version, person_conf=0.4, plate_conf=0.2, iou=0.6).detect(IMAGE)
    # then: centre +- half size, canonical classes and names, confidences kept
    order = np.argsort(found.class_id)
    np.testing.assert_allclose(found.xyxy[order], [[90, 30, 110, 70], [270.5, 189.5, 330.5, 210.5]])
    assert found.class_id[order].tolist() == [PERSON, PLATE]
    assert found.data["class_name"][order].tolist() == ["person", "plate"]
    np.testing.assert_allclose(found.confidence[order], [0.9, 0.8], rtol=1e-6)
    # and: each model got the whole frame, its own threshold and the IoU
    calls = {r.model_id: r for r in emulator.inference_requests()}
    assert set(calls) == {HUMAN, PLATES}
    assert all(r.image_shape == IMAGE.shape and r.api_key == KEY for r in calls.values())
    iou_param = "overlap" if version == "v0" else "iou_threshold"
    assert float(calls[HUMAN].params["confidence"]) == 0.4
    assert float(calls[PLATES].params["confidence"]) == 0.2
    assert float(calls[HUMAN].params[iou_param]) == 0.6


@pytest.mark.parametrize(
    ("version", "path"),
    [
        ("v0", f"/{HUMAN}"),  # hosted form: POST /{project}/{version}?api_key=..., base64 body
        ("v1", "/infer/object_detection"),  # self-hosted form: JSON body with model_id
    ],
)
def test_request_path_matches_the_api_version(emulator: RoboflowEmulator, version: str, path: str) -> None:
    detector(emulator, version, models={"plate_model": None}).detect(IMAGE)
    assert [r.path for r in emulator.inference_requests()] == [path]


def test_missing_model_detects_nothing_of_that_class(emulator: RoboflowEmulator) -> None:
    emulator.behaviour.predictions = {PLATES: [prediction(10, 10, 4, 2, 0.5, "plate")]}
    found = detector(emulator, "v0", models={"human_model": None}).detect(IMAGE)
    assert found.class_id.tolist() == [PLATE]
    assert {r.model_id for r in emulator.inference_requests()} == {PLATES}


def test_no_predictions_is_empty(emulator: RoboflowEmulator) -> None:
    found = detector(emulator, "v1").detect(IMAGE)
    assert len(found) == 0 and found.xyxy.shape == (0, 4)


def test_class_filter_keeps_named_classes_of_a_multiclass_model(emulator: RoboflowEmulator) -> None:
    emulator.behaviour.predictions = {
        HUMAN: [prediction(50, 50, 10, 10, 0.9, "person", 0), prediction(80, 80, 10, 10, 0.9, "car", 2)]
    }
    found = detector(emulator, "v0", models={"plate_model": None}, human_classes=["person"]).detect(IMAGE)
    np.testing.assert_allclose(found.xyxy, [[45, 45, 55, 55]])


@pytest.mark.parametrize(
    ("mode", "version", "error", "in_message"),
    [
        ("401", "v0", DetectorAuthError, "HTTP 401"),
        ("401", "v1", DetectorAuthError, "HTTP 401"),
        ("403", "v0", DetectorAuthError, "HTTP 403"),
        ("403", "v1", DetectorAuthError, "HTTP 403"),
        ("429", "v0", DetectorUnavailableError, "HTTP 429"),  # after the SDK's own retries
        ("429", "v1", DetectorUnavailableError, "HTTP 429"),
        ("500", "v0", DetectorUnavailableError, "HTTP 500"),
        ("500", "v1", DetectorUnavailableError, "HTTP 500"),
        ("garbage", "v0", DetectorResponseError, "not detection JSON"),
        ("garbage", "v1", DetectorResponseError, "not detection JSON"),
        ("missing_keys", "v0", DetectorResponseError, "predictions"),
        ("missing_keys", "v1", DetectorResponseError, "predictions"),
    ],
)
def test_failures_map_to_our_errors_without_the_key(
    emulator: RoboflowEmulator, mode: str, version: str, error: type[Exception], in_message: str
) -> None:
    # given
    emulator.behaviour.mode = mode
    # when
    with pytest.raises(error) as caught:
        detector(emulator, version, models={"plate_model": None}).detect(IMAGE)
    # then
    assert in_message in str(caught.value)
    assert KEY not in str(caught.value) and KEY[-6:] not in repr(caught.value)
    assert caught.value.__cause__ is None  # SDK errors (which quote URLs) are not chained


@pytest.mark.parametrize("version", ["v0", "v1"])
def test_wrong_key_gets_401_and_a_message_saying_what_to_do(emulator: RoboflowEmulator, version: str) -> None:
    wrong = "rf_wrong_key_987654321"
    with pytest.raises(
        DetectorAuthError, match=r"rejected the API key or quota \(HTTP 401\): check API_KEY"
    ) as caught:
        detector(emulator, version, key=SecretStr(wrong)).detect(IMAGE)
    assert wrong not in str(caught.value)
    assert all(r.api_key == wrong for r in emulator.requests)


@pytest.mark.parametrize("version", ["v0", "v1"])
def test_slow_server_times_out_quickly(emulator: RoboflowEmulator, version: str) -> None:
    emulator.behaviour.mode = "slow"
    slow = RoboflowDetector(emulator.url, KEY, HUMAN, None, timeout_s=0.3, api_version=version)
    with pytest.raises(DetectorUnavailableError, match=r"did not answer within 0.3 s"):
        slow.detect(IMAGE)


def test_refused_connection_is_unavailable() -> None:
    with RoboflowEmulator() as server:
        url = server.url  # a port that was just free and is closed again
    with pytest.raises(DetectorUnavailableError, match=r"cannot reach|did not answer"):
        RoboflowDetector(url, KEY, HUMAN, None, timeout_s=1.0, api_version="v1").detect(IMAGE)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"human_model": None, "plate_model": None}, "needs HUMAN_MODEL or PLATE_MODEL"),
        ({"human_model": "no-version"}, "HUMAN_MODEL='no-version' is not a Roboflow model id"),
        ({"person_conf": 1.5}, "PERSON_CONF=1.5 is out of range"),
        ({"timeout_s": 0}, "DETECTOR_TIMEOUT_S=0"),
        ({"api_key": None, "api_url": "https://detect.roboflow.com"}, "API_KEY is required"),
    ],
)
def test_bad_configuration_is_refused_at_construction(kwargs: dict, message: str) -> None:
    values = {"api_url": "http://127.0.0.1:9", "api_key": KEY, "human_model": HUMAN, "plate_model": None}
    with pytest.raises(ConfigError, match=message):
        RoboflowDetector(**(values | kwargs))


def test_repr_and_url_hide_credentials() -> None:
    found = RoboflowDetector("http://user:pw@127.0.0.1:9001/", SecretStr(KEY), HUMAN, None)
    assert KEY not in repr(found) and "pw" not in repr(found)
    assert found.api_url == "http://127.0.0.1:9001"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            f"401 url='http://h/x?api_key={KEY}&confidence=0.5'",
            "401 url='http://h/x?api_key=***&confidence=0.5'",
        ),
        ("GET /model/registry?api_key=rf***89 failed", "GET /model/registry?api_key=*** failed"),
        (f"header Bearer {KEY}", "header Bearer ***"),
        (f"plain {KEY} leak", "plain *** leak"),
    ],
)
def test_scrub_secret_removes_every_form_of_the_key(text: str, expected: str) -> None:
    assert scrub_secret(text, KEY) == expected


@pytest.mark.parametrize("version", ["v0", "v1"])
def test_the_key_travels_in_the_authorization_header_never_in_a_url(
    emulator: RoboflowEmulator, version: str
) -> None:
    # when: both models run (v1 also lists and loads the models first)
    detector(emulator, version).detect(IMAGE)
    # then: every request carried the key, and only as a Bearer header
    assert emulator.requests
    assert all(r.key_from == "header" and r.api_key == KEY for r in emulator.requests)
    assert not any(r.key_in_url for r in emulator.requests)


@pytest.mark.parametrize(
    ("mode", "header"),
    [("429", "3"), ("503", "7"), ("429", "DATE+5")],
)
def test_retry_after_is_read_from_a_hosted_busy_answer(
    emulator: RoboflowEmulator, mode: str, header: str
) -> None:
    # given: a server that is busy and says how long to wait (seconds or an HTTP date)
    if header.startswith("DATE+"):
        header = email.utils.formatdate(time.time() + float(header[5:]), usegmt=True)
    emulator.behaviour.mode = mode
    emulator.behaviour.retry_after = header
    # when
    with pytest.raises(DetectorUnavailableError, match=rf"HTTP {mode}, asks to wait") as caught:
        detector(emulator, "v0", models={"plate_model": None}).detect(IMAGE)
    # then: one call (no SDK retries one second apart) and the wait is on the error
    assert len(emulator.inference_requests()) == 1
    expected = 3.0 if header == "3" else 7.0 if header == "7" else 5.0
    assert caught.value.retry_after_s == pytest.approx(expected, abs=1.1)


def test_busy_without_retry_after_leaves_the_wait_to_us(emulator: RoboflowEmulator) -> None:
    emulator.behaviour.mode = "429"
    with pytest.raises(DetectorUnavailableError) as caught:
        detector(emulator, "v0", models={"plate_model": None}).detect(IMAGE)
    assert caught.value.retry_after_s is None


@pytest.mark.parametrize("version", ["v0", "v1"])
def test_a_dropped_connection_is_unavailable(emulator: RoboflowEmulator, version: str) -> None:
    emulator.behaviour.mode = "drop"
    with pytest.raises(DetectorUnavailableError) as caught:
        RoboflowDetector(emulator.url, KEY, HUMAN, None, timeout_s=5.0, api_version=version).detect(IMAGE)
    assert KEY not in str(caught.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("3", 3.0),
        (" 2.5 ", 2.5),
        ("-4", 0.0),
        ("999999", RETRY_AFTER_MAX_S),
        ("soon", None),
        ("nan", None),
        ("Thu, 01 Jan 1970 00:01:40 GMT", 40.0),  # now = 60: 100 - 60
        ("Thu, 01 Jan 1970 00:00:10 GMT", 0.0),  # in the past
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=60.0) == expected
