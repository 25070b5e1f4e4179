"""Event clips: each camera with clips on keeps a short ring buffer of encoded video, and a plate
event saves the seconds around it as an MP4 (``CLIPS``, ``CLIP_PRE_S``, ``CLIP_POST_S``).

The capture thread offers every frame; :class:`ClipRecorder` takes one every ``1/CLIP_FPS`` seconds
into a bounded queue (``put_nowait``: when the clip thread falls behind, the newest frame is dropped
and counted in :attr:`ClipRecorder.dropped`), so clips never slow capture or analysis. The clip
thread scales each frame to at most ``CLIP_WIDTH`` pixels, encodes it (H.264 with libx264 when the
PyAV wheel has it, else MPEG-4 Part 2; a keyframe every second) and keeps the packets of the last
``CLIP_PRE_S`` + :data:`RING_SLACK_S` seconds. A plate event (``PlateEvent.last_seen`` = T) asks for
``[T - CLIP_PRE_S, T + CLIP_POST_S]``; once the ring holds frames past ``T + CLIP_POST_S`` (or the
camera stops), its packets from the keyframe at or before the start are remuxed, without another
encode, into an MP4 and handed to the :class:`ClipSaver` (the history store), which files it beside
the event.

Frames are re-encoded, not copied from the source: the sources decode with OpenCV, which gives no
access to the source's packets, and a second connection to each camera only for clips would double
its bandwidth. The cost is measured in BENCHMARKS.md ("Event clips").
"""

from __future__ import annotations

import fractions
import io
import logging
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import av
import cv2
import numpy as np

from issc.types import EventClip, Frame, PlateEvent

logger = logging.getLogger(__name__)

#: Seconds the ring keeps beyond ``CLIP_PRE_S``: a pass's event comes after its plate was last seen,
#: later the slower the analysis (seconds on a busy machine).
RING_SLACK_S = 30.0
#: A clip still short of its end this long after it (camera slow or down) is saved as it is.
LATE_S = 3.0
#: Attempts to file a clip whose event the store has not written yet, one a second.
SAVE_TRIES = 10
_MS = fractions.Fraction(1, 1000)


def clip_codec() -> str:
    """The encoder clips use: ``libx264`` when the PyAV wheel has it, else ``mpeg4``."""
    return "libx264" if "libx264" in av.codecs_available else "mpeg4"


class ClipSaver(Protocol):
    """Files a clip beside its event."""

    def save_clip(self, clip: EventClip) -> bool:
        """Store ``clip``; False when its event is not stored (yet)."""
        ...


@dataclass(frozen=True)
class ClipOptions:
    """How clips are cut and encoded (``CLIP_*`` settings)."""

    pre_s: float = 5.0
    post_s: float = 5.0
    fps: float = 10.0
    max_width: int = 960


@dataclass(frozen=True)
class _Packet:
    at: float  # capture time (UNIX seconds) of the frame
    pts: int  # milliseconds since the encoder started
    dts: int
    key: bool
    data: bytes


@dataclass
class _Request:
    event: PlateEvent
    start: float
    end: float
    clip: EventClip | None = None
    tries: int = 0
    next_try: float = 0.0


class NullClips:
    """Clips off: offers and events are ignored (no thread)."""

    saved = dropped = failed = encoded = 0
    cpu_s = 0.0

    def offer(self, frame: Frame) -> None:
        """Ignored."""

    def request(self, event: PlateEvent) -> None:
        """Ignored."""

    def run(self) -> None:
        """Nothing to do."""

    def close(self) -> None:
        """Nothing to do."""

    def reopen(self) -> None:
        """Nothing to do."""

    @property
    def enabled(self) -> bool:
        return False


