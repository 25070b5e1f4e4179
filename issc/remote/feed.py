"""One camera's live pictures on the dashboard, read from the worker that runs it.

A :class:`RemoteFeed` holds at most one upstream connection per camera: the worker's own MJPEG
stream (``GET <worker>/video_feed/<id>/`` with the worker token), read on a thread of its own and
fanned out to every viewer of the dashboard, which forwards the worker's JPEGs as they are (no
decoding, no re-encoding). The thread starts when a viewer asks and ends once nobody asked for
``idle_s``.

Before each connection it asks ``locate()`` where the camera runs now, so a camera taken over by a
standby worker comes back from its new owner; while it is changing hands or its worker is gone, the
feed answers the NO SIGNAL picture with the camera's name, its downtime and why.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote

import requests

from issc.annotate import no_signal_frame
from issc.jpeg import encode_jpeg
from issc.redact import error_line

logger = logging.getLogger(__name__)

#: Seconds without a viewer after which the upstream connection is closed.
IDLE_S = 15.0
#: Seconds to connect to a worker, and the longest silence of an open stream (the worker sends
#: NO SIGNAL once a second while its camera is down, so silence means the worker is gone).
CONNECT_TIMEOUT_S = 2.0
READ_TIMEOUT_S = 3.0
#: Pause before connecting again after a failure, doubling up to the maximum.
RETRY_FIRST_S = 0.25
RETRY_MAX_S = 2.0
#: Bytes of a part's headers, and of a part, beyond which the stream is refused as malformed.
MAX_HEADER_BYTES = 4096
MAX_PART_BYTES = 16 * 1024 * 1024
CONNECTING = "connecting to its worker"


@dataclass(frozen=True)
class Upstream:
    """Where a camera's stream comes from now."""

    worker: str  # the worker's id
    url: str  # the worker's base URL
    camera_id: str  # the camera's id on that worker

    def stream_url(self) -> str:
        return f"{self.url}/video_feed/{quote(self.camera_id, safe='')}/"


