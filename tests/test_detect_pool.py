"""Several inference servers in API_URL: round-robin, backoff per server, health checks, all down.

The pool's bookkeeping runs against a fake clock; the detector runs the real inference-sdk client
against two or three loopback emulators, some of them stopped, failing or restarted on their port.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack

import numpy as np
import pytest
from roboflow_emulator import Behaviour, RoboflowEmulator, prediction

from issc.config import load_settings
from issc.detect import make_detector
from issc.detect.pool import ServerPool
from issc.detect.roboflow import RoboflowDetector
from issc.errors import ConfigError, DetectorAuthError, DetectorUnavailableError

KEY = "rf_pool_SeCrEt_key_13579"
HUMAN = "issc-human-detection/1"
IMAGE = np.zeros((240, 320, 3), np.uint8)
PERSON = {HUMAN: [prediction(100, 50, 20, 40, 0.9, "person")]}


def max_tries(elapsed_s: float, first_s: float = 1.0, cap_s: float = 30.0) -> int:
    """Tries a failing server may get in ``elapsed_s``: the first, then one per backoff window."""
    tries, spent, backoff = 1, 0.0, first_s
    while spent + backoff <= elapsed_s:
        spent, backoff, tries = spent + backoff, min(backoff * 2, cap_s), tries + 1
    return tries


@pytest.fixture
def servers() -> Iterator[list[RoboflowEmulator]]:
    """Three emulators that know the key and see one person in every frame."""
    with ExitStack() as stack:
        yield [
            stack.enter_context(RoboflowEmulator(Behaviour(valid_key=KEY, predictions=PERSON)))
            for _ in range(3)
        ]


def pool_detector(
    urls: list[str], version: str = "v1", timeout_s: float = 1.0, key: str = KEY
) -> RoboflowDetector:
    return RoboflowDetector(",".join(urls), key, HUMAN, None, api_version=version, timeout_s=timeout_s)


def restart(server: RoboflowEmulator) -> RoboflowEmulator:
    """A fresh emulator on the port of ``server`` (already stopped), with its behaviour."""
    port = int(server.url.rsplit(":", 1)[1])
    return RoboflowEmulator(server.behaviour, port=port)


# --- the pool's bookkeeping, on a fake clock ------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_healthy_servers_take_turns() -> None:
    pool = ServerPool(["a", "b", "c"], clock=FakeClock())
    firsts = [pool.plan()[0] for _ in range(6)]
    assert firsts == [(0, False), (1, False), (2, False)] * 2
    assert pool.plan() == [(0, False), (1, False), (2, False)]  # the rest follow as fallbacks


def test_a_failing_server_is_skipped_with_a_doubling_backoff_and_one_health_check() -> None:
    clock = FakeClock()
    pool = ServerPool(["a", "b"], clock=clock, backoff_s=1.0, backoff_max_s=4.0)
    waits = []
    for _ in range(4):
        waits.append(pool.failed(1))
        assert [i for i, _ in pool.plan()] == [0]  # backed off: not tried
        clock.now += waits[-1]
        assert pool.plan()[0] == (1, True)  # due: a health check first, for one caller only
        assert [i for i, _ in pool.plan()] == [0]
    assert waits == [1.0, 2.0, 4.0, 4.0]  # doubling up to the cap
    pool.succeeded(1, check=True)
    assert sorted(i for i, _ in pool.plan()) == [0, 1]
    assert pool.failed(1) == 4.0  # a check alone does not reset the backoff
    clock.now += 4.0
    pool.plan()
    pool.succeeded(1)  # a call that worked does
    assert pool.failed(1) == 1.0


def test_retry_after_longer_than_the_backoff_is_honoured() -> None:
    clock = FakeClock()
    pool = ServerPool(["a", "b"], clock=clock)
    assert pool.failed(0, retry_after_s=12.0) == 12.0
    clock.now += 11.9
    assert [i for i, _ in pool.plan()] == [1]
    assert pool.soonest_s() == pytest.approx(0.1)
    state = pool.states()[0]
    assert not state.healthy and state.failures == 1
    assert state.retry_at == pytest.approx(time.time() + 0.1, abs=0.5)


def test_all_down_plans_nothing_until_the_first_is_due() -> None:
    clock = FakeClock()
    pool = ServerPool(["a", "b"], clock=clock)
    pool.failed(0)
    pool.failed(1, retry_after_s=3.0)
    assert pool.plan() == [] and pool.down() == 2
    clock.now += 1.0
    assert pool.plan() == [(0, True)]


def test_a_lone_server_is_always_tried_the_engine_backs_off() -> None:
    pool = ServerPool(["only"], clock=FakeClock())
    pool.failed(0)
    assert pool.plan() == [(0, False)]


def test_a_health_check_that_raises_releases_the_server() -> None:
    clock = FakeClock()
    pool = ServerPool(["a", "b"], clock=clock)
    pool.failed(1)
    clock.now += 1.0
    assert pool.plan()[0] == (1, True)
    assert not pool.check(1, lambda: 1 / 0)  # type: ignore[arg-type, return-value]
    clock.now += 2.0
    assert pool.plan()[0] == (1, True)  # checked again at its next window


@pytest.mark.parametrize("bad", [dict(names=[]), dict(names=["a"], backoff_s=0.0)])
def test_pool_refuses_bad_arguments(bad: dict) -> None:
    with pytest.raises(ValueError):
        ServerPool(**bad)


# --- the detector against real loopback servers ---------------------------------------------------


@pytest.mark.parametrize("version", ["v0", "v1"])
def test_round_robin_spreads_frames_over_the_servers(servers: list[RoboflowEmulator], version: str) -> None:
    detector = pool_detector([s.url for s in servers], version)
    for _ in range(9):
        assert len(detector.detect(IMAGE)) == 1
    assert [len(s.inference_requests()) for s in servers] == [3, 3, 3]
    assert [(st.calls, st.failures, st.healthy) for st in detector.servers()] == [(3, 0, True)] * 3
    assert detector.api_url == ", ".join(s.url for s in servers)


@pytest.mark.parametrize("failure", ["stopped", "stalled"])
def test_a_dead_server_costs_its_timeout_once_per_window_and_no_frame(
    servers: list[RoboflowEmulator], failure: str
) -> None:
    # given: three self-hosted servers, the second one stopped, or stalled (accepts, never answers)
    detector = pool_detector([s.url for s in servers], "v1", timeout_s=1.0)
    if failure == "stopped":
        servers[1].__exit__()
    else:
        servers[1].behaviour = Behaviour(valid_key=KEY, predictions=PERSON, mode="slow", delay_s=30.0)
    # when
    durations, started = [], time.monotonic()
    for _ in range(30):
        begun = time.monotonic()
        assert len(detector.detect(IMAGE)) == 1  # then: every frame gets its detections
        durations.append(time.monotonic() - begun)
        time.sleep(0.03)
    elapsed = time.monotonic() - started
    # and: the dead server was tried once per backoff window at most, costing its timeout each time
    dead = detector.servers()[1]
    assert not dead.healthy and 1 <= dead.failures <= max_tries(elapsed)
    assert dead.calls == 1  # later tries were light health checks, not frames
    # (how long each frame took is load-dependent: the counts above are the outcome)
    print(f"\nslowest frames: {sorted(durations)[-3:]}")
    assert len(servers[0].inference_requests()) + len(servers[2].inference_requests()) == 30


def test_a_failing_server_gets_one_request_per_backoff_window(servers: list[RoboflowEmulator]) -> None:
    # given: the second server answers 500 to everything, its health route included
    servers[1].behaviour = Behaviour(valid_key=KEY, predictions=PERSON, mode="500")
    detector = pool_detector([s.url for s in servers[:2]], "v0")
    # when: frames for 3.5 s
    started = time.monotonic()
    while time.monotonic() - started < 3.5:
        assert len(detector.detect(IMAGE)) == 1
        time.sleep(0.02)
    # then: one call, then health checks 1 s and 2 s later (1 + 2 = 3 s), never a storm
    tries = len(servers[1].requests)
    assert 2 <= tries <= max_tries(time.monotonic() - started)
    assert len(servers[1].inference_requests()) == 1
    assert [r.path for r in servers[1].requests[1:]] == ["/info"] * (tries - 1)
    assert all(r.api_key is None for r in servers[1].requests[1:])  # the check carries no key


def test_a_server_that_comes_back_is_used_again_after_its_backoff(servers: list[RoboflowEmulator]) -> None:
    detector = pool_detector([s.url for s in servers[:2]], "v1")
    servers[1].__exit__()
    while detector.servers()[1].healthy:  # round-robin reaches it within two frames
        detector.detect(IMAGE)
    with restart(servers[1]) as revived:
        deadline = time.monotonic() + 6.0
        while not revived.inference_requests() and time.monotonic() < deadline:
            assert len(detector.detect(IMAGE)) == 1
            time.sleep(0.05)
        assert revived.inference_requests(), "the revived server was not used again"
        assert revived.requests[0].path == "/info"  # health-checked before it got a frame
        assert detector.servers()[1].healthy


def test_all_servers_down_is_one_clear_unavailable_error(servers: list[RoboflowEmulator]) -> None:
    detector = pool_detector([s.url for s in servers[:2]], "v0")
    for server in servers[:2]:
        server.__exit__()
    with pytest.raises(DetectorUnavailableError, match=r"2 of 2 Roboflow servers are down") as first:
        detector.detect(IMAGE)
    assert "cannot reach" in str(first.value) and first.value.retry_after_s == pytest.approx(1.0, abs=0.3)
    # while both are backed off, no call is made at all, and the error says when the next check is
    with pytest.raises(DetectorUnavailableError, match=r"checked again in \d\.\d s") as second:
        detector.detect(IMAGE)  # (the backed-off path's message: no server was tried)
    assert 0 < second.value.retry_after_s <= 1.0


def test_a_rejected_key_is_not_a_server_failure(servers: list[RoboflowEmulator]) -> None:
    detector = pool_detector([s.url for s in servers], "v0", key="rf_wrong_key_24680")
    with pytest.raises(DetectorAuthError, match=r"HTTP 401"):
        detector.detect(IMAGE)
    assert sum(len(s.requests) for s in servers) == 1  # the same key everywhere: not retried
    assert all(state.healthy for state in detector.servers())


def test_retry_after_backs_off_that_server_only(servers: list[RoboflowEmulator]) -> None:
    servers[0].behaviour = Behaviour(valid_key=KEY, predictions=PERSON, mode="429", retry_after="5")
    detector = pool_detector([s.url for s in servers[:2]], "v0")
    assert len(detector.detect(IMAGE)) == 1  # the 429 frame went on to the second server
    busy = detector.servers()[0]
    assert not busy.healthy and busy.retry_at == pytest.approx(time.time() + 5, abs=1.0)
    for _ in range(3):
        detector.detect(IMAGE)
    assert len(servers[0].requests) == 1


def test_camera_threads_share_the_pool_one_check_per_window(servers: list[RoboflowEmulator]) -> None:
    servers[1].behaviour = Behaviour(valid_key=KEY, predictions=PERSON, mode="500")
    detector = pool_detector([s.url for s in servers[:2]], "v0")
    failures: list[BaseException] = []

    def camera() -> None:
        for _ in range(15):
            try:
                assert len(detector.detect(IMAGE)) == 1
            except BaseException as exc:  # collected: asserted in the test's thread
                failures.append(exc)

    started = time.monotonic()
    threads = [threading.Thread(target=camera, name=f"camera-{i}") for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not failures
    # each thread may have sent one frame before the first failure was known; then one per window
    assert len(servers[1].requests) <= 4 + max_tries(time.monotonic() - started) - 1


def test_the_key_never_appears_in_errors_states_or_logs(
    servers: list[RoboflowEmulator], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    servers[1].behaviour = Behaviour(valid_key=KEY, mode="503", retry_after="1")
    detector = pool_detector([s.url for s in servers], "v1")
    servers[2].__exit__()
    messages = []
    for _ in range(6):
        try:
            detector.detect(IMAGE)
        except DetectorUnavailableError as exc:
            messages.append(str(exc))
    for server in servers[:2]:
        server.__exit__()
    with pytest.raises(DetectorUnavailableError) as caught:
        for _ in range(3):
            detector.detect(IMAGE)
    messages += [str(caught.value), repr(detector), repr(detector.servers())]
    messages += [record.getMessage() for record in caplog.records]
    assert any("is down" in m for m in messages)
    assert not [m for m in messages if KEY in m or KEY[-8:] in m]


# --- API_URL in the settings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("https://detect.roboflow.com/", "https://detect.roboflow.com"),
        ("http://a:9001, http://b:9001/ ,https://c", "http://a:9001,http://b:9001,https://c"),
    ],
)
def test_api_url_takes_one_or_several_servers(value: str, stored: str) -> None:
    assert load_settings(api_url=value).detection.api_url == stored


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (
            "ftp://detect.example",
            "API_URL='ftp://detect.example' is invalid: expected an http:// or https:// URL",
        ),
        ("http://a:9001,,http://b:9001", "item 2 of 3 is empty"),
        ("http://a:9001,", "item 2 of 2 is empty"),
        ("http://a:9001, localhost:9001", "item 2 of 2 'localhost:9001' is not an http:// or https:// URL"),
        ("http://a, ftp://admin:Pw0rd99@b", "item 2 of 2 'ftp://***@b' is not an http://"),
    ],
)
def test_a_bad_item_of_api_url_is_named(value: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(api_url=value)
    assert words in str(caught.value) and "Pw0rd99" not in str(caught.value)


def test_make_detector_builds_a_pool_from_the_settings() -> None:
    settings = load_settings(
        detector="roboflow", api_key=KEY, api_url="http://127.0.0.1:9, http://127.0.0.1:10", human_model=HUMAN
    )
    detector = make_detector(settings.detection, settings.tuning)
    assert isinstance(detector, RoboflowDetector)
    assert [s.url for s in detector.servers()] == ["http://127.0.0.1:9", "http://127.0.0.1:10"]
    assert detector.api_url == "http://127.0.0.1:9, http://127.0.0.1:10" and KEY not in repr(detector)


def test_the_detector_refuses_an_empty_server() -> None:
    with pytest.raises(ConfigError, match="API_URL has an empty item"):
        RoboflowDetector("http://127.0.0.1:9,", KEY, HUMAN, None)