class ClipRecorder:
    """One camera's ring buffer of encoded frames and the clips it cuts from it.

    ``offer`` runs on the capture thread and ``request`` on the analysis thread; both return at once.
    ``run`` is the clip thread's target: it ends after :meth:`close`, saving the pending clips with
    the frames it has (the camera closes it after the analysis sent its last events).

    Attributes:
        saved: Clips filed with their events.
        dropped: Frames not encoded because the clip thread was behind.
        failed: Clips not saved (no frames for them, encoding failed, or the event never stored).
        encoded: Frames encoded into the ring.
        cpu_s: CPU seconds the clip thread used.
    """

    def __init__(self, camera: str, saver: ClipSaver, options: ClipOptions) -> None:
        if options.fps <= 0 or options.pre_s < 0 or options.post_s < 0:
            raise ValueError(f"clip fps must be above 0 and pre/post 0 or more, got {options}")
        self.camera = camera
        self.options = options
        self.codec = clip_codec()
        self._saver = saver
        self._stop = threading.Event()
        self._period = 1.0 / options.fps
        self._queue: queue.Queue[Frame] = queue.Queue(maxsize=max(int(options.fps), 2))
        self._requests: deque[PlateEvent] = deque()  # appended by the analysis thread
        self._next_due = 0.0
        self._ring: deque[_Packet] = deque()
        self._pending: list[_Request] = []
        self._holder: av.container.OutputContainer | None = None
        self._stream: av.VideoStream | None = None
        self._size: tuple[int, int] = (0, 0)  # input frame size the encoder was made for
        self._t0 = 0.0
        self._last_pts = -1
        self._newest = 0.0  # capture time of the newest encoded frame
        self.saved = 0
        self.dropped = 0
        self.failed = 0
        self.encoded = 0
        self.cpu_s = 0.0  # CPU seconds of the clip thread so far

    @property
    def enabled(self) -> bool:
        return True

    def close(self) -> None:
        """End :meth:`run` once it has saved the pending clips."""
        self._stop.set()

    def reopen(self) -> None:
        """Before the camera starts (again)."""
        self._stop.clear()

    # --- other threads -------------------------------------------------------------------

    def offer(self, frame: Frame) -> None:
        """A captured frame (capture thread): queued when one is due, dropped and counted when full."""
        if frame.captured_mono < self._next_due:
            return
        self._next_due = max(self._next_due + self._period, frame.captured_mono + self._period / 2)
        try:
            self._queue.put_nowait(frame)
        except queue.Full:
            self.dropped += 1

    def request(self, event: PlateEvent) -> None:
        """Cut a clip around this plate event once its last seconds are captured (analysis thread)."""
        self._requests.append(event)

    # --- the clip thread -----------------------------------------------------------------

    def run(self) -> None:
        """The clip thread: encode offered frames, cut and save clips that are due."""
        cpu0 = time.thread_time()
        while not self._stop.is_set():
            self.cpu_s = time.thread_time() - cpu0
            try:
                frame = self._queue.get(timeout=0.25)
            except queue.Empty:
                frame = None
            try:
                if frame is not None:
                    self._encode(frame)
                self._take_requests()
                self._save_due(final=False)
                self._trim()
            except Exception:
                logger.exception("camera %s: event clip failed", self.camera)
        try:
            while True:
                self._encode(self._queue.get_nowait())
        except queue.Empty:
            pass
        except Exception:
            logger.exception("camera %s: event clip failed", self.camera)
        self._take_requests()
        self._save_due(final=True)
        self._close_encoder()
        self.cpu_s = time.thread_time() - cpu0

    def _take_requests(self) -> None:
        while self._requests:
            event = self._requests.popleft()
            anchor = event.last_seen.timestamp()
            self._pending.append(_Request(event, anchor - self.options.pre_s, anchor + self.options.post_s))

    def _encode(self, frame: Frame) -> None:
        image = frame.image
        h, w = image.shape[:2]
        if self._stream is None or (w, h) != self._size:
            self._open_encoder(w, h, frame.captured_at)
        assert self._stream is not None
        out_w, out_h = self._stream.codec_context.width, self._stream.codec_context.height
        if (w, h) != (out_w, out_h):
            image = cv2.resize(image, (out_w, out_h), interpolation=cv2.INTER_AREA)
        # OpenCV converts (without holding the GIL, unlike PyAV's own conversion): capture keeps its pace
        planes = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_BGR2YUV_I420)
        picture = av.VideoFrame.from_ndarray(planes, format="yuv420p")
        pts = max(round((frame.captured_at - self._t0) * 1000), self._last_pts + 1)
        self._last_pts = pts
        picture.pts = pts
        picture.time_base = _MS
        for packet in self._stream.encode(picture):
            self._keep(packet)
        self._newest = frame.captured_at
        self.encoded += 1

    def _keep(self, packet: av.Packet) -> None:
        if packet.pts is None:
            return
        at = self._t0 + packet.pts / 1000
        dts = packet.dts if packet.dts is not None else packet.pts
        self._ring.append(_Packet(at, int(packet.pts), int(dts), bool(packet.is_keyframe), bytes(packet)))

    def _open_encoder(self, width: int, height: int, now: float) -> None:
        """A new encoder for frames of this size (first frame, or the source's size changed)."""
        self._save_due(final=True)  # the old ring's clips are cut from the old ring
        self._close_encoder()
        self._ring.clear()
        scale = min(1.0, self.options.max_width / width)
        out_w, out_h = max(int(width * scale) // 2 * 2, 2), max(int(height * scale) // 2 * 2, 2)
        holder = av.open(io.BytesIO(), "w", format="mp4")
        options = {"preset": "superfast", "tune": "zerolatency"} if self.codec == "libx264" else {}
        stream = holder.add_stream(self.codec, rate=round(self.options.fps), options=options)
        stream.width, stream.height, stream.pix_fmt = out_w, out_h, "yuv420p"
        ctx = stream.codec_context
        ctx.time_base = _MS
        ctx.gop_size = max(round(self.options.fps), 1)  # a keyframe a second: clips start near their start
        ctx.thread_count = 1  # one core per camera at most, shared with capture and analysis
        ctx.flags |= av.codec.context.Flags.global_header
        if self.codec == "mpeg4":
            ctx.bit_rate = 1_500_000
        holder.start_encoding()  # opens the encoder and fills the stream parameters clips copy
        self._holder, self._stream = holder, stream
        self._size = (width, height)
        self._t0 = now
        self._last_pts = -1

    def _close_encoder(self) -> None:
        holder, self._holder, self._stream = self._holder, None, None
        if holder is not None:
            try:
                holder.close()
            except Exception:  # the holder's output is thrown away; only its encoder mattered
                logger.debug("camera %s: closing the clip encoder failed", self.camera, exc_info=True)

    def _save_due(self, *, final: bool) -> None:
        now = time.time()
        keep: list[_Request] = []
        for req in self._pending:
            if req.clip is None:
                if not final and self._newest < req.end and now < req.end + LATE_S:
                    keep.append(req)  # its last seconds are not captured yet
                    continue
                try:
                    req.clip = self._cut(req)
                except Exception:
                    logger.exception("camera %s: cutting the clip of %s failed", self.camera, req.event.text)
                    self.failed += 1
                    continue
                if req.clip is None:
                    self.failed += 1
                    ring = f"{self._ring[0].at:.1f}-{self._ring[-1].at:.1f}" if self._ring else "empty"
                    logger.warning(
                        "camera %s: no frames for the clip of %s (%.1f-%.1f, ring %s)",
                        self.camera,
                        req.event.text,
                        req.start,
                        req.end,
                        ring,
                    )
                    continue
            if now < req.next_try and not final:
                keep.append(req)
                continue
            try:
                filed = self._saver.save_clip(req.clip)
            except Exception:
                logger.exception("camera %s: saving a clip failed", self.camera)
                filed = False
            req.tries += 1
            if filed:
                self.saved += 1
            elif req.tries < SAVE_TRIES and not final:
                req.next_try = now + 1.0  # the writer has not stored the event yet
                keep.append(req)
            else:
                self.failed += 1
                logger.warning("camera %s: the clip of %s was not saved", self.camera, req.event.text)
        self._pending = keep

    def _cut(self, req: _Request) -> EventClip | None:
        """The MP4 of the ring's packets from the keyframe at or before ``req.start`` to ``req.end``."""
        packets = list(self._ring)
        if self._stream is None or not packets:
            return None
        first = next((i for i, p in enumerate(packets) if p.key), None)
        if first is None:
            return None
        for i in range(first, len(packets)):
            if packets[i].key and packets[i].at <= req.start:
                first = i
        chosen = [p for p in packets[first:] if p.at <= req.end]
        if not chosen:
            return None
        base = chosen[0].pts
        out = io.BytesIO()
        with av.open(out, "w", format="mp4") as container:
            stream = container.add_stream_from_template(self._stream)
            for p in chosen:
                packet = av.Packet(p.data)
                packet.pts, packet.dts = p.pts - base, p.dts - base
                packet.time_base = _MS
                packet.is_keyframe = p.key
                packet.stream = stream
                container.mux(packet)
        started = chosen[0].at
        return EventClip(
            camera=self.camera,
            pass_key=req.event.pass_key,
            last_seen=req.event.last_seen,
            started_at=datetime.fromtimestamp(started, UTC),
            duration_s=chosen[-1].at - started + self._period,
            codec="h264" if self.codec == "libx264" else self.codec,
            frames=len(chosen),
            mp4=out.getvalue(),
        )

    def _trim(self) -> None:
        """Drop packets older than any pending clip or the pre-roll needs (from a keyframe on)."""
        horizon = self._newest - self.options.pre_s - RING_SLACK_S
        for req in self._pending:
            if req.clip is None:
                horizon = min(horizon, req.start)
        ring = self._ring
        cut = 0
        for i, p in enumerate(ring):
            if p.at > horizon:
                break
            if p.key:
                cut = i
        for _ in range(cut):
            ring.popleft()