class MultipartReader:
    """Splits an MJPEG byte stream (``multipart/x-mixed-replace``, parts with ``Content-Length``)
    into its JPEGs, whatever the chunk boundaries."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._length: int | None = None  # of the part whose headers were read

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        """The JPEGs completed by ``chunk``.

        Raises:
            ValueError: the stream is not an MJPEG stream with part lengths.
        """
        self._buffer += chunk
        while True:
            if self._length is None:
                end = self._buffer.find(b"\r\n\r\n")
                if end < 0:
                    if len(self._buffer) > MAX_HEADER_BYTES:
                        raise ValueError("no part headers where a part should start")
                    return
                self._length = _content_length(bytes(self._buffer[:end]))
                del self._buffer[: end + 4]
            if len(self._buffer) < self._length:
                return
            jpeg = bytes(self._buffer[: self._length])
            del self._buffer[: self._length]
            self._length = None
            yield jpeg


def _content_length(headers: bytes) -> int:
    for line in headers.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
            if not 0 < length <= MAX_PART_BYTES:
                raise ValueError(f"a part of {length} bytes")
            return length
    raise ValueError("a part without Content-Length")


class RemoteFeed:
    """The newest picture of one camera, streamed from its worker while someone watches.

    Args:
        name: The camera's name (shown on NO SIGNAL).
        locate: Where the camera runs now, or None with the reason nobody runs it.
        token: The worker token sent as ``Authorization: Bearer`` (None: none sent).
        session: The HTTP session connections come from.
    """

    def __init__(
        self,
        name: str,
        locate: Callable[[], Upstream | str],
        token: str | None,
        session: requests.Session,
        idle_s: float = IDLE_S,
    ) -> None:
        self.name = name
        self._locate = locate
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._session = session
        self._idle_s = idle_s
        self._changed = threading.Condition()
        self._seq = 0  # counts the pictures received; the frame id the dashboard serves
        self._jpeg: bytes | None = None  # None while down
        self._down_since = time.time()
        self._reason = CONNECTING
        self._no_signal: tuple[int, str, bytes] | None = None
        self._wanted_at = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._response: requests.Response | None = None
        self._lock = threading.Lock()

    # --- what viewers call -------------------------------------------------------------

    def want(self) -> None:
        """A viewer wants pictures: keep (or start) the upstream connection."""
        self._wanted_at = time.monotonic()
        with self._lock:
            if self._stop.is_set() or (self._thread is not None and self._thread.is_alive()):
                return
            self._thread = threading.Thread(target=self._run, name=f"issc-remote-{self.name}", daemon=True)
            self._thread.start()

    def wait_newer(self, after_id: int, timeout: float) -> None:
        """Wait up to ``timeout`` s for a picture newer than ``after_id`` (see :meth:`current`)."""
        self.want()
        with self._changed:
            self._changed.wait_for(lambda: self._jpeg is not None and self._seq > after_id, timeout)

    def current(self) -> tuple[int, bytes]:
        """(picture id, JPEG) of the newest picture, or (-1, NO SIGNAL) while it cannot be had."""
        self.want()
        where = self._locate()
        if isinstance(where, str):
            # the registry says no live worker runs the camera: its last picture is stale even while
            # the gone worker's stream has not ended yet (a loaded machine closes it late)
            self._down(where)
        with self._changed:
            if self._jpeg is not None:
                return self._seq, self._jpeg
            down_for, reason = time.time() - self._down_since, self._reason
        return -1, self._no_signal_jpeg(down_for, reason)

    def down_reason(self) -> str | None:
        """Why the dashboard has no picture now (None: it has one)."""
        with self._changed:
            return None if self._jpeg is not None else self._reason

    def streaming(self) -> bool:
        """Whether the upstream thread runs (someone watched within ``idle_s``) and got past its first
        connection attempt."""
        thread = self._thread
        return thread is not None and thread.is_alive() and self._reason != CONNECTING

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    def stop(self, timeout: float = 5.0) -> None:
        """Close the upstream connection and end the thread."""
        self._stop.set()
        response = self._response
        if response is not None:
            response.close()  # wakes a read that waits for the worker
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    # --- the upstream thread -------------------------------------------------------------

    def _run(self) -> None:
        delay = RETRY_FIRST_S
        while not self._stop.is_set() and time.monotonic() - self._wanted_at < self._idle_s:
            where = self._locate()
            if isinstance(where, str):
                self._down(where)
            else:
                try:
                    if self._stream(where):
                        delay = RETRY_FIRST_S  # pictures came: the next failure is new
                except (requests.RequestException, ValueError, OSError) as exc:
                    self._down(f"worker {where.worker} does not answer ({why(exc)})")
            if self._stop.wait(delay):
                break
            delay = min(delay * 2, RETRY_MAX_S)
        self._down("nobody watches it here")  # the next viewer starts from NO SIGNAL, never a stale picture

    def _stream(self, where: Upstream) -> bool:
        """Forward the worker's pictures until it stops, another worker owns the camera, or nobody
        watches. Returns whether any picture came."""
        got = False
        with self._session.get(
            where.stream_url(),
            headers=self._headers,
            stream=True,
            timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
            allow_redirects=False,  # the token goes to the registered worker only
        ) as response:
            self._response = response
            try:
                if response.status_code != 200:
                    self._down(f"worker {where.worker} answers HTTP {response.status_code} for it")
                    return False
                reader = MultipartReader()
                for chunk in response.iter_content(chunk_size=64 * 1024):
                    for jpeg in reader.feed(chunk):
                        self._publish(jpeg)
                        got = True
                    if self._stop.is_set() or time.monotonic() - self._wanted_at >= self._idle_s:
                        return got
                    if self._locate() != where:
                        return got  # taken over: read the new owner's stream
                self._down(f"worker {where.worker} ended the stream")
            finally:
                self._response = None
        return got

    def _publish(self, jpeg: bytes) -> None:
        with self._changed:
            self._seq += 1
            self._jpeg = jpeg
            self._changed.notify_all()

    def _down(self, reason: str) -> None:
        with self._changed:
            if self._jpeg is not None:
                self._down_since = time.time()
                logger.info("camera %s: no picture from its worker: %s", self.name, reason)
            self._jpeg = None
            self._reason = reason
            self._changed.notify_all()

    def _no_signal_jpeg(self, down_for: float, reason: str) -> bytes:
        key = int(down_for)
        cached = self._no_signal
        if cached is not None and cached[0] == key and cached[1] == reason:
            return cached[2]
        jpeg = encode_jpeg(no_signal_frame(640, 360, self.name, down_for, reason), 80)
        self._no_signal = (key, reason, jpeg)
        return jpeg


def why(exc: BaseException) -> str:
    """What went wrong reaching a worker, in a few words (connection errors quote URLs and pools)."""
    if isinstance(exc, requests.Timeout):
        return "no answer in time"
    if isinstance(exc, requests.ConnectionError):
        text = str(exc)
        if "refused" in text:
            return "connection refused"
        if "reset" in text or "aborted" in text or "closed" in text.lower():
            return "connection closed"
        if "resolve" in text or "Name or service" in text:
            return "its host name does not resolve"
        return "cannot connect"
    return error_line(exc, 120)


__all__ = ["MultipartReader", "RemoteFeed", "Upstream"]
